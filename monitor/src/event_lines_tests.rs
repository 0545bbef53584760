use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use super::EcsLines;
use crate::detect::testkit::{answer_msg, event, loopback_exchange, query_msg};
use crate::event::DnsEvent;

fn line(w: &mut EcsLines, ev: &DnsEvent) -> Value {
    let mut out = Vec::new();
    let mut doc = ev.ecs_without_dns();
    doc.event.dataset = Some("dnssec_monitor.transaction");
    w.write(&mut out, ev, &doc);
    assert_eq!(out.last(), Some(&b'\n'), "one line");
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    // Byte for byte what serde writes for the whole document (`replay`
    // writes query lines that way): the same keys in the same order.
    let mut doc = ev.ecs();
    doc.event.dataset = Some("dnssec_monitor.transaction");
    let mut want = serde_json::to_vec(&doc).unwrap();
    want.push(b'\n');
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&want)
    );
    serde_json::from_slice(&out).expect("valid JSON")
}

fn plain(ev: &DnsEvent) -> Value {
    let mut doc = ev.ecs();
    doc.event.dataset = Some("dnssec_monitor.transaction");
    serde_json::to_value(&doc).unwrap()
}

/// Copies of one message that share its parse (as the memo makes them),
/// each with its own id.
fn copies(ev: &DnsEvent, ids: &[u16]) -> Vec<DnsEvent> {
    ids.iter()
        .map(|&id| {
            let mut raw = ev.raw.bytes().into_owned();
            raw[..2].copy_from_slice(&id.to_be_bytes());
            DnsEvent {
                raw: raw.into(),
                txid: id,
                message: Arc::clone(&ev.message),
                ..ev.clone()
            }
        })
        .collect()
}

#[test]
fn lines_equal_the_plain_document_on_a_miss_and_on_a_hit() {
    let (q, a) = loopback_exchange("www.example.", 300);
    let do_q = query_msg(9, "signed.example.", RecordType::AAAA, true, true);
    let nx = answer_msg(&do_q, ResponseCode::NXDomain, Vec::new());
    let evs = [
        q,
        a,
        event(do_q, "10.0.0.2:1234", "10.0.0.53:53", 5),
        event(nx, "10.0.0.2:1234", "10.0.0.53:53", 6),
    ];
    let mut w = EcsLines::default();
    for ev in &evs {
        // The memo's own reference: a shared parse is cached.
        let _memo = Arc::clone(&ev.message);
        for round in 0..2 {
            assert_eq!(line(&mut w, ev), plain(ev), "round {round} of {ev:?}");
        }
    }
}

#[test]
fn copies_sharing_a_parse_keep_their_own_ids() {
    let (_, a) = loopback_exchange("www.example.", 300);
    let mut w = EcsLines::default();
    for c in copies(&a, &[1, 0xffff, 4242]) {
        let l = line(&mut w, &c);
        assert_eq!(l["dns"]["id"], Value::from(c.txid));
        assert_eq!(l, plain(&c));
    }
    assert_eq!(w.cache.len(), 1, "one rendering for the shared parse");
}

#[test]
fn a_dead_parse_is_never_served_for_a_new_one() {
    let mut w = EcsLines::default();
    for (i, name) in ["first.example.", "second.example.", "third.example."]
        .into_iter()
        .enumerate()
    {
        // Each parse dies before the next is made: its address may be
        // reused, its rendering must not be.
        let (_, a) = loopback_exchange(name, 60);
        let _memo = Arc::clone(&a.message);
        let l = line(&mut w, &a);
        assert_eq!(
            l["dns"]["question"]["name"],
            Value::from(name.trim_end_matches('.')),
            "message {i}"
        );
    }
}

#[test]
fn an_unshared_parse_is_not_kept() {
    let (_, a) = loopback_exchange("big.example.", 60);
    let mut w = EcsLines::default();
    assert_eq!(line(&mut w, &a), plain(&a));
    assert!(w.cache.is_empty());
}

#[test]
fn the_cache_stays_bounded() {
    let mut w = EcsLines::default();
    let mut live = Vec::new();
    for i in 0..(super::ENTRIES + 10) {
        let (_, a) = loopback_exchange(&format!("n{i}.example."), 60);
        live.push(Arc::clone(&a.message));
        line(&mut w, &a);
        assert!(w.cache.len() <= super::ENTRIES);
    }
}
