//! `answer_mismatch`: the host's answer (rcode, and the RRset for
//! qname/qtype after CNAMEs) is inconsistent with validated results:
//! records in no validated RRset seen for that name within its TTL;
//! NXDOMAIN/NODATA where validated data exists; data where a denial was
//! proven. Before it fires, one confirming re-query (a fresh engine lookup
//! past every cache) must agree, so a CDN rotation or a zone change just
//! made is not called forgery. Severity high for Secure names, medium for
//! Insecure ones (compared against the engine's own answer, which took a
//! separate path). Bogus and indeterminate verdicts are left to the other
//! rules: there is no trusted data to compare with.

use hickory_proto::op::ResponseCode;

use super::{Answer, list, validated_data, validated_negative};
use crate::decode::presentation as pres;
use crate::detect::alert::{Finding, Rule, Severity};
use crate::detect::verdicts::{VerdictService, rdata_value};
use crate::dnssec::engine::Lookup;
use crate::dnssec::verdict::Verdict;

fn comparable(l: &Lookup) -> bool {
    matches!(l.verdict, Verdict::Secure | Verdict::Insecure { .. })
}

/// Why the answer disagrees with `l` (and the history), or None.
fn disagreement(a: &Answer<'_>, l: &Lookup, verdicts: &VerdictService) -> Option<String> {
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
    if verdicts.history_holds(&a.qname, a.qtype, &host) {
        return None;
    }
    let foreign: Vec<String> = host
        .iter()
        .filter(|h| {
            !valid.contains(h)
                && !verdicts.history_holds(&a.qname, a.qtype, std::slice::from_ref(h))
        })
        .cloned()
        .collect();
    Some(format!(
        "host got {} for {}, in no validated RRset seen within its TTL (validated: {})",
        list(&foreign),
        a.what(),
        list(&valid)
    ))
}

pub async fn check(a: &Answer<'_>, l: &Lookup, verdicts: &VerdictService) -> Option<Finding> {
    if !a.accepted() || a.referral() || !comparable(l) {
        return None;
    }
    disagreement(a, l, verdicts)?;
    // The confirming re-query of the zone's servers.
    let fresh = verdicts.confirm(&a.qname, a.qtype).await;
    if !comparable(&fresh) {
        return None;
    }
    let why = disagreement(a, &fresh, verdicts)?;
    let (severity, kind) = if fresh.verdict.is_secure() {
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
