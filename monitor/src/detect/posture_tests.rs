//! [`PostureRecorder`] with real verdicts (the engine over the signed test
//! hierarchy): rows per (name, type, resolver, process, container), facts
//! that follow the latest verdict, labels, the bound, and the same rows as
//! the straightforward string-keyed recorder it replaced.

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV6};
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

use super::lab::{a_rec, engine_over};
use super::posture::{CriticalLabels, PostureRecorder, chain_facts};
use super::testkit::{CLIENT, RESOLVER, answer_msg, at, event, process, query_msg};
use crate::correlate::outstanding::QueryInfo;
use crate::decode::presentation as pres;
use crate::dnssec::engine::Lookup;
use crate::dnssec::testnet::standard_hierarchy;
use crate::event::DnsEvent;
use crate::store::NameObservation;
use crate::store::record::normalize_name;

/// Lookups of www.{secure,unsigned,broken}.test./A.
async fn lookups() -> [Arc<Lookup>; 3] {
    let (net, anchor) = standard_hierarchy(Vec::new());
    let engine = engine_over(Arc::new(net), anchor, &[]);
    let mut out = Vec::new();
    for n in ["www.secure.test.", "www.unsigned.test.", "www.broken.test."] {
        let name = Name::from_ascii(n).unwrap();
        out.push(Arc::new(engine.lookup(&name, RecordType::A).await));
    }
    let [s, u, b] = <[Arc<Lookup>; 3]>::try_from(out).ok().unwrap();
    assert_eq!(
        [
            s.verdict.outcome(),
            u.verdict.outcome(),
            b.verdict.outcome()
        ],
        ["secure", "insecure", "bogus"]
    );
    [s, u, b]
}

/// An answer for `qname`/`qtype` from `server` at `ms`.
fn answer(qname: &str, qtype: RecordType, server: &str, ms: u64, ad: bool) -> DnsEvent {
    let q = query_msg(1, qname, qtype, true, false);
    let mut m = answer_msg(
        &q,
        ResponseCode::NoError,
        vec![a_rec(qname, [192, 0, 2, 1])],
    );
    m.metadata.authentic_data = ad;
    let mut ev = event(m, CLIENT, server, ms);
    ev.process = Some(Arc::new(process()));
    ev
}

#[tokio::test]
async fn one_row_per_name_any_case_and_per_resolver() {
    let [_, insecure, _] = lookups().await;
    let mut r = PostureRecorder::default();
    r.observe(
        &answer("WWW.Unsigned.TEST.", RecordType::A, RESOLVER, 1, false),
        None,
        &insecure,
    );
    r.observe(
        &answer("www.unsigned.test.", RecordType::A, RESOLVER, 2, true),
        None,
        &insecure,
    );
    r.observe(
        &answer(
            "www.unsigned.test.",
            RecordType::A,
            "10.0.0.54:53",
            3,
            false,
        ),
        None,
        &insecure,
    );
    r.observe(
        &answer("www.unsigned.test.", RecordType::AAAA, RESOLVER, 4, false),
        None,
        &insecure,
    );
    let rows = r.take();
    let got: Vec<(&str, u16, Option<&str>, u64, u64)> = rows
        .iter()
        .map(|o| {
            (
                o.qname.as_str(),
                o.qtype,
                o.resolver.as_deref(),
                o.answers,
                o.ad_answers,
            )
        })
        .collect();
    assert_eq!(got.len(), 3, "{rows:?}");
    assert!(
        got.contains(&("www.unsigned.test", 1, Some(RESOLVER), 2, 1)),
        "{got:?}"
    );
    assert!(
        got.contains(&("www.unsigned.test", 1, Some("10.0.0.54:53"), 1, 0)),
        "{got:?}"
    );
    assert!(
        got.contains(&("www.unsigned.test", 28, Some(RESOLVER), 1, 0)),
        "{got:?}"
    );
    let first = rows.iter().find(|o| o.answers == 2).unwrap();
    assert_eq!((first.first, first.last), (Some(at(1)), Some(at(2))));
    assert_eq!(first.outcome, "insecure");
    assert!(first.reason.is_some());
    assert_eq!(first.process.as_deref(), Some("curl"));
    assert!(r.take().is_empty(), "taken once");
}

#[tokio::test]
async fn facts_follow_the_latest_verdict() {
    let [secure, insecure, _] = lookups().await;
    let mut r = PostureRecorder::default();
    let ev = |ms| answer("www.secure.test.", RecordType::A, RESOLVER, ms, true);
    r.observe(&ev(1), None, &insecure);
    r.observe(&ev(2), None, &secure);
    let o = r.take().remove(0);
    assert_eq!((o.outcome.as_str(), o.reason.as_deref()), ("secure", None));
    let (zone, algorithms, ds_key_tags, expiry) = chain_facts(&secure, at(2));
    assert_eq!(o.zone, zone);
    assert_eq!((o.algorithms, o.ds_key_tags), (algorithms, ds_key_tags));
    assert!(expiry.is_some());
    assert_eq!(o.sig_expiration, expiry);
    // Back to the insecure verdict: its reason, and no signature expiry.
    r.observe(&ev(3), None, &secure);
    r.observe(&ev(4), None, &insecure);
    let o = r.take().remove(0);
    assert_eq!(o.outcome, "insecure");
    assert_eq!(o.reason, insecure.verdict.reason_text());
    assert_eq!(o.sig_expiration, None);
    assert_eq!(o.answers, 2);
    // The same verdict in another allocation: the same facts.
    let copy = Arc::new((*secure).clone());
    r.observe(&ev(5), None, &secure);
    r.observe(&ev(6), None, &copy);
    let o = r.take().remove(0);
    assert_eq!((o.outcome.as_str(), o.zone), ("secure", zone));
}

#[tokio::test]
async fn with_labels_unlabelled_names_are_neither_kept_nor_dropped() {
    let [secure, insecure, _] = lookups().await;
    let labels = CriticalLabels::new([("*.secure.test".to_owned(), "idp".to_owned())]);
    let mut r = PostureRecorder::new(labels, 4);
    for ms in 0..10 {
        let ev = answer("www.unsigned.test.", RecordType::A, RESOLVER, ms, false);
        r.observe(&ev, None, &insecure);
    }
    r.observe(
        &answer("WWW.secure.test.", RecordType::A, RESOLVER, 11, true),
        None,
        &secure,
    );
    r.observe(
        &answer("www.secure.test.", RecordType::A, RESOLVER, 12, true),
        None,
        &secure,
    );
    assert_eq!(r.dropped, 0);
    let rows = r.take();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].qname, "www.secure.test");
    assert_eq!(rows[0].label.as_deref(), Some("idp"));
    assert_eq!(rows[0].answers, 2);
    // The apex is not below the pattern.
    r.observe(
        &answer("secure.test.", RecordType::A, RESOLVER, 13, true),
        None,
        &secure,
    );
    assert!(r.take().is_empty());
}

#[tokio::test]
async fn a_full_interval_drops_new_keys_and_keeps_counting_old_ones() {
    let [_, insecure, _] = lookups().await;
    let mut r = PostureRecorder::new(CriticalLabels::default(), 1);
    let ev = |n: &str, ms| answer(n, RecordType::A, RESOLVER, ms, false);
    r.observe(&ev("www.unsigned.test.", 1), None, &insecure);
    r.observe(&ev("other.unsigned.test.", 2), None, &insecure);
    r.observe(&ev("www.unsigned.test.", 3), None, &insecure);
    assert_eq!(r.dropped, 1);
    let rows = r.take();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].qname.as_str(), rows[0].answers),
        ("www.unsigned.test", 2)
    );
    // A new interval has room again.
    r.observe(&ev("other.unsigned.test.", 4), None, &insecure);
    assert_eq!(r.take().len(), 1);
}

/// The old row key: name, type, resolver, process, container.
type RefKey = (String, u16, Option<String>, Option<String>, Option<String>);

/// The recorder as it was: a map keyed by the row's strings, every fact
/// rebuilt per answer. The new one must produce the same rows.
#[derive(Default)]
struct Reference {
    labels: CriticalLabels,
    names: HashMap<RefKey, NameObservation>,
    max_names: usize,
    dropped: u64,
}

impl Reference {
    fn observe(&mut self, ev: &DnsEvent, query: Option<&QueryInfo>, lookup: &Lookup) {
        let Some(q) = ev.message.queries.first() else {
            return;
        };
        let process = ev
            .process
            .as_ref()
            .or(query.and_then(|q| q.process.as_ref()));
        let key = (
            normalize_name(&pres::name(q.name())),
            u16::from(q.query_type()),
            Some(ev.server.to_string()),
            process.map(|p| p.name.clone()),
            process.and_then(|p| p.container_id.clone()),
        );
        let label = self.labels.label(&key.0).map(str::to_owned);
        if label.is_none() && !self.labels.is_empty() {
            return;
        }
        if !self.names.contains_key(&key) && self.names.len() >= self.max_names {
            self.dropped += 1;
            return;
        }
        let (zone, algorithms, ds_key_tags, sig_expiration) = chain_facts(lookup, ev.timestamp);
        let o = self
            .names
            .entry(key.clone())
            .or_insert_with(|| NameObservation {
                first: Some(ev.timestamp),
                qname: key.0.clone(),
                qtype: key.1,
                resolver: key.2.clone(),
                process: key.3.clone(),
                container_id: key.4.clone(),
                ..NameObservation::default()
            });
        o.last = Some(ev.timestamp);
        o.label = label;
        o.zone = zone;
        o.outcome = lookup.verdict.outcome().to_owned();
        o.reason = lookup.verdict.reason_text();
        o.algorithms = algorithms;
        o.ds_key_tags = ds_key_tags;
        o.sig_expiration = match lookup.verdict.outcome() {
            "secure" | "bogus" => sig_expiration,
            _ => None,
        };
        o.answers += 1;
        o.ad_answers += u64::from(ev.message.metadata.authentic_data);
        o.pid = process.map(|p| p.pid);
    }

    fn take(&mut self) -> Vec<NameObservation> {
        self.names.drain().map(|(_, o)| o).collect()
    }
}

/// Rows in a fixed order (ties of the recorder's own order broken).
fn sorted(mut v: Vec<NameObservation>) -> Vec<NameObservation> {
    v.sort_by_key(|o| format!("{o:?}"));
    v
}

#[tokio::test]
async fn same_rows_as_the_string_keyed_recorder() {
    let [secure, insecure, bogus] = lookups().await;
    let insecure_copy = Arc::new((*insecure).clone());
    let verdicts = [&secure, &insecure, &bogus, &insecure_copy];
    let names = [
        "www.unsigned.test.",
        "WWW.UNSIGNED.test.",
        "www.secure.test.",
        "Www.Secure.Test.",
        r"a\.b.secure.test.",
        "a.b.secure.test.",
        "x.vault.secure.test.",
    ];
    let v6 = |flow| SocketAddr::V6(SocketAddrV6::new("fd00::53".parse().unwrap(), 53, flow, 0));
    // Under 100 rows an interval (the unlabelled cut): 5 names, 2 types, 2
    // resolvers (the flow label is no part of the address text), 4 askers.
    let servers = [RESOLVER.parse().unwrap(), v6(0), v6(7)];
    let mut in_container = process();
    in_container.container_id = Some("c0ffee".into());
    let mut other = process();
    other.name = "wget".into();
    other.pid = 7;
    let procs = [None, Some(process()), Some(in_container), Some(other)];
    let label_sets = [
        CriticalLabels::default(),
        CriticalLabels::new([
            ("*.secure.test".to_owned(), "corp".to_owned()),
            ("www.unsigned.test".to_owned(), "web".to_owned()),
            ("*.vault.secure.test".to_owned(), "secrets".to_owned()),
        ]),
    ];
    for labels in label_sets {
        for max_names in [5, 4_096] {
            let mut new = PostureRecorder::new(labels.clone(), max_names);
            let mut old = Reference {
                labels: labels.clone(),
                max_names,
                ..Reference::default()
            };
            // A fixed pseudo-random walk over the dimensions of a row.
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for i in 0..2_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let pick = |n: usize, shift: u32| (x >> shift) as usize % n;
                let qtype = [RecordType::A, RecordType::AAAA][pick(2, 3)];
                let mut ev = answer(
                    names[pick(names.len(), 5)],
                    qtype,
                    RESOLVER,
                    i,
                    pick(2, 9) == 1,
                );
                ev.server = servers[pick(servers.len(), 11)];
                // The process on the answer, on its query, or on neither.
                let p = procs[pick(procs.len(), 14)].clone();
                let query = match pick(3, 17) {
                    0 => {
                        ev.process = p.map(Arc::new);
                        None
                    }
                    1 => {
                        ev.process = None;
                        Some(QueryInfo {
                            id: 1,
                            sent: ev.timestamp,
                            rd: true,
                            dnssec_ok: false,
                            ad: false,
                            cd: false,
                            process: p.map(std::sync::Arc::new),
                            raw: Vec::new().into(),
                            served: false,
                        })
                    }
                    _ => {
                        ev.process = None;
                        None
                    }
                };
                let l = verdicts[pick(verdicts.len(), 21)];
                new.observe(&ev, query.as_ref(), l);
                old.observe(&ev, query.as_ref(), l);
                if i % 500 == 499 {
                    assert_eq!(new.dropped, old.dropped);
                    assert_eq!(
                        sorted(new.take()),
                        sorted(old.take()),
                        "interval ending at {i}"
                    );
                }
            }
        }
    }
}
