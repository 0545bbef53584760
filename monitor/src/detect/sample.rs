//! The sample of ordinary DNS answers kept in the forensic store
//! (`store.sample_per_second`), so that a responder can later ask which
//! process resolved a name and what the verdict was.
//!
//! The detector decides after the join: the daemon's own lookups (known
//! by their query's process even when the answer was not attributed) are
//! never offered, and a taken answer carries its query. It hands the
//! answer over once it is done with it, with the verdict when it obtained
//! one (cached, or after the evaluation). Per answer the only cost is the
//! token bucket; only a taken answer is cloned and turned into a record
//! (by the output stage, see commands/run_store.rs).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use crate::correlate::outstanding::QueryInfo;
use crate::dnssec::engine::Lookup;
use crate::event::DnsEvent;

/// What the sampler did (for metrics and the exit report).
#[derive(Debug, Default)]
pub struct SampleStats {
    /// Answers offered (the host's, not the daemon's own lookups).
    pub offered: AtomicU64,
    /// Answers handed to the output stage.
    pub sampled: AtomicU64,
    /// Over the rate: not stored (by design, not a loss of alerts).
    pub over_rate: AtomicU64,
    /// The output channel was full: dropped and counted.
    pub channel_full: AtomicU64,
}

/// An answer taken into the sample, as the detector saw it.
#[derive(Debug)]
pub struct Sampled {
    pub ev: DnsEvent,
    /// The answer's query, when it matched one (same socket and txid).
    pub query: Option<QueryInfo>,
    /// The verdict the detector obtained for it; None when none was
    /// needed (allow list, NTA, not the first answer …) or none came.
    pub lookup: Option<Arc<Lookup>>,
    /// When the detector was done with it (the verdict row's time).
    pub judged_at: SystemTime,
}

/// Where taken answers go, without ever waiting: false when there was no
/// room (counted as `channel_full`).
pub type SampleSink = Arc<dyn Fn(Box<Sampled>) -> bool + Send + Sync>;

/// Sampling for [`super::detector::DetectorConfig`].
#[derive(Clone)]
pub struct SampleConfig {
    /// Answers per second at most, with bursts of one second's worth.
    pub per_second: u32,
    pub stats: Arc<SampleStats>,
    pub sink: SampleSink,
}

impl std::fmt::Debug for SampleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleConfig")
            .field("per_second", &self.per_second)
            .finish_non_exhaustive()
    }
}

/// A token bucket over DNS answers: at most `per_second` per second, with
/// bursts of up to one second's worth. Owned by the detector (one task),
/// so it needs no lock; its counters are shared.
pub struct TxSampler {
    per_second: f64,
    tokens: f64,
    last: Instant,
    stats: Arc<SampleStats>,
}

impl TxSampler {
    pub fn new(per_second: u32, stats: Arc<SampleStats>) -> Self {
        Self {
            per_second: f64::from(per_second),
            tokens: f64::from(per_second),
            last: Instant::now(),
            stats,
        }
    }

    /// Whether the answer offered at `now` is taken (the caller has left
    /// out everything that is not the host's answer).
    pub fn take(&mut self, now: Instant) -> bool {
        self.stats.offered.fetch_add(1, Ordering::Relaxed);
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.per_second).min(self.per_second.max(1.0));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.stats.over_rate.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// The hand-over side, shared with the evaluations that finish a taken
/// answer (possibly in their own task).
#[derive(Clone)]
pub(crate) struct SampleOut {
    stats: Arc<SampleStats>,
    sink: SampleSink,
}

impl SampleOut {
    pub(crate) fn of(cfg: &SampleConfig) -> Self {
        Self {
            stats: cfg.stats.clone(),
            sink: cfg.sink.clone(),
        }
    }

    /// Hand a taken answer over (never waits).
    pub(crate) fn hand_over(&self, s: Sampled) {
        let counter = if (self.sink)(Box::new(s)) {
            &self.stats.sampled
        } else {
            &self.stats.channel_full
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
