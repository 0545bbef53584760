//! A DNS message's bytes as captured, shared between repeated messages.
//!
//! Messages that differ only in their id (RFC 1035 §4.1.1, the first two
//! bytes) share one buffer, the first copy's (see `memo.rs`): a [`Wire`] is
//! that buffer plus this message's own id, and gives the exact captured
//! bytes back on demand. Under load this saves a copy (and an allocation
//! and a free) per message; the bytes are only read when something is
//! written out (event lines, the forensic store).

use std::borrow::Cow;
use std::sync::Arc;

#[derive(Clone)]
pub struct Wire {
    body: Arc<[u8]>,
    txid: u16,
}

fn id_of(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

impl Wire {
    /// Bytes that are this message's own.
    pub fn new(bytes: Arc<[u8]>) -> Wire {
        let txid = id_of(&bytes).unwrap_or(0);
        Wire { body: bytes, txid }
    }

    /// `body` is another copy of this message under any id; `txid` is
    /// this one's. A body shorter than a header is taken as it is.
    pub fn shared(body: Arc<[u8]>, txid: u16) -> Wire {
        let txid = if body.len() < 2 { 0 } else { txid };
        Wire { body, txid }
    }

    pub fn len(&self) -> usize {
        self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// True when the shared buffer already holds exactly these bytes.
    fn is_own(&self) -> bool {
        id_of(&self.body).is_none_or(|id| id == self.txid)
    }

    /// The message's bytes exactly as captured.
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        if self.is_own() {
            return Cow::Borrowed(&self.body);
        }
        let mut v = self.body.to_vec();
        v[..2].copy_from_slice(&self.txid.to_be_bytes());
        Cow::Owned(v)
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes().into_owned()
    }

    /// The shared buffer (its id may be another copy's).
    pub fn body(&self) -> &Arc<[u8]> {
        &self.body
    }
}

impl From<Vec<u8>> for Wire {
    fn from(v: Vec<u8>) -> Wire {
        Wire::new(v.into())
    }
}

impl From<&[u8]> for Wire {
    fn from(v: &[u8]) -> Wire {
        Wire::new(v.into())
    }
}

impl PartialEq for Wire {
    fn eq(&self, o: &Wire) -> bool {
        self.bytes() == o.bytes()
    }
}

impl Eq for Wire {}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Wire({} bytes, id {:#06x})", self.len(), self.txid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_bytes_are_borrowed_and_others_patched() {
        let body: Arc<[u8]> = vec![0x12, 0x34, 1, 2, 3].into();
        let own = Wire::shared(body.clone(), 0x1234);
        assert!(matches!(own.bytes(), Cow::Borrowed(_)));
        assert_eq!(own.to_vec(), [0x12, 0x34, 1, 2, 3]);
        let other = Wire::shared(body.clone(), 0xbeef);
        assert_eq!(other.to_vec(), [0xbe, 0xef, 1, 2, 3]);
        // The shared buffer itself is untouched.
        assert_eq!(&body[..], [0x12, 0x34, 1, 2, 3]);
        assert_ne!(own, other);
        assert_eq!(other, Wire::from(vec![0xbe, 0xef, 1, 2, 3]));
    }

    #[test]
    fn short_bodies_are_taken_as_they_are() {
        assert_eq!(Wire::from(Vec::new()).to_vec(), Vec::<u8>::new());
        assert_eq!(Wire::shared(vec![7].into(), 0xffff).to_vec(), [7]);
        assert!(Wire::from(Vec::new()).is_empty());
    }
}
