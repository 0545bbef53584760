//! Prometheus metrics: a registry the stages update, the text format, and
//! a tiny HTTP server for `GET /metrics` (`--metrics-listen`, default
//! 127.0.0.1:9153).
//!
//! - [`registry`]: counters, gauges, histograms (atomics) and collectors.
//! - [`encode`]: text exposition format 0.0.4.
//! - [`resolver`]: per-resolver health series (read at scrape time).
//! - [`server`]: the HTTP endpoint on tokio.
//!
//! Stages get their series from a [`Metrics`] handle once, keep the
//! returned [`Counter`]/[`Gauge`]/[`Histogram`] (an `Arc` of an atomic) and
//! update it on the hot path without locks. Counters a stage already keeps
//! elsewhere (kernel per-CPU maps, store and sink stats) are read at scrape
//! time through [`Metrics::add_collector`].

pub mod encode;
pub mod registry;
pub mod resolver;
pub mod server;

use std::sync::Arc;

use registry::Series;
pub use registry::{Collector, Counter, Gauge, Histogram, Kind, Registry, Sample};

pub const STAGE_RECEIVED: &str = "dnssec_monitor_stage_received_total";
pub const STAGE_EMITTED: &str = "dnssec_monitor_stage_emitted_total";
pub const STAGE_DROPPED: &str = "dnssec_monitor_stage_dropped_total";
pub const ALERTS: &str = "dnssec_monitor_alerts_total";
pub const KERNEL_PACKETS: &str = "dnssec_monitor_kernel_packets_total";
pub const CACHE_ENTRIES: &str = "dnssec_monitor_cache_entries";
pub const CACHE_HITS: &str = "dnssec_monitor_cache_hits_total";
pub const CACHE_MISSES: &str = "dnssec_monitor_cache_misses_total";
pub const VALIDATION_SECONDS: &str = "dnssec_monitor_validation_seconds";

/// The daemon's metrics; cheap to clone (one shared registry).
#[derive(Clone, Default)]
pub struct Metrics(Arc<Registry>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn registry(&self) -> &Registry {
        &self.0
    }

    /// A counter series; names here are constants, so a registration error
    /// is a programming mistake: logged, and a detached counter returned
    /// rather than a panic in the daemon.
    pub fn counter(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Counter {
        match self.0.series(name, help, Kind::Counter, labels) {
            Ok(Series::Counter(c)) => c,
            Ok(_) => Counter::default(),
            Err(e) => {
                tracing::error!("metrics: {e}");
                Counter::default()
            }
        }
    }

    pub fn gauge(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Gauge {
        match self.0.series(name, help, Kind::Gauge, labels) {
            Ok(Series::Gauge(g)) => g,
            Ok(_) => Gauge::default(),
            Err(e) => {
                tracing::error!("metrics: {e}");
                Gauge::default()
            }
        }
    }

    pub fn histogram(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Histogram {
        match self.0.series(name, help, Kind::Histogram, labels) {
            Ok(Series::Histogram(h)) => h,
            Ok(_) | Err(_) => Histogram::new(registry::LATENCY_BUCKETS),
        }
    }

    /// Messages a pipeline stage (`capture`, `decode`, `correlate`,
    /// `detect`, `sink`, `store`) took in.
    pub fn stage_received(&self, stage: &str) -> Counter {
        self.counter(
            STAGE_RECEIVED,
            "Items a pipeline stage received.",
            &[("stage", stage)],
        )
    }

    pub fn stage_emitted(&self, stage: &str) -> Counter {
        self.counter(
            STAGE_EMITTED,
            "Items a pipeline stage passed on.",
            &[("stage", stage)],
        )
    }

    pub fn stage_dropped(&self, stage: &str, reason: &str) -> Counter {
        self.counter(
            STAGE_DROPPED,
            "Items a pipeline stage dropped, by reason.",
            &[("stage", stage), ("reason", reason)],
        )
    }

    pub fn alerts(&self, rule: &str) -> Counter {
        self.counter(ALERTS, "Alerts raised, by rule.", &[("rule", rule)])
    }

    /// Kernel-side counters (`seen`, `sent`, `truncated`, `ring_full`):
    /// mirror the per-CPU map sums with [`Counter::set_total`].
    pub fn kernel_packets(&self, counter: &str) -> Counter {
        self.counter(
            KERNEL_PACKETS,
            "Packets counted by the eBPF programs.",
            &[("counter", counter)],
        )
    }

    pub fn cache_entries(&self) -> Gauge {
        self.gauge(CACHE_ENTRIES, "Verdicts in the verdict cache.", &[])
    }

    pub fn cache_hits(&self) -> Counter {
        self.counter(CACHE_HITS, "Verdict cache hits.", &[])
    }

    pub fn cache_misses(&self) -> Counter {
        self.counter(CACHE_MISSES, "Verdict cache misses.", &[])
    }

    pub fn validation_seconds(&self) -> Histogram {
        self.histogram(
            VALIDATION_SECONDS,
            "Time to an independent verdict (cache hit or lookup).",
            &[],
        )
    }

    /// Read values at scrape time (e.g. `KernelCounters::read`, store stats).
    pub fn add_collector(&self, c: impl Fn() -> Vec<Sample> + Send + Sync + 'static) {
        self.0.add_collector(Box::new(c));
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        encode::encode(&self.0)
    }
}

#[cfg(test)]
mod tests;
