//! Cold validation throughput: the same distinct names resolved and
//! validated from the lab's authoritative servers ([`crate::lab`]) by our
//! engine (real UDP transport, fresh cache) and by a validating unbound
//! (fresh process, lab trust anchor, one thread, queried by dnsperf with
//! the same concurrency).
//!
//! Each validator runs [`RUNS`] times on the same names, interleaved
//! (engine 1 thread, engine 2 threads, unbound; again…), each run from a
//! cold start (a fresh engine; a fresh unbound process), and the median
//! run is reported: one lost datagram costs a retransmission timeout that
//! dominates a sub-second run, so a single run is not a figure.
//!
//! The names are wildcard expansions (`nI.wild.ZONE`), spread over the
//! ECDSA P-256, Ed25519 and RSA/NSEC3 zones: every answer needs the
//! wildcard RRSIG and its NSEC/NSEC3 proof checked. unbound runs with
//! `aggressive-nsec: no` (RFC 8198 would let it synthesise most of these
//! answers from one cached proof, which measures something else; our
//! engine does not synthesise either).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hickory_proto::rr::{Name, RecordType};
use monitor::dnssec::anchors::TrustAnchors;
use monitor::dnssec::engine::{Engine, EngineConfig, RootHints};
use monitor::dnssec::transport_net::NetTransport;

use super::dnsperf::{self, DnsperfResult};
use crate::lab::Lab;
use crate::lab::process::{Server, run_combined};

/// The validating unbound of this bench (not the lab's oracle recursor).
pub const UNBOUND_ADDR: Ipv4Addr = Ipv4Addr::new(127, 54, 0, 2);
pub const UNBOUND_PORT: u16 = 5355;
const ZONES: [&str; 3] = ["ecdsa.test.", "ed.test.", "rsa-nsec3.test."];

pub fn names(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("n{i}.wild.{}", ZONES[i % ZONES.len()]))
        .collect()
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct EngineRun {
    pub threads: usize,
    pub concurrency: usize,
    pub names: usize,
    pub secure: usize,
    pub other: Vec<String>,
    pub seconds: f64,
    pub names_per_s: f64,
    pub queries_sent: u64,
}

/// Runs per validator; the median is the figure.
pub const RUNS: usize = 3;

#[derive(Clone, Debug, serde::Serialize)]
pub struct ColdResult {
    pub runs: usize,
    /// The median run of each (by names/s).
    pub engine_1thread: EngineRun,
    pub engine_2threads: EngineRun,
    pub unbound: DnsperfResult,
    pub unbound_names_per_s: f64,
    /// names/s of every run, in run order.
    pub engine_1thread_all: Vec<f64>,
    pub engine_2threads_all: Vec<f64>,
    pub unbound_all: Vec<f64>,
    pub unbound_ad_sample: String,
}

/// The median element by `key` (upper median for an even count).
pub fn median_by<T: Clone>(v: &[T], key: impl Fn(&T) -> f64) -> Option<T> {
    let mut s: Vec<&T> = v.iter().collect();
    s.sort_by(|a, b| key(a).total_cmp(&key(b)));
    s.get(s.len() / 2).map(|x| (*x).clone())
}

fn unbound_names_per_s(r: &DnsperfResult) -> f64 {
    if r.run_time_s > 0.0 {
        r.noerror as f64 / r.run_time_s
    } else {
        0.0
    }
}

/// Resolves and validates every name with a fresh engine on a runtime of
/// `threads` workers, at most `concurrency` lookups in flight.
pub fn engine_run(
    lab: &Lab,
    names: &[String],
    threads: usize,
    concurrency: usize,
) -> Result<EngineRun> {
    let mut cfg = EngineConfig::iterative(RootHints::from_file(lab.root_hints_file())?);
    cfg.trust_anchors = TrustAnchors::from_file(lab.anchor_file())?;
    let engine = Arc::new(Engine::new(cfg, Arc::new(NetTransport::default())));
    let qnames: Vec<Name> = names
        .iter()
        .map(|n| Name::from_ascii(n).with_context(|| format!("bad name {n}")))
        .collect::<Result<_>>()?;
    let threads = threads.max(1);
    // `Engine::lookup`'s future is Send: one runtime with `threads`
    // workers (current-thread for 1) runs every lookup over one engine.
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    let start = Instant::now();
    let mut verdicts = vec![String::new(); names.len()];
    let done = rt.block_on(lookup_all(
        engine.clone(),
        qnames.into_iter().enumerate().collect(),
        concurrency.max(1),
    ));
    for (i, v) in done {
        verdicts[i] = v;
    }
    let seconds = start.elapsed().as_secs_f64();
    let secure = verdicts.iter().filter(|v| *v == "secure").count();
    let mut other: Vec<String> = verdicts
        .iter()
        .zip(names)
        .filter(|(v, _)| *v != "secure")
        .map(|(v, n)| format!("{n}: {v}"))
        .collect();
    other.truncate(10);
    Ok(EngineRun {
        threads,
        concurrency,
        names: names.len(),
        secure,
        other,
        seconds,
        names_per_s: secure as f64 / seconds,
        queries_sent: engine.stats().queries_sent,
    })
}

/// Looks every name up, at most `concurrency` at once, within 300 s;
/// (index, verdict text) for each finished lookup.
async fn lookup_all(
    engine: Arc<Engine>,
    names: Vec<(usize, Name)>,
    concurrency: usize,
) -> Vec<(usize, String)> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut set = tokio::task::JoinSet::new();
    for (i, q) in names {
        let permit = sem.clone().acquire_owned().await.expect("semaphore open");
        let e = engine.clone();
        set.spawn(async move {
            let l = e.lookup(&q, RecordType::A).await;
            drop(permit);
            let o = l.verdict.outcome().to_string();
            match l.verdict.reason_text() {
                Some(w) if o != "secure" => (i, format!("{o}: {w}")),
                _ => (i, o),
            }
        });
    }
    let mut out = Vec::new();
    let bounded = tokio::time::timeout(Duration::from_secs(300), async {
        while let Some(r) = set.join_next().await {
            if let Ok(x) = r {
                out.push(x);
            }
        }
    })
    .await;
    if bounded.is_err() {
        set.abort_all();
    }
    out
}

fn unbound_conf(lab: &Lab, dir: &Path) -> String {
    let d = dir.display();
    format!(
        "server:\n  interface: {UNBOUND_ADDR}\n  port: {UNBOUND_PORT}\n  do-daemonize: no\n  \
         username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  \
         use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  num-threads: 1\n  \
         do-not-query-localhost: no\n  root-hints: \"{}\"\n  trust-anchor-file: \"{}\"\n  \
         module-config: \"validator iterator\"\n  access-control: 127.0.0.0/8 allow\n  \
         qname-minimisation: no\n  aggressive-nsec: no\n  do-ip6: no\n  so-reuseport: no\n  \
         local-zone: \"test.\" nodefault\n\
         remote-control:\n  control-enable: no\n",
        lab.root_hints_file().display(),
        lab.anchor_file().display(),
    )
}

/// A fresh validating unbound answers the names through dnsperf (each once,
/// `concurrency` outstanding).
pub fn unbound_run(
    lab: &Lab,
    names: &[String],
    concurrency: usize,
) -> Result<(DnsperfResult, String)> {
    let dir = tempfile::Builder::new()
        .prefix("dnssec-bench-cold-")
        .tempdir()?;
    let conf = dir.path().join("unbound.conf");
    std::fs::write(&conf, unbound_conf(lab, dir.path()))?;
    let input = dir.path().join("names.txt");
    std::fs::write(
        &input,
        names.iter().map(|n| format!("{n} A\n")).collect::<String>(),
    )?;
    let mut cmd = Command::new("unbound");
    cmd.args(["-d", "-c"]).arg(&conf);
    // The readiness probe asks `. SOA`: that primes the root (DNSKEY
    // included) before the clock starts; our engine gets no such head
    // start, so unbound's figure is, if anything, flattering.
    let server = Server::start(
        "validating unbound",
        cmd,
        SocketAddr::new(UNBOUND_ADDR.into(), UNBOUND_PORT),
        dir.path().join("unbound.out"),
        Duration::from_secs(15),
    )
    .map_err(anyhow::Error::msg)?;
    let r = dnsperf::run(
        &[
            "-s".into(),
            UNBOUND_ADDR.to_string(),
            "-p".into(),
            UNBOUND_PORT.to_string(),
            "-d".into(),
            input.display().to_string(),
            "-n".into(),
            "1".into(),
            "-c".into(),
            "1".into(),
            "-q".into(),
            concurrency.to_string(),
            "-t".into(),
            "10".into(),
            "-l".into(),
            "120".into(),
        ],
        Duration::from_secs(180),
    )?;
    // Evidence that unbound validated: the AD flag on a (now cached) answer.
    let mut dig = Command::new("dig");
    dig.arg(format!("@{UNBOUND_ADDR}"))
        .args([
            "-p",
            &UNBOUND_PORT.to_string(),
            "+dnssec",
            "+time=2",
            "+tries=1",
        ])
        .arg(&names[names.len() - 1])
        .arg("A");
    let (_, out, err, _) =
        run_combined(dig, Duration::from_secs(10)).map_err(anyhow::Error::msg)?;
    drop(server);
    Ok((r, format!("{out}{err}")))
}

pub fn measure(count: usize, concurrency: usize) -> Result<ColdResult> {
    crate::lab::available().map_err(anyhow::Error::msg)?;
    let lab = Lab::start().map_err(anyhow::Error::msg)?;
    let names = names(count);
    let (mut e1, mut e2, mut ub) = (Vec::new(), Vec::new(), Vec::new());
    let mut ad = String::new();
    for run in 1..=RUNS {
        eprintln!("bench cold: run {run}/{RUNS}: engine, 1 thread, {count} names");
        e1.push(engine_run(&lab, &names, 1, concurrency)?);
        eprintln!("bench cold: run {run}/{RUNS}: engine, 2 threads");
        e2.push(engine_run(&lab, &names, 2, concurrency)?);
        eprintln!("bench cold: run {run}/{RUNS}: validating unbound (fresh process, 1 thread)");
        let (u, sample) = unbound_run(&lab, &names, concurrency)?;
        if !sample.contains(" ad;") && !sample.contains(" ad ") {
            bail!("the bench unbound did not set AD: it did not validate:\n{sample}");
        }
        ad = sample;
        ub.push(u);
    }
    let rate = |r: &EngineRun| r.names_per_s;
    let engine_1thread = median_by(&e1, rate).context("no engine run")?;
    let engine_2threads = median_by(&e2, rate).context("no engine run")?;
    let unbound = median_by(&ub, unbound_names_per_s).context("no unbound run")?;
    Ok(ColdResult {
        runs: RUNS,
        unbound_names_per_s: unbound_names_per_s(&unbound),
        engine_1thread_all: e1.iter().map(rate).collect(),
        engine_2threads_all: e2.iter().map(rate).collect(),
        unbound_all: ub.iter().map(unbound_names_per_s).collect(),
        engine_1thread,
        engine_2threads,
        unbound,
        unbound_ad_sample: ad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_spread() {
        let n = names(1000);
        let mut s = n.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 1000);
        for z in ZONES {
            assert!(n.iter().filter(|x| x.ends_with(z)).count() >= 333);
        }
        assert!(names(0).is_empty());
    }

    #[test]
    fn median_is_the_middle_run() {
        assert_eq!(median_by(&[5.0, 1.0, 3.0], |x| *x), Some(3.0));
        assert_eq!(median_by(&[2.0, 9.0], |x| *x), Some(9.0));
        assert_eq!(median_by::<f64>(&[], |x| *x), None);
        assert_ne!(median_by(&[100.0, 1.0, 2.0], |x| *x), Some(100.0));
    }
}
