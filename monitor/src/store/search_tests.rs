use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::store::{
    BatchWriter,
    record::{Alert, Record},
};

const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn tx(secs: u64, name: &str, pid: u32, process: &str) -> Transaction {
    Transaction {
        time: Some(at(secs)),
        query_time: Some(at(secs) - Duration::from_millis(3)),
        qname: name.to_owned(),
        qtype: 1,
        rcode: Some(0),
        pid: Some(pid),
        process: Some(process.to_owned()),
        uid: Some(1000),
        container_id: None,
        src: Some("127.0.0.1:40000".into()),
        dst: Some("127.0.0.53:53".into()),
        transport: Some("udp".into()),
        query: Some(vec![0xab, 0xcd, 1, 0]),
        answer: Some(vec![0xab, 0xcd, 0x81, 0x80, secs as u8]),
    }
}

fn alert(secs: u64, rule: &str) -> Alert {
    Alert {
        time: Some(at(secs)),
        rule: rule.to_owned(),
        severity: 73,
        detail: format!("{rule} detail"),
        json: format!("{{\"rule\":{{\"name\":\"{rule}\"}}}}"),
    }
}

fn verdict(secs: u64, name: &str, outcome: &str) -> Verdict {
    Verdict {
        time: Some(at(secs)),
        qname: name.to_owned(),
        qtype: 1,
        outcome: outcome.to_owned(),
        reason: Some("RRSIG does not verify".into()),
        ede_code: Some(6),
        ede_text: Some("DNSSEC Bogus".into()),
        chain_json: Some("[]".into()),
        evidence: vec![
            Evidence {
                owner: "example.com".into(),
                rtype: 48,
                wire: vec![1, 2, 3],
                presentation: Some("example.com. DNSKEY ...".into()),
            },
            Evidence {
                owner: "example.com".into(),
                rtype: 46,
                wire: vec![4, 5],
                presentation: None,
            },
        ],
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let mut w = BatchWriter::new(
        Store::open(&d.path().join("s.db")).unwrap(),
        100,
        Duration::from_secs(60),
    );
    let records = vec![
        Record {
            transaction: Some(tx(1, "WWW.Example.COM.", 100, "curl")),
            verdict: Some(verdict(1, "www.example.com", "bogus")),
            alerts: vec![alert(1, "bogus_signature")],
        },
        Record {
            transaction: Some(tx(2, "api.example.com", 200, "python3")),
            verdict: None,
            alerts: vec![],
        },
        Record {
            transaction: Some(tx(3, "badexample.com", 100, "curl")),
            verdict: None,
            alerts: vec![alert(3, "unsigned_fallback")],
        },
        Record {
            transaction: Some(tx(4, "example.com", 100, "curl")),
            verdict: None,
            alerts: vec![alert(4, "answer_mismatch")],
        },
        Record {
            transaction: None,
            verdict: None,
            alerts: vec![alert(5, "capture_loss")],
        },
        Record {
            transaction: Some(tx(6, "other.org", 300, "curl")),
            verdict: None,
            alerts: vec![],
        },
    ];
    for r in records {
        w.push(r).unwrap();
    }
    (d, w.finish().unwrap())
}

fn rules(hits: &[AlertHit]) -> Vec<&str> {
    hits.iter().map(|h| h.rule.as_str()).collect()
}

fn names(hits: &[TransactionHit]) -> Vec<&str> {
    hits.iter().map(|h| h.qname.as_str()).collect()
}

#[test]
fn all_alerts_newest_first() {
    let (_d, s) = store();
    let all = s.search_alerts(&SearchQuery::default()).unwrap();
    assert_eq!(
        rules(&all),
        [
            "capture_loss",
            "answer_mismatch",
            "unsigned_fallback",
            "bogus_signature"
        ]
    );
    assert_eq!(all[3].qname.as_deref(), Some("www.example.com"));
    assert_eq!(all[3].outcome.as_deref(), Some("bogus"));
    assert_eq!(all[0].qname, None, "capture_loss has no transaction");
}

#[test]
fn name_matches_the_name_and_below_only() {
    let (_d, s) = store();
    let q = SearchQuery {
        name: Some("EXAMPLE.com.".into()),
        ..SearchQuery::default()
    };
    assert_eq!(
        names(&s.search_transactions(&q).unwrap()),
        ["example.com", "api.example.com", "www.example.com"]
    );
    assert_eq!(
        rules(&s.search_alerts(&q).unwrap()),
        ["answer_mismatch", "bogus_signature"]
    );
    let q = SearchQuery {
        name: Some("ample.com".into()),
        ..SearchQuery::default()
    };
    assert!(
        s.search_transactions(&q).unwrap().is_empty(),
        "not a label-boundary suffix"
    );
}

#[test]
fn process_by_name_or_pid() {
    let (_d, s) = store();
    let q = SearchQuery {
        process: Some("python3".into()),
        ..SearchQuery::default()
    };
    assert_eq!(
        names(&s.search_transactions(&q).unwrap()),
        ["api.example.com"]
    );
    let q = SearchQuery {
        process: Some("300".into()),
        ..SearchQuery::default()
    };
    assert_eq!(names(&s.search_transactions(&q).unwrap()), ["other.org"]);
    let q = SearchQuery {
        process: Some("nginx".into()),
        ..SearchQuery::default()
    };
    assert!(s.search_transactions(&q).unwrap().is_empty());
}

#[test]
fn rule_and_time_range() {
    let (_d, s) = store();
    let q = SearchQuery {
        rule: Some("bogus_signature".into()),
        ..SearchQuery::default()
    };
    assert_eq!(
        names(&s.search_transactions(&q).unwrap()),
        ["www.example.com"]
    );
    assert_eq!(rules(&s.search_alerts(&q).unwrap()), ["bogus_signature"]);
    let q = SearchQuery {
        since: Some(at(3)),
        until: Some(at(5)),
        ..SearchQuery::default()
    };
    assert_eq!(
        rules(&s.search_alerts(&q).unwrap()),
        ["answer_mismatch", "unsigned_fallback"]
    );
    assert_eq!(
        names(&s.search_transactions(&q).unwrap()),
        ["example.com", "badexample.com"]
    );
    let q = SearchQuery {
        limit: 2,
        ..SearchQuery::default()
    };
    assert_eq!(s.search_transactions(&q).unwrap().len(), 2);
}

#[test]
fn transaction_hits_carry_outcome_and_alert_count() {
    let (_d, s) = store();
    let q = SearchQuery {
        name: Some("www.example.com".into()),
        ..SearchQuery::default()
    };
    let hits = s.search_transactions(&q).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        (hits[0].outcome.as_deref(), hits[0].alerts, hits[0].pid),
        (Some("bogus"), 1, Some(100))
    );
}

#[test]
fn alert_detail_round_trips_raw_bytes_and_evidence() {
    let (_d, s) = store();
    let id = s
        .search_alerts(&SearchQuery {
            rule: Some("bogus_signature".into()),
            ..SearchQuery::default()
        })
        .unwrap()[0]
        .id;
    let d = s.alert_detail(id).unwrap().unwrap();
    assert_eq!(d.json, "{\"rule\":{\"name\":\"bogus_signature\"}}");
    let t = d.transaction.unwrap();
    let mut want = tx(1, "www.example.com", 100, "curl");
    want.qname = "www.example.com".into();
    assert_eq!(t, want);
    let mut want_v = verdict(1, "www.example.com", "bogus");
    want_v.evidence[0].owner = "example.com".into();
    assert_eq!(d.verdict.unwrap(), want_v);
    assert!(s.alert_detail(999_999).unwrap().is_none());
}

#[test]
fn read_only_handle_sees_committed_rows() {
    let (d, _s) = store();
    let ro = Store::open_read_only(&d.path().join("s.db")).unwrap();
    assert_eq!(ro.search_alerts(&SearchQuery::default()).unwrap().len(), 4);
}
