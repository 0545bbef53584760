use std::{
    net::Ipv4Addr,
    time::{Duration, UNIX_EPOCH},
};

use hickory_proto::{
    op::{Message, MessageType, Query},
    rr::rdata::A,
    serialize::binary::BinEncodable,
};

use super::*;
use crate::dnssec::testnet::{TestKey, name};
use crate::store::{AlertHit, Evidence, Transaction, Verdict};

const INCEPTION: u32 = 1_800_000_000;
const EXPIRATION: u32 = 1_800_086_400;

fn a(owner: &str, ip: [u8; 4]) -> Record {
    Record::from_rdata(name(owner), 300, RData::A(A(Ipv4Addr::from(ip))))
}

fn evidence(r: &Record) -> Evidence {
    Evidence {
        owner: r.name.to_string(),
        rtype: u16::from(r.record_type()),
        wire: r.to_bytes().unwrap(),
        presentation: Some(r.to_string()),
    }
}

/// An alert on `www.example.` whose answer carries `answer_ip`, signed
/// evidence over 192.0.2.1, and the stored `outcome` at `at`.
fn detail(answer_ip: [u8; 4], outcome: &str, at: u64, ds_key: Option<&TestKey>) -> AlertDetail {
    let key = TestKey::generate();
    let zone = name("example.");
    let dnskey = Record::from_rdata(
        zone.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::DNSKEY(key.dnskey.clone())),
    );
    let dnskey_sig = key.sign(&zone, std::slice::from_ref(&dnskey), INCEPTION, EXPIRATION);
    let signed = a("www.example.", [192, 0, 2, 1]);
    let a_sig = key.sign(&zone, std::slice::from_ref(&signed), INCEPTION, EXPIRATION);
    let ds = Record::from_rdata(
        zone.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::DS(ds_key.unwrap_or(&key).ds(&zone))),
    );
    let mut msg = Message::new(7, MessageType::Response, hickory_proto::op::OpCode::Query);
    msg.add_query(Query::query(name("www.example."), RecordType::A));
    msg.add_answer(a("www.example.", answer_ip));
    msg.add_answer(a_sig.clone());
    let time = Some(UNIX_EPOCH + Duration::from_secs(at));
    AlertDetail {
        hit: AlertHit {
            id: 1,
            time_ns: 0,
            rule: "bogus_signature".into(),
            severity: 73,
            detail: String::new(),
            qname: Some("www.example".into()),
            qtype: Some(1),
            pid: None,
            process: None,
            outcome: Some(outcome.into()),
        },
        json: "{}".into(),
        transaction: Some(Transaction {
            answer: Some(msg.to_vec().unwrap()),
            ..Transaction::default()
        }),
        verdict: Some(Verdict {
            time,
            qname: "www.example".into(),
            qtype: 1,
            outcome: outcome.into(),
            evidence: [&dnskey, &dnskey_sig, &a_sig, &ds].map(evidence).to_vec(),
            ..Verdict::default()
        }),
    }
}

const IN_WINDOW: u64 = INCEPTION as u64 + 60;

#[test]
fn good_evidence_reproduces_secure() {
    let r = reverify(&detail([192, 0, 2, 1], "secure", IN_WINDOW, None)).unwrap();
    assert_eq!(r.checks.len(), 3, "{r:?}"); // DNSKEY, A, DS
    assert!(r.checks.iter().all(|c| c.failure.is_none()), "{r:?}");
    assert!(r.reproduced);
    assert_eq!(r.at, IN_WINDOW as i64);
}

#[test]
fn good_evidence_does_not_reproduce_bogus() {
    let r = reverify(&detail([192, 0, 2, 1], "bogus", IN_WINDOW, None)).unwrap();
    assert!(!r.reproduced, "{r:?}");
}

#[test]
fn a_forged_answer_fails_and_reproduces_bogus() {
    let r = reverify(&detail([203, 0, 113, 9], "bogus", IN_WINDOW, None)).unwrap();
    let failed: Vec<&Check> = r.checks.iter().filter(|c| c.failure.is_some()).collect();
    assert_eq!(failed.len(), 1, "{r:?}");
    assert!(failed[0].what.starts_with("www.example./A"), "{r:?}");
    assert!(r.reproduced);
    // … and so cannot be what a stored `secure` rested on.
    assert!(
        !reverify(&detail([203, 0, 113, 9], "secure", IN_WINDOW, None))
            .unwrap()
            .reproduced
    );
}

#[test]
fn checked_at_the_stored_time_not_now() {
    // After expiration every signature fails.
    let r = reverify(&detail(
        [192, 0, 2, 1],
        "bogus",
        EXPIRATION as u64 + 10,
        None,
    ))
    .unwrap();
    assert_eq!(
        r.checks.iter().filter(|c| c.failure.is_some()).count(),
        2,
        "{r:?}"
    );
    assert!(r.reproduced);
}

#[test]
fn a_ds_for_another_key_fails() {
    let other = TestKey::generate();
    let r = reverify(&detail([192, 0, 2, 1], "bogus", IN_WINDOW, Some(&other))).unwrap();
    let failed: Vec<&Check> = r.checks.iter().filter(|c| c.failure.is_some()).collect();
    assert_eq!(failed.len(), 1, "{r:?}");
    assert!(failed[0].what.starts_with("DS "), "{r:?}");
}

#[test]
fn unparsable_evidence_is_an_error() {
    let mut d = detail([192, 0, 2, 1], "secure", IN_WINDOW, None);
    d.verdict.as_mut().unwrap().evidence[0].wire = vec![0xff; 3];
    assert!(reverify(&d).is_err());
    d.verdict = None;
    assert!(reverify(&d).is_err());
}
