//! User space's side of `FAST_VALIDATED`, the validated exchanges the tc
//! program on `lo` compares repeats with (`monitor_common::fast::ValidatedSlot`,
//! monitor-ebpf/src/fast.rs).
//!
//! The array is mapped into this process (shared_array.rs) and this side
//! is its only writer. The kernel reads a slot between two reads of its
//! sequence word and uses it only if both saw the same even number (a
//! sequence lock, as include/linux/seqlock.h's `write_seqcount_begin` /
//! `_end`): the word is made odd before the slot changes and even again
//! after, so a read that overlapped a write is discarded, never used torn.
//! An entry lives in one of the two slots `validated_index` gives for its
//! key; a new entry takes the one of the pair that expires first.

use std::sync::atomic::{AtomicU64, Ordering, fence};

use monitor_common::fast::{
    FastAnswer, VALIDATED_SLOTS, ValidatedKey, ValidatedSlot, validated_index,
};
use monitor_common::names;

use super::shared_array::{SharedArray, SharedArrayError};

/// How [`ValidatedTable::publish`] wrote an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// The slot already held these very bytes: only its expiry moved (one
    /// atomic store). Queries the kernel holds on it stay valid.
    Extended(usize),
    /// The slot was (re)written under its sequence word: a query held on
    /// its earlier contents sends its answer up.
    Written(usize),
}

/// The `FAST_VALIDATED` slots, shared with the kernel.
pub struct ValidatedTable {
    slots: SharedArray<ValidatedSlot>,
}

// SAFETY: this side only writes (through `&mut self`) and the kernel only
// reads; every write follows the sequence protocol above.
unsafe impl Send for ValidatedTable {}
// SAFETY: `&self` methods only read, with the same protocol as the kernel.
unsafe impl Sync for ValidatedTable {}

impl ValidatedTable {
    /// Maps the kernel's `FAST_VALIDATED` array.
    pub fn map(map: aya::maps::Map) -> Result<ValidatedTable, SharedArrayError> {
        Ok(ValidatedTable {
            slots: SharedArray::map(map, names::FAST_VALIDATED, VALIDATED_SLOTS)?,
        })
    }

    /// Empty slots in ordinary memory (tests of the protocol).
    #[cfg(test)]
    pub fn in_memory() -> ValidatedTable {
        ValidatedTable {
            slots: SharedArray::in_memory(VALIDATED_SLOTS as usize),
        }
    }

    fn seq(&self, i: usize) -> &AtomicU64 {
        // SAFETY: a slot of the array; `seq` is its first, 8-aligned field.
        unsafe { AtomicU64::from_ptr(&raw mut (*self.slots.ptr(i)).seq) }
    }

    fn expires(&self, i: usize) -> &AtomicU64 {
        // SAFETY: as `seq`: `value.expires_ns` is at an 8-aligned offset
        // (asserted in monitor-common).
        unsafe { AtomicU64::from_ptr(&raw mut (*self.slots.ptr(i)).value.expires_ns) }
    }

    /// Puts `value` for `key` into the kernel's table: into the slot that
    /// already holds `key`, else into whichever of its two slots expires
    /// first (an empty slot never expires later than a used one).
    pub fn publish(&mut self, key: &ValidatedKey, value: &FastAnswer) -> Published {
        // SAFETY: `&mut self`: no other publish meanwhile.
        unsafe { self.publish_shared(key, value) }
    }

    /// [`ValidatedTable::publish`] through a shared reference.
    ///
    /// # Safety
    /// No other publish on this table runs at the same time (the sequence
    /// protocol has one writer).
    unsafe fn publish_shared(&self, key: &ValidatedKey, value: &FastAnswer) -> Published {
        let first = validated_index(key) as usize;
        // This side is the only writer: its own reads need no protocol.
        // SAFETY: plain data read from slots of the array.
        let (a, b) = unsafe {
            (
                std::ptr::read_volatile(self.slots.ptr(first)),
                std::ptr::read_volatile(self.slots.ptr(first + 1)),
            )
        };
        let i = if a.key == *key {
            first
        } else if b.key == *key {
            first + 1
        } else if a.value.expires_ns <= b.value.expires_ns {
            first
        } else {
            first + 1
        };
        let old = if i == first { a } else { b };
        if old.key == *key
            && old.value.len == value.len
            && old.value.query == value.query
            && old.value.answer == value.answer
        {
            // One aligned 8-byte store: a reader sees the old or the new
            // expiry, both right; the sequence word stays as it is.
            self.expires(i).store(value.expires_ns, Ordering::Release);
            return Published::Extended(i);
        }
        let seq = self.seq(i);
        let s = seq.load(Ordering::Relaxed);
        seq.store(s + 1, Ordering::Relaxed);
        // The odd word is visible before any of the new contents
        // (`smp_wmb` in write_seqcount_begin).
        fence(Ordering::Release);
        let p = self.slots.ptr(i);
        // SAFETY: slot i of the array; the kernel discards what it reads
        // while the word is odd.
        unsafe {
            std::ptr::write_volatile(&raw mut (*p).key, *key);
            std::ptr::write_volatile(&raw mut (*p).value, *value);
        }
        seq.store(s + 2, Ordering::Release);
        Published::Written(i)
    }

    /// What the kernel's query side finds for `key` at `now_ns`: the slot,
    /// its sequence number and its entry (the kernel also compares the
    /// query's bytes, which `key`'s digest stands for here). The reader's
    /// half of the protocol, for the tests: the daemon itself never reads.
    #[cfg(test)]
    pub fn lookup(&self, key: &ValidatedKey, now_ns: u64) -> Option<(usize, u64, FastAnswer)> {
        let first = validated_index(key) as usize;
        [first, first + 1].into_iter().find_map(|i| {
            let s = self.seq(i).load(Ordering::Acquire);
            if s & 1 != 0 {
                return None;
            }
            // SAFETY: plain data read from a slot; checked against the
            // sequence word below.
            let slot = unsafe { std::ptr::read_volatile(self.slots.ptr(i)) };
            fence(Ordering::Acquire);
            (self.seq(i).load(Ordering::Relaxed) == s
                && slot.key == *key
                && slot.value.expires_ns > now_ns)
                .then_some((i, s, slot.value))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monitor_common::fast::{ANSWER_MAX, QUERY_MAX, ServerKey};

    fn key(digest: u64) -> ValidatedKey {
        ValidatedKey {
            server: ServerKey {
                family: monitor_common::FAMILY_V4,
                _pad: 0,
                port: 53,
                addr: [127, 0, 0, 53, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            },
            len: 30,
            _pad: 0,
            digest,
        }
    }

    fn value(expires_ns: u64, answer: u8) -> FastAnswer {
        FastAnswer {
            expires_ns,
            len: 40,
            _pad: 0,
            query: [7; QUERY_MAX],
            answer: [answer; ANSWER_MAX],
        }
    }

    /// Three keys whose entries share a pair of slots.
    fn same_pair() -> (ValidatedKey, ValidatedKey, ValidatedKey) {
        let k0 = key(1);
        let mut more = (2..)
            .map(key)
            .filter(|k| validated_index(k) == validated_index(&k0));
        (k0, more.next().unwrap(), more.next().unwrap())
    }

    #[test]
    fn an_entry_is_found_until_it_expires_and_an_equal_one_only_extends_it() {
        let mut t = ValidatedTable::in_memory();
        let k = key(42);
        assert!(t.lookup(&k, 0).is_none(), "an empty table finds nothing");
        let Published::Written(i) = t.publish(&k, &value(100, 1)) else {
            panic!("a new entry is written")
        };
        let (j, seq, v) = t.lookup(&k, 99).expect("found before it expires");
        assert_eq!((j, seq, v.answer[0]), (i, 2, 1));
        assert!(t.lookup(&k, 100).is_none(), "expired");
        assert!(t.lookup(&key(43), 0).is_none(), "another key");
        // The same bytes again with a later expiry: the sequence number
        // stays, so a query held on the entry still counts its answer.
        assert_eq!(t.publish(&k, &value(200, 1)), Published::Extended(i));
        assert_eq!(t.lookup(&k, 150).map(|(_, s, _)| s), Some(2));
        // Other answer bytes for the same key: rewritten in place, a new
        // sequence number.
        assert_eq!(t.publish(&k, &value(200, 9)), Published::Written(i));
        let (_, seq, v) = t.lookup(&k, 150).unwrap();
        assert_eq!((seq, v.answer[0]), (4, 9));
    }

    #[test]
    fn two_entries_share_a_pair_and_a_third_replaces_the_one_expiring_first() {
        let mut t = ValidatedTable::in_memory();
        let (k0, k1, k2) = same_pair();
        let Published::Written(i0) = t.publish(&k0, &value(300, 1)) else {
            panic!()
        };
        let Published::Written(i1) = t.publish(&k1, &value(200, 2)) else {
            panic!()
        };
        assert_ne!(i0, i1, "the second key takes the other slot of the pair");
        assert_eq!(i0 / 2, i1 / 2);
        assert!(t.lookup(&k0, 0).is_some() && t.lookup(&k1, 0).is_some());
        // k1 expires first: k2 replaces it, k0 stays.
        assert_eq!(t.publish(&k2, &value(400, 3)), Published::Written(i1));
        assert!(t.lookup(&k1, 0).is_none());
        assert_eq!(
            t.lookup(&k0, 0).map(|(i, _, v)| (i, v.answer[0])),
            Some((i0, 1))
        );
        assert_eq!(
            t.lookup(&k2, 0).map(|(i, _, v)| (i, v.answer[0])),
            Some((i1, 3))
        );
    }

    #[test]
    fn a_slot_being_written_is_not_found() {
        let mut t = ValidatedTable::in_memory();
        let k = key(5);
        let Published::Written(i) = t.publish(&k, &value(100, 1)) else {
            panic!()
        };
        // As the kernel sees it in the middle of the next write.
        t.seq(i).store(3, Ordering::Release);
        assert!(t.lookup(&k, 0).is_none());
        t.seq(i).store(4, Ordering::Release);
        assert_eq!(t.lookup(&k, 0).map(|(_, s, _)| s), Some(4));
    }

    /// A writer rewriting one slot between two answers while a reader
    /// reads it: every read the protocol accepts is one of the two
    /// entries whole, never a mix.
    #[test]
    fn concurrent_reads_see_whole_entries_only() {
        use std::sync::atomic::AtomicBool;
        let t = std::sync::Arc::new(ValidatedTable::in_memory());
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let k = key(77);
        let writer = {
            let (t, done) = (std::sync::Arc::clone(&t), std::sync::Arc::clone(&done));
            std::thread::spawn(move || {
                let mut n = 0u32;
                while !done.load(Ordering::Acquire) {
                    // SAFETY: this thread is the only writer.
                    unsafe { t.publish_shared(&k, &value(u64::MAX, (n % 2) as u8 + 1)) };
                    n += 1;
                }
                n
            })
        };
        let (mut seen, mut torn) = (0u32, 0u32);
        for _ in 0..300_000 {
            if let Some((_, _, v)) = t.lookup(&k, 0) {
                seen += 1;
                let a = v.answer[0];
                if v.answer.iter().any(|&b| b != a) || v.query != [7; QUERY_MAX] {
                    torn += 1;
                }
            }
        }
        done.store(true, Ordering::Release);
        let writes = writer.join().unwrap();
        assert!(
            seen > 0 && writes > 2,
            "{seen} reads found it, {writes} writes"
        );
        assert_eq!(torn, 0, "{torn} of {seen} reads were a mix of two entries");
    }
}
