//! What `dnssec-monitor run` puts in the forensic store, and the sampler
//! that bounds how many ordinary DNS answers go there.
//!
//! Every alert is stored with its transaction (query and answer bytes, the
//! process), the independent verdict and the DNSSEC records it rested on
//! (collected in run_evidence.rs). Ordinary answers are stored as a sample
//! of at most `store.sample_per_second`: the store is for incident
//! response, and SQLite commits must never compete with capture.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc;

use super::run_output::Output;
use crate::correlate::outstanding::QueryInfo;
use crate::decode::Transport;
use crate::detect::alert::{Alert, Rule};
use crate::dnssec::engine::Lookup;
use crate::event::{DnsEvent, DnsKind};
use crate::store;

/// The transaction row of an answer (and of its query, when it was joined).
pub fn transaction_of(ev: &DnsEvent, query: Option<&QueryInfo>) -> store::Transaction {
    let q = ev.message.queries.first();
    let p = ev
        .process
        .as_ref()
        .or(query.and_then(|q| q.process.as_ref()));
    let answer = ev.kind == DnsKind::Answer;
    store::Transaction {
        time: Some(ev.timestamp),
        query_time: query.map(|q| q.sent),
        qname: q.map(|q| q.name().to_ascii()).unwrap_or_default(),
        qtype: q.map_or(0, |q| u16::from(q.query_type())),
        rcode: answer.then(|| u16::from(ev.message.metadata.response_code)),
        pid: p.map(|p| p.pid),
        process: p.map(|p| p.name.clone()),
        uid: p.map(|p| p.uid),
        container_id: p.and_then(|p| p.container_id.clone()),
        src: Some(ev.client.to_string()),
        dst: Some(ev.server.to_string()),
        transport: Some(
            match ev.transport {
                Transport::Udp => "udp",
                Transport::Tcp => "tcp",
            }
            .to_owned(),
        ),
        query: match (answer, query) {
            (true, Some(q)) if !q.raw.is_empty() => Some(q.raw.to_vec()),
            (true, _) => None,
            (false, _) => Some(ev.raw.to_vec()),
        },
        answer: answer.then(|| ev.raw.to_vec()),
    }
}

/// The verdict row: the engine's verdict, except that `bogus_signature`
/// found in the captured RRSIGs makes the host's answer bogus even when
/// the name itself validates (the alert's claim is what a responder
/// re-checks with `verify-evidence`).
pub fn verdict_of(
    alert: &Alert,
    l: &Lookup,
    evidence: Vec<store::Evidence>,
    validated_at: SystemTime,
) -> store::Verdict {
    let (verdict, _) = l.answers_with_verdict();
    let engine_outcome = verdict.outcome();
    let answer_bogus = alert.rule == Rule::BogusSignature && engine_outcome != "bogus";
    store::Verdict {
        time: Some(validated_at),
        qname: l.qname.to_ascii(),
        qtype: u16::from(l.qtype),
        outcome: if answer_bogus {
            "bogus".to_owned()
        } else {
            engine_outcome.to_owned()
        },
        reason: if answer_bogus {
            Some(alert.detail.clone())
        } else {
            verdict.reason_text()
        },
        ede_code: verdict.ede().map(|e| e.code),
        ede_text: verdict.ede().map(|e| e.text.clone()),
        chain_json: serde_json::to_string(&l.trace.steps).ok(),
        evidence,
    }
}

/// The record of one alert: transaction, verdict (with `evidence`) and
/// the alert row with the JSON the other sinks got.
pub fn alert_record(
    alert: &Alert,
    evidence: Vec<store::Evidence>,
    validated_at: SystemTime,
) -> store::Record {
    let doc = alert.to_ecs();
    store::Record {
        transaction: alert
            .event
            .as_ref()
            .map(|ev| transaction_of(ev, alert.query.as_ref())),
        verdict: alert
            .lookup
            .as_ref()
            .map(|l| verdict_of(alert, l, evidence, validated_at)),
        alerts: vec![store::Alert {
            time: Some(alert.timestamp),
            rule: alert.rule.name().to_owned(),
            severity: i64::from(alert.severity.risk_score()),
            detail: alert.detail.clone(),
            json: doc.to_string(),
        }],
    }
}

/// A sampled answer's record (no verdict: none was needed for it).
pub fn sample_record(ev: &DnsEvent) -> store::Record {
    store::Record {
        transaction: Some(transaction_of(ev, None)),
        verdict: None,
        alerts: Vec::new(),
    }
}

/// What the sampler did (for metrics and the exit report).
#[derive(Debug, Default)]
pub struct SampleStats {
    /// Answers offered.
    pub offered: AtomicU64,
    /// Answers handed to the output stage.
    pub sampled: AtomicU64,
    /// Over the rate: not stored (by design, not a loss of alerts).
    pub over_rate: AtomicU64,
    /// The output channel was full: dropped and counted.
    pub channel_full: AtomicU64,
}

/// A token bucket over DNS answers: at most `per_second` per second, with
/// bursts of up to one second's worth. Runs in the detection tee (one
/// task), so it needs no lock; its counters are shared.
pub struct TxSampler {
    per_second: f64,
    tokens: f64,
    last: Instant,
    own_pid: u32,
    stats: Arc<SampleStats>,
}

impl TxSampler {
    pub fn new(per_second: u32, stats: Arc<SampleStats>) -> Self {
        Self {
            per_second: f64::from(per_second),
            tokens: f64::from(per_second),
            last: Instant::now(),
            own_pid: std::process::id(),
            stats,
        }
    }

    /// Whether this event is stored, at `now` (separate for tests).
    pub fn take(&mut self, ev: &DnsEvent, now: Instant) -> bool {
        // Only answers: each carries its question. The engine's own
        // lookups are not the host's traffic.
        if ev.kind != DnsKind::Answer || ev.process.as_ref().is_some_and(|p| p.pid == self.own_pid)
        {
            return false;
        }
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

    /// Hand a sampled answer to the output stage without ever waiting.
    pub fn offer(&mut self, ev: &DnsEvent, out: &mpsc::Sender<Output>) {
        if !self.take(ev, Instant::now()) {
            return;
        }
        match out.try_send(Output::Transaction(Box::new(ev.clone()))) {
            Ok(()) => {
                self.stats.sampled.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.stats.channel_full.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
#[path = "run_store_tests.rs"]
mod tests;
