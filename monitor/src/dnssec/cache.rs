//! The engine's caches: one generic TTL + LRU map, instantiated for final
//! lookups (validated answers and negative answers with their verdict),
//! validated DNSKEY/DS state per zone, raw responses and delegations.
//!
//! Expiry reads the engine's [`Clock`] (so `--at` and Deckard `TIME_PASSES`
//! age entries); memory is bounded by entry count and by an estimate of the
//! bytes held, evicting the least recently used entry first.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::clock::Clock;

/// Limits of the cache (shared by all of the engine's maps, split between them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    pub max_entries: usize,
    pub max_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

struct Slot<V> {
    value: V,
    expires: i64,
    bytes: usize,
    tick: u64,
}

struct Inner<K, V> {
    map: HashMap<K, Slot<V>>,
    /// Recency order: tick → key. The smallest tick is evicted first.
    order: BTreeMap<u64, K>,
    next_tick: u64,
    bytes: usize,
}

/// A map whose entries expire at `expires` (engine-clock seconds) and which
/// never holds more than `max_entries` entries or `max_bytes` (estimated).
pub struct TtlLru<K, V> {
    inner: Mutex<Inner<K, V>>,
    max_entries: usize,
    max_bytes: usize,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlLru<K, V> {
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: BTreeMap::new(),
                next_tick: 0,
                bytes: 0,
            }),
            max_entries: max_entries.max(1),
            max_bytes: max_bytes.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // A panic while holding the lock leaves consistent data (every
        // mutation below completes before it can panic), so poison is moot.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live value for `key`, marking it recently used; counts hit/miss.
    pub fn get(&self, key: &K, clock: &Clock) -> Option<V> {
        let now = clock.now_unix();
        let mut g = self.lock();
        let inner = &mut *g;
        let expired = match inner.map.get(key) {
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Some(slot) => slot.expires <= now,
        };
        if expired {
            if let Some(slot) = inner.map.remove(key) {
                inner.order.remove(&slot.tick);
                inner.bytes -= slot.bytes;
            }
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let tick = inner.next_tick;
        inner.next_tick += 1;
        let slot = inner.map.get_mut(key)?;
        inner.order.remove(&slot.tick);
        slot.tick = tick;
        inner.order.insert(tick, key.clone());
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(slot.value.clone())
    }

    /// Stores `value` for `ttl` seconds (0 = not stored), `bytes` its estimated size.
    pub fn insert(&self, key: K, value: V, ttl: u32, bytes: usize, clock: &Clock) {
        if ttl == 0 || bytes > self.max_bytes {
            return;
        }
        let expires = clock.now_unix() + i64::from(ttl);
        let mut g = self.lock();
        let inner = &mut *g;
        if let Some(old) = inner.map.remove(&key) {
            inner.order.remove(&old.tick);
            inner.bytes -= old.bytes;
        }
        while inner.map.len() >= self.max_entries || inner.bytes + bytes > self.max_bytes {
            let Some((_, victim)) = inner.order.pop_first() else {
                break;
            };
            if let Some(slot) = inner.map.remove(&victim) {
                inner.bytes -= slot.bytes;
            }
        }
        let tick = inner.next_tick;
        inner.next_tick += 1;
        inner.order.insert(tick, key.clone());
        inner.bytes += bytes;
        inner.map.insert(
            key,
            Slot {
                value,
                expires,
                bytes,
                tick,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

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
        assert_eq!(c.get(&"a", &clock), Some(1));
        clock.advance(1);
        assert_eq!(c.get(&"a", &clock), None, "expired at ttl");
        assert_eq!(c.hits.load(Ordering::Relaxed), 2);
        assert_eq!(c.misses.load(Ordering::Relaxed), 1);
        c.insert("z", 1, 0, 10, &clock);
        assert_eq!(c.get(&"z", &clock), None, "ttl 0 is not cached");
    }

    #[test]
    fn lru_bounds_entries_and_bytes() {
        let clock = Clock::fixed(0);
        let c: TtlLru<u32, u32> = TtlLru::new(3, 100);
        for k in 0..3 {
            c.insert(k, k, 60, 10, &clock);
        }
        assert!(c.get(&0, &clock).is_some()); // 0 becomes most recent
        c.insert(3, 3, 60, 10, &clock);
        assert_eq!(c.len(), 3);
        assert!(c.get(&1, &clock).is_none(), "least recently used evicted");
        assert!(c.get(&0, &clock).is_some());
        c.insert(9, 9, 60, 95, &clock);
        assert_eq!(c.len(), 1, "byte bound evicts everything else");
        assert!(c.bytes() <= 100);
        c.insert(10, 10, 60, 101, &clock);
        assert!(c.get(&10, &clock).is_none(), "larger than the whole cache");
        assert!(c.get(&9, &clock).is_some());
    }
}
