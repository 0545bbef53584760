//! The running daemon (root): every thread keeps only CAP_NET_ADMIN and
//! CAP_BPF after attaching (`/proc/PID/task/*/status`), and
//! `--metrics-listen` serves the Prometheus text with kernel counters.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    time::Duration,
};

use anyhow::{Context, Result};
use tests::{monitor::Monitor, root::root_or_skip};

/// CAP_NET_ADMIN (12) | CAP_BPF (39), as /proc prints it.
const KEPT: &str = "0000008000001000";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn scrape(port: u16) -> Result<String> {
    tests::monitor::scrape_metrics(port)
}

#[test]
fn daemon_drops_capabilities_and_serves_metrics() -> Result<()> {
    if !root_or_skip("daemon_drops_capabilities_and_serves_metrics") {
        return Ok(());
    }
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut m = Monitor::start("ops", &["--metrics-listen", &listen])?;
    m.wait_log("capabilities reduced", Duration::from_secs(10))?;
    let pid = m.pid().context("running")?;
    let mut tasks = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(status) = std::fs::read_to_string(entry?.path().join("status")) else {
            continue; // thread gone
        };
        tasks += 1;
        for field in ["CapEff:", "CapPrm:", "CapBnd:"] {
            let line = status
                .lines()
                .find(|l| l.starts_with(field))
                .context("cap line")?;
            assert_eq!(line.split_whitespace().nth(1), Some(KEPT), "{line}");
        }
        assert!(status.lines().any(|l| l == "NoNewPrivs:\t1"), "{status}");
    }
    assert!(tasks > 1, "a multi-threaded daemon");

    let r = scrape(port)?;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("text/plain; version=0.0.4"), "{r}");
    assert!(
        r.contains("dnssec_monitor_kernel_packets_total{counter="),
        "{r}"
    );
    let again = scrape(port)?;
    assert!(
        again.contains("dnssec_monitor_stage_received_total{stage=\"capture\"}"),
        "{again}"
    );
    assert!(
        again.contains("dnssec_monitor_stage_received_total{stage=\"detect\"}"),
        "{again}"
    );
    assert!(
        again.contains("dnssec_monitor_alerts_total{rule=\"bogus_signature\"} 0"),
        "{again}"
    );
    let not_found = {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.write_all(b"GET / HTTP/1.1\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        out
    };
    assert!(not_found.starts_with("HTTP/1.1 404"), "{not_found}");
    m.stop()?;
    Ok(())
}
