//! The metric registry: families of counters, gauges and histograms, each
//! series a lock-free atomic the owning stage updates directly, plus
//! collectors that read counters a stage already keeps (kernel per-CPU
//! maps, store and sink stats) at scrape time.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

/// Label pairs of one series, in the order given.
pub type Labels = Vec<(String, String)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A monotonically increasing count.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// For counters mirrored from elsewhere (kernel maps): set the total.
    pub fn set_total(&self, n: u64) {
        self.0.fetch_max(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn add(&self, d: i64) {
        self.0.fetch_add(d, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram of durations with fixed upper bounds (seconds).
#[derive(Debug)]
pub struct HistogramInner {
    bounds: Vec<f64>,
    /// Non-cumulative counts per bucket; the last one is `+Inf`.
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_ns: AtomicU64,
}

#[derive(Clone, Debug)]
pub struct Histogram(Arc<HistogramInner>);

/// Validation latency buckets: 100 µs (cached) to 10 s (cold, timeouts).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

impl Default for Histogram {
    /// Latency buckets ([`LATENCY_BUCKETS`]).
    fn default() -> Self {
        Histogram::new(LATENCY_BUCKETS)
    }
}

impl Histogram {
    pub fn new(bounds: &[f64]) -> Self {
        Histogram(Arc::new(HistogramInner {
            bounds: bounds.to_vec(),
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
        }))
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self
            .0
            .bounds
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(self.0.bounds.len());
        self.0.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.0.count.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.0.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// (upper bound, cumulative count) per bucket, ending with `+Inf`;
    /// the sum in seconds; the count.
    pub fn snapshot(&self) -> (Vec<(f64, u64)>, f64, u64) {
        let mut acc = 0;
        let mut out = Vec::with_capacity(self.0.buckets.len());
        for (i, b) in self.0.buckets.iter().enumerate() {
            acc += b.load(Ordering::Relaxed);
            out.push((self.0.bounds.get(i).copied().unwrap_or(f64::INFINITY), acc));
        }
        let sum = self.0.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        // Report the bucket total as the count so +Inf == count always.
        (out, sum, acc)
    }
}

#[derive(Clone, Debug)]
pub enum Series {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
}

#[derive(Debug)]
pub struct Family {
    pub help: String,
    pub kind: Kind,
    pub series: Vec<(Labels, Series)>,
}

/// A value read at scrape time by a collector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub labels: Labels,
    pub value: f64,
}

pub type Collector = Box<dyn Fn() -> Vec<Sample> + Send + Sync>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("metric {name} is already registered as a {existing}, not a {wanted}")]
    KindMismatch {
        name: String,
        existing: &'static str,
        wanted: &'static str,
    },
    #[error("invalid metric or label name {0:?}")]
    BadName(String),
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels: no colon), the Prometheus data model.
pub fn valid_name(s: &str, label: bool) -> bool {
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (!label && c == ':');
    let mut chars = s.chars();
    chars.next().is_some_and(ok_first) && chars.all(|c| ok_first(c) || c.is_ascii_digit())
}

#[derive(Default)]
pub struct Registry {
    pub(crate) families: Mutex<BTreeMap<String, Family>>,
    pub(crate) collectors: Mutex<Vec<Collector>>,
}

impl Registry {
    /// The series `name{labels}`, created on first use; the same handle
    /// on every later call with the same name and labels.
    pub fn series(
        &self,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[(&str, &str)],
    ) -> Result<Series, RegistryError> {
        if !valid_name(name, false) {
            return Err(RegistryError::BadName(name.to_owned()));
        }
        if let Some((k, _)) = labels.iter().find(|(k, _)| !valid_name(k, true)) {
            return Err(RegistryError::BadName((*k).to_owned()));
        }
        let labels: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut fams = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let fam = fams.entry(name.to_owned()).or_insert_with(|| Family {
            help: help.to_owned(),
            kind,
            series: Vec::new(),
        });
        if fam.kind != kind {
            return Err(RegistryError::KindMismatch {
                name: name.to_owned(),
                existing: fam.kind.as_str(),
                wanted: kind.as_str(),
            });
        }
        if let Some((_, s)) = fam.series.iter().find(|(l, _)| *l == labels) {
            return Ok(s.clone());
        }
        let s = match kind {
            Kind::Counter => Series::Counter(Counter::default()),
            Kind::Gauge => Series::Gauge(Gauge::default()),
            Kind::Histogram => Series::Histogram(Histogram::new(LATENCY_BUCKETS)),
        };
        fam.series.push((labels, s.clone()));
        Ok(s)
    }

    /// Register a series created elsewhere (a stage that keeps its own
    /// histogram, e.g. the verdict service) under `name{labels}`.
    pub fn adopt(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        series: Series,
    ) -> Result<(), RegistryError> {
        let kind = match &series {
            Series::Counter(_) => Kind::Counter,
            Series::Gauge(_) => Kind::Gauge,
            Series::Histogram(_) => Kind::Histogram,
        };
        // Creates the family (and checks names and kind) first.
        self.series(name, help, kind, labels)?;
        let labels: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut fams = self.families.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(fam) = fams.get_mut(name)
            && let Some(slot) = fam.series.iter_mut().find(|(l, _)| *l == labels)
        {
            slot.1 = series;
        }
        Ok(())
    }

    pub fn add_collector(&self, c: Collector) {
        self.collectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(c);
    }
}
