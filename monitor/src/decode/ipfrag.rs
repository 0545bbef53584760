//! IP defragmentation for IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5),
//! with hard memory bounds so a fragment flood costs a fixed amount.
//!
//! Policy, following Linux (`net/ipv4/inet_fragment.c`,
//! `inet_frag_queue_insert`):
//! * a fragment that overlaps another drops the whole datagram — required
//!   for IPv6 by RFC 5722 §4 and done for IPv4 too, since overlaps exist only
//!   to smuggle data past inspection (the host and we could otherwise
//!   reassemble different bytes);
//! * an exact duplicate (same offset, same bytes) is dropped alone, as Linux
//!   does (`IPFRAG_DUP`): the same packet seen twice is not an attack;
//! * the reassembled payload may not exceed 65,535 bytes;
//! * at most `frag_max_datagrams` datagrams, `frag_max_bytes` bytes and
//!   `frag_max_per_datagram` fragments each are held; when full the oldest
//!   datagram is evicted, so a flood cannot pin out new, legitimate traffic.
//!
//! Fragment drops are counted per fragment (see `counters.rs`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::SystemTime;

use super::counters::DecodeCounters;
use super::limits::DecodeLimits;

/// Largest reassembled payload (IPv4 total length / IPv6 payload length).
const MAX_DATAGRAM: usize = 65_535;

/// RFC 791: (source, destination, protocol, identification); RFC 8200:
/// (source, destination, fragment identification). The protocol is kept for
/// IPv6 too: it never differs between fragments of one real datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub proto: u8,
}

struct Pending {
    /// Insertion generation, to recognise stale entries in the age queue.
    generation: u64,
    first_seen: SystemTime,
    /// (offset, data), sorted by offset, never overlapping.
    parts: Vec<(usize, Vec<u8>)>,
    /// Payload length, known once the last fragment (MF=0) arrived.
    total: Option<usize>,
    bytes: usize,
}

/// Why the defragmenter took or refused a fragment (already counted).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FragResult {
    /// Held, waiting for more fragments.
    Held,
    /// This fragment completed the datagram: its whole payload.
    Complete(Vec<u8>),
    /// Dropped (overlap, duplicate, limit); counters say why.
    Dropped,
}

pub(crate) struct Defragmenter {
    pending: HashMap<FragKey, Pending>,
    /// Datagrams by age (oldest first) for eviction and expiry; may hold
    /// stale entries whose generation no longer matches, skipped on pop.
    age: VecDeque<(u64, FragKey)>,
    next_generation: u64,
    bytes: usize,
}

impl Defragmenter {
    pub(crate) fn new() -> Self {
        Self {
            pending: HashMap::new(),
            age: VecDeque::new(),
            next_generation: 0,
            bytes: 0,
        }
    }

    /// Fragments currently held (for the counters' ledger).
    pub(crate) fn fragments_held(&self) -> usize {
        self.pending.values().map(|p| p.parts.len()).sum()
    }

    pub(crate) fn bytes_held(&self) -> usize {
        self.bytes
    }

    pub(crate) fn datagrams_held(&self) -> usize {
        self.pending.len()
    }

    /// Take one fragment. `data` is its share of the payload, `offset` in
    /// bytes, `more` the MF/M flag. The caller has already rejected empty
    /// fragments and non-final ones whose length is not a multiple of 8.
    #[allow(
        clippy::too_many_arguments,
        reason = "one fragment's fields plus the shared state"
    )]
    pub(crate) fn insert(
        &mut self,
        key: FragKey,
        offset: usize,
        data: &[u8],
        more: bool,
        now: SystemTime,
        limits: &DecodeLimits,
        c: &mut DecodeCounters,
    ) -> FragResult {
        let end = offset + data.len();
        if end > MAX_DATAGRAM {
            // Ping-of-death shape: the datagram can never be valid.
            self.drop_datagram(&key, c, Reason::Limit);
            c.frag_limit += 1;
            return FragResult::Dropped;
        }
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= limits.frag_max_datagrams.max(1) {
                if !self.evict_oldest(c) {
                    break;
                }
            }
            let generation = self.next_generation;
            self.next_generation += 1;
            self.pending.insert(
                key,
                Pending {
                    generation,
                    first_seen: now,
                    parts: Vec::new(),
                    total: None,
                    bytes: 0,
                },
            );
            self.age.push_back((generation, key));
            self.compact_age();
        }
        let p = self.pending.get_mut(&key).expect("inserted above");

        // The final fragment fixes the length; anything contradicting it
        // is as hostile as an overlap.
        let conflict = if more {
            p.total.is_some_and(|t| end > t)
        } else {
            p.total.is_some_and(|t| t != end) || p.parts.iter().any(|(o, d)| o + d.len() > end)
        };
        if conflict {
            self.drop_datagram(&key, c, Reason::Overlap);
            c.frag_overlap += 1;
            return FragResult::Dropped;
        }

        // Where it goes, and whether it touches a neighbour.
        let idx = p.parts.partition_point(|(o, _)| *o < offset);
        let same = p
            .parts
            .get(idx)
            .filter(|(o, d)| *o == offset && d.len() == data.len());
        if let Some((_, d)) = same {
            if d.as_slice() == data {
                c.frag_duplicate += 1;
                return FragResult::Dropped;
            }
            self.drop_datagram(&key, c, Reason::Overlap);
            c.frag_overlap += 1;
            return FragResult::Dropped;
        }
        let overlaps_prev = idx > 0 && {
            let (o, d) = &p.parts[idx - 1];
            o + d.len() > offset
        };
        let overlaps_next = p.parts.get(idx).is_some_and(|(o, _)| *o < end);
        if overlaps_prev || overlaps_next {
            self.drop_datagram(&key, c, Reason::Overlap);
            c.frag_overlap += 1;
            return FragResult::Dropped;
        }
        if p.parts.len() >= limits.frag_max_per_datagram {
            self.drop_datagram(&key, c, Reason::Limit);
            c.frag_limit += 1;
            return FragResult::Dropped;
        }

        // Room in the global budget: evict older datagrams, never this one.
        while self.bytes + data.len() > limits.frag_max_bytes {
            if !self.evict_oldest_except(&key, c) {
                c.frag_limit += 1;
                if self.pending.get(&key).is_some_and(|p| p.parts.is_empty()) {
                    self.pending.remove(&key);
                }
                return FragResult::Dropped;
            }
        }

        let p = self.pending.get_mut(&key).expect("still held");
        p.parts.insert(idx, (offset, data.to_vec()));
        p.bytes += data.len();
        self.bytes += data.len();
        if !more {
            p.total = Some(end);
        }
        let Some(total) = p.total else {
            return FragResult::Held;
        };
        // Complete when the parts tile [0, total) without holes.
        let mut covered = 0;
        for (o, d) in &p.parts {
            if *o != covered {
                return FragResult::Held;
            }
            covered += d.len();
        }
        if covered != total {
            return FragResult::Held;
        }
        let p = self.pending.remove(&key).expect("still held");
        self.bytes -= p.bytes;
        c.frag_used += p.parts.len() as u64;
        c.frag_reassembled += 1;
        let mut out = Vec::with_capacity(total);
        for (_, d) in p.parts {
            out.extend_from_slice(&d);
        }
        FragResult::Complete(out)
    }

    /// Drop datagrams whose first fragment is older than the timeout.
    pub(crate) fn expire(
        &mut self,
        now: SystemTime,
        limits: &DecodeLimits,
        c: &mut DecodeCounters,
    ) {
        let timeout = limits.frag_timeout;
        let expired: Vec<FragKey> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                now.duration_since(p.first_seen)
                    .is_ok_and(|age| age >= timeout)
            })
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            self.drop_datagram(&k, c, Reason::Timeout);
        }
        self.compact_age();
    }

    fn evict_oldest(&mut self, c: &mut DecodeCounters) -> bool {
        while let Some((generation, key)) = self.age.pop_front() {
            if self
                .pending
                .get(&key)
                .is_some_and(|p| p.generation == generation)
            {
                self.drop_datagram(&key, c, Reason::Limit);
                return true;
            }
        }
        false
    }

    fn evict_oldest_except(&mut self, keep: &FragKey, c: &mut DecodeCounters) -> bool {
        let victim = self
            .age
            .iter()
            .find(|(g, k)| k != keep && self.pending.get(k).is_some_and(|p| p.generation == *g))
            .map(|(_, k)| *k);
        match victim {
            Some(k) => {
                self.drop_datagram(&k, c, Reason::Limit);
                true
            }
            None => false,
        }
    }

    fn drop_datagram(&mut self, key: &FragKey, c: &mut DecodeCounters, why: Reason) {
        if let Some(p) = self.pending.remove(key) {
            self.bytes -= p.bytes;
            let n = p.parts.len() as u64;
            match why {
                Reason::Overlap => c.frag_overlap += n,
                Reason::Limit => c.frag_limit += n,
                Reason::Timeout => c.frag_timeout += n,
            }
        }
    }

    /// Keep the age queue proportional to what is held.
    fn compact_age(&mut self) {
        if self.age.len() > 2 * self.pending.len() + 64 {
            let pending = &self.pending;
            self.age
                .retain(|(g, k)| pending.get(k).is_some_and(|p| p.generation == *g));
        }
    }
}

#[derive(Clone, Copy)]
enum Reason {
    Overlap,
    Limit,
    Timeout,
}

#[cfg(test)]
#[path = "ipfrag_tests.rs"]
mod tests;
