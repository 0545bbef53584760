//! Verifying one RRset against the RRSIGs and DNSKEYs of its zone
//! (RFC 4035 §5.3), bounded against KeyTrap (CVE-2023-50387).
//!
//! An RRSIG is usable when its signer is the zone, it covers the type, its
//! labels field is not above the owner's (§5.3.1) and its window holds. A
//! key is usable when its tag and algorithm match, the Zone Key flag is set
//! (RFC 4034 §2.1.1) and the REVOKE bit is clear (RFC 5011 §2.1: a revoked
//! key must not validate anything but its own self-signature, which the
//! trust-anchor maintenance we do not do would use). At most
//! `max_keys_per_tag` keys are tried per RRSIG and every verification is
//! charged to the lookup's [`Budget`]. The first valid signature wins.
//! Signatures that verified before are recognised by [`super::sigmemo`].

use hickory_proto::dnssec::PublicKey;
use hickory_proto::dnssec::rdata::{DNSKEY, RRSIG};
use hickory_proto::rr::{Name, Record, RecordType};

use super::algorithm::{AlgorithmSupport, CryptoError, support, verify_signature};
use super::keytag::key_tag;
use super::limits::Budget;
use super::rrsig::{check_window, remaining_validity, signed_data_of, signed_owner};
use super::sigmemo;
use super::verdict::{BogusReason, SigWindow};

/// A signature that verified, and what it tells the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrsetVerified {
    pub key_tag: u16,
    pub algorithm: u8,
    pub signer: Name,
    /// min(RRset TTLs, Original TTL, expiration − now) (RFC 4035 §5.3.3).
    pub ttl: u32,
    /// The wildcard owner (`*.example.`) when the RRset was synthesized
    /// from it (RFC 4035 §5.3.4: the caller must then prove that no closer
    /// match exists).
    pub wildcard: Option<Name>,
    pub window: SigWindow,
}

/// Verified, or signed only with algorithms we cannot verify (RFC 4035
/// §5.2: treat as unsigned, i.e. insecure — never secure, never bogus).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RrsetOutcome {
    Verified(RrsetVerified),
    Unsupported { algorithm: u8 },
}

/// Verifies `rrset` (owner `owner`, type `rtype`) with `rrsigs` made by
/// `zone` using `zone_keys`. See the module comment for the rules.
#[allow(
    clippy::too_many_arguments,
    reason = "the API shared with the chain builder (ENGINE_API.md)"
)]
#[allow(
    clippy::result_large_err,
    reason = "BogusReason carries the names a responder needs; errors are the rare path"
)]
pub fn verify_rrset(
    owner: &Name,
    rtype: RecordType,
    rrset: &[Record],
    rrsigs: &[RRSIG],
    zone_keys: &[DNSKEY],
    zone: &Name,
    now: i64,
    budget: &mut Budget,
) -> Result<RrsetOutcome, BogusReason> {
    let records: Vec<&Record> = rrset
        .iter()
        .filter(|r| r.record_type() == rtype && &r.name == owner)
        .collect();
    if records.is_empty() {
        return Err(BogusReason::Other {
            what: format!("no {owner}/{rtype} records to verify"),
        });
    }
    if !zone.zone_of(owner) {
        return Err(BogusReason::WrongSigner {
            name: owner.clone(),
            rtype,
            signer: zone.clone(),
            zone: zone.clone(),
        });
    }
    // Key tags computed once per key (cheap, but 50 keys × 50 RRSIGs).
    let tags: Vec<u16> = zone_keys.iter().map(key_tag).collect();

    // The most telling failure seen so far, by rank (higher wins).
    let mut failure: Option<(u8, BogusReason)> = None;
    let mut note = |rank: u8, reason: BogusReason| {
        if failure.as_ref().is_none_or(|(r, _)| rank > *r) {
            failure = Some((rank, reason));
        }
    };
    let mut unsupported: Option<u8> = None;

    for rrsig in rrsigs {
        let input = rrsig.input();
        if input.type_covered != rtype {
            continue;
        }
        if &input.signer_name != zone {
            note(
                1,
                BogusReason::WrongSigner {
                    name: owner.clone(),
                    rtype,
                    signer: input.signer_name.clone(),
                    zone: zone.clone(),
                },
            );
            continue;
        }
        let algorithm = u8::from(input.algorithm);
        let Some(signed_name) = signed_owner(owner, input.num_labels) else {
            note(
                2,
                BogusReason::InvalidRrsig {
                    owner: owner.clone(),
                    rtype,
                    why: format!(
                        "labels field {} exceeds the owner's {} labels",
                        input.num_labels,
                        owner.num_labels()
                    ),
                },
            );
            continue;
        };
        // Candidate keys: same tag and algorithm. Classify the rejects so
        // the failure says why no key fit.
        let mut candidates: Vec<&DNSKEY> = Vec::new();
        let mut saw_revoked = false;
        let mut saw_nonzone = false;
        for (k, tag) in zone_keys.iter().zip(&tags) {
            if *tag != input.key_tag || k.public_key().algorithm() != input.algorithm {
                continue;
            }
            if !k.zone_key() {
                saw_nonzone = true;
                continue;
            }
            if k.revoke() {
                saw_revoked = true;
                continue;
            }
            candidates.push(k);
        }
        if candidates.is_empty() {
            let reason = if saw_revoked {
                BogusReason::DnsKeyRevoked {
                    name: zone.clone(),
                    key_tag: input.key_tag,
                }
            } else if saw_nonzone {
                BogusReason::NoZoneKeyBitSet {
                    zone: zone.clone(),
                    key_tag: input.key_tag,
                }
            } else {
                BogusReason::NoMatchingKey {
                    zone: zone.clone(),
                    key_tag: input.key_tag,
                    owner: owner.clone(),
                    rtype,
                }
            };
            note(3, reason);
            continue;
        }
        // Unsupported algorithm (or RSA key too small): nothing to verify.
        let usable: Vec<&DNSKEY> = candidates
            .into_iter()
            .filter(|k| {
                support(algorithm, k.public_key().public_bytes()) == AlgorithmSupport::Supported
            })
            .collect();
        if usable.is_empty() {
            unsupported.get_or_insert(algorithm);
            continue;
        }
        if let Err(e) = check_window(rrsig, owner, now) {
            note(4, e);
            continue;
        }
        let message = signed_data_of(rrsig, &records)?;
        let max_keys = budget.max_keys_per_tag() as usize;
        for key in usable.into_iter().take(max_keys.max(1)) {
            // Charged whether or not the memo knows it: the KeyTrap budget
            // bounds the attempts, whatever they cost.
            budget.spend_sig()?;
            let public = key.public_key().public_bytes();
            let memo = sigmemo::key(algorithm, public, &message, rrsig.sig());
            let checked = if sigmemo::known_good(&memo) {
                Ok(())
            } else {
                let r = verify_signature(algorithm, public, &message, rrsig.sig());
                if r.is_ok() {
                    sigmemo::remember_good(memo);
                }
                r
            };
            match checked {
                Ok(()) => {
                    let rr_ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
                    let ttl = rr_ttl
                        .min(input.original_ttl)
                        .min(remaining_validity(rrsig, now));
                    let wildcard = (signed_name != *owner).then_some(signed_name);
                    return Ok(RrsetOutcome::Verified(RrsetVerified {
                        key_tag: input.key_tag,
                        algorithm,
                        signer: input.signer_name.clone(),
                        ttl,
                        wildcard,
                        window: SigWindow {
                            key_tag: input.key_tag,
                            algorithm,
                            inception: input.sig_inception.get(),
                            expiration: input.sig_expiration.get(),
                        },
                    }));
                }
                Err(CryptoError::Unsupported { algorithm }) => {
                    unsupported.get_or_insert(algorithm);
                }
                Err(CryptoError::BadSignature | CryptoError::BadPublicKey { .. }) => note(
                    5,
                    BogusReason::SignatureInvalid {
                        zone: zone.clone(),
                        key_tag: input.key_tag,
                        algorithm,
                        owner: owner.clone(),
                        rtype,
                    },
                ),
            }
        }
    }

    // Nothing verified. A signature with a supported algorithm that failed
    // outranks an unsupported one: the zone is signed with something we
    // can check, so an attacker cannot downgrade it by adding a signature
    // with an unknown algorithm (RFC 6840 §5.11 permits any valid path, but
    // only an unsupported-only set is "unsigned" per RFC 4035 §5.2).
    match (failure, unsupported) {
        (Some((rank, reason)), _) if rank >= 4 => Err(reason),
        (_, Some(algorithm)) => Ok(RrsetOutcome::Unsupported { algorithm }),
        (Some((_, reason)), None) => Err(reason),
        (None, None) => Err(BogusReason::RrsigsMissing {
            name: owner.clone(),
            rtype,
        }),
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
