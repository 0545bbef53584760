//! verify_rrset against the RFC example signatures (each with a negative
//! twin) and against RRsets signed here with ring keys.

use hickory_proto::rr::RecordType;

use super::*;
#[allow(unused_imports, reason = "shared by the generated-key tests")]
use crate::dnssec::keytag::key_tag;
use crate::dnssec::limits::{Budget, Limits};
use crate::dnssec::test_support::*;
use crate::dnssec::testsign::{KSK, REVOKE, TestKey, ZSK};

/// Runs verify_rrset with default limits.
fn run(
    owner: &str,
    rtype: RecordType,
    rrset: &[Record],
    sigs: &[RRSIG],
    keys: &[DNSKEY],
    zone: &str,
    now: u32,
) -> (Result<RrsetOutcome, BogusReason>, Budget) {
    let mut budget = Budget::new(&Limits::default());
    let r = verify_rrset(
        &name(owner),
        rtype,
        rrset,
        sigs,
        keys,
        &name(zone),
        i64::from(now),
        &mut budget,
    );
    (r, budget)
}

fn assert_verified(r: &Result<RrsetOutcome, BogusReason>, tag: u16, alg: u8) -> RrsetVerified {
    match r {
        Ok(RrsetOutcome::Verified(v)) => {
            assert_eq!((v.key_tag, v.algorithm), (tag, alg));
            v.clone()
        }
        other => panic!("expected Verified by {tag}/{alg}, got {other:?}"),
    }
}

fn assert_sig_invalid(r: &Result<RrsetOutcome, BogusReason>, tag: u16) {
    match r {
        Err(BogusReason::SignatureInvalid { key_tag, .. }) => assert_eq!(*key_tag, tag),
        other => panic!("expected SignatureInvalid by {tag}, got {other:?}"),
    }
}

/// Positive vector plus its negative twin (one signature byte flipped).
#[allow(clippy::too_many_arguments, reason = "one vector's fields")]
fn vector_pair(
    owner: &str,
    rtype: RecordType,
    rrset: &[Record],
    sig: RRSIG,
    key: DNSKEY,
    zone: &str,
    now: u32,
    tag: u16,
    alg: u8,
) {
    let (ok, budget) = run(
        owner,
        rtype,
        rrset,
        std::slice::from_ref(&sig),
        std::slice::from_ref(&key),
        zone,
        now,
    );
    assert_verified(&ok, tag, alg);
    assert_eq!(budget.sig_verifications(), 1);
    for idx in [0, 7, sig.sig().len() - 1] {
        let (bad, _) = run(
            owner,
            rtype,
            rrset,
            &[flipped(&sig, idx)],
            std::slice::from_ref(&key),
            zone,
            now,
        );
        assert_sig_invalid(&bad, tag);
    }
}

// RFC 5702 §6.1: a 512-bit RSA/SHA-256 key. ring cannot (and RFC 8624
// says we should not) verify it: Unsupported, never Secure nor Bogus.
#[test]
fn rfc5702_6_1_rsa512_is_unsupported() {
    let key = dnskey(
        256,
        8,
        "AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=",
    );
    assert_eq!(key_tag(&key), 9033);
    let rrset = [a("www.example.net.", 3600, [192, 0, 2, 91])];
    let sig = rrsig(
        RecordType::A,
        8,
        3,
        3600,
        ts("20300101000000"),
        ts("20000101000000"),
        9033,
        "example.net.",
        "kRCOH6u7l0QGy9qpC9l1sLncJcOKFLJ7GhiUOibu4teYp5VE9RncriShZNz85mwlMgNEacFYK/lPtPiVYP4bwg==",
    );
    let now = ts("20100101000000");
    let (r, budget) = run(
        "www.example.net.",
        RecordType::A,
        &rrset,
        std::slice::from_ref(&sig),
        std::slice::from_ref(&key),
        "example.net.",
        now,
    );
    assert_eq!(r, Ok(RrsetOutcome::Unsupported { algorithm: 8 }));
    assert_eq!(
        budget.sig_verifications(),
        0,
        "no crypto on an unsupported key"
    );
    // A flipped signature does not make it bogus either: still unsupported.
    let (r, _) = run(
        "www.example.net.",
        RecordType::A,
        &rrset,
        &[flipped(&sig, 3)],
        &[key],
        "example.net.",
        now,
    );
    assert_eq!(r, Ok(RrsetOutcome::Unsupported { algorithm: 8 }));
}

// RFC 5702 §6.2: RSA/SHA-512 over www.example.net. A 192.0.2.91.
#[test]
fn rfc5702_6_2_rsasha512() {
    let key = dnskey(
        256,
        10,
        "AwEAAdHoNTOW+et86KuJOWRDp1pndvwb6Y83nSVXXyLA3DLroROUkN6X0O6pnWnjJQujX/AyhqFDxj13tOnD9u/1kTg7cV6rklMrZDtJCQ5PCl/D7QNPsgVsMu1J2Q8gpMpztNFLpPBz1bWXjDtaR7ZQBlZ3PFY12ZTSncorffcGmhOL",
    );
    assert_eq!(key_tag(&key), 3740);
    let sig = rrsig(
        RecordType::A,
        10,
        3,
        3600,
        ts("20300101000000"),
        ts("20000101000000"),
        3740,
        "example.net.",
        "tsb4wnjRUDnB1BUi+t6TMTXThjVnG+eCkWqjvvjhzQL1d0YRoOe0CbxrVDYd0xDtsuJRaeUw1ep94PzEWzr0iGYgZBWm/zpq+9fOuagYJRfDqfReKBzMweOLDiNa8iP5g9vMhpuv6OPlvpXwm9Sa9ZXIbNl1MBGk0fthPgxdDLw=",
    );
    let rrset = [a("www.example.net.", 3600, [192, 0, 2, 91])];
    vector_pair(
        "www.example.net.",
        RecordType::A,
        &rrset,
        sig,
        key,
        "example.net.",
        ts("20100101000000"),
        3740,
        10,
    );
}

// RFC 6605 §6.1: ECDSA P-256/SHA-256.
#[test]
fn rfc6605_6_1_p256() {
    let key = dnskey(
        257,
        13,
        "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
    );
    assert_eq!(key_tag(&key), 55648);
    let sig = rrsig(
        RecordType::A,
        13,
        3,
        3600,
        ts("20100909100439"),
        ts("20100812100439"),
        55648,
        "example.net.",
        "qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==",
    );
    let rrset = [a("www.example.net.", 3600, [192, 0, 2, 1])];
    vector_pair(
        "www.example.net.",
        RecordType::A,
        &rrset,
        sig,
        key,
        "example.net.",
        ts("20100820000000"),
        55648,
        13,
    );
}

// RFC 6605 §6.2: ECDSA P-384/SHA-384.
#[test]
fn rfc6605_6_2_p384() {
    let key = dnskey(
        257,
        14,
        "xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
    );
    assert_eq!(key_tag(&key), 10771);
    let sig = rrsig(
        RecordType::A,
        14,
        3,
        3600,
        ts("20100909102025"),
        ts("20100812102025"),
        10771,
        "example.net.",
        "/L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm",
    );
    let rrset = [a("www.example.net.", 3600, [192, 0, 2, 1])];
    vector_pair(
        "www.example.net.",
        RecordType::A,
        &rrset,
        sig,
        key,
        "example.net.",
        ts("20100820000000"),
        10771,
        14,
    );
}

// RFC 8080 §6.1 as corrected by erratum 4935 (the published RRSIGs lack
// the algorithm field and count 3 labels for example.com.).
#[test]
fn rfc8080_6_1_ed25519_errata_4935() {
    let now = 1_439_000_000;
    let rrset = [mx("example.com.", 3600, 10, "mail.example.com.")];
    for (tag, key, sig) in [
        (
            3613,
            "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
            "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
        ),
        (
            35217,
            "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
            "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==",
        ),
    ] {
        let key = dnskey(257, 15, key);
        assert_eq!(key_tag(&key), tag);
        let sig = rrsig(
            RecordType::MX,
            15,
            2,
            3600,
            1_440_021_600,
            1_438_207_200,
            tag,
            "example.com.",
            sig,
        );
        vector_pair(
            "example.com.",
            RecordType::MX,
            &rrset,
            sig,
            key,
            "example.com.",
            now,
            tag,
            15,
        );
    }
}

// RFC 8080 §6.2: Ed448 is not verifiable with ring: unsupported.
#[test]
fn rfc8080_6_2_ed448_is_unsupported() {
    let key = dnskey(
        257,
        16,
        "3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA",
    );
    let tag = key_tag(&key);
    assert_eq!(tag, 9713);
    let sig = rrsig(
        RecordType::MX,
        16,
        2,
        3600,
        1_440_021_600,
        1_438_207_200,
        tag,
        "example.com.",
        "3cPAHkmlnxcDHMyg7vFC34l0blBhuG1qpwLmjInI8w1CMB29FkEAIJUA0amxWndkmnBZ6SKiwZSAxGILn/NBtOXft0+Gj7FSvOKxE/07+4RQvE581N3Aj/JtIyaiYVdnYtyMWbSNyGEY2213WKsJlwEA",
    );
    let rrset = [mx("example.com.", 3600, 10, "mail.example.com.")];
    let (r, b) = run(
        "example.com.",
        RecordType::MX,
        &rrset,
        &[sig],
        &[key],
        "example.com.",
        1_439_000_000,
    );
    assert_eq!(r, Ok(RrsetOutcome::Unsupported { algorithm: 16 }));
    assert_eq!(b.sig_verifications(), 0);
}

#[path = "verify_tests_generated.rs"]
mod generated;
