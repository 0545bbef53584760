//! The DNS message itself (RFC 1035 §4.1), parsed by hickory-proto.
//!
//! Anything hickory refuses — a message cut short, a compression pointer
//! that loops or points forward (hickory only follows pointers to earlier
//! offsets, so loops end), counts that promise more records than there are —
//! is a counted `malformed_dns`, never an error that stops the pipeline.

use hickory_proto::op::Message;

use super::counters::DecodeCounters;
use super::limits::DecodeLimits;

/// Parse one DNS payload; `None` when it was counted as a drop.
pub(crate) fn parse(
    payload: &[u8],
    limits: &DecodeLimits,
    c: &mut DecodeCounters,
) -> Option<Box<Message>> {
    if payload.len() > limits.max_message {
        c.oversized += 1;
        return None;
    }
    match Message::from_vec(payload) {
        Ok(m) => Some(Box::new(m)),
        Err(e) => {
            c.malformed_dns += 1;
            tracing::trace!(error = %e, len = payload.len(), "undecodable DNS message");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::build;

    #[test]
    fn valid_query_and_answer_parse() {
        let l = DecodeLimits::default();
        let mut c = DecodeCounters::default();
        let q = build::dns_query(
            0x1234,
            "www.example.test.",
            hickory_proto::rr::RecordType::A,
        );
        let m = parse(&q, &l, &mut c).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        let a = build::dns_answer_a(
            0x1234,
            "www.example.test.",
            &["198.18.1.1".parse().unwrap()],
        );
        assert_eq!(parse(&a, &l, &mut c).unwrap().answers.len(), 1);
        assert_eq!(c, DecodeCounters::default());
    }

    #[test]
    fn truncated_message_is_counted() {
        let l = DecodeLimits::default();
        let mut c = DecodeCounters::default();
        let a = build::dns_answer_a(1, "www.example.test.", &["198.18.1.1".parse().unwrap()]);
        for cut in [0, 5, 11, 12, a.len() - 1] {
            assert!(parse(&a[..cut], &l, &mut c).is_none(), "cut at {cut}");
        }
        assert_eq!(c.malformed_dns, 5);
    }

    #[test]
    fn compression_pointer_loop_is_counted() {
        let l = DecodeLimits::default();
        let mut c = DecodeCounters::default();
        // Header: 1 question. QNAME is a pointer to itself (offset 12).
        let mut m = vec![0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(parse(&m, &l, &mut c).is_none());
        // Two labels pointing at each other.
        let mut m = vec![0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[1, b'a', 0xc0, 16, 1, b'b', 0xc0, 12, 0, 1, 0, 1]);
        assert!(parse(&m, &l, &mut c).is_none());
        assert_eq!(c.malformed_dns, 2);
    }

    #[test]
    fn oversized_message_is_counted() {
        let l = DecodeLimits {
            max_message: 100,
            ..Default::default()
        };
        let mut c = DecodeCounters::default();
        let big = build::dns_answer_txt(1, "t.example.test.", &["x".repeat(200)]);
        assert!(parse(&big, &l, &mut c).is_none());
        assert_eq!((c.oversized, c.malformed_dns), (1, 0));
        let small = build::dns_query(1, "t.example.test.", hickory_proto::rr::RecordType::TXT);
        assert!(parse(&small, &l, &mut c).is_some());
    }
}
