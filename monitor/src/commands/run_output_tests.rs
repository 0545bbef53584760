//! The output stage end to end in-process: real alerts from the detection
//! lab (engine over the signed test hierarchy) go to a rotated file, a TCP
//! syslog collector and the store; the stored evidence re-verifies.

use std::path::Path;

use hickory_proto::rr::RecordType;

use super::*;
use crate::commands::{export, verify_evidence::reverify};
use crate::config::SyslogSinkConfig;
use crate::detect::alert::Rule;
use crate::detect::lab::{Lab, Reply, policy};
use crate::detect::testkit::RESOLVER;
use crate::sinks::rotate::RotateOptions;
use crate::sinks::syslog::TransportKind;
use crate::sinks::syslog::{Facility, format::tests::parse_rfc5424, transport::tests::Collector};
use crate::store::{SearchQuery, Store};

const SECURE: u8 = 3;

fn config(dir: &Path, collector: Option<std::net::SocketAddr>) -> Config {
    let mut cfg = Config::default();
    cfg.output.target = OutputTarget::File(dir.join("alerts.jsonl"));
    cfg.output.rotate = RotateOptions {
        max_bytes: 1 << 20,
        keep: 2,
    };
    if let Some(addr) = collector {
        cfg.syslog.push(SyslogSinkConfig {
            transport: TransportKind::Tcp,
            address: addr.to_string(),
            server_name: None,
            ca_file: None,
            spool_dir: dir.join("spool"),
            spool_max_bytes: 1 << 20,
            facility: Facility::AUTH,
        });
    }
    cfg.store = Some(StoreConfig {
        path: dir.join("store.db"),
        max_age: None,
        max_bytes: None,
        sample_per_second: 100,
    });
    cfg
}

/// A stripped answer (`unsigned_fallback`), then one whose RRSIG was
/// altered (`bogus_signature`), with real verdicts.
async fn lab_alerts(lab: &mut Lab) -> Vec<Alert> {
    let mut alerts = lab
        .via_resolver(
            SECURE,
            "www.secure.test.",
            RecordType::A,
            true,
            Reply {
                strip_rrsigs: true,
                ..Reply::default()
            },
        )
        .await;
    let mut auth = lab.auth(SECURE, "www.secure.test.", RecordType::A).await;
    for r in auth.answers.iter_mut() {
        use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
        use hickory_proto::rr::RData;
        if let RData::DNSSEC(DNSSECRData::RRSIG(s)) = &r.data {
            let mut sig = s.sig().to_vec();
            sig[7] ^= 1;
            r.data = RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(s.input().clone(), sig)));
        }
    }
    alerts.extend(
        lab.txn(
            "www.secure.test.",
            RecordType::A,
            true,
            true,
            RESOLVER,
            |q| Lab::resolver_answer(q, &auth, Reply::default()),
        )
        .await,
    );
    let rules: Vec<Rule> = alerts.iter().map(|a| a.rule).collect();
    assert_eq!(rules, [Rule::UnsignedFallback, Rule::BogusSignature]);
    alerts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_the_file_the_collector_and_the_store_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let (col_tx, mut col_rx) = mpsc::unbounded_channel();
    let collector = Collector::start("127.0.0.1:0".parse().unwrap(), None, col_tx).await;
    let mut lab = Lab::new(policy());
    let alerts = lab_alerts(&mut lab).await;
    // A sample as the detector hands it over: the answer with its query
    // and verdict (here the first alert's).
    let sampled = Sampled {
        ev: alerts[0].event.clone().unwrap(),
        query: alerts[0].query.clone(),
        lookup: alerts[0].lookup.clone(),
        judged_at: SystemTime::now(),
    };

    let cfg = config(dir.path(), Some(collector.addr));
    let plan = OutputPlan::open(&cfg, None, &OutputArgs::default()).unwrap();
    assert!(plan.sampler().is_some());
    let (tx, rx) = mpsc::channel(64);
    let stage = plan
        .start(rx, Some(lab.det.verdicts().engine().clone()))
        .unwrap();
    tx.send(Output::Events {
        bytes: b"{\"e\":1}\n{\"e\":2}\n".to_vec(),
        lines: 2,
    })
    .await
    .unwrap();
    for a in alerts {
        tx.send(Output::Alert(Arc::new(a))).await.unwrap();
    }
    tx.send(Output::Transaction(Box::new(sampled)))
        .await
        .unwrap();
    drop(tx);
    let report = stage.finish(Duration::from_secs(5)).await.unwrap();
    assert!(report.contains("alerts=2 write_errors=0"), "{report}");

    // The file: the two event lines, then the two alerts.
    let text = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let docs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 4, "{text}");
    assert_eq!(docs[2]["rule"]["name"], "unsigned_fallback");
    assert_eq!(docs[3]["rule"]["name"], "bogus_signature");

    // The collector: each alert once, in order, as RFC 5424.
    let mut got = Vec::new();
    while got.len() < 2 {
        let m = tokio::time::timeout(Duration::from_secs(10), col_rx.recv())
            .await
            .expect("the collector got both alerts")
            .unwrap();
        got.push(parse_rfc5424(&m).unwrap().msgid);
    }
    assert_eq!(got, ["unsigned_fallback", "bogus_signature"]);
    collector.stop().await;
    assert!(col_rx.try_recv().is_err(), "no duplicate");

    // The store: both alerts with evidence that re-verifies, plus the
    // sample with its own verdict row.
    let store = Store::open_read_only(&dir.path().join("store.db")).unwrap();
    let (transactions, verdicts, evidence, alert_rows) = store.counts().unwrap();
    assert_eq!((transactions, verdicts, alert_rows), (3, 3, 2));
    let samples: Vec<_> = store
        .search_transactions(&SearchQuery {
            process: Some("curl".into()),
            ..SearchQuery::default()
        })
        .unwrap()
        .into_iter()
        .filter(|t| t.alerts == 0)
        .collect();
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!(samples[0].outcome.as_deref(), Some("secure"));
    assert!(evidence >= 6, "DNSKEYs, DS and RRSIGs: {evidence}");
    for (rule, outcome) in [
        ("unsigned_fallback", "secure"),
        ("bogus_signature", "bogus"),
    ] {
        let hits = store
            .search_alerts(&SearchQuery {
                rule: Some(rule.into()),
                ..SearchQuery::default()
            })
            .unwrap();
        assert_eq!(hits.len(), 1, "{rule}");
        let d = store.alert_detail(hits[0].id).unwrap().unwrap();
        let v = d.verdict.as_ref().unwrap();
        assert_eq!(v.outcome, outcome, "{rule}");
        let types: Vec<u16> = v.evidence.iter().map(|e| e.rtype).collect();
        for t in [RecordType::DNSKEY, RecordType::DS, RecordType::RRSIG] {
            assert!(types.contains(&u16::from(t)), "{rule}: no {t} in {types:?}");
        }
        let r = reverify(&d).unwrap();
        assert!(r.reproduced, "{rule}: {r:?}");
        let tx = d.transaction.as_ref().unwrap();
        assert!(tx.query.is_some() && tx.answer.is_some(), "{rule}");
        assert_eq!(export::frames(tx).unwrap().len(), 2, "query and answer");
    }
}

#[tokio::test]
async fn tampered_evidence_does_not_reproduce() {
    // The twin of the test above: the same stored alert with one DNSKEY
    // RRSIG byte changed no longer re-verifies as secure.
    let dir = tempfile::tempdir().unwrap();
    let mut lab = Lab::new(policy());
    let alerts = lab_alerts(&mut lab).await;
    let plan = OutputPlan::open(&config(dir.path(), None), None, &OutputArgs::default()).unwrap();
    let (tx, rx) = mpsc::channel(8);
    let stage = plan
        .start(rx, Some(lab.det.verdicts().engine().clone()))
        .unwrap();
    tx.send(Output::Alert(Arc::new(alerts[0].clone())))
        .await
        .unwrap();
    drop(tx);
    stage.finish(Duration::from_secs(1)).await.unwrap();
    let store = Store::open_read_only(&dir.path().join("store.db")).unwrap();
    let mut d = store.alert_detail(1).unwrap().unwrap();
    assert!(reverify(&d).unwrap().reproduced);
    let v = d.verdict.as_mut().unwrap();
    let sig = v
        .evidence
        .iter_mut()
        .find(|e| e.rtype == u16::from(RecordType::RRSIG))
        .unwrap();
    let last = sig.wire.len() - 1;
    sig.wire[last] ^= 0x40;
    let r = reverify(&d).unwrap();
    assert!(!r.reproduced, "{r:?}");
}

#[test]
fn the_command_line_output_and_store_win_over_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), None);
    let args = OutputArgs {
        store: Some(dir.path().join("other.db")),
    };
    assert_eq!(
        store_config(&cfg, &args).unwrap().path,
        dir.path().join("other.db")
    );
    assert_eq!(
        store_config(&Config::default(), &args)
            .unwrap()
            .sample_per_second,
        DEFAULT_SAMPLE_PER_SECOND
    );
    assert!(store_config(&Config::default(), &OutputArgs::default()).is_none());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _g = rt.enter();
    let plan = OutputPlan::open(&cfg, Some("-"), &OutputArgs::default()).unwrap();
    assert!(matches!(plan.lines, Lines::Stdout(_)));
    assert!(!dir.path().join("alerts.jsonl").exists());
}

#[test]
fn an_output_that_cannot_be_opened_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), None);
    cfg.store.as_mut().unwrap().path = dir.path().join("missing/dir/s.db");
    let e = OutputPlan::open(&cfg, None, &OutputArgs::default())
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("opening the store"), "{e:#}");
    let cfg = config(dir.path(), None);
    let e = OutputPlan::open(
        &cfg,
        Some("/nonexistent/dir/a.jsonl"),
        &OutputArgs::default(),
    )
    .err()
    .unwrap();
    assert!(
        format!("{e:#}").contains("opening the output file"),
        "{e:#}"
    );
    // Without a store there is nothing to sample for.
    let mut cfg = config(dir.path(), None);
    cfg.store = None;
    assert!(
        OutputPlan::open(&cfg, None, &OutputArgs::default())
            .unwrap()
            .sampler()
            .is_none()
    );
}

#[tokio::test]
async fn event_batches_rotate_by_size_without_splitting_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), None);
    cfg.store = None;
    cfg.output.rotate = RotateOptions {
        max_bytes: 200,
        keep: 3,
    };
    let plan = OutputPlan::open(&cfg, None, &OutputArgs::default()).unwrap();
    let stats = plan.stats();
    let (tx, rx) = mpsc::channel(64);
    let stage = plan.start(rx, None).unwrap();
    // 20 batches of 3 lines of 30 bytes: 1,860 bytes through a 200-byte file.
    for b in 0..20 {
        let mut batch = Vec::new();
        for i in 0..3 {
            batch.extend_from_slice(
                format!("{{\"batch\":{b:3},\"line\":{i},\"pad\":\"x\"}}\n").as_bytes(),
            );
        }
        tx.send(Output::Events {
            bytes: batch,
            lines: 3,
        })
        .await
        .unwrap();
    }
    drop(tx);
    stage.finish(Duration::from_secs(1)).await.unwrap();
    assert_eq!(stats.counters.lines.load(Ordering::Relaxed), 60);
    assert!(stats.counters.rotations.load(Ordering::Relaxed) >= 3);
    let base = dir.path().join("alerts.jsonl");
    let mut kept = 0;
    for p in [
        base.clone(),
        dir.path().join("alerts.jsonl.1"),
        dir.path().join("alerts.jsonl.2"),
        dir.path().join("alerts.jsonl.3"),
    ] {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.len() <= 200, "{} is {} bytes", p.display(), text.len());
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).expect("whole lines only");
            assert!(v["batch"].is_u64());
            kept += 1;
        }
    }
    assert!(!dir.path().join("alerts.jsonl.4").exists(), "keep = 3");
    // The newest lines are in the current file.
    let last = std::fs::read_to_string(&base).unwrap();
    assert!(last.contains("\"batch\": 19,\"line\":2"), "{last}");
    assert!(kept < 60, "the oldest files were deleted");
}

#[tokio::test]
async fn an_engine_bogus_verdict_is_stored_and_reverifies_as_bogus() {
    // The zone's own RRSIG over www is damaged: the engine's verdict is
    // bogus, the host (through a non-validating resolver) accepted it.
    let dir = tempfile::tempdir().unwrap();
    let mut lab = Lab::new(policy());
    let alerts = lab
        .via_resolver(6, "www.broken.test.", RecordType::A, true, Reply::default())
        .await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].rule, Rule::BogusSignature);
    let plan = OutputPlan::open(&config(dir.path(), None), None, &OutputArgs::default()).unwrap();
    let (tx, rx) = mpsc::channel(8);
    let stage = plan
        .start(rx, Some(lab.det.verdicts().engine().clone()))
        .unwrap();
    tx.send(Output::Alert(Arc::new(alerts[0].clone())))
        .await
        .unwrap();
    drop(tx);
    stage.finish(Duration::from_secs(1)).await.unwrap();
    let store = Store::open_read_only(&dir.path().join("store.db")).unwrap();
    let d = store.alert_detail(1).unwrap().unwrap();
    assert_eq!(d.verdict.as_ref().unwrap().outcome, "bogus");
    let r = reverify(&d).unwrap();
    assert!(r.reproduced, "{r:?}");
    assert!(
        r.checks
            .iter()
            .any(|c| c.failure.is_some() && c.what.contains("www.broken.test./A")),
        "{r:?}"
    );
}
