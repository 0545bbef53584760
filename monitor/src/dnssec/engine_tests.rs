//! End-to-end tests of the engine over the in-process signed hierarchy
//! ([`super::testnet::standard_hierarchy`]): every positive case has a
//! negative twin where one record is broken or removed.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use super::anchors::TrustAnchors;
use super::clock::Clock;
use super::engine::{Engine, EngineConfig, Lookup, RootHints};
use super::testnet::{Mutator, NOW, TestNet, name, standard_hierarchy};
use super::verdict::{BogusReason, Ede, IndeterminateReason, InsecureReason, Verdict};

fn engine_with(
    net: TestNet,
    anchor: hickory_proto::dnssec::rdata::DNSKEY,
    roots: &[u8],
) -> (Engine, Arc<TestNet>) {
    engine_tuned(net, anchor, roots, |_| {})
}

/// [`engine_with`], with `tune` applied to the configuration last.
fn engine_tuned(
    net: TestNet,
    anchor: hickory_proto::dnssec::rdata::DNSKEY,
    roots: &[u8],
    tune: impl FnOnce(&mut EngineConfig),
) -> (Engine, Arc<TestNet>) {
    let hints: Vec<IpAddr> = roots
        .iter()
        .map(|n| IpAddr::from([198, 18, 0, *n]))
        .collect();
    let mut cfg = EngineConfig::iterative(RootHints::from_addrs(hints));
    let mut anchors = TrustAnchors::empty();
    anchors.add_dnskey(&Name::root(), anchor);
    cfg.trust_anchors = anchors;
    cfg.clock = Clock::fixed(i64::from(NOW));
    tune(&mut cfg);
    let net = Arc::new(net);
    (Engine::new(cfg, net.clone()), net)
}

fn engine(mutators: Vec<Mutator>) -> (Engine, Arc<TestNet>) {
    let (net, anchor) = standard_hierarchy(mutators);
    engine_with(net, anchor, &[1])
}

async fn lookup(mutators: Vec<Mutator>, qname: &str, qtype: RecordType) -> Lookup {
    let (e, _) = engine(mutators);
    e.lookup(&name(qname), qtype).await
}

/// Removes records of `rtype` (and their RRSIGs) from every section of
/// answers to `qname`.
fn strip(qname: &'static str, rtype: RecordType) -> Mutator {
    Box::new(move |q: &Name, _t, m: &mut Message| {
        if *q != name(qname) {
            return;
        }
        let keep = |r: &hickory_proto::rr::Record| {
            r.record_type() != rtype
                && !matches!(&r.data, RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == rtype)
        };
        m.answers.retain(keep);
        m.authorities.retain(keep);
    })
}

/// Removes only the RRSIGs over `rtype` in answers to `qname`.
fn strip_sigs(qname: &'static str, rtype: RecordType) -> Mutator {
    Box::new(move |q: &Name, _t, m: &mut Message| {
        if *q == name(qname) {
            m.answers.retain(|r| {
                !matches!(&r.data, RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == rtype)
            });
        }
    })
}

fn bogus(l: &Lookup) -> &BogusReason {
    match &l.verdict {
        Verdict::Bogus { reason, .. } => reason,
        v => panic!("expected bogus, got {v}"),
    }
}

#[tokio::test]
async fn secure_answer_three_zones_deep() {
    let l = lookup(vec![], "www.secure.test.", RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    assert_eq!(l.rcode, ResponseCode::NoError);
    assert_eq!(l.secure_answers().map(|a| a.len()), Some(1));
    let zones: Vec<String> = l.trace.steps.iter().map(|s| s.zone.to_string()).collect();
    for z in [".", "test.", "secure.test."] {
        assert!(zones.contains(&z.to_string()), "{zones:?}");
    }
    let cut = l
        .trace
        .steps
        .iter()
        .find(|s| s.zone == name("secure.test."))
        .unwrap();
    assert_eq!(cut.ds_key_tags.len(), 1);
    assert!(!cut.signatures.is_empty());
    assert!(l.budget.sig_verifications() >= 5);
}

#[tokio::test]
async fn broken_signature_is_bogus_with_key_tag() {
    let l = lookup(vec![], "www.broken.test.", RecordType::A).await;
    assert!(
        matches!(bogus(&l), BogusReason::SignatureInvalid { zone, .. } if *zone == name("broken.test.")),
        "{}",
        l.verdict
    );
    assert_eq!(l.verdict.ede().unwrap().code, Ede::DNSSEC_BOGUS);
    assert!(l.secure_answers().is_none());
    let (v, answers) = l.answers_with_verdict();
    assert!(!v.is_secure() && answers.len() == 1);
}

#[tokio::test]
async fn expired_signature_is_bogus_and_time_matters() {
    let l = lookup(vec![], "www.expired.test.", RecordType::A).await;
    assert!(
        matches!(bogus(&l), BogusReason::SignatureExpired { .. }),
        "{}",
        l.verdict
    );
    assert_eq!(l.verdict.ede().unwrap().code, Ede::SIGNATURE_EXPIRED);
    // Twin: the secure zone at a time after its signatures expired.
    let (net, anchor) = standard_hierarchy(vec![]);
    let (e, _) = engine_with(net, anchor, &[1]);
    e.config().clock.advance(31 * 86_400);
    let l = e.lookup(&name("www.secure.test."), RecordType::A).await;
    assert!(
        matches!(bogus(&l), BogusReason::SignatureExpired { .. }),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn ds_matching_no_key_is_bogus() {
    let l = lookup(vec![], "www.nokey.test.", RecordType::A).await;
    assert!(
        matches!(bogus(&l), BogusReason::DsMatchesNoKey { zone, .. } if *zone == name("nokey.test.")),
        "{}",
        l.verdict
    );
    assert_eq!(l.verdict.ede().unwrap().code, Ede::DNSKEY_MISSING);
}

#[tokio::test]
async fn unsigned_delegation_is_insecure_only_with_proof() {
    let l = lookup(vec![], "www.unsigned.test.", RecordType::A).await;
    assert!(
        matches!(&l.verdict, Verdict::Insecure { reason: InsecureReason::UnsignedDelegation { zone }, .. } if *zone == name("unsigned.test.")),
        "{}",
        l.verdict
    );
    assert_eq!(l.answers_with_verdict().1.len(), 1);
    // Twin: the NSEC proving "no DS" is stripped, from the DS answer and
    // from the referral that carries it too.
    let strip_below: Mutator = Box::new(|q: &Name, _t, m: &mut Message| {
        if name("unsigned.test.").zone_of(q) {
            m.authorities.retain(|r| {
                r.record_type() != RecordType::NSEC
                    && !matches!(&r.data, RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == RecordType::NSEC)
            });
        }
    });
    let l = lookup(vec![strip_below], "www.unsigned.test.", RecordType::A).await;
    assert!(
        matches!(bogus(&l), BogusReason::MissingDenialProof { .. }),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn nxdomain_with_nsec_and_without() {
    let l = lookup(vec![], "nx.secure.test.", RecordType::A).await;
    assert_eq!(l.rcode, ResponseCode::NXDomain);
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    let l = lookup(
        vec![strip("nx.secure.test.", RecordType::NSEC)],
        "nx.secure.test.",
        RecordType::A,
    )
    .await;
    assert!(
        matches!(bogus(&l), BogusReason::MissingDenialProof { .. }),
        "{}",
        l.verdict
    );
    assert_eq!(l.verdict.ede().unwrap().code, Ede::NSEC_MISSING);
}

#[tokio::test]
async fn nodata_with_nsec_and_without() {
    let l = lookup(vec![], "www.secure.test.", RecordType::MX).await;
    assert_eq!(
        (l.rcode, &l.verdict),
        (ResponseCode::NoError, &Verdict::Secure),
        "{}",
        l.verdict
    );
    assert_eq!(l.secure_answers().map(|a| a.len()), Some(0));
    let l = lookup(
        vec![strip("www.secure.test.", RecordType::NSEC)],
        "www.secure.test.",
        RecordType::MX,
    )
    .await;
    assert!(
        matches!(bogus(&l), BogusReason::MissingDenialProof { .. }),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn cname_into_another_zone() {
    let l = lookup(vec![], "alias.secure.test.", RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    let answers = l.secure_answers().unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0].record_type(), RecordType::CNAME);
    assert_eq!(answers[1].name, name("www.other.test."));
    assert!(l.trace.steps.iter().any(|s| s.zone == name("other.test.")));
    // Twin: the CNAME loses its RRSIG.
    let l = lookup(
        vec![strip_sigs("alias.secure.test.", RecordType::CNAME)],
        "alias.secure.test.",
        RecordType::A,
    )
    .await;
    assert!(
        matches!(bogus(&l), BogusReason::RrsigsMissing { .. }),
        "{}",
        l.verdict
    );
    // A CNAME into a name that does not exist: NXDOMAIN proven in the target zone.
    let l = lookup(vec![], "loop.secure.test.", RecordType::A).await;
    assert_eq!(
        (l.rcode, &l.verdict),
        (ResponseCode::NXDomain, &Verdict::Secure),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn wildcard_needs_no_closer_match_proof() {
    let l = lookup(vec![], "host.wild.secure.test.", RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    assert_eq!(
        l.secure_answers().unwrap()[0].name,
        name("host.wild.secure.test.")
    );
    let l = lookup(
        vec![strip("host.wild.secure.test.", RecordType::NSEC)],
        "host.wild.secure.test.",
        RecordType::A,
    )
    .await;
    assert!(
        matches!(bogus(&l), BogusReason::MissingDenialProof { .. }),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn empty_non_terminal_is_not_a_zone_cut() {
    // sub.secure.test. exists only as an empty non-terminal.
    let l = lookup(vec![], "x.sub.secure.test.", RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    let l = lookup(vec![], "sub.secure.test.", RecordType::A).await;
    assert_eq!(
        (l.rcode, &l.verdict),
        (ResponseCode::NoError, &Verdict::Secure),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn keytrap_signatures_are_cut_off_by_the_budget() {
    let l = lookup(vec![], "www.keytrap.test.", RecordType::A).await;
    let limit = super::limits::Limits::default().max_sig_verifications;
    // 100 RRSIGs naming the zone's key, none valid: stops at the cap.
    assert!(
        matches!(bogus(&l), BogusReason::BudgetExceeded { limit: l2, .. } if *l2 == limit),
        "{}",
        l.verdict
    );
    assert_eq!(l.budget.sig_verifications(), limit);
    // Twin: with a budget too small for even the honest chain, a secure zone is cut off too.
    let (net, anchor) = standard_hierarchy(vec![]);
    let (_, _) = (&net, &anchor);
    let hints = vec![IpAddr::from([198, 18, 0, 1])];
    let mut cfg = EngineConfig::iterative(RootHints::from_addrs(hints));
    let mut anchors = TrustAnchors::empty();
    anchors.add_dnskey(&Name::root(), anchor);
    cfg.trust_anchors = anchors;
    cfg.clock = Clock::fixed(i64::from(NOW));
    cfg.limits.max_sig_verifications = 2;
    let e = Engine::new(cfg, Arc::new(net));
    let l = e.lookup(&name("www.secure.test."), RecordType::A).await;
    assert!(
        matches!(bogus(&l), BogusReason::BudgetExceeded { limit: 2, .. }),
        "{}",
        l.verdict
    );
    assert_eq!(l.budget.sig_verifications(), 2);
}

#[tokio::test]
async fn cache_serves_the_second_lookup_without_queries() {
    let (e, net) = engine(vec![]);
    let first = e.lookup(&name("www.secure.test."), RecordType::A).await;
    let sent = net.queries.load(Ordering::Relaxed);
    assert!(sent > 0 && !first.from_cache);
    let second = e.lookup(&name("WWW.secure.test."), RecordType::A).await;
    assert!(second.from_cache);
    assert_eq!(second.verdict, Verdict::Secure);
    assert_eq!(
        net.queries.load(Ordering::Relaxed),
        sent,
        "no query for a cached answer"
    );
    assert_eq!(e.stats().cache_hits, 1);
    // A sibling name reuses the cached chain: only the answer itself is asked.
    let _ = e.lookup(&name("alias.secure.test."), RecordType::A).await;
    // TTL expiry follows the engine clock: after 301 s the A RRset is re-fetched.
    e.config().clock.advance(301);
    let third = e.lookup(&name("www.secure.test."), RecordType::A).await;
    assert!(!third.from_cache);
}

#[tokio::test]
async fn concurrent_lookups_are_deduplicated() {
    let (e, net) = engine(vec![]);
    let n = name("www.secure.test.");
    let (a, b) = tokio::join!(e.lookup(&n, RecordType::A), e.lookup(&n, RecordType::A));
    assert_eq!(
        (a.verdict.clone(), b.verdict.clone()),
        (Verdict::Secure, Verdict::Secure)
    );
    let both = net.queries.load(Ordering::Relaxed);
    let (e2, net2) = engine(vec![]);
    let _ = e2.lookup(&name("www.secure.test."), RecordType::A).await;
    assert_eq!(
        both,
        net2.queries.load(Ordering::Relaxed),
        "the second lookup sent nothing"
    );
    let s = e.stats();
    assert_eq!(s.inflight_joined + s.cache_hits, 1, "{s:?}");
}

#[tokio::test]
async fn unreachable_and_lame_servers() {
    let (net, anchor) = standard_hierarchy(vec![]);
    let (e, _) = engine_with(net, anchor, &[99]);
    let l = e.lookup(&name("www.secure.test."), RecordType::A).await;
    assert!(
        matches!(
            &l.verdict,
            Verdict::Indeterminate {
                why: IndeterminateReason::NoReachableAuthority { .. },
                ..
            }
        ),
        "{}",
        l.verdict
    );
    assert_eq!(l.rcode, ResponseCode::ServFail);
    // Twin: a dead server first in the hints is skipped.
    let (net, anchor) = standard_hierarchy(vec![]);
    let (e, _) = engine_with(net, anchor, &[99, 1]);
    let l = e.lookup(&name("www.secure.test."), RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    assert!(e.stats().server_failures > 0);
}

#[tokio::test]
async fn truncated_udp_is_retried_over_tcp() {
    let (mut net, anchor) = standard_hierarchy(vec![]);
    net.truncate_udp = true;
    let (e, _) = engine_with(net, anchor, &[1]);
    let l = e.lookup(&name("www.secure.test."), RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    assert!(e.stats().tcp_retries > 0);
}

#[tokio::test]
async fn negative_trust_anchor_makes_bogus_insecure() {
    let (net, anchor) = standard_hierarchy(vec![]);
    let (e, _) = {
        let hints = vec![IpAddr::from([198, 18, 0, 1])];
        let mut cfg = EngineConfig::iterative(RootHints::from_addrs(hints));
        let mut anchors = TrustAnchors::empty();
        anchors.add_dnskey(&Name::root(), anchor);
        cfg.trust_anchors = anchors;
        cfg.clock = Clock::fixed(i64::from(NOW));
        cfg.negative_trust_anchors = vec![name("broken.test.").into()];
        (Engine::new(cfg, Arc::new(net)), ())
    };
    let l = e.lookup(&name("www.broken.test."), RecordType::A).await;
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
    let l = e.lookup(&name("www.secure.test."), RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "NTA does not reach other zones");
}

#[tokio::test]
async fn no_trust_anchor_is_insecure_and_wrong_anchor_is_bogus() {
    let (net, _) = standard_hierarchy(vec![]);
    let hints = vec![IpAddr::from([198, 18, 0, 1])];
    let mut cfg = EngineConfig::iterative(RootHints::from_addrs(hints.clone()));
    cfg.trust_anchors = TrustAnchors::empty();
    cfg.clock = Clock::fixed(i64::from(NOW));
    let l = Engine::new(cfg, Arc::new(net))
        .lookup(&name("www.secure.test."), RecordType::A)
        .await;
    assert!(
        matches!(
            &l.verdict,
            Verdict::Insecure {
                reason: InsecureReason::NoTrustAnchor { .. },
                ..
            }
        ),
        "{}",
        l.verdict
    );
    // Twin: the IANA root anchor does not match this lab root.
    let (net, _) = standard_hierarchy(vec![]);
    let mut cfg = EngineConfig::iterative(RootHints::from_addrs(hints));
    cfg.clock = Clock::fixed(i64::from(NOW));
    let l = Engine::new(cfg, Arc::new(net))
        .lookup(&name("www.secure.test."), RecordType::A)
        .await;
    assert!(
        matches!(bogus(&l), BogusReason::DsMatchesNoKey { .. }),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn upstream_mode_and_single_server_hosting_all_zones() {
    for upstream in [true, false] {
        let (net, anchor) = standard_hierarchy(vec![]);
        let net = net.single_server([198, 18, 0, 53]);
        let server = IpAddr::from([198, 18, 0, 53]);
        let mut cfg = if upstream {
            EngineConfig::upstream(vec![std::net::SocketAddr::new(server, 53)])
        } else {
            EngineConfig::iterative(RootHints::from_addrs(vec![server]))
        };
        let mut anchors = TrustAnchors::empty();
        anchors.add_dnskey(&Name::root(), anchor);
        cfg.trust_anchors = anchors;
        cfg.clock = Clock::fixed(i64::from(NOW));
        let e = Engine::new(cfg, Arc::new(net));
        let cases = [
            ("www.secure.test.", RecordType::A, "secure"),
            ("alias.secure.test.", RecordType::A, "secure"),
            ("nx.secure.test.", RecordType::A, "secure"),
            ("host.wild.secure.test.", RecordType::A, "secure"),
            ("www.unsigned.test.", RecordType::A, "insecure"),
            ("nx.unsigned.test.", RecordType::A, "insecure"),
            ("www.broken.test.", RecordType::A, "bogus"),
            ("www.nokey.test.", RecordType::A, "bogus"),
        ];
        for (q, t, want) in cases {
            let l = e.lookup(&name(q), t).await;
            assert_eq!(
                l.verdict.outcome(),
                want,
                "{q} {t} upstream={upstream}: {}",
                l.verdict
            );
        }
    }
}

#[tokio::test]
async fn dname_into_another_zone() {
    let l = lookup(vec![], "www.dn.secure.test.", RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    let types: Vec<RecordType> = l
        .secure_answers()
        .unwrap()
        .iter()
        .map(|r| r.record_type())
        .collect();
    assert_eq!(types, [RecordType::DNAME, RecordType::CNAME, RecordType::A]);
    // Twin: the DNAME loses its RRSIG; the synthesized CNAME alone proves nothing.
    let l = lookup(
        vec![strip_sigs("www.dn.secure.test.", RecordType::DNAME)],
        "www.dn.secure.test.",
        RecordType::A,
    )
    .await;
    assert!(
        matches!(bogus(&l), BogusReason::RrsigsMissing { .. }),
        "{}",
        l.verdict
    );
}

/// Adds to answers for `qname` a copy of the authority's NSEC RRset and its
/// RRSIGs moved to `owner`: the copy is well-formed but its signature (over
/// the original owner) does not verify there.
fn add_unverifiable_nsec(qname: &'static str, owner: &'static str) -> Mutator {
    Box::new(move |q: &Name, _t, m: &mut Message| {
        if *q != name(qname) {
            return;
        }
        let copies: Vec<_> = m
            .authorities
            .iter()
            .filter(|r| {
                r.record_type() == RecordType::NSEC
                    || matches!(&r.data, RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == RecordType::NSEC)
            })
            .map(|r| {
                let mut c = r.clone();
                c.name = name(owner);
                c
            })
            .collect();
        m.authorities.extend(copies);
    })
}

/// Rewrites the type bitmap of every NSEC in answers to `qname` (adding
/// TXT): the content still denies the query, the signature no longer holds.
fn tamper_nsec_bitmap(qname: &'static str) -> Mutator {
    Box::new(move |q: &Name, _t, m: &mut Message| {
        if *q != name(qname) {
            return;
        }
        for r in m.authorities.iter_mut() {
            if let RData::DNSSEC(DNSSECRData::NSEC(n)) = &r.data {
                let types: Vec<RecordType> = n.type_bit_maps().chain([RecordType::TXT]).collect();
                let next = n.next_domain_name().clone();
                r.data = RData::DNSSEC(DNSSECRData::NSEC(hickory_proto::dnssec::rdata::NSEC::new(
                    next, types,
                )));
            }
        }
    })
}

/// Deckard black_ent: an NSEC that fails verification is left out of the
/// proof; the proof still holds on the verified NSEC (and the trace says
/// what was ignored). Twin: when the only NSEC fails, the NODATA is Bogus
/// and the verdict names the failing signature.
#[tokio::test]
async fn unverifiable_extra_nsec_is_ignored_but_a_bad_only_proof_is_bogus() {
    let l = lookup(
        vec![add_unverifiable_nsec(
            "www.secure.test.",
            "zzz.secure.test.",
        )],
        "www.secure.test.",
        RecordType::MX,
    )
    .await;
    assert_eq!(
        (l.rcode, &l.verdict),
        (ResponseCode::NoError, &Verdict::Secure),
        "{}",
        l.verdict
    );
    assert!(
        l.trace
            .steps
            .iter()
            .any(|s| s.note.contains("failed verification")),
        "{:?}",
        l.trace
    );
    // Twin: the one NSEC that proves the NODATA has a broken signature.
    let l = lookup(
        vec![tamper_nsec_bitmap("www.secure.test.")],
        "www.secure.test.",
        RecordType::MX,
    )
    .await;
    assert!(
        matches!(
            bogus(&l),
            BogusReason::SignatureInvalid { owner, rtype: RecordType::NSEC, .. }
                if *owner == name("www.secure.test.")
        ),
        "{}",
        l.verdict
    );
}

/// Rewrites the answer to `qname` as NOERROR carrying only `records`.
fn answer_with(qname: &'static str, records: Vec<hickory_proto::rr::Record>) -> Mutator {
    Box::new(move |q: &Name, _t, m: &mut Message| {
        if *q == name(qname) {
            m.metadata.response_code = ResponseCode::NoError;
            m.answers = records.clone();
            m.authorities.clear();
        }
    })
}

/// RFC 1034 §3.6.2: a CNAME loop is an error, but the lookup keeps the chain
/// it followed (a resolver answers SERVFAIL with it; Deckard
/// iter_dname_insec). Twin: the same CNAME pointing elsewhere is no error.
#[tokio::test]
async fn cname_loop_keeps_the_chain_it_followed() {
    use super::testnet::rec;
    use hickory_proto::rr::rdata::CNAME;
    let looping = rec(
        "cyc.unsigned.test.",
        300,
        RData::CNAME(CNAME(name("cyc.unsigned.test."))),
    );
    let l = lookup(
        vec![answer_with("cyc.unsigned.test.", vec![looping.clone()])],
        "cyc.unsigned.test.",
        RecordType::A,
    )
    .await;
    let (verdict, answers) = l.answers_with_verdict();
    assert!(
        matches!(
            verdict,
            Verdict::Indeterminate {
                why: IndeterminateReason::InvalidData { .. },
                ..
            }
        ),
        "{verdict}"
    );
    assert_eq!(answers, &[looping][..]);
    // Twin: a CNAME to an existing name resolves (insecure zone, no loop).
    let onward = rec(
        "cyc.unsigned.test.",
        300,
        RData::CNAME(CNAME(name("www.unsigned.test."))),
    );
    let l = lookup(
        vec![answer_with("cyc.unsigned.test.", vec![onward])],
        "cyc.unsigned.test.",
        RecordType::A,
    )
    .await;
    let (verdict, answers) = l.answers_with_verdict();
    assert!(matches!(verdict, Verdict::Insecure { .. }), "{verdict}");
    assert_eq!(answers.len(), 2, "{answers:?}");
}

/// RFC 6672 §2.2: YXDOMAIN with a DNAME whose substitution overflows is the
/// final answer (the DNAME, rcode YXDOMAIN). Twin: YXDOMAIN without a DNAME
/// is a server failure.
#[tokio::test]
async fn dname_overflow_yxdomain_is_an_answer() {
    let label = "x".repeat(63);
    let target = format!("{label}.{label}.{label}.{}.", "y".repeat(58));
    let overflow = super::testnet::dname("long.unsigned.test.", &target);
    let yx = |records: Vec<hickory_proto::rr::Record>| -> Mutator {
        Box::new(move |q: &Name, _t, m: &mut Message| {
            if *q == name("too.long.unsigned.test.") {
                m.metadata.response_code = ResponseCode::YXDomain;
                m.answers = records.clone();
                m.authorities.clear();
            }
        })
    };
    let l = lookup(
        vec![yx(vec![overflow.clone()])],
        "too.long.unsigned.test.",
        RecordType::A,
    )
    .await;
    let (verdict, answers) = l.answers_with_verdict();
    assert_eq!(l.rcode, ResponseCode::YXDomain, "{verdict}");
    assert!(matches!(verdict, Verdict::Insecure { .. }), "{verdict}");
    assert_eq!(answers, &[overflow][..]);
    let l = lookup(vec![yx(vec![])], "too.long.unsigned.test.", RecordType::A).await;
    assert!(
        matches!(
            l.verdict,
            Verdict::Indeterminate {
                why: IndeterminateReason::NoReachableAuthority { .. },
                ..
            }
        ),
        "{}",
        l.verdict
    );
}

fn engine_0x20(mutators: Vec<Mutator>, on: bool) -> (Engine, Arc<TestNet>) {
    let (net, anchor) = standard_hierarchy(mutators);
    engine_tuned(net, anchor, &[1], |c| c.dns_0x20 = on)
}

/// A server (or a forger) that answers with the question in lowercase.
fn lowercase_question() -> Mutator {
    Box::new(|q: &Name, _t, m: &mut Message| {
        if let Some(question) = m.queries.first_mut() {
            question.set_name(q.to_lowercase());
        }
    })
}

#[tokio::test]
async fn dns_0x20_mixes_the_case_and_still_validates() {
    let (e, net) = engine_0x20(vec![], true);
    let l = e.lookup(&name("www.secure.test."), RecordType::A).await;
    // Mixed-case owner names come back; canonical form (RFC 4034 §6.2)
    // lowercases them for the signatures.
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    assert_eq!(e.stats().case_mismatches, 0);
    let log = net.log.lock().unwrap();
    // Several questions of 4 to 13 letters each: all of them in lowercase
    // by chance has a probability below 2^-20.
    assert!(
        log.iter()
            .any(|(_, n, _)| n.to_string() != n.to_lowercase().to_string()),
        "no question went out in mixed case: {log:?}"
    );
}

#[tokio::test]
async fn dns_0x20_drops_answers_that_do_not_echo_the_case() {
    let (e, _) = engine_0x20(vec![lowercase_question()], true);
    let l = e.lookup(&name("www.secure.test."), RecordType::A).await;
    assert!(
        matches!(l.verdict, Verdict::Indeterminate { .. }),
        "{}",
        l.verdict
    );
    assert!(e.stats().case_mismatches > 0);
    // The same servers without 0x20: the case is never looked at.
    let (e, _) = engine_0x20(vec![lowercase_question()], false);
    let l = e.lookup(&name("www.secure.test."), RecordType::A).await;
    assert_eq!(l.verdict, Verdict::Secure, "{}", l.verdict);
    assert_eq!(e.stats().case_mismatches, 0);
}
