//! The daemon's output side end to end (root; issue 4): `dnssec-monitor run`
//! in the attack lab with a config file naming a rotated output file, a
//! TCP syslog sink (a collector in this test) and a forensic store. A real
//! attack (RRSIGs stripped on path) raises an alert that appears in the
//! file, once at the collector (RFC 5424 over RFC 6587 octet counting) and
//! in the store, where `search`, `export --pcap` and `verify-evidence`
//! find and re-check it. `mv` + SIGHUP moves new lines to a new file;
//! SIGTERM exits 0 with everything flushed and the store intact.
//!
//! Needs `target/debug/dnssec-monitor` with its eBPF object (`cargo xtask
//! build`). Skipped when not root, unless DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tests::attack::{Lab, scenarios, tools};
use tests::monitor::{Monitor, binary};
use tests::root::{required, root_or_skip};

/// Messages a TCP collector received: RFC 6587 §3.4.1 octet counting.
struct Collector {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<String>>>,
}

impl Collector {
    fn start() -> Result<Collector> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let addr = l.local_addr()?;
        let got: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = got.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { return };
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = c.read(&mut chunk) {
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(sp) = buf.iter().position(|b| *b == b' ') {
                            let Some(len) = std::str::from_utf8(&buf[..sp])
                                .ok()
                                .and_then(|s| s.parse::<usize>().ok())
                            else {
                                return;
                            };
                            if buf.len() < sp + 1 + len {
                                break;
                            }
                            let msg =
                                String::from_utf8_lossy(&buf[sp + 1..sp + 1 + len]).into_owned();
                            buf.drain(..sp + 1 + len);
                            sink.lock().unwrap().push(msg);
                        }
                    }
                });
            }
        });
        Ok(Collector { addr, got })
    }

    fn messages(&self) -> Vec<String> {
        self.got.lock().unwrap().clone()
    }
}

/// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID ...`: the MSGID (the rule).
fn msgid(m: &str) -> Option<&str> {
    let rest = m.strip_prefix('<')?;
    let (pri, rest) = rest.split_once('>')?;
    pri.parse::<u8>().ok()?;
    let f: Vec<&str> = rest.splitn(7, ' ').collect();
    (f.first() == Some(&"1") && f.len() == 7 && f[3] == "dnssec-monitor").then_some(f[5])
}

fn cli(args: &[&str]) -> Result<(i32, String)> {
    let out = Command::new(binary()).args(args).output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.code().unwrap_or(-1), text))
}

fn wait(what: &str, timeout: Duration, mut ok: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !ok()? {
        if Instant::now() >= deadline {
            bail!("{what}: not within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn alerts_in(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"]["kind"] == "alert")
        .collect()
}

#[test]
fn alert_reaches_file_syslog_and_store_then_sighup_and_sigterm() -> Result<()> {
    let test = "alert_reaches_file_syslog_and_store_then_sighup_and_sigterm";
    if !root_or_skip(test) {
        return Ok(());
    }
    if let Err(missing) = tools() {
        assert!(!required(), "{test}: missing tools {missing:?}");
        eprintln!("{test}: skipped: missing {missing:?}");
        return Ok(());
    }
    let dir = tempfile::Builder::new()
        .prefix("dnssec-output-e2e-")
        .tempdir()?;
    let d = dir.path();
    let collector = Collector::start()?;
    let db = d.join("store.db");
    let conf = d.join("monitor.toml");
    std::fs::write(
        &conf,
        format!(
            "[output]\nrotate_bytes = \"64MiB\"\nkeep = 2\n\
             [[sink.syslog]]\ntransport = \"tcp\"\naddress = \"{}\"\nspool_dir = \"{}\"\n\
             [store]\npath = \"{}\"\nsample_per_second = 50\n",
            collector.addr,
            d.join("spool").display(),
            db.display()
        ),
    )?;
    let conf_s = conf.display().to_string();
    let mut lab = Lab::up_with(|_| Ok((vec!["--config".to_owned(), conf_s], Vec::new())))
        .context("lab with the output config")?;
    let out = lab.monitor.output.clone();

    // 1. A real attack: RRSIGs stripped from a DO=1 answer.
    let s = scenarios::find("stripped-rrsig").context("scenario")?;
    let o = (s.run)(&lab)?;
    scenarios::check(&o, s.expect).with_context(|| lab.monitor.log())?;
    assert_eq!(alerts_in(&out).len(), 1, "the alert is in the output file");

    // 2. At the collector, once, as RFC 5424 with the rule as MSGID.
    wait(
        "the syslog collector gets the alert",
        Duration::from_secs(10),
        || Ok(!collector.messages().is_empty()),
    )?;
    std::thread::sleep(Duration::from_millis(500));
    let got = collector.messages();
    let ids: Vec<Option<&str>> = got.iter().map(|m| msgid(m)).collect();
    assert_eq!(ids, [Some("unsigned_fallback")], "{got:?}");

    // 3. In the store (committed within its batch delay): search, export, verify.
    let db_s = db.display().to_string();
    let mut id = String::new();
    wait("the store has the alert", Duration::from_secs(10), || {
        let (code, text) = cli(&[
            "search",
            "--store",
            &db_s,
            "--rule",
            "unsigned_fallback",
            "--json",
        ])?;
        let hits: Vec<Value> = if code == 0 {
            serde_json::from_str(&text).unwrap_or_default()
        } else {
            Vec::new()
        };
        if let Some(h) = hits.first() {
            id = h["id"].to_string();
            assert_eq!(h["qname"], "www.ed.test", "{text}");
            return Ok(true);
        }
        Ok(false)
    })?;
    let pcap = d.join("alert.pcap");
    let pcap_s = pcap.display().to_string();
    let (code, text) = cli(&["export", "--db", &db_s, "--alert", &id, "--pcap", &pcap_s])?;
    assert_eq!(code, 0, "{text}");
    let (code, text) = cli(&["verify-evidence", "--db", &db_s, &id])?;
    assert_eq!(code, 0, "verify-evidence: {text}");
    assert!(text.contains("reproduced"), "{text}");
    if tests::cmd::have("tshark") {
        let t = Command::new("tshark")
            .args([
                "-r",
                &pcap_s,
                "-Y",
                "dns",
                "-T",
                "fields",
                "-e",
                "dns.qry.name",
                "-e",
                "dns.flags.response",
            ])
            .output()?;
        let lines = String::from_utf8_lossy(&t.stdout).into_owned();
        let l: Vec<&str> = lines.lines().collect();
        assert_eq!(l.len(), 2, "query and answer: {lines}");
        assert!(l.iter().all(|x| x.starts_with("www.ed.test")), "{lines}");
    } else {
        assert!(!required(), "tshark is missing");
    }

    // 4. mv + SIGHUP: the next lines go to a new file at the same path.
    let moved = d.join("moved.jsonl");
    std::fs::rename(&out, &moved)?;
    let pid = lab.monitor.pid().context("running")? as i32;
    // SAFETY: signalling the daemon this test started.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(300));
    let o = (s.run)(&lab)?;
    scenarios::check(&o, s.expect).with_context(|| lab.monitor.log())?;
    assert_eq!(alerts_in(&out).len(), 1, "the new alert is in the new file");
    assert_eq!(
        alerts_in(&moved).len(),
        1,
        "nothing more went to the moved file"
    );

    // 5. SIGTERM: exit 0, everything flushed.
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let log = lab.monitor.stop()?;
    assert!(log.contains("output: "), "exit report: {log}");
    assert!(log.contains("sent=2"), "both alerts delivered: {log}");
    let ids: Vec<String> = collector
        .messages()
        .iter()
        .filter_map(|m| msgid(m).map(str::to_owned))
        .collect();
    assert_eq!(ids, ["unsigned_fallback", "unsigned_fallback"], "each once");
    let store = monitor::store::Store::open_read_only(&db)?;
    store.integrity_check()?;
    let (transactions, verdicts, _, alerts) = store.counts()?;
    assert_eq!(alerts, 2, "both alerts committed at exit");
    // Sampled answers are stored after the detector judged them, with a
    // verdict row of their own besides the alerts' (the alerting answers
    // are among the samples too).
    assert!(verdicts >= 2, "{verdicts}");
    assert!(transactions >= 2, "{transactions}");
    let samples = store.search_transactions(&monitor::store::SearchQuery {
        limit: 1_000,
        ..Default::default()
    })?;
    assert!(
        samples.iter().any(|t| t.alerts == 0 && t.outcome.is_some()),
        "a sample with its verdict: {samples:?}"
    );
    drop(lab);
    Ok(())
}

fn scrape(port: u16) -> Result<String> {
    tests::monitor::scrape_metrics(port)
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The output side's series on /metrics: per syslog sink (connected,
/// sent, spooled, drops), the store, the sampler, the caches and the
/// validation latency histogram; without a store, no store series.
#[test]
fn output_metrics_are_served() -> Result<()> {
    let test = "output_metrics_are_served";
    if !root_or_skip(test) {
        return Ok(());
    }
    let dir = tempfile::Builder::new()
        .prefix("dnssec-output-metrics-")
        .tempdir()?;
    let collector = Collector::start()?;
    let conf = dir.path().join("m.toml");
    std::fs::write(
        &conf,
        format!(
            "[[sink.syslog]]\ntransport = \"tcp\"\naddress = \"{}\"\nspool_dir = \"{}\"\n",
            collector.addr,
            dir.path().join("spool").display()
        ),
    )?;
    let (conf_s, db_s) = (
        conf.display().to_string(),
        dir.path().join("s.db").display().to_string(),
    );
    for with_store in [true, false] {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec![
            "--metrics-listen",
            listen.as_str(),
            "--config",
            conf_s.as_str(),
        ];
        if with_store {
            args.extend(["--store", db_s.as_str()]);
        }
        let mut m = Monitor::start(&format!("output-metrics-{with_store}"), &args)?;
        let sink = format!("sink=\"{}\"", collector.addr);
        let mut text = String::new();
        // The endpoint starts shortly after the "capturing" line.
        wait("the sink connects", Duration::from_secs(10), || {
            text = scrape(port).unwrap_or_default();
            Ok(text.contains(&format!("dnssec_monitor_sink_connected{{{sink}}} 1")))
        })?;
        for series in [
            format!("dnssec_monitor_sink_messages_total{{{sink},result=\"sent\"}} 0"),
            format!("dnssec_monitor_sink_messages_total{{{sink},result=\"dropped_queue_full\"}} 0"),
            format!("dnssec_monitor_sink_spool_depth{{{sink}}} 0"),
            "dnssec_monitor_cache_entries{cache=\"verdict\"}".to_owned(),
            "dnssec_monitor_cache_hit_ratio{cache=\"engine\"}".to_owned(),
            "dnssec_monitor_validation_seconds_bucket{le=\"+Inf\"}".to_owned(),
            "dnssec_monitor_stage_dropped_total{stage=\"output\",reason=\"write_error\"} 0"
                .to_owned(),
        ] {
            assert!(text.contains(&series), "{series} missing:\n{text}");
        }
        for series in [
            "dnssec_monitor_store_records_total{result=\"committed\"}",
            "dnssec_monitor_stage_dropped_total{stage=\"sample\",reason=\"channel_full\"}",
        ] {
            assert_eq!(
                text.contains(series),
                with_store,
                "{series} (store: {with_store}):\n{text}"
            );
        }
        m.stop()?;
    }
    Ok(())
}
