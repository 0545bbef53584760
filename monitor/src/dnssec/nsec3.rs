//! NSEC3 denial proofs (RFC 5155 §8) with the RFC 9276 iteration cap and a
//! hash budget against CVE-2023-50868.
//!
//! Owner names are `base32hex(H(name)).zone`; an NSEC3 "matches" a hash
//! equal to its owner's and "covers" one strictly between its owner's and
//! its next hashed owner (wrapping at the end of the chain). The closest
//! encloser proof (§8.3) is: the closest encloser's hash matches, and the
//! next closer name's hash is covered. Iterations above
//! `Limits::max_nsec3_iterations` make the answer insecure before any hash
//! is computed (RFC 9276 §3.2); each name hash is charged to the budget.

use hickory_proto::dnssec::rdata::NSEC3;
use hickory_proto::rr::{Name, RecordType};
use ring::digest;

use super::denial::{Denial, TotalLabels, bitmap_denies, trim_total, wildcard_of};
use super::limits::{Budget, Limits};
use super::rrsig::canonical_name_wire;

/// IH(salt, name, iterations) of RFC 5155 §5: H(...H(H(name|salt)|salt)...)
/// with `iterations` extra rounds, name in canonical (lowercase) wire form.
pub fn nsec3_hash(name: &Name, salt: &[u8], iterations: u16) -> Vec<u8> {
    let mut buf = Vec::with_capacity(name.len() + 2 + salt.len());
    canonical_name_wire(name, &mut buf);
    buf.extend_from_slice(salt);
    let mut h = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &buf);
    for _ in 0..iterations {
        let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
        ctx.update(h.as_ref());
        ctx.update(salt);
        h = ctx.finish();
    }
    h.as_ref().to_vec()
}

const B32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// Base32hex without padding (RFC 4648 §7), lowercase, as in NSEC3 owners.
pub fn base32hex_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in data {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(B32HEX[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(B32HEX[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes an unpadded base32hex label, case-insensitive.
pub fn base32hex_decode(label: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(label.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in label {
        let v = match c.to_ascii_lowercase() {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'v' => c - b'a' + 10,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding.
    (acc == 0).then_some(out)
}

struct Entry<'a> {
    owner: &'a Name,
    hash: Vec<u8>,
    rdata: &'a NSEC3,
}

/// The usable NSEC3 records of one zone with one parameter set, and the
/// hashes computed so far (each name hashed at most once).
struct Chain<'a> {
    zone: &'a Name,
    salt: &'a [u8],
    iterations: u16,
    entries: Vec<Entry<'a>>,
    cache: Vec<(Name, Vec<u8>)>,
}

impl<'a> Chain<'a> {
    /// RFC 5155 §8.2: ignore records with flags other than 0/1, owners not
    /// directly under the zone, and parameters differing from the first.
    fn new(nsec3s: &'a [(Name, NSEC3)], zone: &'a Name) -> Option<Self> {
        let mut entries = Vec::new();
        let mut params: Option<(&[u8], u16)> = None;
        for (owner, rdata) in nsec3s {
            if rdata.flags() > 1
                || owner.num_labels_total() != zone.num_labels_total() + 1
                || !zone.zone_of(owner)
            {
                continue;
            }
            let Some(label) = owner.iter().next() else {
                continue;
            };
            let Some(hash) = base32hex_decode(label) else {
                continue;
            };
            let p = (rdata.salt(), rdata.iterations());
            match params {
                None => params = Some(p),
                Some(q) if q != p => continue,
                Some(_) => {}
            }
            entries.push(Entry { owner, hash, rdata });
        }
        let (salt, iterations) = params?;
        Some(Self {
            zone,
            salt,
            iterations,
            entries,
            cache: Vec::new(),
        })
    }

    fn hash(&mut self, name: &Name, budget: &mut Budget) -> Result<Vec<u8>, Denial> {
        if let Some((_, h)) = self.cache.iter().find(|(n, _)| n == name) {
            return Ok(h.clone());
        }
        if let Err(super::verdict::BogusReason::BudgetExceeded { what, limit }) =
            budget.spend_nsec3_hash(self.iterations)
        {
            return Err(Denial::BudgetExceeded { what, limit });
        }
        let h = nsec3_hash(name, self.salt, self.iterations);
        self.cache.push((name.clone(), h.clone()));
        Ok(h)
    }

    fn matching(&self, h: &[u8]) -> Option<&Entry<'a>> {
        self.entries.iter().find(|e| e.hash == h)
    }

    fn covering(&self, h: &[u8]) -> Option<&Entry<'a>> {
        self.entries.iter().find(|e| {
            let next = e.rdata.next_hashed_owner_name();
            if e.hash.as_slice() < next {
                e.hash.as_slice() < h && h < next
            } else {
                // Last in the chain wraps around to the first.
                h > e.hash.as_slice() || h < next
            }
        })
    }

    /// RFC 5155 §8.3: walk up from `qname` to the first ancestor whose hash
    /// matches; the name one label below it toward qname (the next closer)
    /// must be covered. Returns (closest encloser, covering NSEC3 of the
    /// next closer's opt-out flag).
    fn closest_encloser_proof(
        &mut self,
        qname: &Name,
        budget: &mut Budget,
    ) -> Result<Option<(Name, bool)>, Denial> {
        let top = self.zone.num_labels_total();
        let qlabels = qname.num_labels_total();
        let mut n = qlabels.saturating_sub(1);
        while n >= top {
            let candidate = trim_total(qname, n);
            let h = self.hash(&candidate, budget)?;
            if let Some(e) = self.matching(&h) {
                let t = e.rdata.type_set();
                // A match at a delegation (parent side) or DNAME cannot be
                // the closest encloser of names below it (RFC 5155 §8.3,
                // RFC 6840 §4.1).
                if (t.contains(RecordType::NS) && !t.contains(RecordType::SOA))
                    || t.contains(RecordType::DNAME)
                {
                    return Ok(None);
                }
                let next_closer = trim_total(qname, n + 1);
                let hn = self.hash(&next_closer, budget)?;
                return Ok(self.covering(&hn).map(|c| (candidate, c.rdata.opt_out())));
            }
            if n == 0 {
                break;
            }
            n -= 1;
        }
        Ok(None)
    }
}

fn too_many_iterations(nsec3s: &[(Name, NSEC3)], zone: &Name, limits: &Limits) -> Option<u16> {
    nsec3s
        .iter()
        .filter(|(o, _)| zone.zone_of(o))
        .map(|(_, r)| r.iterations())
        .find(|i| *i > limits.max_nsec3_iterations)
}

/// What `nsec3s` (owner, rdata) prove about `qname`/`qtype` in `zone`
/// (RFC 5155 §8.4–8.7).
pub fn nsec3_denial(
    qname: &Name,
    qtype: RecordType,
    nsec3s: &[(Name, NSEC3)],
    zone: &Name,
    limits: &Limits,
    budget: &mut Budget,
) -> Denial {
    if !zone.zone_of(qname) {
        return Denial::NotProven(format!("{qname} is not in zone {zone}"));
    }
    if qtype == RecordType::DS && qname == zone && !zone.is_root() {
        // RFC 5155 §8.6 / RFC 4035 §5.2: the parent denies a DS, not the child.
        return Denial::NotProven(format!("DS of {zone} must be denied by its parent"));
    }
    if let Some(it) = too_many_iterations(nsec3s, zone, limits) {
        return Denial::Nsec3IterationsTooHigh(it);
    }
    let Some(mut chain) = Chain::new(nsec3s, zone) else {
        return Denial::NotProven(format!("no usable NSEC3 of zone {zone}"));
    };
    match prove(&mut chain, qname, qtype, budget) {
        Ok(d) | Err(d) => d,
    }
}

fn prove(
    chain: &mut Chain<'_>,
    qname: &Name,
    qtype: RecordType,
    budget: &mut Budget,
) -> Result<Denial, Denial> {
    let hq = chain.hash(qname, budget)?;
    if let Some(e) = chain.matching(&hq) {
        let t: Vec<RecordType> = e.rdata.type_bit_maps().collect();
        let delegation = t.contains(&RecordType::NS) && !t.contains(&RecordType::SOA);
        if qtype == RecordType::DS {
            // §8.6: DS and CNAME absent; NS without SOA = unsigned delegation.
            if !bitmap_denies(&t, RecordType::DS) {
                return Ok(Denial::NotProven(format!(
                    "NSEC3 {} lists DS or CNAME",
                    e.owner
                )));
            }
            return Ok(if delegation {
                Denial::InsecureDelegation
            } else {
                Denial::NoData
            });
        }
        if delegation && qname != chain.zone {
            return Ok(Denial::NotProven(format!(
                "NSEC3 {} is the parent side of a delegation",
                e.owner
            )));
        }
        // §8.5 (also empty non-terminals, which have their own NSEC3).
        return Ok(if bitmap_denies(&t, qtype) {
            Denial::NoData
        } else {
            Denial::NotProven(format!("NSEC3 {} lists {qtype} or CNAME", e.owner))
        });
    }
    let Some((ce, opt_out)) = chain.closest_encloser_proof(qname, budget)? else {
        return Ok(Denial::NotProven(format!(
            "no closest encloser proof for {qname}"
        )));
    };
    // §8.6: DS at a name in an opt-out span: possibly an unsigned delegation.
    if qtype == RecordType::DS && opt_out {
        return Ok(Denial::OptOutInsecure);
    }
    let Some(wildcard) = wildcard_of(&ce) else {
        return Ok(Denial::NotProven(format!(
            "cannot form the wildcard under {ce}"
        )));
    };
    let hw = chain.hash(&wildcard, budget)?;
    if let Some(e) = chain.matching(&hw) {
        // §8.7: wildcard NODATA. With opt-out on the next closer's cover,
        // an unsigned delegation may sit between: insecure (as §8.4).
        let t: Vec<RecordType> = e.rdata.type_bit_maps().collect();
        return Ok(if bitmap_denies(&t, qtype) {
            if opt_out {
                Denial::OptOutInsecure
            } else {
                Denial::WildcardNoData
            }
        } else {
            Denial::NotProven(format!("wildcard {wildcard} exists with {qtype} or CNAME"))
        });
    }
    if chain.covering(&hw).is_some() {
        // §8.4; with opt-out on the next closer's cover an unsigned
        // delegation may exist there: insecure (RFC 5155 §9.2).
        return Ok(if opt_out {
            Denial::OptOutInsecure
        } else {
            Denial::NxDomain
        });
    }
    Ok(Denial::NotProven(format!(
        "no NSEC3 denies the wildcard {wildcard}"
    )))
}

/// RFC 5155 §8.8: a wildcard-expanded answer for `qname` from
/// `wildcard_owner` needs an NSEC3 covering the next closer name.
/// Returns `WildcardAnswerOk` or why not. An opt-out cover still gives
/// `WildcardAnswerOk`; ask [`nsec3_next_closer_opt_out`] to decide whether
/// the answer is only insecure.
pub fn nsec3_wildcard_answer_proof(
    qname: &Name,
    wildcard_owner: &Name,
    nsec3s: &[(Name, NSEC3)],
    zone: &Name,
    limits: &Limits,
    budget: &mut Budget,
) -> Denial {
    let ce_labels = wildcard_owner.num_labels_total().saturating_sub(1);
    let ce = trim_total(wildcard_owner, ce_labels);
    if !ce.zone_of(qname) || qname.num_labels_total() <= ce_labels || !zone.zone_of(&ce) {
        return Denial::NotProven(format!("{wildcard_owner} cannot expand to {qname}"));
    }
    if let Some(it) = too_many_iterations(nsec3s, zone, limits) {
        return Denial::Nsec3IterationsTooHigh(it);
    }
    let Some(mut chain) = Chain::new(nsec3s, zone) else {
        return Denial::NotProven(format!("no usable NSEC3 of zone {zone}"));
    };
    let next_closer = trim_total(qname, ce_labels + 1);
    match chain.hash(&next_closer, budget) {
        Err(d) => d,
        // The cover proves no signed closer name. If it has opt-out, an
        // unsigned delegation may still sit there: the caller makes the
        // answer insecure (RFC 5155 §9.2; see `nsec3_cover_is_opt_out`).
        Ok(h) => match chain.covering(&h) {
            Some(_) => Denial::WildcardAnswerOk,
            None => Denial::NotProven(format!(
                "no NSEC3 covers the next closer name {next_closer}"
            )),
        },
    }
}

/// Whether the NSEC3 covering the next closer name of a wildcard-expanded
/// `qname` has the opt-out flag (then the answer is insecure, RFC 5155
/// §9.2). Costs one (budgeted, usually already cached by the caller's
/// proof) hash; false when nothing covers it or the chain is unusable.
pub fn nsec3_next_closer_opt_out(
    qname: &Name,
    wildcard_owner: &Name,
    nsec3s: &[(Name, NSEC3)],
    zone: &Name,
    limits: &Limits,
    budget: &mut Budget,
) -> bool {
    let ce_labels = wildcard_owner.num_labels_total().saturating_sub(1);
    if qname.num_labels_total() <= ce_labels || too_many_iterations(nsec3s, zone, limits).is_some()
    {
        return false;
    }
    let Some(mut chain) = Chain::new(nsec3s, zone) else {
        return false;
    };
    let next_closer = trim_total(qname, ce_labels + 1);
    match chain.hash(&next_closer, budget) {
        Ok(h) => chain.covering(&h).is_some_and(|c| c.rdata.opt_out()),
        Err(_) => false,
    }
}

#[cfg(test)]
#[path = "nsec3_tests.rs"]
mod tests;
