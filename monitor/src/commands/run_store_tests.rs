use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::*;
use crate::correlate::outstanding::QueryInfo;
use crate::detect::alert::{Finding, Severity};
use crate::detect::testkit::{CLIENT, RESOLVER, answer_msg, event, process, query_msg};

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

#[test]
fn the_sampler_keeps_to_its_rate() {
    let (q, a) = pair();
    let stats = Arc::new(SampleStats::default());
    let mut s = TxSampler::new(10, stats.clone());
    let t0 = Instant::now();
    let taken = (0..100).filter(|_| s.take(&a, t0)).count();
    assert_eq!(taken, 10, "a burst of one second's worth");
    let later = (0..100)
        .filter(|_| s.take(&a, t0 + Duration::from_millis(500)))
        .count();
    assert_eq!(later, 5, "refilled at 10/s");
    assert_eq!(stats.over_rate.load(Ordering::Relaxed), 185);
    // Queries are not transactions; the monitor's own lookups are not the host's.
    assert!(!s.take(&q, t0 + Duration::from_secs(10)));
    let mut own = a.clone();
    own.process = Some(
        crate::event::ProcessInfo {
            pid: std::process::id(),
            ..process()
        }
        .into(),
    );
    assert!(!s.take(&own, t0 + Duration::from_secs(10)));
    assert!(s.take(&a, t0 + Duration::from_secs(10)));
}

#[test]
fn a_zero_rate_samples_nothing() {
    let (_, a) = pair();
    let mut s = TxSampler::new(0, Arc::default());
    let t0 = Instant::now();
    assert_eq!(
        (0..50)
            .filter(|i| s.take(&a, t0 + Duration::from_secs(*i)))
            .count(),
        0
    );
}

#[tokio::test]
async fn a_full_channel_is_a_counted_drop() {
    let (_, a) = pair();
    let stats = Arc::new(SampleStats::default());
    let mut s = TxSampler::new(1000, stats.clone());
    let (tx, mut rx) = mpsc::channel(2);
    for _ in 0..5 {
        s.offer(&a, &tx);
    }
    assert_eq!(stats.sampled.load(Ordering::Relaxed), 2);
    assert_eq!(stats.channel_full.load(Ordering::Relaxed), 3);
    assert!(matches!(rx.recv().await, Some(Output::Transaction(_))));
}
