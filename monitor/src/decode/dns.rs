//! The DNS message itself (RFC 1035 §4.1), parsed by hickory-proto.
//!
//! Anything hickory refuses — a message cut short, a compression pointer
//! that loops or points forward (hickory only follows pointers to earlier
//! offsets, so loops end), counts that promise more records than there are —
//! is a counted `malformed_dns`, never an error that stops the pipeline.

use std::sync::Arc;

use hickory_proto::op::Message;

use super::counters::DecodeCounters;
use super::limits::DecodeLimits;
use super::memo::ParseMemo;
use super::wire::Wire;

/// A parsed payload: its own bytes, and the parsed message (possibly
/// shared with an earlier copy that differed only in its id, see
/// [`super::memo`]).
pub(crate) struct Parsed {
    pub raw: Wire,
    pub txid: u16,
    pub message: Arc<Message>,
}

/// Parse one DNS payload; `None` when it was counted as a drop.
pub(crate) fn parse(
    payload: &[u8],
    limits: &DecodeLimits,
    c: &mut DecodeCounters,
    memo: &mut ParseMemo,
) -> Option<Parsed> {
    if payload.len() > limits.max_message {
        c.oversized += 1;
        return None;
    }
    // A message hickory parsed has its 12-byte header (RFC 1035 §4.1.1).
    let txid = |p: &[u8]| u16::from_be_bytes([p[0], p[1]]);
    if let Some((body, message)) = memo.get(payload) {
        let txid = txid(payload);
        return Some(Parsed {
            txid,
            raw: Wire::shared(body, txid),
            message,
        });
    }
    match Message::from_vec(payload) {
        Ok(m) => {
            // The one copy of the payload, made only for a message that parsed.
            let raw: Arc<[u8]> = payload.into();
            let message = Arc::new(m);
            memo.put(&raw, &message);
            Some(Parsed {
                txid: txid(payload),
                raw: Wire::new(raw),
                message,
            })
        }
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
        let mut memo = ParseMemo::new();
        let q = build::dns_query(
            0x1234,
            "www.example.test.",
            hickory_proto::rr::RecordType::A,
        );
        let m = parse(&q, &l, &mut c, &mut memo).unwrap().message;
        assert_eq!(m.metadata.id, 0x1234);
        let a = build::dns_answer_a(
            0x1234,
            "www.example.test.",
            &["198.18.1.1".parse().unwrap()],
        );
        assert_eq!(
            parse(&a, &l, &mut c, &mut memo)
                .unwrap()
                .message
                .answers
                .len(),
            1
        );
        assert_eq!(c, DecodeCounters::default());
    }

    #[test]
    fn truncated_message_is_counted() {
        let l = DecodeLimits::default();
        let mut c = DecodeCounters::default();
        let mut memo = ParseMemo::new();
        let a = build::dns_answer_a(1, "www.example.test.", &["198.18.1.1".parse().unwrap()]);
        for cut in [0, 5, 11, 12, a.len() - 1] {
            assert!(
                parse(&a[..cut], &l, &mut c, &mut memo).is_none(),
                "cut at {cut}"
            );
        }
        assert_eq!(c.malformed_dns, 5);
    }

    #[test]
    fn compression_pointer_loop_is_counted() {
        let l = DecodeLimits::default();
        let mut c = DecodeCounters::default();
        let mut memo = ParseMemo::new();
        // Header: 1 question. QNAME is a pointer to itself (offset 12).
        let mut m = vec![0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(parse(&m, &l, &mut c, &mut memo).is_none());
        // Two labels pointing at each other.
        let mut m = vec![0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[1, b'a', 0xc0, 16, 1, b'b', 0xc0, 12, 0, 1, 0, 1]);
        assert!(parse(&m, &l, &mut c, &mut memo).is_none());
        assert_eq!(c.malformed_dns, 2);
    }

    #[test]
    fn oversized_message_is_counted() {
        let l = DecodeLimits {
            max_message: 100,
            ..Default::default()
        };
        let mut c = DecodeCounters::default();
        let mut memo = ParseMemo::new();
        let big = build::dns_answer_txt(1, "t.example.test.", &["x".repeat(200)]);
        assert!(parse(&big, &l, &mut c, &mut memo).is_none());
        assert_eq!((c.oversized, c.malformed_dns), (1, 0));
        let small = build::dns_query(1, "t.example.test.", hickory_proto::rr::RecordType::TXT);
        assert!(parse(&small, &l, &mut c, &mut memo).is_some());
    }

    #[test]
    fn a_refused_message_is_counted_every_time() {
        let l = DecodeLimits::default();
        let mut c = DecodeCounters::default();
        let mut memo = ParseMemo::new();
        let a = build::dns_answer_a(1, "www.example.test.", &["198.18.1.1".parse().unwrap()]);
        let cut = &a[..a.len() - 1];
        for _ in 0..3 {
            assert!(parse(cut, &l, &mut c, &mut memo).is_none());
        }
        assert_eq!(c.malformed_dns, 3);
        assert_eq!(memo.stats(), crate::decode::memo::MemoStats::default());
    }
}
