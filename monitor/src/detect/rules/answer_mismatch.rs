//! `answer_mismatch`: the host's answer (rcode, and the RRset for
//! qname/qtype after CNAMEs) is inconsistent with validated results:
//! records in no validated RRset seen for that name within its TTL;
//! NXDOMAIN/NODATA where validated data exists; data where a denial was
//! proven. Data whose captured RRSIGs verify against the zone's validated
//! DNSKEYs is authentic (whichever server signed it). Before it fires,
//! confirming re-queries (fresh engine lookups past every cache, each
//! starting at another of the zone's servers, at most
//! [`CONFIRM_SERVERS`]) must agree, so a CDN rotation or a zone change
//! just made is not called forgery. Severity high for Secure names, medium for
//! Insecure ones (compared against the engine's own answer, which took a
//! separate path). Bogus and indeterminate verdicts are left to the other
//! rules: there is no trusted data to compare with.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

use super::bogus_signature::verify_captured;
use super::{Answer, list, validated_data, validated_iter, validated_negative};
use crate::decode::presentation as pres;
use crate::detect::alert::{Finding, Rule, Severity};
use crate::detect::verdicts::{CONFIRM_SERVERS, VerdictService, rdata_value, same_value};
use crate::dnssec::engine::Lookup;
use crate::dnssec::verdict::Verdict;
use crate::dnssec::verify::RrsetOutcome;

/// A lookup proves something only when it got an answer: SERVFAIL,
/// REFUSED and the like from the servers the engine asked (an overloaded
/// upstream, a lame server) prove neither data nor a denial, whatever the
/// verdict of the chain above it says.
fn comparable(l: &Lookup) -> bool {
    matches!(l.verdict, Verdict::Secure | Verdict::Insecure { .. }) && answered(l.rcode)
}

fn answered(rcode: ResponseCode) -> bool {
    matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain)
}

/// Every RRset of the host's data carries RRSIGs that verify against the
/// validated DNSKEYs of its Secure zone, signer = that zone, inside the
/// validity window, not synthesized from a wildcard (RFC 4035 §5.3):
/// authentic data, whichever of the zone's servers served it (a CDN's
/// servers may each sign their own set with the zone's keys).
async fn signed_authentic(a: &Answer<'_>, verdicts: &VerdictService) -> bool {
    let data = a.data();
    if data.is_empty() || !a.has_rrsig() {
        return false;
    }
    let mut owners: Vec<Name> = data.iter().map(|r| r.name.to_lowercase()).collect();
    owners.sort();
    owners.dedup();
    for owner in owners {
        let answers = &a.ev.message.answers;
        match verify_captured(answers, &owner, a.qtype, verdicts.engine()).await {
            Some((_, Ok(RrsetOutcome::Verified(v)))) if v.wildcard.is_none() => {}
            _ => return false,
        }
    }
    true
}

/// Whether the answer disagrees with `l` (and the history), deciding
/// what [`disagreement`] decides without building its text (this runs
/// for every checked answer). Data that `l` itself validated is in the
/// history for as long as `l` is reused (the service records every
/// Secure or Insecure lookup before handing it out, for at least its
/// TTL), so it is accepted without asking the history.
fn disagrees(a: &Answer<'_>, l: &Lookup, verdicts: &VerdictService, authentic: bool) -> bool {
    if a.negative() {
        return !validated_negative(l)
            || (a.rcode() == ResponseCode::NXDomain && l.rcode != ResponseCode::NXDomain);
    }
    if !a.has_data() {
        return false; // a referral or a chain continued elsewhere
    }
    if validated_negative(l) {
        return true;
    }
    if authentic {
        return false;
    }
    let validated =
        |h: &hickory_proto::rr::Record| validated_iter(l).any(|v| same_value(&v.data, &h.data));
    if a.data_iter().all(validated) {
        return false;
    }
    !verdicts.history_holds(&a.qname, a.qtype, a.data_iter().map(|r| &r.data))
}

/// Whether the answer needs the confirming path of [`check`] (which may
/// ask the engine); false: [`check`] finds nothing. Never waits.
pub fn needs_confirmation(a: &Answer<'_>, l: &Lookup, verdicts: &VerdictService) -> bool {
    a.accepted() && !a.referral() && comparable(l) && disagrees(a, l, verdicts, false)
}

/// Why the answer disagrees with `l` (and the history), or None.
/// `authentic`: the host's data is validly signed ([`signed_authentic`]).
fn disagreement(
    a: &Answer<'_>,
    l: &Lookup,
    verdicts: &VerdictService,
    authentic: bool,
) -> Option<String> {
    if !disagrees(a, l, verdicts, authentic) {
        return None;
    }
    let valid: Vec<String> = validated_data(l).into_iter().map(rdata_value).collect();
    let host: Vec<String> = a.data().into_iter().map(rdata_value).collect();
    let host_rcode = pres::rcode(a.rcode());
    if a.negative() {
        if !validated_negative(l) {
            return Some(format!(
                "host got {host_rcode}{} for {} but validation finds data ({})",
                if a.rcode() == ResponseCode::NoError {
                    " (NODATA)"
                } else {
                    ""
                },
                a.what(),
                list(&valid)
            ));
        }
        if a.rcode() == ResponseCode::NXDomain && l.rcode != ResponseCode::NXDomain {
            return Some(format!(
                "host got NXDOMAIN for {} but validation proves the name exists ({})",
                a.what(),
                pres::rcode(l.rcode)
            ));
        }
        return None;
    }
    if a.data().is_empty() {
        return None; // a referral or a chain continued elsewhere
    }
    if validated_negative(l) {
        return Some(format!(
            "host got data ({}) for {} where validation proves a denial ({})",
            list(&host),
            a.what(),
            pres::rcode(l.rcode)
        ));
    }
    let foreign: Vec<String> = a
        .data_iter()
        .filter(|h| {
            !validated_iter(l).any(|v| same_value(&v.data, &h.data))
                && !verdicts.history_holds(&a.qname, a.qtype, [&h.data])
        })
        .map(rdata_value)
        .collect();
    Some(format!(
        "host got {} for {}, in no validated RRset seen within its TTL (validated: {})",
        list(&foreign),
        a.what(),
        list(&valid)
    ))
}

pub async fn check(a: &Answer<'_>, l: &Lookup, verdicts: &VerdictService) -> Option<Finding> {
    if !needs_confirmation(a, l, verdicts) {
        return None;
    }
    // A denial proven by validation still wins over signed data (a replay
    // of a deleted record inside its signatures' validity window).
    let authentic = signed_authentic(a, verdicts).await;
    disagreement(a, l, verdicts, authentic)?;
    // The confirming re-queries of the zone's servers: each starts at
    // another server and adds what it validates to the history, so a set
    // served by any of them (CDN rotation) is recognised.
    let mut first: Option<(String, bool)> = None;
    for nth in 0..CONFIRM_SERVERS {
        let fresh = verdicts.confirm(&a.qname, a.qtype, nth).await;
        if !comparable(&fresh) {
            continue;
        }
        match disagreement(a, &fresh, verdicts, authentic) {
            None => return None,
            Some(why) => {
                if first.is_none() {
                    first = Some((why, fresh.verdict.is_secure()));
                }
            }
        }
    }
    let (why, secure) = first?;
    let (severity, kind) = if secure {
        (Severity::High, "secure")
    } else {
        (Severity::Medium, "insecure")
    };
    Some(Finding::new(
        Rule::AnswerMismatch,
        severity,
        format!("{why}; confirmed by a fresh lookup ({kind})"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answered_lookups_are_compared() {
        assert!(answered(ResponseCode::NoError));
        assert!(answered(ResponseCode::NXDomain));
        // An upstream that failed proves no denial: no answer_mismatch.
        assert!(!answered(ResponseCode::ServFail));
        assert!(!answered(ResponseCode::Refused));
    }
}
