//! Every bound the decoder keeps, in one place, so memory use under hostile
//! traffic is a known number: roughly `frag_max_bytes` + `tcp_max_flows` ×
//! (`tcp_max_buffer` + `tcp_max_ooo_bytes`).

use std::time::Duration;

/// Configuration and resource bounds of [`super::Decoder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Ports that make a UDP datagram or TCP segment DNS, on either side.
    pub dns_ports: Vec<u16>,
    /// Largest DNS message accepted; larger payloads count as `oversized`.
    /// 65,535 is the most UDP (RFC 6891) or a TCP length prefix can carry.
    pub max_message: usize,

    /// Datagrams being reassembled at once.
    pub frag_max_datagrams: usize,
    /// Fragment payload bytes held across all datagrams.
    pub frag_max_bytes: usize,
    /// Fragments held for one datagram (bounds tiny-fragment floods).
    pub frag_max_per_datagram: usize,
    /// How long an incomplete datagram waits for its fragments. 30 s like
    /// Linux `ipfrag_time` / `ip6frag_time`.
    pub frag_timeout: Duration,

    /// TCP half-streams (one per direction of a connection) tracked.
    pub tcp_max_flows: usize,
    /// Bytes of a partial message held per half-stream (one maximal message
    /// plus its 2-byte prefix).
    pub tcp_max_buffer: usize,
    /// Segments held ahead of a hole per half-stream.
    pub tcp_max_ooo_segments: usize,
    /// Bytes held ahead of a hole per half-stream.
    pub tcp_max_ooo_bytes: usize,
    /// Bytes held across all half-streams; over it the least recently used
    /// streams are evicted (a lying length prefix makes a stream wait for up
    /// to 64 KiB that may never come).
    pub tcp_max_total_bytes: usize,
    /// A half-stream with no traffic for this long is forgotten.
    pub tcp_idle_timeout: Duration,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            dns_ports: vec![53],
            max_message: 65_535,
            frag_max_datagrams: 1024,
            frag_max_bytes: 8 << 20,
            frag_max_per_datagram: 128,
            frag_timeout: Duration::from_secs(30),
            tcp_max_flows: 4096,
            tcp_max_buffer: 65_537,
            tcp_max_ooo_segments: 32,
            tcp_max_ooo_bytes: 256 << 10,
            tcp_max_total_bytes: 32 << 20,
            tcp_idle_timeout: Duration::from_secs(60),
        }
    }
}

impl DecodeLimits {
    /// True when either port is one of the DNS ports.
    pub fn is_dns_port(&self, a: u16, b: u16) -> bool {
        self.dns_ports.iter().any(|&p| p == a || p == b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_port_on_either_side() {
        let l = DecodeLimits::default();
        assert!(l.is_dns_port(53, 40000));
        assert!(l.is_dns_port(40000, 53));
        assert!(!l.is_dns_port(40000, 5353));
        let l = DecodeLimits {
            dns_ports: vec![5353, 853],
            ..Default::default()
        };
        assert!(l.is_dns_port(5353, 1));
        assert!(!l.is_dns_port(53, 1));
    }
}
