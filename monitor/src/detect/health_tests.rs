//! Resolver health and posture through the detector, with real verdicts
//! from the in-process signed hierarchy (see [`super::lab`]).

use std::sync::atomic::Ordering;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::alert::Rule;
use super::lab::{Lab, Reply, policy, rules};
use super::resolver_health::Condition;
use super::testkit::{CLIENT, RESOLVER, at, event, query_msg};

const SECURE: u8 = 3;
const DEAD: &str = "10.0.0.99:53";

/// `n` queries to `server` that nobody answers, from `from_ms` on.
async fn unanswered(lab: &mut Lab, server: &str, n: u16, from_ms: u64) {
    for i in 0..n {
        let q = query_msg(5000 + i, "www.secure.test.", RecordType::A, true, true);
        let al = lab
            .det
            .on_event(event(q, CLIENT, server, from_ms + u64::from(i) * 200))
            .await;
        assert!(!rules(&al).contains(&Rule::ResolverFailure) || i > 0);
    }
}

#[tokio::test]
async fn a_resolver_that_stops_answering_raises_resolver_failure_once() {
    let mut lab = Lab::new(policy());
    unanswered(&mut lab, DEAD, 15, 0).await;
    // Nothing yet: the queries have not timed out (10 s).
    assert!(lab.det.check_health(at(5_000)).is_empty());
    let al = lab.det.check_health(at(14_000));
    assert_eq!(rules(&al), vec![Rule::ResolverFailure], "{al:?}");
    let h = al[0].resolver.as_ref().unwrap();
    assert_eq!(h.condition, Condition::Unanswered);
    assert_eq!(h.stats.resolver, DEAD.parse().unwrap());
    assert_eq!(h.stats.counts.timeouts, 15);
    assert!(
        al[0].detail.contains("left 15 of 15 queries unanswered"),
        "{}",
        al[0].detail
    );
    // More unanswered queries: the episode is already reported.
    unanswered(&mut lab, DEAD, 10, 15_000).await;
    assert!(lab.det.check_health(at(30_000)).is_empty());
    assert_eq!(lab.det.counters().alerts_of(Rule::ResolverFailure), 1);
    // The healthy resolver next to it is not judged by the dead one.
    lab.via_resolver(
        SECURE,
        "www.secure.test.",
        RecordType::A,
        true,
        Reply::default(),
    )
    .await;
    let snap = lab.det.health().lock().unwrap().snapshot(at(30_000));
    let healthy = snap
        .iter()
        .find(|s| s.window.resolver == RESOLVER.parse().unwrap())
        .unwrap();
    assert!(healthy.failing.is_empty());
}

/// `n` lookups of a Secure name through the expected resolver, each
/// answered with AD set: none may raise anything.
async fn answered_secure_lookups(lab: &mut Lab, n: usize) {
    for _ in 0..n {
        let al = lab
            .via_resolver(
                SECURE,
                "www.secure.test.",
                RecordType::A,
                true,
                Reply {
                    ad: true,
                    ..Reply::default()
                },
            )
            .await;
        assert!(al.is_empty(), "{al:?}");
    }
}

#[tokio::test]
async fn benign_twin_an_answering_resolver_raises_nothing() {
    let mut lab = Lab::new(policy());
    answered_secure_lookups(&mut lab, 20).await;
    assert!(lab.det.check_health(at(60_000)).is_empty());
    let w = lab
        .det
        .health()
        .lock()
        .unwrap()
        .window(RESOLVER.parse().unwrap(), at(1_000))
        .unwrap();
    assert_eq!(
        (w.counts.queries, w.counts.answers, w.counts.timeouts),
        (20, 20, 0)
    );
    assert_eq!(w.counts.ad_rate(), Some(1.0), "AD on every secure answer");
    assert!(w.p50.unwrap() <= std::time::Duration::from_millis(6));
    assert_eq!(lab.det.counters().alerts_of(Rule::ResolverFailure), 0);
}

#[tokio::test]
async fn servfail_storm_raises_and_ad_stripping_shows_in_the_rate() {
    let mut lab = Lab::new(policy());
    let mut raised = Vec::new();
    for i in 0..12 {
        let rcode = if i % 2 == 0 {
            Some(ResponseCode::ServFail)
        } else {
            None
        };
        raised.extend(
            lab.via_resolver(
                SECURE,
                "www.secure.test.",
                RecordType::A,
                true,
                Reply {
                    rcode,
                    ..Reply::default()
                },
            )
            .await,
        );
    }
    let rf: Vec<_> = raised
        .iter()
        .filter(|a| a.rule == Rule::ResolverFailure)
        .collect();
    assert_eq!(rf.len(), 1, "{raised:?}");
    assert_eq!(
        rf[0].resolver.as_ref().unwrap().condition,
        Condition::Servfail
    );
    let w = lab
        .det
        .health()
        .lock()
        .unwrap()
        .window(RESOLVER.parse().unwrap(), at(1_000))
        .unwrap();
    assert_eq!(w.counts.ad_rate(), Some(0.0), "no AD on the secure answers");
}

#[tokio::test]
async fn own_queries_do_not_count() {
    let mut pol = policy();
    pol.own_pids = vec![super::testkit::process().pid];
    let mut lab = Lab::new(pol);
    unanswered(&mut lab, DEAD, 15, 0).await;
    assert!(lab.det.check_health(at(14_000)).is_empty());
    assert_eq!(lab.det.health().lock().unwrap().tracked(), 0);
}

#[tokio::test]
async fn posture_has_the_name_verdict_chain_and_resolver() {
    let mut lab = Lab::new(policy());
    for _ in 0..3 {
        lab.via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            true,
            Reply {
                ad: true,
                ..Reply::default()
            },
        )
        .await;
    }
    lab.via_resolver(
        5,
        "www.unsigned.test.",
        RecordType::A,
        true,
        Reply::default(),
    )
    .await;
    let p = lab.det.take_posture(at(1_000));
    assert_eq!(p.resolvers.len(), 1);
    assert_eq!(p.resolvers[0].resolver, RESOLVER);
    assert_eq!(p.resolvers[0].answers, 4);
    assert_eq!(p.resolvers[0].secure_answers, 3);
    assert_eq!(p.resolvers[0].secure_ad, 3);
    assert_eq!(p.names.len(), 2, "{:?}", p.names);
    let s = p
        .names
        .iter()
        .find(|n| n.qname == "www.secure.test")
        .unwrap();
    assert_eq!(s.outcome, "secure");
    assert_eq!(s.zone.as_deref(), Some("secure.test"));
    assert_eq!((s.answers, s.ad_answers), (3, 3));
    assert!(!s.ds_key_tags.is_empty(), "{s:?}");
    assert!(!s.algorithms.is_empty(), "{s:?}");
    assert!(s.sig_expiration.is_some());
    assert_eq!(s.process.as_deref(), Some("curl"));
    assert_eq!(s.resolver.as_deref(), Some(RESOLVER));
    let u = p
        .names
        .iter()
        .find(|n| n.qname == "www.unsigned.test")
        .unwrap_or_else(|| panic!("{:?}", p.names));
    assert_eq!(u.outcome, "insecure");
    assert!(u.ds_key_tags.is_empty());
    assert_eq!(u.sig_expiration, None, "no signature of its own");
    // Taken once.
    let again = lab.det.take_posture(at(2_000));
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(
        lab.det.counters().evaluated.load(Ordering::Relaxed),
        4,
        "every answer was checked"
    );
}

#[tokio::test]
async fn with_critical_names_only_they_are_recorded() {
    use super::detector::{Detector, DetectorConfig};
    use super::posture::CriticalLabels;
    use crate::correlate::outstanding::OutstandingConfig;
    use crate::dnssec::testnet::standard_hierarchy;

    let mut lab = Lab::new(policy());
    let (net, anchor) = standard_hierarchy(Vec::new());
    lab.det = Detector::new(
        super::lab::engine_over(std::sync::Arc::new(net), anchor, &[]),
        policy(),
        DetectorConfig {
            outstanding: OutstandingConfig {
                warmup: std::time::Duration::ZERO,
                ..OutstandingConfig::default()
            },
            critical: CriticalLabels::new([("*.secure.test".to_owned(), "idp".to_owned())]),
            ..DetectorConfig::default()
        },
    );
    lab.via_resolver(
        SECURE,
        "www.secure.test.",
        RecordType::A,
        true,
        Reply::default(),
    )
    .await;
    lab.via_resolver(
        5,
        "www.unsigned.test.",
        RecordType::A,
        true,
        Reply::default(),
    )
    .await;
    let p = lab.det.take_posture(at(1_000));
    let names: Vec<(&str, Option<&str>)> = p
        .names
        .iter()
        .map(|n| (n.qname.as_str(), n.label.as_deref()))
        .collect();
    assert_eq!(names, [("www.secure.test", Some("idp"))]);
    // The resolver aggregate still counts both answers.
    assert_eq!(p.resolvers[0].answers, 2);
}

#[tokio::test]
async fn timeouts_expired_by_a_query_raise_on_that_query() {
    // A healthy resolver, judged on every message (and settled) ...
    let mut lab = Lab::new(policy());
    answered_secure_lookups(&mut lab, 12).await;
    // ... then 20 queries nobody answers: 20 of 32 once they time out.
    let start = lab.now_ms(100);
    for i in 0..20u16 {
        let q = query_msg(7000 + i, "www.secure.test.", RecordType::A, true, true);
        let al = lab
            .det
            .on_event(event(q, CLIENT, RESOLVER, start + u64::from(i) * 10))
            .await;
        assert!(al.is_empty(), "{al:?}");
    }
    // The next query, past the 10 s timeout, expires them in its own
    // observation: the alert comes with it, once.
    let q = query_msg(7100, "www.secure.test.", RecordType::A, true, true);
    let al = lab
        .det
        .on_event(event(q, CLIENT, RESOLVER, start + 11_000))
        .await;
    assert_eq!(rules(&al), vec![Rule::ResolverFailure], "{al:?}");
    let h = al[0].resolver.as_ref().unwrap();
    assert_eq!(h.condition, Condition::Unanswered);
    assert_eq!((h.stats.counts.timeouts, h.stats.counts.answers), (20, 12));
    let q = query_msg(7101, "www.secure.test.", RecordType::A, true, true);
    let al = lab
        .det
        .on_event(event(q, CLIENT, RESOLVER, start + 11_010))
        .await;
    assert!(al.is_empty(), "the episode is reported: {al:?}");
}
