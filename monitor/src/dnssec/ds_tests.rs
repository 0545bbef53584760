//! DS digests against RFC 4034 §5.4, RFC 4509 §2.3, RFC 6605 §6 and
//! RFC 8080 §6.1; DS matching rules (RFC 4035 §5.2, RFC 4509 §3).

use hickory_proto::dnssec::{Algorithm, DigestType};

use super::*;
use crate::dnssec::test_support::*;
use crate::dnssec::testsign::{KSK, REVOKE, TestKey};

const DSKEY: &str = "AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==";

fn ds(tag: u16, alg: u8, digest_type: u8, digest: Vec<u8>) -> DS {
    DS::new(
        tag,
        Algorithm::from_u8(alg),
        DigestType::from(digest_type),
        digest,
    )
}

#[test]
fn rfc4034_5_4_and_rfc4509_digests() {
    let owner = name("dskey.example.com.");
    let key = dnskey(256, 5, DSKEY);
    let sha1 = hex("2BB183AF5F22588179A53B0A98631FAD1A292118");
    let sha256 = hex("D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A");
    assert_eq!(ds_digest(&owner, &key, 1), Some(sha1.clone()));
    assert_eq!(ds_digest(&owner, &key, 2), Some(sha256.clone()));
    // Owner case does not matter (canonical form).
    assert_eq!(
        ds_digest(&name("DSKEY.Example.COM."), &key, 1),
        Some(sha1.clone())
    );
    assert_eq!(ds_digest(&owner, &key, 3), None, "GOST unsupported");
    assert_eq!(ds_digest(&owner, &key, 9), None);
    // Negative twin: another owner gives another digest.
    assert_ne!(
        ds_digest(&name("other.example.com."), &key, 1),
        Some(sha1.clone())
    );

    match match_ds(
        &owner,
        &[ds(60485, 5, 1, sha1.clone())],
        std::slice::from_ref(&key),
    ) {
        DsMatch::Matched { key_tags, .. } => assert_eq!(key_tags, vec![60485]),
        other => panic!("{other:?}"),
    }
    let mut bad = sha1;
    bad[0] ^= 1;
    assert_eq!(
        match_ds(&owner, &[ds(60485, 5, 1, bad)], &[key]),
        DsMatch::NoneMatch {
            ds_key_tags: vec![60485]
        }
    );
}

#[test]
fn rfc6605_and_rfc8080_ds() {
    let owner = name("example.net.");
    let p256 = dnskey(
        257,
        13,
        "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
    );
    assert_eq!(
        ds_digest(&owner, &p256, 2),
        Some(hex(
            "b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17"
        ))
    );
    let p384 = dnskey(
        257,
        14,
        "xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
    );
    let d384 = hex(
        "72d7b62976ce06438e9c0bf319013cf801f09ecc84b8d7e9495f27e305c6a9b0563a9b5f4d288405c3008a946df983d6",
    );
    assert_eq!(ds_digest(&owner, &p384, 4), Some(d384.clone()));
    assert!(matches!(
        match_ds(&owner, &[ds(10771, 14, 4, d384.clone())], &[p256.clone(), p384.clone()]),
        DsMatch::Matched { ref key_tags, .. } if key_tags == &[10771]
    ));
    // Negative twin: the DS of the P-384 key does not match the P-256 key.
    assert!(matches!(
        match_ds(&owner, &[ds(10771, 14, 4, d384)], &[p256]),
        DsMatch::NoneMatch { .. }
    ));
    let ed = dnskey(257, 15, "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=");
    assert_eq!(
        ds_digest(&name("example.com."), &ed, 2),
        Some(hex(
            "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b"
        ))
    );
}

/// RFC 4509 §3: with a SHA-256 DS for the key, a SHA-1 DS is ignored.
#[test]
fn sha1_ds_ignored_when_sha256_present() {
    let owner = name("child.example.");
    let k = TestKey::ed25519(KSK);
    let key = k.dnskey();
    let tag = k.key_tag();
    let good1 = ds(tag, 15, 1, ds_digest(&owner, &key, 1).unwrap());
    let mut bad256 = ds_digest(&owner, &key, 2).unwrap();
    bad256[3] ^= 0xff;
    // The SHA-256 DS is wrong, the SHA-1 one right: must not match.
    assert_eq!(
        match_ds(
            &owner,
            &[good1.clone(), ds(tag, 15, 2, bad256)],
            std::slice::from_ref(&key)
        ),
        DsMatch::NoneMatch {
            ds_key_tags: vec![tag]
        }
    );
    // Twin: SHA-1 alone is used.
    assert!(matches!(
        match_ds(&owner, &[good1], &[key]),
        DsMatch::Matched { .. }
    ));
}

#[test]
fn unsupported_digest_or_algorithm_is_insecure() {
    let owner = name("child.example.");
    let k = TestKey::ed25519(KSK);
    let gost = ds(k.key_tag(), 15, 3, vec![0; 32]);
    assert!(matches!(
        match_ds(&owner, std::slice::from_ref(&gost), &[k.dnskey()]),
        DsMatch::Unsupported {
            reason: InsecureReason::UnsupportedDigest { digest_type: 3, .. }
        }
    ));
    let ed448 = ds(9713, 16, 2, vec![0; 32]);
    assert!(matches!(
        match_ds(&owner, &[ed448], &[k.dnskey()]),
        DsMatch::Unsupported {
            reason: InsecureReason::UnsupportedAlgorithm { algorithm: 16, .. }
        }
    ));
    // Twin: a supported DS next to the GOST one is used (and must match).
    let sha256 = ds(
        k.key_tag(),
        15,
        2,
        ds_digest(&owner, &k.dnskey(), 2).unwrap(),
    );
    assert!(matches!(
        match_ds(&owner, &[gost, sha256], &[k.dnskey()]),
        DsMatch::Matched { .. }
    ));
}

#[test]
fn small_rsa_key_matched_by_ds_is_unsupported() {
    // RFC 5702 §6.1's 512-bit key.
    let owner = name("example.net.");
    let key = dnskey(
        257,
        8,
        "AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=",
    );
    let d = ds(
        crate::dnssec::keytag::key_tag(&key),
        8,
        2,
        ds_digest(&owner, &key, 2).unwrap(),
    );
    assert!(matches!(
        match_ds(&owner, &[d], &[key]),
        DsMatch::Unsupported {
            reason: InsecureReason::UnsupportedAlgorithm { algorithm: 8, .. }
        }
    ));
}

#[test]
fn revoked_or_non_zone_key_cannot_be_matched() {
    let owner = name("child.example.");
    for flags in [KSK | REVOKE, 1] {
        let k = TestKey::p256(flags);
        let d = ds(
            k.key_tag(),
            13,
            2,
            ds_digest(&owner, &k.dnskey(), 2).unwrap(),
        );
        assert!(
            matches!(
                match_ds(&owner, &[d], &[k.dnskey()]),
                DsMatch::NoneMatch { .. }
            ),
            "{flags}"
        );
    }
}
