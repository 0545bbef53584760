//! The compact form of a cached lookup (DESIGN.md "Targets": 100,000
//! cached names in ≤ 64 MiB).
//!
//! A [`Lookup`](super::engine::Lookup) in memory is large: hickory `Record`s
//! (~280 bytes each, inline `Name`s) in `Vec`s with spare capacity, and the
//! whole chain-of-trust trace, identical for every name of a zone. The
//! cache keeps instead, per (name, type):
//! - one shared allocation (`Arc<[u8]>`) holding the key (lowercased wire
//!   name + type), the answer records and their RRSIGs in DNS wire form
//!   (one encoder, so names are compressed against each other, RFC 1035
//!   §4.1.4; names compare case-insensitively, RFC 4343, so a repeated name
//!   reads back with the case of its first occurrence) and the trace steps
//!   that are this lookup's own;
//! - the trace prefix shared with other names ([`TraceInterner`]);
//! - the verdict, `None` for Secure (the common case costs nothing).
//!
//! A cache hit decodes this back into a `Lookup`.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use hickory_proto::ProtoError;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use thiserror::Error;

use super::verdict::{SigWindow, TraceStep, Verdict};

/// A cached blob that does not decode (never expected: we wrote it).
#[derive(Debug, Error)]
pub enum CachedError {
    #[error("cannot encode a cache entry: {0}")]
    Encode(#[from] ProtoError),
    #[error("corrupt cache entry: {0}")]
    Decode(String),
}

/// The cache key and the packed data in one allocation; hashes and
/// compares as its key part only.
#[derive(Clone, Debug)]
pub struct CacheKey(Arc<[u8]>);

impl CacheKey {
    fn key(&self) -> &[u8] {
        let len = usize::from(u16::from_be_bytes([self.0[0], self.0[1]]));
        &self.0[2..2 + len]
    }

    /// Bytes held by the allocation (data + `Arc` counters).
    pub fn heap_bytes(&self) -> usize {
        self.0.len() + 16
    }
}

impl Borrow<[u8]> for CacheKey {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

impl PartialEq for CacheKey {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for CacheKey {}

impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must equal the hash of the borrowed `[u8]` (Borrow contract).
        self.key().hash(state);
    }
}

/// What the cache keeps next to the packed bytes.
#[derive(Clone, Debug)]
pub struct CachedMeta {
    /// `None` = Secure.
    pub verdict: Option<Arc<Verdict>>,
    /// The first trace steps, shared with other lookups.
    pub prefix: Option<Arc<[TraceStep]>>,
    pub rcode: ResponseCode,
}

/// A lookup as read back from the cache.
pub struct Unpacked {
    pub answers: Vec<Record>,
    pub rrsigs: Vec<Record>,
    pub steps: Vec<TraceStep>,
}

/// The lookup key: lowercased wire name (RFC 4343) and type.
pub fn key_bytes(qname_lower: &Name, rtype: RecordType) -> Vec<u8> {
    let mut k = qname_lower.to_bytes().unwrap_or_default();
    k.extend_from_slice(&u16::from(rtype).to_be_bytes());
    k
}

fn count(n: usize, what: &str) -> Result<u16, CachedError> {
    u16::try_from(n).map_err(|_| CachedError::Decode(format!("too many {what}: {n}")))
}

/// Packs `key`, the records and the lookup's own trace steps.
pub fn pack(
    key: &[u8],
    answers: &[Record],
    rrsigs: &[Record],
    own_steps: &[TraceStep],
) -> Result<CacheKey, CachedError> {
    let mut buf = Vec::with_capacity(256);
    {
        let mut e = BinEncoder::new(&mut buf);
        e.emit_u16(count(key.len(), "key bytes")?)?;
        e.emit_vec(key)?;
        e.emit_u16(count(answers.len(), "answers")?)?;
        e.emit_u16(count(rrsigs.len(), "rrsigs")?)?;
        for r in answers.iter().chain(rrsigs) {
            r.emit(&mut e)?;
        }
        e.emit_u16(count(own_steps.len(), "trace steps")?)?;
        for s in own_steps {
            s.zone.emit(&mut e)?;
            for tags in [&s.ds_key_tags, &s.dnskey_key_tags] {
                e.emit_u16(count(tags.len(), "key tags")?)?;
                for t in tags.iter() {
                    e.emit_u16(*t)?;
                }
            }
            e.emit_u16(count(s.signatures.len(), "signature windows")?)?;
            for w in &s.signatures {
                e.emit_u16(w.key_tag)?;
                e.emit_u8(w.algorithm)?;
                e.emit_u32(w.inception)?;
                e.emit_u32(w.expiration)?;
            }
            e.emit_u16(count(s.note.len(), "note bytes")?)?;
            e.emit_vec(s.note.as_bytes())?;
        }
    }
    Ok(CacheKey(Arc::from(buf)))
}

fn bad(e: impl std::fmt::Display) -> CachedError {
    CachedError::Decode(e.to_string())
}

/// Reads back what [`pack`] wrote.
pub fn unpack(k: &CacheKey) -> Result<Unpacked, CachedError> {
    let mut d = BinDecoder::new(&k.0);
    let u16_ = |d: &mut BinDecoder<'_>| d.read_u16().map(|v| v.unverified()).map_err(bad);
    let klen = u16_(&mut d)?;
    d.read_slice(usize::from(klen)).map_err(bad)?;
    let n_answers = u16_(&mut d)?;
    let n_rrsigs = u16_(&mut d)?;
    let mut answers = Vec::with_capacity(usize::from(n_answers));
    for _ in 0..n_answers {
        answers.push(Record::read(&mut d).map_err(bad)?);
    }
    let mut rrsigs = Vec::with_capacity(usize::from(n_rrsigs));
    for _ in 0..n_rrsigs {
        rrsigs.push(Record::read(&mut d).map_err(bad)?);
    }
    let n_steps = u16_(&mut d)?;
    let mut steps = Vec::with_capacity(usize::from(n_steps));
    for _ in 0..n_steps {
        let zone = Name::read(&mut d).map_err(bad)?;
        let mut tags = [Vec::new(), Vec::new()];
        for t in &mut tags {
            let n = u16_(&mut d)?;
            for _ in 0..n {
                t.push(u16_(&mut d)?);
            }
        }
        let [ds_key_tags, dnskey_key_tags] = tags;
        let n = u16_(&mut d)?;
        let mut signatures = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let key_tag = u16_(&mut d)?;
            let algorithm = d.read_u8().map_err(bad)?.unverified();
            let inception = d.read_u32().map_err(bad)?.unverified();
            let expiration = d.read_u32().map_err(bad)?.unverified();
            signatures.push(SigWindow {
                key_tag,
                algorithm,
                inception,
                expiration,
            });
        }
        let len = u16_(&mut d)?;
        let note = d.read_slice(usize::from(len)).map_err(bad)?.unverified();
        let note = String::from_utf8(note.to_vec()).map_err(bad)?;
        steps.push(TraceStep {
            zone,
            ds_key_tags,
            dnskey_key_tags,
            signatures,
            note,
        });
    }
    Ok(Unpacked {
        answers,
        rrsigs,
        steps,
    })
}

/// Shares identical trace prefixes between cached lookups: every name of a
/// zone has the same chain from the anchor. Bounded: when full it starts
/// over (entries keep their `Arc`s; only future sharing restarts).
pub struct TraceInterner {
    set: Mutex<HashSet<Arc<[TraceStep]>>>,
    max: usize,
}

impl TraceInterner {
    pub fn new(max: usize) -> Self {
        Self {
            set: Mutex::new(HashSet::new()),
            max: max.max(1),
        }
    }

    /// The shared copy of `steps`.
    pub fn intern(&self, steps: &[TraceStep]) -> Arc<[TraceStep]> {
        let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = set.get(steps) {
            return a.clone();
        }
        if set.len() >= self.max {
            set.clear();
        }
        let a: Arc<[TraceStep]> = Arc::from(steps);
        set.insert(a.clone());
        a
    }

    pub fn len(&self) -> usize {
        self.set.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::RData;
    use hickory_proto::rr::rdata::{A, CNAME};
    use std::str::FromStr;

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn step(zone: &str, note: &str) -> TraceStep {
        TraceStep {
            zone: n(zone),
            ds_key_tags: vec![1, 2],
            dnskey_key_tags: vec![3],
            signatures: vec![SigWindow {
                key_tag: 3,
                algorithm: 13,
                inception: 10,
                expiration: 20,
            }],
            note: note.into(),
        }
    }

    #[test]
    fn pack_unpack_round_trip() {
        let a = Record::from_rdata(n("Www.Example."), 300, RData::A(A::new(192, 0, 2, 1)));
        let c = Record::from_rdata(
            n("alias.example."),
            60,
            RData::CNAME(CNAME(n("www.example."))),
        );
        let key = key_bytes(&n("alias.example."), RecordType::A);
        let steps = [step("example.", "n1 signed ✓"), step(".", "")];
        let k = pack(&key, &[c.clone(), a.clone()], &[], &steps).unwrap();
        let u = unpack(&k).unwrap();
        assert_eq!(u.answers, vec![c, a]);
        // Compression matches names case-insensitively (RFC 4343): a
        // repeated name reads back with its first occurrence's case.
        assert_eq!(u.answers[1].name.to_string(), "www.example.");
        assert_eq!(u.answers[0].name.to_string(), "alias.example.");
        assert!(u.rrsigs.is_empty());
        assert_eq!(u.steps, steps);
        let b: &[u8] = k.borrow();
        assert_eq!(b, key.as_slice());
        // Another key does not compare equal.
        let other = pack(
            &key_bytes(&n("alias.example."), RecordType::AAAA),
            &[],
            &[],
            &[],
        )
        .unwrap();
        assert_ne!(k, other);
        assert!(k.heap_bytes() < 200, "compact: {}", k.heap_bytes());
    }

    #[test]
    fn truncated_blob_is_an_error_not_a_panic() {
        let a = Record::from_rdata(n("a.example."), 300, RData::A(A::new(192, 0, 2, 1)));
        let key = key_bytes(&n("a.example."), RecordType::A);
        let k = pack(&key, &[a], &[], &[step("example.", "x")]).unwrap();
        for cut in [k.0.len() - 1, k.0.len() / 2, key.len() + 3] {
            let short = CacheKey(Arc::from(&k.0[..cut]));
            assert!(unpack(&short).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn interner_shares_equal_prefixes_and_stays_bounded() {
        let i = TraceInterner::new(2);
        let p1 = i.intern(&[step(".", "root")]);
        let p2 = i.intern(&[step(".", "root")]);
        assert!(Arc::ptr_eq(&p1, &p2));
        let p3 = i.intern(&[step(".", "other")]);
        assert!(!Arc::ptr_eq(&p1, &p3));
        i.intern(&[step(".", "third")]);
        assert!(i.len() <= 2);
    }
}
