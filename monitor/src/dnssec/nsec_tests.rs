//! NSEC proofs over the RFC 4035 Appendix A zone (Appendix B cases) and
//! the RFC 6840 §4.1 traps.

use hickory_proto::rr::RecordType;
use hickory_proto::rr::RecordType::{A, AAAA, DNAME, DNSKEY, DS, HINFO, MX, NS, RRSIG, SOA};

use super::*;
use crate::dnssec::test_support::name;

fn zone() -> Vec<(Name, NSEC)> {
    let rows: &[(&str, &str, &[RecordType])] = &[
        (
            "example.",
            "a.example.",
            &[NS, SOA, MX, RRSIG, RecordType::NSEC, DNSKEY],
        ),
        (
            "a.example.",
            "ai.example.",
            &[NS, DS, RRSIG, RecordType::NSEC],
        ),
        (
            "ai.example.",
            "b.example.",
            &[A, HINFO, AAAA, RRSIG, RecordType::NSEC],
        ),
        ("b.example.", "ns1.example.", &[NS, RRSIG, RecordType::NSEC]),
        (
            "ns1.example.",
            "ns2.example.",
            &[A, RRSIG, RecordType::NSEC],
        ),
        (
            "ns2.example.",
            "*.w.example.",
            &[A, RRSIG, RecordType::NSEC],
        ),
        (
            "*.w.example.",
            "x.w.example.",
            &[MX, RRSIG, RecordType::NSEC],
        ),
        (
            "x.w.example.",
            "x.y.w.example.",
            &[MX, RRSIG, RecordType::NSEC],
        ),
        (
            "x.y.w.example.",
            "xx.example.",
            &[MX, RRSIG, RecordType::NSEC],
        ),
        (
            "xx.example.",
            "example.",
            &[A, HINFO, AAAA, RRSIG, RecordType::NSEC],
        ),
    ];
    rows.iter()
        .map(|(o, n, t)| (name(o), NSEC::new(name(n), t.iter().copied())))
        .collect()
}

fn deny(q: &str, t: RecordType, z: &[(Name, NSEC)]) -> Denial {
    nsec_denial(&name(q), t, z, &name("example."))
}

#[test]
fn canonical_cover() {
    assert!(nsec_covers(
        &name("b.example."),
        &name("ns1.example."),
        &name("ml.example.")
    ));
    assert!(!nsec_covers(
        &name("b.example."),
        &name("ns1.example."),
        &name("b.example.")
    ));
    assert!(!nsec_covers(
        &name("b.example."),
        &name("ns1.example."),
        &name("ns1.example.")
    ));
    // The last NSEC wraps to the apex.
    assert!(nsec_covers(
        &name("xx.example."),
        &name("example."),
        &name("z.example.")
    ));
    assert!(!nsec_covers(
        &name("xx.example."),
        &name("example."),
        &name("a.example.")
    ));
    assert!(!nsec_covers(
        &name("xx.example."),
        &name("example."),
        &name("z.other.")
    ));
}

#[test]
fn b2_name_error() {
    let z = zone();
    assert_eq!(deny("ml.example.", A, &z), Denial::NxDomain);
    assert_eq!(deny("z.example.", A, &z), Denial::NxDomain, "wrapping NSEC");
    // Negative twin: without the apex NSEC nothing denies *.example.
    let pruned: Vec<_> = z
        .iter()
        .filter(|(o, _)| o != &name("example."))
        .cloned()
        .collect();
    assert!(matches!(
        deny("ml.example.", A, &pruned),
        Denial::NotProven(_)
    ));
    // And without the covering NSEC for the name itself.
    let pruned: Vec<_> = z
        .iter()
        .filter(|(o, _)| o != &name("b.example."))
        .cloned()
        .collect();
    assert!(matches!(
        deny("ml.example.", A, &pruned),
        Denial::NotProven(_)
    ));
}

#[test]
fn b3_no_data_and_empty_non_terminal() {
    let z = zone();
    assert_eq!(deny("ns1.example.", MX, &z), Denial::NoData);
    assert!(matches!(deny("ns1.example.", A, &z), Denial::NotProven(_)));
    // w.example. exists only as the parent of *.w.example.
    assert_eq!(deny("w.example.", A, &z), Denial::NoData);
}

#[test]
fn b5_unsigned_delegation_and_parent_side_nsec() {
    let z = zone();
    assert_eq!(deny("b.example.", DS, &z), Denial::InsecureDelegation);
    // B.8: the child's apex NSEC cannot deny the child's DS.
    let child = vec![(
        name("b.example."),
        NSEC::new(name("b.example."), [SOA, NS, DNSKEY]),
    )];
    assert!(matches!(
        nsec_denial(&name("b.example."), DS, &child, &name("b.example.")),
        Denial::NotProven(_)
    ));
    // The root has no parent: its apex NSEC denies a root DS.
    let root = vec![(
        Name::root(),
        NSEC::new(name("com."), [SOA, NS, DNSKEY, RRSIG]),
    )];
    assert_eq!(
        nsec_denial(&Name::root(), DS, &root, &Name::root()),
        Denial::NoData
    );
    // a.example. has a DS: not denied.
    assert!(matches!(deny("a.example.", DS, &z), Denial::NotProven(_)));
    // RFC 6840 §4.1: the parent's NSEC at the cut says nothing about the
    // child's types or names.
    assert!(matches!(deny("b.example.", A, &z), Denial::NotProven(_)));
    assert!(matches!(
        deny("mc.b.example.", MX, &z),
        Denial::NotProven(_)
    ));
}

#[test]
fn b6_wildcard_expansion_proof() {
    let z = zone();
    assert!(nsec_wildcard_answer_proof(
        &name("a.z.w.example."),
        &name("*.w.example."),
        &z,
        &name("example.")
    ));
    // Negative twins: x.w.example. exists, so the wildcard cannot apply;
    // and a wildcard that is not an ancestor's child cannot either.
    assert!(!nsec_wildcard_answer_proof(
        &name("a.x.w.example."),
        &name("*.w.example."),
        &z,
        &name("example.")
    ));
    assert!(!nsec_wildcard_answer_proof(
        &name("a.z.w.example."),
        &name("*.v.example."),
        &z,
        &name("example.")
    ));
}

#[test]
fn b7_wildcard_no_data() {
    let z = zone();
    assert_eq!(deny("a.z.w.example.", AAAA, &z), Denial::WildcardNoData);
    // The wildcard has MX: not a denial.
    assert!(matches!(
        deny("a.z.w.example.", MX, &z),
        Denial::NotProven(_)
    ));
}

#[test]
fn dname_owner_cannot_deny_descendants() {
    let z = vec![
        (name("example."), NSEC::new(name("d.example."), [SOA, NS])),
        (name("d.example."), NSEC::new(name("example."), [DNAME])),
    ];
    assert!(matches!(deny("x.d.example.", A, &z), Denial::NotProven(_)));
    // Twin without the DNAME bit: a plain name error.
    let z = vec![
        (name("example."), NSEC::new(name("d.example."), [SOA, NS])),
        (name("d.example."), NSEC::new(name("example."), [A])),
    ];
    assert_eq!(deny("x.d.example.", A, &z), Denial::NxDomain);
}

#[test]
fn out_of_zone_is_not_proven() {
    assert!(matches!(
        nsec_denial(&name("www.other."), A, &zone(), &name("example.")),
        Denial::NotProven(_)
    ));
}
