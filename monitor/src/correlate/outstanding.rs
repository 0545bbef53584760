//! The table of outstanding queries: joins each answer to the query it
//! answers (and so to the process that asked), and keeps what the rules
//! `unsolicited_response` and `response_race` need (DESIGN.md "Detection").
//!
//! A query is keyed like RFC 5452 §9.1 says a resolver must match an
//! answer: transport, both socket addresses, transaction id and question
//! (name compared case-insensitively, RFC 4343, so 0x20-mixed case joins).
//! After its first answer an entry stays for `race_window`: a second
//! *different* answer in that time is a race (blind spoofing, RFC 5452 §4);
//! an identical one is a retransmission and ignored. An answer that joins
//! nothing is unsolicited only when its socket (transport, client, server)
//! has no query out at all. When the socket has a query out under another
//! txid the answer is a wrong-txid guess and belongs to `response_race`,
//! never to `unsolicited_response`: guesses are held per client socket for
//! `burst_window`; the one that makes `burst_threshold` of them within it
//! is reported once as a race, and guesses whose window closes below the
//! threshold stay quiet (counted in `wrong_txid`) — a stub's late answer to
//! its own retransmission under a fresh txid looks exactly like one guess.
//!
//! Bounded: at most `max_entries` queries (the oldest is evicted, counted)
//! and `max_sockets` sockets tracked for bursts. Time is the capture
//! timestamp of the events, so a pcap replay behaves like live capture.

use std::collections::VecDeque;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

use crate::decode::Transport;
use crate::decode::presentation as pres;
use crate::event::{DnsEvent, DnsKind, ProcessInfo};

/// foldhash instead of SipHash: these maps are hit several times per DNS
/// message (measured: SipHash was ~5% of the agent under load); a
/// per-process random seed keeps flooding attacks on bucket order out.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Bounds and windows of the table.
#[derive(Clone, Debug)]
pub struct OutstandingConfig {
    /// A query not answered within this is forgotten (stub resolvers give
    /// up after 5 s, RFC 1536 §1 style retries included).
    pub timeout: Duration,
    /// How long after its first answer a query still collects answers.
    pub race_window: Duration,
    pub max_entries: usize,
    /// Wrong-txid answers toward one socket within `burst_window` that make a burst.
    pub burst_threshold: usize,
    pub burst_window: Duration,
    pub max_sockets: usize,
    /// Unmatched answers this soon after the first event are not called
    /// unsolicited (their queries may predate the capture).
    pub warmup: Duration,
}

impl Default for OutstandingConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            race_window: Duration::from_secs(2),
            max_entries: 65_536,
            burst_threshold: 3,
            burst_window: Duration::from_secs(2),
            max_sockets: 4_096,
            warmup: Duration::from_secs(10),
        }
    }
}

/// What the rules need to know about the query an answer answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryInfo {
    pub id: u16,
    pub sent: SystemTime,
    /// Recursion desired (RFC 1035 §4.1.1): a stub's query to a resolver.
    pub rd: bool,
    /// EDNS DO (RFC 3225): the client asked for DNSSEC records.
    pub dnssec_ok: bool,
    /// AD in the query (RFC 6840 §5.7): the client wants the AD bit.
    pub ad: bool,
    /// Checking disabled (RFC 4035 §3.2.2).
    pub cd: bool,
    pub process: Option<std::sync::Arc<ProcessInfo>>,
    /// The query as captured, for the forensic store (shared: the info is
    /// cloned into every join result).
    pub raw: std::sync::Arc<[u8]>,
}

impl QueryInfo {
    pub fn of(ev: &DnsEvent) -> QueryInfo {
        let m = &ev.message.metadata;
        QueryInfo {
            id: m.id,
            sent: ev.timestamp,
            rd: m.recursion_desired,
            dnssec_ok: ev
                .message
                .edns
                .as_ref()
                .is_some_and(|e| e.flags().dnssec_ok),
            ad: m.authentic_data,
            cd: m.checking_disabled,
            process: ev.process.clone(),
            raw: ev.raw.clone(),
        }
    }
}

/// How an answer relates to the outstanding queries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Join {
    /// The first answer to a query.
    Answered { query: QueryInfo },
    /// The same answer again (a retransmission): nothing new.
    Repeated { query: QueryInfo },
    /// A different answer to an already answered query within the window.
    Race {
        query: QueryInfo,
        /// Distinct answers seen so far, this one included.
        distinct: usize,
        /// One line: the first answer's rcode and data.
        first: String,
        since_first: Duration,
    },
    /// No query is outstanding on the answer's socket at all.
    Unsolicited,
    /// The socket has a query out under another txid: a guess, held for
    /// the burst window; `answers` guesses toward this client socket so
    /// far, still below the burst threshold (not alerted).
    WrongTxid { answers: usize },
    /// A wrong-txid answer that completes a burst toward one socket.
    TxidBurst {
        query: QueryInfo,
        answers: usize,
        window: Duration,
    },
    /// Part of a burst already reported (counted, not alerted again).
    BurstContinues,
    /// No match, but capture started less than `warmup` ago: the query
    /// may have left before we looked (counted as `warmup`, not alerted).
    BeforeStart,
}

/// Counters for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutstandingStats {
    pub queries: u64,
    pub answers: u64,
    pub joined: u64,
    pub unsolicited: u64,
    pub races: u64,
    pub wrong_txid: u64,
    pub expired: u64,
    /// Evicted because the table was full (their answers will look unsolicited).
    pub evicted_full: u64,
    /// Burst tracking skipped because too many sockets were tracked.
    pub sockets_dropped: u64,
    /// Unmatched answers in the first `warmup` after capture started.
    pub warmup: u64,
    pub entries: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Socket {
    transport: Transport,
    client: SocketAddr,
    server: SocketAddr,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    socket: Socket,
    id: u16,
    qname: Name,
    qtype: RecordType,
}

struct Entry {
    query: QueryInfo,
    expires: SystemTime,
    /// (digest, one-line summary, first seen) of each distinct answer, at most [`MAX_DISTINCT`].
    answers: Vec<(u64, String, SystemTime)>,
    race_reported: bool,
}

const MAX_DISTINCT: usize = 8;

/// A query that expired without any answer (resolver health).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiredQuery {
    pub server: SocketAddr,
    pub client: SocketAddr,
    pub query: QueryInfo,
    /// When its time ran out.
    pub expired: SystemTime,
}

/// See the module comment.
pub struct OutstandingTable {
    cfg: OutstandingConfig,
    entries: HashMap<Key, Entry>,
    /// Insertion order, for expiry and eviction (lazy: stale keys are skipped).
    order: VecDeque<Key>,
    /// Live entries per socket (for the wrong-txid test).
    per_socket: HashMap<Socket, usize>,
    /// Wrong-txid answer times per client socket, and whether reported.
    bursts: HashMap<(Transport, SocketAddr), (VecDeque<SystemTime>, bool)>,
    /// Time of the first event seen.
    started: Option<SystemTime>,
    stats: OutstandingStats,
    /// Unanswered expired queries, kept for [`OutstandingTable::take_expired`]
    /// when enabled (bounded by `max_entries`).
    expired_log: Option<Vec<ExpiredQuery>>,
}

fn after(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d).unwrap_or(t)
}

fn key_of(ev: &DnsEvent) -> Option<Key> {
    let q = ev.message.queries.first()?;
    Some(Key {
        socket: Socket {
            transport: ev.transport,
            client: ev.client,
            server: ev.server,
        },
        id: ev.message.metadata.id,
        qname: q.name().to_lowercase(),
        qtype: q.query_type(),
    })
}

/// Order-independent digest of an answer's rcode and data (TTLs and RRSIGs
/// left out: a resolver answering a retransmission decrements TTLs).
fn digest(ev: &DnsEvent) -> (u64, String) {
    let mut items: Vec<String> = ev
        .message
        .answers
        .iter()
        .filter(|r| r.record_type() != RecordType::RRSIG)
        .map(|r| {
            format!(
                "{} {} {}",
                r.name.to_lowercase(),
                pres::rtype(r.record_type()),
                pres::rdata(&r.data)
            )
        })
        .collect();
    items.sort();
    let rcode: ResponseCode = ev.message.metadata.response_code;
    let mut h = DefaultHasher::new();
    pres::rcode(rcode).hash(&mut h);
    items.hash(&mut h);
    let data: Vec<&str> = items
        .iter()
        .map(|s| s.rsplit_once(' ').map_or(s.as_str(), |(_, d)| d))
        .collect();
    let summary = if data.is_empty() {
        pres::rcode(rcode).to_string()
    } else {
        format!("{} {}", pres::rcode(rcode), data.join(","))
    };
    (h.finish(), summary)
}

impl OutstandingTable {
    pub fn new(cfg: OutstandingConfig) -> Self {
        Self {
            cfg,
            entries: HashMap::default(),
            order: VecDeque::new(),
            per_socket: HashMap::default(),
            bursts: HashMap::default(),
            started: None,
            stats: OutstandingStats::default(),
            expired_log: None,
        }
    }

    /// Keep the queries that expire unanswered for [`Self::take_expired`].
    pub fn log_expired(&mut self) {
        self.expired_log.get_or_insert_with(Vec::new);
    }

    /// The unanswered queries expired since the last call.
    pub fn take_expired(&mut self) -> Vec<ExpiredQuery> {
        self.expired_log
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn note_expired(&mut self, key: &Key, e: &Entry) {
        if let Some(log) = &mut self.expired_log
            && log.len() < self.cfg.max_entries
        {
            log.push(ExpiredQuery {
                server: key.socket.server,
                client: key.socket.client,
                query: e.query.clone(),
                expired: e.expires,
            });
        }
    }

    /// When capture started (live: the daemon's start); without it, the
    /// first event's time is taken (replay).
    pub fn mark_started(&mut self, t: SystemTime) {
        self.started = Some(t);
    }

    pub fn stats(&self) -> OutstandingStats {
        OutstandingStats {
            entries: self.entries.len() as u64,
            ..self.stats
        }
    }

    fn remove(&mut self, key: &Key) -> Option<Entry> {
        let e = self.entries.remove(key)?;
        if let Some(n) = self.per_socket.get_mut(&key.socket) {
            *n -= 1;
            if *n == 0 {
                self.per_socket.remove(&key.socket);
            }
        }
        Some(e)
    }

    /// Forget entries whose time is up (as of `now`).
    pub fn expire(&mut self, now: SystemTime) {
        while let Some(k) = self.order.front() {
            match self.entries.get(k) {
                None => {
                    self.order.pop_front();
                }
                Some(e) if e.expires <= now => {
                    let k = self.order.pop_front().expect("front exists");
                    if let Some(e) = self.remove(&k).filter(|e| e.answers.is_empty()) {
                        self.stats.expired += 1;
                        self.note_expired(&k, &e);
                    }
                }
                // Insertion order is nearly deadline order; a later entry
                // due earlier is caught by the check in `on_answer`.
                Some(_) => break,
            }
        }
        let window = self.cfg.burst_window;
        self.bursts.retain(|_, (times, _)| {
            while times.front().is_some_and(|t| after(*t, window) <= now) {
                times.pop_front();
            }
            !times.is_empty()
        });
    }

    /// Record a query (QR=0). A retransmission with the same key restarts
    /// its timer. True when this starts a new transaction (not a
    /// retransmission of one still unanswered).
    pub fn on_query(&mut self, ev: &DnsEvent) -> bool {
        debug_assert_eq!(ev.kind, DnsKind::Query);
        let Some(key) = key_of(ev) else { return false };
        self.stats.queries += 1;
        let now = ev.timestamp;
        self.started.get_or_insert(now);
        self.expire(now);
        let expires = after(now, self.cfg.timeout);
        if let Some(e) = self.entries.get_mut(&key) {
            // Unanswered: a retransmission restarts the timer. Answered: a
            // new transaction that happens to reuse the key starts afresh.
            let new = !e.answers.is_empty();
            e.query = QueryInfo::of(ev);
            e.expires = expires;
            e.answers.clear();
            e.race_reported = false;
            return new;
        }
        while self.entries.len() >= self.cfg.max_entries {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if self.remove(&old).is_some() {
                self.stats.evicted_full += 1;
            }
        }
        *self.per_socket.entry(key.socket.clone()).or_insert(0) += 1;
        self.order.push_back(key.clone());
        self.entries.insert(
            key,
            Entry {
                query: QueryInfo::of(ev),
                expires,
                answers: Vec::new(),
                race_reported: false,
            },
        );
        true
    }

    /// Join an answer (QR=1) to its query.
    pub fn on_answer(&mut self, ev: &DnsEvent) -> Join {
        debug_assert_eq!(ev.kind, DnsKind::Answer);
        self.stats.answers += 1;
        let now = ev.timestamp;
        let started = *self.started.get_or_insert(now);
        self.expire(now);
        let key = key_of(ev);
        if let Some(k) = &key
            && self.entries.get(k).is_some_and(|e| e.expires <= now)
            && let Some(e) = self.remove(k).filter(|e| e.answers.is_empty())
        {
            // Not yet swept by `expire` (out of insertion order): it timed out.
            self.stats.expired += 1;
            self.note_expired(k, &e);
        }
        let Some(entry) = key.as_ref().and_then(|k| self.entries.get_mut(k)) else {
            if now < after(started, self.cfg.warmup) {
                self.stats.warmup += 1;
                return Join::BeforeStart;
            }
            return self.unmatched(ev, now);
        };
        let (d, summary) = digest(ev);
        let query = entry.query.clone();
        if entry.answers.is_empty() {
            entry.answers.push((d, summary, now));
            entry.expires = after(now, self.cfg.race_window);
            self.stats.joined += 1;
            return Join::Answered { query };
        }
        if entry.answers.iter().any(|(x, _, _)| *x == d) {
            return Join::Repeated { query };
        }
        if entry.answers.len() < MAX_DISTINCT {
            entry.answers.push((d, summary, now));
        }
        let (_, first, at) = entry.answers[0].clone();
        let distinct = entry.answers.len();
        if entry.race_reported {
            return Join::Repeated { query };
        }
        entry.race_reported = true;
        self.stats.races += 1;
        Join::Race {
            query,
            distinct,
            first,
            since_first: now.duration_since(at).unwrap_or_default(),
        }
    }

    fn unmatched(&mut self, ev: &DnsEvent, now: SystemTime) -> Join {
        let socket = Socket {
            transport: ev.transport,
            client: ev.client,
            server: ev.server,
        };
        if !self.per_socket.contains_key(&socket) {
            self.stats.unsolicited += 1;
            return Join::Unsolicited;
        }
        // A query is out on this socket under another txid: a guess. It is
        // held in the socket's burst window (expired in `expire`); it never
        // becomes `Unsolicited`.
        self.stats.wrong_txid += 1;
        let bkey = (ev.transport, ev.client);
        if !self.bursts.contains_key(&bkey) && self.bursts.len() >= self.cfg.max_sockets {
            self.stats.sockets_dropped += 1;
            return Join::WrongTxid { answers: 1 };
        }
        let (times, reported) = self.bursts.entry(bkey).or_default();
        times.push_back(now);
        if times.len() > self.cfg.burst_threshold * 4 {
            times.pop_front();
        }
        let n = times.len();
        if *reported {
            return Join::BurstContinues;
        }
        if n < self.cfg.burst_threshold {
            return Join::WrongTxid { answers: n };
        }
        *reported = true;
        self.stats.races += 1;
        let query = self
            .entries
            .iter()
            .find(|(k, _)| k.socket == socket)
            .map(|(_, e)| e.query.clone())
            .unwrap_or_else(|| QueryInfo::of(ev));
        let window = now
            .duration_since(*times.front().unwrap_or(&now))
            .unwrap_or_default();
        Join::TxidBurst {
            query,
            answers: n,
            window,
        }
    }
}

#[cfg(test)]
#[path = "outstanding_tests.rs"]
mod tests;
