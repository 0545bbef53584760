//! NSEC denial proofs (RFC 4035 §3.1.3, §5.4; RFC 6840 §4.1, §4.3).
//!
//! An NSEC at `owner` with next name `next` says: no name sorts strictly
//! between them in canonical order (RFC 4034 §6.1), and `owner` has exactly
//! the types in its bitmap. The last NSEC of a zone wraps to the apex.
//! Two traps from RFC 6840 §4.1: an NSEC at a delegation (NS without SOA,
//! from the parent) proves nothing about the child below it except DS, and
//! an NSEC at a DNAME owner proves nothing about names below it.

use std::cmp::Ordering;

use hickory_proto::dnssec::rdata::NSEC;
use hickory_proto::rr::{Name, RecordType};

use super::denial::{Denial, TotalLabels, bitmap_denies, trim_total, wildcard_of};

/// Whether the NSEC (`owner` → `next`) covers `name`: owner < name < next,
/// or, for the zone's last NSEC (next ≤ owner), name > owner.
pub fn nsec_covers(owner: &Name, next: &Name, name: &Name) -> bool {
    match owner.cmp(next) {
        Ordering::Less => owner < name && name < next,
        // Last NSEC in the zone: next is the apex (owner == next for a
        // zone holding only its apex).
        _ => owner < name && next.zone_of(name),
    }
}

/// True when the NSEC must not be used to deny names strictly below its
/// owner: a delegation point seen from the parent (NS, no SOA) or a DNAME
/// owner (RFC 6840 §4.1).
fn blocks_descendants(owner: &Name, nsec: &NSEC, name: &Name) -> bool {
    let below = owner.zone_of(name) && owner != name;
    if !below {
        return false;
    }
    let t = nsec.type_set();
    (t.contains(RecordType::NS) && !t.contains(RecordType::SOA)) || t.contains(RecordType::DNAME)
}

fn types(nsec: &NSEC) -> Vec<RecordType> {
    nsec.type_bit_maps().collect()
}

/// What `nsecs` (owner, rdata) prove about `qname`/`qtype` in `zone`.
pub fn nsec_denial(qname: &Name, qtype: RecordType, nsecs: &[(Name, NSEC)], zone: &Name) -> Denial {
    if !zone.zone_of(qname) {
        return Denial::NotProven(format!("{qname} is not in zone {zone}"));
    }
    if qtype == RecordType::DS && qname == zone && !zone.is_root() {
        // The DS of a zone lives in its parent; the child's own NSEC at its
        // apex cannot deny it (RFC 4035 §5.2, App. B.8). The root has no
        // parent: its apex NSEC is what denies a root DS.
        return Denial::NotProven(format!("DS of {zone} must be denied by its parent"));
    }
    let in_zone: Vec<&(Name, NSEC)> = nsecs.iter().filter(|(o, _)| zone.zone_of(o)).collect();

    // Exact match: NODATA (RFC 4035 §3.1.3.1) or, for DS, an insecure
    // delegation (§5.2).
    if let Some((owner, nsec)) = in_zone.iter().find(|(o, _)| o == qname) {
        let t = types(nsec);
        let delegation = t.contains(&RecordType::NS) && !t.contains(&RecordType::SOA);
        if qtype == RecordType::DS {
            if t.contains(&RecordType::DS) || t.contains(&RecordType::CNAME) {
                return Denial::NotProven(format!("NSEC at {owner} lists DS or CNAME"));
            }
            return if delegation {
                Denial::InsecureDelegation
            } else {
                Denial::NoData
            };
        }
        if delegation && qname != zone {
            // RFC 6840 §4.1: the parent's NSEC at a cut says nothing about
            // the child's data.
            return Denial::NotProven(format!(
                "NSEC at {owner} is the parent side of a delegation"
            ));
        }
        if !bitmap_denies(&t, qtype) {
            return Denial::NotProven(format!("NSEC at {owner} lists {qtype} or CNAME"));
        }
        return Denial::NoData;
    }

    // No exact match: qname must be covered.
    let Some((owner, nsec)) = in_zone.iter().find(|(o, n)| {
        nsec_covers(o, n.next_domain_name(), qname) && !blocks_descendants(o, n, qname)
    }) else {
        return Denial::NotProven(format!("no NSEC covers {qname}"));
    };
    let next = nsec.next_domain_name();
    // Empty non-terminal: the next name is below qname, so qname exists
    // without data (RFC 4035 §3.1.3.2 via canonical order).
    if qname.zone_of(next) && next != qname {
        return Denial::NoData;
    }
    // Closest encloser: the longest ancestor of qname shared with the
    // covering NSEC's owner or next name (RFC 4035 §5.4).
    let ce = closest_encloser(qname, owner, next, zone);
    let Some(wildcard) = wildcard_of(&ce) else {
        return Denial::NotProven(format!("cannot form the wildcard under {ce}"));
    };
    if let Some((wowner, wnsec)) = in_zone.iter().find(|(o, _)| *o == wildcard) {
        let t = types(wnsec);
        if bitmap_denies(&t, qtype) {
            return Denial::WildcardNoData;
        }
        return Denial::NotProven(format!("wildcard {wowner} exists with {qtype} or CNAME"));
    }
    if in_zone.iter().any(|(o, n)| {
        nsec_covers(o, n.next_domain_name(), &wildcard) && !blocks_descendants(o, n, &wildcard)
    }) {
        return Denial::NxDomain;
    }
    Denial::NotProven(format!("no NSEC denies the wildcard {wildcard}"))
}

/// The longest ancestor of `qname` that is also an ancestor (or equal) of
/// `owner` or `next`, not above `zone`.
pub fn closest_encloser(qname: &Name, owner: &Name, next: &Name, zone: &Name) -> Name {
    let common = |other: &Name| -> usize {
        let a: Vec<Vec<u8>> = qname.iter().rev().map(|l| l.to_ascii_lowercase()).collect();
        let b: Vec<Vec<u8>> = other.iter().rev().map(|l| l.to_ascii_lowercase()).collect();
        a.iter().zip(&b).take_while(|(x, y)| x == y).count()
    };
    let n = common(owner).max(common(next)).max(zone.num_labels_total());
    trim_total(qname, n)
}

/// RFC 4035 §5.3.4: a wildcard-expanded answer for `qname` from
/// `wildcard_owner` (`*.ce`) needs an NSEC proving that no name closer to
/// qname than ce exists: it must cover the next closer name.
pub fn nsec_wildcard_answer_proof(
    qname: &Name,
    wildcard_owner: &Name,
    nsecs: &[(Name, NSEC)],
    zone: &Name,
) -> bool {
    let ce_labels = wildcard_owner.num_labels_total().saturating_sub(1);
    let ce = trim_total(wildcard_owner, ce_labels);
    if !ce.zone_of(qname) || qname.num_labels_total() <= ce_labels || !zone.zone_of(&ce) {
        return false;
    }
    let next_closer = trim_total(qname, ce_labels + 1);
    nsecs.iter().any(|(o, n)| {
        zone.zone_of(o)
            && nsec_covers(o, n.next_domain_name(), &next_closer)
            && !blocks_descendants(o, n, &next_closer)
    })
}

#[cfg(test)]
#[path = "nsec_tests.rs"]
mod tests;
