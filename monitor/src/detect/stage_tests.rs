use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use tokio::sync::mpsc;

use super::*;
use crate::detect::alert::Rule;
use crate::detect::batches::batch_channel;
use crate::detect::detector::{Detector, DetectorConfig};
use crate::detect::lab::{a_rec, engine_over, forged, policy};
use crate::detect::testkit::{CLIENT, RESOLVER, event, query_msg};
use crate::dnssec::testnet::standard_hierarchy;

fn detector() -> Detector {
    let (net, anchor) = standard_hierarchy(Vec::new());
    Detector::new(
        engine_over(Arc::new(net), anchor, &[]),
        policy(),
        DetectorConfig::default(),
    )
}

#[tokio::test]
async fn events_in_alerts_out_with_counters() {
    let (ev_tx, ev_rx) = batch_channel(16);
    let (al_tx, mut al_rx) = mpsc::channel(16);
    let dropped = Arc::new(AtomicU64::new(0));
    let d2 = dropped.clone();
    let (h, task) = spawn_detect_stage(
        detector(),
        ev_rx,
        al_tx,
        StageOptions {
            loss_interval: Duration::from_millis(20),
            loss_source: Some(Box::new(move || {
                vec![("ring_channel_full".into(), d2.load(Ordering::Relaxed))]
            })),
            ..StageOptions::default()
        },
    );
    // A benign and a forged transaction.
    for (id, ip) in [(1u16, [192, 0, 2, 1]), (2, [6, 6, 6, 6])] {
        let q = query_msg(id, "www.secure.test.", RecordType::A, true, false);
        ev_tx
            .send(vec![event(q.clone(), CLIENT, RESOLVER, u64::from(id) * 10)])
            .await
            .unwrap();
        let ans = forged(
            &q,
            ResponseCode::NoError,
            vec![a_rec("www.secure.test.", ip)],
        );
        ev_tx
            .send(vec![event(ans, CLIENT, RESOLVER, u64::from(id) * 10 + 1)])
            .await
            .unwrap();
    }
    let a = tokio::time::timeout(Duration::from_secs(10), al_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.rule, Rule::AnswerMismatch);
    // Loss upstream: one capture_loss alert.
    dropped.store(7, Ordering::Relaxed);
    let a = tokio::time::timeout(Duration::from_secs(10), al_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.rule, Rule::CaptureLoss);
    assert!(a.detail.contains("ring_channel_full +7"), "{}", a.detail);
    drop(ev_tx);
    task.await.unwrap();
    assert!(al_rx.recv().await.is_none(), "nothing more");
    assert_eq!(h.stage.received.load(Ordering::Relaxed), 4);
    assert_eq!(h.stage.emitted.load(Ordering::Relaxed), 2);
    assert_eq!(h.detect.alerts_of(Rule::AnswerMismatch), 1);
    assert_eq!(h.detect.alerts_of(Rule::CaptureLoss), 1);
}

#[tokio::test]
async fn pending_bound_is_counted_as_capture_loss() {
    let (ev_tx, ev_rx) = batch_channel(16);
    let (al_tx, mut al_rx) = mpsc::channel(16);
    let (h, task) = spawn_detect_stage(
        detector(),
        ev_rx,
        al_tx,
        StageOptions {
            max_pending: 0,
            loss_interval: Duration::from_secs(3600),
            loss_source: None,
            health_interval: Duration::from_secs(3600),
            ..StageOptions::default()
        },
    );
    let q = query_msg(1, "www.secure.test.", RecordType::A, true, false);
    ev_tx
        .send(vec![event(q.clone(), CLIENT, RESOLVER, 0)])
        .await
        .unwrap();
    let ans = forged(
        &q,
        ResponseCode::NoError,
        vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
    );
    ev_tx
        .send(vec![event(ans, CLIENT, RESOLVER, 1)])
        .await
        .unwrap();
    drop(ev_tx);
    task.await.unwrap();
    let mut rules = Vec::new();
    while let Some(a) = al_rx.recv().await {
        rules.push(a.rule);
    }
    // The forged answer was not checked (no room), and that was reported.
    assert_eq!(rules, vec![Rule::CaptureLoss]);
    assert_eq!(h.stage.pending_full.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_cached_verdict_is_judged_inline_without_a_pending_slot() {
    let (ev_tx, ev_rx) = batch_channel(16);
    let (al_tx, mut al_rx) = mpsc::channel(16);
    let det = detector();
    let verdicts = det.verdicts().clone();
    let (h, task) = spawn_detect_stage(
        det,
        ev_rx,
        al_tx,
        StageOptions {
            max_pending: 0,
            loss_interval: Duration::from_secs(3600),
            health_interval: Duration::from_secs(3600),
            ..StageOptions::default()
        },
    );
    let txn = |id: u16| {
        let q = query_msg(id, "www.broken.test.", RecordType::A, true, false);
        let a = forged(
            &q,
            ResponseCode::NoError,
            vec![a_rec("www.broken.test.", [192, 0, 2, 4])],
        );
        let ms = u64::from(id) * 10;
        [
            event(q, CLIENT, RESOLVER, ms),
            event(a, CLIENT, RESOLVER, ms + 1),
        ]
    };
    // The first answer's verdict is not there yet and there is no room to
    // wait for it: dropped from checking (counted).
    for ev in txn(1) {
        ev_tx.send(vec![ev]).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while verdicts.cached() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    // The verdict is cached now: the next answer needs no slot.
    for ev in txn(2) {
        ev_tx.send(vec![ev]).await.unwrap();
    }
    drop(ev_tx);
    task.await.unwrap();
    let mut rules = Vec::new();
    while let Some(a) = al_rx.recv().await {
        rules.push(a.rule);
    }
    rules.sort_by_key(|r| r.index());
    let mut want = vec![Rule::BogusSignature, Rule::CaptureLoss];
    want.sort_by_key(|r| r.index());
    assert_eq!(rules, want, "the second answer judged, the first reported");
    assert_eq!(h.stage.pending_full.load(Ordering::Relaxed), 1);
    assert_eq!(h.detect.alerts_of(Rule::BogusSignature), 1);
}

#[tokio::test]
async fn the_stage_hands_over_sampled_answers_once_judged() {
    let (net, anchor) = standard_hierarchy(Vec::new());
    let stats = Arc::new(crate::detect::sample::SampleStats::default());
    let (s_tx, mut s_rx) = mpsc::unbounded_channel();
    let det = Detector::new(
        engine_over(Arc::new(net), anchor, &[]),
        policy(),
        DetectorConfig {
            sample: Some(crate::detect::sample::SampleConfig {
                per_second: 100,
                stats: stats.clone(),
                sink: Arc::new(move |s| s_tx.send(s).is_ok()),
            }),
            ..DetectorConfig::default()
        },
    );
    let (ev_tx, ev_rx) = batch_channel(16);
    let (al_tx, mut al_rx) = mpsc::channel(16);
    let (_h, task) = spawn_detect_stage(det, ev_rx, al_tx, StageOptions::default());
    // A benign and a forged transaction, as in the first test.
    for (id, ip) in [(1u16, [192, 0, 2, 1]), (2, [6, 6, 6, 6])] {
        let q = query_msg(id, "www.secure.test.", RecordType::A, true, false);
        let ans = forged(
            &q,
            ResponseCode::NoError,
            vec![a_rec("www.secure.test.", ip)],
        );
        let ms = u64::from(id) * 10;
        ev_tx
            .send(vec![
                event(q, CLIENT, RESOLVER, ms),
                event(ans, CLIENT, RESOLVER, ms + 1),
            ])
            .await
            .unwrap();
    }
    drop(ev_tx);
    task.await.unwrap();
    let mut alerts = Vec::new();
    while let Some(a) = al_rx.recv().await {
        alerts.push(a.rule);
    }
    assert_eq!(alerts, [Rule::AnswerMismatch]);
    let mut ids = Vec::new();
    while let Ok(s) = s_rx.try_recv() {
        assert!(s.query.is_some() && s.lookup.is_some(), "{s:?}");
        ids.push(s.ev.txid);
    }
    ids.sort_unstable();
    assert_eq!(ids, [1, 2], "both answers, the alerting one too");
    assert_eq!(stats.sampled.load(Ordering::Relaxed), 2);
}
