//! `indomain verify serve`: the operator's online service.

use super::store::Store;
use crate::cli::CliResult;
use indomain_net::Limits as NetLimits;
use indomain_net::quic::{Endpoint, Hub, TrustedPeer};
use indomain_verify::driver;
use indomain_verify::service::{Limits, Service, replay_usage};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Arguments of `indomain verify serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The operator's store directory (made by `verify publish`).
    #[arg(long, value_name = "DIR")]
    store: PathBuf,

    /// Directory with the operator's node.crt and node.key.
    #[arg(long, value_name = "DIR")]
    identity: PathBuf,

    /// The UDP address to serve on (e.g. 0.0.0.0:7100).
    #[arg(long, value_name = "ADDR")]
    listen: String,

    /// A client allowed to connect: NAME=sha256:<fingerprint>. Repeat for
    /// each client; unlisted certificates are refused at the handshake.
    #[arg(long = "peer", value_name = "NAME=FINGERPRINT", required = true)]
    peers: Vec<TrustedPeer>,

    /// Evaluations a client may ask for per second, sustained.
    #[arg(long, default_value_t = Limits::default().rate_per_sec)]
    rate: f64,

    /// Evaluations a client may ask for in a burst.
    #[arg(long, default_value_t = Limits::default().burst)]
    burst: u64,

    /// Evaluations a client may ask for in all (counted in the usage log,
    /// across restarts; start a new log to reset).
    #[arg(long, default_value_t = Limits::default().quota)]
    quota: u64,

    /// The most entries one request may carry.
    #[arg(long, default_value_t = Limits::default().max_batch)]
    max_batch: u32,

    /// The most clients connected at once.
    #[arg(long, default_value_t = 1024)]
    max_clients: usize,

    /// The usage log (appended; default STORE/usage.log).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,

    /// Seconds a connected client may stay silent before it is dropped.
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    timeout: f64,
}

pub fn run(args: Args) -> CliResult {
    if !args.rate.is_finite() || args.rate <= 0.0 || args.burst == 0 || args.max_batch == 0 {
        return Err("--rate, --burst and --max-batch must be positive".into());
    }
    let store = Store::open(&args.store)?;
    let (version, revision) = store
        .current()?
        .ok_or("nothing published in this store yet; run `indomain verify publish`")?;
    let published = store.load(version, revision)?;
    let key = store.oprf_key(version)?;
    let deltas = store.deltas(version, revision)?;
    let log_path = args.log.unwrap_or_else(|| store.dir.join("usage.log"));
    let past = std::fs::read_to_string(&log_path).unwrap_or_default();
    let served = replay_usage(past.lines());
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("opening the usage log {}: {e}", log_path.display()))?;
    let limits = Limits {
        rate_per_sec: args.rate,
        burst: args.burst,
        quota: args.quota,
        max_batch: args.max_batch,
    };
    let mut service = Service::new(
        key,
        published.commitment,
        Arc::new(published.bytes),
        limits,
        served,
    )
    .with_deltas(deltas);
    let identity = indomain_net::quic::Identity::load(&args.identity)?;
    let recv_timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or("--timeout: give a positive number of seconds")?;
    let net = NetLimits {
        max_frame: 4 << 20,
        recv_timeout,
        ..NetLimits::default()
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&args.listen)
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("--listen {}: expected HOST:PORT", args.listen))?;
    let endpoint = Endpoint::bind(&identity, addr, args.peers.clone(), net)?;
    let hub = Hub::start(endpoint, args.max_clients);
    eprintln!(
        "{}: serving version {version}.{revision} ({} records) on {} to {} clients; usage log {}",
        identity.name(),
        published.table.rows,
        hub.local_addr(),
        args.peers.len(),
        log_path.display()
    );
    // Runs until the process is stopped.
    let stop = AtomicBool::new(false);
    driver::serve(&hub, &mut service, &mut log, &stop)?;
    Ok(())
}
