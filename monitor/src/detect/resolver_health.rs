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
//!
//! Cost: the detector updates and judges a resolver on every DNS message,
//! so a judgement that provably cannot change anything is skipped (see
//! [`Resolver::settled`]); the map hashes with foldhash.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::latency::LatencyHist;

/// foldhash instead of SipHash: the map is hit on every DNS message; a
/// per-process random seed keeps flooding attacks on bucket order out.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

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

/// One thing that happened to a resolver (what [`ResolverHealth::observe`]
/// adds to the slot of its time).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Observation {
    /// A recursive query (a new transaction, not a retransmission).
    Query,
    /// The first answer to a query: its rcode (RFC 1035 §4.1.1 RCODE
    /// value) and the time since the query.
    Answer { rcode: u16, latency: Duration },
    /// A query that expired without an answer.
    Timeout,
    /// An answer for a name the engine found Secure, with or without AD.
    SecureAnswer { ad: bool },
    /// `count` recursive exchanges the kernel fast path counted instead of
    /// copying (capture/fast_path.rs): each a query and its answer, with
    /// the validated answer's rcode (NOERROR or NXDOMAIN, never a failure)
    /// and, together, `latency` on average.
    Repeats { count: u32, latency: Duration },
}

impl Observation {
    fn apply(self, c: &mut Counts) {
        match self {
            Observation::Query => c.queries += 1,
            Observation::Answer { rcode, .. } => {
                c.answers += 1;
                match rcode {
                    2 => c.servfail += 1,
                    5 => c.refused += 1,
                    _ => {}
                }
            }
            Observation::Timeout => c.timeouts += 1,
            Observation::SecureAnswer { ad } => {
                c.secure_answers += 1;
                c.secure_ad += u64::from(ad);
            }
            Observation::Repeats { count, .. } => {
                c.queries += u64::from(count);
                c.answers += u64::from(count);
            }
        }
    }

    /// Whether adding it to a window can raise one of the window's rates
    /// (see [`Resolver::settled`]). A query changes no rate; an
    /// answer other than SERVFAIL/REFUSED only grows the denominators
    /// (`answers`, `completed`) with no numerator; the AD counts are not
    /// judged here. Everything else may.
    fn may_raise(self) -> bool {
        match self {
            Observation::Query | Observation::SecureAnswer { .. } | Observation::Repeats { .. } => {
                false
            }
            Observation::Answer { rcode, .. } => matches!(rcode, 2 | 5),
            Observation::Timeout => true,
        }
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
    /// `Some(i)`: judging this resolver at any time in slot `i` finds
    /// nothing and changes nothing, so [`ResolverHealth::evaluate`] skips
    /// the window sum. Set by a full judgement at slot `i` that left no
    /// condition raised with at least `min_queries` completed; cleared by
    /// any observation that may raise a rate ([`Observation::may_raise`])
    /// and by a new newest slot (which may push slots out of the window).
    ///
    /// Why the skip is exact: the full judgement saw counts `C` over the
    /// slots with index > `i - slots`, every rate `r(C)` below its
    /// threshold (else it would have raised it) or undefined (SERVFAIL and
    /// REFUSED with no answers) or disabled, and `completed(C) >=
    /// min_queries`. Since then the slots only grew by observations that
    /// cannot raise a rate: with no new newest slot nothing left the
    /// vector (every kept slot has index > newest - slots, so the `update`
    /// drops nothing), and a judgement in the same slot `i` sums the same
    /// slots. So the counts now are `C + D`, `D` made only of queries
    /// (no rate changes), answers that are neither SERVFAIL nor REFUSED
    /// (each rate's numerator unchanged, its denominator up: the rate
    /// falls, an undefined one becomes 0) and AD counts (not judged):
    /// `completed` is still >= `min_queries`, no rate reaches its
    /// threshold, and with no condition raised there is none to clear.
    /// The full judgement would return nothing and leave `failing` as it
    /// is. A SERVFAIL, REFUSED or timeout, a new slot, a judgement in
    /// another slot, a raised condition or a low-volume window: the full
    /// judgement, as always.
    settled: Option<i64>,
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

/// The resolver's state, created (and the stalest evicted, counted in
/// `evicted`) as needed.
fn entry<'a>(
    cfg: &HealthConfig,
    resolvers: &'a mut HashMap<SocketAddr, Resolver>,
    evicted: &mut u64,
    server: SocketAddr,
    at: SystemTime,
) -> &'a mut Resolver {
    // One lookup when there is room (the eviction test first, so that a
    // full map pays the extra lookup, not every message).
    if resolvers.len() >= cfg.max_resolvers
        && !resolvers.contains_key(&server)
        && let Some(stale) = resolvers
            .iter()
            .min_by_key(|(_, r)| r.last_seen)
            .map(|(k, _)| *k)
    {
        resolvers.remove(&stale);
        *evicted += 1;
    }
    let r = resolvers.entry(server).or_insert_with(|| Resolver {
        slots: Vec::new(),
        totals: Counts::default(),
        interval: Counts::default(),
        interval_latency: LatencyHist::default(),
        interval_start: at,
        last_seen: at,
        failing: [false; 3],
        settled: None,
    });
    r.last_seen = r.last_seen.max(at);
    r
}

/// Add `o` to the slot of time `at` (ignored when older than the
/// window); the resolver, for a judgement without a second lookup.
fn update<'a>(
    cfg: &HealthConfig,
    slot_ns: i64,
    resolvers: &'a mut HashMap<SocketAddr, Resolver>,
    evicted: &mut u64,
    server: SocketAddr,
    at: SystemTime,
    o: Observation,
) -> &'a mut Resolver {
    let idx = slot_index(slot_ns, at);
    let keep = cfg.slots as i64;
    let r = entry(cfg, resolvers, evicted, server, at);
    if o.may_raise() {
        r.settled = None;
    }
    // The slots are sorted by index, and every one has index > newest
    // - keep (each update below keeps it so): only a new newest slot
    // pushes older ones out.
    let slot = match r.slots.last() {
        Some(last) if last.index == idx => r.slots.len() - 1,
        Some(last) if last.index - keep >= idx => return r,
        Some(last) if last.index > idx => {
            let p = r.slots.partition_point(|s| s.index < idx);
            if r.slots[p].index != idx {
                r.slots.insert(
                    p,
                    Slot {
                        index: idx,
                        ..Slot::default()
                    },
                );
            }
            p
        }
        _ => {
            let gone = r.slots.partition_point(|s| s.index <= idx - keep);
            r.slots.drain(..gone);
            r.slots.push(Slot {
                index: idx,
                ..Slot::default()
            });
            r.settled = None;
            r.slots.len() - 1
        }
    };
    let slot = &mut r.slots[slot];
    o.apply(&mut slot.counts);
    o.apply(&mut r.totals);
    o.apply(&mut r.interval);
    match o {
        Observation::Answer { latency, .. } => {
            LatencyHist::observe_both(&mut slot.latency, &mut r.interval_latency, latency);
        }
        Observation::Repeats { count, latency } => {
            LatencyHist::observe_both_n(&mut slot.latency, &mut r.interval_latency, latency, count);
        }
        _ => {}
    }
    r
}

fn slot_index(slot_ns: i64, t: SystemTime) -> i64 {
    nanos(t).div_euclid(slot_ns)
}

/// The first slot index before the window ending in slot `now_slot`.
fn before_window(cfg: &HealthConfig, now_slot: i64) -> i64 {
    now_slot - cfg.slots as i64
}

/// The window's counts only (the per-event check; no latency merge).
fn counts_of(r: &Resolver, first: i64) -> Counts {
    let mut counts = Counts::default();
    for s in r.slots.iter().filter(|s| s.index > first) {
        counts.add(&s.counts);
    }
    counts
}

fn window_of(
    cfg: &HealthConfig,
    slot_ns: i64,
    server: SocketAddr,
    r: &Resolver,
    now: SystemTime,
) -> WindowStats {
    let first = before_window(cfg, slot_index(slot_ns, now));
    let mut counts = Counts::default();
    let mut lat = LatencyHist::default();
    for s in r.slots.iter().filter(|s| s.index > first) {
        counts.add(&s.counts);
        lat.merge(&s.latency);
    }
    WindowStats {
        resolver: server,
        window: cfg.window,
        counts,
        p50: lat.quantile(0.5),
        p99: lat.quantile(0.99),
    }
}

fn threshold(cfg: &HealthConfig, c: Condition) -> f64 {
    match c {
        Condition::Unanswered => cfg.timeout_rate,
        Condition::Servfail => cfg.servfail_rate,
        Condition::Refused => cfg.refused_rate,
    }
}

/// Judge `r`'s window as of `now` (module comment: one finding per
/// episode), unless [`Resolver::settled`] says the judgement is known.
fn judge(
    cfg: &HealthConfig,
    slot_ns: i64,
    server: SocketAddr,
    r: &mut Resolver,
    now: SystemTime,
) -> Vec<HealthFinding> {
    let now_slot = slot_index(slot_ns, now);
    if r.settled == Some(now_slot) {
        return Vec::new();
    }
    let counts = counts_of(r, before_window(cfg, now_slot));
    let mut out = Vec::new();
    let judged = counts.completed() >= cfg.min_queries.max(1);
    if judged {
        for c in Condition::ALL {
            let threshold = threshold(cfg, c);
            let Some(rate) = counts.rate(c) else {
                continue;
            };
            let i = c.index();
            if !r.failing[i] && threshold > 0.0 && rate >= threshold {
                r.failing[i] = true;
                out.push(HealthFinding {
                    condition: c,
                    rate,
                    threshold,
                    stats: window_of(cfg, slot_ns, server, r, now),
                });
            } else if r.failing[i] && rate < threshold / 2.0 {
                r.failing[i] = false;
            }
        }
    }
    r.settled = (judged && r.failing == [false; 3]).then_some(now_slot);
    out
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
            resolvers: HashMap::default(),
            evicted: 0,
        }
    }

    pub fn config(&self) -> &HealthConfig {
        &self.cfg
    }

    pub fn tracked(&self) -> usize {
        self.resolvers.len()
    }

    /// Add `o` at `at`, then judge the resolver's window as of `now`: what
    /// [`Self::observe`] and [`Self::evaluate`] do, with one map lookup.
    pub fn observe_and_evaluate(
        &mut self,
        server: SocketAddr,
        at: SystemTime,
        o: Observation,
        now: SystemTime,
    ) -> Vec<HealthFinding> {
        let r = update(
            &self.cfg,
            self.slot_ns,
            &mut self.resolvers,
            &mut self.evicted,
            server,
            at,
            o,
        );
        judge(&self.cfg, self.slot_ns, server, r, now)
    }

    /// Add `o` at `at` to `server`'s window and totals.
    pub fn observe(&mut self, server: SocketAddr, at: SystemTime, o: Observation) {
        update(
            &self.cfg,
            self.slot_ns,
            &mut self.resolvers,
            &mut self.evicted,
            server,
            at,
            o,
        );
    }

    /// A recursive query to `server` (a new transaction, not a retransmission).
    pub fn on_query(&mut self, server: SocketAddr, at: SystemTime) {
        self.observe(server, at, Observation::Query);
    }

    /// The first answer to a query, its rcode (RFC 1035 §4.1.1 RCODE value)
    /// and the time since the query.
    pub fn on_answer(&mut self, server: SocketAddr, at: SystemTime, rcode: u16, latency: Duration) {
        self.observe(server, at, Observation::Answer { rcode, latency });
    }

    /// `count` exchanges the kernel fast path counted (see
    /// [`Observation::Repeats`]).
    pub fn on_repeats(
        &mut self,
        server: SocketAddr,
        at: SystemTime,
        count: u32,
        latency: Duration,
    ) {
        if count > 0 {
            self.observe(server, at, Observation::Repeats { count, latency });
        }
    }

    /// A query that expired without an answer (`at` = when it expired).
    pub fn on_timeout(&mut self, server: SocketAddr, at: SystemTime) {
        self.observe(server, at, Observation::Timeout);
    }

    /// An answer for a name the engine found Secure, with or without AD.
    pub fn on_secure_answer(&mut self, server: SocketAddr, at: SystemTime, ad: bool) {
        self.observe(server, at, Observation::SecureAnswer { ad });
    }

    /// The window of `server` ending at `now`.
    pub fn window(&self, server: SocketAddr, now: SystemTime) -> Option<WindowStats> {
        let r = self.resolvers.get(&server)?;
        Some(window_of(&self.cfg, self.slot_ns, server, r, now))
    }

    /// Judge `server`'s window as of `now` (module comment: one finding per episode).
    pub fn evaluate(&mut self, server: SocketAddr, now: SystemTime) -> Vec<HealthFinding> {
        match self.resolvers.get_mut(&server) {
            Some(r) => judge(&self.cfg, self.slot_ns, server, r, now),
            None => Vec::new(),
        }
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
                window: window_of(&self.cfg, self.slot_ns, *s, r, now),
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
