//! The engine's caches: one generic TTL + LRU map, instantiated for final
//! lookups (compact entries, see [`super::cached`]), validated DNSKEY/DS
//! state per zone, raw responses and delegations.
//!
//! Expiry reads the engine's [`Clock`] (so `--at` and Deckard `TIME_PASSES`
//! age entries); memory is bounded by entry count and by the bytes held
//! (the caller's estimate of the value plus this map's own per-entry
//! overhead), evicting the least recently used entry first. Evictions and
//! expirations are counted.
//!
//! Layout: entries live in a slab (`Vec` of nodes, freed slots reused) and
//! are linked in recency order by slab index; a `hashbrown::HashTable` of
//! slab indices finds them by key. Each key is stored once (the slab node),
//! and the whole per-entry overhead is one node plus 5 bytes of index.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::{DefaultHashBuilder, HashTable};

use super::clock::Clock;

/// Limits of the cache (shared by all of the engine's maps, split between them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    pub max_entries: usize,
    /// Bytes held by the caches, as accounted (entry estimates + overhead).
    pub max_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        // Answers get 3/4 (42 MiB): ~414 accounted bytes per cached
        // wildcard answer (bench rss) → ~106,000 names, in ~50 MiB of RSS
        // (DESIGN.md "Targets": ≤ 64 MiB with 100,000 cached names). The
        // byte bound is what normally binds.
        Self {
            max_entries: 250_000,
            max_bytes: 56 * 1024 * 1024,
        }
    }
}

/// "No node" in the recency links.
const NIL: u32 = u32::MAX;

struct Node<K, V> {
    key: K,
    value: V,
    expires: i64,
    bytes: u32,
    /// Towards the most recently used end.
    prev: u32,
    /// Towards the least recently used end.
    next: u32,
}

struct Inner<K, V> {
    index: HashTable<u32>,
    slots: Vec<Option<Node<K, V>>>,
    free: Vec<u32>,
    /// Most recently used.
    head: u32,
    /// Least recently used: evicted first.
    tail: u32,
    bytes: usize,
}

impl<K, V> Inner<K, V> {
    fn node(&self, i: u32) -> &Node<K, V> {
        self.slots[i as usize]
            .as_ref()
            .expect("linked slots are occupied")
    }

    fn node_mut(&mut self, i: u32) -> &mut Node<K, V> {
        self.slots[i as usize]
            .as_mut()
            .expect("linked slots are occupied")
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let n = self.node(i);
            (n.prev, n.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
    }

    fn push_front(&mut self, i: u32) {
        let head = self.head;
        {
            let n = self.node_mut(i);
            n.prev = NIL;
            n.next = head;
        }
        if head != NIL {
            self.node_mut(head).prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }
}

/// A map whose entries expire at `expires` (engine-clock seconds) and which
/// never holds more than `max_entries` entries or `max_bytes` (accounted).
pub struct TtlLru<K, V> {
    inner: Mutex<Inner<K, V>>,
    hasher: DefaultHashBuilder,
    max_entries: usize,
    max_bytes: usize,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Entries pushed out to make room (LRU), not expired ones.
    pub evictions: AtomicU64,
    /// Entries found expired and dropped.
    pub expirations: AtomicU64,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlLru<K, V> {
    /// This map's own bytes per entry (slab node + index slot), added to
    /// every entry's estimate.
    pub const OVERHEAD: usize = std::mem::size_of::<Option<Node<K, V>>>() + 5;

    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                index: HashTable::new(),
                slots: Vec::new(),
                free: Vec::new(),
                head: NIL,
                tail: NIL,
                bytes: 0,
            }),
            hasher: DefaultHashBuilder::default(),
            max_entries: max_entries.clamp(1, NIL as usize - 1),
            max_bytes: max_bytes.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            expirations: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // A panic while holding the lock leaves consistent data (every
        // mutation below completes before it can panic), so poison is moot.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn find<Q>(&self, inner: &Inner<K, V>, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        inner
            .index
            .find(hash, |&i| inner.node(i).key.borrow() == key)
            .copied()
    }

    /// Unlinks and frees slot `i`, returning its node.
    fn remove_slot(&self, inner: &mut Inner<K, V>, i: u32) -> Node<K, V> {
        inner.unlink(i);
        let hash = self.hasher.hash_one(&inner.node(i).key);
        if let Ok(e) = inner.index.find_entry(hash, |&j| j == i) {
            e.remove();
        }
        let node = inner.slots[i as usize]
            .take()
            .expect("linked slots are occupied");
        inner.free.push(i);
        inner.bytes -= node.bytes as usize;
        node
    }

    /// The live value for `key`, marking it recently used; counts hit/miss.
    pub fn get<Q>(&self, key: &Q, clock: &Clock) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_full(key, clock).map(|(_, v, _)| v)
    }

    /// Like [`TtlLru::get`], with the stored key and the seconds left.
    pub fn get_full<Q>(&self, key: &Q, clock: &Clock) -> Option<(K, V, u32)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = clock.now_unix();
        let hash = self.hasher.hash_one(key);
        let mut g = self.lock();
        let inner = &mut *g;
        let Some(i) = self.find(inner, hash, key) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let expires = inner.node(i).expires;
        if expires <= now {
            self.remove_slot(inner, i);
            self.expirations.fetch_add(1, Ordering::Relaxed);
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        inner.unlink(i);
        inner.push_front(i);
        self.hits.fetch_add(1, Ordering::Relaxed);
        let n = inner.node(i);
        let left = u32::try_from(expires - now).unwrap_or(u32::MAX);
        Some((n.key.clone(), n.value.clone(), left))
    }

    /// Stores `value` for `ttl` seconds (0 = not stored); `bytes` is its
    /// estimated size (this map adds its own [`Self::OVERHEAD`]).
    pub fn insert(&self, key: K, value: V, ttl: u32, bytes: usize, clock: &Clock) {
        let bytes = bytes.saturating_add(Self::OVERHEAD);
        if ttl == 0 || bytes > self.max_bytes || bytes > u32::MAX as usize {
            return;
        }
        let expires = clock.now_unix() + i64::from(ttl);
        let hash = self.hasher.hash_one(&key);
        let mut g = self.lock();
        let inner = &mut *g;
        if let Some(old) = self.find(inner, hash, &key) {
            self.remove_slot(inner, old);
        }
        while inner.index.len() >= self.max_entries || inner.bytes + bytes > self.max_bytes {
            let victim = inner.tail;
            if victim == NIL {
                break;
            }
            let expired = inner.node(victim).expires <= clock.now_unix();
            self.remove_slot(inner, victim);
            if expired {
                self.expirations.fetch_add(1, Ordering::Relaxed);
            } else {
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        let node = Node {
            key,
            value,
            expires,
            bytes: bytes as u32,
            prev: NIL,
            next: NIL,
        };
        let i = match inner.free.pop() {
            Some(i) => {
                inner.slots[i as usize] = Some(node);
                i
            }
            None => {
                inner.slots.push(Some(node));
                (inner.slots.len() - 1) as u32
            }
        };
        let Inner { index, slots, .. } = inner;
        index.insert_unique(hash, i, |&j| {
            let k = &slots[j as usize]
                .as_ref()
                .expect("indexed slots are occupied")
                .key;
            self.hasher.hash_one(k)
        });
        inner.push_front(i);
        inner.bytes += bytes;
    }

    /// Drops every entry (counters are kept).
    pub fn clear(&self) {
        let mut g = self.lock();
        *g = Inner {
            index: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            bytes: 0,
        };
    }

    pub fn len(&self) -> usize {
        self.lock().index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held, as accounted.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_expiry_follows_the_engine_clock() {
        let clock = Clock::fixed(1_000);
        let c: TtlLru<&str, u32> = TtlLru::new(10, 1_000);
        c.insert("a", 1, 30, 10, &clock);
        assert_eq!(c.get(&"a", &clock), Some(1));
        clock.advance(29);
        assert_eq!(c.get_full(&"a", &clock), Some(("a", 1, 1)), "1 s left");
        clock.advance(1);
        assert_eq!(c.get(&"a", &clock), None, "expired at ttl");
        assert_eq!(c.hits.load(Ordering::Relaxed), 2);
        assert_eq!(c.misses.load(Ordering::Relaxed), 1);
        assert_eq!(c.expirations.load(Ordering::Relaxed), 1);
        assert_eq!(c.evictions.load(Ordering::Relaxed), 0);
        c.insert("z", 1, 0, 10, &clock);
        assert_eq!(c.get(&"z", &clock), None, "ttl 0 is not cached");
        assert!(c.is_empty());
    }

    #[test]
    fn lru_bounds_entries_and_bytes() {
        let o = TtlLru::<u32, u32>::OVERHEAD;
        let clock = Clock::fixed(0);
        let c: TtlLru<u32, u32> = TtlLru::new(3, 100 + 3 * o);
        for k in 0..3 {
            c.insert(k, k, 60, 10, &clock);
        }
        assert!(c.get(&0, &clock).is_some()); // 0 becomes most recent
        c.insert(3, 3, 60, 10, &clock);
        assert_eq!(c.len(), 3);
        assert_eq!(c.evictions.load(Ordering::Relaxed), 1);
        assert!(c.get(&1, &clock).is_none(), "least recently used evicted");
        assert!(c.get(&0, &clock).is_some());
        c.insert(9, 9, 60, 95 + 2 * o, &clock);
        assert_eq!(c.len(), 1, "byte bound evicts everything else");
        assert_eq!(c.evictions.load(Ordering::Relaxed), 4);
        assert!(c.bytes() <= 100 + 3 * o);
        c.insert(10, 10, 60, 101 + 3 * o, &clock);
        assert!(c.get(&10, &clock).is_none(), "larger than the whole cache");
        assert!(c.get(&9, &clock).is_some());
    }

    #[test]
    fn replacing_a_key_keeps_one_entry_and_exact_bytes() {
        let clock = Clock::fixed(0);
        let c: TtlLru<String, u32> = TtlLru::new(10, 1 << 20);
        c.insert("k".into(), 1, 60, 100, &clock);
        c.insert("k".into(), 2, 60, 50, &clock);
        assert_eq!(c.len(), 1);
        assert_eq!(c.bytes(), 50 + TtlLru::<String, u32>::OVERHEAD);
        // Borrowed lookup: a String key found by &str.
        assert_eq!(c.get("k", &clock), Some(2));
        c.clear();
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn slots_are_reused_and_order_survives_churn() {
        let clock = Clock::fixed(0);
        let c: TtlLru<u32, u32> = TtlLru::new(4, usize::MAX / 2);
        for k in 0..1_000u32 {
            c.insert(k, k, 60, 1, &clock);
            if k % 3 == 0 {
                // Touch an older key so it survives the next evictions.
                let _ = c.get(&k.saturating_sub(1), &clock);
            }
        }
        assert_eq!(c.len(), 4);
        assert!(c.get(&999, &clock).is_some());
        assert!(c.get(&0, &clock).is_none());
        assert!(c.lock().slots.len() <= 5, "freed slots are reused");
    }
}
