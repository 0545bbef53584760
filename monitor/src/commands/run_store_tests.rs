use std::sync::atomic::Ordering;
use std::time::Duration;

use hickory_proto::op::{MessageType, ResponseCode};
use hickory_proto::rr::RecordType;

use super::*;
use crate::correlate::outstanding::QueryInfo;
use crate::detect::alert::{Finding, Severity};
use crate::detect::lab::{Lab, Reply, policy};
use crate::detect::sample::SampleOut;
use crate::detect::testkit::{CLIENT, RESOLVER, answer_msg, event, process, query_msg};
use crate::store::{BatchWriter, SearchQuery, Store};

fn pair() -> (DnsEvent, DnsEvent) {
    let q = query_msg(7, "www.example.", RecordType::A, true, true);
    let a = answer_msg(&q, ResponseCode::NXDomain, Vec::new());
    (event(q, CLIENT, RESOLVER, 0), event(a, CLIENT, RESOLVER, 5))
}

#[test]
fn an_answer_with_its_query_keeps_both_messages_and_the_process() {
    let (q, a) = pair();
    let info = QueryInfo::of(&q);
    let t = transaction_of(&a, Some(&info));
    assert_eq!(t.qname, "www.example.");
    assert_eq!((t.qtype, t.rcode), (1, Some(3)));
    assert_eq!(t.query.as_deref(), Some(&q.raw.to_vec()[..]));
    assert_eq!(t.answer.as_deref(), Some(&a.raw.to_vec()[..]));
    assert_eq!(t.query_time, Some(q.timestamp));
    // The answer was not attributed; the query's process is the asker.
    assert_eq!(t.process.as_deref(), Some(process().name.as_str()));
    assert_eq!(
        (t.src.as_deref(), t.dst.as_deref()),
        (Some(CLIENT), Some(RESOLVER))
    );
    assert_eq!(t.transport.as_deref(), Some("udp"));
    // Without the query: no query bytes, no process.
    let alone = transaction_of(&a, None);
    assert_eq!((alone.query, alone.pid), (None, None));
}

#[test]
fn an_alert_record_links_transaction_and_alert_row() {
    let (q, a) = pair();
    let info = QueryInfo::of(&q);
    let f = Finding::new(Rule::AnswerMismatch, Severity::High, "why");
    let alert = Alert::from_finding(f, &a, Some(&info), None);
    let r = alert_record(&alert, Vec::new(), SystemTime::now());
    assert_eq!(r.alerts.len(), 1);
    assert_eq!(r.alerts[0].rule, "answer_mismatch");
    assert_eq!(r.alerts[0].severity, 73);
    let json: serde_json::Value = serde_json::from_str(&r.alerts[0].json).unwrap();
    assert_eq!(json["rule"]["name"], "answer_mismatch");
    assert!(r.transaction.unwrap().query.is_some());
    assert!(r.verdict.is_none(), "no lookup: no verdict row");
}

/// The samples the detector took of a benign secure transaction (DO=1:
/// its verdict awaited) and of an unsolicited answer.
async fn samples() -> (Sampled, Sampled) {
    let (mut lab, samples) = Lab::sampling(policy(), 100);
    let alerts = lab
        .via_resolver(3, "www.secure.test.", RecordType::A, true, Reply::default())
        .await;
    assert!(alerts.is_empty(), "{alerts:?}");
    let q = query_msg(77, "www.secure.test.", RecordType::A, true, false);
    let a = answer_msg(&q, ResponseCode::NoError, Vec::new());
    lab.det.on_event(event(a, CLIENT, RESOLVER, 500)).await;
    let mut taken = samples.take().into_iter();
    let (joined, unsolicited) = (taken.next().unwrap(), taken.next().unwrap());
    assert!(taken.next().is_none());
    (joined, unsolicited)
}

#[tokio::test]
async fn a_sampled_joined_answer_is_stored_with_query_process_and_verdict() {
    let (s, _) = samples().await;
    let r = sample_record(&s);
    assert!(r.alerts.is_empty());
    let t = r.transaction.unwrap();
    let query = hickory_proto::op::Message::from_vec(t.query.as_deref().expect("query bytes"))
        .expect("the query as captured");
    assert_eq!(query.metadata.id, s.ev.txid);
    assert_eq!(query.metadata.message_type, MessageType::Query);
    assert_eq!(t.answer.as_deref(), Some(&s.ev.raw.to_vec()[..]));
    let sent = t.query_time.expect("query time");
    assert!(sent < t.time.unwrap());
    assert_eq!(t.pid, Some(process().pid));
    assert_eq!(t.process.as_deref(), Some(process().name.as_str()));
    assert_eq!(t.uid, Some(process().uid));
    assert_eq!(t.qname, "www.secure.test.");
    let v = r.verdict.expect("the detector's verdict");
    assert_eq!(v.outcome, "secure");
    assert_eq!((v.qname.as_str(), v.qtype), ("www.secure.test.", 1));
    assert_eq!(v.time, Some(s.judged_at));
    assert!(v.chain_json.is_some());
    assert!(
        v.evidence.is_empty(),
        "chain records are collected for alerts"
    );
}

#[tokio::test]
async fn an_unsolicited_sample_is_stored_without_query_process_or_verdict() {
    let (_, s) = samples().await;
    let r = sample_record(&s);
    let t = r.transaction.expect("stored all the same");
    assert_eq!(
        (t.query, t.query_time, t.pid, t.process),
        (None, None, None, None)
    );
    assert!(t.answer.is_some());
    assert!(r.verdict.is_none());
}

#[tokio::test]
async fn a_stored_sample_is_found_by_process_with_its_verdict() {
    let (joined, unsolicited) = samples().await;
    let dir = tempfile::tempdir().unwrap();
    let mut w = BatchWriter::new(
        Store::open(&dir.path().join("s.db")).unwrap(),
        100,
        Duration::from_secs(60),
    );
    w.push(sample_record(&joined)).unwrap();
    w.push(sample_record(&unsolicited)).unwrap();
    let store = w.finish().unwrap();
    assert_eq!(store.counts().unwrap(), (2, 1, 0, 0));
    let by = |process: &str| {
        store
            .search_transactions(&SearchQuery {
                process: Some(process.into()),
                ..SearchQuery::default()
            })
            .unwrap()
    };
    let hits = by("curl");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].qname, "www.secure.test");
    assert_eq!(hits[0].pid, Some(process().pid));
    assert_eq!(hits[0].outcome.as_deref(), Some("secure"));
    assert_eq!(hits[0].alerts, 0);
    assert_eq!(by(&process().pid.to_string()).len(), 1);
    assert!(by("python3").is_empty());
    // By name: both, the unsolicited one without process or verdict.
    let all = store
        .search_transactions(&SearchQuery {
            name: Some("secure.test".into()),
            ..SearchQuery::default()
        })
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0].process.as_deref(), all[0].outcome.as_deref()),
        (None, None)
    );
}

#[tokio::test]
async fn a_full_channel_is_a_counted_drop() {
    let (s, _) = samples().await;
    let stats = Arc::new(SampleStats::default());
    let (tx, mut rx) = mpsc::channel(2);
    let cfg = SamplePlan {
        per_second: 1000,
        stats: stats.clone(),
    }
    .config(&tx);
    let out = SampleOut::of(&cfg);
    for _ in 0..5 {
        out.hand_over(Sampled {
            ev: s.ev.clone(),
            query: s.query.clone(),
            lookup: s.lookup.clone(),
            judged_at: s.judged_at,
        });
    }
    assert_eq!(stats.sampled.load(Ordering::Relaxed), 2);
    assert_eq!(stats.channel_full.load(Ordering::Relaxed), 3);
    assert!(matches!(rx.recv().await, Some(Output::Transaction(_))));
}
