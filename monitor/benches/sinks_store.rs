//! Costs of the durable outputs: the syslog spool (push + ack, with and
//! without fdatasync), RFC 5424 formatting of an alert, and the forensic
//! store's batched inserts.

use std::time::{Duration, SystemTime};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use monitor::{
    sinks::{
        spool::{Spool, SpoolOptions},
        syslog::{Facility, Rfc5424Formatter},
    },
    store::{Alert, BatchWriter, Evidence, Record, Store, Transaction, Verdict},
};

fn alert_json() -> serde_json::Value {
    serde_json::json!({
        "@timestamp": "2026-11-27T18:47:29.123456Z",
        "event": {"kind": "alert", "category": ["network"], "severity": 73, "risk_score": 73},
        "rule": {"name": "bogus_signature"},
        "dns": {"question": {"name": "www.secure.test", "type": "A"}, "response_code": "NOERROR"},
        "process": {"pid": 4242, "name": "curl"},
        "dnssec": {"outcome": "bogus", "reason": "RRSIG over A does not verify with DNSKEY 17104"},
        "dnssec_monitor": {"raw": "q80BAAABAAAAAAAAA3d3dwZzZWN1cmUEdGVzdAAAAQAB"}
    })
}

fn spool(c: &mut Criterion) {
    let payload =
        Rfc5424Formatter::new(Facility::AUTH).format_alert(&alert_json(), SystemTime::now());
    let mut g = c.benchmark_group("spool_push_ack");
    g.throughput(Throughput::Elements(1));
    for sync in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(
            dir.path(),
            SpoolOptions {
                sync,
                ..SpoolOptions::default()
            },
        )
        .unwrap();
        g.bench_function(if sync { "fdatasync" } else { "no_sync" }, |b| {
            b.iter(|| {
                let seq = s.push(&payload).unwrap();
                let r = s.peek().unwrap().unwrap();
                s.ack(r.seq).unwrap();
                seq
            })
        });
    }
    g.finish();
    // Group commit as the reliable sink does it in an alert storm: 64
    // alerts pushed with one fdatasync, sent, acknowledged with one more.
    let mut g = c.benchmark_group("spool_group_commit");
    g.throughput(Throughput::Elements(64));
    let dir = tempfile::tempdir().unwrap();
    let mut s = Spool::open(dir.path(), SpoolOptions::default()).unwrap();
    g.bench_function("64_alerts_fdatasync", |b| {
        b.iter(|| {
            for _ in 0..64 {
                s.push_unsynced(&payload).unwrap();
            }
            s.sync().unwrap();
            let batch = s.peek_batch(64).unwrap();
            s.ack_through(batch.last().unwrap().seq).unwrap();
        })
    });
    g.finish();
}

fn format(c: &mut Criterion) {
    let f = Rfc5424Formatter::new(Facility::AUTH);
    let a = alert_json();
    c.bench_function("rfc5424_format_alert", |b| {
        b.iter(|| f.format_alert(&a, SystemTime::now()))
    });
}

fn record(i: u64) -> Record {
    Record {
        transaction: Some(Transaction {
            qname: format!("host{i}.example.com"),
            qtype: 1,
            pid: Some(4242),
            process: Some("curl".into()),
            query: Some(vec![0; 40]),
            answer: Some(vec![0; 300]),
            ..Transaction::default()
        }),
        verdict: Some(Verdict {
            qname: format!("host{i}.example.com"),
            qtype: 1,
            outcome: "secure".into(),
            evidence: vec![Evidence {
                owner: "example.com".into(),
                rtype: 48,
                wire: vec![0; 280],
                presentation: None,
            }],
            ..Verdict::default()
        }),
        alerts: if i.is_multiple_of(100) {
            vec![Alert {
                rule: "r".into(),
                json: "{}".into(),
                ..Alert::default()
            }]
        } else {
            vec![]
        },
    }
}

fn store(c: &mut Criterion) {
    const N: u64 = 1000;
    let mut g = c.benchmark_group("store_insert");
    g.throughput(Throughput::Elements(N));
    g.sample_size(20);
    let dir = tempfile::tempdir().unwrap();
    let mut w = BatchWriter::new(
        Store::open(&dir.path().join("b.db")).unwrap(),
        1000,
        Duration::from_secs(60),
    );
    g.bench_function("1000_records_batched", |b| {
        b.iter_batched(
            || (0..N).map(record).collect::<Vec<_>>(),
            |recs| {
                for r in recs {
                    w.push(r).unwrap();
                }
                w.commit().unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, spool, format, store);
criterion_main!(benches);
