//! Validating what an answer says (RFC 4035 §5.3–§5.4): each RRset of the
//! answer (CNAME/DNAME links included) with the keys of the zone that
//! signed it, wildcard expansions with their no-closer-match proof
//! (RFC 4035 §5.3.4, RFC 5155 §8.8), and NXDOMAIN/NODATA with their
//! NSEC/NSEC3 proofs. Unsigned data is insecure only when the chain proves
//! the zone insecure; otherwise missing RRSIGs are Bogus.

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, Record, RecordType};

use super::chain::{
    ChainCtx, FAILURE_TTL, MAX_TTL, ZoneState, denial_of, rrsigs, verify_denial_records,
};
use super::denial::Denial;
use super::resolver::Work;
use super::verdict::{BogusReason, InsecureReason, TraceStep, Verdict};
use super::verify::{RrsetOutcome, verify_rrset};

/// The verdict of one piece of an answer, how long it may be cached and the
/// trace of the chain used.
#[derive(Clone, Debug)]
pub struct PieceOutcome {
    pub verdict: Verdict,
    pub ttl: u32,
    pub steps: Vec<TraceStep>,
}

impl PieceOutcome {
    fn from_state_failure(state: &ZoneState) -> Option<Self> {
        match state {
            ZoneState::Secure { .. } => None,
            ZoneState::Insecure { reason, path } => Some(Self {
                verdict: Verdict::insecure(reason.clone()),
                ttl: MAX_TTL,
                steps: path.as_ref().clone(),
            }),
            ZoneState::Failed { verdict, path } => Some(Self {
                verdict: verdict.clone(),
                ttl: FAILURE_TTL,
                steps: path.as_ref().clone(),
            }),
        }
    }

    fn bogus(reason: BogusReason, steps: Vec<TraceStep>) -> Self {
        Self {
            verdict: Verdict::bogus(reason),
            ttl: FAILURE_TTL,
            steps,
        }
    }
}

/// The name an unsigned piece is judged at: the owner itself. Every label
/// from the anchor down is probed for DS (as stub validators do), because the
/// server that answered may host several zones (one nsd serving a parent and
/// its child answers from the child without a referral), so the responding
/// zone is not known. `_zone_hint` (the last referral) is kept for tracing.
fn unsigned_zone(owner: &Name, _zone_hint: Option<&Name>) -> Name {
    owner.clone()
}

/// The signer named by the RRSIGs (the deepest one enclosing `owner`).
fn signer_of(sigs: &[hickory_proto::dnssec::rdata::RRSIG], owner: &Name) -> Option<Name> {
    sigs.iter()
        .map(|s| s.input().signer_name.clone())
        .filter(|s| s.zone_of(owner))
        .max_by_key(|s| s.iter().count())
}

fn step(
    zone: &Name,
    note: String,
    windows: Vec<super::verdict::SigWindow>,
    tag: Option<u16>,
) -> TraceStep {
    TraceStep {
        zone: zone.clone(),
        ds_key_tags: Vec::new(),
        dnskey_key_tags: tag.into_iter().collect(),
        signatures: windows,
        note,
    }
}

impl ChainCtx<'_> {
    /// One RRset of an answer: `records` (owner, rtype) from `msg`'s answer
    /// section with its RRSIGs; wildcard proofs come from the authority section.
    pub async fn validate_rrset(
        &self,
        owner: &Name,
        rtype: RecordType,
        records: &[Record],
        msg: &Message,
        zone_hint: Option<&Name>,
        work: &mut Work,
    ) -> PieceOutcome {
        let sigs = rrsigs(&msg.answers, owner, rtype);
        let Some(signer) = signer_of(&sigs, owner) else {
            let zone = unsigned_zone(owner, zone_hint);
            let state = self.zone_state(&zone, work).await;
            if let Some(out) = PieceOutcome::from_state_failure(&state) {
                return out;
            }
            let reason = if sigs.is_empty() {
                BogusReason::RrsigsMissing {
                    name: owner.clone(),
                    rtype,
                }
            } else {
                BogusReason::WrongSigner {
                    name: owner.clone(),
                    rtype,
                    signer: sigs[0].input().signer_name.clone(),
                    zone,
                }
            };
            return PieceOutcome::bogus(reason, state.path().as_ref().clone());
        };
        let state = self.zone_state(&signer, work).await;
        if let Some(out) = PieceOutcome::from_state_failure(&state) {
            return out;
        }
        let ZoneState::Secure { zone, keys, path } = &state else {
            unreachable!("non-secure states returned above");
        };
        let mut steps = path.as_ref().clone();
        if *zone != signer {
            // The signer is not a zone cut the chain found (no DS at it).
            return PieceOutcome::bogus(
                BogusReason::WrongSigner {
                    name: owner.clone(),
                    rtype,
                    signer,
                    zone: zone.clone(),
                },
                steps,
            );
        }
        match verify_rrset(
            owner,
            rtype,
            records,
            &sigs,
            keys,
            zone,
            self.now,
            &mut work.budget,
        ) {
            Err(reason) => PieceOutcome::bogus(reason, steps),
            Ok(RrsetOutcome::Unsupported { algorithm }) => PieceOutcome {
                verdict: Verdict::insecure(InsecureReason::UnsupportedAlgorithm {
                    zone: zone.clone(),
                    algorithm,
                }),
                ttl: MAX_TTL,
                steps,
            },
            Ok(RrsetOutcome::Verified(v)) => {
                let mut ttl = v.ttl;
                let mut windows = vec![v.window];
                let mut note = format!("{owner} {rtype} signed by key {}", v.key_tag);
                if let Some(wildcard) = &v.wildcard {
                    // RFC 4035 §5.3.4: prove that qname itself does not exist.
                    let proven =
                        match verify_denial_records(&msg.authorities, zone, keys, self.now, work) {
                            Ok(p) => p,
                            Err(verdict) => {
                                return PieceOutcome {
                                    verdict,
                                    ttl: FAILURE_TTL,
                                    steps,
                                };
                            }
                        };
                    let proof_ok = self.wildcard_proof(owner, wildcard, &proven, zone, work);
                    // An opt-out NSEC3 covering the next closer name may hide an
                    // unsigned delegation: the answer is only insecure (RFC 5155
                    // §9.2; Deckard val_nsec3_optout_ad). Only the covering NSEC3
                    // is in a wildcard proof, so any opt-out flag here is it.
                    if proof_ok
                        && proven.nsecs.is_empty()
                        && proven.nsec3s.iter().any(|(_, n)| n.opt_out())
                    {
                        return PieceOutcome {
                            verdict: Verdict::insecure(InsecureReason::OptOut {
                                zone: zone.clone(),
                                name: owner.clone(),
                            }),
                            ttl: ttl.min(proven.ttl),
                            steps,
                        };
                    }
                    if !proof_ok {
                        return PieceOutcome::bogus(
                            proven.failure(BogusReason::MissingDenialProof {
                                name: owner.clone(),
                                rtype,
                            }),
                            steps,
                        );
                    }
                    ttl = ttl.min(proven.ttl);
                    windows.extend(proven.windows.iter().cloned());
                    note = format!("{note}, expanded from {wildcard} (no closer match proven)");
                    if let Some(extra) = proven.rejected_note() {
                        note = format!("{note}; {extra}");
                    }
                }
                steps.push(step(zone, note, windows, Some(v.key_tag)));
                PieceOutcome {
                    verdict: Verdict::Secure,
                    ttl: ttl.min(MAX_TTL),
                    steps,
                }
            }
        }
    }

    fn wildcard_proof(
        &self,
        qname: &Name,
        wildcard: &Name,
        proven: &super::chain::ProvenDenialRecords,
        zone: &Name,
        work: &mut Work,
    ) -> bool {
        if !proven.nsecs.is_empty() {
            super::nsec::nsec_wildcard_answer_proof(qname, wildcard, &proven.nsecs, zone)
        } else {
            super::nsec3::nsec3_wildcard_answer_proof(
                qname,
                wildcard,
                &proven.nsec3s,
                zone,
                self.limits,
                &mut work.budget,
            ) == Denial::WildcardAnswerOk
        }
    }

    /// NXDOMAIN or NODATA for (qname, qtype) as `msg` claims it.
    pub async fn validate_negative(
        &self,
        qname: &Name,
        qtype: RecordType,
        nxdomain: bool,
        msg: &Message,
        zone_hint: Option<&Name>,
        work: &mut Work,
    ) -> PieceOutcome {
        // The signer of the SOA / NSEC / NSEC3 records is the zone that denies.
        let mut sigs = Vec::new();
        for t in [RecordType::SOA, RecordType::NSEC, RecordType::NSEC3] {
            for r in msg.authorities.iter().filter(|r| r.record_type() == t) {
                sigs.extend(rrsigs(&msg.authorities, &r.name, t));
            }
        }
        let Some(signer) = signer_of(&sigs, qname) else {
            let soa_owner = msg
                .authorities
                .iter()
                .find(|r| r.record_type() == RecordType::SOA && r.name.zone_of(qname))
                .map(|r| r.name.clone());
            let zone = soa_owner.unwrap_or_else(|| unsigned_zone(qname, zone_hint));
            let state = self.zone_state(&zone, work).await;
            if let Some(out) = PieceOutcome::from_state_failure(&state) {
                return out;
            }
            return PieceOutcome::bogus(
                BogusReason::MissingDenialProof {
                    name: qname.clone(),
                    rtype: qtype,
                },
                state.path().as_ref().clone(),
            );
        };
        let state = self.zone_state(&signer, work).await;
        if let Some(out) = PieceOutcome::from_state_failure(&state) {
            return out;
        }
        let ZoneState::Secure { zone, keys, path } = &state else {
            unreachable!("non-secure states returned above");
        };
        let steps = path.as_ref().clone();
        let missing = || BogusReason::MissingDenialProof {
            name: qname.clone(),
            rtype: qtype,
        };
        if *zone != signer {
            return PieceOutcome::bogus(missing(), steps);
        }
        let proven = match verify_denial_records(&msg.authorities, zone, keys, self.now, work) {
            Ok(p) => p,
            Err(verdict) => {
                return PieceOutcome {
                    verdict,
                    ttl: FAILURE_TTL,
                    steps,
                };
            }
        };
        // The SOA of a negative answer is checked too: a forged or broken
        // SOA must not ride along with a valid denial (RFC 4035 §5.3).
        let soa = super::chain::rrset(&msg.authorities, zone, RecordType::SOA);
        if !soa.is_empty() {
            let soa_sigs = rrsigs(&msg.authorities, zone, RecordType::SOA);
            if let Err(reason) = verify_rrset(
                zone,
                RecordType::SOA,
                &soa,
                &soa_sigs,
                keys,
                zone,
                self.now,
                &mut work.budget,
            ) {
                return PieceOutcome::bogus(reason, steps);
            }
        }
        let mut denial = denial_of(qname, qtype, &proven, zone, self.limits, work);
        if qname.is_root() && qtype == RecordType::DS && matches!(denial, Denial::NotProven(_)) {
            // The root has no parent: its own apex NSEC denies its DS
            // (nsec_denial insists on the parent for every other zone).
            let apex_without_ds = proven
                .nsecs
                .iter()
                .any(|(o, n)| o.is_root() && !n.type_bit_maps().any(|t| t == RecordType::DS));
            if apex_without_ds {
                denial = Denial::NoData;
            }
        }
        // Wildcard NODATA whose next closer name sits in an opt-out span:
        // insecure, like a wildcard answer there (Deckard val_nsec3_optout_ad).
        if denial == Denial::WildcardNoData
            && proven.nsecs.is_empty()
            && proven.nsec3s.iter().any(|(_, n)| n.opt_out())
        {
            denial = Denial::OptOutInsecure;
        }
        let ok = match (&denial, nxdomain) {
            (Denial::NxDomain, true) => true,
            (Denial::NoData | Denial::WildcardNoData, false) => true,
            // A DS query at an unsigned delegation: NODATA with NS in the bitmap.
            (Denial::InsecureDelegation, false) => qtype == RecordType::DS,
            (Denial::OptOutInsecure, _) => {
                return PieceOutcome {
                    verdict: Verdict::insecure(InsecureReason::OptOut {
                        zone: zone.clone(),
                        name: qname.clone(),
                    }),
                    ttl: proven.ttl,
                    steps,
                };
            }
            (Denial::BudgetExceeded { what, limit }, _) => {
                return PieceOutcome::bogus(
                    BogusReason::BudgetExceeded {
                        what,
                        limit: *limit,
                    },
                    steps,
                );
            }
            (Denial::Nsec3IterationsTooHigh(iterations), _) => {
                return PieceOutcome {
                    verdict: Verdict::insecure(InsecureReason::Nsec3IterationsTooHigh {
                        zone: zone.clone(),
                        iterations: *iterations,
                    }),
                    ttl: proven.ttl,
                    steps,
                };
            }
            _ => false,
        };
        if !ok {
            return PieceOutcome::bogus(proven.failure(missing()), steps);
        }
        let mut steps = steps;
        let what = if nxdomain { "NXDOMAIN" } else { "NODATA" };
        let extra = proven
            .rejected_note()
            .map(|n| format!("; {n}"))
            .unwrap_or_default();
        steps.push(step(
            zone,
            format!("{what} for {qname} {qtype} proven ({denial:?}){extra}"),
            proven.windows.clone(),
            None,
        ));
        // RFC 2308 §5: negative TTL bounded by the SOA minimum and SOA TTL.
        let soa_ttl = msg
            .authorities
            .iter()
            .filter_map(|r| match &r.data {
                hickory_proto::rr::RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
            .min()
            .unwrap_or(proven.ttl);
        PieceOutcome {
            verdict: Verdict::Secure,
            ttl: proven.ttl.min(soa_ttl),
            steps,
        }
    }
}
