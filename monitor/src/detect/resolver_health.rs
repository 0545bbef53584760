//! Resolver health (DESIGN.md "Policy"): per resolver — the server address
//! of the recursive (RD=1) queries the host sends — a sliding window of
//! queries, answers, queries left without an answer (the outstanding
//! table's expiry, [`crate::correlate::outstanding`]), SERVFAIL and
//! REFUSED answers, latency, and the AD bit on answers for names the
//! engine found Secure (a validating resolver sets AD on those, RFC 4035
//! §3.2.3; a path that strips it is one that did not validate).
//!
//! The window is `slots` buckets of `window / slots` each, keyed by the
//! capture time, so replay and live capture behave alike. Rates:
//! - unanswered = timeouts / (answers + timeouts),
//! - SERVFAIL (REFUSED) = SERVFAIL (REFUSED) answers / answers,
//!
//! judged only once `min_queries` queries completed in the window. A
//! condition raises one finding when its rate reaches its threshold and
//! stays raised (no further findings) until the rate falls below half the
//! threshold with `min_queries` completed again: one alert per resolver
//! per condition per episode.
//!
//! Bounded: at most `max_resolvers` are tracked; the least recently seen
//! is forgotten for a new one (counted).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::latency::LatencyHist;

#[derive(Clone, Debug, PartialEq)]
pub struct HealthConfig {
    pub window: Duration,
    pub slots: usize,
    /// Completed queries (answered or timed out) in the window before any
    /// rate is judged.
    pub min_queries: u64,
    pub timeout_rate: f64,
    pub servfail_rate: f64,
    pub refused_rate: f64,
    pub max_resolvers: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            slots: 12,
            min_queries: 10,
            timeout_rate: 0.5,
            servfail_rate: 0.2,
            refused_rate: 0.5,
            max_resolvers: 256,
        }
    }
}

/// What went wrong with a resolver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    Unanswered,
    Servfail,
    Refused,
}

impl Condition {
    pub const ALL: [Condition; 3] = [
        Condition::Unanswered,
        Condition::Servfail,
        Condition::Refused,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Condition::Unanswered => "unanswered",
            Condition::Servfail => "servfail",
            Condition::Refused => "refused",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counts over some span of time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub queries: u64,
    pub answers: u64,
    pub timeouts: u64,
    pub servfail: u64,
    pub refused: u64,
    /// Answers for names the engine found Secure, and those with AD set.
    pub secure_answers: u64,
    pub secure_ad: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.queries += o.queries;
        self.answers += o.answers;
        self.timeouts += o.timeouts;
        self.servfail += o.servfail;
        self.refused += o.refused;
        self.secure_answers += o.secure_answers;
        self.secure_ad += o.secure_ad;
    }

    pub fn completed(&self) -> u64 {
        self.answers + self.timeouts
    }

    fn ratio(n: u64, d: u64) -> Option<f64> {
        (d > 0).then(|| n as f64 / d as f64)
    }

    pub fn rate(&self, c: Condition) -> Option<f64> {
        match c {
            Condition::Unanswered => Self::ratio(self.timeouts, self.completed()),
            Condition::Servfail => Self::ratio(self.servfail, self.answers),
            Condition::Refused => Self::ratio(self.refused, self.answers),
        }
    }

    pub fn ad_rate(&self) -> Option<f64> {
        Self::ratio(self.secure_ad, self.secure_answers)
    }
}

/// The window of one resolver as of some time.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowStats {
    pub resolver: SocketAddr,
    pub window: Duration,
    pub counts: Counts,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
}

/// A condition that crossed its threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthFinding {
    pub condition: Condition,
    pub rate: f64,
    pub threshold: f64,
    pub stats: WindowStats,
}

/// Totals since start (metrics) and the window, per resolver.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolverSnapshot {
    pub totals: Counts,
    pub window: WindowStats,
    pub failing: Vec<Condition>,
}

/// What accumulated for one resolver since the last
/// [`ResolverHealth::take_intervals`] (the store's periodic aggregate).
#[derive(Clone, Debug, PartialEq)]
pub struct ResolverInterval {
    pub resolver: SocketAddr,
    pub start: SystemTime,
    pub end: SystemTime,
    pub counts: Counts,
    pub latency: LatencyHist,
}

#[derive(Clone, Debug, Default)]
struct Slot {
    index: i64,
    counts: Counts,
    latency: LatencyHist,
}

#[derive(Debug)]
struct Resolver {
    /// Oldest first; only slots inside the window are kept.
    slots: Vec<Slot>,
    totals: Counts,
    interval: Counts,
    interval_latency: LatencyHist,
    interval_start: SystemTime,
    last_seen: SystemTime,
    failing: [bool; 3],
}

#[derive(Debug)]
pub struct ResolverHealth {
    cfg: HealthConfig,
    slot_ns: i64,
    resolvers: HashMap<SocketAddr, Resolver>,
    /// Resolvers forgotten to stay within `max_resolvers`.
    pub evicted: u64,
}

fn nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

impl Default for ResolverHealth {
    fn default() -> Self {
        Self::new(HealthConfig::default())
    }
}

impl ResolverHealth {
    pub fn new(cfg: HealthConfig) -> Self {
        let slots = cfg.slots.max(1);
        let slot_ns = i64::try_from(cfg.window.as_nanos() / slots as u128)
            .unwrap_or(i64::MAX)
            .max(1);
        Self {
            cfg: HealthConfig { slots, ..cfg },
            slot_ns,
            resolvers: HashMap::new(),
            evicted: 0,
        }
    }

    pub fn config(&self) -> &HealthConfig {
        &self.cfg
    }

    pub fn tracked(&self) -> usize {
        self.resolvers.len()
    }

    fn slot_index(&self, t: SystemTime) -> i64 {
        nanos(t).div_euclid(self.slot_ns)
    }

    /// The resolver's state, created (and the stalest evicted) as needed.
    fn entry(&mut self, server: SocketAddr, at: SystemTime) -> &mut Resolver {
        if !self.resolvers.contains_key(&server)
            && self.resolvers.len() >= self.cfg.max_resolvers
            && let Some(stale) = self
                .resolvers
                .iter()
                .min_by_key(|(_, r)| r.last_seen)
                .map(|(k, _)| *k)
        {
            self.resolvers.remove(&stale);
            self.evicted += 1;
        }
        let r = self.resolvers.entry(server).or_insert_with(|| Resolver {
            slots: Vec::new(),
            totals: Counts::default(),
            interval: Counts::default(),
            interval_latency: LatencyHist::default(),
            interval_start: at,
            last_seen: at,
            failing: [false; 3],
        });
        r.last_seen = r.last_seen.max(at);
        r
    }

    /// Apply `f` to the slot of time `at` (ignored when older than the window).
    fn update(
        &mut self,
        server: SocketAddr,
        at: SystemTime,
        f: impl Fn(&mut Counts, &mut LatencyHist),
    ) {
        let idx = self.slot_index(at);
        let keep = self.cfg.slots as i64;
        let r = self.entry(server, at);
        let newest = r.slots.last().map_or(idx, |s| s.index.max(idx));
        r.slots.retain(|s| s.index > newest - keep);
        if idx <= newest - keep {
            return;
        }
        let pos = r.slots.iter().position(|s| s.index >= idx);
        let slot = match pos {
            Some(p) if r.slots[p].index == idx => &mut r.slots[p],
            Some(p) => {
                r.slots.insert(
                    p,
                    Slot {
                        index: idx,
                        ..Slot::default()
                    },
                );
                &mut r.slots[p]
            }
            None => {
                r.slots.push(Slot {
                    index: idx,
                    ..Slot::default()
                });
                r.slots.last_mut().expect("just pushed")
            }
        };
        let mut delta = Counts::default();
        let mut lat = LatencyHist::default();
        f(&mut delta, &mut lat);
        slot.counts.add(&delta);
        slot.latency.merge(&lat);
        r.totals.add(&delta);
        r.interval.add(&delta);
        r.interval_latency.merge(&lat);
    }

    /// A recursive query to `server` (a new transaction, not a retransmission).
    pub fn on_query(&mut self, server: SocketAddr, at: SystemTime) {
        self.update(server, at, |c, _| c.queries += 1);
    }

    /// The first answer to a query, its rcode (RFC 1035 §4.1.1 RCODE value)
    /// and the time since the query.
    pub fn on_answer(&mut self, server: SocketAddr, at: SystemTime, rcode: u16, latency: Duration) {
        self.update(server, at, |c, l| {
            c.answers += 1;
            match rcode {
                2 => c.servfail += 1,
                5 => c.refused += 1,
                _ => {}
            }
            l.observe(latency);
        });
    }

    /// A query that expired without an answer (`at` = when it expired).
    pub fn on_timeout(&mut self, server: SocketAddr, at: SystemTime) {
        self.update(server, at, |c, _| c.timeouts += 1);
    }

    /// An answer for a name the engine found Secure, with or without AD.
    pub fn on_secure_answer(&mut self, server: SocketAddr, at: SystemTime, ad: bool) {
        self.update(server, at, |c, _| {
            c.secure_answers += 1;
            c.secure_ad += u64::from(ad);
        });
    }

    /// The window of `server` ending at `now`.
    pub fn window(&self, server: SocketAddr, now: SystemTime) -> Option<WindowStats> {
        let r = self.resolvers.get(&server)?;
        Some(self.window_of(server, r, now))
    }

    /// The window's counts only (the per-event check; no latency merge).
    fn counts_of(&self, r: &Resolver, now: SystemTime) -> Counts {
        let first = self.slot_index(now) - self.cfg.slots as i64;
        let mut counts = Counts::default();
        for s in r.slots.iter().filter(|s| s.index > first) {
            counts.add(&s.counts);
        }
        counts
    }

    fn window_of(&self, server: SocketAddr, r: &Resolver, now: SystemTime) -> WindowStats {
        let first = self.slot_index(now) - self.cfg.slots as i64;
        let mut counts = Counts::default();
        let mut lat = LatencyHist::default();
        for s in r.slots.iter().filter(|s| s.index > first) {
            counts.add(&s.counts);
            lat.merge(&s.latency);
        }
        WindowStats {
            resolver: server,
            window: self.cfg.window,
            counts,
            p50: lat.quantile(0.5),
            p99: lat.quantile(0.99),
        }
    }

    fn threshold(&self, c: Condition) -> f64 {
        match c {
            Condition::Unanswered => self.cfg.timeout_rate,
            Condition::Servfail => self.cfg.servfail_rate,
            Condition::Refused => self.cfg.refused_rate,
        }
    }

    /// Judge `server`'s window as of `now` (module comment: one finding per episode).
    pub fn evaluate(&mut self, server: SocketAddr, now: SystemTime) -> Vec<HealthFinding> {
        let Some(r) = self.resolvers.get(&server) else {
            return Vec::new();
        };
        let counts = self.counts_of(r, now);
        let mut failing = r.failing;
        let mut out = Vec::new();
        if counts.completed() >= self.cfg.min_queries.max(1) {
            for c in Condition::ALL {
                let threshold = self.threshold(c);
                let Some(rate) = counts.rate(c) else {
                    continue;
                };
                let i = c.index();
                if !failing[i] && threshold > 0.0 && rate >= threshold {
                    failing[i] = true;
                    out.push(HealthFinding {
                        condition: c,
                        rate,
                        threshold,
                        stats: self.window_of(server, r, now),
                    });
                } else if failing[i] && rate < threshold / 2.0 {
                    failing[i] = false;
                }
            }
        }
        if let Some(r) = self.resolvers.get_mut(&server) {
            r.failing = failing;
        }
        out
    }

    /// Judge every resolver (the periodic tick).
    pub fn evaluate_all(&mut self, now: SystemTime) -> Vec<HealthFinding> {
        let mut servers: Vec<SocketAddr> = self.resolvers.keys().copied().collect();
        servers.sort();
        servers
            .into_iter()
            .flat_map(|s| self.evaluate(s, now))
            .collect()
    }

    /// Every resolver's totals, window and raised conditions (metrics).
    pub fn snapshot(&self, now: SystemTime) -> Vec<ResolverSnapshot> {
        let mut out: Vec<ResolverSnapshot> = self
            .resolvers
            .iter()
            .map(|(s, r)| ResolverSnapshot {
                totals: r.totals,
                window: self.window_of(*s, r, now),
                failing: Condition::ALL
                    .into_iter()
                    .filter(|c| r.failing[c.index()])
                    .collect(),
            })
            .collect();
        out.sort_by_key(|s| s.window.resolver);
        out
    }

    /// What accumulated per resolver since the last call (resolvers with
    /// nothing new are left out), and start a new interval at `now`.
    pub fn take_intervals(&mut self, now: SystemTime) -> Vec<ResolverInterval> {
        let mut out = Vec::new();
        for (s, r) in &mut self.resolvers {
            let counts = std::mem::take(&mut r.interval);
            let latency = std::mem::take(&mut r.interval_latency);
            let start = std::mem::replace(&mut r.interval_start, now);
            if counts != Counts::default() {
                out.push(ResolverInterval {
                    resolver: *s,
                    start,
                    end: now,
                    counts,
                    latency,
                });
            }
        }
        out.sort_by_key(|i| i.resolver);
        out
    }
}

#[cfg(test)]
#[path = "resolver_health_tests.rs"]
mod tests;
