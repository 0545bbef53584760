//! Differential test (issue 3, acceptance 3): a hierarchy with its own root,
//! signed at test time by ldns-signzone (ECDSA P-256, RSA-2048 + NSEC3,
//! NSEC3 opt-out, Ed25519; one zone with a broken signature, one expired, one
//! whose DS matches no key, one unsigned), served by nsd on loopback.
//! For each name/type, our engine (in-process over real UDP/TCP, and the
//! `dnssec-monitor validate` binary when built) must reach the outcome BIND's
//! `delv` reaches; and delv must reach the outcome the lab was built to
//! produce, so a broken lab cannot make the comparison vacuous.
//!
//! Needs root (port 53) and nsd/unbound/delv/ldns: skipped otherwise unless
//! DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1, then it fails.

use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use monitor::dnssec::anchors::TrustAnchors;
use monitor::dnssec::engine::{Engine, EngineConfig};
use monitor::dnssec::roothints::RootHints;
use monitor::dnssec::transport_net::NetTransport;
use tests::deckard::check::rcode_name;
use tests::lab::oracle::delv;
use tests::lab::process::run_combined;
use tests::lab::{Lab, available};

/// (name, type, outcome the lab is built to produce, rcode, what it covers)
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        ".",
        "DNSKEY",
        "secure",
        "NOERROR",
        "root keys from the anchor",
    ),
    ("test.", "SOA", "secure", "NOERROR", "TLD"),
    (
        "nx.test.",
        "A",
        "secure",
        "NXDOMAIN",
        "NSEC NXDOMAIN in a TLD",
    ),
    ("www.ecdsa.test.", "A", "secure", "NOERROR", "alg 13"),
    ("txt.ecdsa.test.", "TXT", "secure", "NOERROR", "alg 13 TXT"),
    ("ecdsa.test.", "DNSKEY", "secure", "NOERROR", "DNSKEY RRset"),
    ("nx.ecdsa.test.", "A", "secure", "NXDOMAIN", "NSEC NXDOMAIN"),
    (
        "www.ecdsa.test.",
        "AAAA",
        "secure",
        "NOERROR",
        "NSEC NODATA",
    ),
    (
        "a.wild.ecdsa.test.",
        "A",
        "secure",
        "NOERROR",
        "NSEC wildcard answer",
    ),
    (
        "b.wild.ecdsa.test.",
        "AAAA",
        "secure",
        "NOERROR",
        "NSEC wildcard NODATA",
    ),
    (
        "alias.ecdsa.test.",
        "A",
        "secure",
        "NOERROR",
        "CNAME in zone",
    ),
    (
        "cross.ecdsa.test.",
        "A",
        "secure",
        "NOERROR",
        "CNAME into an NSEC3 zone",
    ),
    (
        "to-unsigned.ecdsa.test.",
        "A",
        "insecure",
        "NOERROR",
        "CNAME into an unsigned zone",
    ),
    (
        "www.rsa-nsec3.test.",
        "A",
        "secure",
        "NOERROR",
        "alg 8 RSA-2048",
    ),
    (
        "nx.rsa-nsec3.test.",
        "A",
        "secure",
        "NXDOMAIN",
        "NSEC3 NXDOMAIN",
    ),
    (
        "www.rsa-nsec3.test.",
        "AAAA",
        "secure",
        "NOERROR",
        "NSEC3 NODATA",
    ),
    (
        "a.wild.rsa-nsec3.test.",
        "A",
        "secure",
        "NOERROR",
        "NSEC3 wildcard answer",
    ),
    (
        "b.wild.rsa-nsec3.test.",
        "AAAA",
        "secure",
        "NOERROR",
        "NSEC3 wildcard NODATA",
    ),
    (
        "alias.rsa-nsec3.test.",
        "A",
        "secure",
        "NOERROR",
        "CNAME in an NSEC3 zone",
    ),
    (
        "www.optout.test.",
        "A",
        "secure",
        "NOERROR",
        "signed data in an opt-out zone",
    ),
    // RFC 5155 §9.2: no AD when the next closer name is covered by an
    // opt-out NSEC3 (BIND and Unbound agree; Deckard val_nsec3_optout_ad).
    (
        "a.wild.optout.test.",
        "A",
        "insecure",
        "NOERROR",
        "wildcard, next closer in an opt-out span",
    ),
    (
        "host.insecure-sub.optout.test.",
        "A",
        "insecure",
        "NOERROR",
        "unsigned delegation under opt-out",
    ),
    ("www.ed.test.", "A", "secure", "NOERROR", "alg 15 Ed25519"),
    ("nx.ed.test.", "A", "secure", "NXDOMAIN", "alg 15 NXDOMAIN"),
    ("www.ed.test.", "TXT", "secure", "NOERROR", "alg 15 NODATA"),
    (
        "good.broken.test.",
        "A",
        "secure",
        "NOERROR",
        "intact record in the damaged zone",
    ),
    (
        "www.broken.test.",
        "A",
        "bogus",
        "NOERROR",
        "corrupted RRSIG",
    ),
    (
        "www.expired.test.",
        "A",
        "bogus",
        "NOERROR",
        "expired signatures",
    ),
    (
        "nx.expired.test.",
        "A",
        "bogus",
        "NXDOMAIN",
        "expired NXDOMAIN proof",
    ),
    (
        "www.badds.test.",
        "A",
        "bogus",
        "NOERROR",
        "DS matches no DNSKEY",
    ),
    (
        "www.unsigned.test.",
        "A",
        "insecure",
        "NOERROR",
        "unsigned delegation",
    ),
    (
        "nx.unsigned.test.",
        "A",
        "insecure",
        "NXDOMAIN",
        "unsigned NXDOMAIN",
    ),
];

/// Engine defects this test has found and the engine owners have been told
/// about: a disagreement here is reported, not failed; an agreement fails
/// so the entry is removed once fixed (it cannot hide a regression).
const KNOWN_ENGINE_ISSUES: &[(&str, &str, &str)] = &[];
fn root_required() -> bool {
    std::env::var("DNSSEC_MONITOR_REQUIRE_ROOT_TESTS").is_ok_and(|v| v == "1")
}

/// `target/<profile>/dnssec-monitor` next to this test binary, if built.
fn monitor_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DNSSEC_MONITOR_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    // target/debug/deps/differential-… → target/debug/dnssec-monitor
    let p = exe.parent()?.parent()?.join("dnssec-monitor");
    if !p.is_file() {
        return None;
    }
    // A binary built before `validate` took these options cannot be compared.
    let mut help = Command::new(&p);
    help.args(["validate", "--help"]);
    let (_, out, err, _) = run_combined(help, Duration::from_secs(10)).ok()?;
    let text = format!("{out}{err}");
    (text.contains("--root-hints") && text.contains("--json")).then_some(p)
}

/// `dnssec-monitor validate --json`: (outcome, rcode).
fn cli(bin: &PathBuf, lab: &Lab, name: &str, rtype: &str) -> Result<(String, String), String> {
    let mut c = Command::new(bin);
    c.arg("validate")
        .arg("--root-hints")
        .arg(lab.root_hints_file())
        .arg("--trust-anchor")
        .arg(lab.anchor_file())
        .args(["--json", name, rtype]);
    let (_, stdout, stderr, desc) = run_combined(c, Duration::from_secs(60))?;
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("{desc}: not JSON ({e}): {stdout}{stderr}"))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("?").to_string();
    Ok((s("outcome"), mnemonic(&s("rcode"))))
}

/// `NXDOMAIN`, `NXDomain` or hickory's "Non-Existent Domain" → `NXDOMAIN`.
fn mnemonic(rcode: &str) -> String {
    let squashed: String = rcode
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase();
    match squashed.as_str() {
        "NOERROR" => "NOERROR",
        "NXDOMAIN" | "NONEXISTENTDOMAIN" => "NXDOMAIN",
        "SERVFAIL" | "SERVERFAILURE" => "SERVFAIL",
        "REFUSED" | "QUERYREFUSED" => "REFUSED",
        _ => return squashed,
    }
    .to_string()
}

#[test]
fn engine_agrees_with_delv_on_a_signed_lab() {
    if let Err(why) = available() {
        assert!(
            !root_required(),
            "differential test required but cannot run: {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    assert!(CASES.len() >= 25);
    let lab = Lab::start().expect("lab");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut cfg =
        EngineConfig::iterative(RootHints::from_file(lab.root_hints_file()).expect("hints"));
    cfg.trust_anchors = TrustAnchors::from_file(lab.anchor_file()).expect("anchor");
    let engine = Engine::new(cfg, Arc::new(NetTransport::default()));
    let bin = monitor_binary();
    if bin.is_none() {
        eprintln!(
            "dnssec-monitor binary with `validate --root-hints --json` not built: \
             comparing the in-process engine only"
        );
    }
    let mut problems = Vec::new();
    for &(name, rtype, want, want_rcode, what) in CASES {
        let oracle = match delv(&lab.path("delv.anchor"), name, rtype) {
            Ok(o) => o,
            Err(e) => {
                problems.push(format!("{name} {rtype}: delv: {e}"));
                continue;
            }
        };
        let want_pair = (want.to_string(), want_rcode.to_string());
        let delv_pair = (oracle.outcome.clone(), oracle.rcode.clone());
        // The rcode of a bogus answer is whatever the resolver makes of it.
        let same = |a: &(String, String), b: &(String, String)| {
            a.0 == b.0 && (a.0 == "bogus" || a.1 == b.1)
        };
        if !same(&want_pair, &delv_pair) {
            problems.push(format!(
                "{name} {rtype} ({what}): lab broken? delv says {delv_pair:?}, lab built for {want_pair:?}\n{}",
                oracle.raw
            ));
            continue;
        }
        let qname = Name::from_str(name).unwrap();
        let qtype = RecordType::from_str(rtype).unwrap();
        let lookup = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), engine.lookup(&qname, qtype)).await
        });
        match lookup {
            Err(_) => problems.push(format!(
                "{name} {rtype} ({what}): engine: no verdict within 30 s"
            )),
            Ok(l) => {
                let ours = (
                    l.verdict.outcome().to_string(),
                    rcode_name(u16::from(l.rcode)),
                );
                let known = KNOWN_ENGINE_ISSUES
                    .iter()
                    .find(|(n, t, _)| *n == name && *t == rtype);
                match (same(&ours, &delv_pair), known) {
                    (true, None) => {}
                    (false, None) => problems.push(format!(
                        "{name} {rtype} ({what}): engine says {ours:?} ({}), delv {delv_pair:?}",
                        l.verdict
                    )),
                    (false, Some((_, _, issue))) => {
                        eprintln!("known engine issue, {name} {rtype}: {issue}: engine {ours:?}, delv {delv_pair:?}")
                    }
                    (true, Some(_)) => problems.push(format!(
                        "{name} {rtype}: engine now agrees with delv: remove it from KNOWN_ENGINE_ISSUES"
                    )),
                }
            }
        }
        let known = KNOWN_ENGINE_ISSUES
            .iter()
            .any(|(n, t, _)| *n == name && *t == rtype);
        if let (Some(bin), false) = (&bin, known) {
            match cli(bin, &lab, name, rtype) {
                Ok(c) if same(&c, &delv_pair) => {}
                Ok(c) => problems.push(format!(
                    "{name} {rtype} ({what}): `dnssec-monitor validate` says {c:?}, delv {delv_pair:?}"
                )),
                Err(e) => problems.push(format!("{name} {rtype}: validate: {e}")),
            }
        }
    }
    drop(engine);
    rt.shutdown_timeout(Duration::from_secs(2));
    assert!(
        problems.is_empty(),
        "{} of {} name/type pairs disagree:\n{}",
        problems.len(),
        CASES.len(),
        problems.join("\n")
    );
}
