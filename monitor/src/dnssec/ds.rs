//! DS records: digests of DNSKEYs (RFC 4034 §5.1.4) and matching a DS set
//! against a DNSKEY RRset (RFC 4035 §5.2, RFC 4509 §3).
//!
//! Digests: 1 SHA-1, 2 SHA-256 (RFC 4509), 4 SHA-384 (RFC 6605), all via
//! ring. 3 (GOST) and anything else are unsupported; a DS set made only of
//! unsupported digests or algorithms leaves the child insecure (RFC 4035
//! §5.2, RFC 6840 §5.2).

use hickory_proto::dnssec::PublicKey;
use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::rr::Name;
use ring::digest;

use super::algorithm::{AlgorithmSupport, algorithm_number_supported, support};
use super::keytag::{dnskey_rdata, key_tag};
use super::rrsig::canonical_name_wire;
use super::verdict::InsecureReason;

/// Whether a DS digest type is one we compute.
pub fn digest_supported(digest_type: u8) -> bool {
    matches!(digest_type, 1 | 2 | 4)
}

/// digest = H(canonical owner | DNSKEY RDATA) (RFC 4034 §5.1.4); None for
/// an unsupported digest type.
pub fn ds_digest(owner: &Name, dnskey: &DNSKEY, digest_type: u8) -> Option<Vec<u8>> {
    let alg = match digest_type {
        1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        2 => &digest::SHA256,
        4 => &digest::SHA384,
        _ => return None,
    };
    let mut data = Vec::with_capacity(owner.len() + 300);
    canonical_name_wire(owner, &mut data);
    data.extend_from_slice(&dnskey_rdata(dnskey));
    Some(digest::digest(alg, &data).as_ref().to_vec())
}

/// The outcome of matching a DS RRset against a zone's DNSKEYs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DsMatch {
    /// Keys (Zone flag set, not revoked, supported algorithm and size)
    /// that some usable DS authenticates; the DNSKEY RRset must be signed
    /// by one of them.
    Matched {
        keys: Vec<DNSKEY>,
        key_tags: Vec<u16>,
    },
    /// Usable DS records exist but no key matches them: bogus.
    NoneMatch { ds_key_tags: Vec<u16> },
    /// Every DS uses a digest or an algorithm we cannot handle (or names
    /// only keys we cannot verify with): the child is insecure.
    Unsupported { reason: InsecureReason },
}

/// Matches `ds_set` (owner `owner`) against `dnskeys`.
pub fn match_ds(owner: &Name, ds_set: &[DS], dnskeys: &[DNSKEY]) -> DsMatch {
    let usable: Vec<&DS> = ds_set
        .iter()
        .filter(|ds| {
            digest_supported(u8::from(ds.digest_type()))
                && algorithm_number_supported(u8::from(ds.algorithm()))
        })
        .collect();
    if usable.is_empty() {
        return DsMatch::Unsupported {
            reason: unsupported_reason(owner, ds_set),
        };
    }
    // RFC 4509 §3: a validator MUST ignore a SHA-1 DS when a SHA-256 DS
    // exists for the same key (tag and algorithm), so a stripped-down
    // downgrade to SHA-1 is not possible. We treat SHA-384 like SHA-256.
    let usable: Vec<&DS> = usable
        .iter()
        .copied()
        .filter(|ds| {
            u8::from(ds.digest_type()) != 1
                || !usable.iter().any(|o| {
                    u8::from(o.digest_type()) != 1
                        && o.key_tag() == ds.key_tag()
                        && o.algorithm() == ds.algorithm()
                })
        })
        .collect();

    let mut keys = Vec::new();
    let mut key_tags = Vec::new();
    let mut only_unsupported_keys = None;
    for key in dnskeys {
        let tag = key_tag(key);
        let alg = key.public_key().algorithm();
        let matched = usable.iter().any(|ds| {
            ds.key_tag() == tag
                && ds.algorithm() == alg
                && ds_digest(owner, key, u8::from(ds.digest_type()))
                    .is_some_and(|d| d.as_slice() == ds.digest())
        });
        if !matched {
            continue;
        }
        // RFC 4035 §5.2: the matching key must be a zone key; a revoked
        // key cannot authenticate (RFC 5011 §2.1).
        if !key.zone_key() || key.revoke() {
            continue;
        }
        if support(u8::from(alg), key.public_key().public_bytes()) == AlgorithmSupport::Unsupported
        {
            only_unsupported_keys.get_or_insert(u8::from(alg));
            continue;
        }
        if !key_tags.contains(&tag) || !keys.contains(key) {
            keys.push(key.clone());
            key_tags.push(tag);
        }
    }
    if !keys.is_empty() {
        return DsMatch::Matched { keys, key_tags };
    }
    if let Some(algorithm) = only_unsupported_keys {
        return DsMatch::Unsupported {
            reason: InsecureReason::UnsupportedAlgorithm {
                zone: owner.clone(),
                algorithm,
            },
        };
    }
    let mut ds_key_tags: Vec<u16> = usable.iter().map(|d| d.key_tag()).collect();
    ds_key_tags.sort_unstable();
    ds_key_tags.dedup();
    DsMatch::NoneMatch { ds_key_tags }
}

/// Why a DS set has nothing usable: an unknown algorithm if any DS has a
/// supported digest, else the first unsupported digest.
fn unsupported_reason(owner: &Name, ds_set: &[DS]) -> InsecureReason {
    if let Some(ds) = ds_set
        .iter()
        .find(|d| !algorithm_number_supported(u8::from(d.algorithm())))
        .filter(|_| {
            ds_set
                .iter()
                .any(|d| digest_supported(u8::from(d.digest_type())))
        })
    {
        return InsecureReason::UnsupportedAlgorithm {
            zone: owner.clone(),
            algorithm: u8::from(ds.algorithm()),
        };
    }
    match ds_set.first() {
        Some(ds) if !digest_supported(u8::from(ds.digest_type())) => {
            InsecureReason::UnsupportedDigest {
                zone: owner.clone(),
                digest_type: u8::from(ds.digest_type()),
            }
        }
        Some(ds) => InsecureReason::UnsupportedAlgorithm {
            zone: owner.clone(),
            algorithm: u8::from(ds.algorithm()),
        },
        None => InsecureReason::UnsignedDelegation {
            zone: owner.clone(),
        },
    }
}

#[cfg(test)]
#[path = "ds_tests.rs"]
mod tests;
