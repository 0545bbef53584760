//! NSEC3 hashes (RFC 5155 Appendix A) and proofs over the RFC 5155 example
//! zone (Appendix B cases), plus the RFC 9276 / CVE-2023-50868 limits.

use hickory_proto::dnssec::Nsec3HashAlgorithm;
use hickory_proto::rr::RecordType;
use hickory_proto::rr::RecordType::{A, AAAA, DNSKEY, DS, HINFO, MX, NS, NSEC3PARAM, RRSIG, SOA};

use super::*;
use crate::dnssec::test_support::name;

const SALT: [u8; 4] = [0xaa, 0xbb, 0xcc, 0xdd];

#[test]
fn rfc5155_appendix_a_hashes() {
    for (n, h) in [
        ("example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
        ("a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
        ("ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"),
        ("ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
        ("ns2.example.", "q04jkcevqvmu85r014c7dkba38o0ji5r"),
        ("w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"),
        ("*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
        ("x.w.example.", "b4um86eghhds6nea196smvmlo4ors995"),
        ("y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"),
        ("x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s"),
        ("xx.example.", "t644ebqk9bibcna874givr6joj62mlhv"),
    ] {
        let got = base32hex_encode(&nsec3_hash(&name(n), &SALT, 12));
        assert_eq!(got, h, "{n}");
        assert_eq!(
            base32hex_decode(h.as_bytes()).unwrap(),
            nsec3_hash(&name(n), &SALT, 12)
        );
        // Case-insensitive input name (canonical form).
        assert_eq!(
            base32hex_encode(&nsec3_hash(&name(&n.to_uppercase()), &SALT, 12)),
            h
        );
    }
    // Negative twins: other salt / iterations give other hashes.
    assert_ne!(
        base32hex_encode(&nsec3_hash(&name("example."), &SALT, 11)),
        "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"
    );
    assert_ne!(
        base32hex_encode(&nsec3_hash(&name("example."), &[0xaa], 12)),
        "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"
    );
    assert!(
        base32hex_decode(b"0p9mhaveqvm6t7vbl5lop2u3t2rp3tow").is_none(),
        "w is not base32hex"
    );
}

/// The RFC 5155 Appendix A zone as an NSEC3 chain (c.example. is an
/// unsigned delegation inside an opt-out span, so it has no NSEC3).
fn rfc5155_zone(opt_out: bool, iterations: u16) -> Vec<(Name, NSEC3)> {
    let names: &[(&str, &[RecordType])] = &[
        ("example.", &[NS, SOA, MX, RRSIG, DNSKEY, NSEC3PARAM]),
        ("a.example.", &[NS, DS, RRSIG]),
        ("ai.example.", &[A, HINFO, AAAA, RRSIG]),
        ("ns1.example.", &[A, RRSIG]),
        ("ns2.example.", &[A, RRSIG]),
        ("w.example.", &[]),
        ("*.w.example.", &[MX, RRSIG]),
        ("x.w.example.", &[MX, RRSIG]),
        ("y.w.example.", &[]),
        ("x.y.w.example.", &[MX, RRSIG]),
        ("xx.example.", &[A, HINFO, AAAA, RRSIG]),
    ];
    chain(names, "example.", opt_out, iterations)
}

fn chain(
    names: &[(&str, &[RecordType])],
    zone: &str,
    opt_out: bool,
    iterations: u16,
) -> Vec<(Name, NSEC3)> {
    let mut hashed: Vec<(Vec<u8>, Vec<RecordType>)> = names
        .iter()
        .map(|(n, t)| (nsec3_hash(&name(n), &SALT, iterations), t.to_vec()))
        .collect();
    hashed.sort();
    (0..hashed.len())
        .map(|i| {
            let next = hashed[(i + 1) % hashed.len()].0.clone();
            let owner = name(&format!("{}.{zone}", base32hex_encode(&hashed[i].0)));
            let rdata = NSEC3::new(
                Nsec3HashAlgorithm::SHA1,
                opt_out,
                iterations,
                SALT.to_vec(),
                next,
                hashed[i].1.clone(),
            );
            (owner, rdata)
        })
        .collect()
}

fn deny(q: &str, t: RecordType, chain: &[(Name, NSEC3)]) -> (Denial, Budget) {
    let limits = Limits::default();
    let mut budget = Budget::new(&limits);
    let d = nsec3_denial(&name(q), t, chain, &name("example."), &limits, &mut budget);
    (d, budget)
}

#[test]
fn b1_name_error() {
    // Without opt-out: a proven NXDOMAIN.
    let (d, b) = deny("a.c.x.w.example.", A, &rfc5155_zone(false, 12));
    assert_eq!(d, Denial::NxDomain);
    assert!(b.nsec3_hashes() <= 6, "{}", b.nsec3_hashes());
    // As in the RFC (opt-out everywhere): c.x.w.example. could be an
    // unsigned delegation, so the answer is insecure, not proven.
    let (d, _) = deny("a.c.x.w.example.", A, &rfc5155_zone(true, 12));
    assert_eq!(d, Denial::OptOutInsecure);
    // Negative twin: drop the NSEC3 covering the wildcard *.x.w.example.
    let z = rfc5155_zone(false, 12);
    let hw = nsec3_hash(&name("*.x.w.example."), &SALT, 12);
    let pruned: Vec<_> = z
        .iter()
        .filter(|(o, r)| {
            let h = base32hex_decode(o.iter().next().unwrap()).unwrap();
            let next = r.next_hashed_owner_name();
            !((h.as_slice() < hw.as_slice() && hw.as_slice() < next)
                || (h.as_slice() > next && (hw > h || hw.as_slice() < next)))
        })
        .cloned()
        .collect();
    assert_eq!(pruned.len(), z.len() - 1);
    assert!(matches!(
        deny("a.c.x.w.example.", A, &pruned).0,
        Denial::NotProven(_)
    ));
}

#[test]
fn b2_no_data_and_empty_non_terminal() {
    let z = rfc5155_zone(true, 12);
    assert_eq!(deny("ns1.example.", MX, &z).0, Denial::NoData);
    assert_eq!(deny("y.w.example.", A, &z).0, Denial::NoData);
    // Negative twin: the type exists.
    assert!(matches!(
        deny("ns1.example.", A, &z).0,
        Denial::NotProven(_)
    ));
}

#[test]
fn b3_ds_in_opt_out_span_and_unsigned_delegation() {
    let z = rfc5155_zone(true, 12);
    assert_eq!(deny("c.example.", DS, &z).0, Denial::OptOutInsecure);
    // a.example. has NS and DS: no denial of its DS.
    assert!(matches!(deny("a.example.", DS, &z).0, Denial::NotProven(_)));
    // An NSEC3 at a delegation with NS and no DS proves an unsigned one.
    let names = [("example.", vec![NS, SOA]), ("b.example.", vec![NS])];
    let chain_b = chain(
        &names
            .iter()
            .map(|(n, t)| (*n, t.as_slice()))
            .collect::<Vec<_>>(),
        "example.",
        false,
        0,
    );
    assert_eq!(
        deny("b.example.", DS, &chain_b).0,
        Denial::InsecureDelegation
    );
    // The parent-side NSEC3 proves nothing about other types at the cut.
    assert!(matches!(
        deny("b.example.", A, &chain_b).0,
        Denial::NotProven(_)
    ));
    // Without opt-out the DS of a missing name is a plain NXDOMAIN.
    let z = rfc5155_zone(false, 12);
    assert_eq!(deny("c.example.", DS, &z).0, Denial::NxDomain);
}

#[test]
fn b4_wildcard_expansion_and_b5_wildcard_no_data() {
    let limits = Limits::default();
    let mut b = Budget::new(&limits);
    let wild = |z: &[(Name, NSEC3)], b: &mut Budget| {
        nsec3_wildcard_answer_proof(
            &name("a.z.w.example."),
            &name("*.w.example."),
            z,
            &name("example."),
            &limits,
            b,
        )
    };
    assert_eq!(
        wild(&rfc5155_zone(false, 12), &mut b),
        Denial::WildcardAnswerOk
    );
    // As in the RFC (opt-out everywhere): the proof holds, but the cover is
    // opt-out, so the caller makes the answer insecure (no AD).
    let z = rfc5155_zone(true, 12);
    assert_eq!(wild(&z, &mut b), Denial::WildcardAnswerOk);
    let opt = |z: &[(Name, NSEC3)], b: &mut Budget| {
        nsec3_next_closer_opt_out(
            &name("a.z.w.example."),
            &name("*.w.example."),
            z,
            &name("example."),
            &limits,
            b,
        )
    };
    assert!(opt(&z, &mut b));
    assert!(!opt(&rfc5155_zone(false, 12), &mut b));
    // Negative twin: x.w.example. exists, so *.w.example. cannot expand
    // to a.x.w.example. (the next closer name x.w.example. is not covered).
    let d = nsec3_wildcard_answer_proof(
        &name("a.x.w.example."),
        &name("*.w.example."),
        &z,
        &name("example."),
        &limits,
        &mut b,
    );
    assert!(matches!(d, Denial::NotProven(_)), "{d:?}");
    // B.5: the wildcard exists without AAAA.
    assert_eq!(
        deny("a.z.w.example.", AAAA, &rfc5155_zone(false, 12)).0,
        Denial::WildcardNoData
    );
    assert_eq!(deny("a.z.w.example.", AAAA, &z).0, Denial::OptOutInsecure);
    assert!(matches!(
        deny("a.z.w.example.", MX, &rfc5155_zone(false, 12)).0,
        Denial::NotProven(_)
    ));
}

/// RFC 9276 §3.2: too many iterations is insecure, decided before hashing.
#[test]
fn hostile_2500_iterations_no_hash_computed() {
    let names: &[(&str, &[RecordType])] = &[("example.", &[SOA, NS]), ("b.example.", &[A])];
    // Build with a cheap iteration count, then claim 2,500 (the owner
    // hashes are irrelevant: the check comes first).
    let cheap = chain(names, "example.", false, 0);
    let hostile: Vec<(Name, NSEC3)> = cheap
        .iter()
        .map(|(o, r)| {
            (
                o.clone(),
                NSEC3::new(
                    Nsec3HashAlgorithm::SHA1,
                    false,
                    2500,
                    SALT.to_vec(),
                    r.next_hashed_owner_name().to_vec(),
                    r.type_bit_maps(),
                ),
            )
        })
        .collect();
    let (d, b) = deny("a.b.example.", A, &hostile);
    assert_eq!(d, Denial::Nsec3IterationsTooHigh(2500));
    assert_eq!(b.nsec3_hashes(), 0);
    assert_eq!(b.nsec3_sha1_ops(), 0);
    let limits = Limits::default();
    let mut budget = Budget::new(&limits);
    let d = nsec3_wildcard_answer_proof(
        &name("a.example."),
        &name("*.example."),
        &hostile,
        &name("example."),
        &limits,
        &mut budget,
    );
    assert_eq!(d, Denial::Nsec3IterationsTooHigh(2500));
    assert_eq!(budget.nsec3_hashes(), 0);
    // Twin: at the limit (150) the proof is computed.
    let ok = chain(names, "example.", false, 150);
    let (d, b) = deny("b.example.", MX, &ok);
    assert_eq!(d, Denial::NoData);
    assert_eq!(b.nsec3_hashes(), 1);
}

/// CVE-2023-50868: a long name walks many ancestors; the hash budget stops it.
#[test]
fn hash_budget_bounds_closest_encloser_walk() {
    let z = chain(&[("example.", &[SOA, NS])], "example.", false, 150);
    let long: String = "a.".repeat(100) + "example.";
    let limits = Limits::default();
    let mut budget = Budget::new(&limits);
    let d = nsec3_denial(&name(&long), A, &z, &name("example."), &limits, &mut budget);
    assert!(matches!(d, Denial::BudgetExceeded { .. }), "{d:?}");
    assert_eq!(budget.nsec3_hashes(), limits.max_nsec3_hashes);
    assert!(budget.nsec3_sha1_ops() <= u64::from(limits.max_nsec3_hashes) * 151);
}

#[test]
fn records_of_other_params_or_zones_ignored() {
    let mut z = rfc5155_zone(false, 12);
    // A record from another zone and one with other parameters.
    let (o, r) = z[0].clone();
    let foreign = name(&format!(
        "{}.other.",
        o.iter()
            .next()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .unwrap()
    ));
    z.insert(0, (foreign, r.clone()));
    assert_eq!(deny("ns1.example.", MX, &z).0, Denial::NoData);
    assert_eq!(deny("a.c.x.w.example.", A, &z).0, Denial::NxDomain);
}
