//! The output side of `dnssec-monitor run`: everything after detection.
//!
//! ```text
//!                 ┌─▶ JSON lines: stdout, or a size-rotated file (SIGHUP: reopen)
//! (Output) ─▶ output thread ─▶ each [[sink.syslog]] (RFC 5424; spooled while down)
//!                 └─▶ store feeder (task) ─▶ evidence (engine) ─▶ store writer (thread)
//! ```
//! Events are rendered to JSON-lines bytes where they are produced (many
//! per item, so the channel is not crossed once per message); alerts stay
//! structured, because every sink renders them its own way. Nothing here
//! waits on a slow consumer: the syslog sinks and the store take items
//! with a non-blocking hand-over, and a full queue is a counted drop.
//! [`OutputStage::finish`] drains in order: the thread (file flushed),
//! then the syslog sinks (delivered or left in their spool) and the store
//! (committed), within a bounded time.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::run_evidence::{Collected, collect};
use super::run_store::{SamplePlan, alert_record, sample_record};
use crate::config::{Config, DEFAULT_SAMPLE_PER_SECOND, OutputTarget, StoreConfig};
use crate::detect::alert::Alert;
use crate::detect::sample::{SampleStats, Sampled};
use crate::dnssec::engine::Engine;
use crate::sinks::jsonl::JsonLinesSink;
use crate::sinks::reliable::SinkStatsReader;
use crate::sinks::rotate::{ReopenHandle, RotatingFile};
use crate::sinks::syslog::SyslogSink;
use crate::store::{StoreHandle, StoreStatsReader};

/// One item on the output channel.
#[derive(Debug)]
pub enum Output {
    /// `lines` complete JSON lines (each ends with `\n`), DNS events.
    Events { bytes: Vec<u8>, lines: u64 },
    /// One alert, for every sink.
    Alert(Arc<Alert>),
    /// A sampled DNS answer as the detector saw it (query, verdict), for
    /// the store only (see run_store.rs).
    Transaction(Box<Sampled>),
    /// The detector's periodic posture (resolver health, critical-name
    /// observations) for `dnssec-monitor report`: store only, so that the
    /// store has one writer.
    Posture(Box<crate::store::Posture>),
}

#[derive(clap::Args, Debug, Default, Clone)]
pub struct OutputArgs {
    /// Forensic store (SQLite file): every alert with its evidence, and a
    /// sample of DNS answers [default: the config's `[store] path`; none].
    #[arg(long, value_name = "PATH")]
    pub store: Option<PathBuf>,
}

/// Alerts whose evidence is being collected at once; past it an alert is
/// stored without the chain's records (counted), never delayed.
const MAX_EVIDENCE_TASKS: usize = 64;
/// How long evidence collections may go on once the daemon is stopping.
const EVIDENCE_GRACE: Duration = Duration::from_secs(1);
/// Items between the output thread and the store feeder.
const STORE_CHANNEL: usize = 8_192;

/// Counters of the output stage itself (sinks and store keep their own).
#[derive(Debug, Default)]
pub struct OutputCounters {
    pub lines: AtomicU64,
    pub alerts: AtomicU64,
    pub write_errors: AtomicU64,
    pub rotations: AtomicU64,
    /// The store feeder's queue was full: the item never reached the store.
    pub store_channel_full: AtomicU64,
    /// Alerts stored without chain records: too many collections at once.
    pub evidence_skipped: AtomicU64,
    pub evidence_timeouts: AtomicU64,
}

/// Readers over every output counter, for metrics; cheap to clone.
#[derive(Clone)]
pub struct OutputStats {
    pub counters: Arc<OutputCounters>,
    pub syslog: Vec<(String, SinkStatsReader)>,
    pub store: Option<StoreStatsReader>,
    pub sample: Arc<SampleStats>,
}

/// Where JSON lines go.
enum Lines {
    Stdout(JsonLinesSink),
    File(RotatingFile),
}

impl Lines {
    fn write_events(&mut self, bytes: &[u8], n: u64, c: &OutputCounters) {
        match self {
            Lines::Stdout(s) => {
                match s.write_raw(bytes) {
                    Ok(()) => c.lines.fetch_add(n, Ordering::Relaxed),
                    Err(_) => c.write_errors.fetch_add(n, Ordering::Relaxed),
                };
            }
            Lines::File(f) => {
                match f.write_block(bytes) {
                    Ok(true) => {
                        c.lines.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(_) => {
                        c.write_errors.fetch_add(n, Ordering::Relaxed);
                    }
                    // Would cross the size limit: one line at a time, so a
                    // rotation never splits a line.
                    Ok(false) => {
                        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                            match f.write_line(line) {
                                Ok(()) => c.lines.fetch_add(1, Ordering::Relaxed),
                                Err(_) => c.write_errors.fetch_add(1, Ordering::Relaxed),
                            };
                        }
                    }
                }
                c.rotations.store(f.rotations(), Ordering::Relaxed);
            }
        }
    }

    fn write_doc(&mut self, doc: &serde_json::Value, c: &OutputCounters) {
        let ok = match self {
            Lines::Stdout(s) => s.write(doc).is_ok(),
            Lines::File(f) => f.write_json(doc).is_ok(),
        };
        let counter = if ok { &c.lines } else { &c.write_errors };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            Lines::Stdout(s) => s.flush().context("flushing standard output"),
            Lines::File(f) => f.flush().map_err(Into::into),
        }
    }
}

/// Everything opened, nothing running yet: built before the kernel
/// programs are attached, so a bad path fails the start cleanly.
pub struct OutputPlan {
    lines: Lines,
    reopen: ReopenHandle,
    syslog: Vec<SyslogSink>,
    store: Option<StoreHandle>,
    sample_per_second: u32,
    stats: OutputStats,
}

/// The store settings: `--store` replaces the config's path (and enables
/// the store when the config has none).
pub fn store_config(cfg: &Config, args: &OutputArgs) -> Option<StoreConfig> {
    match (&cfg.store, &args.store) {
        (Some(s), Some(p)) => Some(StoreConfig {
            path: p.clone(),
            ..s.clone()
        }),
        (Some(s), None) => Some(s.clone()),
        (None, Some(p)) => Some(StoreConfig {
            path: p.clone(),
            max_age: None,
            max_bytes: None,
            sample_per_second: DEFAULT_SAMPLE_PER_SECOND,
        }),
        (None, None) => None,
    }
}

impl OutputPlan {
    /// Open the JSON-lines target (`--output` wins over `[output] path`),
    /// start each syslog sink (its spool is opened now) and the store.
    pub fn open(cfg: &Config, output: Option<&str>, args: &OutputArgs) -> anyhow::Result<Self> {
        let target = match output {
            Some("-") => OutputTarget::Stdout,
            Some(p) => OutputTarget::File(PathBuf::from(p)),
            None => cfg.output.target.clone(),
        };
        let (lines, reopen) = match target {
            OutputTarget::Stdout => (
                Lines::Stdout(JsonLinesSink::stdout()),
                ReopenHandle::default(),
            ),
            OutputTarget::File(p) => {
                let f = RotatingFile::open(&p, cfg.output.rotate)
                    .with_context(|| format!("opening the output file {}", p.display()))?;
                let h = f.reopen_handle();
                (Lines::File(f), h)
            }
        };
        let mut syslog = Vec::new();
        for s in &cfg.syslog {
            let sink = s.start().with_context(|| {
                format!(
                    "starting the syslog sink {} (spool {})",
                    s.address,
                    s.spool_dir.display()
                )
            })?;
            syslog.push(sink);
        }
        let store_cfg = store_config(cfg, args);
        let store = match &store_cfg {
            Some(s) => Some(
                StoreHandle::start(s.store_options())
                    .with_context(|| format!("opening the store {}", s.path.display()))?,
            ),
            None => None,
        };
        let stats = OutputStats {
            counters: Arc::default(),
            syslog: syslog
                .iter()
                .map(|s| (s.name().to_owned(), s.stats_reader()))
                .collect(),
            store: store.as_ref().map(StoreHandle::stats_reader),
            sample: Arc::default(),
        };
        Ok(OutputPlan {
            lines,
            reopen,
            syslog,
            store,
            sample_per_second: store_cfg.map_or(0, |s| s.sample_per_second),
            stats,
        })
    }

    /// The answer sampling for the detector; `None` without a store (or
    /// with `sample_per_second = 0`).
    pub fn sampler(&self) -> Option<SamplePlan> {
        (self.store.is_some() && self.sample_per_second > 0).then(|| SamplePlan {
            per_second: self.sample_per_second,
            stats: self.stats.sample.clone(),
        })
    }

    pub fn stats(&self) -> OutputStats {
        self.stats.clone()
    }

    /// Start the output thread, the store feeder and the SIGHUP handler
    /// on the current runtime. `engine` lets the feeder collect evidence.
    pub fn start(
        self,
        rx: mpsc::Receiver<Output>,
        engine: Option<Engine>,
    ) -> anyhow::Result<OutputStage> {
        let hup = super::run_ops::spawn_reopen_on_hup(self.reopen)?;
        let c = self.stats.counters.clone();
        let (store_tx, feeder) = match self.store {
            Some(store) => {
                let (tx, srx) = mpsc::channel(STORE_CHANNEL);
                let task = tokio::spawn(feed(store, srx, engine, c.clone()));
                (Some(tx), Some(task))
            }
            None => (None, None),
        };
        let (lines, syslog) = (self.lines, self.syslog);
        let thread = std::thread::Builder::new()
            .name("output".into())
            .spawn(move || output_loop(lines, syslog, store_tx, rx, &c))
            .context("starting the output thread")?;
        Ok(OutputStage {
            thread,
            feeder,
            hup,
            stats: self.stats,
        })
    }
}

/// The running output side.
pub struct OutputStage {
    thread: std::thread::JoinHandle<(anyhow::Result<()>, Vec<SyslogSink>)>,
    feeder: Option<tokio::task::JoinHandle<StoreHandle>>,
    hup: tokio::task::JoinHandle<()>,
    stats: OutputStats,
}

impl OutputStage {
    pub fn stats(&self) -> OutputStats {
        self.stats.clone()
    }

    /// After the channel's senders are gone: wait for the thread to write
    /// everything, give the syslog sinks up to `grace` to deliver (the rest
    /// stays spooled for the next start) and commit the store. Returns the
    /// exit report line; an error when the JSON lines could not be flushed.
    pub async fn finish(self, grace: Duration) -> anyhow::Result<String> {
        let thread = self.thread;
        let (flushed, syslog) = tokio::task::spawn_blocking(move || thread.join())
            .await
            .context("output thread")?
            .map_err(|_| anyhow::anyhow!("output thread panicked"))?;
        self.hup.abort();
        let sinks = async {
            for s in syslog {
                s.shutdown(grace).await;
            }
        };
        let store = async {
            if let Some(f) = self.feeder
                && let Ok(store) = f.await
            {
                let _ = tokio::task::spawn_blocking(move || store.close()).await;
            }
        };
        tokio::join!(sinks, store);
        let report = report(&self.stats);
        flushed.map(|()| report)
    }
}

fn output_loop(
    mut lines: Lines,
    syslog: Vec<SyslogSink>,
    store: Option<mpsc::Sender<StoreItem>>,
    mut rx: mpsc::Receiver<Output>,
    c: &OutputCounters,
) -> (anyhow::Result<()>, Vec<SyslogSink>) {
    let to_store = |item: StoreItem| {
        if let Some(tx) = &store
            && tx.try_send(item).is_err()
        {
            c.store_channel_full.fetch_add(1, Ordering::Relaxed);
        }
    };
    while let Some(item) = rx.blocking_recv() {
        match item {
            Output::Events { bytes, lines: n } => lines.write_events(&bytes, n, c),
            Output::Alert(a) => {
                c.alerts.fetch_add(1, Ordering::Relaxed);
                let doc = a.to_ecs();
                lines.write_doc(&doc, c);
                // Each sink counts its own hand-over drops.
                for s in &syslog {
                    s.send_alert(&doc);
                }
                to_store(StoreItem::Alert(a));
            }
            Output::Transaction(s) => to_store(StoreItem::Record(Box::new(sample_record(&s)))),
            Output::Posture(p) => to_store(StoreItem::Posture(p)),
        }
        // Flush whenever we caught up, so readers see lines promptly.
        if rx.is_empty() && lines.flush().is_err() {
            c.write_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    (lines.flush(), syslog)
}

enum StoreItem {
    Alert(Arc<Alert>),
    Record(Box<crate::store::Record>),
    Posture(Box<crate::store::Posture>),
}

/// Owns the store handle: records go straight in; alerts first get their
/// evidence collected (bounded concurrency and time). Returns the handle
/// when its input closed and every collection finished, for closing.
async fn feed(
    store: StoreHandle,
    mut rx: mpsc::Receiver<StoreItem>,
    engine: Option<Engine>,
    c: Arc<OutputCounters>,
) -> StoreHandle {
    let mut pending: JoinSet<crate::store::Record> = JoinSet::new();
    let mut open = true;
    // Once the input closed (the daemon is stopping), collections still
    // running get EVIDENCE_GRACE, then store what they have.
    let (hurry_tx, hurry) = tokio::sync::watch::channel(false);
    let hurry_at = tokio::time::sleep(Duration::MAX);
    tokio::pin!(hurry_at);
    while open || !pending.is_empty() {
        tokio::select! {
            () = &mut hurry_at, if !open && !*hurry_tx.borrow() => {
                let _ = hurry_tx.send(true);
            }
            item = rx.recv(), if open => match item {
                None => {
                    open = false;
                    hurry_at
                        .as_mut()
                        .reset(tokio::time::Instant::now() + EVIDENCE_GRACE);
                }
                Some(StoreItem::Record(r)) => {
                    store.try_send(*r);
                }
                Some(StoreItem::Posture(p)) => {
                    if !store.try_send_posture(*p) {
                        c.store_channel_full.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(StoreItem::Alert(a)) => match (&engine, a.lookup.clone()) {
                    (Some(e), Some(l)) if pending.len() < MAX_EVIDENCE_TASKS => {
                        let (e, c, h) = (e.clone(), c.clone(), hurry.clone());
                        pending.spawn(async move {
                            let validated_at = engine_now(&e);
                            let (evidence, status) = collect(&e, &l, h).await;
                            if status == Collected::TimedOut {
                                c.evidence_timeouts.fetch_add(1, Ordering::Relaxed);
                            }
                            alert_record(&a, evidence, validated_at)
                        });
                    }
                    (e, l) => {
                        if e.is_some() && l.is_some() {
                            c.evidence_skipped.fetch_add(1, Ordering::Relaxed);
                        }
                        store.try_send(alert_record(&a, Vec::new(), SystemTime::now()));
                    }
                },
            },
            Some(done) = pending.join_next(), if !pending.is_empty() => {
                if let Ok(record) = done {
                    store.try_send(record);
                }
            }
        }
    }
    store
}

/// The engine's time (its clock can be fixed, in tests and replays): the
/// time `verify-evidence` re-checks the signatures at.
fn engine_now(e: &Engine) -> SystemTime {
    let secs = e.config().clock.now_unix();
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// One line for the exit report.
pub fn report(s: &OutputStats) -> String {
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let c = &s.counters;
    let mut out = format!(
        "output: lines={} alerts={} write_errors={} rotations={} store_channel_full={} evidence_skipped={} evidence_timeouts={}",
        l(&c.lines),
        l(&c.alerts),
        l(&c.write_errors),
        l(&c.rotations),
        l(&c.store_channel_full),
        l(&c.evidence_skipped),
        l(&c.evidence_timeouts),
    );
    for (name, r) in &s.syslog {
        let st = r.get();
        out.push_str(&format!(
            "; syslog {name}: sent={} spooled={} spool_depth={} dropped_queue_full={} dropped_spool_full={} dropped_rejected={} dropped_spool_error={}",
            st.sent,
            st.spooled,
            st.spool_depth,
            st.dropped_queue_full,
            st.dropped_spool_full,
            st.dropped_rejected,
            st.dropped_spool_error
        ));
    }
    if let Some(r) = &s.store {
        let st = r.get();
        let sm = &s.sample;
        out.push_str(&format!(
            "; store: received={} committed={} dropped_queue_full={} dropped_write_error={}; sample: offered={} sampled={} over_rate={} channel_full={}",
            st.received,
            st.committed,
            st.dropped_queue_full,
            st.dropped_write_error,
            l(&sm.offered),
            l(&sm.sampled),
            l(&sm.over_rate),
            l(&sm.channel_full),
        ));
    }
    out
}

#[cfg(test)]
#[path = "run_output_tests.rs"]
mod tests;
