//! A value kept per live `Arc`: a rendering made once for each shared
//! object (a message's parse, a verdict) and reused while that object
//! lives, at a high rate where many events share a few of them
//! (event_lines.rs, detect/transactions.rs).
//!
//! Keyed by the object's address, plus a flag for the caller's use (two
//! renderings of one object). Each entry holds a `Weak` to its object:
//! the allocation, and so the address, cannot be reused while the entry
//! exists, and an entry whose object is gone is never served.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

type Entries<T, V> = HashMap<(usize, bool), (Weak<T>, V), foldhash::fast::RandomState>;

/// Values per live `Arc<T>`, at most `cap` entries.
pub struct PerArc<T, V> {
    entries: Entries<T, V>,
    cap: usize,
}

impl<T, V> std::fmt::Debug for PerArc<T, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerArc")
            .field("entries", &self.entries.len())
            .field("cap", &self.cap)
            .finish()
    }
}

fn key<T>(arc: &Arc<T>, flag: bool) -> (usize, bool) {
    (Arc::as_ptr(arc) as usize, flag)
}

impl<T, V> PerArc<T, V> {
    pub fn new(cap: usize) -> PerArc<T, V> {
        PerArc {
            entries: Entries::default(),
            cap: cap.max(1),
        }
    }

    /// The value kept for `arc` (and `flag`), if any.
    pub fn get(&self, arc: &Arc<T>, flag: bool) -> Option<&V> {
        match self.entries.get(&key(arc, flag)) {
            Some((w, v)) if w.strong_count() > 0 => Some(v),
            _ => None,
        }
    }

    /// Keeps `value` for `arc` (and `flag`). When full, entries whose
    /// object is gone go first; if half the bound is still live, all do:
    /// the bound is in entries, and what a hostile input renders must not
    /// stay alive for long.
    pub fn insert(&mut self, arc: &Arc<T>, flag: bool, value: V) -> &V {
        if self.entries.len() >= self.cap {
            self.entries.retain(|_, (w, _)| w.strong_count() > 0);
            if self.entries.len() >= self.cap / 2 {
                self.entries.clear();
            }
        }
        let k = key(arc, flag);
        self.entries.insert(k, (Arc::downgrade(arc), value));
        &self.entries[&k].1
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_served_while_its_object_lives_and_per_flag() {
        let mut c: PerArc<String, u32> = PerArc::new(8);
        let a = Arc::new("a".to_string());
        let b = Arc::new("a".to_string());
        assert!(c.get(&a, false).is_none());
        assert_eq!(*c.insert(&a, false, 1), 1);
        assert_eq!(c.get(&a, false), Some(&1));
        assert!(c.get(&a, true).is_none(), "the other flag is another entry");
        assert!(
            c.get(&b, false).is_none(),
            "an equal object elsewhere is not it"
        );
        c.insert(&a, true, 2);
        assert_eq!((c.get(&a, false), c.get(&a, true)), (Some(&1), Some(&2)));
        // A clone of the Arc is the same object.
        assert_eq!(c.get(&Arc::clone(&a), false), Some(&1));
    }

    #[test]
    fn an_entry_of_a_dropped_object_is_never_served() {
        let mut c: PerArc<Vec<u8>, &str> = PerArc::new(8);
        let a = Arc::new(vec![1]);
        c.insert(&a, false, "old");
        let addr = Arc::as_ptr(&a) as usize;
        drop(a);
        // The entry's Weak keeps the allocation: a new object cannot take
        // the dropped one's address and be served its value.
        let fresh: Vec<Arc<Vec<u8>>> = (0..64).map(|i| Arc::new(vec![i])).collect();
        for f in &fresh {
            assert_ne!(Arc::as_ptr(f) as usize, addr);
            assert!(c.get(f, false).is_none());
        }
    }

    #[test]
    fn the_bound_drops_dead_entries_first_then_everything() {
        let mut c: PerArc<u32, u32> = PerArc::new(4);
        let live: Vec<Arc<u32>> = (0..2).map(Arc::new).collect();
        for (i, a) in live.iter().enumerate() {
            c.insert(a, false, i as u32);
        }
        for i in 0..2 {
            let dead = Arc::new(100 + i);
            c.insert(&dead, false, 0);
        }
        assert_eq!(c.len(), 4);
        // Full: the two dead entries go, the live ones (half the bound)
        // too: all cleared, then the new one kept.
        let new = Arc::new(7);
        c.insert(&new, false, 7);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&new, false), Some(&7));
        assert!(c.get(&live[0], false).is_none());
        // One live entry and three dead ones: only the dead go.
        let mut c: PerArc<u32, u32> = PerArc::new(4);
        let keep = Arc::new(1);
        c.insert(&keep, false, 1);
        for i in 0..3 {
            let dead = Arc::new(10 + i);
            c.insert(&dead, false, 0);
        }
        let new = Arc::new(2);
        c.insert(&new, false, 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&keep, false), Some(&1));
    }
}
