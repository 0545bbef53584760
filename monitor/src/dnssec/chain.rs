//! The chain of trust (RFC 4035 §5.1–§5.2): from the closest trust anchor
//! down to the zone that signed an answer, one label at a time. At every
//! label the parent is asked for DS (RFC 4035 §3.1.4.1: the parent side
//! answers DS), so zone cuts are found the way stub validators find them and
//! the walk works the same in iterative and upstream mode:
//! - a DS RRset validated with the parent's keys → fetch the child's DNSKEY
//!   RRset, keep the keys a DS matches (`match_ds`), require the RRset to be
//!   self-signed by one of them (RFC 4035 §5.2);
//! - a validated NSEC/NSEC3 proof of no DS with NS set → insecure delegation
//!   (RFC 4035 §5.2, RFC 5155 §8.9, opt-out §6);
//! - a validated proof of no DS without NS → not a zone cut, go on.
//!
//! Results are cached per name as [`ZoneState`], with the trace steps of the
//! path, so later lookups start from the deepest known zone.

use std::sync::Arc;

use hickory_proto::dnssec::rdata::{DNSKEY, RRSIG};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, Record, RecordType};

use super::anchors::TrustAnchors;
use super::denial::Denial;
use super::ds::{DsMatch, match_ds};
use super::keytag::key_tag;
use super::limits::Limits;
use super::nta::{NegativeTrustAnchor, covering};
use super::resolver::{Resolver, Work};
pub use super::sections::{
    ProvenDenialRecords, denial_of, dnskeys_of, ds_of, resolve_failure, rrset, rrsigs,
    verify_denial_records, window_of,
};
use super::verdict::{BogusReason, InsecureReason, TraceStep, Verdict};
use super::verify::{RrsetOutcome, verify_rrset};

/// A failure cached this long (RFC 9520 §3: at least 1 s, at most 5 min).
pub const FAILURE_TTL: u32 = 5;
/// Validated data is cached at most this long.
pub const MAX_TTL: u32 = 86_400;

/// What is known about the deepest zone at or above a name.
#[derive(Clone, Debug)]
pub enum ZoneState {
    /// `zone` is secure with these zone keys; `path` is the trace from the anchor.
    Secure {
        zone: Name,
        keys: Arc<Vec<DNSKEY>>,
        path: Arc<Vec<TraceStep>>,
    },
    /// Provably insecure at or above this name.
    Insecure {
        reason: InsecureReason,
        path: Arc<Vec<TraceStep>>,
    },
    /// Bogus or indeterminate.
    Failed {
        verdict: Verdict,
        path: Arc<Vec<TraceStep>>,
    },
}

impl ZoneState {
    pub fn path(&self) -> &Arc<Vec<TraceStep>> {
        match self {
            Self::Secure { path, .. } | Self::Insecure { path, .. } | Self::Failed { path, .. } => {
                path
            }
        }
    }
}

/// Everything the chain walk needs from the engine.
pub struct ChainCtx<'a> {
    pub resolver: &'a Resolver,
    pub anchors: &'a TrustAnchors,
    pub negative_anchors: &'a [NegativeTrustAnchor],
    pub limits: &'a Limits,
    pub now: i64,
    pub cache: &'a super::cache::TtlLru<Name, ZoneState>,
    pub clock: &'a super::clock::Clock,
}

/// How one label below a secure zone turned out.
enum Cut {
    /// Not a zone cut: the name lies inside the parent zone (with a trace
    /// note when denial records were left out of the proof).
    Inside(Option<String>),
    Secure {
        keys: Arc<Vec<DNSKEY>>,
        step: TraceStep,
        ttl: u32,
    },
    Insecure(InsecureReason, u32),
    Failed(Verdict),
}

impl ChainCtx<'_> {
    /// The state of the deepest zone at or above `name`.
    pub async fn zone_state(&self, name: &Name, work: &mut Work) -> ZoneState {
        let empty = Arc::new(Vec::new());
        // RFC 7646: the NTA's expiry is read now, and what is decided under
        // it is not reused past its end.
        if let Some(nta) = covering(self.negative_anchors, name, self.now) {
            if let Some(left) = nta.seconds_left(self.now) {
                work.ttl_cap = work.ttl_cap.min(left);
            }
            return ZoneState::Insecure {
                reason: InsecureReason::NegativeTrustAnchor {
                    zone: nta.zone.clone(),
                },
                path: empty,
            };
        }
        let Some((anchor_name, _)) = self.anchors.closest(name) else {
            return ZoneState::Insecure {
                reason: InsecureReason::NoTrustAnchor { name: name.clone() },
                path: empty,
            };
        };
        let anchor_name = anchor_name.clone();
        // Start from the deepest cached state between the anchor and name.
        let mut start = None;
        let mut n = name.clone();
        loop {
            if let Some(state) = self.cache.get(&n, self.clock)
                && !(work.retry && matches!(state, ZoneState::Failed { .. }))
            {
                start = Some((n.clone(), state));
                break;
            }
            if n == anchor_name || n.is_root() {
                break;
            }
            n = n.base_name();
        }
        let (mut at, mut state) = match start {
            Some((at, state)) => (at, state),
            None => {
                let (s, ttl) = self.anchor_state(&anchor_name, work).await;
                self.cache
                    .insert(anchor_name.clone(), s.clone(), ttl, 512, self.clock);
                (anchor_name.clone(), s)
            }
        };
        let name_labels = name.iter().count();
        loop {
            let (zone, keys, path) = match &state {
                ZoneState::Secure { zone, keys, path } => {
                    (zone.clone(), keys.clone(), path.clone())
                }
                _ => return state,
            };
            let depth = at.iter().count();
            if depth >= name_labels {
                return state;
            }
            let child = name.trim_to(depth + 1);
            let (next, ttl) = match self.cut(&child, &zone, &keys, work).await {
                Cut::Inside(None) => (state.clone(), MAX_TTL.min(3_600)),
                Cut::Inside(Some(note)) => {
                    let mut p = path.as_ref().clone();
                    p.push(TraceStep {
                        zone: child.clone(),
                        ds_key_tags: Vec::new(),
                        dnskey_key_tags: Vec::new(),
                        signatures: Vec::new(),
                        note: format!("no zone cut (DS denied in {zone}); {note}"),
                    });
                    let inside = ZoneState::Secure {
                        zone: zone.clone(),
                        keys: keys.clone(),
                        path: Arc::new(p),
                    };
                    (inside, MAX_TTL.min(3_600))
                }
                Cut::Secure { keys, step, ttl } => {
                    let mut p = path.as_ref().clone();
                    p.push(step);
                    (
                        ZoneState::Secure {
                            zone: child.clone(),
                            keys,
                            path: Arc::new(p),
                        },
                        ttl,
                    )
                }
                Cut::Insecure(reason, ttl) => {
                    let mut p = path.as_ref().clone();
                    p.push(TraceStep {
                        zone: child.clone(),
                        ds_key_tags: Vec::new(),
                        dnskey_key_tags: Vec::new(),
                        signatures: Vec::new(),
                        note: format!("insecure: {reason}"),
                    });
                    (
                        ZoneState::Insecure {
                            reason,
                            path: Arc::new(p),
                        },
                        ttl,
                    )
                }
                Cut::Failed(verdict) => {
                    let mut p = path.as_ref().clone();
                    p.push(TraceStep {
                        zone: child.clone(),
                        ds_key_tags: Vec::new(),
                        dnskey_key_tags: Vec::new(),
                        signatures: Vec::new(),
                        note: verdict.to_string(),
                    });
                    (
                        ZoneState::Failed {
                            verdict,
                            path: Arc::new(p),
                        },
                        FAILURE_TTL,
                    )
                }
            };
            self.cache
                .insert(child.clone(), next.clone(), ttl, 512, self.clock);
            at = child;
            state = next;
        }
    }

    /// The trust anchor's zone: its DNSKEY RRset matched against the anchor
    /// (DS anchors via `match_ds`, DNSKEY anchors by equality), self-signed.
    async fn anchor_state(&self, anchor: &Name, work: &mut Work) -> (ZoneState, u32) {
        let empty = Arc::new(Vec::new());
        let failed = |verdict: Verdict| {
            (
                ZoneState::Failed {
                    verdict,
                    path: Arc::new(Vec::new()),
                },
                FAILURE_TTL,
            )
        };
        let Some((_, set)) = self.anchors.closest(anchor) else {
            return (
                ZoneState::Insecure {
                    reason: InsecureReason::NoTrustAnchor {
                        name: anchor.clone(),
                    },
                    path: empty,
                },
                MAX_TTL,
            );
        };
        let resp = match self
            .resolver
            .resolve(work, anchor, RecordType::DNSKEY)
            .await
        {
            Ok(r) => r,
            Err(e) => return failed(resolve_failure(&e)),
        };
        let records = rrset(&resp.message.answers, anchor, RecordType::DNSKEY);
        let sigs = rrsigs(&resp.message.answers, anchor, RecordType::DNSKEY);
        let dnskeys = dnskeys_of(&records);
        if dnskeys.is_empty() {
            return failed(Verdict::bogus(BogusReason::DnskeyMissing {
                zone: anchor.clone(),
            }));
        }
        let (trusted, ds_tags): (Vec<DNSKEY>, Vec<u16>) = {
            let mut trusted: Vec<DNSKEY> = dnskeys
                .iter()
                .filter(|k| set.dnskeys.iter().any(|a| a == *k))
                .cloned()
                .collect();
            let mut tags = Vec::new();
            if !set.ds.is_empty() {
                match match_ds(anchor, &set.ds, &dnskeys) {
                    DsMatch::Matched { keys, key_tags } => {
                        trusted.extend(keys);
                        tags = key_tags;
                    }
                    DsMatch::NoneMatch { ds_key_tags } if trusted.is_empty() => {
                        return failed(Verdict::bogus(BogusReason::DsMatchesNoKey {
                            zone: anchor.clone(),
                            ds_key_tags,
                        }));
                    }
                    DsMatch::Unsupported { reason } if trusted.is_empty() => {
                        return (
                            ZoneState::Insecure {
                                reason,
                                path: empty,
                            },
                            MAX_TTL,
                        );
                    }
                    _ => {}
                }
            }
            (trusted, tags)
        };
        if trusted.is_empty() {
            return failed(Verdict::bogus(BogusReason::DsMatchesNoKey {
                zone: anchor.clone(),
                ds_key_tags: set.ds.iter().map(|d| d.key_tag()).collect(),
            }));
        }
        self.finish_dnskey(
            anchor,
            &records,
            &sigs,
            &trusted,
            ds_tags,
            work,
            Arc::new(Vec::new()),
        )
    }

    /// Checks the DNSKEY RRset's self-signature by a trusted key (RFC 4035
    /// §5.2) and builds the Secure state with its trace step.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call site per kind of anchor/cut"
    )]
    fn finish_dnskey(
        &self,
        zone: &Name,
        records: &[Record],
        sigs: &[RRSIG],
        trusted: &[DNSKEY],
        ds_tags: Vec<u16>,
        work: &mut Work,
        parent_path: Arc<Vec<TraceStep>>,
    ) -> (ZoneState, u32) {
        let fail = |verdict| {
            (
                ZoneState::Failed {
                    verdict,
                    path: parent_path.clone(),
                },
                FAILURE_TTL,
            )
        };
        match verify_rrset(
            zone,
            RecordType::DNSKEY,
            records,
            sigs,
            trusted,
            zone,
            self.now,
            &mut work.budget,
        ) {
            Err(reason) => fail(Verdict::bogus(reason)),
            Ok(RrsetOutcome::Unsupported { algorithm }) => (
                ZoneState::Insecure {
                    reason: InsecureReason::UnsupportedAlgorithm {
                        zone: zone.clone(),
                        algorithm,
                    },
                    path: parent_path.clone(),
                },
                MAX_TTL.min(3_600),
            ),
            Ok(RrsetOutcome::Verified(v)) => {
                let keys: Vec<DNSKEY> = dnskeys_of(records)
                    .into_iter()
                    .filter(|k| k.zone_key() && !k.revoke())
                    .collect();
                let mut path = parent_path.as_ref().clone();
                path.push(TraceStep {
                    zone: zone.clone(),
                    ds_key_tags: ds_tags,
                    dnskey_key_tags: keys.iter().map(key_tag).collect(),
                    signatures: vec![v.window],
                    note: format!("DNSKEY RRset signed by key {}", v.key_tag),
                });
                (
                    ZoneState::Secure {
                        zone: zone.clone(),
                        keys: Arc::new(keys),
                        path: Arc::new(path),
                    },
                    v.ttl.min(MAX_TTL),
                )
            }
        }
    }

    /// Asks the parent `zone` for DS at `child` and follows it.
    async fn cut(&self, child: &Name, zone: &Name, keys: &[DNSKEY], work: &mut Work) -> Cut {
        let resp = match self.resolver.resolve(work, child, RecordType::DS).await {
            Ok(r) => r,
            Err(e) => return Cut::Failed(resolve_failure(&e)),
        };
        let msg: &Message = &resp.message;
        let ds_records = rrset(&msg.answers, child, RecordType::DS);
        if ds_records.is_empty() {
            // A CNAME owner cannot be a zone cut (RFC 2181 §10.1); the CNAME
            // itself is validated when it is part of an answer.
            if msg
                .answers
                .iter()
                .any(|r| r.name == *child && r.record_type() == RecordType::CNAME)
            {
                return Cut::Inside(None);
            }
            return self.no_ds(child, zone, keys, msg, work);
        }
        let ds_sigs = rrsigs(&msg.answers, child, RecordType::DS);
        let ds_verified = match verify_rrset(
            child,
            RecordType::DS,
            &ds_records,
            &ds_sigs,
            keys,
            zone,
            self.now,
            &mut work.budget,
        ) {
            Err(reason) => return Cut::Failed(Verdict::bogus(reason)),
            Ok(RrsetOutcome::Unsupported { algorithm }) => {
                return Cut::Insecure(
                    InsecureReason::UnsupportedAlgorithm {
                        zone: zone.clone(),
                        algorithm,
                    },
                    3_600,
                );
            }
            Ok(RrsetOutcome::Verified(v)) => v,
        };
        let ds_set = ds_of(&ds_records);
        let resp = match self.resolver.resolve(work, child, RecordType::DNSKEY).await {
            Ok(r) => r,
            Err(e) => return Cut::Failed(resolve_failure(&e)),
        };
        let records = rrset(&resp.message.answers, child, RecordType::DNSKEY);
        let sigs = rrsigs(&resp.message.answers, child, RecordType::DNSKEY);
        let dnskeys = dnskeys_of(&records);
        if dnskeys.is_empty() {
            return Cut::Failed(Verdict::bogus(BogusReason::DnskeyMissing {
                zone: child.clone(),
            }));
        }
        let (trusted, tags) = match match_ds(child, &ds_set, &dnskeys) {
            DsMatch::Matched { keys, key_tags } => (keys, key_tags),
            DsMatch::NoneMatch { ds_key_tags } => {
                return Cut::Failed(Verdict::bogus(BogusReason::DsMatchesNoKey {
                    zone: child.clone(),
                    ds_key_tags,
                }));
            }
            DsMatch::Unsupported { reason } => {
                return Cut::Insecure(reason, ds_verified.ttl);
            }
        };
        let (state, ttl) = self.finish_dnskey(
            child,
            &records,
            &sigs,
            &trusted,
            tags,
            work,
            Arc::new(Vec::new()),
        );
        match state {
            ZoneState::Secure { keys, path, .. } => {
                let mut step = path.last().cloned().unwrap_or_else(|| TraceStep {
                    zone: child.clone(),
                    ds_key_tags: Vec::new(),
                    dnskey_key_tags: Vec::new(),
                    signatures: Vec::new(),
                    note: String::new(),
                });
                step.signatures.insert(0, ds_verified.window);
                step.note = format!(
                    "DS signed by {zone} key {}; {}",
                    ds_verified.key_tag, step.note
                );
                Cut::Secure {
                    keys,
                    step,
                    ttl: ttl.min(ds_verified.ttl),
                }
            }
            ZoneState::Insecure { reason, .. } => Cut::Insecure(reason, ttl),
            ZoneState::Failed { verdict, .. } => Cut::Failed(verdict),
        }
    }

    /// A DS query answered without DS: the proof decides what `child` is.
    fn no_ds(
        &self,
        child: &Name,
        zone: &Name,
        keys: &[DNSKEY],
        msg: &Message,
        work: &mut Work,
    ) -> Cut {
        let proven = match verify_denial_records(&msg.authorities, zone, keys, self.now, work) {
            Ok(p) => p,
            Err(Verdict::Insecure { reason, .. }) => return Cut::Insecure(reason, 3_600),
            Err(v) => return Cut::Failed(v),
        };
        match denial_of(child, RecordType::DS, &proven, zone, self.limits, work) {
            Denial::NoData
            | Denial::NxDomain
            | Denial::WildcardNoData
            | Denial::WildcardAnswerOk => Cut::Inside(proven.rejected_note()),
            Denial::InsecureDelegation => Cut::Insecure(
                InsecureReason::UnsignedDelegation {
                    zone: child.clone(),
                },
                proven.ttl,
            ),
            Denial::OptOutInsecure => Cut::Insecure(
                InsecureReason::OptOut {
                    zone: zone.clone(),
                    name: child.clone(),
                },
                proven.ttl,
            ),
            Denial::Nsec3IterationsTooHigh(iterations) => Cut::Insecure(
                InsecureReason::Nsec3IterationsTooHigh {
                    zone: zone.clone(),
                    iterations,
                },
                proven.ttl,
            ),
            Denial::NotProven(_) => Cut::Failed(Verdict::bogus(proven.failure(
                BogusReason::MissingDenialProof {
                    name: child.clone(),
                    rtype: RecordType::DS,
                },
            ))),
            Denial::BudgetExceeded { what, limit } => {
                Cut::Failed(Verdict::bogus(BogusReason::BudgetExceeded { what, limit }))
            }
        }
    }
}
