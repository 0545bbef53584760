//! Posture for `dnssec-monitor report`: each checked answer's name with
//! its independent verdict (zone, algorithms, DS key tags, earliest
//! signature expiry), the resolver that answered, the AD bit and the
//! asking process — aggregated per (name, type, resolver, process,
//! container) over one interval, then handed to the store
//! ([`crate::store::posture`]) with the resolver aggregates of
//! [`super::resolver_health`].
//!
//! With `[[critical]]` names configured only those are recorded; without,
//! every checked name is, and each interval keeps the
//! [`MAX_UNLABELLED`] most answered (a busy host resolves thousands of
//! names a minute: the report then lists the most resolved). Bounded: at
//! most `max_names` keys per interval; beyond that an observation is
//! dropped and counted.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::resolver_health::ResolverInterval;
use crate::correlate::outstanding::QueryInfo;
use crate::decode::presentation as pres;
use crate::dnssec::engine::Lookup;
use crate::event::DnsEvent;
use crate::store::record::normalize_name;
use crate::store::{NameObservation, Posture, ResolverStat};

/// `[[critical]]` patterns and their labels: `login.example.com` (that
/// name) or `*.example.com` (every name strictly below example.com).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CriticalLabels {
    entries: Vec<(String, String)>,
}

impl CriticalLabels {
    /// (pattern, label) pairs; names lowercased without the final dot.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let entries = pairs
            .into_iter()
            .map(|(p, l)| (p.trim_end_matches('.').to_ascii_lowercase(), l))
            .collect();
        Self { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The exact names (not `*.` patterns) and their labels.
    pub fn exact(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .filter(|(p, _)| !p.starts_with("*."))
            .map(|(p, l)| (p.as_str(), l.as_str()))
    }

    /// The label of `name` (presentation, any case): an exact entry wins,
    /// else the longest matching `*.suffix`.
    pub fn label(&self, name: &str) -> Option<&str> {
        let n = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some((_, l)) = self.entries.iter().find(|(p, _)| *p == n) {
            return Some(l);
        }
        self.entries
            .iter()
            .filter_map(|(p, l)| {
                let suffix = p.strip_prefix("*.")?;
                let below = n.len() > suffix.len()
                    && n.ends_with(suffix)
                    && n.as_bytes()[n.len() - suffix.len() - 1] == b'.';
                below.then_some((suffix.len(), l.as_str()))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, l)| l)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    qname: String,
    qtype: u16,
    resolver: Option<String>,
    process: Option<String>,
    container: Option<String>,
}

/// The verdict's chain facts: (zone, algorithms, DS key tags, earliest
/// signature expiration) — the deepest zone on the chain, and the
/// earliest expiry of any signature checked anywhere on it (any one
/// expiring breaks validation).
pub fn chain_facts(
    l: &Lookup,
    at: SystemTime,
) -> (Option<String>, Vec<u8>, Vec<u16>, Option<SystemTime>) {
    let steps = &l.trace.steps;
    let Some(last) = steps.last() else {
        return (None, Vec::new(), Vec::new(), None);
    };
    // The zone may appear twice (its keys, then the answer it signed).
    let zone_steps = || steps.iter().filter(|s| s.zone == last.zone);
    let mut algs: Vec<u8> = zone_steps()
        .flat_map(|s| s.signatures.iter().map(|g| g.algorithm))
        .collect();
    algs.sort_unstable();
    algs.dedup();
    let mut tags: Vec<u16> = zone_steps()
        .flat_map(|s| s.ds_key_tags.iter().copied())
        .collect();
    tags.sort_unstable();
    tags.dedup();
    let expiry = steps
        .iter()
        .flat_map(|s| s.signatures.iter())
        .map(|s| serial_time(s.expiration, at))
        .min();
    (
        Some(normalize_name(&pres::name(&last.zone))),
        algs,
        tags,
        expiry,
    )
}

/// An RRSIG time (RFC 4034 §3.1.5: seconds mod 2^32, serial arithmetic)
/// as the point in time closest to `near`.
pub fn serial_time(t: u32, near: SystemTime) -> SystemTime {
    let now = near
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let base = now - (now & 0xffff_ffff);
    let mut secs = base + i64::from(t);
    if secs - now > (1 << 31) {
        secs -= 1 << 32;
    } else if now - secs > (1 << 31) {
        secs += 1 << 32;
    }
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

/// Names kept per interval when no critical name is configured.
pub const MAX_UNLABELLED: usize = 100;

#[derive(Debug)]
pub struct PostureRecorder {
    labels: CriticalLabels,
    names: HashMap<Key, NameObservation>,
    max_names: usize,
    /// Observations dropped because `max_names` keys were already held.
    pub dropped: u64,
}

impl Default for PostureRecorder {
    fn default() -> Self {
        Self::new(CriticalLabels::default(), 4_096)
    }
}

impl PostureRecorder {
    pub fn new(labels: CriticalLabels, max_names: usize) -> Self {
        Self {
            labels,
            names: HashMap::new(),
            max_names,
            dropped: 0,
        }
    }

    /// One checked answer and its verdict.
    pub fn observe(&mut self, ev: &DnsEvent, query: Option<&QueryInfo>, lookup: &Lookup) {
        let Some(q) = ev.message.queries.first() else {
            return;
        };
        let process = ev
            .process
            .as_ref()
            .or(query.and_then(|q| q.process.as_deref()));
        let key = Key {
            qname: normalize_name(&pres::name(q.name())),
            qtype: u16::from(q.query_type()),
            resolver: Some(ev.server.to_string()),
            process: process.map(|p| p.name.clone()),
            container: process.and_then(|p| p.container_id.clone()),
        };
        let label = self.labels.label(&key.qname).map(str::to_owned);
        if label.is_none() && !self.labels.is_empty() {
            return;
        }
        if !self.names.contains_key(&key) && self.names.len() >= self.max_names {
            self.dropped += 1;
            return;
        }
        let (zone, algorithms, ds_key_tags, sig_expiration) = chain_facts(lookup, ev.timestamp);
        let ad = ev.message.metadata.authentic_data;
        let o = self
            .names
            .entry(key.clone())
            .or_insert_with(|| NameObservation {
                first: Some(ev.timestamp),
                qname: key.qname.clone(),
                qtype: key.qtype,
                resolver: key.resolver.clone(),
                process: key.process.clone(),
                container_id: key.container.clone(),
                ..NameObservation::default()
            });
        o.last = Some(ev.timestamp);
        o.label = label;
        o.zone = zone;
        o.outcome = lookup.verdict.outcome().to_owned();
        o.reason = lookup.verdict.reason_text();
        o.algorithms = algorithms;
        o.ds_key_tags = ds_key_tags;
        // An insecure or undetermined name rests on no signature of its
        // own: the parents' expiry would only mislead.
        o.sig_expiration = match lookup.verdict.outcome() {
            "secure" | "bogus" => sig_expiration,
            _ => None,
        };
        o.answers += 1;
        o.ad_answers += u64::from(ad);
        o.pid = process.map(|p| p.pid);
    }

    /// The interval's observations (and start a new one).
    pub fn take(&mut self) -> Vec<NameObservation> {
        let mut v: Vec<NameObservation> = self.names.drain().map(|(_, o)| o).collect();
        if self.labels.is_empty() && v.len() > MAX_UNLABELLED {
            v.sort_by_key(|o| std::cmp::Reverse(o.answers));
            v.truncate(MAX_UNLABELLED);
        }
        v.sort_by(|a, b| (&a.qname, a.qtype, &a.process).cmp(&(&b.qname, b.qtype, &b.process)));
        v
    }
}

/// A resolver interval as a store row.
pub fn resolver_stat(i: &ResolverInterval) -> ResolverStat {
    let c = &i.counts;
    ResolverStat {
        start: Some(i.start),
        end: Some(i.end),
        resolver: i.resolver.to_string(),
        queries: c.queries,
        answers: c.answers,
        unanswered: c.timeouts,
        servfail: c.servfail,
        refused: c.refused,
        secure_answers: c.secure_answers,
        secure_ad: c.secure_ad,
        latency: i.latency.to_sparse(),
    }
}

/// One interval's posture.
pub fn posture(intervals: &[ResolverInterval], names: Vec<NameObservation>) -> Posture {
    Posture {
        resolvers: intervals.iter().map(resolver_stat).collect(),
        names,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_exact_names_and_suffixes() {
        let l = CriticalLabels::new([
            ("login.example.com".to_owned(), "idp".to_owned()),
            ("*.example.com".to_owned(), "corp".to_owned()),
            ("*.vault.example.com.".to_owned(), "secrets".to_owned()),
        ]);
        assert_eq!(l.label("LOGIN.example.com."), Some("idp"));
        assert_eq!(l.label("www.example.com"), Some("corp"));
        assert_eq!(l.label("kv.vault.example.com"), Some("secrets"));
        // Benign twins: the apex of a pattern, a look-alike, another zone.
        assert_eq!(l.label("example.com"), None);
        assert_eq!(l.label("badexample.com"), None);
        assert_eq!(l.label("login.example.org"), None);
        assert_eq!(l.label("vault.example.com"), Some("corp"));
    }

    #[test]
    fn serial_times_unwrap_near_now() {
        let near = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let t = serial_time(1_800_086_400, near);
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1_800_086_400));
        // Past 2106 the field wraps: a small value means the next epoch.
        let near = UNIX_EPOCH + Duration::from_secs(0xffff_ff00);
        let t = serial_time(0x100, near);
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(0x1_0000_0100));
    }
}
