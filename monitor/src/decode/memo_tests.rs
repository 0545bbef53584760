use std::sync::Arc;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use super::*;
use crate::decode::build;

fn parsed(bytes: &[u8]) -> (Arc<[u8]>, Arc<Message>) {
    (
        bytes.into(),
        Arc::new(Message::from_vec(bytes).expect("test message parses")),
    )
}

fn with_id(bytes: &[u8], id: u16) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[..2].copy_from_slice(&id.to_be_bytes());
    b
}

#[test]
fn a_copy_under_another_id_shares_the_parse() {
    let mut memo = ParseMemo::new();
    let q = build::dns_query(1, "www.example.test.", RecordType::A);
    assert!(memo.get(&q).is_none(), "empty memo");
    let (raw, msg) = parsed(&q);
    memo.put(&raw, &msg);
    let (body, hit) = memo
        .get(&with_id(&q, 0xbeef))
        .expect("same bytes after the id");
    assert!(Arc::ptr_eq(&hit, &msg));
    assert!(Arc::ptr_eq(&body, &raw));
    assert_eq!(memo.stats(), MemoStats { hits: 1, stored: 1 });
}

#[test]
fn any_other_byte_misses() {
    let mut memo = ParseMemo::new();
    let a = build::dns_answer_a(1, "www.example.test.", &["198.18.1.1".parse().unwrap()]);
    let (raw, msg) = parsed(&a);
    memo.put(&raw, &msg);
    // Every byte after the id, flipped alone (a flag, a count, a TTL, the
    // address) must miss: the shared parse would be another message.
    for i in 2..a.len() {
        let mut b = a.clone();
        b[i] ^= 0x01;
        assert!(memo.get(&b).is_none(), "byte {i} flipped still hit");
    }
    // Shorter and longer payloads with the same prefix miss too.
    assert!(memo.get(&a[..a.len() - 1]).is_none());
    let mut longer = a.clone();
    longer.push(0);
    assert!(memo.get(&longer).is_none());
    assert_eq!(memo.stats().hits, 0);
}

#[test]
fn large_messages_are_not_kept() {
    let mut memo = ParseMemo::new();
    let big = build::dns_answer_txt(1, "t.example.test.", &vec!["x".repeat(200); 3]);
    assert!(big.len() > MAX_BYTES);
    let (raw, msg) = parsed(&big);
    memo.put(&raw, &msg);
    assert!(memo.get(&big).is_none());
    assert_eq!(memo.stats(), MemoStats::default());
}

#[test]
fn the_table_stays_bounded_and_keeps_what_is_used() {
    let mut memo = ParseMemo::new();
    let hot = build::dns_query(1, "hot.example.test.", RecordType::A);
    let (hraw, hmsg) = parsed(&hot);
    memo.put(&hraw, &hmsg);
    // Many more distinct messages than entries, the hot one asked between
    // each: it is always the most recent way of its set, never replaced.
    for i in 0..(SETS * 8) {
        let q = build::dns_query(1, &format!("n{i}.example.test."), RecordType::A);
        if memo.get(&q).is_none() {
            let (raw, msg) = parsed(&q);
            memo.put(&raw, &msg);
        }
        assert!(memo.get(&hot).is_some(), "hot message evicted at {i}");
    }
    let kept = memo.sets.iter().flatten().filter(|e| e.is_some()).count();
    assert!(kept <= 2 * SETS, "{kept} entries");
    assert_eq!(memo.stats().stored, 1 + SETS as u64 * 8);
}
