//! `--events` transaction lines: one per answer, once the detector is done
//! with it, carrying its query and the independent verdict.

use std::sync::atomic::Ordering;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use super::lab::{Lab, Reply, a_rec, forged, policy, rules};
use super::testkit::process;
use crate::detect::alert::Rule;

const SECURE: u8 = 3;
const UNSIGNED: u8 = 5;
const BROKEN: u8 = 6;

/// A stub's plain lookup of `qname`/A through the resolver, answered from
/// test server `n`: the alerts of the answer.
async fn ask(
    lab: &mut Lab,
    n: u8,
    qname: &str,
    dnssec_ok: bool,
) -> Vec<crate::detect::alert::Alert> {
    lab.via_resolver(n, qname, RecordType::A, dnssec_ok, Reply::default())
        .await
}

fn str_at<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

#[tokio::test]
async fn each_answer_is_one_line_with_its_query_and_verdict() {
    let (mut lab, lines) = Lab::logging(policy(), true);
    // Awaited (DO=1: RRSIGs to verify), then judged at once (cached).
    for dnssec_ok in [true, false] {
        let a = ask(&mut lab, SECURE, "www.secure.test.", dnssec_ok).await;
        assert!(a.is_empty(), "{a:?}");
    }
    let a = ask(&mut lab, UNSIGNED, "www.unsigned.test.", false).await;
    assert!(a.is_empty(), "{a:?}");
    let a = ask(&mut lab, BROKEN, "www.broken.test.", false).await;
    assert_eq!(rules(&a), [Rule::BogusSignature]);
    let got = std::mem::take(&mut *lines.lock().unwrap());
    // Four answers, four lines: the queries are not the detector's to write.
    let outcomes: Vec<_> = got
        .iter()
        .map(|v| str_at(v, "/dnssec/outcome").unwrap_or("-"))
        .collect();
    assert_eq!(
        outcomes,
        ["secure", "secure", "insecure", "bogus"],
        "{got:#?}"
    );
    for v in &got {
        assert_eq!(str_at(v, "/dns/type"), Some("answer"));
        assert_eq!(
            str_at(v, "/event/dataset"),
            Some("dnssec_monitor.transaction")
        );
        assert_eq!(str_at(v, "/event/kind"), Some("event"));
        // The query: same id, 5 ms earlier (Lab::txn), its process.
        assert_eq!(
            v.pointer("/dnssec_monitor/query/id"),
            v.pointer("/dns/id"),
            "{v:#}"
        );
        assert_eq!(
            v.pointer("/dnssec_monitor/query/latency_ms")
                .and_then(Value::as_f64),
            Some(5.0)
        );
        assert_eq!(
            v.pointer("/process/pid").and_then(Value::as_u64),
            Some(u64::from(process().pid)),
            "the answer's process is its query's"
        );
        assert!(v.pointer("/dnssec_monitor/own_query").is_none());
    }
    assert_eq!(
        got[1].pointer("/dnssec_monitor/query/do"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        got[0].pointer("/dnssec_monitor/query/do"),
        Some(&Value::Bool(true))
    );
    for v in &got[..3] {
        assert!(v.pointer("/dnssec_monitor/alerts").is_none(), "{v:#}");
    }
    let bogus = &got[3];
    assert_eq!(
        bogus.pointer("/dnssec_monitor/alerts"),
        Some(&serde_json::json!(["bogus_signature"]))
    );
    assert!(
        str_at(bogus, "/dnssec/reason").is_some_and(|r| !r.is_empty()),
        "a bogus verdict says why: {bogus:#}"
    );
    let c = lab.det.transaction_stats().expect("a log");
    assert_eq!(c.lines.load(Ordering::Relaxed), 4);
    assert_eq!(c.full.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_forged_answer_line_carries_the_validated_answers() {
    let (mut lab, lines) = Lab::logging(policy(), true);
    ask(&mut lab, SECURE, "www.secure.test.", false).await;
    let a = lab
        .txn(
            "www.secure.test.",
            RecordType::A,
            true,
            false,
            super::testkit::RESOLVER,
            |q| {
                forged(
                    q,
                    ResponseCode::NoError,
                    vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
                )
            },
        )
        .await;
    assert_eq!(rules(&a), [Rule::AnswerMismatch]);
    let got = std::mem::take(&mut *lines.lock().unwrap());
    assert_eq!(got.len(), 2, "{got:#?}");
    let v = &got[1];
    assert_eq!(str_at(v, "/dns/answers/0/data"), Some("6.6.6.6"));
    assert_eq!(
        v.pointer("/dnssec_monitor/alerts"),
        Some(&serde_json::json!(["answer_mismatch"]))
    );
    let validated = v
        .pointer("/dnssec/validated_answers")
        .and_then(Value::as_array)
        .expect("the verdict's answers");
    assert!(
        validated
            .iter()
            .all(|r| str_at(r, "/data") != Some("6.6.6.6")),
        "{validated:?}"
    );
}

#[tokio::test]
async fn unchecked_answers_still_get_their_line() {
    // Allow-listed: not checked, no verdict, but the host's answer.
    let mut p = policy();
    p.allow
        .push(hickory_proto::rr::Name::from_ascii("www.secure.test.").unwrap());
    let (mut lab, lines) = Lab::logging(p, true);
    ask(&mut lab, SECURE, "www.secure.test.", true).await;
    let got = std::mem::take(&mut *lines.lock().unwrap());
    assert_eq!(got.len(), 1);
    assert!(
        got[0].pointer("/dnssec").is_none(),
        "no verdict was asked for"
    );
    assert!(got[0].pointer("/dnssec_monitor/query").is_some());
}

#[tokio::test]
async fn an_answer_dropped_before_its_verdict_gets_one_line_without_one() {
    let (mut lab, lines) = Lab::logging(policy(), true);
    let q = super::testkit::query_msg(7, "www.secure.test.", RecordType::A, true, true);
    let auth = lab.auth(SECURE, "www.secure.test.", RecordType::A).await;
    let ms = lab.now_ms(10);
    let o = lab.det.observe(super::testkit::event(
        q.clone(),
        super::testkit::CLIENT,
        super::testkit::RESOLVER,
        ms,
    ));
    assert!(o.pending.is_none());
    let ms = lab.now_ms(5);
    let ans = Lab::resolver_answer(&q, &auth, Reply::default());
    let o = lab.det.observe(super::testkit::event(
        ans,
        super::testkit::CLIENT,
        super::testkit::RESOLVER,
        ms,
    ));
    assert!(lines.lock().unwrap().is_empty(), "not before it is done");
    // The stage had no room to wait for it (pending_full) or is stopping.
    drop(o.pending.expect("waits for its verdict"));
    let got = std::mem::take(&mut *lines.lock().unwrap());
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].pointer("/dnssec").is_none());
}

#[tokio::test]
async fn a_full_output_counts_the_line_dropped() {
    let (mut lab, lines) = Lab::logging(policy(), false);
    ask(&mut lab, UNSIGNED, "www.unsigned.test.", false).await;
    assert_eq!(lines.lock().unwrap().len(), 1, "offered once");
    let c = lab.det.transaction_stats().expect("a log");
    assert_eq!(c.lines.load(Ordering::Relaxed), 0);
    assert_eq!(c.full.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn the_daemons_own_lookups_are_marked() {
    let mut p = policy();
    p.own_pids = vec![process().pid];
    let (mut lab, lines) = Lab::logging(p, true);
    let a = ask(&mut lab, UNSIGNED, "www.unsigned.test.", false).await;
    assert!(a.is_empty());
    let got = std::mem::take(&mut *lines.lock().unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].pointer("/dnssec_monitor/own_query"),
        Some(&Value::Bool(true))
    );
    assert!(got[0].pointer("/dnssec").is_none(), "never judged");
}

#[tokio::test]
async fn an_unsolicited_answer_is_a_transaction_without_a_query() {
    let (mut lab, lines) = Lab::logging(policy(), true);
    let q = super::testkit::query_msg(9, "www.secure.test.", RecordType::A, true, false);
    let auth = lab.auth(SECURE, "www.secure.test.", RecordType::A).await;
    let ans = Lab::resolver_answer(&q, &auth, Reply::default());
    let ms = lab.now_ms(10);
    let o = lab.det.observe(super::testkit::event(
        ans,
        super::testkit::CLIENT,
        super::testkit::RESOLVER,
        ms,
    ));
    assert_eq!(rules(&o.alerts), [Rule::UnsolicitedResponse]);
    let got = std::mem::take(&mut *lines.lock().unwrap());
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].pointer("/dnssec_monitor/query").is_none());
    assert_eq!(
        got[0].pointer("/dnssec_monitor/alerts"),
        Some(&serde_json::json!(["unsolicited_response"]))
    );
}

#[tokio::test]
async fn a_query_without_an_answer_gets_a_failure_line_when_it_expires() {
    use super::testkit::{CLIENT, RESOLVER, at, event, query_msg};
    let (mut lab, lines) = Lab::logging(policy(), true);
    // One query answered, one never.
    ask(&mut lab, UNSIGNED, "www.unsigned.test.", false).await;
    let answered = std::mem::take(&mut *lines.lock().unwrap());
    assert_eq!(answered.len(), 1);
    let ms = lab.now_ms(10);
    let q = query_msg(11, "lost.unsigned.test.", RecordType::AAAA, true, true);
    lab.det.observe(event(q, CLIENT, RESOLVER, ms));
    // Not before its time is up.
    lab.det.check_health(at(ms + 1_000));
    assert!(lines.lock().unwrap().is_empty(), "not before it expires");
    lab.det.check_health(at(ms + 60_000));
    let got = std::mem::take(&mut *lines.lock().unwrap());
    assert_eq!(got.len(), 1, "only the unanswered query: {got:#?}");
    let l = &got[0];
    assert_eq!(
        str_at(l, "/event/dataset"),
        Some("dnssec_monitor.transaction")
    );
    assert_eq!(str_at(l, "/event/outcome"), Some("failure"));
    assert_eq!(
        l.pointer("/dnssec_monitor/unanswered"),
        Some(&Value::Bool(true))
    );
    assert_eq!(str_at(l, "/dns/type"), Some("query"));
    assert_eq!(str_at(l, "/dns/question/name"), Some("lost.unsigned.test"));
    assert_eq!(str_at(l, "/dns/question/type"), Some("AAAA"));
    assert_eq!(l.pointer("/dns/id"), Some(&serde_json::json!(11)));
    assert_eq!(
        l.pointer("/dnssec_monitor/query/id"),
        Some(&serde_json::json!(11))
    );
    assert_eq!(
        l.pointer("/dnssec_monitor/query/do"),
        Some(&Value::Bool(true))
    );
    assert!(l.pointer("/dnssec_monitor/query/latency_ms").is_none());
    assert!(l.pointer("/dnssec").is_none());
    assert_eq!(str_at(l, "/process/name"), Some(process().name.as_str()));
    assert_eq!(str_at(l, "/source/ip"), Some("10.0.0.2"));
    assert_eq!(l.pointer("/destination/port"), Some(&serde_json::json!(53)));
    // An answered transaction's line says nothing of the kind.
    assert!(answered[0].pointer("/event/outcome").is_none());
    assert!(answered[0].pointer("/dnssec_monitor/unanswered").is_none());
    assert!(
        answered[0]
            .pointer("/dnssec_monitor/query/latency_ms")
            .is_some()
    );
}

#[tokio::test]
async fn the_daemons_own_unanswered_lookups_are_marked() {
    use super::testkit::{CLIENT, RESOLVER, at, event, query_msg};
    let mut p = policy();
    p.own_pids = vec![process().pid];
    let (mut lab, lines) = Lab::logging(p, true);
    let ms = lab.now_ms(10);
    let q = query_msg(12, "lost.unsigned.test.", RecordType::A, true, false);
    lab.det.observe(event(q, CLIENT, RESOLVER, ms));
    lab.det.check_health(at(ms + 60_000));
    let got = std::mem::take(&mut *lines.lock().unwrap());
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(
        got[0].pointer("/dnssec_monitor/own_query"),
        Some(&Value::Bool(true))
    );
}

/// `run --events`: lines gathered, handed over as one item per flush (and
/// when the last clone of the log goes); a full output counts them all.
#[test]
fn gathered_lines_go_as_one_item_per_flush() {
    use super::transactions::{Handled, TransactionLog};
    use std::sync::{Arc, Mutex};
    let items: Arc<Mutex<Vec<(usize, u64)>>> = Arc::default();
    let room = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (i, r) = (items.clone(), room.clone());
    let log = TransactionLog::gathered(Arc::new(move |bytes: Vec<u8>, n| {
        let lines = bytes.iter().filter(|b| **b == b'\n').count();
        i.lock().unwrap().push((lines, n));
        r.load(Ordering::Relaxed)
    }));
    let q = super::testkit::query_msg(3, "www.unsigned.test.", RecordType::A, true, false);
    let a = super::testkit::answer_msg(&q, ResponseCode::NoError, vec![]);
    let ev = super::testkit::event(a, super::testkit::CLIENT, super::testkit::RESOLVER, 5);
    for _ in 0..3 {
        log.log(&ev, None, None, Handled::default());
    }
    assert!(items.lock().unwrap().is_empty(), "gathered, not sent");
    log.flush();
    assert_eq!(*items.lock().unwrap(), [(3, 3)]);
    log.flush();
    assert_eq!(items.lock().unwrap().len(), 1, "nothing new: no item");
    room.store(false, Ordering::Relaxed);
    log.log(&ev, None, None, Handled::default());
    log.log(&ev, None, None, Handled::default());
    log.flush();
    let stats = log.stats().clone();
    assert_eq!(stats.lines.load(Ordering::Relaxed), 3);
    assert_eq!(stats.full.load(Ordering::Relaxed), 2);
    room.store(true, Ordering::Relaxed);
    log.log(&ev, None, None, Handled::default());
    drop(log);
    assert_eq!(
        items.lock().unwrap().last(),
        Some(&(1, 1)),
        "flushed at the end"
    );
    assert_eq!(stats.lines.load(Ordering::Relaxed), 4);
}
