//! A parse memo for repeated DNS messages.
//!
//! Hosts repeat messages byte for byte except the transaction id (the
//! first two bytes, RFC 1035 §4.1.1): a stub asks the same question for a
//! popular name again and again, and a cache answers it with the same
//! bytes for as long as its TTLs read the same (they change once a
//! second). Parsing with hickory-proto is the largest single cost per
//! message under load, so a message whose bytes after the id equal a
//! recent one's shares that one's parsed [`Message`] instead of being
//! parsed again. The shared message keeps the *first* copy's id in
//! `metadata.id`: the id of each message is carried beside it
//! ([`super::DnsMessage::txid`]).
//!
//! Bounded: [`SETS`] × 2 entries (a 2-way set-associative table; a new
//! message replaces the less recently used of its set), and only messages
//! of at most [`MAX_BYTES`] bytes are kept, so the memo holds at most a
//! few MiB whatever the traffic. The table is keyed by a per-process
//! random hash (foldhash), and a hit compares the full bytes, so a
//! collision, chosen or not, can only cost a parse, never a wrong message.
//! A message hickory refuses is never kept: each copy is parsed and counted.

use std::hash::BuildHasher;
use std::sync::Arc;

use hickory_proto::op::Message;

/// Number of 2-entry sets.
pub const SETS: usize = 512;

/// Larger messages (DNSKEY sets, big TXT answers, zone transfers) are
/// parsed every time: they are rarer, and the bound on memory matters
/// more than their cost.
pub const MAX_BYTES: usize = 512;

/// The id is the first two bytes of the header; the rest is compared.
const ID_LEN: usize = 2;

struct Entry {
    hash: u64,
    /// The bytes of the first copy (its id included, ignored).
    bytes: Arc<[u8]>,
    message: Arc<Message>,
}

/// Hit and miss counts (for metrics and the benches).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemoStats {
    /// Messages that shared an earlier copy's parse.
    pub hits: u64,
    /// Messages parsed and kept (replacing an older entry if the set was full).
    pub stored: u64,
}

pub struct ParseMemo {
    /// `sets[i]` = two ways; `recent[i]` = the way used last.
    sets: Box<[[Option<Entry>; 2]]>,
    recent: Box<[u8]>,
    hasher: foldhash::fast::RandomState,
    stats: MemoStats,
}

impl Default for ParseMemo {
    fn default() -> Self {
        Self::new()
    }
}

impl ParseMemo {
    pub fn new() -> Self {
        Self {
            sets: (0..SETS).map(|_| [None, None]).collect(),
            recent: vec![0; SETS].into_boxed_slice(),
            hasher: foldhash::fast::RandomState::default(),
            stats: MemoStats::default(),
        }
    }

    pub fn stats(&self) -> MemoStats {
        self.stats
    }

    fn key(&self, payload: &[u8]) -> Option<(u64, usize)> {
        if payload.len() <= ID_LEN || payload.len() > MAX_BYTES {
            return None;
        }
        let hash = self.hasher.hash_one(&payload[ID_LEN..]);
        Some((hash, (hash as usize) % SETS))
    }

    /// The bytes and parsed message of an earlier copy of `payload` (same
    /// bytes after the id), if one is kept.
    pub fn get(&mut self, payload: &[u8]) -> Option<(Arc<[u8]>, Arc<Message>)> {
        let (hash, set) = self.key(payload)?;
        for way in 0..2 {
            if let Some(e) = &self.sets[set][way]
                && e.hash == hash
                && e.bytes.get(ID_LEN..) == payload.get(ID_LEN..)
            {
                self.recent[set] = way as u8;
                self.stats.hits += 1;
                return Some((e.bytes.clone(), e.message.clone()));
            }
        }
        None
    }

    /// Keep `message`, parsed from `bytes`, for later copies.
    pub fn put(&mut self, bytes: &Arc<[u8]>, message: &Arc<Message>) {
        let Some((hash, set)) = self.key(bytes) else {
            return;
        };
        let ways = &mut self.sets[set];
        // An empty way first, else the one not used last.
        let way = match ways {
            [None, _] => 0,
            [_, None] => 1,
            _ => 1 - usize::from(self.recent[set]),
        };
        ways[way] = Some(Entry {
            hash,
            bytes: bytes.clone(),
            message: message.clone(),
        });
        self.recent[set] = way as u8;
        self.stats.stored += 1;
    }
}

#[cfg(test)]
#[path = "memo_tests.rs"]
mod tests;
