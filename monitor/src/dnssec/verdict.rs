//! The outcome of validation. A caller cannot reach validated data without
//! matching on the verdict.
//!
//! Every non-Secure verdict carries a reason with enough context for a
//! responder (zone, key tag, algorithm, what was wrong) and an RFC 8914
//! Extended DNS Error (code + extra text). The reasons are `thiserror` enums
//! so their `Display` is the one line the CLI prints.

use std::fmt;

use hickory_proto::rr::{Name, RecordType};
use serde::{Serialize, Serializer};
use thiserror::Error;

use super::algorithm::algorithm_name;

/// The validated truth about one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every RRset in the answer chains to a trust anchor (RFC 4033 §5).
    Secure,
    /// Provably unsigned, or signed with something we cannot verify
    /// (RFC 4035 §4.3, §5.2; RFC 8624; RFC 9276).
    Insecure { reason: InsecureReason, ede: Ede },
    /// Should have been secure but did not validate (RFC 4035 §4.3).
    Bogus { reason: BogusReason, ede: Ede },
    /// We could not find out (no reachable authority, limits on resolution).
    Indeterminate { why: IndeterminateReason, ede: Ede },
}

impl Verdict {
    /// An insecure verdict; the EDE follows from the reason.
    pub fn insecure(reason: InsecureReason) -> Self {
        let ede = reason.ede();
        Self::Insecure { reason, ede }
    }

    /// A bogus verdict; the EDE follows from the reason.
    pub fn bogus(reason: BogusReason) -> Self {
        let ede = reason.ede();
        Self::Bogus { reason, ede }
    }

    /// An indeterminate verdict; the EDE follows from the reason.
    pub fn indeterminate(why: IndeterminateReason) -> Self {
        let ede = why.ede();
        Self::Indeterminate { why, ede }
    }

    /// "secure" | "insecure" | "bogus" | "indeterminate" (JSON `outcome`).
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Secure => "secure",
            Self::Insecure { .. } => "insecure",
            Self::Bogus { .. } => "bogus",
            Self::Indeterminate { .. } => "indeterminate",
        }
    }

    /// The Extended DNS Error of a non-Secure verdict.
    pub fn ede(&self) -> Option<&Ede> {
        match self {
            Self::Secure => None,
            Self::Insecure { ede, .. }
            | Self::Bogus { ede, .. }
            | Self::Indeterminate { ede, .. } => Some(ede),
        }
    }

    /// True only for `Secure`.
    pub fn is_secure(&self) -> bool {
        matches!(self, Self::Secure)
    }

    /// The reason as one line (without the outcome prefix), None if secure.
    pub fn reason_text(&self) -> Option<String> {
        match self {
            Self::Secure => None,
            Self::Insecure { reason, .. } => Some(reason.to_string()),
            Self::Bogus { reason, .. } => Some(reason.to_string()),
            Self::Indeterminate { why, .. } => Some(why.to_string()),
        }
    }
}

impl fmt::Display for Verdict {
    /// e.g. `bogus: signature by key 12345 (ECDSAP256SHA256) of zone
    /// broken.test. over broken.test./A does not verify (EDE 6 DNSSEC Bogus)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secure => f.write_str("secure"),
            Self::Insecure { reason, ede } => write!(f, "insecure: {reason} ({ede})"),
            Self::Bogus { reason, ede } => write!(f, "bogus: {reason} ({ede})"),
            Self::Indeterminate { why, ede } => write!(f, "indeterminate: {why} ({ede})"),
        }
    }
}

/// An RFC 8914 Extended DNS Error: INFO-CODE and EXTRA-TEXT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ede {
    pub code: u16,
    pub text: String,
}

impl Ede {
    // RFC 8914 §4 and the IANA "Extended DNS Error Codes" registry.
    pub const OTHER: u16 = 0;
    pub const UNSUPPORTED_DNSKEY_ALGORITHM: u16 = 1;
    pub const UNSUPPORTED_DS_DIGEST_TYPE: u16 = 2;
    pub const STALE_ANSWER: u16 = 3;
    pub const FORGED_ANSWER: u16 = 4;
    pub const DNSSEC_INDETERMINATE: u16 = 5;
    pub const DNSSEC_BOGUS: u16 = 6;
    pub const SIGNATURE_EXPIRED: u16 = 7;
    pub const SIGNATURE_NOT_YET_VALID: u16 = 8;
    pub const DNSKEY_MISSING: u16 = 9;
    pub const RRSIGS_MISSING: u16 = 10;
    pub const NO_ZONE_KEY_BIT_SET: u16 = 11;
    pub const NSEC_MISSING: u16 = 12;
    pub const CACHED_ERROR: u16 = 13;
    pub const NOT_READY: u16 = 14;
    pub const BLOCKED: u16 = 15;
    pub const CENSORED: u16 = 16;
    pub const FILTERED: u16 = 17;
    pub const PROHIBITED: u16 = 18;
    pub const STALE_NXDOMAIN_ANSWER: u16 = 19;
    pub const NOT_AUTHORITATIVE: u16 = 20;
    pub const NOT_SUPPORTED: u16 = 21;
    pub const NO_REACHABLE_AUTHORITY: u16 = 22;
    pub const NETWORK_ERROR: u16 = 23;
    pub const INVALID_DATA: u16 = 24;
    pub const SIGNATURE_EXPIRED_BEFORE_VALID: u16 = 25;
    pub const TOO_EARLY: u16 = 26;
    /// RFC 9276 §3.2.
    pub const UNSUPPORTED_NSEC3_ITERATIONS: u16 = 27;

    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }

    /// The registry's name for `self.code`.
    pub fn code_name(&self) -> &'static str {
        ede_code_name(self.code)
    }
}

/// The IANA registry name of an EDE INFO-CODE.
pub fn ede_code_name(code: u16) -> &'static str {
    match code {
        0 => "Other",
        1 => "Unsupported DNSKEY Algorithm",
        2 => "Unsupported DS Digest Type",
        3 => "Stale Answer",
        4 => "Forged Answer",
        5 => "DNSSEC Indeterminate",
        6 => "DNSSEC Bogus",
        7 => "Signature Expired",
        8 => "Signature Not Yet Valid",
        9 => "DNSKEY Missing",
        10 => "RRSIGs Missing",
        11 => "No Zone Key Bit Set",
        12 => "NSEC Missing",
        13 => "Cached Error",
        14 => "Not Ready",
        15 => "Blocked",
        16 => "Censored",
        17 => "Filtered",
        18 => "Prohibited",
        19 => "Stale NXDOMAIN Answer",
        20 => "Not Authoritative",
        21 => "Not Supported",
        22 => "No Reachable Authority",
        23 => "Network Error",
        24 => "Invalid Data",
        25 => "Signature Expired before Valid",
        26 => "Too Early",
        27 => "Unsupported NSEC3 Iterations Value",
        28 => "Unable to conform to policy",
        29 => "Synthesized",
        _ => "Unassigned",
    }
}

impl fmt::Display for Ede {
    /// `EDE 6 DNSSEC Bogus` (the extra text is the reason, printed apart).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EDE {} {}", self.code, self.code_name())
    }
}

/// Displays an algorithm number with its mnemonic: `13 (ECDSAP256SHA256)`.
struct Alg(u8);

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", algorithm_name(self.0))
    }
}

/// Why an answer that should be secure is not (RFC 4035 §5).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BogusReason {
    #[error(
        "signature by key {key_tag} ({alg}) of zone {zone} over {owner}/{rtype} does not verify",
        alg = Alg(*algorithm)
    )]
    SignatureInvalid {
        zone: Name,
        key_tag: u16,
        algorithm: u8,
        owner: Name,
        rtype: RecordType,
    },
    #[error(
        "signature by key {key_tag} of zone {zone} over {owner}/{rtype} expired at {expiration} (now {now})"
    )]
    SignatureExpired {
        zone: Name,
        key_tag: u16,
        owner: Name,
        rtype: RecordType,
        expiration: u32,
        now: u32,
    },
    #[error(
        "signature by key {key_tag} of zone {zone} over {owner}/{rtype} not valid before {inception} (now {now})"
    )]
    SignatureNotYetValid {
        zone: Name,
        key_tag: u16,
        owner: Name,
        rtype: RecordType,
        inception: u32,
        now: u32,
    },
    #[error(
        "signature by key {key_tag} of zone {zone} over {owner}/{rtype} expires ({expiration}) before its inception ({inception})"
    )]
    SignatureExpiredBeforeValid {
        zone: Name,
        key_tag: u16,
        owner: Name,
        rtype: RecordType,
        inception: u32,
        expiration: u32,
    },
    #[error(
        "no DNSKEY of zone {zone} with key tag {key_tag} to check the signature over {owner}/{rtype}"
    )]
    NoMatchingKey {
        zone: Name,
        key_tag: u16,
        owner: Name,
        rtype: RecordType,
    },
    #[error("DNSKEY {key_tag} of zone {zone} lacks the Zone Key flag (RFC 4034 §2.1.1)")]
    NoZoneKeyBitSet { zone: Name, key_tag: u16 },
    #[error("no DNSKEY of zone {zone} matches its DS record(s) {ds_key_tags:?}")]
    DsMatchesNoKey { zone: Name, ds_key_tags: Vec<u16> },
    #[error("zone {zone} has a DS but no DNSKEY RRset could be obtained")]
    DnskeyMissing { zone: Name },
    #[error("{name}/{rtype} has no RRSIG from its zone")]
    RrsigsMissing { name: Name, rtype: RecordType },
    #[error(
        "DNSKEY {key_tag} of {name} is revoked (RFC 5011 REVOKE bit) and the only key for its signature"
    )]
    DnsKeyRevoked { name: Name, key_tag: u16 },
    #[error("no valid NSEC/NSEC3 proof that {name}/{rtype} does not exist")]
    MissingDenialProof { name: Name, rtype: RecordType },
    #[error("{name}/{rtype} is signed by {signer}, expected the zone {zone}")]
    WrongSigner {
        name: Name,
        rtype: RecordType,
        signer: Name,
        zone: Name,
    },
    #[error("RRSIG over {owner}/{rtype} is malformed: {why}")]
    InvalidRrsig {
        owner: Name,
        rtype: RecordType,
        why: String,
    },
    #[error("limit reached: more than {limit} {what} in one lookup (KeyTrap/CVE-2023-50387 guard)")]
    BudgetExceeded { what: &'static str, limit: u32 },
    #[error("{what}")]
    Other { what: String },
}

impl BogusReason {
    /// The RFC 8914 code that fits this reason; extra text = Display.
    pub fn ede(&self) -> Ede {
        let code = match self {
            Self::SignatureExpired { .. } => Ede::SIGNATURE_EXPIRED,
            Self::SignatureNotYetValid { .. } => Ede::SIGNATURE_NOT_YET_VALID,
            Self::SignatureExpiredBeforeValid { .. } => Ede::SIGNATURE_EXPIRED_BEFORE_VALID,
            Self::DnskeyMissing { .. } | Self::DsMatchesNoKey { .. } => Ede::DNSKEY_MISSING,
            Self::RrsigsMissing { .. } => Ede::RRSIGS_MISSING,
            Self::NoZoneKeyBitSet { .. } => Ede::NO_ZONE_KEY_BIT_SET,
            Self::MissingDenialProof { .. } => Ede::NSEC_MISSING,
            Self::SignatureInvalid { .. }
            | Self::NoMatchingKey { .. }
            | Self::DnsKeyRevoked { .. }
            | Self::WrongSigner { .. }
            | Self::InvalidRrsig { .. }
            | Self::BudgetExceeded { .. }
            | Self::Other { .. } => Ede::DNSSEC_BOGUS,
        };
        Ede::new(code, self.to_string())
    }
}

/// Why an answer is insecure (no security expected, RFC 4035 §4.3).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InsecureReason {
    #[error("{zone} is an unsigned delegation (no DS, proven by NSEC/NSEC3)")]
    UnsignedDelegation { zone: Name },
    #[error("zone {zone} uses DNSKEY algorithm {alg} which this validator cannot verify (RFC 8624)", alg = Alg(*algorithm))]
    UnsupportedAlgorithm { zone: Name, algorithm: u8 },
    #[error(
        "the DS records of zone {zone} use digest type {digest_type} which this validator does not support"
    )]
    UnsupportedDigest { zone: Name, digest_type: u8 },
    #[error("zone {zone} uses {iterations} NSEC3 iterations, above the limit (RFC 9276 §3.2)")]
    Nsec3IterationsTooHigh { zone: Name, iterations: u16 },
    #[error("NSEC3 hash algorithm {hash_algorithm} of zone {zone} is not supported")]
    UnsupportedNsec3Hash { zone: Name, hash_algorithm: u8 },
    #[error("{zone} is under a negative trust anchor (RFC 7646)")]
    NegativeTrustAnchor { zone: Name },
    #[error("{name} is covered by an NSEC3 opt-out span of zone {zone} (RFC 5155 §6)")]
    OptOut { zone: Name, name: Name },
    #[error("{name} is under no configured trust anchor")]
    NoTrustAnchor { name: Name },
    #[error(
        "{name}/{rtype} answers are not validated (RRSIGs are never signed themselves, RFC 4035 §2.2; ANY mixes RRsets)"
    )]
    NotValidatable { name: Name, rtype: RecordType },
}

impl InsecureReason {
    /// The RFC 8914 code for this reason (0 Other when the RFC has none).
    pub fn ede(&self) -> Ede {
        let code = match self {
            Self::UnsupportedAlgorithm { .. } => Ede::UNSUPPORTED_DNSKEY_ALGORITHM,
            Self::UnsupportedDigest { .. } => Ede::UNSUPPORTED_DS_DIGEST_TYPE,
            Self::Nsec3IterationsTooHigh { .. } => Ede::UNSUPPORTED_NSEC3_ITERATIONS,
            Self::NotValidatable { .. } => Ede::NOT_SUPPORTED,
            Self::UnsignedDelegation { .. }
            | Self::UnsupportedNsec3Hash { .. }
            | Self::NegativeTrustAnchor { .. }
            | Self::OptOut { .. }
            | Self::NoTrustAnchor { .. } => Ede::OTHER,
        };
        Ede::new(code, self.to_string())
    }
}

/// Why we could not decide.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum IndeterminateReason {
    #[error("no authoritative server for {zone} answered")]
    NoReachableAuthority { zone: Name },
    #[error("network error: {detail}")]
    NetworkError { detail: String },
    #[error("limit reached: {what} (limit {limit})")]
    LimitReached { what: &'static str, limit: u64 },
    #[error("invalid data from a server: {detail}")]
    InvalidData { detail: String },
    #[error("{detail}")]
    Other { detail: String },
}

impl IndeterminateReason {
    /// The RFC 8914 code for this reason.
    pub fn ede(&self) -> Ede {
        let code = match self {
            Self::NoReachableAuthority { .. } => Ede::NO_REACHABLE_AUTHORITY,
            Self::NetworkError { .. } => Ede::NETWORK_ERROR,
            Self::InvalidData { .. } => Ede::INVALID_DATA,
            Self::LimitReached { .. } | Self::Other { .. } => Ede::DNSSEC_INDETERMINATE,
        };
        Ede::new(code, self.to_string())
    }
}

/// How a verdict was reached: one step per zone cut, like `delv +vtrace`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Trace {
    pub steps: Vec<TraceStep>,
}

/// One zone on the chain: the DS and DNSKEY key tags used and the windows
/// of the signatures that were checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TraceStep {
    #[serde(serialize_with = "serialize_name")]
    pub zone: Name,
    pub ds_key_tags: Vec<u16>,
    pub dnskey_key_tags: Vec<u16>,
    pub signatures: Vec<SigWindow>,
    pub note: String,
}

/// The key and validity window (RFC 4034 §3.1.5) of one checked RRSIG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SigWindow {
    pub key_tag: u16,
    pub algorithm: u8,
    pub inception: u32,
    pub expiration: u32,
}

/// Names serialize as their presentation form (`example.com.`).
pub fn serialize_name<S: Serializer>(name: &Name, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&name.to_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn bogus_display_is_one_responder_line() {
        let v = Verdict::bogus(BogusReason::SignatureInvalid {
            zone: Name::from_str("broken.test.").unwrap(),
            key_tag: 12345,
            algorithm: 13,
            owner: Name::from_str("broken.test.").unwrap(),
            rtype: RecordType::A,
        });
        assert_eq!(
            v.to_string(),
            "bogus: signature by key 12345 (ECDSAP256SHA256) of zone broken.test. over \
             broken.test./A does not verify (EDE 6 DNSSEC Bogus)"
        );
        assert_eq!(v.outcome(), "bogus");
        assert_eq!(v.ede().map(|e| e.code), Some(Ede::DNSSEC_BOGUS));
        assert!(!v.to_string().contains('\n'));
    }

    #[test]
    fn ede_codes_follow_reason() {
        let exp = BogusReason::SignatureExpired {
            zone: Name::root(),
            key_tag: 1,
            owner: Name::root(),
            rtype: RecordType::SOA,
            expiration: 5,
            now: 10,
        };
        assert_eq!(exp.ede().code, Ede::SIGNATURE_EXPIRED);
        let it = Verdict::insecure(InsecureReason::Nsec3IterationsTooHigh {
            zone: Name::root(),
            iterations: 2500,
        });
        assert_eq!(it.ede().unwrap().code, 27);
        assert_eq!(it.outcome(), "insecure");
        assert_eq!(Verdict::Secure.ede(), None);
        assert!(Verdict::Secure.is_secure());
        assert!(!it.is_secure());
    }

    #[test]
    fn trace_serializes_names_as_text() {
        let t = Trace {
            steps: vec![TraceStep {
                zone: Name::from_str("example.").unwrap(),
                ds_key_tags: vec![1],
                dnskey_key_tags: vec![1, 2],
                signatures: vec![SigWindow {
                    key_tag: 1,
                    algorithm: 8,
                    inception: 1,
                    expiration: 2,
                }],
                note: String::new(),
            }],
        };
        let j = serde_json::to_string(&t).unwrap();
        assert!(j.contains("\"zone\":\"example.\""), "{j}");
    }
}
