//! `dnssec-monitor verify-evidence --db PATH ALERT_ID`: re-check, offline,
//! the DNSSEC evidence an alert's verdict rested on, at the stored
//! validation time, with the engine's own [`verify_rrset`] and
//! [`match_ds`].
//!
//! The store keeps each DNSKEY/DS/RRSIG as wire bytes (the `evidence`
//! table) and the raw answer; together they hold every signed RRset and
//! the keys that sign it. Each RRSIG group (owner, type covered, signer)
//! is verified against the signer's DNSKEYs from the evidence, and each
//! DS set is matched against its zone's DNSKEYs. The outcome is then
//! compared with the stored verdict: `bogus` reproduces when something
//! fails, `secure` when everything verifies, `insecure`/`indeterminate`
//! when nothing fails. Exit 0 when it reproduces, 2 when it does not.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use hickory_proto::{
    dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG},
    op::Message,
    rr::{Name, RData, Record, RecordType},
    serialize::binary::BinDecodable,
};

use crate::dnssec::{
    ds::{DsMatch, match_ds},
    limits::{Budget, Limits},
    verify::{RrsetOutcome, verify_rrset},
};
use crate::store::{AlertDetail, Store};

use super::search::DEFAULT_STORE;

#[derive(clap::Args, Debug)]
pub struct VerifyEvidenceArgs {
    /// The store (SQLite file); opened read-only.
    #[arg(long = "store", value_name = "PATH", alias = "db", default_value = DEFAULT_STORE)]
    pub db: PathBuf,
    /// The alert id (from `search`).
    #[arg(value_name = "ALERT_ID")]
    pub alert: i64,
}

/// Exit code when the evidence does not reproduce the stored verdict.
pub const EXIT_NOT_REPRODUCED: i32 = 2;

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// `www.example./A signed by example.` or `DS example.`.
    pub what: String,
    /// `None` = verified; `Some(reason)` = failed.
    pub failure: Option<String>,
    /// Verified, but only because of an algorithm we cannot verify.
    pub unsupported: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub stored_outcome: String,
    /// Unix seconds the signatures were checked at.
    pub at: i64,
    pub checks: Vec<Check>,
    pub reproduced: bool,
}

pub fn main(args: VerifyEvidenceArgs) -> anyhow::Result<i32> {
    let store = Store::open_read_only(&args.db)
        .with_context(|| format!("opening the store {}", args.db.display()))?;
    let Some(detail) = store.alert_detail(args.alert)? else {
        bail!("no alert {} in {}", args.alert, args.db.display());
    };
    let report = reverify(&detail)?;
    println!(
        "alert {} ({}): stored verdict {}, checked at {}",
        args.alert,
        detail.hit.rule,
        report.stored_outcome,
        crate::sinks::syslog::format::rfc3339_utc(
            UNIX_EPOCH + std::time::Duration::from_secs(report.at.max(0) as u64)
        )
    );
    for c in &report.checks {
        match (&c.failure, c.unsupported) {
            (None, false) => println!("  verified  {}", c.what),
            (None, true) => println!("  unsupported (treated as unsigned)  {}", c.what),
            (Some(why), _) => println!("  FAILED    {}: {why}", c.what),
        }
    }
    if report.reproduced {
        println!("reproduced: the evidence gives the stored verdict");
        Ok(0)
    } else {
        println!("NOT reproduced: the evidence does not give the stored verdict");
        Ok(EXIT_NOT_REPRODUCED)
    }
}

fn secs(t: Option<SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// Re-check `detail`'s evidence; an error when there is no verdict or a
/// stored record does not parse.
pub fn reverify(detail: &AlertDetail) -> anyhow::Result<Report> {
    let Some(verdict) = &detail.verdict else {
        bail!("alert {} has no stored verdict to re-check", detail.hit.id);
    };
    let mut evidence: Vec<Record> = Vec::new();
    for (i, e) in verdict.evidence.iter().enumerate() {
        let r = Record::from_bytes(&e.wire)
            .with_context(|| format!("evidence record {i} ({}) does not parse", e.owner))?;
        evidence.push(r);
    }
    let mut answer: Vec<Record> = Vec::new();
    if let Some(bytes) = detail.transaction.as_ref().and_then(|t| t.answer.as_ref()) {
        let msg = Message::from_vec(bytes).context("the stored answer does not parse")?;
        answer.extend(msg.answers.iter().cloned());
        answer.extend(msg.authorities.iter().cloned());
    }
    // The captured answer fills in RRsets the evidence lacks (older
    // stores kept only the RRSIGs). Where the evidence holds the validated
    // RRset itself, the captured one is checked on its own against the
    // evidence's keys: mixing a forged RRset with the validated one would
    // make neither verify.
    let (captured, fill): (Vec<Record>, Vec<Record>) = answer
        .into_iter()
        .partition(|r| has_rrset(&evidence, &r.name, covered_type(r)));
    let mut pool = evidence.clone();
    pool.extend(fill);
    let at = secs(verdict.time);
    let mut checks = check_pool(&pool, at);
    if captured
        .iter()
        .any(|r| r.record_type() == RecordType::RRSIG)
    {
        let mut own = captured;
        own.extend(
            evidence
                .iter()
                .filter(|r| r.record_type() == RecordType::DNSKEY)
                .cloned(),
        );
        checks.extend(check_pool(&own, at).into_iter().map(|mut c| {
            c.what = format!("captured {}", c.what);
            c
        }));
    }
    let failed = checks.iter().any(|c| c.failure.is_some());
    let reproduced = match verdict.outcome.as_str() {
        "bogus" => failed,
        "secure" => !failed && checks.iter().any(|c| !c.unsupported),
        _ => !failed,
    };
    Ok(Report {
        stored_outcome: verdict.outcome.clone(),
        at,
        checks,
        reproduced,
    })
}

/// The type an RR belongs with: an RRSIG's covered type, else its own.
fn covered_type(r: &Record) -> RecordType {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => s.input().type_covered,
        _ => r.record_type(),
    }
}

/// Whether `pool` holds RRs (not only RRSIGs) of `owner`/`rtype`.
fn has_rrset(pool: &[Record], owner: &Name, rtype: RecordType) -> bool {
    let owner = owner.to_lowercase();
    pool.iter().any(|r| {
        r.record_type() == rtype
            && r.record_type() != RecordType::RRSIG
            && r.name.to_lowercase() == owner
    })
}

fn dnskeys(pool: &[Record], zone: &Name) -> Vec<DNSKEY> {
    let mut keys: Vec<DNSKEY> = Vec::new();
    for r in pool.iter().filter(|r| &r.name == zone) {
        if let RData::DNSSEC(DNSSECRData::DNSKEY(k)) = &r.data
            && !keys.contains(k)
        {
            keys.push(k.clone());
        }
    }
    keys
}

/// Verify every RRSIG group and every DS set in `pool` at `now`.
pub fn check_pool(pool: &[Record], now: i64) -> Vec<Check> {
    let limits = Limits::default();
    let mut checks = Vec::new();
    // (owner, covered, signer) of every RRSIG, in a stable order.
    let groups: BTreeSet<(Name, u16, Name)> = pool
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some((
                r.name.clone(),
                u16::from(s.input().type_covered),
                s.input().signer_name.clone(),
            )),
            _ => None,
        })
        .collect();
    for (owner, covered, signer) in groups {
        let rtype = RecordType::from(covered);
        let sigs: Vec<RRSIG> = pool
            .iter()
            .filter(|r| r.name == owner)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(s))
                    if s.input().type_covered == rtype && s.input().signer_name == signer =>
                {
                    Some(s.clone())
                }
                _ => None,
            })
            .collect();
        // The same RR may appear in the answer and in the evidence.
        let mut rrset: Vec<Record> = Vec::new();
        for r in pool
            .iter()
            .filter(|r| r.name == owner && r.record_type() == rtype)
        {
            if !rrset.iter().any(|x| x.data == r.data) {
                rrset.push(r.clone());
            }
        }
        let keys = dnskeys(pool, &signer);
        let what = format!("{owner}/{rtype} signed by {signer}");
        let mut budget = Budget::new(&limits);
        let (failure, unsupported) = if keys.is_empty() {
            (
                Some(format!("no DNSKEY of {signer} in the evidence")),
                false,
            )
        } else {
            match verify_rrset(
                &owner,
                rtype,
                &rrset,
                &sigs,
                &keys,
                &signer,
                now,
                &mut budget,
            ) {
                Ok(RrsetOutcome::Verified(_)) => (None, false),
                Ok(RrsetOutcome::Unsupported { .. }) => (None, true),
                Err(reason) => (Some(reason.to_string()), false),
            }
        };
        checks.push(Check {
            what,
            failure,
            unsupported,
        });
    }
    let ds_owners: BTreeSet<Name> = pool
        .iter()
        .filter(|r| r.record_type() == RecordType::DS)
        .map(|r| r.name.clone())
        .collect();
    for owner in ds_owners {
        let ds: Vec<DS> = pool
            .iter()
            .filter(|r| r.name == owner)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DS(d)) => Some(d.clone()),
                _ => None,
            })
            .collect();
        let keys = dnskeys(pool, &owner);
        let what = format!("DS {owner} → DNSKEY {owner}");
        let (failure, unsupported) = match match_ds(&owner, &ds, &keys) {
            DsMatch::Matched { .. } => (None, false),
            DsMatch::Unsupported { .. } => (None, true),
            DsMatch::NoneMatch { ds_key_tags } => (
                Some(format!(
                    "no DNSKEY matches DS key tags {ds_key_tags:?} ({} keys in the evidence)",
                    keys.len()
                )),
                false,
            ),
        };
        checks.push(Check {
            what,
            failure,
            unsupported,
        });
    }
    checks
}

#[cfg(test)]
#[path = "verify_evidence_tests.rs"]
mod tests;
