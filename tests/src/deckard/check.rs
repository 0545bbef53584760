//! `CHECK_ANSWER`: what a validating resolver built on the engine would
//! have answered, compared with the scenario's expected message.
//!
//! Mapping (Deckard's verdict convention, `../shared/conformance/README.md`):
//! - rcode: SERVFAIL when the verdict is Bogus or Indeterminate (RFC 4035
//!   §5.5) unless the query set CD (RFC 4035 §3.2.2: the client validates);
//!   otherwise the rcode the engine resolved.
//! - AD: set iff the verdict is Secure and the query asked for DNSSEC
//!   (DO or AD, RFC 6840 §5.7–5.8). Only AD is compared of the header flags:
//!   QR/AA/RA/RD are artefacts of the resolver's transport, not outcomes of
//!   validation, and the engine returns no message header.
//! - ANSWER: nothing when the verdict is Bogus or Indeterminate (without CD),
//!   except when the chain itself is invalid (a CNAME/DNAME loop is answered
//!   SERVFAIL with the looping chain, RFC 1034 §3.6.2). Compared:
//!   the records other than RRSIG, as sets (owner case-insensitive,
//!   TTL ignored, rdata compared in presentation form, case-insensitive).
//!   RRSIGs are left out: whether a resolver hands them back depends on DO
//!   and on its response policy, not on the validation verdict.
//! - AUTHORITY/ADDITIONAL are not compared: they carry the proofs the engine
//!   has already judged, and a stub validator does not relay them.

use std::collections::BTreeSet;

use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::BinDecodable;
use monitor::dnssec::engine::Lookup;
use monitor::dnssec::verdict::{IndeterminateReason, Verdict};

use super::parse::Entry;
use super::text::{RawRecord, name_wire};

/// The answer a validating resolver would have sent, reduced to what we
/// compare.
#[derive(Clone, Debug)]
pub struct Observed {
    pub rcode: u16,
    pub ad: bool,
    /// `secure|insecure|bogus|indeterminate`, for messages.
    pub outcome: &'static str,
    /// The verdict's one-line explanation.
    pub verdict: String,
    pub answers: Vec<Record>,
}

/// Derives the observed answer from the engine's lookup for `query`.
pub fn observe(lookup: &Lookup, query: &Entry) -> Observed {
    let (verdict, answers) = lookup.answers_with_verdict();
    let outcome = verdict.outcome();
    let failed = matches!(outcome, "bogus" | "indeterminate") && !query.flags.cd;
    Observed {
        rcode: if failed { 2 } else { u16::from(lookup.rcode) },
        ad: outcome == "secure" && (query.flags.do_ || query.flags.ad),
        outcome,
        verdict: verdict.to_string(),
        // Bogus or unvalidated data is never handed out (RFC 4035 §5.5),
        // CD aside; but see `chain_shape_failure`.
        answers: if failed && !chain_shape_failure(verdict) {
            Vec::new()
        } else {
            answers.to_vec()
        },
    }
}

/// Whether the lookup failed on the shape of its CNAME/DNAME chain (a loop,
/// RFC 1034 §3.6.2; an undecodable DNAME) rather than on a record: the links
/// were each validated and are what a resolver sends with its SERVFAIL
/// (Deckard iter_dname_insec). A record that is Bogus or could not be
/// validated (e.g. unreachable keys, val_faildnskey) gives another reason.
fn chain_shape_failure(verdict: &Verdict) -> bool {
    matches!(
        verdict,
        Verdict::Indeterminate {
            why: IndeterminateReason::InvalidData { .. },
            ..
        }
    )
}

/// RFC 1035/6895 mnemonic of an rcode (`NXDOMAIN`), or its number.
pub fn rcode_name(rcode: u16) -> String {
    let s = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        _ => return format!("RCODE{rcode}"),
    };
    s.to_string()
}

/// A record reduced to what the comparison looks at.
fn key(r: &Record) -> (String, u16, u16, String) {
    (
        r.name.to_lowercase().to_ascii(),
        u16::from(r.record_type()),
        u16::from(r.dns_class),
        r.data.to_string().to_lowercase(),
    )
}

/// An expected record decoded by hickory so it compares with what the
/// engine returns; undecodable rdata compares as hex (and then differs).
fn raw_key(r: &RawRecord) -> (String, u16, u16, String) {
    let mut wire = Vec::new();
    name_wire(&r.owner, &mut wire);
    wire.extend_from_slice(&r.rtype.to_be_bytes());
    wire.extend_from_slice(&r.class.to_be_bytes());
    wire.extend_from_slice(&r.ttl.to_be_bytes());
    wire.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
    wire.extend_from_slice(&r.rdata);
    match Record::from_bytes(&wire) {
        Ok(rec) => key(&rec),
        Err(_) => (
            r.owner.to_lowercase().to_ascii(),
            r.rtype,
            r.class,
            data_encoding::HEXLOWER.encode(&r.rdata),
        ),
    }
}

fn show(set: &BTreeSet<(String, u16, u16, String)>) -> String {
    if set.is_empty() {
        return "nothing".into();
    }
    set.iter()
        .map(|(n, t, _, d)| format!("{n} {} {d}", RecordType::from(*t)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Ok` when `got` agrees with `expected` on what `MATCH` asks for.
pub fn compare(expected: &Entry, got: &Observed) -> Result<(), String> {
    let mut diffs = Vec::new();
    if expected.matches_on("rcode") && expected.rcode != got.rcode {
        diffs.push(format!(
            "rcode {} got {}",
            rcode_name(expected.rcode),
            rcode_name(got.rcode)
        ));
    }
    if expected.matches_on("flags") && expected.flags.ad != got.ad {
        diffs.push(format!(
            "{} got {}",
            if expected.flags.ad { "AD" } else { "no AD" },
            if got.ad { "AD" } else { "no AD" },
        ));
    }
    if expected.matches_on("answer") {
        let rrsig = u16::from(RecordType::RRSIG);
        let want: BTreeSet<_> = expected
            .answer
            .iter()
            .filter(|r| r.rtype != rrsig)
            .map(raw_key)
            .collect();
        let have: BTreeSet<_> = got
            .answers
            .iter()
            .filter(|r| r.record_type() != RecordType::RRSIG)
            .map(key)
            .collect();
        if want != have {
            diffs.push(format!("answer [{}] got [{}]", show(&want), show(&have)));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "expected {} (verdict {}: {})",
            diffs.join("; "),
            got.outcome,
            got.verdict
        ))
    }
}
