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
//!
//! This runs for every checked answer (50k/s on a busy host), so an
//! answer for a row already held costs one hash lookup on a key built
//! from borrowed parts and a few counter bumps: the strings of a row
//! (name, resolver, label) are built when the row is first seen, its
//! verdict facts (zone, reason …) when its verdict changes.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hashbrown::HashTable;
use hickory_proto::rr::Name;

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
    let expiry = earliest_expiry(l, at);
    (
        Some(normalize_name(&pres::name(&last.zone))),
        algs,
        tags,
        expiry,
    )
}

/// The earliest expiration of any signature checked on the chain (any
/// one expiring breaks validation), as the point in time nearest `at`.
pub fn earliest_expiry(l: &Lookup, at: SystemTime) -> Option<SystemTime> {
    l.trace
        .steps
        .iter()
        .flat_map(|s| s.signatures.iter())
        .map(|s| serial_time(s.expiration, at))
        .min()
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

/// foldhash: per-answer hashing (see [`crate::detect::verdicts`]); a
/// per-process random seed keeps flooding attacks on bucket order out.
type HashState = foldhash::fast::RandomState;

/// One (name, type, resolver, process, container) of the interval.
#[derive(Debug)]
struct Row {
    hash: u64,
    /// The qname's labels, each after its length, ASCII-lowercased: equal
    /// exactly when the rows' `qname` strings are (those are the
    /// presentation form lowercased, without the final dot).
    wire: Box<[u8]>,
    /// The resolver's address, flow label cleared: equal exactly when
    /// the `resolver` strings are (the text has no flow label).
    server: SocketAddr,
    /// The verdict the chain facts were taken from. Held weakly: the
    /// allocation outlives the lookup, so its address names no other
    /// lookup while the row is held.
    facts_of: Weak<Lookup>,
    obs: NameObservation,
}

/// A name's `[[critical]]` label, decided once per interval (kept only
/// when labels are configured: then unlabelled names are not recorded).
#[derive(Debug)]
struct NameLabel {
    hash: u64,
    wire: Box<[u8]>,
    label: Option<String>,
}

#[derive(Debug)]
pub struct PostureRecorder {
    labels: CriticalLabels,
    rows: HashTable<Row>,
    names: HashTable<NameLabel>,
    state: HashState,
    /// The current answer's qname in [`Row::wire`] form (kept to reuse
    /// its allocation).
    scratch: Vec<u8>,
    max_names: usize,
    /// Observations dropped because `max_names` keys were already held.
    pub dropped: u64,
}

impl Default for PostureRecorder {
    fn default() -> Self {
        Self::new(CriticalLabels::default(), 4_096)
    }
}

/// `name`'s labels into `out` in [`Row::wire`] form.
fn lower_wire(name: &Name, out: &mut Vec<u8>) {
    out.clear();
    for label in name.iter() {
        // A label is at most 63 octets (RFC 1035 §2.3.4).
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
}

/// The address as its text distinguishes it (see [`Row::server`]).
fn addr_key(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(mut v6) => {
            v6.set_flowinfo(0);
            SocketAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// The label of `name` (`wire` its [`Row::wire`] form, `h` that hashed),
/// decided on its first answer of the interval.
fn label_of<'a>(
    names: &'a mut HashTable<NameLabel>,
    labels: &CriticalLabels,
    max: usize,
    (h, wire): (u64, &[u8]),
    name: &Name,
) -> Option<&'a str> {
    if names.find(h, |n| *n.wire == *wire).is_none() {
        // Bounded: a flood of distinct names only costs deciding their
        // labels again.
        if names.len() >= max {
            names.clear();
        }
        let label = labels.label(&row_name(name)).map(str::to_owned);
        let entry = NameLabel {
            hash: h,
            wire: wire.into(),
            label,
        };
        names.insert_unique(h, entry, |n| n.hash);
    }
    names
        .find(h, |n| *n.wire == *wire)
        .and_then(|n| n.label.as_deref())
}

/// The row form of a name: lowercase, no final dot.
fn row_name(name: &Name) -> String {
    normalize_name(&pres::name(name))
}

impl PostureRecorder {
    pub fn new(labels: CriticalLabels, max_names: usize) -> Self {
        Self {
            labels,
            rows: HashTable::new(),
            names: HashTable::new(),
            state: HashState::default(),
            scratch: Vec::new(),
            max_names,
            dropped: 0,
        }
    }

    /// One checked answer and its verdict.
    pub fn observe(&mut self, ev: &DnsEvent, query: Option<&QueryInfo>, lookup: &Arc<Lookup>) {
        let Some(q) = ev.message.queries.first() else {
            return;
        };
        let process = ev
            .process
            .as_ref()
            .or(query.and_then(|q| q.process.as_ref()));
        lower_wire(q.name(), &mut self.scratch);
        let wire = self.scratch.as_slice();
        let name_hash = self.state.hash_one(wire);
        let max_labels = self.max_names.saturating_mul(4).max(64);
        if !self.labels.is_empty()
            && label_of(
                &mut self.names,
                &self.labels,
                max_labels,
                (name_hash, wire),
                q.name(),
            )
            .is_none()
        {
            return;
        }
        let qtype = u16::from(q.query_type());
        let server = addr_key(ev.server);
        let pname = process.map(|p| p.name.as_str());
        let container = process.and_then(|p| p.container_id.as_deref());
        let hash = {
            let mut h = self.state.build_hasher();
            h.write_u64(name_hash);
            h.write_u16(qtype);
            server.hash(&mut h);
            pname.hash(&mut h);
            container.hash(&mut h);
            h.finish()
        };
        let full = self.rows.len() >= self.max_names;
        let same = |r: &Row| {
            r.hash == hash
                && *r.wire == *wire
                && r.obs.qtype == qtype
                && r.server == server
                && r.obs.process.as_deref() == pname
                && r.obs.container_id.as_deref() == container
        };
        let row = match self.rows.entry(hash, same, |r| r.hash) {
            hashbrown::hash_table::Entry::Occupied(o) => o.into_mut(),
            hashbrown::hash_table::Entry::Vacant(_) if full => {
                self.dropped += 1;
                return;
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                let label = if self.labels.is_empty() {
                    None
                } else {
                    let key = (name_hash, wire);
                    label_of(&mut self.names, &self.labels, max_labels, key, q.name())
                        .map(str::to_owned)
                };
                v.insert(Row {
                    hash,
                    wire: wire.into(),
                    server,
                    facts_of: Weak::new(),
                    obs: NameObservation {
                        first: Some(ev.timestamp),
                        qname: row_name(q.name()),
                        qtype,
                        label,
                        resolver: Some(ev.server.to_string()),
                        process: pname.map(str::to_owned),
                        container_id: container.map(str::to_owned),
                        ..NameObservation::default()
                    },
                })
                .into_mut()
            }
        };
        let o = &mut row.obs;
        o.last = Some(ev.timestamp);
        if !std::ptr::eq(row.facts_of.as_ptr(), Arc::as_ptr(lookup)) {
            row.facts_of = Arc::downgrade(lookup);
            let (zone, algorithms, ds_key_tags, _) = chain_facts(lookup, ev.timestamp);
            o.zone = zone;
            o.outcome = lookup.verdict.outcome().to_owned();
            o.reason = lookup.verdict.reason_text();
            o.algorithms = algorithms;
            o.ds_key_tags = ds_key_tags;
        }
        // An insecure or undetermined name rests on no signature of its
        // own: the parents' expiry would only mislead. (Per answer: the
        // serial times unwrap near the answer's time.)
        o.sig_expiration = match lookup.verdict.outcome() {
            "secure" | "bogus" => earliest_expiry(lookup, ev.timestamp),
            _ => None,
        };
        o.answers += 1;
        o.ad_answers += u64::from(ev.message.metadata.authentic_data);
        o.pid = process.map(|p| p.pid);
    }

    /// The interval's observations (and start a new one).
    pub fn take(&mut self) -> Vec<NameObservation> {
        self.names.clear();
        let mut v: Vec<NameObservation> = self.rows.drain().map(|r| r.obs).collect();
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
