//! The correlation rules (`unsolicited_response`, `response_race`),
//! `capture_loss` and whose traffic counts, through the detector.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::alert::Rule;
use super::lab::{Lab, Reply, a_rec, forged, policy, rules};
use super::testkit::{CLIENT, RESOLVER, answer_msg, event, process, query_msg};

const SECURE: u8 = 3;

// ---- unsolicited_response / response_race ------------------------------------

#[tokio::test]
async fn answer_without_query_is_unsolicited_response() {
    let mut lab = Lab::new(policy());
    let q = query_msg(77, "www.secure.test.", RecordType::A, true, false);
    let ans = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
    );
    let al = lab.det.on_event(event(ans, CLIENT, RESOLVER, 5)).await;
    assert_eq!(rules(&al), vec![Rule::UnsolicitedResponse], "{al:?}");
    assert!(
        al[0].detail.contains("matches no outstanding query"),
        "{}",
        al[0].detail
    );
}

#[tokio::test]
async fn different_answers_to_one_query_are_a_race() {
    let mut lab = Lab::new(policy());
    let auth = lab.auth(SECURE, "www.secure.test.", RecordType::A).await;
    let q = query_msg(88, "www.secure.test.", RecordType::A, true, false);
    let t = lab.now_ms(10);
    assert!(
        lab.det
            .on_event(event(q.clone(), CLIENT, RESOLVER, t))
            .await
            .is_empty()
    );
    let good = Lab::resolver_answer(&q, &auth, Reply::default());
    let al = lab
        .det
        .on_event(event(good.clone(), CLIENT, RESOLVER, t + 3))
        .await;
    assert!(al.is_empty(), "{al:?}");
    // Twin: the same answer again (retransmission).
    assert!(
        lab.det
            .on_event(event(good, CLIENT, RESOLVER, t + 4))
            .await
            .is_empty()
    );
    let bad = forged(
        &q,
        ResponseCode::NoError,
        vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
    );
    let al = lab.det.on_event(event(bad, CLIENT, RESOLVER, t + 6)).await;
    assert_eq!(rules(&al), vec![Rule::ResponseRace], "{al:?}");
    assert!(
        al[0]
            .detail
            .contains("first NOERROR 192.0.2.1, now NOERROR 6.6.6.6"),
        "{}",
        al[0].detail
    );
    assert_eq!(
        al[0].event.as_ref().unwrap().process.as_ref().unwrap().pid,
        4242
    );
}

#[tokio::test]
async fn wrong_txid_burst_is_a_race() {
    let mut lab = Lab::new(policy());
    let q = query_msg(500, "www.secure.test.", RecordType::A, true, false);
    assert!(
        lab.det
            .on_event(event(q, CLIENT, RESOLVER, 0))
            .await
            .is_empty()
    );
    let mut got = Vec::new();
    for id in 600..606u16 {
        let g = query_msg(id, "www.secure.test.", RecordType::A, true, false);
        let ans = answer_msg(
            &g,
            ResponseCode::NoError,
            vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
        );
        got.extend(
            lab.det
                .on_event(event(ans, CLIENT, RESOLVER, u64::from(id - 599)))
                .await,
        );
    }
    assert_eq!(
        rules(&got),
        vec![Rule::ResponseRace],
        "one burst of guesses is one race and nothing unsolicited: {got:?}"
    );
    assert!(got[0].detail.contains("wrong txids"), "{}", got[0].detail);
}

/// Benign twin: a stub's late answer to its own retransmission (one or two
/// wrong-txid answers while its query is out, below the burst threshold)
/// raises nothing — neither a race nor an unsolicited response.
#[tokio::test]
async fn a_few_wrong_txid_answers_while_a_query_is_out_raise_nothing() {
    let mut lab = Lab::new(policy());
    let q = query_msg(500, "www.secure.test.", RecordType::A, true, false);
    assert!(
        lab.det
            .on_event(event(q, CLIENT, RESOLVER, 0))
            .await
            .is_empty()
    );
    let mut got = Vec::new();
    for id in 600..602u16 {
        let g = query_msg(id, "www.secure.test.", RecordType::A, true, false);
        let ans = answer_msg(&g, ResponseCode::NoError, vec![]);
        got.extend(
            lab.det
                .on_event(event(ans, CLIENT, RESOLVER, u64::from(id - 599)))
                .await,
        );
    }
    assert!(got.is_empty(), "{got:?}");
}

// ---- capture_loss and whose traffic counts ------------------------------------

#[tokio::test]
async fn drop_counters_raise_capture_loss() {
    let mut lab = Lab::new(policy());
    let c = |n: u64| vec![("kernel_ringbuf_full".to_string(), n)];
    assert!(lab.det.check_loss(&c(0)).is_none());
    assert!(lab.det.check_loss(&c(0)).is_none(), "no drop, no alert");
    let a = lab.det.check_loss(&c(12)).expect("drops alert");
    assert_eq!(a.rule, Rule::CaptureLoss);
    assert!(a.detail.contains("kernel_ringbuf_full +12"), "{}", a.detail);
    assert_eq!(lab.det.counters().alerts_of(Rule::CaptureLoss), 1);
}

#[tokio::test]
async fn monitor_own_queries_are_left_out() {
    let mut p = policy();
    p.own_pids = vec![process().pid];
    let mut lab = Lab::new(p);
    let al = lab
        .txn(
            "www.secure.test.",
            RecordType::A,
            true,
            false,
            RESOLVER,
            |q| {
                forged(
                    q,
                    ResponseCode::NoError,
                    vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
                )
            },
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
    assert_eq!(
        lab.det
            .counters()
            .own_skipped
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

// ---- capture loss: unmatched answers are no evidence right after it -----------

fn detector_with_loss(
    total: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> super::detector::Detector {
    use super::detector::{DetectorConfig, LossProbe};
    let (net, anchor) = crate::dnssec::testnet::standard_hierarchy(Vec::new());
    let engine = super::lab::engine_over(std::sync::Arc::new(net), anchor, &[]);
    super::detector::Detector::new(
        engine,
        policy(),
        DetectorConfig {
            outstanding: crate::correlate::outstanding::OutstandingConfig {
                warmup: std::time::Duration::ZERO,
                ..Default::default()
            },
            loss_probe: Some(LossProbe(std::sync::Arc::new(move || {
                total.load(std::sync::atomic::Ordering::Relaxed)
            }))),
            ..DetectorConfig::default()
        },
    )
}

#[tokio::test]
async fn unmatched_answer_right_after_capture_loss_is_suppressed_and_counted() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let lost = std::sync::Arc::new(AtomicU64::new(0));
    let mut det = detector_with_loss(lost.clone());
    let answer = |id: u16| {
        let q = query_msg(id, "www.secure.test.", RecordType::A, true, false);
        answer_msg(
            &q,
            ResponseCode::NoError,
            vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
        )
    };
    // No loss: an answer without a query is unsolicited.
    let al = det.on_event(event(answer(1), CLIENT, RESOLVER, 5)).await;
    assert_eq!(rules(&al), vec![Rule::UnsolicitedResponse], "{al:?}");
    // The kernel ring dropped messages: the query may be among them.
    lost.store(3, Ordering::Relaxed);
    let al = det.on_event(event(answer(2), CLIENT, RESOLVER, 6)).await;
    assert!(al.is_empty(), "{al:?}");
    assert_eq!(det.counters().suppressed_of(Rule::UnsolicitedResponse), 1);
}
