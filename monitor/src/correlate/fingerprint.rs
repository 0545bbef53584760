//! Cheap fingerprints for the outstanding-query table: the question an
//! answer must match, and the content that tells two answers to one query
//! apart. They run on every DNS message, so nothing here allocates or
//! formats; what a race alert shows of the first answer is kept as data
//! ([`FirstAnswer`]) and rendered only when a race is reported.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::decode::presentation as pres;

/// Keyed hashes of questions and answers. The key is random per table:
/// someone who can put records into answers cannot precompute a forged
/// answer whose digest equals the genuine one (a collision would make a
/// race look like a retransmission).
#[derive(Clone, Default)]
pub(crate) struct Fingerprints {
    state: foldhash::quality::RandomState,
}

/// Feeds `name` to `h` in wire form with its ASCII letters lowercased
/// (names compare case-insensitively, RFC 4343 §3), without building a
/// lowercased `Name`.
fn write_name_lowercase<H: Hasher>(h: &mut H, name: &Name) {
    // A wire name is at most 255 octets (RFC 1035 §3.1); a longer one
    // (impossible from the parser) is fed in pieces, which still hashes
    // equal names equally.
    let mut buf = [0u8; 256];
    let mut n = 0;
    for label in name.iter() {
        if n + 1 + label.len() > buf.len() {
            h.write(lowercase(&mut buf, n));
            n = 0;
        }
        let len = label.len().min(buf.len() - 1);
        // Length octets are at most 63 (RFC 1035 §2.3.4): never a letter,
        // so lowercasing the whole buffer leaves them alone.
        buf[n] = len as u8;
        buf[n + 1..n + 1 + len].copy_from_slice(&label[..len]);
        n += 1 + len;
    }
    h.write(lowercase(&mut buf, n));
}

/// ASCII-lowercases `buf[..n]` eight bytes at a time (a byte loop was a
/// tenth of the table's time); bytes past `n` are changed too, harmlessly.
fn lowercase(buf: &mut [u8; 256], n: usize) -> &[u8] {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HI: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    for chunk in buf[..n.next_multiple_of(8)].chunks_exact_mut(8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let low7 = w & LO7;
        // Per byte (no carries: each low-7 value plus the constant stays
        // below 0x100): high bit set when > 'Z', when >= 'A'.
        let above_z = low7 + ONES * (0x7f - u64::from(b'Z'));
        let from_a = low7 + ONES * (0x80 - u64::from(b'A'));
        let upper = (from_a ^ above_z) & !w & HI;
        chunk.copy_from_slice(&(w | (upper >> 2)).to_le_bytes());
    }
    &buf[..n]
}

impl Fingerprints {
    /// The question as RFC 5452 §9.1 matches it: QNAME case-insensitively,
    /// QTYPE and QCLASS.
    pub(crate) fn question(&self, q: &Query) -> u64 {
        let mut h = self.state.build_hasher();
        write_name_lowercase(&mut h, q.name());
        h.write_u16(u16::from(q.query_type()));
        h.write_u16(u16::from(q.query_class()));
        h.finish()
    }

    /// Order-independent digest of an answer's rcode and answer records:
    /// owner (case-insensitive), type and data of each record. TTLs and
    /// RRSIGs are left out (a resolver answering a retransmission
    /// decrements TTLs; signatures may be regenerated), and so is the
    /// class (as before: answers are told apart by what they say).
    /// Records are combined by a wrapping sum of keyed per-record hashes:
    /// commutative, and unlike XOR a record present twice still counts.
    pub(crate) fn answer(&self, m: &Message) -> u64 {
        let mut sum = 0u64;
        let mut count = 0u64;
        for r in m
            .answers
            .iter()
            .filter(|r| r.record_type() != RecordType::RRSIG)
        {
            let mut h = self.state.build_hasher();
            write_name_lowercase(&mut h, &r.name);
            h.write_u16(u16::from(r.record_type()));
            // RData's derived Hash is structural (names in it compare
            // case-insensitively, like the owner), i.e. the wire data.
            r.data.hash(&mut h);
            sum = sum.wrapping_add(h.finish());
            count += 1;
        }
        let mut h = self.state.build_hasher();
        h.write_u16(u16::from(m.metadata.response_code));
        h.write_u64(sum);
        h.write_u64(count);
        h.finish()
    }
}

/// Addresses kept inline; an answer with more is kept as records.
const INLINE_ADDRS: usize = 4;

/// What a race alert shows of the first answer to a query, kept unformatted.
#[derive(Clone, Debug)]
pub(crate) enum FirstAnswer {
    /// The common answer, stored without allocating: only A/AAAA records
    /// of one owner, at most [`INLINE_ADDRS`] (none for NXDOMAIN/NODATA).
    Addresses {
        rcode: ResponseCode,
        len: u8,
        addrs: [IpAddr; INLINE_ADDRS],
    },
    /// Anything else: the answer records (RRSIGs left out).
    Records {
        rcode: ResponseCode,
        records: Box<[Record]>,
    },
}

impl FirstAnswer {
    pub(crate) fn of(m: &Message) -> FirstAnswer {
        let rcode = m.metadata.response_code;
        let mut addrs = [IpAddr::from([0u8; 4]); INLINE_ADDRS];
        let mut len = 0;
        let mut owner: Option<&Name> = None;
        let mut inline = true;
        for r in m
            .answers
            .iter()
            .filter(|r| r.record_type() != RecordType::RRSIG)
        {
            let addr = match &r.data {
                RData::A(a) => IpAddr::from(a.0),
                RData::AAAA(a) => IpAddr::from(a.0),
                _ => {
                    inline = false;
                    break;
                }
            };
            // Name equality is case-insensitive, like the lowercased
            // owners the rendering sorts by.
            if len == INLINE_ADDRS || owner.is_some_and(|o| *o != r.name) {
                inline = false;
                break;
            }
            owner = Some(&r.name);
            addrs[len] = addr;
            len += 1;
        }
        if inline {
            return FirstAnswer::Addresses {
                rcode,
                len: len as u8,
                addrs,
            };
        }
        FirstAnswer::Records {
            rcode,
            records: m
                .answers
                .iter()
                .filter(|r| r.record_type() != RecordType::RRSIG)
                .cloned()
                .collect(),
        }
    }

    /// One line: the rcode and the records' data, ordered by owner, type
    /// and data as presented (what `Join::Race::first` always showed).
    pub(crate) fn render(&self) -> String {
        match self {
            FirstAnswer::Addresses { rcode, len, addrs } => {
                // One owner: ordering "owner type data" is ordering "type data".
                let mut items: Vec<String> = addrs[..usize::from(*len)]
                    .iter()
                    .map(|a| {
                        let t = if a.is_ipv4() { "A" } else { "AAAA" };
                        format!("{t} {a}")
                    })
                    .collect();
                items.sort();
                join_summary(*rcode, &items)
            }
            FirstAnswer::Records { rcode, records } => summary(*rcode, records),
        }
    }
}

/// The one-line summary of an answer's records (RRSIGs already left out).
pub(crate) fn summary(rcode: ResponseCode, records: &[Record]) -> String {
    let mut items: Vec<String> = records
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.name.to_lowercase(),
                pres::rtype(r.record_type()),
                pres::rdata(&r.data)
            )
        })
        .collect();
    items.sort();
    join_summary(rcode, &items)
}

/// `RCODE data,data…` from sorted "… data" items (the data is the last word).
fn join_summary(rcode: ResponseCode, items: &[String]) -> String {
    let data: Vec<&str> = items
        .iter()
        .map(|s| s.rsplit_once(' ').map_or(s.as_str(), |(_, d)| d))
        .collect();
    if data.is_empty() {
        pres::rcode(rcode)
    } else {
        format!("{} {}", pres::rcode(rcode), data.join(","))
    }
}

#[cfg(test)]
#[path = "fingerprint_tests.rs"]
mod tests;
