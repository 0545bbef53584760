//! Transaction lines (`--events`, DESIGN.md "Events"): one ECS document per
//! answer the detector handled, joined with its query and carrying the
//! independent verdict (`dnssec.*`) when the detector obtained one.
//!
//! A query line is written when the query is captured (it may never be
//! answered); its answer's line is written once the detector is done with
//! the answer — judged, skipped (the daemon's own lookups, allow list, NTA,
//! served to other machines) or dropped from checking — so it carries what
//! a SIEM needs to filter on: `dnssec.outcome`, `dnssec.reason`, the query's
//! time and the latency. Rendered where the detector finishes the answer
//! (no clone of the event), handed to the output without waiting: no room
//! = the line is counted as dropped, never waited for.

use std::sync::Arc;

use super::alert::Rule;
use crate::correlate::outstanding::QueryInfo;
use crate::dnssec::engine::Lookup;
use crate::event::{
    DnsEvent, EcsContainer, EcsProcess, EcsQueryInfo, EcsThread, EcsUser, rfc3339_micros,
};

/// Where a rendered line (JSON, newline-terminated) goes; false = no room
/// (the detector counts it: `transaction_lines_full`).
pub type TransactionSink = Arc<dyn Fn(Vec<u8>) -> bool + Send + Sync>;

/// The transaction log for [`super::detector::DetectorConfig`].
#[derive(Clone)]
pub struct TransactionLog {
    pub sink: TransactionSink,
}

impl std::fmt::Debug for TransactionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionLog").finish_non_exhaustive()
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

impl TransactionLog {
    /// Renders and hands over the line of answer `ev` (never waits):
    /// whether the output took it.
    pub fn log(
        &self,
        ev: &DnsEvent,
        query: Option<&QueryInfo>,
        lookup: Option<&Lookup>,
        handled: Handled<'_>,
    ) -> bool {
        (self.sink)(render(ev, query, lookup, handled))
    }
}

/// The answer's ECS document with its transaction: `event.dataset =
/// dnssec_monitor.transaction`, `dnssec` (when a verdict was obtained),
/// `dnssec_monitor.query`, and the query's process when the answer itself
/// was not attributed (an answer arriving after its socket closed).
pub fn render(
    ev: &DnsEvent,
    query: Option<&QueryInfo>,
    lookup: Option<&Lookup>,
    handled: Handled<'_>,
) -> Vec<u8> {
    let mut doc = ev.ecs();
    doc.event.dataset = Some("dnssec_monitor.transaction");
    doc.dnssec = lookup.map(super::alert::dnssec_object);
    doc.dnssec_monitor.own_query = handled.own;
    doc.dnssec_monitor.alerts = handled.rules.iter().map(|r| r.name()).collect();
    if let Some(q) = query {
        let latency = ev.timestamp.duration_since(q.sent).unwrap_or_default();
        doc.dnssec_monitor.query = Some(EcsQueryInfo {
            id: q.id,
            timestamp: rfc3339_micros(q.sent),
            rd: q.rd,
            r#do: q.dnssec_ok,
            cd: q.cd,
            latency_ms: (latency.as_secs_f64() * 1e6).round() / 1e3,
        });
        if doc.process.is_none()
            && let Some(p) = q.process.as_deref()
        {
            doc.process = Some(EcsProcess {
                pid: p.pid,
                name: &p.name,
                thread: EcsThread { id: p.tid },
            });
            doc.user = Some(EcsUser {
                id: p.uid.to_string(),
            });
            doc.container = p.container_id.as_deref().map(|id| EcsContainer { id });
        }
    }
    // Plain data (strings, numbers, maps with string keys): serde_json
    // cannot fail on it; an empty object would still be one line.
    let mut line = serde_json::to_vec(&doc).unwrap_or_else(|_| b"{}".to_vec());
    line.push(b'\n');
    line
}
