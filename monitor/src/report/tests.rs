use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::model::{Inputs, build};
use super::*;
use crate::detect::latency::LatencyHist;
use crate::store::{NameObservation, ResolverStat, StoredAlert};

fn t(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
}

const NOW: u64 = 10_000;

fn obs(name: &str, outcome: &str, at: u64, process: &str, ad: u64) -> NameObservation {
    NameObservation {
        first: Some(t(at)),
        last: Some(t(at + 10)),
        qname: name.into(),
        qtype: 1,
        label: None,
        zone: Some("corp.example".into()),
        outcome: outcome.into(),
        reason: None,
        algorithms: vec![13],
        ds_key_tags: vec![31589],
        sig_expiration: Some(t(NOW + 2 * 86_400 + 43_200)),
        resolver: Some("127.0.0.53:53".into()),
        answers: 4,
        ad_answers: ad,
        pid: Some(100),
        process: Some(process.into()),
        container_id: None,
    }
}

fn alert(at: u64, rule: &str, json: serde_json::Value) -> StoredAlert {
    StoredAlert {
        time: t(at),
        rule: rule.into(),
        severity: 73,
        detail: format!("{rule} detail"),
        json: json.to_string(),
    }
}

fn lat(ms: &[u64]) -> Vec<(u8, u32)> {
    let mut h = LatencyHist::default();
    for m in ms {
        h.observe(Duration::from_millis(*m));
    }
    h.to_sparse()
}

fn report(
    critical: &CriticalLabels,
    names: &[NameObservation],
    res: &[ResolverStat],
    al: &[StoredAlert],
) -> Report {
    build(&Inputs {
        now: t(NOW),
        since: t(0),
        critical,
        names,
        resolvers: res,
        alerts: al,
    })
}

#[test]
fn names_group_by_name_with_latest_verdict_processes_and_expiry() {
    let mut a = obs("login.corp.example", "insecure", 100, "curl", 0);
    a.label = Some("idp".into());
    let mut b = obs("LOGIN.corp.example.", "secure", 500, "java", 4);
    b.label = Some("idp".into());
    b.resolver = Some("10.0.0.2:53".into());
    let other = obs("www.unrelated.example", "secure", 100, "curl", 0);
    let al = [alert(
        200,
        "unsigned_fallback",
        serde_json::json!({"dns": {"question": {"name": "login.corp.example."}}}),
    )];
    let r = report(&CriticalLabels::default(), &[a, b, other], &[], &al);
    assert!(r.critical_names);
    assert_eq!(
        r.names.len(),
        1,
        "only labelled names when some are labelled"
    );
    let n = &r.names[0];
    assert_eq!(n.name, "login.corp.example");
    assert_eq!(n.label.as_deref(), Some("idp"));
    assert_eq!(n.status, "secure", "the latest verdict");
    assert_eq!(n.statuses_seen, ["insecure", "secure"]);
    assert_eq!(n.algorithms[0].name, "ECDSAP256SHA256");
    assert_eq!(n.ds_key_tags, [31589]);
    assert_eq!(n.signature_days_left, Some(2.5));
    assert_eq!(n.resolvers, ["10.0.0.2:53", "127.0.0.53:53"]);
    assert!(n.ad_seen);
    assert_eq!((n.answers, n.ad_answers), (8, 4));
    let procs: Vec<&str> = n.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(procs, ["curl", "java"]);
    assert_eq!(n.alerts.len(), 1);
    assert_eq!(r.alerts_by_rule["unsigned_fallback"], 1);
}

#[test]
fn without_critical_names_the_most_resolved_are_listed() {
    let mut busy = obs("busy.example", "secure", 0, "curl", 0);
    busy.answers = 100;
    let quiet = obs("quiet.example", "bogus", 0, "curl", 0);
    let r = report(&CriticalLabels::default(), &[quiet, busy], &[], &[]);
    assert!(!r.critical_names);
    assert_eq!(r.names.len(), 2);
    // The bogus one first: worst first.
    assert_eq!(r.names[0].name, "quiet.example");
}

#[test]
fn configured_critical_names_are_listed_even_unseen() {
    let c = CriticalLabels::new([
        ("vault.corp.example".to_owned(), "secrets".to_owned()),
        ("*.corp.example".to_owned(), "corp".to_owned()),
    ]);
    let seen = obs("token.corp.example", "secure", 0, "curl", 1);
    let unrelated = obs("www.other.example", "secure", 0, "curl", 0);
    let r = report(&c, &[seen, unrelated], &[], &[]);
    let names: Vec<(&str, &str)> = r
        .names
        .iter()
        .map(|n| (n.name.as_str(), n.status.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("token.corp.example", "secure"),
            ("vault.corp.example", "unseen")
        ]
    );
    assert_eq!(r.names[0].label.as_deref(), Some("corp"));
    assert!(!r.names[1].ad_seen);
    assert_eq!(r.names[1].signature_days_left, None);
}

#[test]
fn resolvers_add_up_over_intervals() {
    let s = |queries, answers, unanswered, servfail, ms: &[u64]| ResolverStat {
        resolver: "10.0.0.2:53".into(),
        queries,
        answers,
        unanswered,
        servfail,
        secure_answers: 4,
        secure_ad: 1,
        latency: lat(ms),
        ..ResolverStat::default()
    };
    let rows = [s(10, 10, 0, 1, &[10; 10]), s(10, 2, 8, 1, &[100, 100])];
    let al = [alert(
        300,
        "resolver_failure",
        serde_json::json!({"dnssec_monitor": {"resolver": {"address": "10.0.0.2:53"}}}),
    )];
    let r = report(&CriticalLabels::default(), &[], &rows, &al);
    assert_eq!(r.resolvers.len(), 1);
    let x = &r.resolvers[0];
    assert_eq!(
        (x.queries, x.answers, x.unanswered, x.servfail),
        (20, 12, 8, 2)
    );
    assert_eq!(x.unanswered_rate, Some(0.4));
    assert_eq!(x.servfail_rate, Some(0.1667));
    assert_eq!(x.ad_rate_secure, Some(0.25));
    let p50 = x.latency_p50_ms.unwrap();
    assert!((8.0..=12.5).contains(&p50), "{p50}");
    assert!(x.latency_p99_ms.unwrap() > 80.0);
    assert_eq!(x.alerts.len(), 1);
    // No traffic: rates are absent, not zero.
    let r = report(
        &CriticalLabels::default(),
        &[],
        &[ResolverStat {
            resolver: "x".into(),
            ..Default::default()
        }],
        &[],
    );
    assert_eq!(r.resolvers[0].unanswered_rate, None);
}

#[test]
fn html_is_self_contained_and_escapes_what_it_shows() {
    let mut evil = obs("x.example", "bogus", 0, "<script>alert(1)</script>", 0);
    evil.reason = Some("a \"quoted\" <b>reason</b>".into());
    let r = report(&CriticalLabels::default(), &[evil], &[], &[]);
    let h = html::render(&r);
    assert!(h.starts_with("<!DOCTYPE html>"));
    assert!(h.contains("<table id=\"names-table\">"));
    assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!h.contains("<script"), "no script at all");
    assert!(!h.contains("<b>reason"));
    for external in ["src=", "href=", "@import", "url("] {
        assert!(!h.contains(external), "{external} in the page");
    }
    assert!(h.contains("default-src 'none'"));
}

#[test]
fn markdown_has_both_tables_and_escapes_pipes() {
    let mut n = obs("a.example", "secure", 0, "we|ird", 1);
    n.label = Some("idp".into());
    let rows = [ResolverStat {
        resolver: "127.0.0.53:53".into(),
        queries: 3,
        answers: 3,
        latency: lat(&[1, 2, 3]),
        ..ResolverStat::default()
    }];
    let md = markdown::render(&report(&CriticalLabels::default(), &[n], &rows, &[]));
    assert!(md.contains("## Critical names"));
    assert!(
        md.contains("| a.example | idp | corp.example | secure | ECDSAP256SHA256 (13) | 31589 |"),
        "{md}"
    );
    assert!(md.contains("we\\|ird"), "{md}");
    assert!(md.contains("| 127.0.0.53:53 | 3 | 0 (0.0%) |"), "{md}");
    assert!(md.contains("No alert in the period."));
}

#[test]
fn report_reads_the_store() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s.db");
    let mut s = Store::open(&p).unwrap();
    let mut o = obs("login.corp.example", "secure", 100, "curl", 2);
    o.label = Some("idp".into());
    s.write_posture(&crate::store::Posture {
        resolvers: vec![ResolverStat {
            resolver: "127.0.0.53:53".into(),
            start: Some(t(90)),
            end: Some(t(150)),
            queries: 4,
            answers: 4,
            ..Default::default()
        }],
        names: vec![o],
    })
    .unwrap();
    drop(s);
    let ro = Store::open_read_only(&p).unwrap();
    let r = from_store(&ro, &CriticalLabels::default(), t(0), t(NOW)).unwrap();
    assert_eq!(r.names.len(), 1);
    assert_eq!(r.resolvers[0].queries, 4);
    // A period after the data: empty.
    let r = from_store(&ro, &CriticalLabels::default(), t(5_000), t(NOW)).unwrap();
    assert!(r.names.is_empty() && r.resolvers.is_empty());
}
