//! `answer_mismatch` against a CDN-style zone whose two servers each serve
//! their own validly signed set (DESIGN.md "Legitimate variation"), and
//! the forged twins that must still fire.

use std::sync::atomic::Ordering::Relaxed;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::alert::{Rule, Severity};
use super::lab::{Lab, Reply, a_rec, cdn_two_servers, forged, policy, rules};
use super::testkit::RESOLVER;

const WWW: &str = "www.cdn.test.";
const SITE2: &str = "198.18.0.11:53";

fn lab() -> Lab {
    let (net, anchor) = cdn_two_servers();
    Lab::over(net, anchor, policy(), &[])
}

#[tokio::test]
async fn signed_set_from_the_other_server_is_authentic() {
    let mut lab = lab();
    // The second server's own set, with its RRSIG (DO=1, RD=0).
    let auth = lab.auth(11, WWW, RecordType::A).await;
    assert!(
        auth.answers
            .iter()
            .any(|r| r.data.to_string() == "192.0.2.20")
    );
    let al = lab
        .txn(WWW, RecordType::A, false, true, SITE2, |q| {
            let mut m = auth.clone();
            m.metadata.id = q.metadata.id;
            m
        })
        .await;
    assert!(al.is_empty(), "{al:?}");
    // Recognised by its signature, without asking the servers again.
    let s = lab.det.verdicts().stats();
    assert_eq!(s.confirming_requeries.load(Relaxed), 0);
}

#[tokio::test]
async fn forged_data_under_a_real_signature_is_mismatch() {
    let mut lab = lab();
    let auth = lab.auth(11, WWW, RecordType::A).await;
    let al = lab
        .txn(WWW, RecordType::A, false, true, SITE2, |q| {
            let mut m = auth.clone();
            m.metadata.id = q.metadata.id;
            m.answers.retain(|r| r.record_type() == RecordType::RRSIG);
            m.answers.push(a_rec(WWW, [6, 6, 6, 6]));
            m
        })
        .await;
    assert!(rules(&al).contains(&Rule::AnswerMismatch), "{al:?}");
}

#[tokio::test]
async fn unsigned_set_of_the_other_server_via_validating_resolver_is_no_mismatch() {
    let mut lab = lab();
    // DO=0 stub, AD=1 resolver that asked the second server.
    let al = lab
        .via_resolver(
            11,
            WWW,
            RecordType::A,
            false,
            Reply {
                ad: true,
                ..Reply::default()
            },
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
    let s = lab.det.verdicts().stats();
    assert!(s.confirming_requeries.load(Relaxed) >= 2);
    // Both sets are now in the history: no more re-queries for either.
    let before = s.confirming_requeries.load(Relaxed);
    for n in [10, 11] {
        let al = lab
            .via_resolver(
                n,
                WWW,
                RecordType::A,
                false,
                Reply {
                    ad: true,
                    ..Reply::default()
                },
            )
            .await;
        assert!(al.is_empty(), "{al:?}");
    }
    assert_eq!(
        lab.det
            .verdicts()
            .stats()
            .confirming_requeries
            .load(Relaxed),
        before
    );
}

#[tokio::test]
async fn forged_set_via_validating_resolver_is_mismatch_high() {
    let mut lab = lab();
    let al = lab
        .txn(WWW, RecordType::A, true, false, RESOLVER, |q| {
            let mut m = forged(q, ResponseCode::NoError, vec![a_rec(WWW, [6, 6, 6, 6])]);
            m.metadata.authentic_data = true;
            m
        })
        .await;
    assert_eq!(rules(&al), vec![Rule::AnswerMismatch], "{al:?}");
    assert_eq!(al[0].severity, Severity::High);
    let d = &al[0].detail;
    assert!(d.contains("host got 6.6.6.6"), "{d}");
}
