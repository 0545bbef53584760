//! The DNSSEC records an alert's verdict rested on, for the store: the
//! validated answers and their RRSIGs, and for every zone on the chain of
//! trust its DNSKEY RRset and, below the anchor, its DS RRset, each with
//! the RRSIGs over it. `verify-evidence` re-checks exactly these offline.
//!
//! The engine's verdict keeps key tags, not keys (a verdict must stay
//! small in the cache), so the records are asked of the engine again:
//! right after the verdict, its caches answer without network traffic in
//! the common case. The whole collection is bounded in time.

use std::time::Duration;

use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use crate::dnssec::engine::{Engine, Lookup};
use crate::store::Evidence;

/// Longest wait for the chain's records (a cold cache asks the servers).
pub const EVIDENCE_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the collection finished or was cut short by the timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collected {
    Complete,
    TimedOut,
}

/// The evidence for `l`; on timeout, or when `hurry` turns true (the
/// daemon is stopping), what was gathered until then.
pub async fn collect(
    engine: &Engine,
    l: &Lookup,
    mut hurry: tokio::sync::watch::Receiver<bool>,
) -> (Vec<Evidence>, Collected) {
    let mut out = Records::default();
    let (_, answers) = l.answers_with_verdict();
    out.extend(answers);
    out.extend(&l.rrsigs);
    let chain = async {
        for step in &l.trace.steps {
            let keys = engine.lookup(&step.zone, RecordType::DNSKEY).await;
            out.extend(keys.answers_with_verdict().1);
            out.extend(&keys.rrsigs);
            // The anchor's DS (the root's) lives in the trust anchor file,
            // not in DNS.
            if !step.zone.is_root() && !step.ds_key_tags.is_empty() {
                let ds = engine.lookup(&step.zone, RecordType::DS).await;
                out.extend(ds.answers_with_verdict().1);
                out.extend(&ds.rrsigs);
            }
        }
    };
    let status = tokio::select! {
        done = tokio::time::timeout(EVIDENCE_TIMEOUT, chain) => match done {
            Ok(()) => Collected::Complete,
            Err(_) => Collected::TimedOut,
        },
        _ = hurry.wait_for(|h| *h) => Collected::TimedOut,
    };
    (out.0, status)
}

/// Evidence rows without duplicates (the same RRSIG can arrive through
/// the answer and through a chain lookup).
#[derive(Default)]
struct Records(Vec<Evidence>);

impl Records {
    fn extend<'a>(&mut self, records: impl IntoIterator<Item = &'a Record>) {
        for r in records {
            let Ok(wire) = r.to_bytes() else { continue };
            if self.0.iter().any(|e| e.wire == wire) {
                continue;
            }
            self.0.push(Evidence {
                owner: r.name.to_ascii(),
                rtype: u16::from(r.record_type()),
                wire,
                presentation: Some(r.to_string()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::testnet::name;
    use hickory_proto::rr::{RData, rdata::A};
    use hickory_proto::serialize::binary::BinDecodable;

    #[test]
    fn records_are_deduplicated_by_wire_form() {
        let a = Record::from_rdata(name("www.example."), 300, RData::A(A::new(192, 0, 2, 1)));
        let b = Record::from_rdata(name("www.example."), 300, RData::A(A::new(192, 0, 2, 2)));
        let mut r = Records::default();
        r.extend([&a, &a, &b]);
        assert_eq!(r.0.len(), 2);
        assert_eq!(r.0[0].owner, "www.example.");
        assert_eq!(r.0[0].rtype, 1);
        let back = Record::from_bytes(&r.0[1].wire).unwrap();
        assert_eq!(back, b, "wire form round-trips for verify-evidence");
    }
}
