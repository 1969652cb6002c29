//! `indomain verify serve`: the operator's online service.

use super::store::Store;
use crate::cli::CliResult;
use indomain_net::Limits as NetLimits;
use indomain_net::quic::{Endpoint, Hub, TrustedPeer};
use indomain_verify::driver;
use indomain_verify::service::{Limits, Service, replay_usage, reset_line};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// across restarts and versions; reset only with --reset-usage).
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

    /// Start every client's quota from zero: appends a reset line to the
    /// usage log. Required to start with a missing or empty log once this
    /// store has recorded usage, so a lost log cannot reset quotas silently.
    #[arg(long)]
    reset_usage: bool,

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
    let past = match std::fs::read_to_string(&log_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("reading the usage log {}: {e}", log_path.display()).into()),
    };
    let fresh = past.trim().is_empty();
    if let (true, false, Some(previous)) = (fresh, args.reset_usage, store.usage_recorded()?) {
        return Err(format!(
            "the usage log {} is missing or empty, but this store has recorded client usage \
             (last in {previous}): starting with it would reset every quota. Point --log at \
             the store's usage log, or pass --reset-usage to start every quota from zero",
            log_path.display()
        )
        .into());
    }
    // Which client asked how often: a private file.
    let mut file = indomain_node::private::append(&log_path)
        .map_err(|e| format!("opening the usage log {}: {e}", log_path.display()))?;
    let served = if args.reset_usage {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        writeln!(file, "{}", reset_line(now))
            .map_err(|e| format!("writing the usage log {}: {e}", log_path.display()))?;
        HashMap::new()
    } else {
        replay_usage(past.lines())
    };
    let mut log = UsageLog {
        file,
        // Once the log holds a line, the store remembers that it has
        // recorded usage, so a lost log is noticed at the next start.
        mark: if fresh && !args.reset_usage {
            Some((store, log_path.clone()))
        } else {
            store.mark_usage_recorded(&log_path)?;
            None
        },
    };
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
        "{}: serving version {version}.{revision} ({} records) on {} to {} clients; usage log {}{}",
        identity.name(),
        published.table.rows,
        hub.local_addr(),
        args.peers.len(),
        log_path.display(),
        if args.reset_usage {
            " (reset: every quota starts from zero)"
        } else {
            ""
        }
    );
    // Runs until the process is stopped.
    let stop = AtomicBool::new(false);
    driver::serve(&hub, &mut service, &mut log, &stop)?;
    Ok(())
}

/// The usage log file; marks the store as having recorded usage before its
/// first line is written.
struct UsageLog {
    file: std::fs::File,
    mark: Option<(Store, PathBuf)>,
}

impl Write for UsageLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some((store, path)) = self.mark.take() {
            store
                .mark_usage_recorded(&path)
                .map_err(std::io::Error::other)?;
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
