//! Reading a DNS message for validation: the RRset and RRSIGs of one
//! owner/type in a section, DNSKEY/DS rdata, and the NSEC/NSEC3 records of a
//! negative answer once their own signatures are checked (RFC 4035 §5.3–5.4).
//! Also how resolution failures become verdicts (RFC 8914 codes).

use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, NSEC, NSEC3, RRSIG};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::chain::MAX_TTL;
use super::denial::Denial;
use super::limits::Limits;
use super::nsec::nsec_denial;
use super::nsec3::nsec3_denial;
use super::resolver::{ResolveError, Work};
use super::verdict::{BogusReason, IndeterminateReason, InsecureReason, SigWindow, Verdict};
use super::verify::{RrsetOutcome, verify_rrset};

/// The records of one RRset in a section, without RRSIGs.
pub fn rrset(section: &[Record], owner: &Name, rtype: RecordType) -> Vec<Record> {
    section
        .iter()
        .filter(|r| r.record_type() == rtype && r.name == *owner)
        .cloned()
        .collect()
}

/// The RRSIGs in a section over (owner, covered).
pub fn rrsigs(section: &[Record], owner: &Name, covered: RecordType) -> Vec<RRSIG> {
    section
        .iter()
        .filter(|r| r.name == *owner)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == covered => {
                Some(sig.clone())
            }
            _ => None,
        })
        .collect()
}

pub fn dnskeys_of(records: &[Record]) -> Vec<DNSKEY> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

pub fn ds_of(records: &[Record]) -> Vec<DS> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DS(d)) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

pub fn window_of(sig: &RRSIG) -> SigWindow {
    let i = sig.input();
    SigWindow {
        key_tag: i.key_tag,
        algorithm: u8::from(i.algorithm),
        inception: i.sig_inception.get(),
        expiration: i.sig_expiration.get(),
    }
}

pub fn resolve_failure(e: &ResolveError) -> Verdict {
    match e {
        ResolveError::Budget(why) => Verdict::indeterminate(why.clone()),
        ResolveError::ReferralDepth { limit, .. } => {
            Verdict::indeterminate(IndeterminateReason::LimitReached {
                what: "referral depth",
                limit: u64::from(*limit),
            })
        }
        ResolveError::NoServer { name, last, .. } => {
            Verdict::indeterminate(IndeterminateReason::NoReachableAuthority { zone: name.clone() })
                .with_detail(last)
        }
    }
}

/// Extension: keep the verdict, append detail to an indeterminate EDE text.
trait WithDetail {
    fn with_detail(self, detail: &str) -> Self;
}

impl WithDetail for Verdict {
    fn with_detail(mut self, detail: &str) -> Self {
        if let Verdict::Indeterminate { ede, .. } = &mut self {
            ede.text = format!("{}; last error: {detail}", ede.text);
        }
        self
    }
}

/// Validated NSEC and NSEC3 records of a negative answer's authority section,
/// each RRset checked with `keys` of `zone`.
pub struct ProvenDenialRecords {
    pub nsecs: Vec<(Name, NSEC)>,
    pub nsec3s: Vec<(Name, NSEC3)>,
    pub windows: Vec<SigWindow>,
    /// Smallest validated TTL (negative answers are cached that long).
    pub ttl: u32,
    /// Why each NSEC/NSEC3 RRset left out of the proof failed verification.
    /// Only verified records may prove anything (RFC 4035 §5.4), but an
    /// extra record that fails does not spoil a proof that holds without it
    /// (Deckard black_ent: a broken NSEC beside the one that proves).
    pub rejected: Vec<BogusReason>,
}

impl ProvenDenialRecords {
    /// The reason to give when the proof does not hold: the first failed
    /// signature if a record was left out (it might have been the proof),
    /// otherwise `missing`.
    pub fn failure(&self, missing: BogusReason) -> BogusReason {
        self.rejected.first().cloned().unwrap_or(missing)
    }

    /// A trace note on the records left out of a proof that held.
    pub fn rejected_note(&self) -> Option<String> {
        let first = self.rejected.first()?;
        Some(format!(
            "ignored {} NSEC/NSEC3 RRset(s) that failed verification ({first})",
            self.rejected.len()
        ))
    }
}

/// Verifies every NSEC/NSEC3 RRset in `section` signed by `zone`, each on
/// its own: those that fail are set aside in `rejected`, the caller decides
/// the proof on the others and names a rejected signature if it fails.
#[allow(
    clippy::result_large_err,
    reason = "the error is the verdict itself, built once per negative answer"
)]
pub fn verify_denial_records(
    section: &[Record],
    zone: &Name,
    keys: &[DNSKEY],
    now: i64,
    work: &mut Work,
) -> Result<ProvenDenialRecords, Verdict> {
    let mut out = ProvenDenialRecords {
        nsecs: Vec::new(),
        nsec3s: Vec::new(),
        windows: Vec::new(),
        ttl: MAX_TTL,
        rejected: Vec::new(),
    };
    let mut seen: Vec<(Name, RecordType)> = Vec::new();
    for r in section {
        let rtype = r.record_type();
        if rtype != RecordType::NSEC && rtype != RecordType::NSEC3 {
            continue;
        }
        if seen.contains(&(r.name.clone(), rtype)) {
            continue;
        }
        seen.push((r.name.clone(), rtype));
        let set = rrset(section, &r.name, rtype);
        let sigs = rrsigs(section, &r.name, rtype);
        match verify_rrset(
            &r.name,
            rtype,
            &set,
            &sigs,
            keys,
            zone,
            now,
            &mut work.budget,
        ) {
            // Spent budget ends the lookup; a failed signature only drops
            // this RRset from the proof (see `ProvenDenialRecords::rejected`).
            Err(reason @ BogusReason::BudgetExceeded { .. }) => {
                return Err(Verdict::bogus(reason));
            }
            Err(reason) => out.rejected.push(reason),
            Ok(RrsetOutcome::Unsupported { algorithm }) => {
                return Err(Verdict::insecure(InsecureReason::UnsupportedAlgorithm {
                    zone: zone.clone(),
                    algorithm,
                }));
            }
            Ok(RrsetOutcome::Verified(v)) => {
                out.ttl = out.ttl.min(v.ttl);
                out.windows.push(v.window);
                for rec in &set {
                    match &rec.data {
                        RData::DNSSEC(DNSSECRData::NSEC(n)) => {
                            out.nsecs.push((rec.name.clone(), n.clone()))
                        }
                        RData::DNSSEC(DNSSECRData::NSEC3(n)) => {
                            out.nsec3s.push((rec.name.clone(), n.clone()))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The denial proven for (qname, qtype) by validated records.
pub fn denial_of(
    qname: &Name,
    qtype: RecordType,
    proven: &ProvenDenialRecords,
    zone: &Name,
    limits: &Limits,
    work: &mut Work,
) -> Denial {
    if !proven.nsecs.is_empty() {
        nsec_denial(qname, qtype, &proven.nsecs, zone)
    } else if !proven.nsec3s.is_empty() {
        nsec3_denial(qname, qtype, &proven.nsec3s, zone, limits, &mut work.budget)
    } else {
        Denial::NotProven("no NSEC or NSEC3 records".into())
    }
}
