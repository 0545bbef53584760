//! Deckard entry semantics on the wire: does a query match an entry's
//! `MATCH` list, and what answer does the entry make of it (`ADJUST`,
//! `REPLY`, `SECTION`s, `RAW`).

use hickory_proto::op::Message;
use hickory_proto::rr::Name;

use super::parse::{Entry, Flags};
use super::text::{RawQuestion, RawRecord, name_wire};

/// The parts of an incoming query that entries match on.
#[derive(Clone, Debug)]
pub struct QueryView {
    pub id: u16,
    pub opcode: u8,
    pub flags: Flags,
    pub question: Vec<RawQuestion>,
    /// The query carried an OPT record (RFC 6891).
    pub edns: bool,
}

impl QueryView {
    /// Parses a query the engine sent; `Err` says why it is not one.
    pub fn from_wire(bytes: &[u8]) -> Result<Self, String> {
        let msg = Message::from_vec(bytes).map_err(|e| format!("undecodable query: {e}"))?;
        let m = &msg.metadata;
        let edns = msg.edns.as_ref();
        Ok(Self {
            id: m.id,
            opcode: u8::from(m.op_code),
            flags: Flags {
                qr: m.message_type == hickory_proto::op::MessageType::Response,
                aa: m.authoritative,
                tc: m.truncation,
                rd: m.recursion_desired,
                ra: m.recursion_available,
                ad: m.authentic_data,
                cd: m.checking_disabled,
                do_: edns.is_some_and(|e| e.flags().dnssec_ok),
            },
            question: msg
                .queries
                .iter()
                .map(|q| RawQuestion {
                    name: q.name().clone(),
                    qtype: u16::from(q.query_type()),
                    qclass: u16::from(q.query_class()),
                })
                .collect(),
            edns: edns.is_some(),
        })
    }
}

fn same_flags(a: &Flags, b: &Flags) -> bool {
    // Deckard's `flags` compares the header flags, not EDNS DO.
    (a.qr, a.aa, a.tc, a.rd, a.ra, a.ad, a.cd) == (b.qr, b.aa, b.tc, b.rd, b.ra, b.ad, b.cd)
}

/// Whether `query` satisfies every `MATCH` element of `entry` (scenario
/// guide, "Entry matching"). Question conditions hold trivially when the
/// entry has no question.
pub fn query_matches(entry: &Entry, query: &QueryView) -> bool {
    let want = entry.question.first();
    let got = query.question.first();
    entry.matches.iter().all(|m| {
        let q = |f: &dyn Fn(&RawQuestion, &RawQuestion) -> bool| match (want, got) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(w), Some(g)) => f(w, g),
        };
        match m.as_str() {
            "opcode" => entry.opcode == query.opcode,
            "qtype" => q(&|w, g| w.qtype == g.qtype),
            "qname" => q(&|w, g| w.name == g.name),
            "qcase" => q(&|w, g| w.name.eq_case(&g.name)),
            "subdomain" => q(&|w, g| w.name.zone_of(&g.name)),
            "question" => q(&|w, g| w.qtype == g.qtype && w.name == g.name),
            "flags" => same_flags(&entry.flags, &query.flags),
            // A query has rcode 0 and empty record sections.
            "rcode" => entry.rcode == 0,
            "answer" => entry.answer.is_empty(),
            "authority" => entry.authority.is_empty(),
            "additional" => entry.additional.is_empty(),
            "all" => {
                entry.opcode == query.opcode
                    && q(&|w, g| w.qtype == g.qtype && w.name == g.name)
                    && same_flags(&entry.flags, &query.flags)
                    && entry.rcode == 0
                    && entry.answer.is_empty()
                    && entry.authority.is_empty()
                    && entry.additional.is_empty()
            }
            // EDNS version/payload and NSID do not decide which scripted
            // answer applies to our queries.
            "edns" | "nsid" => true,
            _ => false,
        }
    })
}

/// The answer `entry` makes to `query`, or `None` for `do_not_answer`.
pub fn build_reply(entry: &Entry, query: &QueryView) -> Option<Vec<u8>> {
    if entry.adjust.do_not_answer {
        return None;
    }
    if let Some(raw) = &entry.raw {
        let mut raw = raw.clone();
        if entry.adjust.raw_id && raw.len() >= 2 {
            raw[..2].copy_from_slice(&query.id.to_be_bytes());
        }
        return Some(raw);
    }
    let mut question = entry.question.clone();
    if entry.adjust.copy_id {
        // Deckard's copy_id also copies the query name (its issue #9).
        if let (Some(w), Some(g)) = (question.first_mut(), query.question.first()) {
            w.name = g.name.clone();
        }
    }
    if entry.adjust.copy_query {
        question = query.question.clone();
    }
    let id = if entry.adjust.copy_id { query.id } else { 0 };
    Some(encode(
        id,
        entry.opcode,
        entry.rcode,
        &entry.flags,
        &question,
        [&entry.answer, &entry.authority, &entry.additional],
        // Answer with EDNS when asked with EDNS (RFC 6891 §7), DO copied
        // back (RFC 3225 §3).
        query.edns.then_some(query.flags.do_ || entry.flags.do_),
    ))
}

/// Encodes a message, uncompressed. `edns` is `Some(do_bit)` to add OPT.
pub fn encode(
    id: u16,
    opcode: u8,
    rcode: u16,
    f: &Flags,
    question: &[RawQuestion],
    sections: [&[RawRecord]; 3],
    edns: Option<bool>,
) -> Vec<u8> {
    let mut o = Vec::with_capacity(512);
    o.extend_from_slice(&id.to_be_bytes());
    let b1 = (u8::from(f.qr) << 7)
        | ((opcode & 0xf) << 3)
        | (u8::from(f.aa) << 2)
        | (u8::from(f.tc) << 1)
        | u8::from(f.rd);
    let b2 =
        (u8::from(f.ra) << 7) | (u8::from(f.ad) << 5) | (u8::from(f.cd) << 4) | (rcode & 0xf) as u8;
    o.extend_from_slice(&[b1, b2]);
    let ar = sections[2].len() + usize::from(edns.is_some());
    for count in [question.len(), sections[0].len(), sections[1].len(), ar] {
        o.extend_from_slice(&(count as u16).to_be_bytes());
    }
    for q in question {
        name_wire(&q.name, &mut o);
        o.extend_from_slice(&q.qtype.to_be_bytes());
        o.extend_from_slice(&q.qclass.to_be_bytes());
    }
    for section in sections {
        for r in section {
            name_wire(&r.owner, &mut o);
            o.extend_from_slice(&r.rtype.to_be_bytes());
            o.extend_from_slice(&r.class.to_be_bytes());
            o.extend_from_slice(&r.ttl.to_be_bytes());
            o.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
            o.extend_from_slice(&r.rdata);
        }
    }
    if let Some(do_bit) = edns {
        // OPT pseudo-RR (RFC 6891 §6.1.2): root owner, payload 4096,
        // extended rcode high bits, version 0, DO flag.
        name_wire(&Name::root(), &mut o);
        o.extend_from_slice(&41u16.to_be_bytes());
        o.extend_from_slice(&4096u16.to_be_bytes());
        o.push((rcode >> 4) as u8);
        o.push(0);
        o.extend_from_slice(&(if do_bit { 0x8000u16 } else { 0 }).to_be_bytes());
        o.extend_from_slice(&0u16.to_be_bytes());
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deckard::parse::Adjust;
    use crate::deckard::text::{parse_question, parse_record};

    fn query(name: &str, qtype: u16) -> QueryView {
        QueryView {
            id: 0x1234,
            opcode: 0,
            flags: Flags {
                rd: true,
                do_: true,
                ..Flags::default()
            },
            question: vec![RawQuestion {
                name: crate::deckard::text::parse_name(name).unwrap(),
                qtype,
                qclass: 1,
            }],
            edns: true,
        }
    }

    fn entry(matches: &str, q: &str) -> Entry {
        Entry {
            matches: matches.split_whitespace().map(String::from).collect(),
            adjust: Adjust {
                copy_id: true,
                ..Adjust::default()
            },
            flags: Flags {
                qr: true,
                aa: true,
                ..Flags::default()
            },
            question: vec![parse_question(q).unwrap()],
            answer: vec![parse_record("www.example.com. 60 IN A 192.0.2.7").unwrap()],
            ..Entry::default()
        }
    }

    #[test]
    fn qname_and_qtype_matching() {
        let e = entry("opcode qtype qname", "www.example.com. IN A");
        assert!(query_matches(&e, &query("WWW.Example.com.", 1)));
        assert!(!query_matches(&e, &query("www.example.com.", 28)));
        assert!(!query_matches(&e, &query("example.com.", 1)));
        let s = entry("opcode subdomain", "example.com. IN A");
        assert!(query_matches(&s, &query("a.b.example.com.", 1)));
        assert!(!query_matches(&s, &query("example.net.", 1)));
        let unknown = entry("opcode frobnicate", "example.com. IN A");
        assert!(!query_matches(&unknown, &query("example.com.", 1)));
    }

    #[test]
    fn reply_copies_id_and_query_name_and_decodes() {
        let e = entry("opcode qtype qname", "www.example.com. IN A");
        let wire = build_reply(&e, &query("WWW.example.com.", 1)).unwrap();
        let msg = Message::from_vec(&wire).unwrap();
        assert_eq!(msg.metadata.id, 0x1234);
        assert!(msg.metadata.authoritative);
        assert_eq!(msg.queries[0].name().to_ascii(), "WWW.example.com.");
        assert_eq!(msg.answers.len(), 1);
        assert!(msg.edns.as_ref().unwrap().flags().dnssec_ok);
        let mut quiet = e.clone();
        quiet.adjust.do_not_answer = true;
        assert!(build_reply(&quiet, &query("www.example.com.", 1)).is_none());
    }
}
