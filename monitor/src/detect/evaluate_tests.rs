//! [`Pending::try_now`]: judged at once only when the verdict is at hand
//! and no rule needs the engine; otherwise handed back untouched for
//! [`Pending::evaluate`], which then finds what it always found.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use super::alert::Rule;
use super::detector::Pending;
use super::lab::{Lab, Reply, a_rec, forged, policy, rules};
use super::testkit::{CLIENT, RESOLVER, event, query_msg};

const SECURE: u8 = 3;
const UNSIGNED: u8 = 5;
const BROKEN: u8 = 6;

/// Observes `qname`/A and the answer `answer` builds, returning what
/// waits for the verdict.
fn observe(
    lab: &mut Lab,
    id: u16,
    qname: &str,
    dnssec_ok: bool,
    answer: impl FnOnce(&Message) -> Message,
) -> Pending {
    let q = query_msg(id, qname, RecordType::A, true, dnssec_ok);
    let ms = lab.now_ms(10);
    assert!(
        lab.det
            .observe(event(q.clone(), CLIENT, RESOLVER, ms))
            .alerts
            .is_empty()
    );
    let ms = lab.now_ms(5);
    let o = lab.det.observe(event(answer(&q), CLIENT, RESOLVER, ms));
    assert!(o.alerts.is_empty(), "{:?}", o.alerts);
    o.pending.expect("an accepted answer waits for its verdict")
}

/// The answer of test server `n` as a resolver passes it on.
async fn relayed(lab: &Lab, n: u8, qname: &str) -> impl FnOnce(&Message) -> Message + use<> {
    let auth = lab.auth(n, qname, RecordType::A).await;
    move |q: &Message| Lab::resolver_answer(q, &auth, Reply::default())
}

/// Warms the verdict of `qname`/A (and clears the posture it left).
async fn warm(lab: &mut Lab, n: u8, qname: &str) {
    lab.via_resolver(n, qname, RecordType::A, false, Reply::default())
        .await;
    lab.det.take_posture(super::testkit::at(0));
}

#[tokio::test]
async fn a_cached_benign_answer_is_judged_at_once_and_recorded() {
    let mut lab = Lab::new(policy());
    warm(&mut lab, UNSIGNED, "www.unsigned.test.").await;
    for id in 10..13 {
        let f = relayed(&lab, UNSIGNED, "www.unsigned.test.").await;
        let p = observe(&mut lab, id, "www.unsigned.test.", false, f);
        let alerts = p.try_now().ok().expect("the cached verdict is at hand");
        assert!(alerts.is_empty(), "{alerts:?}");
    }
    let p = lab.det.take_posture(super::testkit::at(10_000));
    assert_eq!(p.names.len(), 1, "{:?}", p.names);
    assert_eq!(
        (p.names[0].outcome.as_str(), p.names[0].answers),
        ("insecure", 3)
    );
}

#[tokio::test]
async fn a_cached_bogus_verdict_alerts_at_once() {
    let mut lab = Lab::new(policy());
    let f = relayed(&lab, BROKEN, "www.broken.test.").await;
    // The first answer's verdict is still being looked up: handed back.
    let p = observe(&mut lab, 10, "www.broken.test.", false, f);
    let p = p.try_now().expect_err("the verdict is not here yet");
    assert_eq!(rules(&p.evaluate().await), [Rule::BogusSignature]);
    // Cached now, and no RRSIG in the answer (DO=0) to verify.
    let f = relayed(&lab, BROKEN, "www.broken.test.").await;
    let p = observe(&mut lab, 11, "www.broken.test.", false, f);
    let alerts = p.try_now().ok().expect("judged at once");
    assert_eq!(rules(&alerts), [Rule::BogusSignature], "{alerts:?}");
}

#[tokio::test]
async fn captured_rrsigs_are_verified_on_the_engine_path() {
    let mut lab = Lab::new(policy());
    warm(&mut lab, SECURE, "www.secure.test.").await;
    let f = relayed(&lab, SECURE, "www.secure.test.").await;
    let p = observe(&mut lab, 10, "www.secure.test.", true, f);
    let p = p
        .try_now()
        .expect_err("RRSIGs to check against the zone's keys");
    assert!(p.evaluate().await.is_empty());
    // Benign twin without RRSIGs (DO=0): no engine needed.
    let f = relayed(&lab, SECURE, "www.secure.test.").await;
    let p = observe(&mut lab, 11, "www.secure.test.", false, f);
    assert!(p.try_now().ok().expect("judged at once").is_empty());
}

#[tokio::test]
async fn a_disagreeing_answer_is_handed_back_untouched() {
    let mut lab = Lab::new(policy());
    warm(&mut lab, SECURE, "www.secure.test.").await;
    let p = observe(&mut lab, 10, "www.secure.test.", false, |q| {
        forged(
            q,
            ResponseCode::NoError,
            vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
        )
    });
    let p = p.try_now().expect_err("a mismatch is confirmed first");
    // Nothing recorded yet: the evaluation does it once.
    let before = lab.det.take_posture(super::testkit::at(1_000));
    assert!(before.names.is_empty(), "{:?}", before.names);
    assert_eq!(rules(&p.evaluate().await), [Rule::AnswerMismatch]);
    let after = lab.det.take_posture(super::testkit::at(2_000));
    assert_eq!(after.names.len(), 1);
    assert_eq!(after.names[0].answers, 1);
}
