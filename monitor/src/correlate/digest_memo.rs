//! The outstanding table's per-message hashes, computed once per parsed
//! message. Repeated messages (the same bytes under another txid) share
//! one parsed `Message` (decode/memo.rs), so the question hash and the
//! answer digest of such a message are computed for its first copy and
//! found again by the message's address for the others (hashing the
//! question name and every answer record was ~6% of the agent under
//! load). An entry holds a reference to its message, so while it lives
//! no other message can be allocated at that address; a message not seen
//! again simply has its entry replaced. Bounded: [`SLOTS`] entries.

use std::sync::Arc;

use hickory_proto::op::Message;

/// Direct-mapped entries (the hot set is the messages of the last few
/// milliseconds: a query and its answer are looked up close together).
pub(crate) const SLOTS: usize = 256;

struct Slot {
    msg: Arc<Message>,
    /// None: not computed yet; Some(None): the message has no question.
    question: Option<Option<u64>>,
    answer: Option<u64>,
}

pub(crate) struct DigestMemo {
    slots: Box<[Option<Slot>]>,
}

impl Default for DigestMemo {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| None).collect(),
        }
    }
}

impl DigestMemo {
    fn slot(&mut self, m: &Arc<Message>) -> &mut Slot {
        // Fibonacci hashing of the address: the top bits index the table.
        let addr = Arc::as_ptr(m) as usize as u64;
        let i =
            (addr.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS.trailing_zeros())) as usize;
        let s = &mut self.slots[i];
        if !s.as_ref().is_some_and(|slot| Arc::ptr_eq(&slot.msg, m)) {
            *s = None;
        }
        s.get_or_insert_with(|| Slot {
            msg: m.clone(),
            question: None,
            answer: None,
        })
    }

    /// `m`'s question hash, computed by `f` the first time.
    pub(crate) fn question(
        &mut self,
        m: &Arc<Message>,
        f: impl FnOnce(&Message) -> Option<u64>,
    ) -> Option<u64> {
        let s = self.slot(m);
        *s.question.get_or_insert_with(|| f(m))
    }

    /// `m`'s answer digest, computed by `f` the first time.
    pub(crate) fn answer(&mut self, m: &Arc<Message>, f: impl FnOnce(&Message) -> u64) -> u64 {
        let s = self.slot(m);
        *s.answer.get_or_insert_with(|| f(m))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use hickory_proto::op::{MessageType, OpCode};

    use super::*;

    fn msg(id: u16) -> Arc<Message> {
        Arc::new(Message::new(id, MessageType::Query, OpCode::Query))
    }

    #[test]
    fn computed_once_per_message_and_apart_for_others() {
        let mut memo = DigestMemo::default();
        let calls = Cell::new(0);
        let f = |m: &Message| {
            calls.set(calls.get() + 1);
            Some(u64::from(m.metadata.id))
        };
        let a = msg(1);
        let a2 = a.clone();
        assert_eq!(memo.question(&a, f), Some(1));
        assert_eq!(memo.question(&a2, f), Some(1));
        assert_eq!(calls.get(), 1, "the same message is hashed once");
        // An equal but distinct message is computed on its own.
        let b = msg(2);
        assert_eq!(memo.question(&b, f), Some(2));
        assert_eq!(memo.answer(&a, |_| 7), 7);
        assert_eq!(memo.answer(&a, |_| 8), 7);
    }

    #[test]
    fn a_replaced_entry_is_recomputed_and_addresses_are_not_reused_while_held() {
        let mut memo = DigestMemo::default();
        // Far more messages than slots, all alive: every one gets its own
        // value back, whatever entries they displaced.
        let msgs: Vec<Arc<Message>> = (0..(SLOTS as u16 * 4)).map(msg).collect();
        for m in &msgs {
            assert_eq!(
                memo.answer(m, |m| u64::from(m.metadata.id)),
                u64::from(m.metadata.id)
            );
        }
        for m in msgs.iter().rev() {
            assert_eq!(
                memo.answer(m, |m| u64::from(m.metadata.id)),
                u64::from(m.metadata.id)
            );
        }
        // A message dropped by its owner stays alive in the memo: the next
        // allocation cannot take its address and inherit its digest.
        let held = msg(9);
        let addr = Arc::as_ptr(&held);
        memo.answer(&held, |_| 9);
        drop(held);
        let next = msg(10);
        assert_ne!(Arc::as_ptr(&next), addr);
        assert_eq!(memo.answer(&next, |_| 10), 10);
    }
}
