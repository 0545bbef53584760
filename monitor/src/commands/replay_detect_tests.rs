//! Replay through the detector: pcaps built from the in-process signed
//! hierarchy's real answers ([`crate::detect::lab`]), so the verdicts and
//! the alerts are those the daemon would raise.

use std::io::Cursor;
use std::sync::atomic::Ordering;

use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};
use serde_json::Value;

use super::super::*;
use crate::decode::build;
use crate::detect::lab::{Lab, Reply, policy};
use crate::detect::testkit::{CLIENT, RESOLVER, at, query_msg, sa};

/// The test server of `secure.test.` (signed, with a chain from the anchor).
const SECURE: u8 = 3;

/// `(ms, from, to, message)` as UDP frames in a pcap, in this order.
fn pcap(msgs: &[(u64, &str, &str, &Message)]) -> Vec<u8> {
    let packets: Vec<_> = msgs
        .iter()
        .map(|(ms, from, to, m)| {
            let bytes = m.to_vec().expect("test message encodes");
            (at(*ms), build::udp_frame(sa(from), sa(to), &bytes))
        })
        .collect();
    build::pcap_file(1, &packets)
}

/// Replays `pcap` through `lab`'s detector: the alerts' documents (as the
/// output writes them) and the summary.
async fn replay_alerts(lab: &mut Lab, pcap: Vec<u8>) -> (Vec<Value>, ReplaySummary) {
    let mut docs = Vec::new();
    let mut on_alert = |a: &Alert| {
        docs.push(a.to_ecs());
        Ok(())
    };
    let out = ReplayOutput {
        alert: &mut on_alert,
        event: None,
        transactions: None,
    };
    let src = PcapSource::new(Cursor::new(pcap)).unwrap();
    let summary = replay(src, DecodeLimits::default(), &mut lab.det, out)
        .await
        .unwrap();
    (docs, summary)
}

/// A DO=1 query for `www.secure.test./A` and the resolver's answer, made
/// from the authoritative one after `alter`.
async fn transaction(lab: &Lab, alter: impl FnOnce(&mut Message)) -> (Message, Message) {
    let mut auth = lab.auth(SECURE, "www.secure.test.", RecordType::A).await;
    alter(&mut auth);
    let q = query_msg(0x4242, "www.secure.test.", RecordType::A, true, true);
    let a = Lab::resolver_answer(&q, &auth, Reply::default());
    (q, a)
}

fn flip_rrsig_byte(m: &mut Message) {
    for r in m.answers.iter_mut() {
        if let RData::DNSSEC(DNSSECRData::RRSIG(s)) = &r.data {
            let mut bytes = s.sig().to_vec();
            bytes[7] ^= 0x01;
            let flipped = RRSIG::from_sig(s.input().clone(), bytes);
            r.data = RData::DNSSEC(DNSSECRData::RRSIG(flipped));
        }
    }
}

#[tokio::test]
async fn a_valid_signed_answer_raises_nothing() {
    let mut lab = Lab::new(policy());
    let (q, a) = transaction(&lab, |_| {}).await;
    let file = pcap(&[(0, CLIENT, RESOLVER, &q), (5, RESOLVER, CLIENT, &a)]);
    let (docs, summary) = replay_alerts(&mut lab, file).await;
    assert!(docs.is_empty(), "{docs:#?}");
    assert_eq!(summary.events, 2);
    assert_eq!(summary.alerts_total(), 0);
    // The answer was judged against a verdict, not passed over.
    let evaluated = lab.det.counters().evaluated.load(Ordering::Relaxed);
    assert_eq!(evaluated, 1);
}

#[tokio::test]
async fn a_flipped_rrsig_byte_is_one_bogus_signature_naming_the_question() {
    let mut lab = Lab::new(policy());
    let (q, a) = transaction(&lab, flip_rrsig_byte).await;
    let file = pcap(&[(0, CLIENT, RESOLVER, &q), (5, RESOLVER, CLIENT, &a)]);
    let (docs, summary) = replay_alerts(&mut lab, file).await;
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let d = &docs[0];
    assert_eq!(d["rule"]["name"], "bogus_signature");
    assert_eq!(d["dns"]["question"]["name"], "www.secure.test");
    assert_eq!(d["dns"]["question"]["type"], "A");
    assert_eq!(d["dns"]["id"], 0x4242);
    // Capture time, not the time of the replay.
    assert_eq!(d["@timestamp"], "2023-11-14T22:13:20.005000Z");
    assert_eq!(summary.alerts_of(Rule::BogusSignature), 1);
    assert_eq!(summary.alerts_total(), 1);
    assert!(format_summary(&summary).contains("alerts.bogus_signature"));
}

/// `pcap` replayed with `--events` by `lab` (built with `lines.log()`):
/// every line written, alerts and event lines in output order.
async fn replay_events(
    lab: &mut Lab,
    lines: ReplayLines,
    file: Vec<u8>,
) -> (Vec<Value>, ReplaySummary) {
    let mut docs: Vec<Value> = Vec::new();
    let sink = std::cell::RefCell::new(&mut docs);
    let mut on_alert = |a: &Alert| {
        sink.borrow_mut().push(a.to_ecs());
        Ok(())
    };
    let mut on_event = |l: EventLine<'_>| {
        sink.borrow_mut().push(super::event_doc(l));
        Ok(())
    };
    let out = ReplayOutput {
        alert: &mut on_alert,
        event: Some(&mut on_event),
        transactions: Some(lines),
    };
    let src = PcapSource::new(Cursor::new(file)).unwrap();
    let summary = replay(src, DecodeLimits::default(), &mut lab.det, out)
        .await
        .unwrap();
    (docs, summary)
}

/// `--events`: the query's line, each answer's transaction line (its
/// verdict in `dnssec`), then its alerts, in capture order, whether the
/// verdict was awaited on its own task or judged at once.
#[tokio::test]
async fn events_are_query_lines_and_transaction_lines_in_capture_order() {
    let lines = ReplayLines::default();
    let mut lab = Lab::with_transactions(policy(), lines.log());
    let (q1, a1) = transaction(&lab, |_| {}).await;
    let (mut q2, mut a2) = transaction(&lab, flip_rrsig_byte).await;
    q2.metadata.id = 0x4343;
    a2.metadata.id = 0x4343;
    let file = pcap(&[
        (0, CLIENT, RESOLVER, &q1),
        (5, RESOLVER, CLIENT, &a1),
        (10, CLIENT, RESOLVER, &q2),
        (15, RESOLVER, CLIENT, &a2),
    ]);
    let (docs, summary) = replay_events(&mut lab, lines, file).await;
    assert_eq!(summary.alerts_of(Rule::BogusSignature), 1);
    let shape: Vec<(String, u64, String)> = docs
        .iter()
        .map(|d| {
            let kind = match d.pointer("/rule/name").and_then(Value::as_str) {
                Some(rule) => rule.to_string(),
                None => d["dns"]["type"].as_str().unwrap_or("?").to_string(),
            };
            let outcome = d
                .pointer("/dnssec/outcome")
                .and_then(Value::as_str)
                .unwrap_or("-");
            (
                kind,
                d["dns"]["id"].as_u64().unwrap_or(0),
                outcome.to_string(),
            )
        })
        .collect();
    let want = [
        ("query", 0x4242, "-"),
        ("answer", 0x4242, "secure"),
        ("query", 0x4343, "-"),
        ("answer", 0x4343, "secure"),
        ("bogus_signature", 0x4343, "secure"),
    ]
    .map(|(k, id, o)| (k.to_string(), id, o.to_string()));
    assert_eq!(shape, want, "{docs:#?}");
    // The answers' lines are transactions: their query, the latency, the
    // rules that alerted on them (the name's verdict is secure; the
    // flipped answer's own signature is not).
    let answers: Vec<&Value> = docs
        .iter()
        .filter(|d| d["dns"]["type"] == "answer" && d.get("rule").is_none())
        .collect();
    assert_eq!(answers.len(), 2);
    for d in &answers {
        assert_eq!(d["event"]["dataset"], "dnssec_monitor.transaction");
        assert_eq!(d["dnssec_monitor"]["query"]["id"], d["dns"]["id"]);
        assert_eq!(d["dnssec_monitor"]["query"]["latency_ms"], 5.0);
    }
    assert!(answers[0]["dnssec_monitor"].get("alerts").is_none());
    assert_eq!(
        answers[1]["dnssec_monitor"]["alerts"],
        serde_json::json!(["bogus_signature"])
    );
}

#[tokio::test]
async fn an_answer_without_its_query_is_unsolicited_response() {
    // The lab's detector has no warm-up; `main`'s (the daemon's) has, see
    // `main_writes_alert_lines_after_the_warm_up`.
    let mut lab = Lab::new(policy());
    let (_, a) = transaction(&lab, |_| {}).await;
    let file = pcap(&[(5, RESOLVER, CLIENT, &a)]);
    let (docs, summary) = replay_alerts(&mut lab, file).await;
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["rule"]["name"], "unsolicited_response");
    assert_eq!(docs[0]["dns"]["question"]["name"], "www.secure.test");
    assert_eq!(summary.alerts_of(Rule::UnsolicitedResponse), 1);
    // With its query before it, the same answer is fine.
    let mut lab = Lab::new(policy());
    let (q, a) = transaction(&lab, |_| {}).await;
    let file = pcap(&[(0, CLIENT, RESOLVER, &q), (5, RESOLVER, CLIENT, &a)]);
    assert!(replay_alerts(&mut lab, file).await.0.is_empty());
}

/// Twelve recursive queries to the resolver that never answers, then one
/// query elsewhere `later_ms` after: resolver health is judged on capture
/// time, so the timeouts count once the file's clock passes them (however
/// fast the file is read), and not before.
async fn unanswered_then(later_ms: u64) -> Vec<Value> {
    let mut lab = Lab::new(policy());
    let qs: Vec<Message> = (0..12)
        .map(|i| query_msg(100 + i, "www.secure.test.", RecordType::A, true, true))
        .collect();
    let other = query_msg(7, "www.secure.test.", RecordType::A, true, true);
    let mut msgs: Vec<(u64, &str, &str, &Message)> = qs
        .iter()
        .enumerate()
        .map(|(i, q)| (i as u64, CLIENT, RESOLVER, q))
        .collect();
    msgs.push((later_ms, CLIENT, "10.0.0.54:53", &other));
    replay_alerts(&mut lab, pcap(&msgs)).await.0
}

#[tokio::test]
async fn timeouts_are_judged_on_capture_time() {
    let docs = unanswered_then(30_000).await;
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["rule"]["name"], "resolver_failure");
    // Still within the 10 s query timeout: nothing timed out yet.
    assert!(unanswered_then(5_000).await.is_empty());
}

/// The last periodic check (at 9.9 s) came before the timeouts (10 s);
/// the file ends at 10.2 s, less than a check interval later: the check at
/// the capture's end still judges them.
#[tokio::test]
async fn the_capture_end_is_judged_too() {
    let mut lab = Lab::new(policy());
    let qs: Vec<Message> = (0..12)
        .map(|i| query_msg(100 + i, "www.secure.test.", RecordType::A, true, true))
        .collect();
    let a = query_msg(7, "www.secure.test.", RecordType::A, true, true);
    let b = query_msg(8, "www.secure.test.", RecordType::A, true, true);
    let mut msgs: Vec<(u64, &str, &str, &Message)> = qs
        .iter()
        .enumerate()
        .map(|(i, q)| (i as u64, CLIENT, RESOLVER, q))
        .collect();
    msgs.push((9_900, CLIENT, "10.0.0.54:53", &a));
    msgs.push((10_200, CLIENT, "10.0.0.54:53", &b));
    let docs = replay_alerts(&mut lab, pcap(&msgs)).await.0;
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["rule"]["name"], "resolver_failure");
}

#[tokio::test]
async fn offline_asks_nothing_and_still_raises_what_needs_no_verdict() {
    // The flipped signature that online is one bogus_signature (above):
    // offline it is left unvalidated, counted, and no lookup is made.
    let mut lab = Lab::offline(policy());
    let (q, a) = transaction(&lab, flip_rrsig_byte).await;
    let asked = lab.net.queries.load(Ordering::Relaxed);
    let file = pcap(&[(0, CLIENT, RESOLVER, &q), (5, RESOLVER, CLIENT, &a)]);
    let (docs, summary) = replay_alerts(&mut lab, file).await;
    assert!(docs.is_empty(), "{docs:#?}");
    assert_eq!(summary.unvalidated, 1);
    assert_eq!(lab.det.counters().evaluated.load(Ordering::Relaxed), 0);
    assert_eq!(
        lab.net.queries.load(Ordering::Relaxed),
        asked,
        "a lookup was made"
    );
    assert!(format_summary(&summary).contains("1 answers not validated"));
    // An answer with no query before it is still unsolicited_response.
    let mut lab = Lab::offline(policy());
    let (_, a) = transaction(&lab, |_| {}).await;
    let (docs, summary) = replay_alerts(&mut lab, pcap(&[(5, RESOLVER, CLIENT, &a)])).await;
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["rule"]["name"], "unsolicited_response");
    assert_eq!(
        summary.unvalidated, 0,
        "an unsolicited answer is never validated"
    );
}

#[tokio::test]
async fn alerts_keep_capture_order_while_verdicts_overlap() {
    // The broken answer's verdict is not cached: it is fetched on its own
    // task while the next message, an answer nobody asked for, is observed
    // (its alert is ready at once). The output still follows the capture.
    let mut lab = Lab::new(policy());
    let (q, a) = transaction(&lab, flip_rrsig_byte).await;
    let (_, stray) = transaction(&lab, |_| {}).await;
    let elsewhere = "10.0.0.3:40001";
    let file = pcap(&[
        (0, CLIENT, RESOLVER, &q),
        (5, RESOLVER, CLIENT, &a),
        (9, RESOLVER, elsewhere, &stray),
    ]);
    let (docs, summary) = replay_alerts(&mut lab, file).await;
    let rules: Vec<&str> = docs
        .iter()
        .filter_map(|d| d["rule"]["name"].as_str())
        .collect();
    assert_eq!(
        rules,
        ["bogus_signature", "unsolicited_response"],
        "{docs:#?}"
    );
    assert_eq!(summary.alerts_total(), 2);
}

/// `--events`: a query that times out unanswered within the capture gets
/// its transaction line (`dnssec_monitor.unanswered`) when capture time
/// passes its deadline, before the lines of what came after.
#[tokio::test]
async fn an_unanswered_query_gets_its_transaction_line_in_capture_order() {
    let lines = ReplayLines::default();
    let mut lab = Lab::with_transactions(policy(), lines.log());
    let (q1, a1) = transaction(&lab, |_| {}).await;
    let lost = query_msg(0x5151, "lost.example.", RecordType::A, true, true);
    let file = pcap(&[
        (0, CLIENT, RESOLVER, &lost),
        (20_000, CLIENT, RESOLVER, &q1),
        (20_005, RESOLVER, CLIENT, &a1),
    ]);
    let (docs, _) = replay_events(&mut lab, lines, file).await;
    let shape: Vec<(String, u64, bool)> = docs
        .iter()
        .map(|d| {
            (
                d.pointer("/rule/name")
                    .or(d.pointer("/dns/type"))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                d["dns"]["id"].as_u64().unwrap_or(0),
                d["dnssec_monitor"]["unanswered"] == true,
            )
        })
        .collect();
    let want = [
        ("query", 0x5151, false),
        ("query", 0x5151, true),
        ("query", 0x4242, false),
        ("answer", 0x4242, false),
    ]
    .map(|(k, id, u)| (k.to_string(), id, u));
    assert_eq!(shape, want, "{docs:#?}");
    let l = &docs[1];
    assert_eq!(l["event"]["dataset"], "dnssec_monitor.transaction");
    assert_eq!(l["event"]["outcome"], "failure");
    assert_eq!(l["dns"]["question"]["name"], "lost.example");
    assert_eq!(
        l["dnssec_monitor"]["query"]["@timestamp"],
        docs[0]["@timestamp"]
    );
}
