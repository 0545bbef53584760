//! `dnssec-monitor report` through the binary, over a store holding a
//! realistic identity-infrastructure posture (an IdP, a token endpoint, a
//! secrets manager in an unsigned internal zone, a mesh control plane
//! whose signatures expire in two days, a partner API gone bogus; a
//! healthy local resolver and one that stopped answering). The HTML is
//! rendered in headless Chromium (Debian `chromium`, installed by
//! `cargo xtask setup`).
//!
//! `REPORT_SCREENSHOT=FILE` keeps the screenshot (docs/report.png itself
//! comes from a lab run: tests/tests/report_lab.rs).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use monitor::detect::latency::LatencyHist;
use monitor::store::{
    Alert, BatchWriter, NameObservation, Posture, Record, ResolverStat, Store, Transaction,
};
use serde_json::{Value, json};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dnssec-monitor"))
}

fn ago(secs: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(secs)
}

fn ahead(secs: u64) -> SystemTime {
    SystemTime::now() + Duration::from_secs(secs)
}

fn lat(ms: &[(u64, u32)]) -> Vec<(u8, u32)> {
    let mut h = LatencyHist::default();
    for &(m, n) in ms {
        for _ in 0..n {
            h.observe(Duration::from_micros(m));
        }
    }
    h.to_sparse()
}

struct Seen<'a> {
    name: &'a str,
    label: &'a str,
    zone: &'a str,
    outcome: &'a str,
    reason: Option<&'a str>,
    alg: &'a [u8],
    ds: &'a [u16],
    expires_in: Option<u64>,
    resolver: &'a str,
    answers: u64,
    ad: u64,
    process: (&'a str, u32),
    container: Option<&'a str>,
}

fn observation(s: &Seen<'_>) -> NameObservation {
    NameObservation {
        first: Some(ago(3 * 3600)),
        last: Some(ago(600)),
        qname: s.name.into(),
        qtype: 1,
        label: Some(s.label.into()),
        zone: Some(s.zone.into()),
        outcome: s.outcome.into(),
        reason: s.reason.map(Into::into),
        algorithms: s.alg.to_vec(),
        ds_key_tags: s.ds.to_vec(),
        sig_expiration: s.expires_in.map(ahead),
        resolver: Some(s.resolver.into()),
        answers: s.answers,
        ad_answers: s.ad,
        pid: Some(s.process.1),
        process: Some(s.process.0.into()),
        container_id: s.container.map(Into::into),
    }
}

fn alert(rule: &str, severity: i64, secs_ago: u64, detail: &str, doc: Value) -> Record {
    let name = doc["dns"]["question"]["name"].as_str().map(str::to_owned);
    Record {
        transaction: name.map(|n| Transaction {
            time: Some(ago(secs_ago)),
            qname: n,
            qtype: 1,
            ..Transaction::default()
        }),
        verdict: None,
        alerts: vec![Alert {
            time: Some(ago(secs_ago)),
            rule: rule.into(),
            severity,
            detail: detail.into(),
            json: doc.to_string(),
        }],
    }
}

/// The fixture store (see the module comment).
fn make_store(path: &Path) {
    let mut s = Store::open(path).unwrap();
    let stub = "127.0.0.53:53";
    let corp = "10.20.0.53:53";
    let names = [
        Seen {
            name: "login.idp.example.com",
            label: "idp",
            zone: "idp.example.com",
            outcome: "secure",
            reason: None,
            alg: &[13],
            ds: &[31589],
            expires_in: Some(12 * 86_400),
            resolver: stub,
            answers: 412,
            ad: 412,
            process: ("java", 2211),
            container: None,
        },
        Seen {
            name: "token.idp.example.com",
            label: "token-endpoint",
            zone: "idp.example.com",
            outcome: "secure",
            reason: None,
            alg: &[13],
            ds: &[31589],
            expires_in: Some(12 * 86_400),
            resolver: stub,
            answers: 1290,
            ad: 1290,
            process: ("envoy", 3120),
            container: Some("4f1c2a9b7e3d5a1c0b2e4f6a8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d"),
        },
        Seen {
            name: "vault.corp.internal",
            label: "secrets",
            zone: "corp.internal",
            outcome: "insecure",
            reason: Some("no DS for corp.internal: unsigned delegation"),
            alg: &[],
            ds: &[],
            expires_in: None,
            resolver: corp,
            answers: 96,
            ad: 0,
            process: ("vault-agent", 1877),
            container: None,
        },
        Seen {
            name: "istiod.mesh.example.net",
            label: "mesh",
            zone: "mesh.example.net",
            outcome: "secure",
            reason: None,
            alg: &[8],
            ds: &[20326, 47005],
            expires_in: Some(2 * 86_400 - 3600),
            resolver: stub,
            answers: 230,
            ad: 230,
            process: ("pilot-agent", 4410),
            container: Some("9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"),
        },
        Seen {
            name: "api.partner.example.org",
            label: "internal-api",
            zone: "partner.example.org",
            outcome: "bogus",
            reason: Some(
                "RRSIG by key 5123 (ECDSAP256SHA256) over api.partner.example.org./A does not verify",
            ),
            alg: &[13],
            ds: &[5123],
            expires_in: Some(20 * 86_400),
            resolver: corp,
            answers: 18,
            ad: 0,
            process: ("curl", 9001),
            container: None,
        },
    ];
    let mut posture = Posture {
        names: names.iter().map(observation).collect(),
        resolvers: vec![
            ResolverStat {
                start: Some(ago(3 * 3600)),
                end: Some(ago(1800)),
                resolver: stub.into(),
                queries: 2150,
                answers: 2148,
                unanswered: 2,
                servfail: 3,
                refused: 0,
                secure_answers: 1932,
                secure_ad: 1932,
                latency: lat(&[(300, 1500), (2_000, 500), (25_000, 140), (180_000, 8)]),
            },
            ResolverStat {
                start: Some(ago(3 * 3600)),
                end: Some(ago(1800)),
                resolver: corp.into(),
                queries: 140,
                answers: 96,
                unanswered: 44,
                servfail: 9,
                refused: 0,
                secure_answers: 18,
                secure_ad: 0,
                latency: lat(&[(4_000, 80), (40_000, 14), (900_000, 2)]),
            },
        ],
    };
    // The java process also asked for the IdP through the other resolver.
    let mut extra = observation(&names[0]);
    extra.resolver = Some(corp.into());
    extra.process = Some("java".into());
    extra.pid = Some(2212);
    extra.ad_answers = 0;
    extra.answers = 7;
    posture.names.push(extra);
    s.write_posture(&posture).unwrap();
    let mut w = BatchWriter::new(s, 1, Duration::from_millis(1));
    let q = |n: &str| json!({"dns": {"question": {"name": format!("{n}."), "type": "A"}}});
    for r in [
        alert(
            "critical_name_unprotected",
            73,
            5400,
            "vault.corp.internal. (secrets) resolved by vault-agent[1877] is insecure: no DS for corp.internal",
            q("vault.corp.internal"),
        ),
        alert(
            "signature_expiring",
            47,
            4000,
            "RRSIGs over istiod.mesh.example.net./A expire in 1.9 days",
            q("istiod.mesh.example.net"),
        ),
        alert(
            "bogus_signature",
            99,
            2600,
            "RRSIG by key 5123 over api.partner.example.org./A does not verify",
            q("api.partner.example.org"),
        ),
        alert(
            "resolver_failure",
            73,
            1900,
            "resolver 10.20.0.53:53 left 31 of 52 queries unanswered in the last 60s (60% ≥ threshold 50%)",
            json!({"dnssec_monitor": {"resolver": {"address": corp}}}),
        ),
    ] {
        w.push(r).unwrap();
    }
    w.finish().unwrap();
}

fn report(store: &Path, format: &str) -> String {
    let out = bin()
        .args(["report", "--since", "1d", "--format", format, "--store"])
        .arg(store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn json_report_is_the_documented_shape() {
    let d = dir();
    let db = d.path().join("store.db");
    make_store(&db);
    let v: Value = serde_json::from_str(&report(&db, "json")).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["critical_names"], true);
    let names = v["names"].as_array().unwrap();
    assert_eq!(names.len(), 5);
    // Worst first.
    assert_eq!(names[0]["name"], "api.partner.example.org");
    assert_eq!(names[0]["status"], "bogus");
    assert_eq!(names[0]["alerts"][0]["rule"], "bogus_signature");
    let idp = names.iter().find(|n| n["label"] == "idp").unwrap();
    assert_eq!(idp["zone"], "idp.example.com");
    assert_eq!(idp["algorithms"][0]["name"], "ECDSAP256SHA256");
    assert_eq!(idp["ds_key_tags"], json!([31589]));
    assert_eq!(idp["resolvers"], json!(["10.20.0.53:53", "127.0.0.53:53"]));
    assert_eq!(idp["ad_seen"], true);
    assert_eq!(idp["processes"][0]["pids"], json!([2211, 2212]));
    let days = idp["signature_days_left"].as_f64().unwrap();
    assert!((11.9..=12.1).contains(&days), "{days}");
    let vault = names.iter().find(|n| n["label"] == "secrets").unwrap();
    assert_eq!(vault["status"], "insecure");
    assert_eq!(vault["ad_seen"], false);
    assert_eq!(vault["alerts"][0]["rule"], "critical_name_unprotected");
    let r = v["resolvers"].as_array().unwrap();
    let corp = r.iter().find(|x| x["resolver"] == "10.20.0.53:53").unwrap();
    assert_eq!(corp["unanswered"], 44);
    assert_eq!(corp["unanswered_rate"], 0.3143);
    assert_eq!(corp["ad_rate_secure"], 0.0);
    assert_eq!(corp["alerts"][0]["rule"], "resolver_failure");
    assert!(corp["latency_p50_ms"].as_f64().unwrap() > 3.0);
    assert_eq!(v["alerts_by_rule"]["resolver_failure"], 1);
    // Every documented key is there (docs/report.md).
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.md"))
            .unwrap();
    for k in v
        .as_object()
        .unwrap()
        .keys()
        .chain(idp.as_object().unwrap().keys())
        .chain(corp.as_object().unwrap().keys())
    {
        assert!(
            doc.contains(&format!("`{k}`")),
            "{k} is not documented in docs/report.md"
        );
    }
}

#[test]
fn markdown_report_and_errors() {
    let d = dir();
    let db = d.path().join("store.db");
    make_store(&db);
    let md = report(&db, "md");
    assert!(md.contains("## Critical names"));
    assert!(
        md.contains("| vault.corp.internal | secrets | corp.internal | insecure |"),
        "{md}"
    );
    assert!(md.contains("## Resolvers"));
    // A store that is not there, a bad duration: errors, not empty reports.
    let out = bin()
        .args(["report", "--store", "/nonexistent/store.db"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = bin()
        .args(["report", "--since", "yesterday", "--store"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"));
}

fn chromium(args: &[&str], html: &Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .args(args)
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium is installed (cargo xtask setup)")
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let d = dir();
    let db = d.path().join("store.db");
    make_store(&db);
    let html: PathBuf = d.path().join("report.html");
    let out = bin()
        .args(["report", "--format", "html", "--store"])
        .arg(&db)
        .arg("--output")
        .arg(&html)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = chromium(&["--dump-dom"], &html);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    // The browser parsed the tables and their rows.
    assert!(dom.contains("<table id=\"names-table\">"), "{dom}");
    assert!(dom.contains("<table id=\"resolvers-table\">"));
    assert_eq!(dom.matches("<tr><td><code>").count(), 5 + 2 + 4, "{dom}");
    assert!(dom.contains("vault.corp.internal"));
    let png = d.path().join("report.png");
    let shot = chromium(
        &[
            "--hide-scrollbars",
            "--window-size=1680,1040",
            &format!("--screenshot={}", png.display()),
        ],
        &html,
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        bytes.len() > 20_000,
        "a rendered page, not a blank one: {} bytes",
        bytes.len()
    );
    if let Ok(keep) = std::env::var("REPORT_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}
