//! RRSIG verification cost: `verify_rrset` (key selection, window, canonical
//! signed data, budget, ring) next to a raw ring `verify` of the very same
//! signature over the same bytes, per algorithm. The closing table prints
//! the ratio verify_rrset / ring (acceptance 5 of issue 3).
//!
//! Run: `cargo bench -p monitor --bench dnssec_verify`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use monitor::dnssec::limits::{Budget, Limits};
use monitor::dnssec::rrsig::signed_data;
use monitor::dnssec::testsign::{TestKey, ZSK};
use monitor::dnssec::verify::{RrsetOutcome, verify_rrset};
use ring::signature::{self, UnparsedPublicKey};

const INC: u32 = 1_700_000_000;
const EXP: u32 = 1_800_000_000;
const NOW: i64 = 1_750_000_000;

/// Algorithms measured, with the criterion group name.
const ALGS: &[(u8, &str)] = &[
    (8, "alg08_rsasha256_2048"),
    (10, "alg10_rsasha512_2048"),
    (13, "alg13_ecdsap256"),
    (15, "alg15_ed25519"),
];

fn key_for(alg: u8) -> TestKey {
    match alg {
        8 | 10 => TestKey::rsa2048(alg, ZSK),
        13 => TestKey::p256(ZSK),
        15 => TestKey::ed25519(ZSK),
        _ => unreachable!("not benched"),
    }
}

/// Raw ring verification, bypassing our code entirely.
fn ring_verify(alg: u8, public: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    match alg {
        8 | 10 => {
            let elen = usize::from(public[0]);
            let components = signature::RsaPublicKeyComponents {
                e: &public[1..1 + elen],
                n: &public[1 + elen..],
            };
            let params = if alg == 8 {
                &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
            } else {
                &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
            };
            components.verify(params, msg, sig).is_ok()
        }
        13 => {
            let mut point = vec![4u8];
            point.extend_from_slice(public);
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(msg, sig)
                .is_ok()
        }
        15 => UnparsedPublicKey::new(&signature::ED25519, public)
            .verify(msg, sig)
            .is_ok(),
        _ => false,
    }
}

fn bench_verify(c: &mut Criterion) {
    let zone = Name::from_ascii("example.").expect("name");
    let owner = Name::from_ascii("www.example.").expect("name");
    let rrset: Vec<Record> = (1..=3u8)
        .map(|i| {
            Record::from_rdata(
                owner.clone(),
                300,
                RData::A(A(std::net::Ipv4Addr::new(192, 0, 2, i))),
            )
        })
        .collect();
    let limits = Limits::default();
    for &(alg, group) in ALGS {
        let key = key_for(alg);
        let dnskey = key.dnskey();
        let sig = key.sign_rrset(&zone, &rrset, INC, EXP);
        let msg = signed_data(&sig, &rrset).expect("signed data");
        let public = key.public_key().to_vec();
        // Both paths must succeed on this input, or the numbers are moot.
        let mut b = Budget::new(&limits);
        assert!(matches!(
            verify_rrset(
                &owner,
                RecordType::A,
                &rrset,
                std::slice::from_ref(&sig),
                std::slice::from_ref(&dnskey),
                &zone,
                NOW,
                &mut b
            ),
            Ok(RrsetOutcome::Verified(_))
        ));
        assert!(ring_verify(alg, &public, &msg, sig.sig()));

        let mut g = c.benchmark_group(group);
        g.bench_function("verify_rrset", |bch| {
            bch.iter(|| {
                let mut budget = Budget::new(&limits);
                black_box(
                    verify_rrset(
                        black_box(&owner),
                        RecordType::A,
                        black_box(&rrset),
                        std::slice::from_ref(&sig),
                        std::slice::from_ref(&dnskey),
                        &zone,
                        NOW,
                        &mut budget,
                    )
                    .is_ok(),
                )
            })
        });
        g.bench_function("ring_raw", |bch| {
            bch.iter(|| {
                black_box(ring_verify(
                    alg,
                    black_box(&public),
                    black_box(&msg),
                    black_box(sig.sig()),
                ))
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench_verify);

/// criterion's output directory: $CRITERION_HOME, else
/// $CARGO_TARGET_DIR/criterion, else <target>/criterion found from the
/// bench executable (<target>/release/deps/dnssec_verify-*).
fn criterion_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(h));
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(t).join("criterion"));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

fn mean_ns(dir: &std::path::Path, group: &str, func: &str) -> Option<f64> {
    let path = dir
        .join(group)
        .join(func)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("mean")?.get("point_estimate")?.as_f64()
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let Some(dir) = criterion_dir() else { return };
    println!("\nverify_rrset vs raw ring verify (mean, same signature):");
    println!(
        "{:<24} {:>14} {:>14} {:>8}",
        "algorithm", "verify_rrset", "ring", "ratio"
    );
    for &(_, group) in ALGS {
        if let (Some(ours), Some(raw)) = (
            mean_ns(&dir, group, "verify_rrset"),
            mean_ns(&dir, group, "ring_raw"),
        ) {
            println!(
                "{group:<24} {:>11.1} µs {:>11.1} µs {:>8.3}",
                ours / 1e3,
                raw / 1e3,
                ours / raw
            );
        }
    }
}
