//! Every rule: a firing case and its benign twin, with real verdicts from
//! the in-process signed hierarchy (see [`super::lab`]).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::alert::{Alert, Rule, Severity};
use super::lab::{Lab, Reply, a_rec, cdn_hierarchy, forged, policy, rules};
use super::policy::NtaPolicy;
use super::testkit::RESOLVER;
use crate::dnssec::testnet::{name, standard_hierarchy};
use crate::dnssec::verdict::Verdict;

const SECURE: u8 = 3;
const UNSIGNED: u8 = 5;
const BROKEN: u8 = 6;

/// Flips one bit of byte `at` of `r`'s signature if `r` is an RRSIG;
/// whether it was.
fn flip_signature_byte(r: &mut hickory_proto::rr::Record, at: usize) -> bool {
    use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
    use hickory_proto::rr::RData;
    let RData::DNSSEC(DNSSECRData::RRSIG(s)) = &r.data else {
        return false;
    };
    let mut bytes = s.sig().to_vec();
    bytes[at] ^= 0x01;
    r.data = RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(
        s.input().clone(),
        bytes,
    )));
    true
}

// ---- benign baseline ------------------------------------------------------

#[tokio::test]
async fn valid_signed_answer_with_do_raises_nothing() {
    let mut lab = Lab::new(policy());
    let al = lab
        .via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            true,
            Reply::default(),
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
    let c = lab.det.counters();
    assert_eq!(c.evaluated.load(std::sync::atomic::Ordering::Relaxed), 1);
}

/// The kernel fast path learns only from exchanges that raised nothing
/// and whose verdict may be reused: a clean Secure answer is reported, the
/// same answer with one signature byte flipped is not (its repeats must
/// keep coming up to be judged).
#[tokio::test]
async fn only_clean_exchanges_are_reported_to_the_fast_path() {
    let (mut lab, log) = Lab::reporting_clean(policy());
    let al = lab
        .via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            true,
            Reply::default(),
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
    let al = flipped_signature_txn(&mut lab).await;
    assert_eq!(rules(&al), vec![Rule::BogusSignature], "{al:?}");
    let seen = log.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, "www.secure.test.");
    assert!(seen[0].1 > 0, "a verdict TTL: {seen:?}");
}

// ---- bogus_signature --------------------------------------------------------

/// `www.secure.test. A` through the resolver with one byte of every
/// captured RRSIG flipped (DO and RD set); the alerts it raised.
async fn flipped_signature_txn(lab: &mut Lab) -> Vec<Alert> {
    let mut auth = lab.auth(SECURE, "www.secure.test.", RecordType::A).await;
    for r in auth.answers.iter_mut() {
        flip_signature_byte(r, 7);
    }
    lab.txn(
        "www.secure.test.",
        RecordType::A,
        true,
        true,
        RESOLVER,
        |q| Lab::resolver_answer(q, &auth, Reply::default()),
    )
    .await
}

#[tokio::test]
async fn flipped_byte_in_captured_rrsig_is_bogus_signature() {
    let mut lab = Lab::new(policy());
    let al = flipped_signature_txn(&mut lab).await;
    assert_eq!(rules(&al), vec![Rule::BogusSignature], "{al:?}");
    assert!(
        al[0]
            .detail
            .contains("fail against the validated DNSKEYs of zone secure.test"),
        "{}",
        al[0].detail
    );
    assert!(al[0].lookup.as_ref().unwrap().verdict.is_secure());
}

#[tokio::test]
async fn accepted_answer_for_bogus_zone_is_bogus_signature() {
    let mut lab = Lab::new(policy());
    let al = lab
        .via_resolver(
            BROKEN,
            "www.broken.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::BogusSignature], "{al:?}");
    assert!(al[0].detail.contains("is bogus"), "{}", al[0].detail);
    assert!(matches!(
        al[0].lookup.as_ref().unwrap().verdict,
        Verdict::Bogus { .. }
    ));
}

#[tokio::test]
async fn validating_resolver_servfail_for_bogus_zone_is_no_alert() {
    let mut p = policy();
    p.validating_resolvers = p.resolvers.clone();
    let mut lab = Lab::new(p);
    let al = lab
        .via_resolver(
            BROKEN,
            "www.broken.test.",
            RecordType::A,
            true,
            Reply {
                rcode: Some(ResponseCode::ServFail),
                ..Reply::default()
            },
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
}

#[tokio::test]
async fn nta_zone_is_not_alerted() {
    let (net, anchor) = standard_hierarchy(Vec::new());
    let mut p = policy();
    p.nta.push(NtaPolicy {
        zone: name("broken.test."),
        expires: None,
    });
    let mut lab = Lab::over(net, anchor, p, &["broken.test."]);
    let al = lab
        .via_resolver(
            BROKEN,
            "www.broken.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
}

// ---- unsigned_fallback ------------------------------------------------------

#[tokio::test]
async fn stripped_rrsigs_with_do_is_unsigned_fallback() {
    let mut lab = Lab::new(policy());
    let al = lab
        .via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            true,
            Reply {
                strip_rrsigs: true,
                ..Reply::default()
            },
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::UnsignedFallback], "{al:?}");
    let d = &al[0].detail;
    assert!(
        d.starts_with("stripped: query had DO=1, zone secure.test is signed (DS "),
        "{d}"
    );
    assert!(d.contains("answer for www.secure.test/A"), "{d}");
}

#[tokio::test]
async fn no_rrsigs_to_a_query_without_do_is_fine() {
    let mut lab = Lab::new(policy());
    let al = lab
        .via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
}

#[tokio::test]
async fn validating_resolver_with_ad0_is_unsigned_fallback() {
    let mut p = policy();
    p.validating_resolvers = p.resolvers.clone();
    let mut lab = Lab::new(p);
    let al = lab
        .via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            true,
            Reply::default(),
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::UnsignedFallback], "{al:?}");
    assert!(al[0].detail.contains("with AD=0"), "{}", al[0].detail);
    // Twins: AD=1; and a DO=0 stub query (glibc) that never asked for AD.
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
    let al = lab
        .via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
}

#[tokio::test]
async fn answer_from_unlisted_server_for_secure_name_is_unsigned_fallback() {
    let mut lab = Lab::new(policy());
    let auth = lab.auth(SECURE, "www.secure.test.", RecordType::A).await;
    let al = lab
        .txn(
            "www.secure.test.",
            RecordType::A,
            true,
            false,
            "8.8.8.8:53",
            |q| Lab::resolver_answer(q, &auth, Reply::default()),
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::UnsignedFallback], "{al:?}");
    assert!(
        al[0]
            .detail
            .contains("from 8.8.8.8:53, outside the configured resolvers (10.0.0.53:53)"),
        "{}",
        al[0].detail
    );
    assert_eq!(
        al[0].event.as_ref().unwrap().process.as_ref().unwrap().name,
        "curl"
    );
}

#[tokio::test]
async fn unlisted_server_for_unsigned_name_or_rd0_is_fine() {
    let mut lab = Lab::new(policy());
    let auth = lab
        .auth(UNSIGNED, "www.unsigned.test.", RecordType::A)
        .await;
    let al = lab
        .txn(
            "www.unsigned.test.",
            RecordType::A,
            true,
            false,
            "8.8.8.8:53",
            |q| Lab::resolver_answer(q, &auth, Reply::default()),
        )
        .await;
    assert!(al.is_empty(), "unsigned zone: {al:?}");
    // A local resolver's iterative query (RD=0) to the authoritative server.
    let auth = lab.auth(SECURE, "www.secure.test.", RecordType::A).await;
    let al = lab
        .txn(
            "www.secure.test.",
            RecordType::A,
            false,
            true,
            "198.18.0.3:53",
            |q| Lab::resolver_answer(q, &auth, Reply::default()),
        )
        .await;
    assert!(al.is_empty(), "RD=0 is never a fallback path: {al:?}");
}

#[tokio::test]
async fn referral_without_ds_for_signed_child_is_unsigned_fallback() {
    let mut lab = Lab::new(policy());
    // The test. server's referral to secure.test., with its DS removed.
    let mut auth = lab.auth(2, "www.secure.test.", RecordType::A).await;
    assert!(auth.answers.is_empty());
    auth.authorities
        .retain(|r| !matches!(r.record_type(), RecordType::DS | RecordType::RRSIG));
    let al = lab
        .txn(
            "www.secure.test.",
            RecordType::A,
            false,
            true,
            "198.18.0.2:53",
            |q| {
                let mut m = auth.clone();
                m.metadata.id = q.metadata.id;
                m
            },
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::UnsignedFallback], "{al:?}");
    assert!(
        al[0]
            .detail
            .contains("referral claims secure.test is an unsigned delegation"),
        "{}",
        al[0].detail
    );
    // Twin: the genuine referral with its DS.
    let auth = lab.auth(2, "www.secure.test.", RecordType::A).await;
    let al = lab
        .txn(
            "www.secure.test.",
            RecordType::A,
            false,
            true,
            "198.18.0.2:53",
            |q| {
                let mut m = auth.clone();
                m.metadata.id = q.metadata.id;
                m
            },
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
}

// ---- answer_mismatch --------------------------------------------------------

#[tokio::test]
async fn forged_a_for_signed_name_is_answer_mismatch_high() {
    let mut lab = Lab::new(policy());
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
    assert_eq!(rules(&al), vec![Rule::AnswerMismatch], "{al:?}");
    assert_eq!(al[0].severity, Severity::High);
    let d = &al[0].detail;
    assert!(d.contains("host got 6.6.6.6 for www.secure.test/A"), "{d}");
    assert!(d.contains("validated: 192.0.2.1"), "{d}");
    assert!(d.contains("confirmed by a fresh lookup"), "{d}");
    assert!(
        lab.det
            .verdicts()
            .stats()
            .confirming_requeries
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test]
async fn forged_a_for_unsigned_name_is_answer_mismatch_medium() {
    let mut lab = Lab::new(policy());
    let al = lab
        .txn(
            "www.unsigned.test.",
            RecordType::A,
            true,
            false,
            RESOLVER,
            |q| {
                forged(
                    q,
                    ResponseCode::NoError,
                    vec![a_rec("www.unsigned.test.", [6, 6, 6, 6])],
                )
            },
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::AnswerMismatch], "{al:?}");
    assert_eq!(al[0].severity, Severity::Medium);
    // Twin: the genuine unsigned answer.
    let al = lab
        .via_resolver(
            UNSIGNED,
            "www.unsigned.test.",
            RecordType::A,
            false,
            Reply::default(),
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
}

#[tokio::test]
async fn forged_nxdomain_is_answer_mismatch() {
    let mut lab = Lab::new(policy());
    let al = lab
        .txn(
            "www.secure.test.",
            RecordType::A,
            true,
            false,
            RESOLVER,
            |q| forged(q, ResponseCode::NXDomain, vec![]),
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::AnswerMismatch], "{al:?}");
    assert!(
        al[0].detail.starts_with("host got NXDOMAIN"),
        "{}",
        al[0].detail
    );
    // Twin: a genuine NXDOMAIN (proven by NSEC).
    let al = lab
        .via_resolver(
            SECURE,
            "nx.secure.test.",
            RecordType::A,
            true,
            Reply::default(),
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
}

/// A denial whose proofs carry a broken signature (one byte of the NSEC
/// or SOA RRSIG in the authority section flipped) is as bogus as a forged
/// address; the genuine denial is the twin in
/// `forged_nxdomain_is_answer_mismatch`.
#[tokio::test]
async fn flipped_byte_in_a_denials_authority_rrsig_is_bogus_signature() {
    let mut lab = Lab::new(policy());
    let mut auth = lab.auth(SECURE, "nx.secure.test.", RecordType::A).await;
    assert_eq!(auth.metadata.response_code, ResponseCode::NXDomain);
    // The first RRSIG only: one broken proof is enough.
    let flipped = auth
        .authorities
        .iter_mut()
        .any(|r| flip_signature_byte(r, 5));
    assert!(flipped, "the denial carries RRSIGs: {auth:?}");
    let al = lab
        .txn(
            "nx.secure.test.",
            RecordType::A,
            true,
            true,
            RESOLVER,
            |q| Lab::resolver_answer(q, &auth, Reply::default()),
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::BogusSignature], "{al:?}");
    assert!(
        al[0].detail.contains("in the authority section")
            && al[0]
                .detail
                .contains("fail against the validated DNSKEYs of zone secure.test"),
        "{}",
        al[0].detail
    );
}

/// A genuine NXDOMAIN whose covering NSEC is owned by a delegation point
/// (`broken.test. NSEC expired.test. NS DS …`, signed by `test.`, the
/// parent side of the cut; RFC 4035 §2.3): judged by its signer's zone,
/// not by the child zone its owner name starts.
#[tokio::test]
async fn a_denial_proved_by_a_parent_side_nsec_raises_nothing() {
    let mut lab = Lab::new(policy());
    let auth = lab.auth(2, "c.test.", RecordType::A).await;
    assert_eq!(auth.metadata.response_code, ResponseCode::NXDomain);
    assert!(
        auth.authorities
            .iter()
            .any(|r| r.record_type() == RecordType::NSEC
                && r.name == hickory_proto::rr::Name::from_ascii("broken.test.").unwrap()),
        "{auth:?}"
    );
    let al = lab
        .txn("c.test.", RecordType::A, true, true, RESOLVER, |q| {
            Lab::resolver_answer(q, &auth, Reply::default())
        })
        .await;
    assert!(al.is_empty(), "{al:?}");
}

#[tokio::test]
async fn forged_answer_over_rd0_is_still_answer_mismatch() {
    let mut lab = Lab::new(policy());
    let al = lab
        .txn(
            "www.secure.test.",
            RecordType::A,
            false,
            false,
            "198.18.0.3:53",
            |q| {
                forged(
                    q,
                    ResponseCode::NoError,
                    vec![a_rec("www.secure.test.", [6, 6, 6, 6])],
                )
            },
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::AnswerMismatch], "{al:?}");
}

#[tokio::test]
async fn allow_listed_name_is_not_alerted() {
    let mut p = policy();
    p.allow.push(name("secure.test."));
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
}

#[tokio::test]
async fn cdn_rotation_among_validated_sets_is_no_mismatch() {
    let (net, anchor) = cdn_hierarchy();
    let mut lab = Lab::over(net, anchor, policy(), &[]);
    // The engine's first lookup sees 192.0.2.10; the host got the other
    // rotation (192.0.2.20): the confirming re-query sees it validated.
    let al = lab
        .txn("www.cdn.test.", RecordType::A, true, false, RESOLVER, |q| {
            forged(
                q,
                ResponseCode::NoError,
                vec![a_rec("www.cdn.test.", [192, 0, 2, 20])],
            )
        })
        .await;
    assert!(al.is_empty(), "{al:?}");
    // Now both sets are in the history: either is accepted without re-query.
    let before = lab
        .det
        .verdicts()
        .stats()
        .confirming_requeries
        .load(std::sync::atomic::Ordering::Relaxed);
    for ip in [[192, 0, 2, 10], [192, 0, 2, 20]] {
        let al = lab
            .txn("www.cdn.test.", RecordType::A, true, false, RESOLVER, |q| {
                forged(q, ResponseCode::NoError, vec![a_rec("www.cdn.test.", ip)])
            })
            .await;
        assert!(al.is_empty(), "{al:?}");
    }
    let after = lab
        .det
        .verdicts()
        .stats()
        .confirming_requeries
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(before, after);
    // Twin: an address never validated.
    let al = lab
        .txn("www.cdn.test.", RecordType::A, true, false, RESOLVER, |q| {
            forged(
                q,
                ResponseCode::NoError,
                vec![a_rec("www.cdn.test.", [6, 6, 6, 6])],
            )
        })
        .await;
    assert_eq!(rules(&al), vec![Rule::AnswerMismatch], "{al:?}");
}

#[tokio::test]
async fn chain_leaving_an_authoritative_zone_is_no_denial() {
    // RD=0: the secure.test. server answers alias.secure.test./A with only
    // the CNAME to www.other.test. (another zone); the engine's chain ends
    // in data. Not a mismatch.
    let mut lab = Lab::new(policy());
    let auth = lab.auth(SECURE, "alias.secure.test.", RecordType::A).await;
    assert!(
        auth.answers
            .iter()
            .any(|r| r.record_type() == RecordType::CNAME)
    );
    let al = lab
        .txn(
            "alias.secure.test.",
            RecordType::A,
            false,
            true,
            "198.18.0.3:53",
            |q| {
                let mut m = auth.clone();
                m.metadata.id = q.metadata.id;
                m
            },
        )
        .await;
    assert!(al.is_empty(), "{al:?}");
    // Twin: the same name answered NXDOMAIN.
    let al = lab
        .txn(
            "alias.secure.test.",
            RecordType::A,
            false,
            false,
            "198.18.0.3:53",
            |q| forged(q, ResponseCode::NXDomain, vec![]),
        )
        .await;
    assert_eq!(rules(&al), vec![Rule::AnswerMismatch], "{al:?}");
}

#[tokio::test]
async fn a_flood_of_forged_answers_is_confirmed_once() {
    let mut lab = Lab::new(policy());
    for _ in 0..5 {
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
        assert_eq!(rules(&al), vec![Rule::AnswerMismatch], "{al:?}");
    }
    let s = lab.det.verdicts().stats();
    use std::sync::atomic::Ordering::Relaxed;
    // One round of re-queries (one per server start), then reused.
    let n = crate::detect::verdicts::CONFIRM_SERVERS as u64;
    assert_eq!(s.confirming_requeries.load(Relaxed), n);
    assert_eq!(s.confirm_reused.load(Relaxed), 4 * n);
}

// ---- traffic of a DNS server on this host ---------------------------------

/// The query and answer of one exchange over `RESOLVER` whose captured
/// answer carries a broken signature (judged: one bogus_signature), seen
/// on interfaces leading to `side` in the given directions.
async fn broken_exchange_on(
    lab: &mut Lab,
    side: crate::capture::Side,
    query_dir: crate::capture::Direction,
    answer_dir: crate::capture::Direction,
) -> Vec<super::alert::Alert> {
    use super::testkit::{CLIENT, event, query_msg};
    let iface = |direction| {
        Some(crate::capture::InterfaceRef {
            index: 4,
            name: "eth0".into(),
            direction,
            side,
        })
    };
    let mut auth = lab.auth(SECURE, "www.secure.test.", RecordType::A).await;
    for r in auth.answers.iter_mut() {
        flip_signature_byte(r, 7);
    }
    let q = query_msg(0x5151, "www.secure.test.", RecordType::A, true, true);
    let a = Lab::resolver_answer(&q, &auth, Reply::default());
    let ms = lab.now_ms(10);
    let mut qe = event(q, CLIENT, RESOLVER, ms);
    qe.interface = iface(query_dir);
    assert!(lab.det.on_event(qe).await.is_empty());
    let ms = lab.now_ms(5);
    let mut ae = event(a, CLIENT, RESOLVER, ms);
    ae.interface = iface(answer_dir);
    lab.det.on_event(ae).await
}

#[tokio::test]
async fn answers_a_server_here_sends_to_other_machines_are_not_judged() {
    use crate::capture::{Direction, Side};
    use std::sync::atomic::Ordering::Relaxed;
    // A resolver on this host answering a machine on the network: the
    // query arrived and the answer left through a NIC. Not an answer the
    // host received (DESIGN.md, Detection): joined, nothing judged, no
    // lookup made on a remote client's behalf, no health.
    let mut lab = Lab::new(policy());
    let al = broken_exchange_on(
        &mut lab,
        Side::Network,
        Direction::Ingress,
        Direction::Egress,
    )
    .await;
    assert!(al.is_empty(), "{al:?}");
    let c = lab.det.counters();
    assert_eq!(c.served.load(Relaxed), 2);
    assert_eq!(c.evaluated.load(Relaxed), 0);
    assert_eq!(
        lab.det.outstanding().joined,
        1,
        "the answer releases its query"
    );
    // Judged: the host as the client over the same NIC; a server here
    // answering a container or VM on this host (the answer leaves toward
    // the guest, who received it); an interface of unknown side (a pcap).
    for (side, query_dir, answer_dir) in [
        (Side::Network, Direction::Egress, Direction::Ingress),
        (Side::Guests, Direction::Ingress, Direction::Egress),
        (Side::Unknown, Direction::Ingress, Direction::Egress),
    ] {
        let mut lab = Lab::new(policy());
        let al = broken_exchange_on(&mut lab, side, query_dir, answer_dir).await;
        assert_eq!(rules(&al), vec![Rule::BogusSignature], "{side:?}: {al:?}");
        assert_eq!(lab.det.counters().served.load(Relaxed), 0, "{side:?}");
    }
}

#[test]
fn side_of_interfaces() {
    use crate::capture::Side;
    assert_eq!(Side::of(772, None), Side::Loopback);
    assert_eq!(Side::of(1, None), Side::Network, "a NIC has no link kind");
    for k in ["vlan", "bond", "vxlan", "macvlan"] {
        assert_eq!(Side::of(1, Some(k)), Side::Network, "{k}");
    }
    for k in ["veth", "bridge", "netkit"] {
        assert_eq!(Side::of(1, Some(k)), Side::Guests, "{k}");
    }
    // A tap (a VM's NIC) leads to a guest; a tun or wireguard (VPN) does not.
    assert_eq!(Side::of(1, Some("tun")), Side::Guests);
    assert_eq!(Side::of(65534, Some("tun")), Side::Network);
    assert_eq!(Side::of(65534, Some("wireguard")), Side::Network);
}
