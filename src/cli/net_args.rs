//! Command-line flags shared by every subcommand that talks to peers, and
//! opening the channel to the one peer of a two-party job.

use super::arg_error::ArgError;
use super::stop;
use indicatif::{ProgressBar, ProgressStyle};
use indomain_net::quic::{Endpoint, Identity, PartyAddr, QuicChannel, TrustedPeer};
use indomain_net::{Limits, NetError};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How this node reaches its peers: its identity, where it listens or whom
/// it connects to, and which peers it trusts.
#[derive(clap::Args, Debug, Clone)]
pub struct PeerArgs {
    /// Directory with this node's node.crt and node.key (made by `indomain
    /// keygen`).
    #[arg(long, value_name = "DIR")]
    pub identity: PathBuf,

    /// Wait for the peer to connect, on this UDP address (e.g.
    /// 0.0.0.0:7000). Give exactly one of --listen and --connect.
    #[arg(
        long,
        value_name = "ADDR",
        required_unless_present = "connect",
        conflicts_with = "connect"
    )]
    pub listen: Option<String>,

    /// Connect to the peer listening at this address (HOST:PORT).
    #[arg(long, value_name = "ADDR")]
    pub connect: Option<String>,

    /// A peer to trust, as its `indomain keygen` printed it:
    /// NAME=sha256:<64 hex digits>. Repeat for several peers; a two-party
    /// job takes exactly one. Peers not listed are refused during the TLS
    /// handshake.
    #[arg(long = "peer", value_name = "NAME=FINGERPRINT", required = true)]
    pub peers: Vec<TrustedPeer>,

    /// Seconds to wait for the peer's next message before giving up, and
    /// for the peer to come: with --listen, for it to connect; with
    /// --connect, trying again while nobody answers (start order is free).
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    pub timeout: f64,

    /// The largest message accepted from a peer, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_frame)]
    pub max_frame: usize,
}

impl PeerArgs {
    /// The limits these flags ask for.
    pub fn limits(&self) -> Result<Limits, NetError> {
        let recv_timeout = Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| {
                NetError::Config(format!(
                    "--timeout {}: give a positive number of seconds",
                    self.timeout
                ))
            })?;
        if self.max_frame == 0 {
            return Err(NetError::Config("--max-frame must be positive".into()));
        }
        Ok(Limits {
            max_frame: self.max_frame,
            recv_timeout,
            ..Limits::default()
        })
    }

    /// Reads the identity from `--identity`.
    pub fn load_identity(&self) -> Result<Identity, NetError> {
        Identity::load(&self.identity)
    }

    /// For a two-party job: listens (`--listen`) or connects (`--connect`)
    /// and returns the endpoint with the channel to the single `--peer`.
    /// Keep the endpoint until the job is over.
    pub fn open_peer(&self) -> Result<(Endpoint, QuicChannel), NetError> {
        let [peer] = self.peers.as_slice() else {
            return Err(NetError::Config(format!(
                "a two-party job takes exactly one --peer; {} were given",
                self.peers.len()
            )));
        };
        let identity = self.load_identity()?;
        let limits = self.limits()?;
        match (&self.listen, &self.connect) {
            (Some(listen), None) => {
                let addr = resolve("--listen", listen)?;
                let endpoint = Endpoint::bind(&identity, addr, self.peers.clone(), limits)?;
                eprintln!(
                    "{}: listening on {} for {}",
                    identity.name(),
                    endpoint.local_addr(),
                    peer.name
                );
                let channel = endpoint.accept()?;
                Ok((endpoint, channel))
            }
            (None, Some(connect)) => {
                let addr = resolve("--connect", connect)?;
                let any: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let endpoint = Endpoint::bind(&identity, any, self.peers.clone(), limits)?;
                let channel = endpoint.connect(addr, &peer.name)?;
                Ok((endpoint, channel))
            }
            _ => Err(NetError::Config(
                "give exactly one of --listen ADDR and --connect ADDR".into(),
            )),
        }
    }
}

/// Resolves `HOST:PORT` (a name or an IP address) to its first address.
fn resolve(flag: &str, addr: &str) -> Result<SocketAddr, NetError> {
    let bad = |why: String| {
        NetError::Config(format!(
            "{flag} {addr}: {why}; expected HOST:PORT, e.g. 127.0.0.1:7000"
        ))
    };
    addr.to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("the name has no address".into()))
}

/// The address list of a party mesh, in party order.
pub(super) fn party_addrs(parties: &[(TrustedPeer, SocketAddr)]) -> Vec<PartyAddr> {
    parties
        .iter()
        .map(|(p, addr)| PartyAddr {
            name: p.name.clone(),
            addr: *addr,
        })
        .collect()
}

/// The network limits of a job's --timeout: the seconds to wait for a
/// peer's next message (positive), the defaults otherwise.
pub(super) fn timeout_limits(timeout: f64) -> Result<Limits, ArgError> {
    let recv_timeout = Duration::try_from_secs_f64(timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or(ArgError::Timeout)?;
    Ok(Limits {
        recv_timeout,
        ..Limits::default()
    })
}

/// Party `me`'s endpoint for a job among `parties` (the --party list, in
/// order): bound at its own address with the identity in `identity`,
/// trusting every other listed party and no one else; the guard that
/// closes it on Ctrl-C; and the addresses to mesh with.
pub(super) fn bind_among(
    identity: &Path,
    parties: &[(TrustedPeer, SocketAddr)],
    me: usize,
    limits: Limits,
) -> Result<(Endpoint, stop::Guard, Vec<PartyAddr>), Box<dyn std::error::Error + Send + Sync>> {
    let identity = Identity::load(identity)?;
    let trusted = parties
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != me)
        .map(|(_, (p, _))| p.clone())
        .collect();
    let endpoint = Endpoint::bind(&identity, parties[me].1, trusted, limits)?;
    let guard = stop::Guard::new(endpoint.stop_handle());
    Ok((endpoint, guard, party_addrs(parties)))
}

/// The spinner of a multi-party job (hidden with --quiet).
pub(super) fn spinner(quiet: bool) -> Result<ProgressBar, ArgError> {
    if quiet {
        return Ok(ProgressBar::hidden());
    }
    let bar = ProgressBar::new_spinner().with_style(ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {msg}",
    )?);
    bar.enable_steady_tick(Duration::from_millis(120));
    Ok(bar)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        net: PeerArgs,
    }

    fn parse(args: &[&str]) -> Result<PeerArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied())).map(|c| c.net)
    }

    const PEER: &str =
        "bob=sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn exactly_one_of_listen_and_connect() {
        assert!(parse(&["--identity", "d", "--peer", PEER, "--listen", "127.0.0.1:1"]).is_ok());
        assert!(
            parse(&[
                "--identity",
                "d",
                "--peer",
                PEER,
                "--connect",
                "127.0.0.1:1"
            ])
            .is_ok()
        );
        assert!(parse(&["--identity", "d", "--peer", PEER]).is_err());
        assert!(
            parse(&[
                "--identity",
                "d",
                "--peer",
                PEER,
                "--listen",
                "a:1",
                "--connect",
                "b:1"
            ])
            .is_err()
        );
    }

    #[test]
    fn bad_peer_syntax_says_what_is_expected() {
        let err = parse(&[
            "--identity",
            "d",
            "--listen",
            "127.0.0.1:1",
            "--peer",
            "bob=abc",
        ])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("sha256:<64 hex digits>"), "{err}");
    }

    #[test]
    fn missing_identity_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let args = parse(&[
            "--identity",
            dir.path().to_str().unwrap(),
            "--peer",
            PEER,
            "--connect",
            "127.0.0.1:9",
        ])
        .unwrap();
        let err = args.open_peer().unwrap_err().to_string();
        assert!(
            err.contains("node.crt") && err.contains("indomain keygen"),
            "{err}"
        );
    }

    #[test]
    fn two_party_jobs_take_one_peer() {
        let other = PEER.replacen("bob", "carol", 1);
        let args = parse(&[
            "--identity",
            "d",
            "--peer",
            PEER,
            "--peer",
            &other,
            "--listen",
            "127.0.0.1:0",
        ])
        .unwrap();
        assert!(
            args.open_peer()
                .unwrap_err()
                .to_string()
                .contains("exactly one --peer")
        );
    }

    #[test]
    fn zero_timeout_is_refused() {
        let args = parse(&[
            "--identity",
            "d",
            "--peer",
            PEER,
            "--listen",
            "127.0.0.1:0",
            "--timeout",
            "0",
        ])
        .unwrap();
        assert!(args.limits().is_err());
    }
}
