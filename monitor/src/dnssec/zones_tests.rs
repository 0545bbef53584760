//! Per-zone settings over in-process signed zones: per-zone trust anchors
//! (the closest enclosing anchor wins, RFC 4035 §4.4), per-zone upstreams
//! (split horizon) and negative trust anchors with an expiry (RFC 7646).
//! Every positive case has its negative twin.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::dnssec::rdata::DNSKEY;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

use super::anchors::TrustAnchors;
use super::clock::Clock;
use super::engine::{Engine, EngineConfig, NegativeTrustAnchor, RootHints};
use super::testnet::{NOW, TestKey, TestNet, Zone, a, name, standard_hierarchy};
use super::verdict::{BogusReason, InsecureReason, Verdict};

const DAY: u32 = 86_400;
const ROOT: [u8; 4] = [198, 18, 0, 1];
/// The server of `corp.` (delegated by the root without DS).
const CORP: [u8; 4] = [198, 18, 0, 60];
/// The internal server of `corp.internal.` (the root does not delegate it).
const INTERNAL: [u8; 4] = [198, 18, 0, 61];

fn sa(ip: [u8; 4]) -> SocketAddr {
    SocketAddr::new(IpAddr::from(ip), 53)
}

/// root (signed) → `corp.` (signed, delegated WITHOUT DS: insecure by the
/// parent chain); `corp.internal.` signed with its own key, served only at
/// [`INTERNAL`]. Returns the network, the root key and the two zone keys.
fn split_horizon() -> (TestNet, DNSKEY, DNSKEY, DNSKEY) {
    let (inc, exp) = (NOW - DAY, NOW + 30 * DAY);
    let mut corp = Zone::new("corp.", CORP);
    corp.add(a("www.corp.", [10, 0, 0, 1])).sign(inc, exp);
    let mut internal = Zone::new("corp.internal.", INTERNAL);
    internal
        .add(a("www.corp.internal.", [10, 0, 0, 2]))
        .sign(inc, exp);
    let mut root = Zone::new(".", ROOT);
    root.delegate(&corp, CORP, None).sign(inc, exp);
    let key = |z: &Zone| z.key.as_ref().expect("signed").dnskey.clone();
    let (rk, ck, ik) = (key(&root), key(&corp), key(&internal));
    let mut net = TestNet::default();
    net.serve(ROOT, root)
        .serve(CORP, corp)
        .serve(INTERNAL, internal);
    (net, rk, ck, ik)
}

struct Setup {
    /// Per-zone DNSKEY anchors.
    anchors: Vec<(&'static str, DNSKEY)>,
    upstreams: Vec<(&'static str, [u8; 4])>,
    ntas: Vec<NegativeTrustAnchor>,
}

fn engine(net: TestNet, root_key: DNSKEY, s: Setup) -> (Engine, Arc<TestNet>, Clock) {
    let mut cfg = EngineConfig::iterative(RootHints::from_addrs(vec![IpAddr::from(ROOT)]));
    let mut anchors = TrustAnchors::empty();
    anchors.add_dnskey(&Name::root(), root_key);
    for (zone, key) in s.anchors {
        let mut one = TrustAnchors::empty();
        one.add_dnskey(&name(zone), key);
        anchors
            .add_zone(&name(zone), one)
            .expect("anchor inside its zone");
    }
    cfg.trust_anchors = anchors;
    cfg.zone_upstreams = s
        .upstreams
        .into_iter()
        .map(|(z, ip)| (name(z), vec![sa(ip)]))
        .collect();
    cfg.negative_trust_anchors = s.ntas;
    let clock = Clock::fixed(i64::from(NOW));
    cfg.clock = clock.clone();
    let net = Arc::new(net);
    (Engine::new(cfg, net.clone()), net, clock)
}

fn asked(net: &TestNet, ip: [u8; 4]) -> usize {
    let log = net.log.lock().unwrap();
    log.iter()
        .filter(|(s, _, _)| *s == IpAddr::from(ip))
        .count()
}

#[tokio::test]
async fn internal_zone_with_own_anchor_through_its_upstream_is_secure() {
    let (net, rk, _, ik) = split_horizon();
    let (e, net, _) = engine(
        net,
        rk,
        Setup {
            anchors: vec![("corp.internal.", ik)],
            upstreams: vec![("corp.internal.", INTERNAL)],
            ntas: vec![],
        },
    );
    let l = e.lookup(&name("www.corp.internal."), RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    assert_eq!(l.secure_answers().unwrap().len(), 1);
    assert!(
        l.trace.steps[0].zone == name("corp.internal."),
        "{:?}",
        l.trace
    );
    // Split horizon: the internal server was asked, the root never.
    assert!(
        asked(&net, INTERNAL) >= 2,
        "DNSKEY and A at the internal server"
    );
    assert_eq!(asked(&net, ROOT), 0, "{:?}", net.log.lock().unwrap());
    assert!(e.stats().zone_upstream_queries >= 2);
}

#[tokio::test]
async fn internal_zone_without_its_upstream_does_not_resolve() {
    let (net, rk, _, ik) = split_horizon();
    let (e, net, _) = engine(
        net,
        rk,
        Setup {
            anchors: vec![("corp.internal.", ik)],
            upstreams: vec![],
            ntas: vec![],
        },
    );
    let l = e.lookup(&name("www.corp.internal."), RecordType::A).await;
    // The public root proves `internal.` does not exist.
    assert_eq!(l.rcode, ResponseCode::NXDomain);
    assert!(l.answers_with_verdict().1.is_empty());
    assert_eq!(asked(&net, INTERNAL), 0);
    assert!(asked(&net, ROOT) >= 1);
    assert_eq!(e.stats().zone_upstream_queries, 0);
}

#[tokio::test]
async fn internal_zone_without_its_anchor_is_bogus() {
    let (net, rk, _, _) = split_horizon();
    let (e, _, _) = engine(
        net,
        rk,
        Setup {
            anchors: vec![],
            upstreams: vec![("corp.internal.", INTERNAL)],
            ntas: vec![],
        },
    );
    let l = e.lookup(&name("www.corp.internal."), RecordType::A).await;
    // From the root, corp.internal. is no zone (proven NXDOMAIN for its DS
    // owner), so its signatures name a signer the chain does not know.
    assert!(
        matches!(
            &l.verdict,
            Verdict::Bogus {
                reason: BogusReason::WrongSigner { .. },
                ..
            }
        ),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn internal_zone_with_a_wrong_anchor_is_bogus() {
    let (net, rk, _, _) = split_horizon();
    let wrong = TestKey::generate().dnskey;
    let (e, _, _) = engine(
        net,
        rk,
        Setup {
            anchors: vec![("corp.internal.", wrong)],
            upstreams: vec![("corp.internal.", INTERNAL)],
            ntas: vec![],
        },
    );
    let l = e.lookup(&name("www.corp.internal."), RecordType::A).await;
    assert!(
        matches!(
            &l.verdict,
            Verdict::Bogus {
                reason: BogusReason::DsMatchesNoKey { .. },
                ..
            }
        ),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn closest_anchor_wins_over_an_insecure_parent_chain() {
    // corp. is delegated without DS: insecure from the root...
    let (net, rk, _, _) = split_horizon();
    let (e, _, _) = engine(
        net,
        rk,
        Setup {
            anchors: vec![],
            upstreams: vec![],
            ntas: vec![],
        },
    );
    let l = e.lookup(&name("www.corp."), RecordType::A).await;
    assert!(
        matches!(
            &l.verdict,
            Verdict::Insecure {
                reason: InsecureReason::UnsignedDelegation { .. },
                ..
            }
        ),
        "{}",
        l.verdict
    );
    // ...and secure with its own anchor (a secure entry point).
    let (net, rk, ck, _) = split_horizon();
    let (e, _, _) = engine(
        net,
        rk,
        Setup {
            anchors: vec![("corp.", ck)],
            upstreams: vec![],
            ntas: vec![],
        },
    );
    let l = e.lookup(&name("www.corp."), RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
}

#[tokio::test]
async fn zone_upstream_does_not_take_the_parent_side_ds() {
    // corp.'s DS lives at the root: with corp. routed to its own server the
    // DS query still goes to the root (whose NSEC proves the delegation
    // unsigned), so the answer is insecure, not bogus.
    let (net, rk, _, _) = split_horizon();
    let (e, net, _) = engine(
        net,
        rk,
        Setup {
            anchors: vec![],
            upstreams: vec![("corp.", CORP)],
            ntas: vec![],
        },
    );
    let l = e.lookup(&name("www.corp."), RecordType::A).await;
    assert!(
        matches!(l.verdict, Verdict::Insecure { .. }),
        "{}",
        l.verdict
    );
    let log = net.log.lock().unwrap();
    assert!(
        log.iter().any(|(s, n, t)| *s == IpAddr::from(ROOT)
            && *n == name("corp.")
            && *t == RecordType::DS)
    );
    assert!(
        !log.iter()
            .any(|(s, _, t)| *s == IpAddr::from(CORP) && *t == RecordType::DS),
        "{log:?}"
    );
}

#[tokio::test]
async fn nta_hides_bogus_until_it_expires_and_no_longer() {
    let (net, anchor) = standard_hierarchy(vec![]);
    let nta = NegativeTrustAnchor {
        zone: name("broken.test."),
        expires: Some(i64::from(NOW) + 60),
    };
    let (e, _, clock) = engine(
        net,
        anchor,
        Setup {
            anchors: vec![],
            upstreams: vec![],
            ntas: vec![nta],
        },
    );
    let q = name("www.broken.test.");
    let l = e.lookup(&q, RecordType::A).await;
    assert!(
        matches!(
            &l.verdict,
            Verdict::Insecure {
                reason: InsecureReason::NegativeTrustAnchor { .. },
                ..
            }
        ),
        "{}",
        l.verdict
    );
    assert!(l.ttl <= 60, "not cached past the NTA: {}", l.ttl);
    clock.advance(30);
    let l = e.lookup(&q, RecordType::A).await;
    assert!(l.from_cache);
    assert!(matches!(l.verdict, Verdict::Insecure { .. }));
    assert!(l.ttl <= 30, "{}", l.ttl);
    clock.advance(30); // exactly the expiry
    let l = e.lookup(&q, RecordType::A).await;
    assert!(!l.from_cache, "the NTA verdict expired with the NTA");
    assert!(
        matches!(
            &l.verdict,
            Verdict::Bogus {
                reason: BogusReason::SignatureInvalid { .. },
                ..
            }
        ),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn permanent_nta_stays_and_an_expired_one_does_nothing() {
    let (net, anchor) = standard_hierarchy(vec![]);
    let (e, _, clock) = engine(
        net,
        anchor,
        Setup {
            anchors: vec![],
            upstreams: vec![],
            ntas: vec![
                NegativeTrustAnchor::permanent(&name("broken.test.")),
                NegativeTrustAnchor {
                    zone: name("expired.test."),
                    expires: Some(i64::from(NOW) - 1),
                },
            ],
        },
    );
    clock.advance(10 * i64::from(DAY));
    let l = e.lookup(&name("www.broken.test."), RecordType::A).await;
    assert!(
        matches!(l.verdict, Verdict::Insecure { .. }),
        "{}",
        l.verdict
    );
    let l = e.lookup(&name("www.expired.test."), RecordType::A).await;
    assert!(matches!(l.verdict, Verdict::Bogus { .. }), "{}", l.verdict);
}

#[test]
fn lookups_are_spawnable_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (net, anchor) = standard_hierarchy(vec![]);
    let (e, _, _) = engine(
        net,
        anchor,
        Setup {
            anchors: vec![],
            upstreams: vec![],
            ntas: vec![],
        },
    );
    // tokio::spawn needs a Send + 'static future: this compiles only if
    // Engine::lookup's future is Send.
    let names = [
        "www.secure.test.",
        "a1.wild.secure.test.",
        "www.broken.test.",
    ];
    let handles: Vec<_> = (0..30)
        .map(|i| {
            let e = e.clone();
            let q = name(names[i % names.len()]);
            rt.spawn(async move { (q.clone(), e.lookup(&q, RecordType::A).await) })
        })
        .collect();
    for h in handles {
        let (q, l) = rt.block_on(h).unwrap();
        if q == name("www.broken.test.") {
            assert!(
                matches!(l.verdict, Verdict::Bogus { .. }),
                "{q}: {}",
                l.verdict
            );
        } else {
            assert_eq!(l.verdict, Verdict::Secure, "{q}");
        }
    }
}
