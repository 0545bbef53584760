//! What `dnssec-monitor run` puts in the forensic store, and the sampler
//! that bounds how many ordinary DNS answers go there.
//!
//! Every alert is stored with its transaction (query and answer bytes, the
//! process), the independent verdict and the DNSSEC records it rested on
//! (collected in run_evidence.rs). Ordinary answers are stored as a sample
//! of at most `store.sample_per_second`, taken by the detector after the
//! join (detect/sample.rs) so each carries its query, the process and the
//! verdict: the store is for incident response, and SQLite commits must
//! never compete with capture.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;

use super::run_output::Output;
use crate::correlate::outstanding::QueryInfo;
use crate::decode::Transport;
use crate::detect::alert::{Alert, Rule};
use crate::detect::sample::{SampleConfig, SampleStats, Sampled};
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

/// The verdict row of a lookup, as the engine judged it (`evidence`: the
/// DNSKEY/DS/RRSIG records it rested on, collected for alerts only).
pub fn lookup_verdict(
    l: &Lookup,
    evidence: Vec<store::Evidence>,
    validated_at: SystemTime,
) -> store::Verdict {
    let (verdict, _) = l.answers_with_verdict();
    store::Verdict {
        time: Some(validated_at),
        qname: l.qname.to_ascii(),
        qtype: u16::from(l.qtype),
        outcome: verdict.outcome().to_owned(),
        reason: verdict.reason_text(),
        ede_code: verdict.ede().map(|e| e.code),
        ede_text: verdict.ede().map(|e| e.text.clone()),
        chain_json: serde_json::to_string(&l.trace.steps).ok(),
        evidence,
    }
}

/// An alert's verdict row: the engine's verdict, except that
/// `bogus_signature` found in the captured RRSIGs makes the host's answer
/// bogus even when the name itself validates (the alert's claim is what a
/// responder re-checks with `verify-evidence`).
pub fn verdict_of(
    alert: &Alert,
    l: &Lookup,
    evidence: Vec<store::Evidence>,
    validated_at: SystemTime,
) -> store::Verdict {
    let mut v = lookup_verdict(l, evidence, validated_at);
    if alert.rule == Rule::BogusSignature && v.outcome != "bogus" {
        v.outcome = "bogus".to_owned();
        v.reason = Some(alert.detail.clone());
    }
    v
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

/// A sampled answer's record: the transaction (with its query and the
/// query's process when it joined one) and the detector's verdict when it
/// obtained one. Built by the output stage, only for a taken sample.
pub fn sample_record(s: &Sampled) -> store::Record {
    store::Record {
        transaction: Some(transaction_of(&s.ev, s.query.as_ref())),
        verdict: s
            .lookup
            .as_ref()
            .map(|l| lookup_verdict(l, Vec::new(), s.judged_at)),
        alerts: Vec::new(),
    }
}

/// The sampling the store asked for: its rate and counters (the sink, the
/// output channel, is attached by the detection stage's start).
pub struct SamplePlan {
    pub per_second: u32,
    pub stats: Arc<SampleStats>,
}

impl SamplePlan {
    /// The detector's sampling, handing taken answers to `out` without
    /// ever waiting (a full or closed channel: counted `channel_full`).
    pub fn config(self, out: &mpsc::Sender<Output>) -> SampleConfig {
        let out = out.clone();
        SampleConfig {
            per_second: self.per_second,
            stats: self.stats,
            sink: Arc::new(move |s| out.try_send(Output::Transaction(s)).is_ok()),
        }
    }
}

#[cfg(test)]
#[path = "run_store_tests.rs"]
mod tests;
