//! The UDP datagram size an endpoint uses on each path.
//!
//! quinn encrypts, authenticates and acknowledges every datagram in user
//! space, so the datagram size sets most of QUIC's CPU cost a byte. A path
//! whose MTU is known can use it from the first packet; an unknown path
//! starts at QUIC's safe 1200 bytes and lets path MTU discovery raise it.
//! Nothing here learns anything about a peer.

use quinn::{MtuDiscoveryConfig, TransportConfig};
use std::net::SocketAddr;

/// IPv4 and UDP headers: a 1500-byte MTU carries 1472-byte UDP payloads.
const IPV4_UDP_HEADERS: u16 = 28;
/// IPv6 and UDP headers.
const IPV6_UDP_HEADERS: u16 = 48;

/// The largest datagram used. quinn sends up to 10 datagrams in one
/// segmentation-offload batch, which must stay under 64 KiB; at 8000 bytes
/// and above, loopback transfers collapsed (docs/benchmarks.md).
pub const MAX_DATAGRAM: u16 = 6000;

/// QUIC's minimum: every path must carry 1200-byte UDP payloads.
pub const MIN_DATAGRAM: u16 = 1200;

/// The largest datagram quinn's path MTU discovery tries on an unknown path
/// (a 1500-byte Ethernet MTU under IPv6).
const DISCOVERY_UPPER_BOUND: u16 = 1452;

/// How an endpoint chooses its datagram size (the UDP payload, without IP
/// and UDP headers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatagramSize {
    /// To a loopback address: the loopback interface's MTU as the system
    /// reports it (`/sys/class/net/lo/mtu`, so a network namespace's own
    /// loopback), less the IP and UDP headers, at most [`MAX_DATAGRAM`]
    /// bytes, from the first packet. To any other address, or if the
    /// loopback MTU cannot be read: start at 1200 bytes and let path MTU
    /// discovery raise it up to 1452.
    #[default]
    Auto,
    /// Every path is known to carry UDP payloads of this many bytes (1472
    /// on an IPv4 path with a 1500-byte MTU): used from the first packet,
    /// without discovery. Between [`MIN_DATAGRAM`] and [`MAX_DATAGRAM`].
    Known(u16),
}

/// What a path's transport configuration is built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathDatagrams {
    /// Start at 1200 bytes and discover up to 1452.
    Discover,
    /// Use this size from the first packet; nothing to discover.
    Fixed(u16),
}

impl DatagramSize {
    /// Checks a [`DatagramSize::Known`] size.
    pub(crate) fn validate(self) -> Result<(), String> {
        match self {
            DatagramSize::Known(n) if !(MIN_DATAGRAM..=MAX_DATAGRAM).contains(&n) => Err(format!(
                "datagram size {n} is outside {MIN_DATAGRAM}..={MAX_DATAGRAM} bytes"
            )),
            _ => Ok(()),
        }
    }

    /// The datagrams to use towards `remote`, given the loopback
    /// interface's MTU if it is known.
    pub(crate) fn for_path(self, remote: SocketAddr, loopback_mtu: Option<u32>) -> PathDatagrams {
        match self {
            DatagramSize::Known(n) => PathDatagrams::Fixed(n),
            DatagramSize::Auto => {
                let ip = remote.ip().to_canonical();
                if !ip.is_loopback() {
                    return PathDatagrams::Discover;
                }
                let headers = if ip.is_ipv4() {
                    IPV4_UDP_HEADERS
                } else {
                    IPV6_UDP_HEADERS
                };
                match loopback_mtu.map(|mtu| mtu.saturating_sub(u32::from(headers))) {
                    Some(payload) if payload >= u32::from(MIN_DATAGRAM) => {
                        let capped = payload.min(u32::from(MAX_DATAGRAM));
                        PathDatagrams::Fixed(u16::try_from(capped).unwrap_or(MAX_DATAGRAM))
                    }
                    _ => PathDatagrams::Discover,
                }
            }
        }
    }

    /// The largest datagram the endpoint must be able to receive.
    pub(crate) fn largest(self) -> u16 {
        match self {
            DatagramSize::Known(n) => n,
            DatagramSize::Auto => MAX_DATAGRAM,
        }
    }
}

/// The MTU of this network namespace's loopback interface, if the system
/// reports it.
pub(crate) fn loopback_mtu() -> Option<u32> {
    std::fs::read_to_string("/sys/class/net/lo/mtu")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Sets a transport configuration's datagram sizes for one kind of path.
pub(crate) fn configure(transport: &mut TransportConfig, path: PathDatagrams) {
    match path {
        PathDatagrams::Discover => {
            let mut discovery = MtuDiscoveryConfig::default();
            discovery.upper_bound(DISCOVERY_UPPER_BOUND);
            transport.mtu_discovery_config(Some(discovery));
        }
        PathDatagrams::Fixed(n) => {
            // The path's MTU is known: a lost large packet is congestion,
            // not a black hole, so there is nothing for discovery to do.
            transport
                .initial_mtu(n)
                .min_mtu(n)
                .mtu_discovery_config(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_uses_the_interface_mtu_less_headers() {
        let auto = DatagramSize::Auto;
        let v4 = addr("127.0.0.1:1");
        let v6 = addr("[::1]:1");
        assert_eq!(auto.for_path(v4, Some(1500)), PathDatagrams::Fixed(1472));
        assert_eq!(auto.for_path(v6, Some(1500)), PathDatagrams::Fixed(1452));
        assert_eq!(
            auto.for_path(v4, Some(65536)),
            PathDatagrams::Fixed(MAX_DATAGRAM)
        );
        assert_eq!(auto.for_path(v4, Some(1220)), PathDatagrams::Discover);
        assert_eq!(auto.for_path(v4, None), PathDatagrams::Discover);
    }

    #[test]
    fn other_addresses_discover_unless_the_size_is_known() {
        let remote = addr("192.0.2.7:7420");
        assert_eq!(
            DatagramSize::Auto.for_path(remote, Some(65536)),
            PathDatagrams::Discover
        );
        assert_eq!(
            DatagramSize::Known(1472).for_path(remote, Some(65536)),
            PathDatagrams::Fixed(1472)
        );
        assert_eq!(
            DatagramSize::Known(1472).for_path(addr("127.0.0.1:1"), Some(65536)),
            PathDatagrams::Fixed(1472)
        );
    }

    #[test]
    fn known_sizes_outside_quic_limits_are_refused() {
        assert!(DatagramSize::Known(1199).validate().is_err());
        assert!(DatagramSize::Known(MAX_DATAGRAM + 1).validate().is_err());
        assert!(DatagramSize::Known(1472).validate().is_ok());
        assert!(DatagramSize::Auto.validate().is_ok());
    }
}
