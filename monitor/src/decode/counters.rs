//! What the decoder did with every packet, and why it dropped what it dropped.
//!
//! Two ledgers must balance (the property tests assert both):
//!
//! * units: `packets + frag_reassembled` (every captured packet, plus every
//!   datagram rebuilt from fragments, which goes through L4 once more) each
//!   end in exactly one of [`DecodeCounters::unit_outcomes`];
//! * DNS payloads: `udp_payloads + tcp_messages` (a UDP payload, or a message
//!   framed out of a TCP stream) each end as a `message`, `malformed_dns` or
//!   `oversized`.
//!
//! Fragment drop reasons count *fragments* (packets), so an operator can add
//! them to the packet-level figures; `tcp_*` reasons count events on flows.

use std::sync::atomic::{AtomicU64, Ordering};

/// How many counters [`DecodeCounters::fields`] lists.
pub const FIELDS: usize = 27;

/// Monotonic counters; never reset while the decoder lives.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DecodeCounters {
    /// Packets given to [`super::Decoder::push`].
    pub packets: u64,
    /// Complete DNS messages produced.
    pub messages: u64,

    // --- unit outcomes (exactly one per packet or rebuilt datagram) ---
    /// Well formed, but not UDP/TCP on a DNS port (or not IP at all).
    pub not_dns: u64,
    /// Link-layer header too short or inconsistent.
    pub malformed_l2: u64,
    /// IPv4/IPv6 header invalid (version, lengths, checksum, extension chain).
    pub malformed_l3: u64,
    /// UDP/TCP header invalid.
    pub malformed_l4: u64,
    /// The capture kept fewer bytes than the headers say the packet has.
    pub truncated_capture: u64,
    /// IP fragments handed to the defragmenter (fate: `frag_*` below).
    pub fragments: u64,
    /// UDP datagrams on a DNS port whose payload went to the DNS parser.
    pub udp_payloads: u64,
    /// TCP segments on a DNS port handed to the stream reassembler.
    pub tcp_segments: u64,

    // --- defragmentation (counts fragments unless stated) ---
    /// Datagrams rebuilt from fragments.
    pub frag_reassembled: u64,
    /// Fragments consumed by a rebuilt datagram.
    pub frag_used: u64,
    /// Fragments discarded because their datagram did not complete in time.
    pub frag_timeout: u64,
    /// Fragments discarded because one overlapped another (RFC 5722).
    pub frag_overlap: u64,
    /// Exact duplicates of a fragment already held (dropped alone).
    pub frag_duplicate: u64,
    /// Fragments discarded to keep memory bounded (datagrams in flight,
    /// bytes held, fragments per datagram) or whose datagram would exceed
    /// 65,535 bytes.
    pub frag_limit: u64,

    // --- TCP stream reassembly (events) ---
    /// Messages framed out of TCP streams (2-byte length prefix).
    pub tcp_messages: u64,
    /// Segments that arrived ahead of a hole and were held.
    pub tcp_out_of_order: u64,
    /// Holes given up on (lost segment or out-of-order buffer full): the
    /// partial message is lost and the stream resynchronises.
    pub tcp_gap: u64,
    /// Segments thrown away while a stream looked for a message start after
    /// a gap, or joined mid-stream.
    pub tcp_desync_segments: u64,
    /// Segments already seen (retransmissions), ignored.
    pub tcp_retransmit: u64,
    /// Flow states evicted because the flow table was full.
    pub tcp_flow_limit: u64,
    /// Streams closed (FIN/RST, idle timeout, eviction) with a partial
    /// message still buffered.
    pub tcp_incomplete: u64,

    // --- DNS ---
    /// Payloads that hickory-proto could not parse (truncated, pointer loop,
    /// bad counts...).
    pub malformed_dns: u64,
    /// Payloads larger than [`super::DecodeLimits::max_message`].
    pub oversized: u64,
}

impl DecodeCounters {
    /// The outcomes of the unit ledger; they sum to
    /// `packets + frag_reassembled`.
    pub fn unit_outcomes(&self) -> u64 {
        self.not_dns
            + self.malformed_l2
            + self.malformed_l3
            + self.malformed_l4
            + self.truncated_capture
            + self.fragments
            + self.udp_payloads
            + self.tcp_segments
    }

    /// Every counter by name, in declaration order (summaries, metrics).
    pub fn fields(&self) -> [(&'static str, u64); FIELDS] {
        [
            ("packets", self.packets),
            ("messages", self.messages),
            ("not_dns", self.not_dns),
            ("malformed_l2", self.malformed_l2),
            ("malformed_l3", self.malformed_l3),
            ("malformed_l4", self.malformed_l4),
            ("truncated_capture", self.truncated_capture),
            ("fragments", self.fragments),
            ("udp_payloads", self.udp_payloads),
            ("tcp_segments", self.tcp_segments),
            ("frag_reassembled", self.frag_reassembled),
            ("frag_used", self.frag_used),
            ("frag_timeout", self.frag_timeout),
            ("frag_overlap", self.frag_overlap),
            ("frag_duplicate", self.frag_duplicate),
            ("frag_limit", self.frag_limit),
            ("tcp_messages", self.tcp_messages),
            ("tcp_out_of_order", self.tcp_out_of_order),
            ("tcp_gap", self.tcp_gap),
            ("tcp_desync_segments", self.tcp_desync_segments),
            ("tcp_retransmit", self.tcp_retransmit),
            ("tcp_flow_limit", self.tcp_flow_limit),
            ("tcp_incomplete", self.tcp_incomplete),
            ("malformed_dns", self.malformed_dns),
            ("oversized", self.oversized),
            ("dns_payloads", self.udp_payloads + self.tcp_messages),
            ("frag_dropped", self.frag_dropped()),
        ]
    }

    /// Fragments thrown away for any reason.
    pub fn frag_dropped(&self) -> u64 {
        self.frag_timeout + self.frag_overlap + self.frag_duplicate + self.frag_limit
    }
}

/// The decoder's counters for other threads (metrics, `capture_loss`):
/// the decoder belongs to one task, which publishes a snapshot after each
/// batch (27 relaxed stores), so readers never touch the decoder itself.
#[derive(Debug, Default)]
pub struct SharedDecodeCounters {
    values: [AtomicU64; FIELDS],
}

impl SharedDecodeCounters {
    pub fn publish(&self, c: &DecodeCounters) {
        for (slot, (_, v)) in self.values.iter().zip(c.fields()) {
            slot.store(v, Ordering::Relaxed);
        }
    }

    /// The last published values, by name ([`DecodeCounters::fields`]).
    pub fn snapshot(&self) -> [(&'static str, u64); FIELDS] {
        let mut out = DecodeCounters::default().fields();
        for ((_, v), slot) in out.iter_mut().zip(&self.values) {
            *v = slot.load(Ordering::Relaxed);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_snapshot_reads_back_by_name() {
        let shared = SharedDecodeCounters::default();
        assert!(shared.snapshot().iter().all(|(_, v)| *v == 0));
        let c = DecodeCounters {
            packets: 7,
            tcp_gap: 2,
            oversized: 1,
            ..DecodeCounters::default()
        };
        shared.publish(&c);
        let snap = shared.snapshot();
        assert_eq!(snap, c.fields());
        let get = |n: &str| snap.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
        assert_eq!(get("tcp_gap"), Some(2));
        assert_eq!(get("oversized"), Some(1));
        assert_eq!(get("frag_limit"), Some(0));
    }

    #[test]
    fn unit_outcomes_sum_only_outcomes() {
        let c = DecodeCounters {
            packets: 10,
            messages: 99,
            not_dns: 1,
            fragments: 2,
            udp_payloads: 3,
            tcp_segments: 4,
            frag_reassembled: 50,
            ..Default::default()
        };
        assert_eq!(c.unit_outcomes(), 10);
        let zero = DecodeCounters::default();
        assert_eq!(zero.unit_outcomes(), 0);
    }

    #[test]
    fn fields_are_named_and_ordered() {
        let c = DecodeCounters {
            packets: 7,
            frag_overlap: 2,
            frag_limit: 1,
            ..Default::default()
        };
        let f = c.fields();
        assert_eq!(f[0], ("packets", 7));
        assert!(f.contains(&("frag_overlap", 2)));
        assert!(f.contains(&("frag_dropped", 3)));
        assert!(!f.contains(&("frag_dropped", 0)));
    }
}

/// Where one unit (packet or rebuilt datagram) ended, short of producing DNS
/// payload; the decoder turns it into exactly one counter increment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    NotDns,
    MalformedL2,
    MalformedL3,
    MalformedL4,
    TruncatedCapture,
}

impl Outcome {
    /// A header did not fit in the bytes we have: if the capture cut the
    /// packet short that is the capture's fault, otherwise the packet lies.
    pub(crate) fn short(capture_truncated: bool, malformed: Outcome) -> Outcome {
        if capture_truncated {
            Outcome::TruncatedCapture
        } else {
            malformed
        }
    }
}

impl DecodeCounters {
    pub(crate) fn count(&mut self, o: Outcome) {
        match o {
            Outcome::NotDns => self.not_dns += 1,
            Outcome::MalformedL2 => self.malformed_l2 += 1,
            Outcome::MalformedL3 => self.malformed_l3 += 1,
            Outcome::MalformedL4 => self.malformed_l4 += 1,
            Outcome::TruncatedCapture => self.truncated_capture += 1,
        }
    }
}
