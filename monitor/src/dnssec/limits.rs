//! Work limits against hostile zones and what one lookup has spent.
//!
//! KeyTrap (CVE-2023-50387) makes a validator try every key × signature
//! combination; NSEC3 closest-encloser proofs (CVE-2023-50868) make it hash
//! many names with many iterations. Every signature verification and every
//! NSEC3 name hash goes through [`Budget`], so a cap reached is a verdict
//! with a reason, never a hang, and tests assert by counter, not by time.

use std::time::Duration;

use serde::Serialize;

use super::verdict::{BogusReason, IndeterminateReason};

/// Caps per lookup. Defaults follow RFC 9276 and the post-KeyTrap defaults
/// of BIND/Unbound, sized for one lookup (not one RRset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Signature verifications (crypto operations) per lookup.
    pub max_sig_verifications: u32,
    /// DNSKEYs tried for one RRSIG whose key tag they share.
    pub max_keys_per_tag: u32,
    /// NSEC3 iterations above this make the zone insecure (RFC 9276 §3.2).
    pub max_nsec3_iterations: u16,
    /// NSEC3 name hashes (each of `iterations + 1` SHA-1) per lookup.
    pub max_nsec3_hashes: u32,
    /// CNAME/DNAME links followed per lookup.
    pub max_cname_chain: u32,
    /// Referrals followed per lookup.
    pub max_referral_depth: u32,
    /// Wall time per lookup.
    pub max_lookup_time: Duration,
    /// Queries sent per lookup.
    pub max_queries_per_lookup: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_sig_verifications: 64,
            max_keys_per_tag: 4,
            max_nsec3_iterations: 150,
            max_nsec3_hashes: 64,
            max_cname_chain: 12,
            max_referral_depth: 30,
            max_lookup_time: Duration::from_secs(10),
            max_queries_per_lookup: 100,
        }
    }
}

/// What one lookup has spent against its [`Limits`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Budget {
    max_sig_verifications: u32,
    max_nsec3_hashes: u32,
    max_queries: u32,
    max_keys_per_tag: u32,
    sig_verifications: u32,
    nsec3_hashes: u32,
    /// SHA-1 compressions behind `nsec3_hashes` (iterations + 1 each).
    nsec3_sha1_ops: u64,
    queries: u32,
}

impl Default for Budget {
    fn default() -> Self {
        Self::new(&Limits::default())
    }
}

impl Budget {
    /// A fresh budget for one lookup.
    pub fn new(limits: &Limits) -> Self {
        Self {
            max_sig_verifications: limits.max_sig_verifications,
            max_nsec3_hashes: limits.max_nsec3_hashes,
            max_queries: limits.max_queries_per_lookup,
            max_keys_per_tag: limits.max_keys_per_tag,
            sig_verifications: 0,
            nsec3_hashes: 0,
            nsec3_sha1_ops: 0,
            queries: 0,
        }
    }

    /// Takes one signature verification; Err once the cap is reached (the
    /// verification must then not be done).
    #[allow(
        clippy::result_large_err,
        reason = "BogusReason carries the names a responder needs; errors are the rare path"
    )]
    pub fn spend_sig(&mut self) -> Result<(), BogusReason> {
        if self.sig_verifications >= self.max_sig_verifications {
            return Err(BogusReason::BudgetExceeded {
                what: "signature verifications",
                limit: self.max_sig_verifications,
            });
        }
        self.sig_verifications += 1;
        Ok(())
    }

    /// Takes one NSEC3 name hash of `iterations` extra iterations; Err once
    /// the cap is reached (the hash must then not be computed).
    #[allow(
        clippy::result_large_err,
        reason = "BogusReason carries the names a responder needs; errors are the rare path"
    )]
    pub fn spend_nsec3_hash(&mut self, iterations: u16) -> Result<(), BogusReason> {
        if self.nsec3_hashes >= self.max_nsec3_hashes {
            return Err(BogusReason::BudgetExceeded {
                what: "NSEC3 hash computations",
                limit: self.max_nsec3_hashes,
            });
        }
        self.nsec3_hashes += 1;
        self.nsec3_sha1_ops += u64::from(iterations) + 1;
        Ok(())
    }

    /// Takes one query to a server; Err once the cap is reached.
    pub fn spend_query(&mut self) -> Result<(), IndeterminateReason> {
        if self.queries >= self.max_queries {
            return Err(IndeterminateReason::LimitReached {
                what: "queries per lookup",
                limit: u64::from(self.max_queries),
            });
        }
        self.queries += 1;
        Ok(())
    }

    /// DNSKEYs tried per RRSIG key tag (copied from [`Limits`] so
    /// `verify_rrset` needs only the budget).
    pub fn max_keys_per_tag(&self) -> u32 {
        self.max_keys_per_tag
    }

    /// Signature verifications done so far.
    pub fn sig_verifications(&self) -> u32 {
        self.sig_verifications
    }

    /// NSEC3 name hashes done so far.
    pub fn nsec3_hashes(&self) -> u32 {
        self.nsec3_hashes
    }

    /// SHA-1 operations behind the NSEC3 hashes.
    pub fn nsec3_sha1_ops(&self) -> u64 {
        self.nsec3_sha1_ops
    }

    /// Queries sent so far.
    pub fn queries(&self) -> u32 {
        self.queries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_budget_stops_at_limit() {
        let limits = Limits {
            max_sig_verifications: 3,
            ..Limits::default()
        };
        let mut b = Budget::new(&limits);
        for _ in 0..3 {
            b.spend_sig().unwrap();
        }
        assert!(matches!(
            b.spend_sig(),
            Err(BogusReason::BudgetExceeded { limit: 3, .. })
        ));
        assert_eq!(b.sig_verifications(), 3);
    }

    #[test]
    fn nsec3_budget_counts_hashes_and_iterations() {
        let limits = Limits {
            max_nsec3_hashes: 2,
            ..Limits::default()
        };
        let mut b = Budget::new(&limits);
        b.spend_nsec3_hash(10).unwrap();
        b.spend_nsec3_hash(0).unwrap();
        assert!(b.spend_nsec3_hash(0).is_err());
        assert_eq!(b.nsec3_hashes(), 2);
        assert_eq!(b.nsec3_sha1_ops(), 12);
    }

    #[test]
    fn query_budget_stops_at_limit() {
        let limits = Limits {
            max_queries_per_lookup: 1,
            ..Limits::default()
        };
        let mut b = Budget::new(&limits);
        b.spend_query().unwrap();
        assert!(b.spend_query().is_err());
        assert_eq!(b.queries(), 1);
    }

    #[test]
    fn defaults_match_rfc9276_and_api() {
        let l = Limits::default();
        assert_eq!(l.max_nsec3_iterations, 150);
        assert_eq!(l.max_sig_verifications, 64);
        assert_eq!(l.max_keys_per_tag, 4);
    }
}
