//! Transaction lines (`--events`, DESIGN.md "Events"): one ECS document per
//! answer the detector handled, joined with its query and carrying the
//! independent verdict (`dnssec.*`) when the detector obtained one.
//!
//! A query line is written when the query is captured (it may never be
//! answered). A query that gets no answer within the outstanding timeout
//! gets a transaction line of its own when it expires (`event.outcome:
//! failure`, `dnssec_monitor.unanswered: true`). An answer's line is
//! written once the detector is done with the answer — judged, skipped
//! (the daemon's own lookups, allow list, NTA, served to other machines)
//! or dropped from checking — so it carries what a SIEM needs to filter
//! on: `dnssec.outcome`, `dnssec.reason`, the query's time and the
//! latency. Rendered where the detector finishes the answer
//! (no clone of the event), handed to the output without waiting: no room
//! = the line is counted as dropped, never waited for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;

use hickory_proto::op::{Message, MessageType, OpCode};

use super::alert::Rule;
use crate::correlate::outstanding::{ExpiredQuery, QueryInfo};
use crate::dnssec::engine::Lookup;
use crate::event::{DnsEvent, DnsKind, EcsQueryInfo, rfc3339_micros};
use crate::event_lines::EcsLines;
use crate::per_arc::PerArc;

/// `event.dataset` of every transaction line.
const DATASET: &str = "dnssec_monitor.transaction";

/// Where rendered lines go (complete JSON lines, each ending in `\n`,
/// and how many): false = no room (counted as dropped, never waited for).
pub type TransactionSink = Arc<dyn Fn(Vec<u8>, u64) -> bool + Send + Sync>;

/// What the transaction log did (exit report, metrics, `capture_loss`).
#[derive(Debug, Default)]
pub struct TransactionStats {
    /// Lines handed to the output.
    pub lines: AtomicU64,
    /// Lines the output had no room for.
    pub full: AtomicU64,
}

/// Gathered lines are handed over at this size even between flushes.
const GATHER_BYTES: usize = 64 * 1024;
/// Rendered `dnssec` objects kept (per verdict); cleared when full.
const DNSSEC_CACHE: usize = 4_096;

/// The transaction log for [`super::detector::DetectorConfig`]; clones
/// share it.
#[derive(Clone)]
pub struct TransactionLog {
    inner: Arc<Inner>,
}

struct Inner {
    sink: TransactionSink,
    /// Lines wait in `gathered` for [`TransactionLog::flush`] (else each
    /// goes to the sink at once).
    gather: bool,
    gathered: Mutex<(Vec<u8>, u64)>,
    stats: Arc<TransactionStats>,
    /// A verdict's `dnssec` object, rendered once: answers at a high rate
    /// share a few cached verdicts (the same `Arc<Lookup>`), and the object
    /// (chain, validated answers) is most of a line's rendering. Kept per
    /// verdict (per_arc.rs).
    dnssec: Mutex<PerArc<Lookup, Arc<RawValue>>>,
    /// Each message's `dns` object, rendered once (event_lines.rs); locked
    /// after `gathered`.
    lines: Mutex<EcsLines>,
}

impl std::fmt::Debug for TransactionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionLog")
            .field("gather", &self.inner.gather)
            .finish_non_exhaustive()
    }
}

/// How the detector left an answer, beyond its verdict.
#[derive(Clone, Copy, Debug, Default)]
pub struct Handled<'a> {
    /// The daemon's own lookup (its engine's query or answer).
    pub own: bool,
    /// The rules that alerted on this answer (their alerts are lines of
    /// their own; here so a transaction can be found by them).
    pub rules: &'a [Rule],
}

/// The gathered lines, leaving an empty buffer of their size (the next
/// batch is about as large: no regrowth as it fills).
fn take_gathered(g: &mut (Vec<u8>, u64)) -> (Vec<u8>, u64) {
    if g.1 == 0 {
        return (Vec::new(), 0);
    }
    let next = Vec::with_capacity(g.0.len());
    (std::mem::replace(&mut g.0, next), std::mem::take(&mut g.1))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TransactionLog {
    /// Each line goes to `sink` as it is written (replay: the caller keeps
    /// the order).
    pub fn per_line(sink: TransactionSink) -> Self {
        Self::new(sink, false)
    }

    /// Lines are gathered and handed over together by [`Self::flush`] (or
    /// at 64 KiB): one output item, and one wake-up of the output thread,
    /// per batch instead of per answer (measured: per-line items doubled
    /// `--events`' CPU at 50k q/s). What is left is handed over when the
    /// last clone goes.
    pub fn gathered(sink: TransactionSink) -> Self {
        Self::new(sink, true)
    }

    fn new(sink: TransactionSink, gather: bool) -> Self {
        TransactionLog {
            inner: Arc::new(Inner {
                sink,
                gather,
                gathered: Mutex::new((Vec::new(), 0)),
                lines: Mutex::default(),
                stats: Arc::default(),
                dnssec: Mutex::new(PerArc::new(DNSSEC_CACHE)),
            }),
        }
    }

    pub fn stats(&self) -> &Arc<TransactionStats> {
        &self.inner.stats
    }

    /// Renders the line of answer `ev` and hands it over (or gathers it);
    /// never waits.
    pub fn log(
        &self,
        ev: &DnsEvent,
        query: Option<&QueryInfo>,
        lookup: Option<&Arc<Lookup>>,
        handled: Handled<'_>,
    ) {
        let dnssec = lookup.map(|l| self.inner.dnssec_of(l));
        self.write(|out, lines| render(out, lines, ev, query, dnssec.as_deref(), handled));
    }

    /// The line of query `q`, which got no answer within the outstanding
    /// timeout (`own`: one of the daemon's own lookups); never waits.
    pub fn log_unanswered(&self, q: &ExpiredQuery, own: bool) {
        // Parsed before any lock: an outage expires queries in bulk.
        let ev = unanswered_event(q);
        self.write(|out, lines| render_unanswered(out, lines, &ev, q, own));
    }

    /// Hands over (or gathers) the line `render` appends to its buffer.
    fn write(&self, render: impl FnOnce(&mut Vec<u8>, &mut EcsLines)) {
        if !self.inner.gather {
            let mut line = Vec::new();
            render(&mut line, &mut lock(&self.inner.lines));
            self.inner.hand_over(line, 1);
            return;
        }
        // Rendered straight into the gathered lines (no copy per line).
        let full = {
            let mut g = lock(&self.inner.gathered);
            render(&mut g.0, &mut lock(&self.inner.lines));
            g.1 += 1;
            (g.0.len() >= GATHER_BYTES).then(|| take_gathered(&mut g))
        };
        if let Some((bytes, n)) = full {
            self.inner.hand_over(bytes, n);
        }
    }

    /// Hands the gathered lines over.
    pub fn flush(&self) {
        self.inner.flush();
    }

    /// Flushes every `every` for as long as another clone of the log lives.
    pub fn spawn_flusher(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(inner) => inner.flush(),
                    None => return,
                }
            }
        })
    }
}

impl Inner {
    fn hand_over(&self, bytes: Vec<u8>, n: u64) {
        let c = if (self.sink)(bytes, n) {
            &self.stats.lines
        } else {
            &self.stats.full
        };
        c.fetch_add(n, Ordering::Relaxed);
    }

    fn flush(&self) {
        let (bytes, n) = take_gathered(&mut lock(&self.gathered));
        if n > 0 {
            self.hand_over(bytes, n);
        }
    }

    /// The verdict's `dnssec` object, rendered once per verdict.
    fn dnssec_of(&self, l: &Arc<Lookup>) -> Arc<RawValue> {
        if let Some(v) = lock(&self.dnssec).get(l, false) {
            return v.clone();
        }
        let text = super::alert::dnssec_object(l).to_string();
        // A `Value` renders to valid JSON; `null` is only a fallback.
        let raw: Arc<RawValue> = RawValue::from_string(text)
            .map(Arc::from)
            .unwrap_or_else(|_| Arc::from(RawValue::NULL.to_owned()));
        // Rendered unlocked: another thread may have kept its own
        // rendering meanwhile, an equal one.
        lock(&self.dnssec).insert(l, false, raw.clone());
        raw
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The answer's ECS document with its transaction: `event.dataset =
/// dnssec_monitor.transaction`, `dnssec` (when a verdict was obtained),
/// `dnssec_monitor.query`, and the query's process when the answer itself
/// was not attributed (an answer arriving after its socket closed).
pub fn render(
    out: &mut Vec<u8>,
    lines: &mut EcsLines,
    ev: &DnsEvent,
    query: Option<&QueryInfo>,
    dnssec: Option<&RawValue>,
    handled: Handled<'_>,
) {
    let mut doc = ev.ecs_without_dns();
    doc.event.dataset = Some(DATASET);
    doc.dnssec = dnssec;
    doc.dnssec_monitor.own_query = handled.own;
    doc.dnssec_monitor.alerts = handled.rules.iter().map(|r| r.name()).collect();
    if let Some(q) = query {
        let latency = ev.timestamp.duration_since(q.sent).unwrap_or_default();
        doc.dnssec_monitor.query = Some(query_object(
            q,
            Some((latency.as_secs_f64() * 1e6).round() / 1e3),
        ));
        if doc.process.is_none()
            && let Some(p) = q.process.as_deref()
        {
            doc.set_process(p);
        }
    }
    lines.write(out, ev, &doc);
}

/// The event of a query that got no answer, at the time it expired. No
/// interface: the outstanding table keeps none.
fn unanswered_event(q: &ExpiredQuery) -> DnsEvent {
    // It parsed when it was captured; should these bytes not parse again,
    // the line still goes, without the question.
    let message = Message::from_vec(&q.query.raw.bytes())
        .unwrap_or_else(|_| Message::new(q.query.id, MessageType::Query, OpCode::Query));
    DnsEvent {
        timestamp: q.expired,
        kind: DnsKind::Query,
        transport: q.transport,
        client: q.client,
        server: q.server,
        interface: None,
        socket_cookie: None,
        process: q.query.process.clone(),
        raw: q.query.raw.clone(),
        txid: q.query.id,
        message: Arc::new(message),
    }
}

/// The line of a query that got no answer: the query's ECS document
/// (`dns.type: query`, `ev` = [`unanswered_event`]), `event.outcome:
/// failure`, `dnssec_monitor.unanswered: true` and `dnssec_monitor.query`
/// (its time, no latency).
fn render_unanswered(
    out: &mut Vec<u8>,
    lines: &mut EcsLines,
    ev: &DnsEvent,
    q: &ExpiredQuery,
    own: bool,
) {
    let mut doc = ev.ecs_without_dns();
    doc.event.dataset = Some(DATASET);
    doc.event.outcome = Some("failure");
    doc.dnssec_monitor.own_query = own;
    doc.dnssec_monitor.served = q.query.served;
    doc.dnssec_monitor.unanswered = true;
    doc.dnssec_monitor.query = Some(query_object(&q.query, None));
    lines.write(out, ev, &doc);
}

/// `dnssec_monitor.query` of a transaction line.
fn query_object(q: &QueryInfo, latency_ms: Option<f64>) -> EcsQueryInfo {
    EcsQueryInfo {
        id: q.id,
        timestamp: rfc3339_micros(q.sent),
        rd: q.rd,
        r#do: q.dnssec_ok,
        cd: q.cd,
        latency_ms,
    }
}
