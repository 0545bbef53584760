use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use tokio::sync::mpsc;

use super::*;
use crate::detect::alert::Rule;
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
    let (ev_tx, ev_rx) = mpsc::channel(16);
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
            .send(event(q.clone(), CLIENT, RESOLVER, u64::from(id) * 10))
            .await
            .unwrap();
        let ans = forged(
            &q,
            ResponseCode::NoError,
            vec![a_rec("www.secure.test.", ip)],
        );
        ev_tx
            .send(event(ans, CLIENT, RESOLVER, u64::from(id) * 10 + 1))
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
    let (ev_tx, ev_rx) = mpsc::channel(16);
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
        .send(event(q.clone(), CLIENT, RESOLVER, 0))
        .await
        .unwrap();
    let ans = forged(
        &q,
        ResponseCode::NoError,
        vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
    );
    ev_tx.send(event(ans, CLIENT, RESOLVER, 1)).await.unwrap();
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
