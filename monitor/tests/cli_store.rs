//! `search`, `export` and `verify-evidence` through the binary, over a
//! store written with the daemon's own writer.

use std::{
    net::Ipv4Addr,
    path::Path,
    process::Command,
    time::{Duration, UNIX_EPOCH},
};

use hickory_proto::{
    dnssec::rdata::DNSSECRData,
    rr::{RData, Record, RecordType, rdata::A},
    serialize::binary::BinEncodable,
};
use monitor::{
    decode::build::{dns_answer, dns_query},
    dnssec::testnet::{TestKey, name},
    store::{Alert, BatchWriter, Evidence, Record as Row, Store, Transaction, Verdict},
};

const T0: u64 = 1_800_000_000;

fn run(args: &[&str], db: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dnssec-monitor"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ev(r: &Record) -> Evidence {
    Evidence {
        owner: r.name.to_string(),
        rtype: u16::from(r.record_type()),
        wire: r.to_bytes().unwrap(),
        presentation: Some(r.to_string()),
    }
}

/// Alert 1: bogus_signature on www.example (forged A, evidence stored,
/// verdict bogus). Alert 2: unsigned_fallback on api.other (verdict
/// secure although the answer is forged: does not reproduce).
fn make_store(path: &Path) {
    let key = TestKey::generate();
    let zone = name("example.");
    let dnskey = Record::from_rdata(
        zone.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::DNSKEY(key.dnskey.clone())),
    );
    let a = |ip: [u8; 4]| {
        Record::from_rdata(name("www.example."), 300, RData::A(A(Ipv4Addr::from(ip))))
    };
    let sig = key.sign(&zone, &[a([192, 0, 2, 1])], T0 as u32, T0 as u32 + 86_400);
    let dnskey_sig = key.sign(
        &zone,
        std::slice::from_ref(&dnskey),
        T0 as u32,
        T0 as u32 + 86_400,
    );
    let forged = dns_answer(
        9,
        "www.example.",
        RecordType::A,
        vec![a([203, 0, 113, 9]), sig.clone()],
    );
    let at = |s: u64| Some(UNIX_EPOCH + Duration::from_secs(T0 + s));
    let row = |qname: &str, rule: &str, outcome: &str, s: u64| Row {
        transaction: Some(Transaction {
            time: at(s),
            query_time: at(s),
            qname: qname.into(),
            qtype: 1,
            rcode: Some(0),
            pid: Some(4242),
            process: Some("curl".into()),
            src: Some("127.0.0.1:40000".into()),
            dst: Some("127.0.0.53:53".into()),
            transport: Some("udp".into()),
            query: Some(dns_query(9, "www.example.", RecordType::A)),
            answer: Some(forged.clone()),
            ..Transaction::default()
        }),
        verdict: Some(Verdict {
            time: at(s),
            qname: qname.into(),
            qtype: 1,
            outcome: outcome.into(),
            evidence: vec![ev(&dnskey), ev(&dnskey_sig), ev(&sig)],
            ..Verdict::default()
        }),
        alerts: vec![Alert {
            time: at(s),
            rule: rule.into(),
            severity: 73,
            detail: format!("{rule} on {qname}"),
            json: "{}".into(),
        }],
    };
    let mut w = BatchWriter::new(Store::open(path).unwrap(), 10, Duration::from_secs(1));
    w.push(row("www.example", "bogus_signature", "bogus", 10))
        .unwrap();
    w.push(row("api.other", "unsigned_fallback", "secure", 20))
        .unwrap();
    w.finish().unwrap();
}

#[test]
fn search_export_and_verify_evidence() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("store.db");
    make_store(&db);

    let (code, out, err) = run(&["search"], &db);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "header + 2 alerts: {out}");
    assert!(lines[0].trim_start().starts_with("ID"), "{out}");
    assert!(
        lines[1].contains("unsigned_fallback"),
        "newest first: {out}"
    );

    let (code, out, _) = run(
        &["search", "--json", "--name", "example", "--process", "curl"],
        &db,
    );
    assert_eq!(code, 0);
    let hits: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(hits.len(), 1, "{out}");
    assert_eq!(hits[0]["rule"], "bogus_signature");
    assert_eq!(hits[0]["pid"], 4242);

    // T0 + 15 s: only the older alert.
    let n = |out: &str| {
        serde_json::from_str::<Vec<serde_json::Value>>(out)
            .unwrap()
            .len()
    };
    let (_, out, _) = run(
        &["search", "--json", "--until", "2027-01-15T08:00:15Z"],
        &db,
    );
    assert_eq!(n(&out), 1, "{out}");
    let (_, out, _) = run(&["search", "--json", "--rule", "no_such_rule"], &db);
    assert_eq!(n(&out), 0, "{out}");

    let pcap = d.path().join("alert1.pcap");
    let (code, _, err) = run(
        &["export", "--alert", "1", "--pcap", pcap.to_str().unwrap()],
        &db,
    );
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::metadata(&pcap).unwrap().len() > 24 + 2 * 16);
    let (code, _, err) = run(
        &["export", "--alert", "99", "--pcap", pcap.to_str().unwrap()],
        &db,
    );
    assert_eq!(code, 64);
    assert!(err.contains("no alert 99"), "{err}");

    let (code, out, _) = run(&["verify-evidence", "1"], &db);
    assert_eq!(code, 0, "bogus verdict reproduces: {out}");
    assert!(out.contains("FAILED    www.example./A"), "{out}");
    assert!(out.contains("verified  example./DNSKEY"), "{out}");
    let (code, out, _) = run(&["verify-evidence", "2"], &db);
    assert_eq!(
        code, 2,
        "a secure verdict over a forged answer does not reproduce: {out}"
    );
}
