//! One file per rule of DESIGN.md "Detection". The verdict rules take an
//! [`Answer`] (the captured answer joined with its query) and the
//! independent [`Lookup`]; the correlation rules take a
//! [`crate::correlate::outstanding::Join`]; `capture_loss` takes counters.

pub mod answer_mismatch;
pub mod bogus_signature;
pub mod capture_loss;
pub mod critical_name;
pub mod resolver_failure;
pub mod response_race;
pub mod signature_expiring;
pub mod unsigned_fallback;
pub mod unsolicited_response;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};

use crate::correlate::outstanding::QueryInfo;
use crate::decode::presentation as pres;
use crate::dnssec::engine::Lookup;
use crate::event::DnsEvent;

/// A captured answer with what is known of its query.
pub struct Answer<'a> {
    pub ev: &'a DnsEvent,
    pub query: Option<&'a QueryInfo>,
    /// Lowercased, fully qualified.
    pub qname: Name,
    pub qtype: RecordType,
}

impl<'a> Answer<'a> {
    /// None when the message has no question.
    pub fn new(ev: &'a DnsEvent, query: Option<&'a QueryInfo>) -> Option<Self> {
        let q = ev.message.queries.first()?;
        let mut qname = q.name().to_lowercase();
        qname.set_fqdn(true);
        Some(Answer {
            ev,
            query,
            qname,
            qtype: q.query_type(),
        })
    }

    /// The answer to a question [`Answer::new`] already made into `qname`
    /// and `qtype` (kept by the detector: not lowercased twice).
    pub fn with_question(
        ev: &'a DnsEvent,
        query: Option<&'a QueryInfo>,
        qname: Name,
        qtype: RecordType,
    ) -> Self {
        Answer {
            ev,
            query,
            qname,
            qtype,
        }
    }

    pub fn rcode(&self) -> ResponseCode {
        self.ev.message.metadata.response_code
    }

    /// NOERROR or NXDOMAIN: the host got data or a denial it will use
    /// (SERVFAIL, REFUSED … give it nothing).
    pub fn accepted(&self) -> bool {
        matches!(self.rcode(), ResponseCode::NoError | ResponseCode::NXDomain)
            && !self.ev.message.metadata.truncation
    }

    /// DO of the query (RFC 3225); without a joined query, the answer's
    /// OPT, which a server copies from the query (RFC 3225 §3).
    pub fn dnssec_ok(&self) -> bool {
        match self.query {
            Some(q) => q.dnssec_ok,
            None => self
                .ev
                .message
                .edns
                .as_ref()
                .is_some_and(|e| e.flags().dnssec_ok),
        }
    }

    /// RD of the query (copied into the answer, RFC 1035 §4.1.1).
    pub fn rd(&self) -> bool {
        self.query
            .map_or(self.ev.message.metadata.recursion_desired, |q| q.rd)
    }

    /// The records of qtype in the answer section (the RRset for qname
    /// after CNAMEs).
    pub fn data(&self) -> Vec<&Record> {
        self.data_iter().collect()
    }

    /// [`Answer::data`] without collecting it (per-answer paths).
    pub fn data_iter(&self) -> impl Iterator<Item = &'a Record> + Clone + use<'a> {
        let (ev, qtype) = (self.ev, self.qtype);
        ev.message
            .answers
            .iter()
            .filter(move |r| r.record_type() == qtype)
    }

    /// Whether [`Answer::data`] is not empty.
    pub fn has_data(&self) -> bool {
        self.data_iter().next().is_some()
    }

    /// NXDOMAIN, or NOERROR without data (NODATA, RFC 2308 §2.2) — a
    /// referral is neither.
    pub fn negative(&self) -> bool {
        self.rcode() == ResponseCode::NXDomain
            || (!self.has_data() && !self.referral() && !self.partial_chain())
    }

    /// NOERROR with a CNAME/DNAME but no data at its end: an authoritative
    /// server's answer whose chain leaves its zone (RFC 1034 §4.3.2 step
    /// 3a); the rest is asked elsewhere, so this is no denial.
    pub fn partial_chain(&self) -> bool {
        self.rcode() == ResponseCode::NoError
            && !self.has_data()
            && self
                .ev
                .message
                .answers
                .iter()
                .any(|r| matches!(r.record_type(), RecordType::CNAME | RecordType::DNAME))
    }

    /// A referral (RFC 1034 §4.3.2): no answer, NS in authority, no SOA;
    /// an iterating resolver follows it, nobody takes it as an answer.
    pub fn referral(&self) -> bool {
        let m = &self.ev.message;
        self.rcode() == ResponseCode::NoError
            && m.answers.is_empty()
            && m.authorities
                .iter()
                .any(|r| r.record_type() == RecordType::NS)
            && !m
                .authorities
                .iter()
                .any(|r| r.record_type() == RecordType::SOA)
    }

    pub fn has_rrsig(&self) -> bool {
        let m = &self.ev.message;
        m.answers
            .iter()
            .chain(m.authorities.iter())
            .any(|r| r.record_type() == RecordType::RRSIG)
    }

    /// `www.secure.test./A`.
    pub fn what(&self) -> String {
        format!("{}/{}", pres::name(&self.qname), pres::rtype(self.qtype))
    }
}

/// The records of qtype validation produced.
pub fn validated_data(l: &Lookup) -> Vec<&Record> {
    validated_iter(l).collect()
}

/// [`validated_data`] without collecting it (per-answer paths).
pub fn validated_iter(l: &Lookup) -> impl Iterator<Item = &Record> + Clone {
    l.answers_with_verdict()
        .1
        .iter()
        .filter(|r| r.record_type() == l.qtype)
}

/// The validated answer is a denial (NXDOMAIN or NODATA).
pub fn validated_negative(l: &Lookup) -> bool {
    l.rcode == ResponseCode::NXDomain || validated_iter(l).next().is_none()
}

/// The deepest signed zone on the validated chain and its DS key tags,
/// for evidence sentences: `zone secure.test. is signed (DS 17104)`.
pub fn signed_zone(l: &Lookup) -> Option<(String, String)> {
    let steps = &l.trace.steps;
    let step = steps
        .iter()
        .rev()
        .find(|s| !s.ds_key_tags.is_empty())
        .or_else(|| steps.iter().rev().find(|s| !s.dnskey_key_tags.is_empty()))?;
    let tags: Vec<String> = if step.ds_key_tags.is_empty() {
        step.dnskey_key_tags
            .iter()
            .map(|t| format!("DNSKEY {t}"))
            .collect()
    } else {
        step.ds_key_tags.iter().map(|t| format!("DS {t}")).collect()
    };
    Some((pres::name(&step.zone), tags.join(", ")))
}

/// "zone secure.test. is signed (DS 17104)" or a generic phrase.
pub fn signed_phrase(l: &Lookup) -> String {
    match signed_zone(l) {
        Some((z, t)) => format!("zone {z} is signed ({t})"),
        None => "the name validates as secure".into(),
    }
}

/// Up to 4 values, comma separated, for evidence sentences.
pub fn list(values: &[String]) -> String {
    let mut s: Vec<&str> = values.iter().take(4).map(String::as_str).collect();
    if values.len() > 4 {
        s.push("…");
    }
    if s.is_empty() {
        "none".into()
    } else {
        s.join(", ")
    }
}
