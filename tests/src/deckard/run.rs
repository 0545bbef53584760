//! Runs scenarios through the engine: one fresh `Engine` per scenario,
//! answered by the replay transport, steps executed in order.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use monitor::dnssec::anchors::TrustAnchors;
use monitor::dnssec::clock::Clock;
use monitor::dnssec::engine::{Engine, EngineConfig, Lookup};
use monitor::dnssec::roothints::RootHints;

use super::check::{compare, observe};
use super::parse::{Entry, Scenario, StepKind, parse_file};
use super::replay::{AddressMode, Replay, ReplayTransport};

/// How the engine reaches the scenario's servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `stub-addr` is the one upstream (`ResolutionMode::Upstream`); every
    /// range answers it.
    Stub,
    /// `stub-addr` is the only root server (`ResolutionMode::Iterative`);
    /// ranges answer by server address.
    Iterative,
}

impl Mode {
    /// Scenarios under a directory whose name contains `stub` (the shared
    /// `deckard-stub/`) are stub scenarios; all others iterative.
    pub fn for_path(path: &Path) -> Self {
        let stub = path.ancestors().skip(1).any(|a| {
            a.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("stub"))
        });
        if stub { Mode::Stub } else { Mode::Iterative }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// One scenario's result, printed as `PASS name` / `FAIL name: …` /
/// `SKIP name: …`.
#[derive(Clone, Debug)]
pub struct Report {
    pub name: String,
    pub outcome: Outcome,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Pass => write!(f, "PASS {}", self.name),
            Outcome::Fail(why) => write!(f, "FAIL {}: {why}", self.name),
            Outcome::Skip(why) => write!(f, "SKIP {}: {why}", self.name),
        }
    }
}

/// Every `*.rpl` under `paths` (files taken as given), sorted, deduplicated.
pub fn collect(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|x| x == "rpl") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or directory", p.display()),
            ));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `file-name  reason` per line; `#` starts a comment.
pub fn parse_exceptions(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (name, reason) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("line {}: `scenario-file-name  reason` expected", i + 1))?;
        map.insert(name.to_string(), reason.trim().to_string());
    }
    Ok(map)
}

/// What one scenario needs besides its file.
#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    pub timeout: Duration,
}

/// Builds the engine a scenario describes.
fn engine_for(
    sc: &Scenario,
    mode: Mode,
    transport: ReplayTransport,
) -> Result<(Engine, Clock), String> {
    // Without stub-addr Deckard's resolver starts from its built-in root
    // hints: iterative scenarios then get the IANA hints, stub ones the
    // first server the scenario simulates (every range answers it anyway).
    let first_listed = sc
        .ranges
        .iter()
        .flat_map(|r| r.addresses.first())
        .next()
        .copied();
    let servers = match (sc.config.stub_addrs.is_empty(), mode, first_listed) {
        (false, _, _) => sc.config.stub_addrs.clone(),
        (true, Mode::Stub, Some(a)) => vec![a],
        (true, Mode::Iterative, _) => Vec::new(),
        (true, Mode::Stub, None) => {
            return Err("no stub-addr in CONFIG and no ADDRESS in any RANGE".into());
        }
    };
    let anchors = if sc.config.trust_anchors.is_empty() {
        // No anchor: nothing can be Secure, everything is Insecure.
        TrustAnchors::empty()
    } else {
        TrustAnchors::from_zone_text(&sc.config.trust_anchors.join("\n"))
            .map_err(|e| format!("trust-anchor: {e}"))?
    };
    // Deckard runs with the real time when val-override-date is absent.
    let clock = sc
        .config
        .val_override
        .map_or_else(Clock::system, Clock::fixed);
    let mut cfg = match mode {
        Mode::Stub => {
            EngineConfig::upstream(servers.iter().map(|a| SocketAddr::new(*a, 53)).collect())
        }
        Mode::Iterative if servers.is_empty() => EngineConfig::iterative(RootHints::iana()),
        Mode::Iterative => EngineConfig::iterative(RootHints::from_addrs(servers)),
    };
    cfg.trust_anchors = anchors;
    cfg.clock = clock.clone();
    // Deckard's default is on (scenario guide, CONFIG table).
    cfg.query_minimization = sc.config.query_minimization.unwrap_or(true);
    cfg.negative_trust_anchors = sc
        .config
        .domain_insecure
        .iter()
        .map(|n| super::text::parse_name(n).map(Into::into))
        .collect::<Result<_, _>>()?;
    Ok((Engine::new(cfg, Arc::new(transport)), clock))
}

/// Executes the steps; the first mismatch ends the scenario.
async fn execute(sc: Arc<Scenario>, mode: Mode, replay: Arc<Replay>) -> Outcome {
    let (engine, clock) = match engine_for(&sc, mode, ReplayTransport(replay.clone())) {
        Ok(x) => x,
        Err(e) => return Outcome::Fail(e),
    };
    let mut last: Option<(Entry, Lookup)> = None;
    let mut checks = 0;
    for step in &sc.steps {
        replay.set_step(step.id);
        match &step.kind {
            StepKind::Query(q) => {
                // RAW queries (malformed packets) have no question to look
                // up and Deckard expects no answer to them.
                let Some(question) = q.question.first() else {
                    last = None;
                    continue;
                };
                let name: Name = question.name.clone();
                let lookup = engine.lookup(&name, RecordType::from(question.qtype)).await;
                last = Some((q.clone(), lookup));
            }
            StepKind::CheckAnswer(expected) => {
                checks += 1;
                let Some((query, lookup)) = &last else {
                    return Outcome::Fail(format!(
                        "STEP {}: CHECK_ANSWER without a query",
                        step.id
                    ));
                };
                if let Err(why) = compare(expected, &observe(lookup, query)) {
                    return Outcome::Fail(format!(
                        "STEP {} ({} {}): {why}",
                        step.id, lookup.qname, lookup.qtype
                    ));
                }
            }
            StepKind::TimePasses(secs) => clock.advance(*secs),
            StepKind::Reply(_) | StepKind::Other(_) => {}
        }
    }
    if checks == 0
        && sc
            .steps
            .iter()
            .all(|s| !matches!(s.kind, StepKind::Query(_)))
    {
        return Outcome::Fail("scenario has no QUERY step".into());
    }
    Outcome::Pass
}

/// Runs one scenario file under a timeout; never panics.
pub async fn run_file(path: &Path, opts: &Options) -> Report {
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let sc = match parse_file(path) {
        Ok(sc) => Arc::new(sc),
        Err(e) => {
            return Report {
                name,
                outcome: Outcome::Fail(format!("parse error: {e}")),
            };
        }
    };
    let addr_mode = match opts.mode {
        Mode::Stub => AddressMode::Any,
        Mode::Iterative => AddressMode::ByAddress,
    };
    let replay = Arc::new(Replay::new(sc.clone(), addr_mode));
    // Each scenario gets its own thread and single-threaded runtime: the
    // engine's lookup future need not be Send, a scenario that wedges its
    // runtime cannot stall the others, and a panic stays contained.
    let (mode, timeout, r) = (opts.mode, opts.timeout, replay.clone());
    let task = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let out = rt.block_on(async { tokio::time::timeout(timeout, execute(sc, mode, r)).await });
        rt.shutdown_background();
        out.map_err(|_| format!("timeout after {} s", timeout.as_secs()))
    });
    let outcome = match task.await {
        Ok(Ok(o)) => o,
        Ok(Err(why)) => Outcome::Fail(why),
        Err(e) if e.is_panic() => Outcome::Fail(format!("engine panicked: {}", panic_text(e))),
        Err(e) => Outcome::Fail(format!("task failed: {e}")),
    };
    let outcome = match outcome {
        Outcome::Fail(why) if std::env::var_os("CONFORMANCE_VERBOSE").is_some() => {
            let log: Vec<String> = replay
                .log()
                .iter()
                .map(|x| {
                    format!(
                        "\n    step {} {} {:?} {} -> {}",
                        x.step, x.server, x.protocol, x.question, x.outcome
                    )
                })
                .collect();
            Outcome::Fail(format!("{why}{}", log.concat()))
        }
        o => o,
    };
    Report { name, outcome }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    let p = e.into_panic();
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic)".into())
}

/// Totals for the closing line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// Runs `files` (at most `parallel` at once), calling `emit` with each
/// report in file order as soon as it and its predecessors are done.
pub async fn run_all(
    files: &[PathBuf],
    exceptions: &BTreeMap<String, String>,
    timeout: Duration,
    parallel: usize,
    mut emit: impl FnMut(&Report),
) -> Totals {
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut handles = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(reason) = exceptions.get(&name) {
            handles.push(tokio::spawn(std::future::ready(Report {
                name,
                outcome: Outcome::Skip(reason.clone()),
            })));
            continue;
        }
        let opts = Options {
            mode: Mode::for_path(path),
            timeout,
        };
        let path = path.clone();
        let sem = sem.clone();
        handles.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            run_file(&path, &opts).await
        }));
    }
    let mut totals = Totals::default();
    for h in handles {
        let report = h.await.unwrap_or_else(|e| Report {
            name: "?".into(),
            outcome: Outcome::Fail(format!("runner task failed: {e}")),
        });
        match report.outcome {
            Outcome::Pass => totals.passed += 1,
            Outcome::Fail(_) => totals.failed += 1,
            Outcome::Skip(_) => totals.skipped += 1,
        }
        emit(&report);
    }
    totals
}
