//! User space of the kernel fast path for repeated exchanges on `lo`
//! (`monitor_common::fast`, monitor-ebpf/src/fast.rs,
//! docs/design-kernel-fast-path.md):
//!
//! - [`Publisher`]: the detector reports each exchange it judged clean
//!   (detect/clean.rs); the publisher turns it into a `FAST_VALIDATED`
//!   entry and a writer task puts it into the kernel map, off the
//!   detector's path. From then on the tc program on `lo` holds back
//!   queries with the same bytes and counts, not copies, answers equal to
//!   the validated one.
//! - [`Scanner`]: once a second, held-back queries left without an answer
//!   for [`HOLD_LIMIT`] are taken out of `FAST_PENDING` (held_slots.rs)
//!   and handed to the
//!   ring reader as the queries they were (so timeouts and
//!   `resolver_failure` work as without the fast path), and the per-server
//!   counts of answers the kernel absorbed go into resolver health.
//! - [`synthesize_query`]: a held-back query (a `PKT_F_DEFERRED_QUERY`
//!   record, or one the scanner took) back into packet bytes.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aya::maps::{MapData, PerCpuHashMap};
use monitor_common::fast::{
    ANSWER_MAX, FastAnswer, FastKey, HeldSlot, PendingQuery, QUERY_MAX, ServerCounts, ServerKey,
    ValidatedKey,
};

use super::held_slots::HeldSlots;
use super::validated_table::{Published, ValidatedTable};
use monitor_common::{FAMILY_V4, FAMILY_V6};
use tokio::sync::mpsc;

use super::LOOPBACK_IFINDEX;
use crate::correlate::outstanding::QueryInfo;
use crate::correlate::process::put_kernel_addr;
use crate::decode::Transport;
use crate::detect::clean::CleanExchanges;
use crate::detect::detector::SharedHealth;
use crate::event::DnsEvent;

/// A validated answer is reused at most this long (and never past its
/// verdict's or its records' TTL): a changed policy (a new critical name,
/// an NTA) reaches repeats within this time.
pub const MAX_REUSE: Duration = Duration::from_secs(30);
/// A held-back query still unanswered after this long is sent up, so the
/// detector's own timeout (and `resolver_failure`) sees it.
pub const HOLD_LIMIT: Duration = Duration::from_secs(1);
/// How often the scanner runs.
pub const SCAN_EVERY: Duration = Duration::from_secs(1);
/// Entries on their way to the kernel map.
const QUEUE: usize = 4_096;

/// The fast path's kernel maps.
pub struct FastPathMaps {
    pub validated: ValidatedTable,
    pub pending: HeldSlots,
    pub servers: PerCpuHashMap<MapData, ServerKey, ServerCounts>,
}

/// What the fast path's user space did (metrics, exit report).
#[derive(Debug, Default)]
pub struct FastPathStats {
    /// Validated exchanges written to the kernel map.
    pub published: AtomicU64,
    /// Validated exchanges the kernel map already held byte for byte:
    /// only their expiry moved.
    pub extended: AtomicU64,
    /// Not written: the writer's queue was full.
    pub publish_dropped: AtomicU64,
    /// Held-back queries sent up by the scanner (no answer in time).
    pub expired: AtomicU64,
    /// Of those, not taken by the ring reader (its queue was full).
    pub expired_dropped: AtomicU64,
}

impl FastPathStats {
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("fast_published", self.published.load(Ordering::Relaxed)),
            (
                "fast_publish_dropped",
                self.publish_dropped.load(Ordering::Relaxed),
            ),
            ("fast_extended", self.extended.load(Ordering::Relaxed)),
            ("fast_expired", self.expired.load(Ordering::Relaxed)),
            (
                "fast_expired_dropped",
                self.expired_dropped.load(Ordering::Relaxed),
            ),
        ]
    }
}

/// CLOCK_MONOTONIC in ns: the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    super::ringbuf::clock_ns(libc::CLOCK_MONOTONIC) as u64
}

/// A server's address as the kernel keys it.
pub fn server_key(addr: SocketAddr) -> ServerKey {
    let mut k = ServerKey {
        port: addr.port(),
        ..ServerKey::default()
    };
    k.family = put_kernel_addr(&mut k.addr, addr.ip());
    k
}

fn ip_of(family: u8, b: &[u8; 16]) -> IpAddr {
    if family == FAMILY_V4 {
        IpAddr::from([b[0], b[1], b[2], b[3]])
    } else {
        IpAddr::from(*b)
    }
}

/// The `FAST_VALIDATED` entry for a clean exchange, if the fast path can
/// take it: UDP on `lo`, both messages short enough, a lifetime > 0.
pub fn validated_entry(
    answer: &DnsEvent,
    query: &QueryInfo,
    verdict_ttl: u32,
    now_ns: u64,
) -> Option<(ValidatedKey, Box<FastAnswer>)> {
    if answer.transport != Transport::Udp
        || answer
            .interface
            .as_ref()
            .is_none_or(|i| i.index != LOOPBACK_IFINDEX)
    {
        return None;
    }
    let q = query.raw.bytes();
    let a = answer.raw.bytes();
    if q.len() < 12 || q.len() - 2 > QUERY_MAX || a.len() < 12 || a.len() - 2 > ANSWER_MAX {
        return None;
    }
    let m = &answer.message;
    let records_ttl = m
        .answers
        .iter()
        .chain(&m.authorities)
        .chain(&m.additionals)
        .map(|r| r.ttl)
        .min()
        .unwrap_or(u32::MAX);
    let secs = u64::from(verdict_ttl.min(records_ttl)).min(MAX_REUSE.as_secs());
    if secs == 0 {
        return None;
    }
    let mut key = FastKey {
        server: server_key(answer.server),
        len: (q.len() - 2) as u16,
        _pad: 0,
        query: [0; QUERY_MAX],
    };
    key.query[..q.len() - 2].copy_from_slice(&q[2..]);
    let mut value = Box::new(FastAnswer {
        expires_ns: now_ns + secs * 1_000_000_000,
        len: (a.len() - 2) as u32,
        _pad: 0,
        query: key.query,
        answer: [0; ANSWER_MAX],
    });
    value.answer[..a.len() - 2].copy_from_slice(&a[2..]);
    Some((key.validated_key(), value))
}

/// The detector's [`CleanExchanges`]: queues entries for the writer task.
#[derive(Debug)]
pub struct Publisher {
    tx: mpsc::Sender<(ValidatedKey, Box<FastAnswer>)>,
    stats: Arc<FastPathStats>,
}

impl CleanExchanges for Publisher {
    fn clean(&self, answer: &DnsEvent, query: &QueryInfo, verdict_ttl: u32) {
        let Some(entry) = validated_entry(answer, query, verdict_ttl, monotonic_ns()) else {
            return;
        };
        if self.tx.try_send(entry).is_err() {
            self.stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Starts the writer task; returns the publisher for the detector.
pub fn start_publisher(
    maps: Arc<Mutex<FastPathMaps>>,
    stats: Arc<FastPathStats>,
) -> (Arc<Publisher>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<(ValidatedKey, Box<FastAnswer>)>(QUEUE);
    let writer_stats = stats.clone();
    let task = tokio::spawn(async move {
        while let Some((key, value)) = rx.recv().await {
            let done = match maps.lock() {
                Ok(mut m) => m.validated.publish(&key, &value),
                Err(_) => return,
            };
            let counter = match done {
                Published::Written(_) => &writer_stats.published,
                Published::Extended(_) => &writer_stats.extended,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    (Arc::new(Publisher { tx, stats }), task)
}

/// Takes unanswered held-back queries out of `FAST_PENDING` and feeds the
/// kernel's per-server counts into resolver health.
pub struct Scanner {
    maps: Arc<Mutex<FastPathMaps>>,
    stats: Arc<FastPathStats>,
    /// Per server, the counts already fed into health.
    seen: std::collections::HashMap<ServerKey, ServerCounts>,
    /// Per server, the last mean latency of its timed repeats.
    means: std::collections::HashMap<ServerKey, Duration>,
}

impl Scanner {
    pub fn new(maps: Arc<Mutex<FastPathMaps>>, stats: Arc<FastPathStats>) -> Scanner {
        Scanner {
            maps,
            stats,
            seen: Default::default(),
            means: Default::default(),
        }
    }

    /// Held-back queries older than `HOLD_LIMIT` at `now_ns`, taken from
    /// the kernel (one the kernel answered meanwhile is not returned).
    pub fn take_expired(&self, now_ns: u64) -> Vec<PendingQuery> {
        let Ok(m) = self.maps.lock() else {
            return Vec::new();
        };
        let out: Vec<PendingQuery> = m
            .pending
            .take_expired(now_ns, HOLD_LIMIT.as_nanos() as u64)
            .into_iter()
            .map(|(token, slot)| held_query(token, &slot))
            .collect();
        self.stats
            .expired
            .fetch_add(out.len() as u64, Ordering::Relaxed);
        out
    }

    /// New per-server counts since the last call, into `health`.
    pub fn feed_health(&mut self, health: &SharedHealth, now: SystemTime) {
        let rows: Vec<(ServerKey, ServerCounts)> = match self.maps.lock() {
            Ok(m) => m
                .servers
                .iter()
                .filter_map(Result::ok)
                .map(|(k, per_cpu)| {
                    let mut sum = ServerCounts::default();
                    for c in per_cpu.iter() {
                        sum.answers += c.answers;
                        sum.latency_ns += c.latency_ns;
                        sum.timed += c.timed;
                    }
                    (k, sum)
                })
                .collect(),
            Err(_) => return,
        };
        let Ok(mut h) = health.lock() else { return };
        for (k, sum) in rows {
            let before = self.seen.insert(k, sum).unwrap_or_default();
            // A server the LRU map evicted and re-added starts from zero.
            let d = if sum.answers >= before.answers {
                ServerCounts {
                    answers: sum.answers - before.answers,
                    latency_ns: sum.latency_ns.saturating_sub(before.latency_ns),
                    timed: sum.timed.saturating_sub(before.timed),
                }
            } else {
                sum
            };
            let Some(mean) = repeats_mean(&d, self.means.get(&k).copied()) else {
                continue;
            };
            self.means.insert(k, mean);
            let n = d.answers;
            let server = SocketAddr::new(ip_of(k.family, &k.addr), k.port);
            h.on_repeats(server, now, n.min(u64::from(u32::MAX)) as u32, mean);
        }
    }
}

/// The mean latency of a server's repeats in one scan interval (`d`:
/// counts since the last scan): of the timed ones (the kernel times one
/// in `TIMED_EVERY`), else the last mean known (`last`), else none yet.
/// `None` also when nothing was absorbed.
pub fn repeats_mean(d: &ServerCounts, last: Option<Duration>) -> Option<Duration> {
    if d.answers == 0 {
        return None;
    }
    match d.latency_ns.checked_div(d.timed) {
        Some(mean) => Some(Duration::from_nanos(mean)),
        None => Some(last.unwrap_or(Duration::ZERO)),
    }
}

/// A held slot the scanner took (`token`: its state, the query's time) as
/// the query it holds (the same record the kernel sends for a deferred
/// query).
pub fn held_query(token: u64, slot: &HeldSlot) -> PendingQuery {
    PendingQuery {
        ktime_ns: token,
        socket_cookie: slot.socket_cookie,
        ifindex: LOOPBACK_IFINDEX,
        flags: u32::from(slot.flags),
        exchange: slot.exchange,
        key: FastKey {
            server: slot.exchange.server,
            len: slot.len,
            _pad: 0,
            query: slot.query_bytes(),
        },
    }
}

/// A held-back query as the packet it was: an Ethernet frame with zero
/// addresses (as `lo` has), an IP header and a UDP header around the
/// message (its id from the exchange, the rest from the key). The UDP
/// checksum is zero: nothing downstream checks it.
pub fn synthesize_query(pq: &PendingQuery, out: &mut Vec<u8>) -> Option<()> {
    let len = usize::from(pq.key.len);
    if len > QUERY_MAX {
        return None;
    }
    let ex = &pq.exchange;
    let dns_len = 2 + len;
    let udp_len = 8 + dns_len;
    out.clear();
    out.extend_from_slice(&[0u8; 12]);
    if ex.server.family == FAMILY_V4 {
        out.extend_from_slice(&0x0800u16.to_be_bytes());
        let total = 20 + udp_len;
        out.extend_from_slice(&[0x45, 0]);
        out.extend_from_slice(&(total as u16).to_be_bytes());
        // id 0, DF, TTL 64, UDP, checksum 0.
        out.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
        out.extend_from_slice(&ex.client_addr[..4]);
        out.extend_from_slice(&ex.server.addr[..4]);
        // RFC 791 header checksum (the decoder checks it): over the header
        // with a zero checksum field, the sum is the checksum.
        let sum = crate::decode::ip::header_checksum(&out[14..34]);
        out[24..26].copy_from_slice(&sum.to_be_bytes());
    } else if ex.server.family == FAMILY_V6 {
        out.extend_from_slice(&0x86DDu16.to_be_bytes());
        out.extend_from_slice(&[0x60, 0, 0, 0]);
        out.extend_from_slice(&(udp_len as u16).to_be_bytes());
        out.extend_from_slice(&[17, 64]);
        out.extend_from_slice(&ex.client_addr);
        out.extend_from_slice(&ex.server.addr);
    } else {
        return None;
    }
    out.extend_from_slice(&ex.client_port.to_be_bytes());
    out.extend_from_slice(&ex.server.port.to_be_bytes());
    out.extend_from_slice(&(udp_len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&ex.txid.to_be_bytes());
    out.extend_from_slice(&pq.key.query[..len]);
    Some(())
}

/// Reads a [`PendingQuery`] out of a record body.
pub fn pending_of(body: &[u8]) -> Option<PendingQuery> {
    if body.len() < std::mem::size_of::<PendingQuery>() {
        return None;
    }
    // SAFETY: PendingQuery is repr(C) plain data (no padding, every bit
    // pattern valid) and body holds enough bytes.
    Some(unsafe { std::ptr::read_unaligned(body.as_ptr().cast()) })
}
