use std::time::Duration;

use super::*;
use crate::sinks::rotate::{RotateOptions, RotatingFile};

#[test]
fn metrics_address_prefers_the_command_line() {
    let cfg: SocketAddr = "127.0.0.1:9999".parse().unwrap();
    let cli: SocketAddr = "[::1]:9100".parse().unwrap();
    assert_eq!(
        OpsArgs::default().metrics_addr(None).to_string(),
        "127.0.0.1:9153"
    );
    assert_eq!(OpsArgs::default().metrics_addr(Some(cfg)), cfg);
    let a = OpsArgs {
        metrics_listen: Some(cli),
        nice: None,
    };
    assert_eq!(a.metrics_addr(Some(cfg)), cli);
}

#[test]
fn capture_counters_become_stage_and_kernel_series() {
    let ring = RingStats::default();
    ring.records.store(100, Ordering::Relaxed);
    ring.malformed.store(1, Ordering::Relaxed);
    ring.channel_full.store(2, Ordering::Relaxed);
    ring.duplicates.store(30, Ordering::Relaxed);
    let m = Metrics::new();
    m.add_collector(move || ring_samples(&ring));
    m.add_collector(|| kernel_samples(&[("seen", 500), ("ring_full", 3)]));
    m.add_collector(|| fast_path_samples(&[("fast_published", 4), ("fast_expired", 1)]));
    let text = m.encode();
    for line in [
        r#"dnssec_monitor_stage_received_total{stage="capture"} 100"#,
        r#"dnssec_monitor_stage_emitted_total{stage="capture"} 67"#,
        r#"dnssec_monitor_stage_dropped_total{stage="capture",reason="channel_full"} 2"#,
        r#"dnssec_monitor_kernel_packets_total{counter="ring_full"} 3"#,
        "# TYPE dnssec_monitor_kernel_packets_total counter",
        r#"dnssec_monitor_fast_path_total{event="published"} 4"#,
        r#"dnssec_monitor_fast_path_total{event="expired"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
}

#[tokio::test]
async fn sighup_reopens_the_rotating_file() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("alerts.jsonl");
    let mut f = RotatingFile::open(&path, RotateOptions::default()).unwrap();
    let task = spawn_reopen_on_hup(f.reopen_handle()).unwrap();
    f.write_line(b"{\"n\":1}").unwrap();
    f.flush().unwrap();
    // logrotate moves the file away, then signals.
    std::fs::rename(&path, d.path().join("alerts.jsonl.1")).unwrap();
    // Without a SIGHUP the line goes to the moved file.
    f.write_line(b"{\"n\":2}").unwrap();
    f.flush().unwrap();
    assert!(!path.exists());
    // SAFETY: raising a signal this process handles (tokio's handler).
    unsafe { libc::raise(libc::SIGHUP) };
    let mut reopened = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        f.write_line(b"{\"n\":3}").unwrap();
        f.flush().unwrap();
        if path.exists() {
            reopened = true;
            break;
        }
    }
    assert!(reopened, "SIGHUP did not reopen {}", path.display());
    let moved = std::fs::read_to_string(d.path().join("alerts.jsonl.1")).unwrap();
    assert!(moved.contains("\"n\":2"), "{moved}");
    assert!(std::fs::read_to_string(&path).unwrap().contains("\"n\":3"));
    task.abort();
}

#[test]
fn detection_counters_become_stage_and_alert_series() {
    let h = StageHandle {
        stage: Arc::default(),
        detect: Arc::default(),
        health: Arc::default(),
        outstanding: Arc::default(),
        transactions: None,
    };
    h.stage.received.store(9, Ordering::Relaxed);
    {
        let mut o = h.outstanding.lock().unwrap();
        o.evicted_full = 3;
        o.evicted_answered = 70;
        o.entries = 65_536;
    }
    h.detect.verdict_queue_full.store(4, Ordering::Relaxed);
    h.detect.served.store(6, Ordering::Relaxed);
    h.detect.alerts[Rule::ALL[0].index()].store(2, Ordering::Relaxed);
    let m = Metrics::new();
    let hc = h.clone();
    m.add_collector(move || detect_samples(&hc));
    let text = m.encode();
    assert!(
        !text.contains("dnssec_monitor_transaction_lines_total"),
        "no --events, no transaction series:\n{text}"
    );
    let t = Arc::new(crate::detect::transactions::TransactionStats::default());
    t.lines.store(12, Ordering::Relaxed);
    t.full.store(5, Ordering::Relaxed);
    let mut h = h;
    h.transactions = Some(t);
    let m = Metrics::new();
    let hc = h.clone();
    m.add_collector(move || detect_samples(&hc));
    let text = m.encode();
    let first = format!(
        "dnssec_monitor_alerts_total{{rule=\"{}\"}} 2",
        Rule::ALL[0].name()
    );
    for line in [
        r#"dnssec_monitor_stage_received_total{stage="detect"} 9"#,
        r#"dnssec_monitor_stage_dropped_total{stage="detect",reason="verdict_queue_full"} 4"#,
        r#"dnssec_monitor_outstanding_messages_total{outcome="evicted_full"} 3"#,
        r#"dnssec_monitor_outstanding_messages_total{outcome="evicted_answered"} 70"#,
        r#"dnssec_monitor_outstanding_messages_total{outcome="race"} 0"#,
        r#"dnssec_monitor_outstanding_entries 65536"#,
        r#"dnssec_monitor_detect_skipped_total{reason="served"} 6"#,
        r#"dnssec_monitor_detect_skipped_total{reason="own"} 0"#,
        r#"dnssec_monitor_transaction_lines_total 12"#,
        r#"dnssec_monitor_stage_dropped_total{stage="detect",reason="transaction_lines_full"} 5"#,
        first.as_str(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
    // Every rule has its series, at zero when it never fired.
    assert_eq!(
        text.matches("dnssec_monitor_alerts_total{").count(),
        Rule::ALL.len()
    );
}
