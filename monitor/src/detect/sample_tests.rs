use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use super::sample::*;
use crate::detect::lab::{Lab, Reply, a_rec, policy};
use crate::detect::testkit::{CLIENT, RESOLVER, answer_msg, event, process, query_msg};
use crate::event::ProcessInfo;

const SECURE: u8 = 3;

#[test]
fn the_bucket_keeps_to_its_rate() {
    let stats = Arc::new(SampleStats::default());
    let mut s = TxSampler::new(10, stats.clone());
    let t0 = Instant::now();
    let taken = (0..100).filter(|_| s.take(t0)).count();
    assert_eq!(taken, 10, "a burst of one second's worth");
    let later = (0..100)
        .filter(|_| s.take(t0 + Duration::from_millis(500)))
        .count();
    assert_eq!(later, 5, "refilled at 10/s");
    assert_eq!(stats.offered.load(Ordering::Relaxed), 200);
    assert_eq!(stats.over_rate.load(Ordering::Relaxed), 185);
    assert!(s.take(t0 + Duration::from_secs(10)));
}

#[test]
fn a_zero_rate_takes_nothing() {
    let mut s = TxSampler::new(0, Arc::default());
    let t0 = Instant::now();
    assert_eq!(
        (0..50)
            .filter(|i| s.take(t0 + Duration::from_secs(*i)))
            .count(),
        0
    );
}

/// A query for www.secure.test./A (RD, no DO) and its plain answer.
fn www_exchange(id: u16) -> (Message, Message) {
    let q = query_msg(id, "www.secure.test.", RecordType::A, true, false);
    let a = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![a_rec("www.secure.test.", [192, 0, 2, 1])],
    );
    (q, a)
}

#[tokio::test]
async fn a_joined_answer_is_handed_over_with_its_query_process_and_verdict() {
    let (mut lab, samples) = Lab::sampling(policy(), 100);
    // DO=1: the RRSIGs are verified, so the verdict is awaited.
    let alerts = lab
        .via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            true,
            Reply::default(),
        )
        .await;
    assert!(alerts.is_empty(), "{alerts:?}");
    // DO=0: the verdict is cached and nothing needs the engine, so the
    // answer is judged at once (`Pending::try_now`).
    assert!(lab.det.verdicts().cached() > 0);
    let alerts = lab
        .via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    assert!(alerts.is_empty(), "{alerts:?}");
    let taken = samples.take();
    assert_eq!(taken.len(), 2);
    for s in &taken {
        assert!(s.ev.process.is_none(), "the answer itself is unattributed");
        let q = s.query.as_ref().expect("joined");
        assert_eq!(q.id, s.ev.txid);
        assert!(q.sent < s.ev.timestamp);
        assert_eq!(q.process.as_ref().map(|p| p.pid), Some(process().pid));
        let l = s.lookup.as_ref().expect("a verdict");
        assert!(l.verdict.is_secure(), "{:?}", l.verdict);
        assert_eq!(l.qname.to_ascii(), "www.secure.test.");
    }
    // The second is the verdict service's cached one.
    assert!(Arc::ptr_eq(
        taken[0].lookup.as_ref().unwrap(),
        taken[1].lookup.as_ref().unwrap()
    ));
    assert_eq!(samples.counts(), [2, 2, 0, 0]);
}

#[tokio::test]
async fn an_answer_without_a_verdict_to_wait_for_is_handed_over_at_once() {
    // An allow-listed name is not checked, but it is the host's answer.
    let mut p = policy();
    p.allow
        .push(hickory_proto::rr::Name::from_ascii("www.secure.test.").unwrap());
    let (mut lab, samples) = Lab::sampling(p, 100);
    lab.via_resolver(
        SECURE,
        "www.secure.test.",
        RecordType::A,
        true,
        Reply::default(),
    )
    .await;
    let taken = samples.take();
    assert_eq!(taken.len(), 1);
    assert!(taken[0].query.is_some());
    assert!(taken[0].lookup.is_none(), "no verdict was asked for");
    assert_eq!(lab.det.counters().allow_skipped.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn an_unsolicited_answer_is_sampled_without_a_query() {
    let (mut lab, samples) = Lab::sampling(policy(), 100);
    let (_, a) = www_exchange(77);
    lab.det.on_event(event(a, CLIENT, RESOLVER, 5)).await;
    let taken = samples.take();
    assert_eq!(taken.len(), 1);
    assert!(taken[0].query.is_none());
    assert!(taken[0].ev.process.is_none());
    assert!(taken[0].lookup.is_none());
    assert_eq!(samples.counts(), [1, 1, 0, 0]);
}

#[tokio::test]
async fn answers_over_the_rate_are_counted_not_handed_over() {
    // A rate of zero: every answer is over it (the bucket's arithmetic is
    // tested with an explicit clock above).
    let (mut lab, samples) = Lab::sampling(policy(), 0);
    for _ in 0..3 {
        lab.via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    }
    assert!(samples.take().is_empty());
    assert_eq!(samples.counts(), [3, 0, 3, 0]);
}

#[tokio::test]
async fn the_daemons_own_lookups_are_not_offered() {
    // As `DetectPolicy::from_config` makes it for the daemon.
    let mut p = policy();
    p.own_pids = vec![std::process::id()];
    let (mut lab, samples) = Lab::sampling(p, 100);
    let own = || {
        Some(Arc::new(ProcessInfo {
            pid: std::process::id(),
            ..process()
        }))
    };
    // Its query attributed, its answer not (the usual case): known as
    // its own through the join.
    let q = query_msg(5, "www.secure.test.", RecordType::A, false, true);
    let mut qe = event(q.clone(), CLIENT, RESOLVER, 0);
    qe.process = own();
    let a = answer_msg(&q, ResponseCode::NoError, Vec::new());
    lab.det.on_event(qe).await;
    lab.det
        .on_event(event(a.clone(), CLIENT, RESOLVER, 1))
        .await;
    // An answer attributed to the daemon itself.
    let mut ae = event(a, CLIENT, RESOLVER, 2);
    ae.process = own();
    lab.det.on_event(ae).await;
    assert!(samples.take().is_empty());
    assert_eq!(samples.counts(), [0, 0, 0, 0]);
    // The host's answer is.
    lab.via_resolver(
        SECURE,
        "www.secure.test.",
        RecordType::A,
        false,
        Reply::default(),
    )
    .await;
    assert_eq!(samples.take().len(), 1);
}

#[tokio::test]
async fn an_evaluation_dropped_before_its_verdict_still_hands_its_sample_over() {
    // As when the stage has no room to wait (or the daemon stops): the
    // answer is stored without a verdict, and the counters add up.
    let (mut lab, samples) = Lab::sampling(policy(), 100);
    let (q, a) = www_exchange(9);
    assert!(
        lab.det
            .observe(event(q, CLIENT, RESOLVER, 0))
            .pending
            .is_none()
    );
    let pending = lab.det.observe(event(a, CLIENT, RESOLVER, 1)).pending;
    assert!(pending.is_some(), "a verdict to wait for");
    assert!(samples.take().is_empty(), "not before the detector is done");
    drop(pending);
    let taken = samples.take();
    assert_eq!(taken.len(), 1);
    assert!(taken[0].query.is_some());
    assert!(taken[0].lookup.is_none());
    assert_eq!(samples.counts(), [1, 1, 0, 0]);
}
