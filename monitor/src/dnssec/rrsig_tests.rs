//! Canonical form (RFC 4034 §6.2, RFC 6840 §5.1), signed-data layout
//! (§3.1.8.1), wildcard owners (RFC 4035 §5.3.2) and serial-number windows.

use hickory_proto::dnssec::rdata::NSEC;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{RData, RecordType};

use super::*;
use crate::dnssec::test_support::*;

fn sig_for(rrset: &[Record], labels: u8) -> RRSIG {
    let covered = rrset[0].record_type();
    rrsig(
        covered, 13, labels, 3600, 200, 100, 4242, "Example.", "AAAA",
    )
}

#[test]
fn signed_data_layout_rfc4034_3_1_8_1() {
    let rrset = [a("WWW.Example.", 60, [192, 0, 2, 1])];
    let data = signed_data(&sig_for(&rrset, 2), &rrset).unwrap();
    let mut want = vec![
        0, 1, 13, 2, 0, 0, 0x0e, 0x10, 0, 0, 0, 200, 0, 0, 0, 100, 0x10, 0x92,
    ];
    want.extend_from_slice(b"\x07example\x00");
    // RR: lowercase owner, type A, class IN, Original TTL (not 60), rdata.
    want.extend_from_slice(b"\x03www\x07example\x00");
    want.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
    assert_eq!(data, want);
}

#[test]
fn ordering_and_duplicates_rfc4034_6_3() {
    let s = [
        a("x.example.", 1, [10, 0, 0, 2]),
        a("x.example.", 1, [10, 0, 0, 1]),
    ];
    let t = [
        a("x.example.", 1, [10, 0, 0, 1]),
        a("x.example.", 1, [10, 0, 0, 2]),
        a("x.example.", 1, [10, 0, 0, 1]),
    ];
    let sig = sig_for(&s, 2);
    assert_eq!(
        signed_data(&sig, &s).unwrap(),
        signed_data(&sig, &t).unwrap()
    );
    // Twin: a different set differs.
    let u = [a("x.example.", 1, [10, 0, 0, 1])];
    assert_ne!(
        signed_data(&sig, &s).unwrap(),
        signed_data(&sig, &u).unwrap()
    );
    // Mixed owners are refused.
    let mixed = [
        a("x.example.", 1, [10, 0, 0, 1]),
        a("y.example.", 1, [10, 0, 0, 1]),
    ];
    assert!(matches!(
        signed_data(&sig, &mixed),
        Err(BogusReason::InvalidRrsig { .. })
    ));
}

#[test]
fn rdata_name_case_rfc4034_6_2_and_rfc6840_5_1() {
    // MX exchange is lowercased.
    let upper = [mx("example.", 1, 10, "MAIL.Example.")];
    let lower = [mx("example.", 1, 10, "mail.example.")];
    assert_eq!(
        canonical_rdata(&upper[0].data).unwrap(),
        canonical_rdata(&lower[0].data).unwrap()
    );
    // NSEC next name is not (RFC 6840 §5.1).
    let n1 = RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::NSEC(NSEC::new(
        name("B.example."),
        [RecordType::A],
    )));
    let n2 = RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::NSEC(NSEC::new(
        name("b.example."),
        [RecordType::A],
    )));
    assert_ne!(canonical_rdata(&n1).unwrap(), canonical_rdata(&n2).unwrap());
    // DNAME (opaque in hickory 0.26) is lowercased by us.
    let dname = |target: &[u8]| RData::Unknown {
        code: RecordType::DNAME,
        rdata: NULL::with(target.to_vec()),
    };
    assert_eq!(
        canonical_rdata(&dname(b"\x03FOO\x07Example\x00")).unwrap(),
        b"\x03foo\x07example\x00".to_vec()
    );
    // An unlisted opaque type keeps its bytes.
    let other = RData::Unknown {
        code: RecordType::Unknown(65280),
        rdata: NULL::with(b"\x03FOO\x00".to_vec()),
    };
    assert_eq!(canonical_rdata(&other).unwrap(), b"\x03FOO\x00".to_vec());
}

#[test]
fn wildcard_owner_rfc4035_5_3_2() {
    assert_eq!(
        signed_owner(&name("a.z.w.example."), 2),
        Some(name("*.w.example."))
    );
    assert_eq!(
        signed_owner(&name("a.z.w.example."), 4),
        Some(name("a.z.w.example."))
    );
    assert_eq!(signed_owner(&name("a.z.w.example."), 5), None);
    assert_eq!(
        signed_owner(&name("*.w.example."), 2),
        Some(name("*.w.example."))
    );
    assert_eq!(signed_owner(&name("www.example."), 0), Some(name("*.")));
    let rrset = [a("a.z.w.example.", 1, [1, 2, 3, 4])];
    let data = signed_data(&sig_for(&rrset, 2), &rrset).unwrap();
    assert!(data.windows(13).any(|w| w == b"\x01*\x01w\x07example\x00"));
    assert!(matches!(
        signed_data(&sig_for(&rrset, 5), &rrset),
        Err(BogusReason::InvalidRrsig { .. })
    ));
}

#[test]
fn serial_arithmetic_rfc1982() {
    assert!(serial_lt(1, 2));
    assert!(!serial_lt(2, 1));
    assert!(!serial_lt(5, 5));
    assert!(serial_lt(0xFFFF_FFF0, 0x10), "wraps");
    assert!(!serial_lt(0x10, 0xFFFF_FFF0));
    assert!(
        !serial_lt(0, 1 << 31) && !serial_lt(1 << 31, 0),
        "undefined pair"
    );
    assert_eq!(serial_now(-1), u32::MAX);
    assert_eq!(serial_now((1 << 32) + 5), 5);
}

#[test]
fn windows() {
    let owner = name("www.example.");
    let sig = |inc: u32, exp: u32| rrsig(RecordType::A, 13, 2, 1, exp, inc, 1, "example.", "AAAA");
    assert!(check_window(&sig(100, 200), &owner, 150).is_ok());
    assert!(matches!(
        check_window(&sig(100, 200), &owner, 201),
        Err(BogusReason::SignatureExpired { .. })
    ));
    assert!(matches!(
        check_window(&sig(100, 200), &owner, 99),
        Err(BogusReason::SignatureNotYetValid { .. })
    ));
    assert!(matches!(
        check_window(&sig(200, 100), &owner, 150),
        Err(BogusReason::SignatureExpiredBeforeValid { .. })
    ));
    assert_eq!(remaining_validity(&sig(100, 200), 150), 50);
    assert_eq!(remaining_validity(&sig(100, 200), 250), 0);
    let err = check_window(&sig(100, 200), &owner, 300).unwrap_err();
    assert_eq!(
        err.ede().code,
        crate::dnssec::verdict::Ede::SIGNATURE_EXPIRED
    );
    assert!(err.to_string().contains("www.example./A"), "{err}");
}
