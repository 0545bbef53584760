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
//! Bounded: at most `max_entries` queries (when full, an answered entry
//! still in its race window is evicted first, else the oldest unanswered
//! query; counted) and `max_sockets` sockets tracked for bursts. Time is
//! the capture timestamp of the events, so a pcap replay behaves like live
//! capture.
//!
//! Cost: this runs for every DNS message, so the steady state allocates
//! nothing but the query's shared copy ([`QueryInfo::raw`]) and, for a
//! first answer that is not plain addresses, a copy of its records. Entries live
//! in a slab indexed by a compact `Copy` key; each sits on one of two
//! intrusive lists kept in deadline order (waiting for an answer, or in
//! the race window), so expiry only looks at what is due.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hashbrown::HashTable;

use super::digest_memo::DigestMemo;
use super::fingerprint::{Fingerprints, FirstAnswer};
use crate::decode::Transport;
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

/// What the rules need to know about the query an answer answers. Cheap
/// to clone (it is cloned into every join result): the process and the
/// raw query are shared.
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
    pub process: Option<Arc<ProcessInfo>>,
    /// The query as captured, for the forensic store (shared: the info is
    /// cloned into every join result).
    pub raw: crate::decode::Wire,
    /// A query to a DNS server on this host from another machine
    /// ([`DnsEvent::served_here`]).
    pub served: bool,
}

impl QueryInfo {
    pub fn of(ev: &DnsEvent) -> QueryInfo {
        let process = ev.process.clone();
        let m = &ev.message.metadata;
        QueryInfo {
            id: ev.txid,
            sent: ev.timestamp,
            rd: m.recursion_desired,
            dnssec_ok: ev
                .message
                .edns
                .as_ref()
                .is_some_and(|e| e.flags().dnssec_ok),
            ad: m.authentic_data,
            cd: m.checking_disabled,
            process,
            raw: ev.raw.clone(),
            served: ev.served_here(),
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
    /// Unanswered queries evicted because the table was full (their
    /// answers will look unsolicited): a loss, reported by `capture_loss`.
    pub evicted_full: u64,
    /// Answered entries evicted before their race window closed because
    /// the table was full: a later second answer to one of them is not
    /// compared with the first. Not a loss of any answer's check; counted
    /// so a race window shortened by load is visible in the metrics.
    pub evicted_answered: u64,
    /// Burst tracking skipped because too many sockets were tracked.
    pub sockets_dropped: u64,
    /// Unmatched answers in the first `warmup` after capture started.
    pub warmup: u64,
    pub entries: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Socket {
    transport: Transport,
    client: SocketAddr,
    server: SocketAddr,
}

/// Feeds `a` to `h` in one or two words (the derived `Hash` of a
/// `SocketAddr` makes a call per field, which showed in profiles).
fn write_addr(h: &mut impl Hasher, a: &SocketAddr) {
    match a {
        SocketAddr::V4(v4) => {
            h.write_u64(u64::from(v4.ip().to_bits()) << 16 | u64::from(v4.port()))
        }
        SocketAddr::V6(v6) => {
            // Everything `SocketAddrV6`'s equality compares.
            h.write_u128(v6.ip().to_bits());
            h.write_u64(u64::from(v6.scope_id()) << 32 | u64::from(v6.flowinfo()));
            h.write_u16(v6.port());
        }
    }
}

impl Socket {
    /// Hashed once per message; the key's hash is derived from it.
    fn hash(&self, state: &foldhash::fast::RandomState) -> u64 {
        let mut h = state.build_hasher();
        h.write_u8(self.transport as u8);
        write_addr(&mut h, &self.client);
        write_addr(&mut h, &self.server);
        h.finish()
    }
}

/// A socket with live entries: its id is what the entries' keys hold, and
/// `n` (live entries) answers the wrong-txid test. `n == 0`: a free id.
struct SocketSlot {
    socket: Socket,
    hash: u64,
    n: u32,
}

/// The match key, `Copy`, 16 bytes and built without allocating. The
/// socket is its id in the socket table (one id per socket while it has
/// live entries, so comparing ids is comparing sockets). The question is
/// kept as a keyed 64-bit hash ([`Fingerprints::question`]): a collision
/// could only merge two different questions sent from the same socket
/// under the same txid while both are outstanding (about 2^-64 per such
/// pair, and an attacker cannot aim for it without the table's key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    question: u64,
    socket: u32,
    id: u16,
}

/// The answers seen for an answered query.
struct Answers {
    /// Digest of the first answer, when it came (see [`nanos`]) and what
    /// it said.
    first: u64,
    at: u64,
    shown: FirstAnswer,
    /// Digests of the other distinct answers (allocated only on a race),
    /// at most [`MAX_DISTINCT`] - 1; boxed to keep every slot small.
    #[expect(
        clippy::box_collection,
        reason = "8 bytes in every slot instead of 24; the second allocation happens only on a race"
    )]
    others: Option<Box<Vec<u64>>>,
}

impl Answers {
    fn others(&self) -> &[u64] {
        self.others.as_deref().map_or(&[], Vec::as_slice)
    }
}

struct Entry {
    query: QueryInfo,
    /// None until the first answer.
    answers: Option<Answers>,
    race_reported: bool,
}

const MAX_DISTINCT: usize = 8;

/// No slot (end of a list).
const NIL: u32 = u32::MAX;

/// The two deadline lists: unanswered queries (`timeout`) and answered
/// ones in their race window (`race_window`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Waiting = 0,
    Answered = 1,
}

/// A slab slot: an entry, its key and its place in its deadline list.
/// Kept small (the table holds ~65k of them at 50k q/s, so each message
/// touches cold ones): the sockets live in the socket table, times are
/// [`nanos`].
struct Slot {
    key: Key,
    /// Hash of the key in `index`.
    hash: u64,
    expires: u64,
    phase: Phase,
    prev: u32,
    next: u32,
    /// None: free.
    entry: Option<Entry>,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// How far back from a list's tail a slot is moved to keep deadline
/// order. Capture times arrive nearly in order (per-CPU rings); a replay
/// of a badly shuffled pcap stays O(1) per message, and an entry put too
/// late in its list is still caught when an answer looks it up.
const MAX_REORDER: usize = 64;

/// A query that expired without any answer (resolver health).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiredQuery {
    pub transport: Transport,
    pub server: SocketAddr,
    pub client: SocketAddr,
    pub query: QueryInfo,
    /// When its time ran out.
    pub expired: SystemTime,
}

/// See the module comment.
pub struct OutstandingTable {
    cfg: OutstandingConfig,
    /// `cfg.timeout` and `cfg.race_window` in nanoseconds.
    timeout: u64,
    race_window: u64,
    fingerprints: Fingerprints,
    digests: DigestMemo,
    hasher: foldhash::fast::RandomState,
    /// Key → slot.
    index: HashTable<u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    lists: [List; 2],
    live: usize,
    /// Sockets with live entries (their ids are in the keys), and Socket → id.
    sockets: Vec<SocketSlot>,
    free_sockets: Vec<u32>,
    socket_index: HashTable<u32>,
    /// Wrong-txid answer times per client socket, and whether reported.
    bursts: HashMap<(Transport, SocketAddr), (VecDeque<SystemTime>, bool)>,
    /// No burst time leaves its window before this (None: no bursts).
    bursts_due: Option<SystemTime>,
    /// Time of the first event seen.
    started: Option<SystemTime>,
    stats: OutstandingStats,
    /// Unanswered expired queries, kept for [`OutstandingTable::take_expired`]
    /// when enabled (bounded by `max_entries`).
    expired_log: Option<Vec<ExpiredQuery>>,
}

/// A message's socket, question and txid with their hashes, computed once
/// per message; the key proper needs the socket's id ([`Probe::key`]).
struct Probe {
    socket: Socket,
    socket_hash: u64,
    id: u16,
    question: u64,
    /// Hash of the key in `index`.
    hash: u64,
}

impl Probe {
    fn key(&self, socket: u32) -> Key {
        Key {
            question: self.question,
            socket,
            id: self.id,
        }
    }
}

fn after(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d).unwrap_or(t)
}

/// A capture time as nanoseconds since the Unix epoch, the table's clock
/// for deadlines: a `u64` compares and adds in one instruction and halves
/// a slot's times (good until 2554; earlier than 1970 reads as 0).
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn time_of(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n)
}

fn socket_of(ev: &DnsEvent) -> Socket {
    Socket {
        transport: ev.transport,
        client: ev.client,
        server: ev.server,
    }
}

impl OutstandingTable {
    pub fn new(cfg: OutstandingConfig) -> Self {
        Self {
            timeout: duration_nanos(cfg.timeout),
            race_window: duration_nanos(cfg.race_window),
            cfg,
            fingerprints: Fingerprints::default(),
            digests: DigestMemo::default(),
            hasher: foldhash::fast::RandomState::default(),
            index: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [List {
                head: NIL,
                tail: NIL,
            }; 2],
            live: 0,
            sockets: Vec::new(),
            free_sockets: Vec::new(),
            socket_index: HashTable::new(),
            bursts: HashMap::default(),
            bursts_due: None,
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

    /// When capture started (live: the daemon's start); without it, the
    /// first event's time is taken (replay).
    pub fn mark_started(&mut self, t: SystemTime) {
        self.started = Some(t);
    }

    pub fn stats(&self) -> OutstandingStats {
        OutstandingStats {
            entries: self.live as u64,
            ..self.stats
        }
    }

    fn key_of(&mut self, ev: &DnsEvent) -> Option<Probe> {
        let fp = &self.fingerprints;
        let question = self
            .digests
            .question(&ev.message, |m| m.queries.first().map(|q| fp.question(q)))?;
        let socket = socket_of(ev);
        let id = ev.txid;
        let socket_hash = socket.hash(&self.hasher);
        // Both hashes are keyed and well mixed, so a combination is enough
        // (no third hashing); the odd multiplier spreads the txid over the
        // high bits too (hashbrown's tag).
        let hash = question
            ^ socket_hash.rotate_left(29)
            ^ u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Some(Probe {
            socket,
            socket_hash,
            id,
            question,
            hash,
        })
    }

    /// The id of `socket` if it has live entries.
    fn socket_id(&self, socket: &Socket, hash: u64) -> Option<u32> {
        let sockets = &self.sockets;
        self.socket_index
            .find(hash, |&j| sockets[j as usize].socket == *socket)
            .copied()
    }

    /// A new id for `socket` (with no live entries yet).
    fn add_socket(&mut self, socket: Socket, hash: u64) -> u32 {
        let s = SocketSlot { socket, hash, n: 0 };
        let id = match self.free_sockets.pop() {
            Some(id) => {
                self.sockets[id as usize] = s;
                id
            }
            None => {
                self.sockets.push(s);
                u32::try_from(self.sockets.len() - 1).expect("fewer than 2^32 sockets")
            }
        };
        let sockets = &self.sockets;
        self.socket_index
            .insert_unique(hash, id, |&j| sockets[j as usize].hash);
        id
    }

    /// One live entry less on socket `id`; its last frees the id.
    fn release_socket(&mut self, id: u32) {
        let s = &mut self.sockets[id as usize];
        s.n -= 1;
        if s.n > 0 {
            return;
        }
        if let Ok(found) = self.socket_index.find_entry(s.hash, |&j| j == id) {
            found.remove();
        }
        self.free_sockets.push(id);
    }

    fn find(&self, at: &Probe, socket: u32) -> Option<u32> {
        let key = at.key(socket);
        let slots = &self.slots;
        self.index
            .find(at.hash, |&i| slots[i as usize].key == key)
            .copied()
    }

    /// Put slot `i` into `phase`'s list, in deadline order (searching at
    /// most [`MAX_REORDER`] slots back from the tail).
    fn link(&mut self, i: u32, phase: Phase) {
        let expires = self.slots[i as usize].expires;
        let list = self.lists[phase as usize];
        let mut before = list.tail;
        let mut steps = 0;
        while before != NIL && steps < MAX_REORDER && self.slots[before as usize].expires > expires
        {
            before = self.slots[before as usize].prev;
            steps += 1;
        }
        let next = match before {
            NIL => list.head,
            b => self.slots[b as usize].next,
        };
        let s = &mut self.slots[i as usize];
        s.phase = phase;
        s.prev = before;
        s.next = next;
        match before {
            NIL => self.lists[phase as usize].head = i,
            b => self.slots[b as usize].next = i,
        }
        match next {
            NIL => self.lists[phase as usize].tail = i,
            n => self.slots[n as usize].prev = i,
        }
    }

    fn unlink(&mut self, i: u32) {
        let s = &self.slots[i as usize];
        let (prev, next, phase) = (s.prev, s.next, s.phase);
        match prev {
            NIL => self.lists[phase as usize].head = next,
            p => self.slots[p as usize].next = next,
        }
        match next {
            NIL => self.lists[phase as usize].tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
    }

    /// Move slot `i` to the end of `phase` with a new deadline.
    fn relink(&mut self, i: u32, phase: Phase, expires: u64) {
        self.unlink(i);
        self.slots[i as usize].expires = expires;
        self.link(i, phase);
    }

    /// Index a new entry under `key`; the caller has counted it on its socket.
    fn insert(&mut self, key: Key, hash: u64, expires: u64, entry: Entry) {
        let i = match self.free.pop() {
            Some(i) => {
                // Field by field: the old entry was dropped when freed.
                let s = &mut self.slots[i as usize];
                s.key = key;
                s.hash = hash;
                s.expires = expires;
                s.entry = Some(entry);
                i
            }
            None => {
                self.slots.push(Slot {
                    key,
                    hash,
                    expires,
                    phase: Phase::Waiting,
                    prev: NIL,
                    next: NIL,
                    entry: Some(entry),
                });
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 entries")
            }
        };
        let slots = &self.slots;
        self.index
            .insert_unique(hash, i, |&j| slots[j as usize].hash);
        self.link(i, Phase::Waiting);
        self.live += 1;
    }

    /// Take slot `i` out of the index, its list and the socket counts;
    /// the caller takes or drops its entry.
    fn unindex(&mut self, i: u32) {
        self.unlink(i);
        let s = &self.slots[i as usize];
        let (hash, socket) = (s.hash, s.key.socket);
        if let Ok(found) = self.index.find_entry(hash, |&j| j == i) {
            found.remove();
        }
        self.release_socket(socket);
        self.free.push(i);
        self.live -= 1;
    }

    /// Remove slot `i` whose time ran out; an unanswered one is a timeout.
    fn expire_slot(&mut self, i: u32) {
        self.unindex(i);
        let s = &mut self.slots[i as usize];
        if s.entry.as_ref().is_some_and(|e| e.answers.is_some()) {
            s.entry = None;
            return;
        }
        let (socket, expired) = (s.key.socket, s.expires);
        let Some(e) = s.entry.take() else { return };
        self.stats.expired += 1;
        if let Some(log) = &mut self.expired_log
            && log.len() < self.cfg.max_entries
        {
            // A released socket id keeps its address until reused.
            let socket = &self.sockets[socket as usize].socket;
            log.push(ExpiredQuery {
                transport: socket.transport,
                server: socket.server,
                client: socket.client,
                query: e.query,
                expired: time_of(expired),
            });
        }
    }

    /// Forget entries whose time is up (as of `now`).
    pub fn expire(&mut self, now: SystemTime) {
        self.expire_at(now, nanos(now));
    }

    /// [`Self::expire`] with `now` also as [`nanos`].
    fn expire_at(&mut self, now: SystemTime, now_n: u64) {
        for phase in [Phase::Waiting, Phase::Answered] {
            loop {
                let head = self.lists[phase as usize].head;
                if head == NIL || self.slots[head as usize].expires > now_n {
                    break;
                }
                self.expire_slot(head);
            }
        }
        if self.bursts_due.is_some_and(|due| due <= now) {
            let window = self.cfg.burst_window;
            let mut due: Option<SystemTime> = None;
            self.bursts.retain(|_, (times, _)| {
                while times.front().is_some_and(|t| after(*t, window) <= now) {
                    times.pop_front();
                }
                if let Some(t) = times.front() {
                    let d = after(*t, window);
                    due = Some(due.map_or(d, |x| x.min(d)));
                }
                !times.is_empty()
            });
            self.bursts_due = due;
        }
    }

    /// Record a query (QR=0). A retransmission with the same key restarts
    /// its timer. True when this starts a new transaction (not a
    /// retransmission of one still unanswered).
    pub fn on_query(&mut self, ev: &DnsEvent) -> bool {
        debug_assert_eq!(ev.kind, DnsKind::Query);
        let Some(at) = self.key_of(ev) else {
            return false;
        };
        self.stats.queries += 1;
        let now = ev.timestamp;
        let now_n = nanos(now);
        self.started.get_or_insert(now);
        self.expire_at(now, now_n);
        let expires = now_n.saturating_add(self.timeout);
        let query = QueryInfo::of(ev);
        let socket = self.socket_id(&at.socket, at.socket_hash);
        if let Some(i) = socket.and_then(|s| self.find(&at, s)) {
            // Unanswered: a retransmission restarts the timer. Answered: a
            // new transaction that happens to reuse the key starts afresh.
            let e = self.slots[i as usize]
                .entry
                .as_mut()
                .expect("an indexed slot is live");
            let new = e.answers.is_some();
            *e = Entry {
                query,
                answers: None,
                race_reported: false,
            };
            self.relink(i, Phase::Waiting, expires);
            return new;
        }
        let socket = match socket {
            Some(s) => s,
            None => self.add_socket(at.socket, at.socket_hash),
        };
        // Counted before evicting, so an eviction cannot free the id.
        self.sockets[socket as usize].n += 1;
        while self.live >= self.cfg.max_entries {
            // Answered entries first: they only wait for a race, while an
            // evicted unanswered query makes its answer look unsolicited.
            // The victim's slot is the one `insert` takes next.
            let answered = self.lists[Phase::Answered as usize].head;
            let victim = match answered {
                NIL => self.lists[Phase::Waiting as usize].head,
                i => i,
            };
            if victim == NIL {
                break;
            }
            self.unindex(victim);
            self.slots[victim as usize].entry = None;
            if victim == answered {
                self.stats.evicted_answered += 1;
            } else {
                self.stats.evicted_full += 1;
            }
        }
        self.insert(
            at.key(socket),
            at.hash,
            expires,
            Entry {
                query,
                answers: None,
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
        let now_n = nanos(now);
        let started = *self.started.get_or_insert(now);
        self.expire_at(now, now_n);
        let at = self.key_of(ev);
        let (socket, socket_hash) = match &at {
            Some(at) => (at.socket, at.socket_hash),
            None => {
                let socket = socket_of(ev);
                (socket, socket.hash(&self.hasher))
            }
        };
        let socket_id = self.socket_id(&socket, socket_hash);
        let mut slot = at
            .as_ref()
            .zip(socket_id)
            .and_then(|(at, s)| self.find(at, s));
        if let Some(i) = slot
            && self.slots[i as usize].expires <= now_n
        {
            // Not yet swept by `expire` (out of deadline order): it timed out.
            self.expire_slot(i);
            slot = None;
        }
        let Some(i) = slot else {
            if now < after(started, self.cfg.warmup) {
                self.stats.warmup += 1;
                return Join::BeforeStart;
            }
            // `expire_slot` may have taken the socket's last entry.
            let socket_id = socket_id.filter(|&s| self.sockets[s as usize].n > 0);
            return self.unmatched(ev, now, socket_id);
        };
        let fp = &self.fingerprints;
        let d = self.digests.answer(&ev.message, |m| fp.answer(m));
        let entry = self.slots[i as usize]
            .entry
            .as_mut()
            .expect("an indexed slot is live");
        let query = entry.query.clone();
        let Some(answers) = &mut entry.answers else {
            entry.answers = Some(Answers {
                first: d,
                at: now_n,
                shown: FirstAnswer::of(&ev.message),
                others: None,
            });
            self.relink(i, Phase::Answered, now_n.saturating_add(self.race_window));
            self.stats.joined += 1;
            return Join::Answered { query };
        };
        if answers.first == d || answers.others().contains(&d) {
            return Join::Repeated { query };
        }
        if answers.others().len() + 1 < MAX_DISTINCT {
            answers.others.get_or_insert_default().push(d);
        }
        let distinct = answers.others().len() + 1;
        if entry.race_reported {
            return Join::Repeated { query };
        }
        entry.race_reported = true;
        self.stats.races += 1;
        Join::Race {
            query,
            distinct,
            // Rendered now: the only time anyone reads it.
            first: answers.shown.render(),
            since_first: Duration::from_nanos(now_n.saturating_sub(answers.at)),
        }
    }

    /// An answer that joins nothing; `socket` is its socket's id when the
    /// socket has live entries.
    fn unmatched(&mut self, ev: &DnsEvent, now: SystemTime, socket: Option<u32>) -> Join {
        let Some(socket) = socket else {
            self.stats.unsolicited += 1;
            return Join::Unsolicited;
        };
        // A query is out on this socket under another txid: a guess. It is
        // held in the socket's burst window (expired in `expire`); it never
        // becomes `Unsolicited`.
        self.stats.wrong_txid += 1;
        let bkey = (ev.transport, ev.client);
        if !self.bursts.contains_key(&bkey) && self.bursts.len() >= self.cfg.max_sockets {
            self.stats.sockets_dropped += 1;
            return Join::WrongTxid { answers: 1 };
        }
        let due = after(now, self.cfg.burst_window);
        self.bursts_due = Some(self.bursts_due.map_or(due, |d| d.min(due)));
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
        let window = now
            .duration_since(*times.front().unwrap_or(&now))
            .unwrap_or_default();
        self.stats.races += 1;
        // Rare (once per burst): a scan is fine. A free slot may still
        // hold this id from an earlier socket, but it has no entry.
        let query = self
            .slots
            .iter()
            .filter(|s| s.key.socket == socket)
            .find_map(|s| s.entry.as_ref())
            .map(|e| e.query.clone())
            .unwrap_or_else(|| QueryInfo::of(ev));
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
