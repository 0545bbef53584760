//! The per-event entry point: [`Detector::observe`] joins an event with
//! the outstanding queries and returns the correlation alerts at once and,
//! for an answer the host accepted, a [`Pending`] verdict evaluation that
//! the caller awaits off the capture path ([`Pending::evaluate`]).
//! [`Detector::on_event`] does both in one call (tests, replay). With
//! sampling configured, the host's answers are offered to the store's
//! sample after the join and handed over once judged ([`super::sample`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::SystemTime;

use hickory_proto::op::OpCode;
use hickory_proto::rr::RecordType;
use tokio::task::JoinHandle;

use super::alert::{Alert, Finding, Rule};
use super::critical::{RuleState, annotate};
use super::policy::DetectPolicy;
use super::posture::{CriticalLabels, PostureRecorder};
use super::resolver_health::{HealthConfig, HealthFinding, Observation, ResolverHealth};
use super::rules::capture_loss::LossTracker;
use super::rules::{
    Answer, answer_mismatch, bogus_signature, critical_name, response_race, signature_expiring,
    unsigned_fallback, unsolicited_response,
};
use super::sample::{SampleConfig, SampleOut, Sampled, TxSampler};
use super::transactions::{Handled, TransactionLog, TransactionStats};
use super::verdicts::{Ticket, VerdictConfig, VerdictService};
use crate::correlate::outstanding::{
    ExpiredQuery, Join, OutstandingConfig, OutstandingStats, OutstandingTable, QueryInfo,
};
use crate::dnssec::engine::{Engine, Lookup};
use crate::dnssec::verdict::Verdict;
use crate::event::{DnsEvent, DnsKind};

/// The total of the capture side's drop counters (kernel ring, channels):
/// when it grew a moment ago, an unmatched answer's query may be the
/// message that was lost.
#[derive(Clone)]
pub struct LossProbe(pub Arc<dyn Fn() -> u64 + Send + Sync>);

impl std::fmt::Debug for LossProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LossProbe")
    }
}

/// How long after capture lost messages unmatched answers are not called
/// unsolicited or a txid burst (their queries may be among those lost).
pub const LOSS_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Clone, Debug, Default)]
pub struct DetectorConfig {
    pub outstanding: OutstandingConfig,
    pub verdicts: VerdictConfig,
    /// When capture started (live capture: now); None = the first event's
    /// time (replay). Unmatched answers within the warm-up after it are
    /// not called unsolicited.
    pub started: Option<std::time::SystemTime>,
    /// Resolver health window and thresholds (`resolver_failure`).
    pub health: HealthConfig,
    /// `[[critical]]` names, labelled in the posture the report reads.
    pub critical: CriticalLabels,
    /// Capture-side loss (see [`LossProbe`]); None: never suppress.
    pub loss_probe: Option<LossProbe>,
    /// The sample of answers for the forensic store; None: no sampling.
    pub sample: Option<SampleConfig>,
    /// No verdicts at all (`replay --offline`: a capture examined where
    /// the monitor's engine cannot, or must not, reach the DNS). The rules
    /// that need none still run (`unsolicited_response`, `response_race`,
    /// `resolver_failure` on timeouts and response codes); an answer that
    /// would have been validated is counted in [`DetectCounters::unvalidated`].
    pub offline: bool,
    /// Told of every exchange judged clean (the kernel fast path); None:
    /// nobody is.
    pub clean: Option<Arc<dyn super::clean::CleanExchanges>>,
    /// `--events`: a transaction line per answer, once handled
    /// ([`super::transactions`]); None: no lines.
    pub transactions: Option<TransactionLog>,
}

/// The resolver health tracker, shared with the verdict tasks (AD rate)
/// and the metrics collector.
pub type SharedHealth = Arc<Mutex<ResolverHealth>>;

/// Per-name observations for the report, shared with the verdict tasks.
pub type SharedPosture = Arc<Mutex<PostureRecorder>>;

fn lock<T>(h: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counters for metrics (per stage and per rule).
#[derive(Default, Debug)]
pub struct DetectCounters {
    pub received: AtomicU64,
    pub queries: AtomicU64,
    pub answers: AtomicU64,
    /// The monitor's own traffic, left out.
    pub own_skipped: AtomicU64,
    pub allow_skipped: AtomicU64,
    pub nta_skipped: AtomicU64,
    /// Answers sent for a verdict.
    pub evaluated: AtomicU64,
    /// Answers that would have been sent for a verdict, offline
    /// ([`DetectorConfig::offline`]).
    pub unvalidated: AtomicU64,
    /// Messages of a DNS server on this host with other machines
    /// ([`DnsEvent::served_here`]): joined, never judged.
    pub served: AtomicU64,
    /// Answers that got no verdict because the verdict queue was full.
    pub verdict_queue_full: AtomicU64,
    /// Alerts raised, by [`Rule::index`].
    pub alerts: [AtomicU64; Rule::ALL.len()],
    /// Alerts not raised because one was raised for the same key within
    /// the rule's period (`critical_name_unprotected`, `signature_expiring`).
    pub suppressed: [AtomicU64; Rule::ALL.len()],
    /// Of the alerts raised, those emitted in audit mode (`event.kind: event`).
    pub audit: AtomicU64,
}

impl DetectCounters {
    pub fn alerts_of(&self, rule: Rule) -> u64 {
        self.alerts[rule.index()].load(Ordering::Relaxed)
    }

    pub fn suppressed_of(&self, rule: Rule) -> u64 {
        self.suppressed[rule.index()].load(Ordering::Relaxed)
    }

    fn count(&self, alerts: &[Alert]) {
        for a in alerts {
            self.alerts[a.rule.index()].fetch_add(1, Ordering::Relaxed);
            if a.tags.mode == crate::config::Mode::Audit {
                self.audit.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// What [`Detector::observe`] found.
pub struct Observed {
    /// Alerts that need no verdict (`unsolicited_response`, `response_race`).
    pub alerts: Vec<Alert>,
    /// The verdict rules still to run for an accepted answer.
    pub pending: Option<Pending>,
}

/// An answer waiting for its verdict.
pub struct Pending {
    ev: DnsEvent,
    query: Option<QueryInfo>,
    /// The question as `observe`'s [`Answer::new`] made it (lowercased,
    /// fully qualified): moved here, not made again per evaluation.
    qname: hickory_proto::rr::Name,
    qtype: RecordType,
    ticket: Ticket,
    ctx: Arc<EvalCtx>,
    /// Taken into the sample and not handed over yet (see [`Drop`]).
    sampled: bool,
    /// Its transaction line is still to be written (see [`Drop`]).
    logged: bool,
    /// The rules that alerted on it before its verdict (for that line).
    raised: Vec<Rule>,
}

/// What every evaluation uses: one shared reference per answer rather
/// than a clone of each part.
struct EvalCtx {
    verdicts: VerdictService,
    policy: Arc<DetectPolicy>,
    counters: Arc<DetectCounters>,
    health: SharedHealth,
    posture: SharedPosture,
    state: Arc<RuleState>,
    /// Where taken samples go (None without sampling).
    sample_out: Option<SampleOut>,
    /// [`DetectorConfig::clean`].
    clean: Option<Arc<dyn super::clean::CleanExchanges>>,
    /// [`DetectorConfig::transactions`].
    transactions: Option<TransactionLog>,
}

impl EvalCtx {
    /// The transaction line of answer `ev`, if lines are wanted.
    fn log(
        &self,
        ev: &DnsEvent,
        query: Option<&QueryInfo>,
        lookup: Option<&Arc<Lookup>>,
        handled: Handled<'_>,
    ) {
        if let Some(t) = &self.transactions {
            t.log(ev, query, lookup, handled);
        }
    }

    /// Hand a taken answer over (only a taken one is cloned, by the caller).
    fn hand_sample(&self, ev: DnsEvent, query: Option<QueryInfo>, lookup: Option<Arc<Lookup>>) {
        if let Some(out) = &self.sample_out {
            out.hand_over(Sampled {
                ev,
                query,
                lookup,
                judged_at: SystemTime::now(),
            });
        }
    }
}

pub struct Detector {
    /// [`DetectorConfig::offline`].
    offline: bool,
    loss_probe: Option<LossProbe>,
    /// The probe's last total and when it last grew.
    loss_seen: u64,
    loss_grew: Option<std::time::Instant>,
    table: OutstandingTable,
    verdicts: VerdictService,
    policy: Arc<DetectPolicy>,
    counters: Arc<DetectCounters>,
    loss: LossTracker,
    health: SharedHealth,
    posture: SharedPosture,
    /// Capture time of the last event and when it was observed: the
    /// periodic check runs on capture time (see [`Detector::health_tick`]).
    last_event: Option<(SystemTime, std::time::Instant)>,
    dispatcher: JoinHandle<()>,
    /// The token bucket of the forensic store's sample.
    sampler: Option<TxSampler>,
    /// The same parts as above, for [`Pending`].
    eval: Arc<EvalCtx>,
}

impl Drop for Detector {
    fn drop(&mut self) {
        self.dispatcher.abort();
    }
}

/// The answer's own query (same socket and txid) in its join. A txid
/// burst's query is the one the guesses aimed at, not this answer's: a
/// sample or a transaction line does not claim it.
fn answered_query(join: &Join) -> Option<&QueryInfo> {
    match join {
        Join::Answered { query } | Join::Repeated { query } | Join::Race { query, .. } => {
            Some(query)
        }
        Join::TxidBurst { .. }
        | Join::Unsolicited
        | Join::WrongTxid { .. }
        | Join::BurstContinues
        | Join::BeforeStart => None,
    }
}

/// Types whose answers are not one RRset to validate.
fn checkable(qtype: RecordType) -> bool {
    !matches!(
        qtype,
        RecordType::ANY | RecordType::AXFR | RecordType::IXFR | RecordType::OPT
    )
}

impl Detector {
    /// Starts the verdict service on the current tokio runtime.
    pub fn new(engine: Engine, policy: DetectPolicy, cfg: DetectorConfig) -> Detector {
        let (verdicts, dispatcher) = VerdictService::start(engine, cfg.verdicts);
        let mut table = OutstandingTable::new(cfg.outstanding);
        if let Some(t) = cfg.started {
            table.mark_started(t);
        }
        table.log_expired();
        // The posture's labels: as given, else the policy's `[[critical]]`.
        let critical = if cfg.critical.is_empty() {
            CriticalLabels::new(
                policy
                    .critical
                    .entries()
                    .iter()
                    .map(|e| (e.shown.clone(), e.label.clone())),
            )
        } else {
            cfg.critical
        };
        let eval = Arc::new(EvalCtx {
            verdicts,
            policy: Arc::new(policy),
            counters: Arc::default(),
            health: Arc::new(Mutex::new(ResolverHealth::new(cfg.health))),
            posture: Arc::new(Mutex::new(PostureRecorder::new(critical, 4_096))),
            state: Arc::default(),
            sample_out: cfg.sample.as_ref().map(SampleOut::of),
            clean: cfg.clean.clone(),
            transactions: cfg.transactions.clone(),
        });
        Detector {
            offline: cfg.offline,
            loss_probe: cfg.loss_probe,
            loss_seen: 0,
            loss_grew: None,
            table,
            verdicts: eval.verdicts.clone(),
            policy: eval.policy.clone(),
            counters: eval.counters.clone(),
            loss: LossTracker::default(),
            health: eval.health.clone(),
            posture: eval.posture.clone(),
            last_event: None,
            dispatcher,
            sampler: cfg.sample.map(|s| TxSampler::new(s.per_second, s.stats)),
            eval,
        }
    }

    pub fn health(&self) -> &SharedHealth {
        &self.health
    }

    /// `--events`: hands the gathered transaction lines over now.
    pub fn flush_transactions(&self) {
        if let Some(t) = &self.eval.transactions {
            t.flush();
        }
    }

    /// `--events`: the transaction log's counters (None without one).
    pub fn transaction_stats(&self) -> Option<Arc<TransactionStats>> {
        self.eval.transactions.as_ref().map(|t| t.stats().clone())
    }

    /// The capture time line's now (see [`Detector::health_tick`]).
    pub fn capture_now(&self) -> Option<SystemTime> {
        self.last_event.map(|(t, seen)| t + seen.elapsed())
    }

    /// The posture since the last call: resolver aggregates and name
    /// observations (what the store keeps for `dnssec-monitor report`).
    pub fn take_posture(&mut self, now: SystemTime) -> crate::store::Posture {
        let intervals = lock(&self.health).take_intervals(now);
        let names = lock(&self.posture).take();
        super::posture::posture(&intervals, names)
    }

    /// Feed the queries that expired unanswered to resolver health.
    fn note_timeouts(&mut self) {
        let expired = self.table.take_expired();
        if expired.is_empty() {
            return;
        }
        self.log_unanswered(&expired);
        feed_timeouts(&self.policy, &mut lock(&self.health), expired);
    }

    /// The transaction lines of queries that expired unanswered.
    fn log_unanswered(&self, expired: &[ExpiredQuery]) {
        let Some(t) = &self.eval.transactions else {
            return;
        };
        for e in expired {
            t.log_unanswered(e, is_own_query(&self.policy, &e.query));
        }
    }

    /// `resolver_failure` alerts of the `findings` judged as of `now`.
    fn health_alerts(&self, findings: Vec<HealthFinding>, now: SystemTime) -> Vec<Alert> {
        if findings.is_empty() {
            return Vec::new();
        }
        let alerts: Vec<Alert> = findings
            .into_iter()
            .map(|f| {
                let mut a = Alert::from_health(f, now);
                annotate(&mut a, &self.policy);
                a
            })
            .collect();
        self.counters.count(&alerts);
        alerts
    }

    /// The periodic check on capture time: the last event's timestamp plus
    /// the wall time since (live capture: about now; a test or replay
    /// feeding old timestamps keeps its own time line). Nothing before
    /// the first event.
    pub fn health_tick(&mut self) -> Vec<Alert> {
        match self.capture_now() {
            Some(now) => self.check_health(now),
            None => Vec::new(),
        }
    }

    /// The resolver health check at `now` (live capture: `now` is the
    /// wall clock): expire the outstanding queries that are due, then
    /// judge every resolver's window.
    pub fn check_health(&mut self, now: SystemTime) -> Vec<Alert> {
        self.table.expire(now);
        self.note_timeouts();
        let findings = lock(&self.health).evaluate_all(now);
        self.health_alerts(findings, now)
    }

    pub fn counters(&self) -> &Arc<DetectCounters> {
        &self.counters
    }

    pub fn verdicts(&self) -> &VerdictService {
        &self.verdicts
    }

    pub fn outstanding(&self) -> OutstandingStats {
        self.table.stats()
    }

    /// Observe one event; never waits (see the module comment).
    pub fn observe(&mut self, ev: DnsEvent) -> Observed {
        // The counters are reached through `self` (no Arc clone per
        // message); one clock read serves `last_event` and the verdict cache.
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        let seen = std::time::Instant::now();
        self.last_event = Some((ev.timestamp, seen));
        if ev.kind == DnsKind::Query {
            self.counters.queries.fetch_add(1, Ordering::Relaxed);
            // Own queries join too, so their answers are recognised even
            // when the answer itself was not attributed to a process.
            let own = self.policy.is_own(&ev);
            if own {
                self.counters.own_skipped.fetch_add(1, Ordering::Relaxed);
            }
            let served = ev.served_here();
            if served {
                self.counters.served.fetch_add(1, Ordering::Relaxed);
            }
            let new = self.table.on_query(&ev);
            let counted = new && !own && !served && ev.message.metadata.recursion_desired;
            // In this order: the query counted, the expired queries'
            // timeouts, the judgement (an expiry older than the window is
            // dropped or kept depending on it); one lock, and one map
            // lookup when nothing expired.
            let expired = self.table.take_expired();
            self.log_unanswered(&expired);
            let findings = {
                let mut h = lock(&self.health);
                if counted && expired.is_empty() {
                    h.observe_and_evaluate(
                        ev.server,
                        ev.timestamp,
                        Observation::Query,
                        ev.timestamp,
                    )
                } else {
                    if counted {
                        h.on_query(ev.server, ev.timestamp);
                    }
                    if !expired.is_empty() {
                        feed_timeouts(&self.policy, &mut h, expired);
                    }
                    h.evaluate(ev.server, ev.timestamp)
                }
            };
            return Observed {
                alerts: self.health_alerts(findings, ev.timestamp),
                pending: None,
            };
        }
        self.counters.answers.fetch_add(1, Ordering::Relaxed);
        let join = self.table.on_answer(&ev);
        self.note_timeouts();
        if ev.served_here() {
            // Joined (its query is answered), and nothing more.
            self.counters.served.fetch_add(1, Ordering::Relaxed);
            self.eval
                .log(&ev, answered_query(&join), None, Handled::default());
            return Observed {
                alerts: Vec::new(),
                pending: None,
            };
        }
        let health_alerts = match &join {
            Join::Answered { query }
                if query.rd
                    && !self.policy.is_own(&ev)
                    && !query
                        .process
                        .as_ref()
                        .is_some_and(|p| self.policy.own_pids.contains(&p.pid)) =>
            {
                let latency = ev.timestamp.duration_since(query.sent).unwrap_or_default();
                let rcode = u16::from(ev.message.metadata.response_code);
                let o = Observation::Answer { rcode, latency };
                let findings = lock(&self.health).observe_and_evaluate(
                    ev.server,
                    ev.timestamp,
                    o,
                    ev.timestamp,
                );
                self.health_alerts(findings, ev.timestamp)
            }
            _ => Vec::new(),
        };
        // Borrowed from the join (moved into the `Pending`, not cloned).
        let query = match &join {
            Join::Answered { query }
            | Join::Repeated { query }
            | Join::Race { query, .. }
            | Join::TxidBurst { query, .. } => Some(query),
            Join::Unsolicited
            | Join::WrongTxid { .. }
            | Join::BurstContinues
            | Join::BeforeStart => None,
        };
        let own_query = query
            .and_then(|q| q.process.as_ref())
            .is_some_and(|p| self.policy.own_pids.contains(&p.pid));
        if self.policy.is_own(&ev) || own_query {
            self.counters.own_skipped.fetch_add(1, Ordering::Relaxed);
            let own = Handled {
                own: true,
                rules: &[],
            };
            self.eval.log(&ev, answered_query(&join), None, own);
            return Observed {
                alerts: health_alerts,
                pending: None,
            };
        }
        // Every answer of the host is offered, whatever the rules make of
        // it (allow-listed names too): the token bucket is all it costs.
        let sampled = match &mut self.sampler {
            Some(s) => s.take(seen),
            None => false,
        };
        let mut alerts = health_alerts;
        let first = alerts.len();
        let judged = self.judge(&ev, &join, query, seen, &mut alerts);
        // The alerts the rules raised for this answer (not the health ones).
        let raised: Vec<Rule> = alerts[first..].iter().map(|a| a.rule).collect();
        let Some((qname, qtype, ticket)) = judged else {
            let h = Handled {
                own: false,
                rules: &raised,
            };
            self.eval.log(&ev, answered_query(&join), None, h);
            if sampled {
                // A clone of the (shared) query info: only a taken answer.
                self.eval
                    .hand_sample(ev, answered_query(&join).cloned(), None);
            }
            return Observed {
                alerts,
                pending: None,
            };
        };
        // A verdict is wanted only for the first answer to a query, so
        // the join is `Answered`.
        let query = match join {
            Join::Answered { query } => Some(query),
            _ => None,
        };
        let pending = Pending {
            ev,
            query,
            qname,
            qtype,
            ticket,
            ctx: self.eval.clone(),
            sampled,
            logged: self.eval.transactions.is_some(),
            raised,
        };
        Observed {
            alerts,
            pending: Some(pending),
        }
    }

    /// The rules of an answer that need no verdict (their alerts added to
    /// `alerts`) and, when its data is to be checked, the question and the
    /// verdict ticket. `query` is the one in `join`.
    fn judge(
        &mut self,
        ev: &DnsEvent,
        join: &Join,
        query: Option<&QueryInfo>,
        seen: std::time::Instant,
        alerts: &mut Vec<Alert>,
    ) -> Option<(hickory_proto::rr::Name, RecordType, Ticket)> {
        let answer = Answer::new(ev, query)?;
        if self.policy.allowed(&answer.qname).is_some() {
            self.counters.allow_skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let first = alerts.len();
        for f in [
            unsolicited_response::check(ev, join),
            response_race::check(ev, join),
        ]
        .into_iter()
        .flatten()
        {
            // Several different answers to one captured query are a race
            // whatever was lost; an answer matching no captured query is
            // not evidence while capture is losing messages.
            let unmatched = matches!(join, Join::Unsolicited | Join::TxidBurst { .. });
            if unmatched && self.loss_recent() {
                self.counters.suppressed[f.rule.index()].fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut a = Alert::from_finding(f, ev, query, None);
            annotate(&mut a, &self.policy);
            alerts.push(a);
        }
        self.counters.count(&alerts[first..]);
        // Only the answer that the asker takes (the first) has its data checked.
        let wants_verdict = matches!(join, Join::Answered { .. })
            && answer.accepted()
            && ev.message.metadata.op_code == OpCode::Query
            && checkable(answer.qtype);
        if !wants_verdict {
            return None;
        }
        if self.policy.nta_for(&answer.qname, ev.timestamp).is_some() {
            self.counters.nta_skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if self.offline {
            self.counters.unvalidated.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let ticket = self.verdicts.request_at(&answer.qname, answer.qtype, seen);
        if matches!(ticket, Ticket::Overflow) {
            self.counters
                .verdict_queue_full
                .fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.counters.evaluated.fetch_add(1, Ordering::Relaxed);
        Some((answer.qname, answer.qtype, ticket))
    }

    /// Observe and evaluate in one call.
    pub async fn on_event(&mut self, ev: DnsEvent) -> Vec<Alert> {
        let Observed {
            mut alerts,
            pending,
        } = self.observe(ev);
        if let Some(p) = pending {
            // As the detection stage does: at once when it can be.
            match p.try_now() {
                Ok(a) => alerts.extend(a),
                Err(p) => alerts.extend(p.evaluate().await),
            }
        }
        alerts
    }

    /// Whether capture lost messages within [`LOSS_GRACE`].
    fn loss_recent(&mut self) -> bool {
        let Some(probe) = &self.loss_probe else {
            return false;
        };
        let total = (probe.0)();
        let now = std::time::Instant::now();
        if total > self.loss_seen {
            self.loss_seen = total;
            self.loss_grew = Some(now);
        }
        self.loss_grew
            .is_some_and(|t| now.duration_since(t) < LOSS_GRACE)
    }

    /// `capture_loss`: compare `external` drop counters (kernel, ring,
    /// channels) and the detector's own with the last sample.
    pub fn check_loss(&mut self, external: &[(String, u64)]) -> Option<Alert> {
        let mut counters = external.to_vec();
        counters.push((
            "detect_verdict_queue_full".into(),
            self.counters.verdict_queue_full.load(Ordering::Relaxed),
        ));
        // Queries evicted from a full table: their answers went unjoined.
        counters.push((
            "correlate_evicted_full".into(),
            self.table.stats().evicted_full,
        ));
        let (finding, deltas) = self.loss.check(&counters)?;
        let mut a = Alert {
            rule: finding.rule,
            severity: finding.severity,
            timestamp: std::time::SystemTime::now(),
            detail: finding.detail,
            event: None,
            query: None,
            lookup: None,
            counters: deltas,
            tags: Default::default(),
            resolver: None,
        };
        annotate(&mut a, &self.policy);
        self.counters.count(std::slice::from_ref(&a));
        Some(a)
    }
}

/// Count the unanswered expired queries of hosts' recursive queries (the
/// monitor's own left out) in resolver health.
fn feed_timeouts(policy: &DetectPolicy, h: &mut ResolverHealth, expired: Vec<ExpiredQuery>) {
    for e in expired {
        if e.query.rd && !is_own_query(policy, &e.query) {
            h.on_timeout(e.server, e.expired);
        }
    }
}

/// A query of the daemon's own engine (by its process).
fn is_own_query(policy: &DetectPolicy, q: &QueryInfo) -> bool {
    q.process
        .as_ref()
        .is_some_and(|p| policy.own_pids.contains(&p.pid))
}

/// A taken answer whose evaluation ends without a verdict (none came, the
/// stage had no room to wait, the daemon is stopping) is still stored,
/// without one: the sample's counters then add up.
impl Drop for Pending {
    fn drop(&mut self) {
        if self.sampled {
            self.hand_sample(None);
        }
        if self.logged {
            self.log(None, &[]);
        }
    }
}

impl Pending {
    /// Runs the verdict rules at once when the verdict is already here and
    /// no rule needs to ask the engine (the common case: a cached verdict
    /// and an answer that agrees with it, without RRSIGs to verify);
    /// otherwise hands the answer back for [`Pending::evaluate`], having
    /// changed nothing. Never waits; the alerts are those `evaluate`
    /// would return.
    #[allow(
        clippy::result_large_err,
        reason = "the answer handed back is moved once, into the future that waits; \
                  boxing it here would add an allocation on that path"
    )]
    pub fn try_now(mut self) -> Result<Vec<Alert>, Pending> {
        if self.ticket.poll_ready() == Poll::Pending {
            return Err(self);
        }
        // The question moves into the answer and back when handed back.
        let qname = std::mem::take(&mut self.qname);
        let Some(lookup) = self.ticket.ready() else {
            return Ok(Vec::new());
        };
        let a = Answer::with_question(&self.ev, self.query.as_ref(), qname, self.qtype);
        let Some(bogus) = bogus_signature::check_now(&a, lookup) else {
            self.qname = a.qname;
            return Err(self);
        };
        if answer_mismatch::needs_confirmation(&a, lookup, &self.ctx.verdicts) {
            self.qname = a.qname;
            return Err(self);
        }
        self.record(&a, lookup);
        let alerts = self.conclude(&a, lookup, bogus, None);
        let lookup = lookup.clone();
        if self.logged {
            self.log(Some(&lookup), &alerts);
        }
        if self.sampled {
            self.hand_sample(Some(lookup));
        }
        Ok(alerts)
    }

    /// Await the verdict and run the verdict rules.
    pub async fn evaluate(mut self) -> Vec<Alert> {
        let ticket = std::mem::replace(&mut self.ticket, Ticket::Overflow);
        let Some(lookup) = ticket.wait().await else {
            return Vec::new();
        };
        let qname = std::mem::take(&mut self.qname);
        let a = Answer::with_question(&self.ev, self.query.as_ref(), qname, self.qtype);
        self.record(&a, &lookup);
        let verdicts = &self.ctx.verdicts;
        let bogus = bogus_signature::check(&a, &lookup, verdicts.engine()).await;
        let mismatch = answer_mismatch::check(&a, &lookup, verdicts).await;
        let alerts = self.conclude(&a, &lookup, bogus, mismatch);
        if self.logged {
            self.log(Some(&lookup), &alerts);
        }
        if self.sampled {
            self.hand_sample(Some(lookup));
        }
        alerts
    }

    /// Its transaction line, once, naming the rules that alerted on it.
    fn log(&mut self, lookup: Option<&Arc<Lookup>>, alerts: &[Alert]) {
        self.logged = false;
        let mut rules = std::mem::take(&mut self.raised);
        rules.extend(alerts.iter().map(|a| a.rule));
        let h = Handled {
            own: false,
            rules: &rules,
        };
        self.ctx.log(&self.ev, self.query.as_ref(), lookup, h);
    }

    /// Hand a taken answer over, once (the only clone of the event).
    fn hand_sample(&mut self, lookup: Option<Arc<Lookup>>) {
        self.sampled = false;
        self.ctx
            .hand_sample(self.ev.clone(), self.query.clone(), lookup);
    }

    /// Resolver health (the AD rate of Secure answers) and posture.
    fn record(&self, a: &Answer<'_>, lookup: &Arc<Lookup>) {
        let c = &self.ctx;
        if lookup.verdict.is_secure() && a.rd() {
            let ad = self.ev.message.metadata.authentic_data;
            lock(&c.health).on_secure_answer(self.ev.server, self.ev.timestamp, ad);
        }
        lock(&c.posture).observe(&self.ev, self.query.as_ref(), lookup);
    }

    /// The alerts of every verdict rule, given the findings of the two
    /// that may ask the engine (`bogus_signature`, `answer_mismatch`).
    fn conclude(
        &self,
        a: &Answer<'_>,
        lookup: &Arc<Lookup>,
        bogus: Option<Finding>,
        mismatch: Option<Finding>,
    ) -> Vec<Alert> {
        let c = &self.ctx;
        let mut findings = Vec::new();
        findings.extend(bogus);
        findings.extend(unsigned_fallback::check(a, lookup, &c.policy));
        findings.extend(mismatch);
        let suppressed = |r: Rule| &c.counters.suppressed[r.index()];
        findings.extend(critical_name::check(
            a,
            lookup,
            &c.policy,
            &c.state.unprotected,
            suppressed(Rule::CriticalNameUnprotected),
        ));
        let critical = c.policy.critical.lookup(&a.qname).is_some();
        // signature_expiring reads the clock only for a Secure or a
        // critical name (a clock read per answer otherwise).
        let now = if lookup.verdict.is_secure() || critical {
            c.verdicts.engine().config().clock.now_unix()
        } else {
            0
        };
        findings.extend(signature_expiring::check(
            lookup,
            critical,
            &c.policy,
            now,
            self.ev.timestamp,
            &c.state.expiry,
            suppressed(Rule::SignatureExpiring),
        ));
        let alerts: Vec<Alert> = findings
            .into_iter()
            .map(|f| {
                let mut al =
                    Alert::from_finding(f, &self.ev, self.query.as_ref(), Some(lookup.clone()));
                annotate(&mut al, &c.policy);
                al
            })
            .collect();
        c.counters.count(&alerts);
        // A clean answer with a verdict that may be reused: its repeats
        // need not come up again (detect/clean.rs).
        if alerts.is_empty()
            && matches!(lookup.verdict, Verdict::Secure | Verdict::Insecure { .. })
            && let (Some(sink), Some(query)) = (&c.clean, &self.query)
        {
            sink.clean(&self.ev, query, lookup.ttl);
        }
        alerts
    }
}
