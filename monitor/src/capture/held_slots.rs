//! User space's side of `FAST_PENDING`, the kernel's held-back queries
//! (`monitor_common::fast::HeldSlot`, monitor-ebpf/src/fast.rs).
//!
//! The array is mapped into this process (`BPF_F_MMAPABLE`,
//! kernel/bpf/arraymap.c `array_map_mmap`) so that taking a query left
//! unanswered is the same compare-and-exchange on the slot's state word
//! the kernel uses for an answer: whichever side wins takes the query,
//! the other leaves it. With a hash map and a delete per side, an answer
//! and the scan could both take one query (user space would then see a
//! query sent up whose answer the kernel had counted: a false timeout).
//! Scanning the state words reads memory; no system call per slot.

use std::sync::atomic::{AtomicU64, Ordering};

use monitor_common::fast::{
    HeldSlot, PENDING_SLOTS, SENT_LIMIT_NS, SLOT_BUSY, SLOT_FREE, SLOT_SENT,
};
use monitor_common::names;

use super::shared_array::{SharedArray, SharedArrayError};

/// The `FAST_PENDING` slots, shared with the kernel.
pub struct HeldSlots {
    slots: SharedArray<HeldSlot>,
}

// SAFETY: the memory is only touched through atomics (state words) and
// reads of slots this side owns (BUSY set by its own exchange).
unsafe impl Send for HeldSlots {}
// SAFETY: as above: `&self` methods touch state words only atomically and
// a slot's query only while their own exchange made it BUSY.
unsafe impl Sync for HeldSlots {}

impl HeldSlots {
    /// Maps the kernel's `FAST_PENDING` array.
    pub fn map(map: aya::maps::Map) -> Result<HeldSlots, SharedArrayError> {
        Ok(HeldSlots {
            slots: SharedArray::map(map, names::FAST_PENDING, PENDING_SLOTS)?,
        })
    }

    /// Slots in ordinary memory, all free (tests of the protocol).
    #[cfg(test)]
    pub fn in_memory(slots: usize) -> HeldSlots {
        HeldSlots {
            slots: SharedArray::in_memory(slots),
        }
    }

    fn state(&self, i: usize) -> &AtomicU64 {
        // SAFETY: a slot of the array; the state word is its first,
        // 8-aligned field (slots are 8-aligned: page-aligned base, size a
        // multiple of 8).
        unsafe { AtomicU64::from_ptr(&raw mut (*self.slots.ptr(i)).state) }
    }

    /// Takes every query held since `limit_ns` or longer at `now_ns`,
    /// each with its token (the query's kernel time), and marks its slot
    /// sent: its answer, should it still come, is then copied and frees
    /// the slot. A query whose answer the kernel is taking at the same
    /// moment is left to it (the compare-and-exchange decides). Slots
    /// marked sent longer than [`SENT_LIMIT_NS`] ago are freed.
    pub fn take_expired(&self, now_ns: u64, limit_ns: u64) -> Vec<(u64, HeldSlot)> {
        let mut out = Vec::new();
        for i in 0..self.slots.count() {
            let st = self.state(i);
            let state = st.load(Ordering::Acquire);
            if state <= SLOT_BUSY {
                continue;
            }
            if state & SLOT_SENT != 0 {
                if (state & !SLOT_SENT).saturating_add(SENT_LIMIT_NS) <= now_ns {
                    // Its answer never came; the kernel may free it at the
                    // same moment, either is right.
                    let _ =
                        st.compare_exchange(state, SLOT_FREE, Ordering::AcqRel, Ordering::Acquire);
                }
                continue;
            }
            // Held: the state is the query's kernel time.
            if state.saturating_add(limit_ns) > now_ns
                || st
                    .compare_exchange(state, SLOT_BUSY, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                continue;
            }
            // SAFETY: the slot is ours while its state is BUSY by our
            // exchange; a volatile read of plain data.
            let slot = unsafe { std::ptr::read_volatile(self.slots.ptr(i)) };
            st.store(SLOT_SENT | now_ns, Ordering::Release);
            out.push((state, slot));
        }
        out
    }

    /// Queries held right now (metrics and tests).
    pub fn held(&self) -> usize {
        (0..self.slots.count())
            .filter(|&i| {
                let s = self.state(i).load(Ordering::Relaxed);
                s > SLOT_BUSY && s & SLOT_SENT == 0
            })
            .count()
    }

    /// Tests: holds `slot` (its `state`: the token) in slot `i` as the
    /// kernel would.
    #[cfg(test)]
    pub fn hold(&self, i: usize, slot: HeldSlot) -> bool {
        let st = self.state(i);
        if st
            .compare_exchange(SLOT_FREE, SLOT_BUSY, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let mut s = slot;
        s.state = SLOT_BUSY;
        // SAFETY: ours while BUSY.
        unsafe { std::ptr::write_volatile(self.slots.ptr(i), s) };
        st.store(slot.state.max(SLOT_BUSY + 1), Ordering::Release);
        true
    }

    /// Tests: the kernel's answer side — takes slot `i`'s query if it is
    /// still held with `token` (`true`: counted); a slot marked sent is
    /// freed (`false`: the answer is copied).
    #[cfg(test)]
    pub fn answer(&self, i: usize, token: u64) -> bool {
        let st = self.state(i);
        let state = st.load(Ordering::Acquire);
        if state & SLOT_SENT != 0 {
            let _ = st.compare_exchange(state, SLOT_FREE, Ordering::AcqRel, Ordering::Acquire);
            return false;
        }
        if st
            .compare_exchange(token, SLOT_BUSY, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        st.store(SLOT_FREE, Ordering::Release);
        true
    }

    #[cfg(test)]
    fn state_of(&self, i: usize) -> u64 {
        self.state(i).load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    const S: u64 = 1_000_000_000;

    fn query(ktime_ns: u64, txid: u16) -> HeldSlot {
        // SAFETY: plain data, as in `in_memory`.
        let mut s: HeldSlot = unsafe { std::mem::zeroed() };
        s.state = ktime_ns;
        s.exchange.txid = txid;
        s.socket_cookie = u64::from(txid) * 10;
        s
    }

    #[test]
    fn takes_only_queries_held_past_the_limit_and_frees_their_slots() {
        let slots = HeldSlots::in_memory(8);
        assert!(slots.hold(0, query(10 * S, 1)));
        assert!(slots.hold(3, query(11 * S, 2)));
        assert!(slots.hold(5, query(12 * S + 1, 3)));
        // A slot already holding a query cannot take a second one.
        assert!(!slots.hold(3, query(11 * S, 9)));
        let taken = slots.take_expired(13 * S, S);
        let txids: Vec<u16> = taken.iter().map(|(_, q)| q.exchange.txid).collect();
        assert_eq!(txids, vec![1, 2], "held ≥ 1 s: taken with their contents");
        assert_eq!(taken[1].0, 11 * S, "the token is the query's time");
        assert_eq!(taken[1].1.socket_cookie, 20);
        assert_eq!(slots.held(), 1, "the younger query stays held");
        assert!(slots.take_expired(13 * S, S).is_empty(), "taken once");
        assert_eq!(slots.state_of(0), SLOT_SENT | (13 * S), "marked sent");
        assert!(!slots.hold(0, query(13 * S, 4)), "waiting for its answer");
        // No answer within SENT_LIMIT_NS: the slot is freed.
        let later = slots.take_expired(13 * S + SENT_LIMIT_NS - 1, S);
        assert_eq!(later.len(), 1, "only the younger query, now expired too");
        assert_eq!(later[0].1.exchange.txid, 3);
        assert_ne!(slots.state_of(0), SLOT_FREE);
        assert!(slots.take_expired(13 * S + SENT_LIMIT_NS, S).is_empty());
        assert_eq!(slots.state_of(0), SLOT_FREE);
        assert!(slots.hold(0, query(16 * S, 4)), "a freed slot holds again");
    }

    #[test]
    fn an_answered_query_is_not_taken_and_a_taken_one_is_not_answered() {
        let slots = HeldSlots::in_memory(4);
        assert!(slots.hold(1, query(10 * S, 1)));
        assert!(slots.hold(2, query(10 * S + 1, 2)));
        // The kernel counted the answer of slot 1 first.
        assert!(slots.answer(1, 10 * S));
        let taken = slots.take_expired(20 * S, S);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].1.exchange.txid, 2);
        // The late answer of slot 2 finds it sent: it is copied, and
        // frees the slot.
        assert!(!slots.answer(2, 10 * S + 1));
        assert_eq!(slots.state_of(2), SLOT_FREE);
        assert_eq!(slots.held(), 0);
    }

    #[test]
    fn busy_slots_are_left_alone() {
        let slots = HeldSlots::in_memory(2);
        slots.state(0).store(SLOT_BUSY, Ordering::Release);
        assert!(slots.take_expired(u64::MAX, 0).is_empty());
        assert!(!slots.hold(0, query(5, 1)));
    }

    /// The kernel (holding, then answering) and the scanner race on the
    /// same slots: every held query is taken exactly once.
    #[test]
    fn every_held_query_is_taken_exactly_once_under_contention() {
        const SLOTS: usize = 64;
        const ROUNDS: u64 = 20_000;
        let slots = Arc::new(HeldSlots::in_memory(SLOTS));
        let held = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let scanner = {
            let (slots, done) = (Arc::clone(&slots), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut taken = 0usize;
                while !done.load(Ordering::Acquire) {
                    // Every query counts as expired: maximal contention.
                    taken += slots.take_expired(u64::MAX, 0).len();
                }
                taken + slots.take_expired(u64::MAX, 0).len()
            })
        };
        let kernel = {
            let (slots, held, answered) =
                (Arc::clone(&slots), Arc::clone(&held), Arc::clone(&answered));
            std::thread::spawn(move || {
                for t in 2..2 + ROUNDS {
                    let i = (t as usize * 7) % SLOTS;
                    if slots.hold(i, query(t, t as u16)) {
                        held.fetch_add(1, Ordering::Relaxed);
                        if t % 2 == 0 && slots.answer(i, t) {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        };
        kernel.join().unwrap();
        done.store(true, Ordering::Release);
        let taken = scanner.join().unwrap();
        let (held, answered) = (
            held.load(Ordering::Relaxed),
            answered.load(Ordering::Relaxed),
        );
        assert!(held > 0 && taken > 0, "held {held}, taken {taken}");
        assert_eq!(
            answered + taken,
            held,
            "answered {answered} + taken {taken}"
        );
        assert_eq!(slots.held(), 0);
        assert!(
            (0..SLOTS)
                .all(|i| slots.state_of(i) & SLOT_SENT != 0 || slots.state_of(i) == SLOT_FREE)
        );
    }
}
