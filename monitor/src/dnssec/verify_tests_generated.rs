//! verify_rrset on RRsets signed here with ring keys: windows, wildcards,
//! canonical form and order, key selection, TTL capping, KeyTrap limits.

use super::*;

const INC: u32 = 1_700_000_000;
const EXP: u32 = 1_700_100_000;
const NOW: u32 = 1_700_050_000;

fn a_set(owner: &str) -> Vec<Record> {
    vec![
        a(owner, 300, [192, 0, 2, 3]),
        a(owner, 300, [192, 0, 2, 1]),
        a(owner, 300, [192, 0, 2, 2]),
    ]
}

#[test]
fn window_expired_and_not_yet_valid() {
    let k = TestKey::ed25519(ZSK);
    let rrset = a_set("www.example.");
    let sig = k.sign_rrset(&name("example."), &rrset, INC, EXP);
    let keys = [k.dnskey()];
    // Inclusive bounds (RFC 4035 §5.3.1).
    for now in [INC, EXP, NOW] {
        let (r, _) = run(
            "www.example.",
            RecordType::A,
            &rrset,
            std::slice::from_ref(&sig),
            &keys,
            "example.",
            now,
        );
        assert_verified(&r, k.key_tag(), 15);
    }
    let (r, b) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        std::slice::from_ref(&sig),
        &keys,
        "example.",
        EXP + 1,
    );
    assert!(
        matches!(
            r,
            Err(BogusReason::SignatureExpired {
                expiration: EXP,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(b.sig_verifications(), 0, "window checked before crypto");
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        &[sig],
        &keys,
        "example.",
        INC - 1,
    );
    assert!(
        matches!(
            r,
            Err(BogusReason::SignatureNotYetValid { inception: INC, .. })
        ),
        "{r:?}"
    );
}

#[test]
fn window_across_the_32_bit_wrap() {
    let k = TestKey::p256(ZSK);
    let rrset = a_set("www.example.");
    let (inc, exp) = (0xFFFF_FF00u32, 0x0000_1000u32);
    let sig = k.sign_rrset(&name("example."), &rrset, inc, exp);
    let keys = [k.dnskey()];
    // now is past 2^32 (year 2106): serial arithmetic keeps it inside.
    let now = (1i64 << 32) + 0x100;
    let mut budget = Budget::new(&Limits::default());
    let r = verify_rrset(
        &name("www.example."),
        RecordType::A,
        &rrset,
        std::slice::from_ref(&sig),
        &keys,
        &name("example."),
        now,
        &mut budget,
    );
    let v = assert_verified(&r, k.key_tag(), 13);
    assert_eq!(v.ttl, 300);
    let late = (1i64 << 32) + 0x2000;
    let r = verify_rrset(
        &name("www.example."),
        RecordType::A,
        &rrset,
        &[sig],
        &keys,
        &name("example."),
        late,
        &mut budget,
    );
    assert!(
        matches!(r, Err(BogusReason::SignatureExpired { .. })),
        "{r:?}"
    );
}

#[test]
fn wildcard_expansion_is_reported() {
    let k = TestKey::ed25519(ZSK);
    let wild = vec![mx("*.w.example.", 3600, 1, "ai.example.")];
    let sig = k.sign_rrset(&name("example."), &wild, INC, EXP);
    assert_eq!(sig.input().num_labels, 2);
    // The answer as synthesized for x.y.w.example. (RFC 4035 §5.3.2).
    let expanded = vec![mx("x.y.w.example.", 3600, 1, "ai.example.")];
    let (r, _) = run(
        "x.y.w.example.",
        RecordType::MX,
        &expanded,
        std::slice::from_ref(&sig),
        &[k.dnskey()],
        "example.",
        NOW,
    );
    let v = assert_verified(&r, k.key_tag(), 15);
    assert_eq!(v.wildcard, Some(name("*.w.example.")));
    // Not expanded when the owner is the wildcard itself.
    let (r, _) = run(
        "*.w.example.",
        RecordType::MX,
        &wild,
        std::slice::from_ref(&sig),
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert_eq!(assert_verified(&r, k.key_tag(), 15).wildcard, None);
    // Negative twin: expanded under another parent does not verify.
    let other = vec![mx("x.v.example.", 3600, 1, "ai.example.")];
    let (r, _) = run(
        "x.v.example.",
        RecordType::MX,
        &other,
        &[sig],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert_sig_invalid(&r, k.key_tag());
}

#[test]
fn labels_above_owner_is_invalid() {
    let k = TestKey::ed25519(ZSK);
    let rrset = a_set("www.example.");
    let mut input = k.input_for(&name("example."), &rrset, INC, EXP);
    input.num_labels = 3;
    let sig = k.sign_input(input.clone(), &a_set("a.www.example."));
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        &[sig],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert!(matches!(r, Err(BogusReason::InvalidRrsig { .. })), "{r:?}");
}

#[test]
fn canonical_order_case_and_duplicates() {
    let k = TestKey::p384(ZSK);
    let rrset = a_set("www.example.");
    let sig = k.sign_rrset(&name("example."), &rrset, INC, EXP);
    // Other order, upper-case owner, a duplicate: same signed data (§6.2, §6.3).
    let mut shuffled = a_set("WWW.Example.");
    shuffled.reverse();
    shuffled.push(a("www.EXAMPLE.", 300, [192, 0, 2, 2]));
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &shuffled,
        std::slice::from_ref(&sig),
        &[k.dnskey()],
        "EXAMPLE.",
        NOW,
    );
    assert_verified(&r, k.key_tag(), 14);
    // Negative twin: one address changed.
    let mut changed = a_set("www.example.");
    changed[0] = a("www.example.", 300, [192, 0, 2, 9]);
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &changed,
        &[sig],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert_sig_invalid(&r, k.key_tag());
}

#[test]
fn rdata_names_lowercased_for_mx() {
    let k = TestKey::ed25519(ZSK);
    let rrset = vec![mx("example.", 300, 10, "Mail.Example.")];
    let sig = k.sign_rrset(&name("example."), &rrset, INC, EXP);
    let lower = vec![mx("example.", 300, 10, "mail.example.")];
    let (r, _) = run(
        "example.",
        RecordType::MX,
        &lower,
        std::slice::from_ref(&sig),
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert_verified(&r, k.key_tag(), 15);
    let other = vec![mx("example.", 300, 10, "mail2.example.")];
    let (r, _) = run(
        "example.",
        RecordType::MX,
        &other,
        &[sig],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert_sig_invalid(&r, k.key_tag());
}

#[test]
fn rsa_2048_sha256_and_sha512() {
    for alg in [8u8, 10] {
        let k = TestKey::rsa2048(alg, KSK);
        let rrset = a_set("example.");
        let sig = k.sign_rrset(&name("example."), &rrset, INC, EXP);
        let (r, _) = run(
            "example.",
            RecordType::A,
            &rrset,
            std::slice::from_ref(&sig),
            &[k.dnskey()],
            "example.",
            NOW,
        );
        assert_verified(&r, k.key_tag(), alg);
        let (r, _) = run(
            "example.",
            RecordType::A,
            &rrset,
            &[flipped(&sig, 100)],
            &[k.dnskey()],
            "example.",
            NOW,
        );
        assert_sig_invalid(&r, k.key_tag());
    }
}

#[test]
fn revoked_key_is_not_used() {
    let k = TestKey::ed25519(KSK | REVOKE);
    let rrset = a_set("example.");
    let sig = k.sign_rrset(&name("example."), &rrset, INC, EXP);
    let (r, b) = run(
        "example.",
        RecordType::A,
        &rrset,
        &[sig],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert!(matches!(r, Err(BogusReason::DnsKeyRevoked { .. })), "{r:?}");
    assert_eq!(b.sig_verifications(), 0);
    // Twin: the same kind of key without REVOKE verifies.
    let k = TestKey::ed25519(KSK);
    let sig = k.sign_rrset(&name("example."), &rrset, INC, EXP);
    let (r, _) = run(
        "example.",
        RecordType::A,
        &rrset,
        &[sig],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert_verified(&r, k.key_tag(), 15);
}

#[test]
fn key_without_zone_flag_is_not_used() {
    let k = TestKey::ed25519(0);
    let rrset = a_set("example.");
    let sig = k.sign_rrset(&name("example."), &rrset, INC, EXP);
    let (r, _) = run(
        "example.",
        RecordType::A,
        &rrset,
        &[sig],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert!(
        matches!(r, Err(BogusReason::NoZoneKeyBitSet { .. })),
        "{r:?}"
    );
}

#[test]
fn wrong_signer_and_missing_pieces() {
    let k = TestKey::ed25519(ZSK);
    let rrset = a_set("www.example.");
    let sig = k.sign_rrset(&name("other.example."), &rrset, INC, EXP);
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        &[sig],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert!(matches!(r, Err(BogusReason::WrongSigner { .. })), "{r:?}");
    // Owner outside the zone.
    let sig = k.sign_rrset(&name("example."), &rrset, INC, EXP);
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        std::slice::from_ref(&sig),
        &[k.dnskey()],
        "other.",
        NOW,
    );
    assert!(matches!(r, Err(BogusReason::WrongSigner { .. })), "{r:?}");
    // No RRSIG for the type.
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        &[],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert!(matches!(r, Err(BogusReason::RrsigsMissing { .. })), "{r:?}");
    // No key with the tag.
    let other = TestKey::ed25519(ZSK);
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        std::slice::from_ref(&sig),
        &[other.dnskey()],
        "example.",
        NOW,
    );
    assert!(matches!(r, Err(BogusReason::NoMatchingKey { .. })), "{r:?}");
    // Both keys present: the right one is found.
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        &[sig],
        &[other.dnskey(), k.dnskey()],
        "example.",
        NOW,
    );
    assert_verified(&r, k.key_tag(), 15);
}

#[test]
fn ttl_capped_by_original_ttl_and_expiration() {
    let k = TestKey::ed25519(ZSK);
    let rrset = a_set("www.example.");
    let sig = k.sign_rrset(&name("example."), &rrset, INC, EXP);
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        std::slice::from_ref(&sig),
        &[k.dnskey()],
        "example.",
        EXP - 100,
    );
    assert_eq!(assert_verified(&r, k.key_tag(), 15).ttl, 100);
    let mut input = k.input_for(&name("example."), &rrset, INC, EXP);
    input.original_ttl = 30;
    let sig30 = k.sign_input(input, &rrset);
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        &[sig30],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert_eq!(assert_verified(&r, k.key_tag(), 15).ttl, 30);
    let (r, _) = run(
        "www.example.",
        RecordType::A,
        &rrset,
        &[sig],
        &[k.dnskey()],
        "example.",
        NOW,
    );
    assert_eq!(assert_verified(&r, k.key_tag(), 15).ttl, 300);
}

#[test]
fn unsupported_only_vs_supported_failure() {
    let k = TestKey::ed25519(ZSK);
    let rrset = a_set("example.");
    let good = k.sign_rrset(&name("example."), &rrset, INC, EXP);
    // An Ed448 key and signature next to it (alg 16: unsupported).
    let ed448 = dnskey(
        257,
        16,
        "3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA",
    );
    let mut input = k.input_for(&name("example."), &rrset, INC, EXP);
    input.algorithm = hickory_proto::dnssec::Algorithm::from_u8(16);
    input.key_tag = key_tag(&ed448);
    let s448 = RRSIG::from_sig(input, vec![7; 114]);
    let keys = [k.dnskey(), ed448.clone()];
    let (r, _) = run(
        "example.",
        RecordType::A,
        &rrset,
        std::slice::from_ref(&s448),
        &keys,
        "example.",
        NOW,
    );
    assert_eq!(r, Ok(RrsetOutcome::Unsupported { algorithm: 16 }));
    // A valid supported signature wins over the unsupported one.
    let (r, _) = run(
        "example.",
        RecordType::A,
        &rrset,
        &[s448.clone(), good.clone()],
        &keys,
        "example.",
        NOW,
    );
    assert_verified(&r, k.key_tag(), 15);
    // A failing supported signature is not downgraded to unsupported.
    let (r, _) = run(
        "example.",
        RecordType::A,
        &rrset,
        &[s448, flipped(&good, 5)],
        &keys,
        "example.",
        NOW,
    );
    assert_sig_invalid(&r, k.key_tag());
}

/// KeyTrap (CVE-2023-50387): 50 DNSKEYs sharing one key tag and 50 RRSIGs
/// naming it. Without limits that is 2,500 verifications.
#[test]
fn keytrap_50_keys_50_sigs_is_bounded() {
    let limits = Limits::default();
    let mut keys = Vec::new();
    for i in 0..50u8 {
        // Same key tag: +i on one high-order byte, -i on another (App. B sum).
        let mut pk = [0x80u8; 32];
        pk[0] = 0x80 + i;
        pk[2] = 0x80 - i;
        keys.push(DNSKEY::with_flags(
            ZSK,
            hickory_proto::dnssec::PublicKeyBuf::new(
                pk.to_vec(),
                hickory_proto::dnssec::Algorithm::ED25519,
            ),
        ));
    }
    let tag = key_tag(&keys[0]);
    assert!(keys.iter().all(|k| key_tag(k) == tag));
    let rrset = a_set("example.");
    let sigs: Vec<RRSIG> = (0..50u8)
        .map(|i| {
            rrsig(
                RecordType::A,
                15,
                1,
                300,
                EXP,
                INC,
                tag,
                "example.",
                &base64_of(&[i; 64]),
            )
        })
        .collect();
    let mut budget = Budget::new(&limits);
    let r = verify_rrset(
        &name("example."),
        RecordType::A,
        &rrset,
        &sigs,
        &keys,
        &name("example."),
        i64::from(NOW),
        &mut budget,
    );
    assert!(
        matches!(r, Err(BogusReason::BudgetExceeded { .. })),
        "{r:?}"
    );
    assert!(budget.sig_verifications() <= limits.max_sig_verifications);
    assert_eq!(budget.sig_verifications(), limits.max_sig_verifications);

    // With a small budget per tag and a generous total, each RRSIG tries
    // at most max_keys_per_tag keys: 50 × 4 = 200 verifications.
    let roomy = Limits {
        max_sig_verifications: 10_000,
        ..Limits::default()
    };
    let mut budget = Budget::new(&roomy);
    let r = verify_rrset(
        &name("example."),
        RecordType::A,
        &rrset,
        &sigs,
        &keys,
        &name("example."),
        i64::from(NOW),
        &mut budget,
    );
    assert!(
        matches!(r, Err(BogusReason::SignatureInvalid { .. })),
        "{r:?}"
    );
    assert_eq!(budget.sig_verifications(), 50 * roomy.max_keys_per_tag);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
