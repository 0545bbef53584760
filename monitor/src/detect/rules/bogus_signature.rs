//! `bogus_signature`: the captured response carries RRSIGs that fail to
//! verify against the validated keys (bad signature, expired, not yet
//! valid, unknown key, wrong signer) — in its answer section or in its
//! authority section (the SOA and NSEC/NSEC3 records of a denial, RFC 4035
//! §3.1.3: a forged NXDOMAIN or NODATA with broken proofs is as bogus as a
//! forged address) — or independent validation of the
//! name is Bogus while the host accepted an answer. A validating
//! resolver's SERVFAIL is no acceptance: the host got no data.

use std::collections::BTreeSet;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::Answer;
use crate::decode::presentation as pres;
use crate::detect::alert::{Finding, Rule, Severity};
use crate::dnssec::chain::{ZoneState, rrsigs};
use crate::dnssec::engine::{Engine, Lookup};
use crate::dnssec::limits::Budget;
use crate::dnssec::verdict::{BogusReason, Verdict};
use crate::dnssec::verify::{RrsetOutcome, verify_rrset};

pub async fn check(a: &Answer<'_>, l: &Lookup, engine: &Engine) -> Option<Finding> {
    if !a.accepted() {
        return None;
    }
    if let Some(f) = captured_rrsigs(a, engine).await {
        return Some(f);
    }
    from_verdict(a, l)
}

/// [`check`] when it need not ask the engine: Some(result) unless the
/// answer carries RRSIGs to verify against the zone's keys (then None:
/// use [`check`]). Never waits.
pub fn check_now(a: &Answer<'_>, l: &Lookup) -> Option<Option<Finding>> {
    if !a.accepted() {
        return Some(None);
    }
    let m = &a.ev.message;
    if m.answers.iter().any(is_rrsig) || m.authorities.iter().any(is_rrsig) {
        return None;
    }
    Some(from_verdict(a, l))
}

fn is_rrsig(r: &Record) -> bool {
    matches!(r.data, RData::DNSSEC(DNSSECRData::RRSIG(_)))
}

/// The finding of a Bogus verdict for an accepted answer.
fn from_verdict(a: &Answer<'_>, l: &Lookup) -> Option<Finding> {
    if let Verdict::Bogus { reason, .. } = &l.verdict {
        let got = if a.negative() {
            pres::rcode(a.rcode()).to_string()
        } else {
            format!("{} record(s)", a.data().len())
        };
        return Some(Finding::new(
            Rule::BogusSignature,
            Severity::High,
            format!(
                "independent validation of {} is bogus ({reason}), yet the host accepted the answer ({got})",
                a.what()
            ),
        ));
    }
    None
}

/// Verifies every RRset of the answer section, then of the authority
/// section, that came with RRSIGs against the DNSKEYs the engine
/// validated for its zone (RFC 4035 §5.3). Each section on its own: an
/// RRSIG covers an RRset of its own section.
async fn captured_rrsigs(a: &Answer<'_>, engine: &Engine) -> Option<Finding> {
    let m = &a.ev.message;
    for (section, records) in [("answer", &m.answers), ("authority", &m.authorities)] {
        let signed: BTreeSet<(Name, RecordType)> = records
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(s)) => {
                    Some((r.name.to_lowercase(), s.input().type_covered))
                }
                _ => None,
            })
            .collect();
        let which = || match section {
            "answer" => Zone::OfOwner,
            _ => Zone::OfSigner,
        };
        for (owner, rtype) in signed {
            let Some((zone, Err(reason))) =
                verify_in_zone(records, &owner, rtype, which(), engine).await
            else {
                continue;
            };
            return Some(Finding::new(
                Rule::BogusSignature,
                Severity::High,
                format!(
                    "the captured RRSIG(s) over {}/{} in the {section} section fail against the \
                     validated DNSKEYs of zone {}: {reason}",
                    pres::name(&owner),
                    pres::rtype(rtype),
                    pres::name(&zone)
                ),
            ));
        }
    }
    None
}

/// Verifies the captured `owner`/`rtype` RRset of `answers` with its
/// captured RRSIGs against the DNSKEYs the engine validated for its zone
/// (RFC 4035 §5.3; the signer must be that zone). None when there is no
/// such RRset or the zone is not Secure (nothing to check against);
/// otherwise the zone and the outcome.
pub async fn verify_captured(
    answers: &[Record],
    owner: &Name,
    rtype: RecordType,
    engine: &Engine,
) -> Option<(Name, Result<RrsetOutcome, BogusReason>)> {
    verify_in_zone(answers, owner, rtype, Zone::OfOwner, engine).await
}

/// Which zone's keys an RRset is checked against.
enum Zone {
    /// The zone the owner name is in (answers: the signer must be it).
    OfOwner,
    /// The signer's zone, when the signer is a Secure zone's apex at or
    /// above the owner (authority records: a parent-side NSEC owned by a
    /// delegation point is signed by the parent, RFC 4035 §2.3, so its
    /// owner name alone names the wrong zone); otherwise not checked.
    OfSigner,
}

async fn verify_in_zone(
    answers: &[Record],
    owner: &Name,
    rtype: RecordType,
    which: Zone,
    engine: &Engine,
) -> Option<(Name, Result<RrsetOutcome, BogusReason>)> {
    let owner = owner.to_lowercase();
    let lowered: Vec<Record> = answers
        .iter()
        .cloned()
        .map(|mut r| {
            r.name = r.name.to_lowercase();
            r
        })
        .collect();
    let set: Vec<Record> = lowered
        .iter()
        .filter(|r| r.record_type() == rtype && r.name == owner)
        .cloned()
        .collect();
    if set.is_empty() {
        return None;
    }
    let sigs = rrsigs(&lowered, &owner, rtype);
    let at = match which {
        // A DS RRset belongs to the parent side of the cut (RFC 4035 §5.2).
        Zone::OfOwner if rtype == RecordType::DS && !owner.is_root() => owner.base_name(),
        Zone::OfOwner => owner.clone(),
        Zone::OfSigner => {
            // One signer, at or above the owner; anything else is left to
            // the other rules (answer_mismatch re-asks).
            let mut signers = sigs.iter().map(|s| s.input().signer_name.to_lowercase());
            let signer = signers.next()?;
            if signers.any(|n| n != signer) || !signer.zone_of(&owner) {
                return None;
            }
            signer
        }
    };
    let ZoneState::Secure { zone, keys, .. } = engine.zone_state(&at).await else {
        return None;
    };
    if matches!(which, Zone::OfSigner) && zone != at {
        return None;
    }
    let cfg = engine.config();
    let mut budget = Budget::new(&cfg.limits);
    let now = cfg.clock.now_unix();
    let outcome = verify_rrset(&owner, rtype, &set, &sigs, &keys, &zone, now, &mut budget);
    Some((zone, outcome))
}
