//! Issue 6, acceptance 1 (root): a resolver that stops answering for 30
//! seconds raises `resolver_failure` — once — and `/metrics` shows it.
//!
//! A namespace of its own (`dmhealth-r`, 198.19.53.53 behind the veth
//! `dmhealth-h`, so it never meets the attack lab's 198.18.0.0/16) runs a
//! tiny resolver (the attack lab's relay answering every A query);
//! `dig` on the host asks it; `dnssec-monitor run` captures on the veth with
//! a 20 s health window. The resolver answers, goes silent for 30 s while
//! the client keeps asking once a second, then answers again.
//! Needs `target/debug/dnssec-monitor` with its eBPF object (`cargo xtask
//! build`). Skipped when not root, unless DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;
use tests::attack::relay::{Behaviour, Relay};
use tests::cmd::{have, run, run_quiet, run_timeout};
use tests::monitor::Monitor;
use tests::root::{required, root_or_skip};

const NS: &str = "dmhealth-r";
const VETH: &str = "dmhealth-h";
const HOST: &str = "198.19.53.1";
const RESOLVER: Ipv4Addr = Ipv4Addr::new(198, 19, 53, 53);
const OUTAGE: Duration = Duration::from_secs(30);

/// The namespace and veth; removed on drop (also after a failure).
struct Net;

fn teardown() {
    if let Ok(pids) = run(&["ip", "netns", "pids", NS]) {
        for pid in pids.split_whitespace() {
            run_quiet(&["kill", "-9", pid]);
        }
    }
    run_quiet(&["ip", "netns", "del", NS]);
    run_quiet(&["ip", "link", "del", VETH]);
}

impl Net {
    fn up() -> Result<Net> {
        teardown();
        let net = Net;
        run(&["ip", "netns", "add", NS])?;
        run(&[
            "ip", "link", "add", VETH, "type", "veth", "peer", "name", "eth0", "netns", NS,
        ])?;
        run(&["ip", "addr", "add", &format!("{HOST}/24"), "dev", VETH])?;
        run(&["ip", "link", "set", VETH, "up"])?;
        let inside = |a: &[&str]| {
            let mut v = vec!["ip", "netns", "exec", NS];
            v.extend_from_slice(a);
            run(&v)
        };
        inside(&["ip", "link", "set", "lo", "up"])?;
        inside(&[
            "ip",
            "addr",
            "add",
            &format!("{RESOLVER}/24"),
            "dev",
            "eth0",
        ])?;
        inside(&["ip", "link", "set", "eth0", "up"])?;
        Ok(net)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        teardown();
    }
}

fn resolver() -> Result<Relay> {
    Relay::start(
        NS,
        SocketAddrV4::new(RESOLVER, 53),
        Behaviour::ForgeA(Ipv4Addr::new(192, 0, 2, 1)),
    )
}

/// One lookup, one try, one second: true when answered.
fn dig(i: usize) -> bool {
    let name = format!("host{i}.health.test");
    let server = format!("@{RESOLVER}");
    run_timeout(
        &["dig", &server, "+tries=1", "+time=1", "+short", &name, "A"],
        Duration::from_secs(5),
    )
    .map(|o| String::from_utf8_lossy(&o.stdout).contains("192.0.2.1"))
    .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn scrape(port: u16) -> Result<String> {
    tests::monitor::scrape_metrics(port)
}

fn failures(m: &Monitor) -> Vec<Value> {
    m.events()
        .into_iter()
        .filter(|v| v["rule"]["name"] == "resolver_failure")
        .collect()
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn resolver_silent_for_30s_raises_resolver_failure_once_and_metrics_show_it() -> Result<()> {
    let test = "resolver_silent_for_30s_raises_resolver_failure_once_and_metrics_show_it";
    if !root_or_skip(test) {
        return Ok(());
    }
    if !have("dig") || !have("ip") {
        assert!(!required(), "{test}: dig and ip are needed");
        return Ok(());
    }
    let _net = Net::up()?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("health.toml");
    let store = dir.path().join("store.db");
    std::fs::write(
        &cfg,
        format!(
            "allow = [\"health.test\"]\n\n[resolver_health]\nwindow = \"20s\"\nmin_queries = 5\ntimeout_rate = 0.5\n\n[store]\npath = \"{}\"\n",
            store.display()
        ),
    )?;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let resolver_s = RESOLVER.to_string();
    let cfg_s = cfg.display().to_string();
    let mut m = Monitor::start(
        "health",
        &[
            "--config",
            &cfg_s,
            "--interface",
            VETH,
            "--metrics-listen",
            &listen,
            "--resolver",
            &resolver_s,
        ],
    )?;
    m.wait_log("metrics: serving", Duration::from_secs(10))?;

    // Healthy: every lookup answered, no alert (the benign twin).
    let r = resolver()?;
    for i in 0..10 {
        assert!(dig(i), "the resolver answers lookup {i}");
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        failures(&m).is_empty(),
        "healthy resolver: {:?}",
        failures(&m)
    );

    // Silent for 30 s while the client keeps asking.
    drop(r);
    let silent = Instant::now();
    let mut i = 100;
    let mut raised_after = None;
    while silent.elapsed() < OUTAGE {
        assert!(!dig(i), "the resolver is silent");
        i += 1;
        if raised_after.is_none() && !failures(&m).is_empty() {
            raised_after = Some(silent.elapsed());
        }
    }
    let raised_after = raised_after.with_context(|| {
        format!(
            "no resolver_failure during the outage\nmonitor log:\n{}",
            m.log()
        )
    })?;
    eprintln!("{test}: resolver_failure {raised_after:?} into the outage");
    let metrics = scrape(port)?;
    let r_label = format!("resolver=\"{RESOLVER}:53\"");
    let failing = format!("dnssec_monitor_resolver_failing{{{r_label},condition=\"unanswered\"}}");
    assert_eq!(metric(&metrics, &failing), Some(1.0), "{metrics}");
    let unanswered = format!("dnssec_monitor_resolver_unanswered_total{{{r_label}}}");
    assert!(
        metric(&metrics, &unanswered).unwrap_or(0.0) >= 5.0,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "dnssec_monitor_alerts_total{rule=\"resolver_failure\"}"
        ),
        Some(1.0),
        "{metrics}"
    );

    // Back: answers again; the episode was reported once.
    let _r = resolver()?;
    for j in 0..5 {
        assert!(dig(1000 + j), "the resolver answers again");
    }
    std::thread::sleep(Duration::from_secs(3));
    let f = failures(&m);
    assert_eq!(f.len(), 1, "one alert per episode: {f:?}");
    let a = &f[0];
    eprintln!("{test}: {}", a["dnssec_monitor"]["resolver"]);
    assert_eq!(a["destination"]["ip"], RESOLVER.to_string());
    assert_eq!(a["dnssec_monitor"]["resolver"]["condition"], "unanswered");
    assert!(
        a["dnssec_monitor"]["resolver"]["unanswered"]
            .as_u64()
            .unwrap_or(0)
            >= 5
    );
    assert_eq!(a["event"]["kind"], "alert");
    // Nothing else was alerted on (the names are allow-listed; no race, no unsolicited).
    let others: Vec<Value> = m
        .events()
        .into_iter()
        .filter(|v| v["event"]["kind"] == "alert" && v["rule"]["name"] != "resolver_failure")
        .collect();
    assert!(others.is_empty(), "{others:?}");
    // Each lookup of the outage is a transaction of its own (`--events`):
    // the query, unanswered; no answered lookup is among them.
    let lost: Vec<Value> = m
        .events()
        .into_iter()
        .filter(|v| v["dnssec_monitor"]["unanswered"] == true)
        .collect();
    assert!(lost.len() >= 5, "unanswered transaction lines: {lost:?}");
    for e in &lost {
        assert_eq!(e["event"]["dataset"], "dnssec_monitor.transaction", "{e}");
        assert_eq!(e["event"]["outcome"], "failure", "{e}");
        assert_eq!(e["dns"]["type"], "query", "{e}");
        assert_eq!(e["destination"]["ip"], RESOLVER.to_string(), "{e}");
        assert_eq!(e["process"]["name"], "dig", "{e}");
        assert!(e["dnssec_monitor"]["query"]["latency_ms"].is_null(), "{e}");
        let n: usize = e["dns"]["question"]["name"]
            .as_str()
            .and_then(|n| {
                n.strip_prefix("host")?
                    .strip_suffix(".health.test")?
                    .parse()
                    .ok()
            })
            .with_context(|| format!("a lookup's name: {e}"))?;
        assert!((100..1000).contains(&n), "an outage lookup, not {n}: {e}");
    }
    m.stop()?;

    // The posture went to the store: `report` shows the resolver.
    let out = std::process::Command::new(tests::monitor::binary())
        .args(["report", "--format", "json", "--since", "1h", "--store"])
        .arg(&store)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: Value = serde_json::from_slice(&out.stdout)?;
    let r = rep["resolvers"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["resolver"] == format!("{RESOLVER}:53")))
        .with_context(|| format!("resolver in the report: {rep:#}"))?;
    assert!(r["unanswered"].as_u64().unwrap_or(0) >= 5, "{r:#}");
    assert!(r["answers"].as_u64().unwrap_or(0) >= 15, "{r:#}");
    assert!(r["latency_p50_ms"].as_f64().is_some(), "{r:#}");
    eprintln!("{test}: report: {r}");
    Ok(())
}
