//! `unsigned_fallback`: independent validation proves the name Secure, yet
//! the host got it unprotected:
//! - stripped: the query had DO=1 and the answer has no RRSIG (RFC 4035
//!   §3.1.1 obliges a server to include them);
//! - a resolver configured as validating answered with AD=0 to a query
//!   that asked for AD (DO=1 or AD=1, RFC 6840 §5.7) without CD;
//! - recursive (RD=1) traffic answered by a server outside the configured
//!   resolver set (fallback DNS, DHCP-pushed, hard-coded 8.8.8.8) —
//!   authoritative servers (RD=0) are never a fallback path;
//! - the answer claims an insecure delegation (NS without DS, or a DS
//!   denial) for a zone the validated chain shows with a DS.
//!
//! A query with DO=0 may be answered without RRSIGs and without AD: the
//! resolvers that strip DNSSEC then are behaving (DESIGN.md).

use hickory_proto::rr::RecordType;

use super::{Answer, signed_phrase};
use crate::decode::presentation as pres;
use crate::detect::alert::{Finding, Rule, Severity};
use crate::detect::policy::DetectPolicy;
use crate::dnssec::engine::Lookup;

pub fn check(a: &Answer<'_>, l: &Lookup, policy: &DetectPolicy) -> Option<Finding> {
    if !a.accepted() || !l.verdict.is_secure() {
        return None;
    }
    let f = |detail: String| Some(Finding::new(Rule::UnsignedFallback, Severity::High, detail));
    let server = a.ev.server;
    if let Some(d) = insecure_delegation_claim(a, l) {
        return f(d);
    }
    if a.dnssec_ok() && !a.has_rrsig() {
        return f(format!(
            "stripped: query had DO=1, {}, answer for {} from {server} carried no RRSIG",
            signed_phrase(l),
            a.what()
        ));
    }
    if !a.rd() {
        return None;
    }
    let q_ad = a.query.is_some_and(|q| q.ad);
    let q_cd = a.query.is_some_and(|q| q.cd) || a.ev.message.metadata.checking_disabled;
    if policy.validating(server)
        && !a.ev.message.metadata.authentic_data
        && (a.dnssec_ok() || q_ad)
        && !q_cd
    {
        return f(format!(
            "validating resolver {server} answered {} with AD=0 although {} and validates",
            a.what(),
            signed_phrase(l)
        ));
    }
    if !policy.resolvers.is_empty() && !policy.expected_resolver(server) {
        let expected: Vec<String> = policy.resolvers.iter().map(|s| s.to_string()).collect();
        return f(format!(
            "recursive answer for secure {} came from {server}, outside the configured resolvers ({})",
            a.what(),
            expected.join(", ")
        ));
    }
    None
}

/// NS records for a zone cut in the authority section with no DS beside
/// them, or a DS query answered with a denial, where the validated chain
/// has a DS for that zone (RFC 4035 §5.2).
fn insecure_delegation_claim(a: &Answer<'_>, l: &Lookup) -> Option<String> {
    let m = &a.ev.message;
    let ds_of = |zone: &hickory_proto::rr::Name| {
        l.trace
            .steps
            .iter()
            .find(|s| s.zone.to_lowercase() == zone.to_lowercase() && !s.ds_key_tags.is_empty())
            .map(|s| {
                s.ds_key_tags
                    .iter()
                    .map(|t| format!("DS {t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
    };
    if a.qtype == RecordType::DS && a.negative() {
        if let Some(tags) = ds_of(&a.qname) {
            return Some(format!(
                "answer denies the DS of {} (an insecure delegation) but the validated chain has {tags}",
                pres::name(&a.qname)
            ));
        }
        return None;
    }
    if !m.answers.is_empty() {
        return None;
    }
    for ns in m
        .authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::NS)
    {
        let has_ds = m
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::DS && r.name == ns.name);
        if !has_ds && let Some(tags) = ds_of(&ns.name) {
            return Some(format!(
                "referral claims {} is an unsigned delegation (NS without DS) but the validated chain has {tags}",
                pres::name(&ns.name)
            ));
        }
    }
    None
}
