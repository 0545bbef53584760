//! `critical_name_unprotected` (DESIGN.md "Policy"): a name listed in
//! `[[critical]]` with `require = "secure"` was resolved by a process on
//! this host, and either
//! - its independent verdict is Insecure: an unsigned zone, an unsigned
//!   delegation, an algorithm nobody can verify, no trust anchor — DNSSEC
//!   cannot protect it whatever the resolver does; or
//! - it is Secure, but the answer came through a path that did not
//!   validate: the query asked for DNSSEC (DO=1) and the answer carries no
//!   RRSIG (stripped, RFC 4035 §3.1.1), or a recursive answer with AD=0
//!   from a server not configured as validating (RFC 4035 §3.2.3: only a
//!   validating resolver sets AD; one we do not know to validate and that
//!   did not say so leaves the client unprotected against a forgery).
//!
//! A configured validating resolver answering AD=0 to a query that did not
//! ask for AD (DO=0, AD=0; RFC 6840 §5.7) is a validating path: it would
//! have refused bogus data. Answering AD=0 to one that asked (without CD)
//! is not: AD was cleared on the way, and the client holds an answer
//! nothing vouches for (`unsigned_fallback` fires too). Answers to RD=0 queries — a resolver on the
//! host iterating on a client's behalf — are the path, not a consumer:
//! the client's own recursive lookup is the one judged (otherwise every
//! lookup would alert twice, once for the resolver). Bogus and
//! Indeterminate verdicts are other rules' work (`bogus_signature`), or no
//! evidence either way.
//!
//! A stripping relay in front of a Secure critical name raises this rule
//! *and* `unsigned_fallback` (raised one step): the first says the
//! critical name went unprotected, the second what the attack was.
//!
//! One alert per (name, process) per hour; repeats are counted in
//! [`crate::detect::detector::DetectCounters::suppressed`].

use std::time::Duration;

use super::{Answer, signed_phrase};
use crate::config::Require;
use crate::detect::alert::{Finding, Rule, Severity};
use crate::detect::critical::Dedup;
use crate::detect::policy::DetectPolicy;
use crate::dnssec::engine::Lookup;
use crate::dnssec::verdict::Verdict;

/// Alert once per name and process within this.
pub const PERIOD: Duration = Duration::from_secs(3_600);
/// Remembered (name, process) pairs.
pub const MAX_KEYS: usize = 65_536;

/// Who resolved it: the process id, else the container, else nobody known.
pub type ProcessKey = (Option<u32>, Option<String>);

pub type UnprotectedDedup = Dedup<(hickory_proto::rr::Name, ProcessKey)>;

pub fn new_dedup() -> UnprotectedDedup {
    Dedup::new(PERIOD, MAX_KEYS)
}

/// Why the name is unprotected, if it is.
/// Stripping is an attack's signature (high); an unsigned zone or a
/// non-validating path is posture (medium).
fn why(a: &Answer<'_>, l: &Lookup, policy: &DetectPolicy) -> Option<(Severity, String)> {
    match &l.verdict {
        Verdict::Insecure { reason, .. } => {
            return Some((
                Severity::Medium,
                format!("its independent verdict is insecure: {reason}; DNSSEC cannot protect it"),
            ));
        }
        Verdict::Secure => {}
        Verdict::Bogus { .. } | Verdict::Indeterminate { .. } => return None,
    }
    let server = a.ev.server;
    if a.dnssec_ok() && !a.has_rrsig() {
        return Some((
            Severity::High,
            format!(
                "{} but the answer from {server} to a DO=1 query carried no RRSIG (DNSSEC stripped on the path)",
                signed_phrase(l)
            ),
        ));
    }
    if a.ev.message.metadata.authentic_data {
        return None;
    }
    if policy.validating(server) {
        // Asked for AD (DO=1 or AD=1, RFC 6840 §5.7), not CD, and got
        // AD=0: the validation did not reach the client (cleared on the
        // path) — unsigned_fallback says the same, raised.
        let q_ad = a.query.is_some_and(|q| q.ad);
        let q_cd = a.query.is_some_and(|q| q.cd) || a.ev.message.metadata.checking_disabled;
        if (a.dnssec_ok() || q_ad) && !q_cd {
            return Some((
                Severity::High,
                format!(
                    "{} but the validating resolver {server} answered a query that asked for AD with AD=0: the validation did not reach the client",
                    signed_phrase(l)
                ),
            ));
        }
        return None;
    }
    Some((
        Severity::Medium,
        format!(
            "{} but {server}, not a configured validating resolver, answered with AD=0: nothing on the path validated it",
            signed_phrase(l)
        ),
    ))
}

/// The finding for an accepted answer, or None (not critical, protected,
/// or a repeat within [`PERIOD`] — counted in `suppressed`).
pub fn check(
    a: &Answer<'_>,
    l: &Lookup,
    policy: &DetectPolicy,
    dedup: &UnprotectedDedup,
    suppressed: &std::sync::atomic::AtomicU64,
) -> Option<Finding> {
    if !a.accepted() || !a.rd() {
        return None;
    }
    let entry = policy.critical.lookup(&a.qname)?;
    if entry.require != Require::Secure {
        return None;
    }
    let (severity, reason) = why(a, l, policy)?;
    let proc =
        a.ev.process
            .as_ref()
            .or_else(|| a.query.and_then(|q| q.process.as_ref()));
    let key: ProcessKey = (
        proc.map(|p| p.pid),
        proc.and_then(|p| p.container_id.clone()),
    );
    if !dedup.first(&(a.qname.clone(), key), a.ev.timestamp) {
        suppressed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return None;
    }
    Some(Finding::new(
        Rule::CriticalNameUnprotected,
        severity,
        format!(
            "critical name {} ({}, entry {}) requires a Secure chain and a validating path: {reason}",
            a.what(),
            entry.label,
            entry.shown
        ),
    ))
}
