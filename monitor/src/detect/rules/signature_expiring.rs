//! `signature_expiring` (DESIGN.md "Policy"): the RRSIGs a verdict rested
//! on expire within the configured window — the most common DNSSEC outage
//! is a signer that stopped re-signing, and every validator turns the zone
//! Bogus the second its signatures pass their expiration (RFC 4035 §5.3.1).
//!
//! Which signatures: every window in the verdict's trace
//! ([`crate::dnssec::verdict::TraceStep::signatures`]) — per zone cut the
//! DS RRset's (signed by the parent) and the DNSKEY RRset's (self-signed),
//! then the answer's RRsets and denial proofs. Checked for every Secure
//! verdict and, for a critical name, whatever the verdict (an Insecure
//! critical name still rests on its parents' signed DS denial).
//!
//! One alert per signing zone per day (the soonest-expiring signature of
//! that signer named: RRset, key tag, expiry, time left); repeats are
//! counted as suppressed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::rr::{Name, RData};

use crate::decode::presentation as pres;
use crate::detect::alert::{Finding, Rule, Severity};
use crate::detect::critical::Dedup;
use crate::detect::policy::DetectPolicy;
use crate::dnssec::engine::Lookup;
use crate::dnssec::verdict::{SigWindow, TraceStep};

pub const PERIOD: Duration = Duration::from_secs(86_400);
pub const MAX_ZONES: usize = 16_384;

pub type ExpiryDedup = Dedup<Name>;

pub fn new_dedup() -> ExpiryDedup {
    Dedup::new(PERIOD, MAX_ZONES)
}

/// One signature the verdict rested on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigUse {
    /// The zone whose key made it.
    pub signer: Name,
    /// What it covers: `secure.test. DNSKEY`, `secure.test. DS`, `www.secure.test. A`.
    pub covers: String,
    pub key_tag: u16,
    pub algorithm: u8,
    pub expiration: u32,
}

/// The signer of a DS window in step `i`: the nearest earlier step whose
/// keys include the tag (the parent), else the parent name.
fn parent_signer(steps: &[TraceStep], i: usize, tag: u16) -> Name {
    steps[..i]
        .iter()
        .rev()
        .find(|s| s.dnskey_key_tags.contains(&tag))
        .map(|s| s.zone.clone())
        .unwrap_or_else(|| steps[i].zone.base_name())
}

/// The answer RRSIG with this window, as `owner type`.
fn answer_rrset(l: &Lookup, w: &SigWindow) -> Option<(Name, String)> {
    l.rrsigs.iter().find_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => {
            let i = s.input();
            (i.key_tag == w.key_tag
                && i.sig_expiration.get() == w.expiration
                && i.sig_inception.get() == w.inception)
                .then(|| {
                    (
                        i.signer_name.to_lowercase(),
                        format!("{} {}", pres::name(&r.name), pres::rtype(i.type_covered)),
                    )
                })
        }
        _ => None,
    })
}

/// Every signature window of the trace with its signer and what it covers.
/// Chain steps (notes "DS signed by …; DNSKEY RRset signed by …" and
/// "DNSKEY RRset signed by …", dnssec/chain.rs) hold the DS window first
/// when there is one; answer steps hold the answer's and its proofs'.
pub fn signatures(l: &Lookup) -> Vec<SigUse> {
    let steps = &l.trace.steps;
    let mut out = Vec::new();
    for (i, st) in steps.iter().enumerate() {
        let zone = st.zone.to_lowercase();
        let chain = st.note.contains("DNSKEY RRset signed by");
        let has_ds = chain && st.note.starts_with("DS signed by");
        for (j, w) in st.signatures.iter().enumerate() {
            let (signer, covers) = if has_ds && j == 0 {
                (
                    parent_signer(steps, i, w.key_tag).to_lowercase(),
                    format!("{} DS", pres::name(&zone)),
                )
            } else if chain {
                (zone.clone(), format!("{} DNSKEY", pres::name(&zone)))
            } else if let Some(found) = answer_rrset(l, w) {
                found
            } else {
                (
                    zone.clone(),
                    format!("a denial proof of {}", pres::name(&zone)),
                )
            };
            out.push(SigUse {
                signer,
                covers,
                key_tag: w.key_tag,
                algorithm: w.algorithm,
                expiration: w.expiration,
            });
        }
    }
    out
}

/// RFC 1982 serial difference `exp - now` in seconds (RRSIG times are
/// serial numbers, RFC 4034 §3.1.5).
fn left(exp: u32, now: u32) -> i64 {
    i64::from(exp.wrapping_sub(now) as i32)
}

fn days_hours(secs: i64) -> String {
    let (d, h) = (secs / 86_400, (secs % 86_400) / 3_600);
    format!("{d}d {h}h")
}

/// One finding per signing zone whose soonest signature expires within the
/// window at `now` (engine time, unix seconds); repeats within a day are
/// counted in `suppressed`.
pub fn check(
    l: &Lookup,
    critical: bool,
    policy: &DetectPolicy,
    now: i64,
    at: std::time::SystemTime,
    dedup: &ExpiryDedup,
    suppressed: &AtomicU64,
) -> Vec<Finding> {
    let window = policy.signature_expiry_window.as_secs();
    if window == 0 || !(l.verdict.is_secure() || critical) {
        return Vec::new();
    }
    let now32 = now as u32;
    let due = |exp: u32| {
        let t = left(exp, now32);
        t > 0 && t as u64 <= window
    };
    // The common case (nothing due) without building descriptions: this
    // runs for every Secure answer.
    if !l
        .trace
        .steps
        .iter()
        .flat_map(|s| &s.signatures)
        .any(|w| due(w.expiration))
    {
        return Vec::new();
    }
    let mut soonest: Vec<(SigUse, i64)> = Vec::new();
    for s in signatures(l) {
        let t = left(s.expiration, now32);
        // Already expired: the verdict did not rest on it (validation
        // would have failed), nothing to forecast.
        if t <= 0 || t as u64 > window {
            continue;
        }
        match soonest.iter_mut().find(|(u, _)| u.signer == s.signer) {
            Some(e) if t < e.1 => *e = (s, t),
            Some(_) => {}
            None => soonest.push((s, t)),
        }
    }
    let mut out = Vec::new();
    for (s, t) in soonest {
        if !dedup.first(&s.signer, at) {
            suppressed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let severity = if t < 86_400 {
            Severity::High
        } else {
            Severity::Medium
        };
        out.push(Finding::new(
            Rule::SignatureExpiring,
            severity,
            format!(
                "signatures of zone {} expire soon: the RRSIG over {} by key {} ({}) expires at {} ({} left); \
                 the zone turns bogus for every validator unless it is re-signed",
                pres::name(&s.signer),
                s.covers,
                s.key_tag,
                crate::dnssec::algorithm::algorithm_name(s.algorithm),
                rfc3339(s.expiration),
                days_hours(t)
            ),
        ));
    }
    out
}

fn rfc3339(secs: u32) -> String {
    crate::event::rfc3339_micros(std::time::UNIX_EPOCH + Duration::from_secs(u64::from(secs)))
}
