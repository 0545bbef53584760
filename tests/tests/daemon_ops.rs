//! The running daemon (root): every thread keeps only CAP_NET_ADMIN and
//! CAP_BPF after attaching (`/proc/PID/task/*/status`), and
//! `--metrics-listen` serves the Prometheus text with kernel counters.
//! Killed with SIGKILL (no cleanup at all), it leaves no program attached
//! and starts again at once.

use std::{
    collections::BTreeSet,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::Command,
    time::{Duration, Instant},
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
        again.contains("dnssec_monitor_stage_received_total{stage=\"decode\"}"),
        "{again}"
    );
    assert!(
        again.contains("dnssec_monitor_stage_dropped_total{stage=\"decode\",reason=\"tcp_gap\"}"),
        "{again}"
    );
    assert!(
        again.contains("dnssec_monitor_alerts_total{rule=\"bogus_signature\"} 0"),
        "{again}"
    );
    for series in [
        "dnssec_monitor_detect_skipped_total{reason=\"served\"} 0",
        "dnssec_monitor_engine_case_mismatches_total 0",
    ] {
        assert!(again.contains(series), "{series} missing in\n{again}");
    }
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

/// The eBPF program ids the process holds (programs and links both show
/// `prog_id:` in their fdinfo, kernel/bpf/syscall.c).
fn program_ids(pid: u32) -> Result<BTreeSet<u32>> {
    let mut ids = BTreeSet::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))? {
        let Ok(info) = std::fs::read_to_string(entry?.path()) else {
            continue; // fd closed meanwhile
        };
        for line in info.lines() {
            if let Some(v) = line.strip_prefix("prog_id:") {
                ids.insert(v.trim().parse()?);
            }
        }
    }
    Ok(ids)
}

/// Whether the kernel still has program `id` (`bpftool prog show id N`
/// fails for an id that is gone).
fn program_exists(id: u32) -> Result<bool> {
    let out = Command::new("bpftool")
        .args(["prog", "show", "id", &id.to_string()])
        .output()
        .context("running bpftool (cargo xtask setup installs it)")?;
    Ok(out.status.success())
}

#[test]
fn a_killed_daemon_leaves_no_program_attached_and_restarts() -> Result<()> {
    if !root_or_skip("a_killed_daemon_leaves_no_program_attached_and_restarts") {
        return Ok(());
    }
    let mut m = Monitor::start("kill9", &[])?;
    let pid = m.pid().context("running")?;
    let ids = program_ids(pid)?;
    // tc (per interface), cgroup_skb, sock_addr: several programs.
    assert!(ids.len() >= 3, "programs held by the daemon: {ids:?}");
    for &id in &ids {
        assert!(program_exists(id)?, "program {id} listed but not found");
    }
    m.kill()?;
    // Nothing is pinned: with the process gone the links and programs
    // are released (asynchronously, after an RCU grace period).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut left = Vec::new();
        for &id in &ids {
            if program_exists(id)? {
                left.push(id);
            }
        }
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "programs {left:?} still loaded 10 s after SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A new daemon attaches again and stops cleanly.
    let mut again = Monitor::start("kill9-again", &[])?;
    let again_ids = program_ids(again.pid().context("running")?)?;
    assert!(again_ids.len() >= ids.len(), "{again_ids:?} vs {ids:?}");
    assert!(again_ids.is_disjoint(&ids), "fresh programs, not leftovers");
    again.stop()?;
    Ok(())
}
