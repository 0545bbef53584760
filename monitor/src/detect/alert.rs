//! An alert and its ECS JSON: the DNS event's own ECS document
//! ([`DnsEvent::to_ecs`]) with `event.kind = "alert"`, the rule, severity
//! and risk score, the `dnssec` object and `dnssec_monitor.rule_detail`.
//! The shape is pinned by `docs/alert.schema.json`.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::critical::AlertTags;
use super::resolver_health::{Condition, HealthFinding};
use crate::config::Mode;
use crate::correlate::outstanding::QueryInfo;
use crate::decode::presentation as pres;
use crate::dnssec::engine::Lookup;
use crate::event::{DnsEvent, rfc3339_micros};

/// The rules of DESIGN.md "Detection".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    BogusSignature,
    UnsignedFallback,
    AnswerMismatch,
    UnsolicitedResponse,
    ResponseRace,
    CaptureLoss,
    /// DESIGN.md "Policy": a critical name without a Secure chain or a validating path.
    CriticalNameUnprotected,
    /// DESIGN.md "Policy": the RRSIGs a verdict rested on expire soon.
    SignatureExpiring,
    /// DESIGN.md "Policy": a resolver's unanswered/SERVFAIL/REFUSED rate crossed its threshold.
    ResolverFailure,
}

impl Rule {
    pub const ALL: [Rule; 9] = [
        Rule::BogusSignature,
        Rule::UnsignedFallback,
        Rule::AnswerMismatch,
        Rule::UnsolicitedResponse,
        Rule::ResponseRace,
        Rule::CaptureLoss,
        Rule::CriticalNameUnprotected,
        Rule::SignatureExpiring,
        Rule::ResolverFailure,
    ];

    /// ECS `rule.name`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::BogusSignature => "bogus_signature",
            Rule::UnsignedFallback => "unsigned_fallback",
            Rule::AnswerMismatch => "answer_mismatch",
            Rule::UnsolicitedResponse => "unsolicited_response",
            Rule::ResponseRace => "response_race",
            Rule::CaptureLoss => "capture_loss",
            Rule::CriticalNameUnprotected => "critical_name_unprotected",
            Rule::SignatureExpiring => "signature_expiring",
            Rule::ResolverFailure => "resolver_failure",
        }
    }

    pub fn index(self) -> usize {
        Rule::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// Alert levels, mapped to Elastic's risk scores (low 21, medium 47,
/// high 73, critical 99), which the syslog sink turns into RFC 5424 severities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn risk_score(self) -> u8 {
        match self {
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What a rule found: the rule, how bad, and one sentence of evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    pub detail: String,
}

impl Finding {
    pub fn new(rule: Rule, severity: Severity, detail: impl Into<String>) -> Self {
        Finding {
            rule,
            severity,
            detail: detail.into(),
        }
    }
}

/// One alert, with the evidence it rests on.
#[derive(Clone, Debug)]
pub struct Alert {
    pub rule: Rule,
    pub severity: Severity,
    pub timestamp: SystemTime,
    /// `dnssec_monitor.rule_detail`: one sentence saying why.
    pub detail: String,
    /// The answer (or the first offending message) the alert is about;
    /// None for `capture_loss`.
    pub event: Option<DnsEvent>,
    /// The query it answered, when one was outstanding.
    pub query: Option<QueryInfo>,
    /// The independent verdict, when one was consulted.
    pub lookup: Option<Arc<Lookup>>,
    /// Counter deltas (`capture_loss`).
    pub counters: Vec<(String, u64)>,
    /// Mode and critical label ([`super::critical::annotate`]).
    pub tags: AlertTags,
    /// The resolver's window (`resolver_failure`).
    pub resolver: Option<Box<HealthFinding>>,
}

impl Alert {
    pub fn from_finding(
        f: Finding,
        event: &DnsEvent,
        query: Option<&QueryInfo>,
        lookup: Option<Arc<Lookup>>,
    ) -> Alert {
        let mut event = event.clone();
        // The answer's process is the asker's: take it from the query if
        // the answer itself was not attributed.
        if event.process.is_none() {
            event.process = query.and_then(|q| q.process.clone());
        }
        Alert {
            rule: f.rule,
            severity: f.severity,
            timestamp: event.timestamp,
            detail: f.detail,
            event: Some(event),
            query: query.cloned(),
            lookup,
            counters: Vec::new(),
            tags: AlertTags::default(),
            resolver: None,
        }
    }

    /// A `resolver_failure` alert: no DNS message, the resolver's window.
    pub fn from_health(h: HealthFinding, timestamp: SystemTime) -> Alert {
        let f = super::rules::resolver_failure::finding(&h);
        Alert {
            rule: f.rule,
            severity: f.severity,
            timestamp,
            detail: f.detail,
            event: None,
            query: None,
            lookup: None,
            counters: Vec::new(),
            tags: AlertTags::default(),
            resolver: Some(Box::new(h)),
        }
    }

    /// The ECS document (see the module comment).
    pub fn to_ecs(&self) -> Value {
        let mut doc = match &self.event {
            Some(ev) => match ev.to_ecs() {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            None => Map::new(),
        };
        doc.insert("@timestamp".into(), json!(rfc3339_micros(self.timestamp)));
        doc.insert(
            "event".into(),
            json!({
                // Audit mode (phased roll-out): the same document, but an
                // event, which a SIEM does not page on.
                "kind": match self.tags.mode {
                    Mode::Enforce => "alert",
                    Mode::Audit => "event",
                },
                "category": ["network"],
                "type": ["indicator"],
                "severity": self.severity.risk_score(),
                "risk_score": self.severity.risk_score(),
                "dataset": "dnssec_monitor.alert",
            }),
        );
        doc.insert(
            "rule".into(),
            json!({"name": self.rule.name(), "ruleset": "dnssec-monitor"}),
        );
        if let Some(l) = &self.lookup {
            doc.insert("dnssec".into(), dnssec_object(l));
        }
        let mut dm = match doc.remove("dnssec_monitor") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        dm.insert("rule_detail".into(), json!(self.detail));
        dm.insert("severity".into(), json!(self.severity.as_str()));
        dm.insert("mode".into(), json!(self.tags.mode.as_str()));
        if let Some(c) = &self.tags.critical {
            let mut o = json!({"label": c.label, "name": c.name});
            if let Some(b) = self.tags.base_severity {
                o["base_severity"] = json!(b.as_str());
            }
            dm.insert("critical".into(), o);
        }
        if let Some(q) = &self.query {
            dm.insert(
                "query".into(),
                json!({
                    "id": q.id,
                    "@timestamp": rfc3339_micros(q.sent),
                    "rd": q.rd,
                    "do": q.dnssec_ok,
                    "cd": q.cd,
                }),
            );
        }
        if !self.counters.is_empty() {
            let c: Map<String, Value> = self
                .counters
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            dm.insert("dropped".into(), Value::Object(c));
        }
        if let Some(h) = &self.resolver {
            let (dest, obj) = resolver_objects(h);
            doc.insert("destination".into(), dest);
            dm.insert("resolver".into(), obj);
        }
        doc.insert("dnssec_monitor".into(), Value::Object(dm));
        Value::Object(doc)
    }
}

/// `destination` (the resolver) and `dnssec_monitor.resolver` (its window)
/// of a `resolver_failure` alert.
fn resolver_objects(h: &HealthFinding) -> (Value, Value) {
    let s = &h.stats;
    let c = &s.counts;
    let ms = |d: Option<std::time::Duration>| d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3);
    let rate = |r: Option<f64>| r.map(|r| (r * 1e4).round() / 1e4);
    (
        json!({"ip": s.resolver.ip().to_string(), "port": s.resolver.port()}),
        json!({
            "address": s.resolver.to_string(),
            "condition": h.condition.name(),
            "rate": rate(Some(h.rate)),
            "threshold": h.threshold,
            "window_seconds": s.window.as_secs_f64(),
            "queries": c.queries,
            "answers": c.answers,
            "unanswered": c.timeouts,
            "servfail": c.servfail,
            "refused": c.refused,
            "unanswered_rate": rate(c.rate(Condition::Unanswered)),
            "servfail_rate": rate(c.rate(Condition::Servfail)),
            "refused_rate": rate(c.rate(Condition::Refused)),
            "latency_p50_ms": ms(s.p50),
            "latency_p99_ms": ms(s.p99),
            "secure_answers": c.secure_answers,
            "ad_rate": rate(c.ad_rate()),
        }),
    )
}

/// The `dnssec` object: the independent verdict, its chain and the
/// answers validation produced.
pub fn dnssec_object(l: &Lookup) -> Value {
    let (verdict, answers) = l.answers_with_verdict();
    let mut o = Map::new();
    o.insert("outcome".into(), json!(verdict.outcome()));
    if let Some(r) = verdict.reason_text() {
        o.insert("reason".into(), json!(r));
    }
    if let Some(e) = verdict.ede() {
        o.insert("ede".into(), json!({"code": e.code, "text": e.text}));
    }
    o.insert("response_code".into(), json!(pres::rcode(l.rcode)));
    o.insert(
        "chain".into(),
        serde_json::to_value(&l.trace.steps).unwrap_or_else(|_| json!([])),
    );
    let validated: Vec<Value> = answers
        .iter()
        .map(|r| {
            json!({
                "name": pres::name(&r.name),
                "type": pres::rtype(r.record_type()),
                "ttl": r.ttl,
                "data": pres::rdata(&r.data),
            })
        })
        .collect();
    o.insert("validated_answers".into(), Value::Array(validated));
    Value::Object(o)
}
