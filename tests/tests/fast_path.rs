//! The kernel fast path (docs/design-kernel-fast-path.md) on a live
//! daemon, as deployed (no `--events`): repeats of an exchange judged
//! clean are counted in the kernel, and whatever makes an exchange
//! different still reaches the detector — a changed answer, a burst of
//! wrong-txid answers (a `response_race`, not an `unsolicited_response`),
//! a query left unanswered.
//!
//! Root only (eBPF); traffic stays on `lo` (a responder on 127.0.0.1).

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use tests::monitor::Monitor;
use tests::root::root_or_skip;

const PORT: u16 = 5392;
const METRICS_PORT: u16 = 9392;
const NAME: &str = "fast.example";
/// A DS for a zone the test never asks about: `fast.example` is then
/// provably outside every trust anchor (Insecure), a verdict that may be
/// reused, as for any unsigned name.
const ANCHOR: &str = "anchor.invalid. 3600 IN DS 12345 13 2 \
     0000000000000000000000000000000000000000000000000000000000000000\n";

const NORMAL: u8 = 0;
const CHANGED: u8 = 1;
const RACE: u8 = 2;
const SILENT: u8 = 3;

/// Answers every query for A with one record; what it sends depends on
/// the mode.
struct Responder {
    mode: Arc<AtomicU8>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Responder {
    fn start() -> Result<Responder> {
        let sock = UdpSocket::bind(("127.0.0.1", PORT))?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let mode = Arc::new(AtomicU8::new(NORMAL));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m, s) = (mode.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let q = &buf[..n];
                match m.load(Ordering::Relaxed) {
                    NORMAL => send(&sock, from, answer(q, [192, 0, 2, 80])),
                    CHANGED => send(&sock, from, answer(q, [192, 0, 2, 81])),
                    RACE => {
                        // A blind spoofer's guesses first (RFC 5452 §4).
                        for k in 1..=5u16 {
                            if let Some(mut a) = answer(q, [198, 51, 100, 66]) {
                                let id = u16::from_be_bytes([a[0], a[1]]).wrapping_add(k);
                                a[..2].copy_from_slice(&id.to_be_bytes());
                                let _ = sock.send_to(&a, from);
                            }
                        }
                        send(&sock, from, answer(q, [192, 0, 2, 80]));
                    }
                    _ => {}
                }
            }
        });
        Ok(Responder {
            mode,
            stop,
            thread: Some(thread),
        })
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::Relaxed);
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn send(sock: &UdpSocket, to: std::net::SocketAddr, a: Option<Vec<u8>>) {
    if let Some(a) = a {
        let _ = sock.send_to(&a, to);
    }
}

fn answer(q: &[u8], addr: [u8; 4]) -> Option<Vec<u8>> {
    tests::dns::answer_a(q, addr)
}

/// The same query bytes every time but for the id (as a stub or a cache
/// asking again), RD set, no EDNS.
fn query(id: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in NAME.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// One exchange from `sock`; the answer with the query's id, if any
/// within `wait` (answers with other ids are read past, as a stub does).
fn ask(sock: &UdpSocket, id: u16, wait: Duration) -> Result<Option<Vec<u8>>> {
    sock.send(&query(id))?;
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        match sock.recv(&mut buf) {
            Ok(n) if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id => {
                return Ok(Some(buf[..n].to_vec()));
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// `name=N` from the monitor's exit report.
fn counter(log: &str, name: &str) -> Option<u64> {
    let prefix = format!("{name}=");
    log.split([' ', ';', ',', '\n'])
        .find_map(|t| t.strip_prefix(prefix.as_str()))
        .and_then(|v| v.parse().ok())
}

fn alerts(m: &Monitor, rule: &str) -> Vec<Value> {
    m.events()
        .into_iter()
        .filter(|e| {
            e.pointer("/rule/name").and_then(Value::as_str) == Some(rule)
                && e.pointer("/dns/question/name").and_then(Value::as_str) == Some(NAME)
        })
        .collect()
}

#[test]
fn repeats_are_counted_in_the_kernel_and_differences_still_judged() -> Result<()> {
    let test = "repeats_are_counted_in_the_kernel_and_differences_still_judged";
    if !root_or_skip(test) {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let anchor = dir.path().join("anchor.ds");
    std::fs::write(&anchor, ANCHOR)?;
    let upstream = format!("127.0.0.1:{PORT}");
    let port = PORT.to_string();
    let anchor_s = anchor.display().to_string();
    let responder = Responder::start()?;
    let mut m = Monitor::start_alerts_only(
        "fast-path",
        &[
            "--dns-port",
            &port,
            "--upstream",
            &upstream,
            "--resolver",
            &upstream,
            "--trust-anchor",
            &anchor_s,
            "--metrics-listen",
            &format!("127.0.0.1:{METRICS_PORT}"),
        ],
    )?;
    let started = Instant::now();
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.connect(("127.0.0.1", PORT))?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let wait = Duration::from_secs(2);

    // 1. The first exchange is judged (Insecure, clean) and published;
    // its repeats then stay in the kernel.
    ensure!(
        ask(&sock, 1, wait)?.is_some(),
        "no answer from the responder"
    );
    std::thread::sleep(Duration::from_millis(700));
    for id in 2..=41u16 {
        ensure!(ask(&sock, id, wait)?.is_some(), "no answer to query {id}");
    }
    // 2. A changed answer comes up with its held-back query.
    responder.set(CHANGED);
    ensure!(ask(&sock, 100, wait)?.is_some(), "no changed answer");
    // The changed answer is judged clean and published in its turn.
    std::thread::sleep(Duration::from_millis(700));
    ensure!(
        ask(&sock, 101, wait)?.is_some(),
        "no answer after the change"
    );
    // 3. A blind spoofer's burst against a held-back query. Unmatched
    // answers in the detector's first 10 s are not judged (its warm-up),
    // so the race comes after it, its query held back again.
    let warm = started + Duration::from_secs(11);
    std::thread::sleep(warm.saturating_duration_since(Instant::now()));
    ensure!(
        ask(&sock, 102, wait)?.is_some(),
        "no answer after the warm-up"
    );
    responder.set(RACE);
    ensure!(ask(&sock, 200, wait)?.is_some(), "no answer in the race");
    // 4. Unanswered: the scanner sends the held-back query up after ~1 s.
    responder.set(CHANGED);
    std::thread::sleep(Duration::from_millis(700));
    ensure!(
        ask(&sock, 300, wait)?.is_some(),
        "no answer before the silence"
    );
    std::thread::sleep(Duration::from_millis(700));
    responder.set(SILENT);
    ensure!(ask(&sock, 301, Duration::from_millis(300))?.is_none());
    std::thread::sleep(Duration::from_millis(2_500));

    let metrics = tests::monitor::scrape_metrics(METRICS_PORT)?;
    for series in [
        r#"dnssec_monitor_fast_path_total{event="published"}"#,
        r#"dnssec_monitor_kernel_packets_total{counter="fast_answers"}"#,
    ] {
        let n = metrics
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse::<u64>().ok());
        ensure!(n.is_some_and(|n| n >= 1), "{series} >= 1 in\n{metrics}");
    }
    let log = m.stop()?;
    let race = alerts(&m, "response_race");
    ensure!(
        race.iter().any(|e| e.pointer("/process/name").is_some()),
        "no response_race alert with the held-back query's process: {race:?}\n{log}"
    );
    let unsolicited = alerts(&m, "unsolicited_response");
    ensure!(
        unsolicited.is_empty(),
        "a held-back query's answers looked unsolicited: {unsolicited:?}\n{log}"
    );
    let fast_answers = counter(&log, "fast_answers").context("fast_answers in the report")?;
    ensure!(
        fast_answers >= 35,
        "repeats should have been counted in the kernel (fast_answers >= 35 of 40):\n{log}"
    );
    let deferred = counter(&log, "fast_deferred").context("fast_deferred")?;
    ensure!(
        deferred >= 2,
        "the changed answer and the race should each have sent a held-back query up:\n{log}"
    );
    let expired = counter(&log, "fast_expired").context("fast_expired")?;
    ensure!(
        expired >= 1,
        "the unanswered held-back query should have been sent up by the scanner:\n{log}"
    );
    // The detector saw the first exchange and the differences, not the
    // repeats: well under the 2 × 47 messages sent.
    let received = counter(&log, "received").context("received")?;
    ensure!(
        received < 40,
        "the detector received {received} messages: repeats were copied up:\n{log}"
    );
    drop(responder);
    Ok(())
}
