//! Authenticated denial of existence: what a set of NSEC or NSEC3 records
//! (already signature-checked by the caller) proves about a name and type.
//! The proofs themselves live in [`super::nsec`] (RFC 4035 §5.4, RFC 6840
//! §4) and [`super::nsec3`] (RFC 5155 §8, RFC 9276).

use hickory_proto::rr::{Name, RecordType};

use super::verdict::{BogusReason, InsecureReason};

/// What the denial records prove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The name does not exist and no wildcard could have produced it.
    NxDomain,
    /// The name exists (possibly as an empty non-terminal) without the type.
    NoData,
    /// The name does not exist; the wildcard that would match it exists
    /// without the type (RFC 4035 §3.1.3.4, RFC 5155 §8.7).
    WildcardNoData,
    /// DS query at a delegation: NS present, no DS — an insecure
    /// (unsigned) delegation (RFC 4035 §5.2, RFC 5155 §8.6).
    InsecureDelegation,
    /// The name falls in an NSEC3 opt-out span: only an unsigned
    /// delegation can be there; the answer is insecure (RFC 5155 §8.6, §9.2).
    OptOutInsecure,
    /// A wildcard-expanded answer is backed by proof that no closer name
    /// exists (RFC 4035 §5.3.4, RFC 5155 §8.8).
    WildcardAnswerOk,
    /// The records do not prove the claim; the text says what is missing.
    NotProven(String),
    /// The zone's NSEC3 iterations exceed the limit: insecure with EDE 27
    /// (RFC 9276 §3.2); no hash was computed.
    Nsec3IterationsTooHigh(u16),
    /// The lookup's NSEC3 hash budget ran out (CVE-2023-50868 guard).
    BudgetExceeded { what: &'static str, limit: u32 },
}

impl Denial {
    /// Whether this denial fits the response code the server gave: an
    /// NXDOMAIN needs `NxDomain`; a NOERROR/NODATA needs one of the
    /// existence-with-no-data outcomes (RFC 4035 §5.4).
    pub fn fits_rcode(&self, nxdomain: bool) -> bool {
        match self {
            Self::NxDomain => nxdomain,
            Self::NoData | Self::WildcardNoData | Self::InsecureDelegation => !nxdomain,
            // Opt-out is insecure whatever the rcode; the others are not
            // proofs of anything.
            Self::OptOutInsecure | Self::Nsec3IterationsTooHigh(_) => true,
            Self::WildcardAnswerOk | Self::NotProven(_) | Self::BudgetExceeded { .. } => false,
        }
    }

    /// The insecure reason for outcomes that make the answer insecure
    /// (`zone`: the zone whose denial records were used; `qname`: the name
    /// asked, which for `InsecureDelegation` is the unsigned child).
    pub fn insecure_reason(&self, zone: &Name, qname: &Name) -> Option<InsecureReason> {
        match self {
            Self::InsecureDelegation => Some(InsecureReason::UnsignedDelegation {
                zone: qname.clone(),
            }),
            Self::OptOutInsecure => Some(InsecureReason::OptOut {
                zone: zone.clone(),
                name: qname.clone(),
            }),
            Self::Nsec3IterationsTooHigh(iterations) => {
                Some(InsecureReason::Nsec3IterationsTooHigh {
                    zone: zone.clone(),
                    iterations: *iterations,
                })
            }
            _ => None,
        }
    }

    /// The bogus reason for outcomes that prove nothing.
    pub fn bogus_reason(&self, qname: &Name, qtype: RecordType) -> Option<BogusReason> {
        match self {
            Self::NotProven(_) => Some(BogusReason::MissingDenialProof {
                name: qname.clone(),
                rtype: qtype,
            }),
            Self::BudgetExceeded { what, limit } => Some(BogusReason::BudgetExceeded {
                what,
                limit: *limit,
            }),
            _ => None,
        }
    }

    /// True for the outcomes that prove the negative answer securely.
    pub fn is_proven(&self) -> bool {
        matches!(
            self,
            Self::NxDomain
                | Self::NoData
                | Self::WildcardNoData
                | Self::InsecureDelegation
                | Self::WildcardAnswerOk
        )
    }
}

/// `name`'s ancestors from `name` itself up to (and including) `zone`,
/// longest first. Empty if `name` is not in `zone`.
pub fn ancestors_to(name: &Name, zone: &Name) -> Vec<Name> {
    if !zone.zone_of(name) {
        return Vec::new();
    }
    let top = zone.num_labels_total();
    let mut out = Vec::new();
    let mut n = name.num_labels_total();
    while n >= top {
        out.push(trim_total(name, n));
        if n == 0 {
            break;
        }
        n -= 1;
    }
    out
}

/// Label count including a leading `*` (hickory's `num_labels` skips it).
pub trait TotalLabels {
    fn num_labels_total(&self) -> usize;
}

impl TotalLabels for Name {
    fn num_labels_total(&self) -> usize {
        self.iter().count()
    }
}

/// The rightmost `n` labels of `name` (counting a leading `*`).
pub fn trim_total(name: &Name, n: usize) -> Name {
    let total = name.num_labels_total();
    if n >= total {
        return name.clone();
    }
    let labels: Vec<&[u8]> = name.iter().skip(total - n).collect();
    Name::from_labels(labels).unwrap_or_else(|_| Name::root())
}

/// `*.` + `name`.
pub fn wildcard_of(name: &Name) -> Option<Name> {
    Name::from_labels([b"*" as &[u8]])
        .ok()?
        .append_name(name)
        .ok()
}

/// Whether `qtype` or CNAME appears in a type bitmap (RFC 4035 §5.4: a
/// NODATA proof needs both absent).
pub fn bitmap_denies(types: &[RecordType], qtype: RecordType) -> bool {
    !types.contains(&qtype) && !types.contains(&RecordType::CNAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn ancestors_walk_up_to_zone() {
        let n = Name::from_str("a.b.example.").unwrap();
        let z = Name::from_str("example.").unwrap();
        let a: Vec<String> = ancestors_to(&n, &z).iter().map(|n| n.to_ascii()).collect();
        assert_eq!(a, vec!["a.b.example.", "b.example.", "example."]);
        assert!(ancestors_to(&n, &Name::from_str("other.").unwrap()).is_empty());
        let root: Vec<String> = ancestors_to(&z, &Name::root())
            .iter()
            .map(|n| n.to_ascii())
            .collect();
        assert_eq!(root, vec!["example.", "."]);
    }

    #[test]
    fn rcode_fit_and_reasons() {
        assert!(Denial::NxDomain.fits_rcode(true));
        assert!(!Denial::NxDomain.fits_rcode(false));
        assert!(Denial::NoData.fits_rcode(false));
        assert!(!Denial::NoData.fits_rcode(true));
        assert!(!Denial::NotProven("x".into()).fits_rcode(true));
        let z = Name::from_str("example.").unwrap();
        let q = Name::from_str("b.example.").unwrap();
        assert_eq!(
            Denial::Nsec3IterationsTooHigh(500)
                .insecure_reason(&z, &q)
                .unwrap()
                .ede()
                .code,
            27
        );
        assert!(matches!(
            Denial::InsecureDelegation.insecure_reason(&z, &q),
            Some(InsecureReason::UnsignedDelegation { zone }) if zone == q
        ));
        assert!(Denial::NoData.insecure_reason(&z, &q).is_none());
        assert!(matches!(
            Denial::NotProven("x".into()).bogus_reason(&q, RecordType::A),
            Some(BogusReason::MissingDenialProof { .. })
        ));
        assert!(Denial::NxDomain.bogus_reason(&q, RecordType::A).is_none());
    }

    #[test]
    fn wildcard_and_trim() {
        let n = Name::from_str("*.x.example.").unwrap();
        assert_eq!(n.num_labels_total(), 3);
        assert_eq!(trim_total(&n, 2).to_ascii(), "x.example.");
        assert_eq!(
            wildcard_of(&Name::from_str("example.").unwrap())
                .unwrap()
                .to_ascii(),
            "*.example."
        );
    }
}
