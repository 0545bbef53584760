//! What an RRSIG signs and when it is valid.
//!
//! signed_data = RRSIG_RDATA (without signature, signer name canonical)
//! | RR(1) | RR(2) ... in canonical form and order (RFC 4034 §3.1.8.1, §6.2,
//! §6.3), with the owner rebuilt for wildcard expansions (RFC 4035 §5.3.2)
//! and the Original TTL in every RR. The validity window is compared in
//! serial-number arithmetic (RFC 4034 §3.1.5, RFC 1982).

use hickory_proto::dnssec::rdata::RRSIG;
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use super::verdict::BogusReason;

/// Types whose RDATA domain names are lowercased in canonical form
/// (RFC 4034 §6.2 item 3, minus NSEC per RFC 6840 §5.1) that hickory 0.26
/// decodes as opaque `RData::Unknown`: we lowercase their names ourselves.
/// Each entry: type code, and the layout of the RDATA as a list of fields.
const OPAQUE_CANONICAL: &[(u16, &[Field])] = &[
    (3, &[Field::Name]),                           // MD
    (4, &[Field::Name]),                           // MF
    (7, &[Field::Name]),                           // MB
    (8, &[Field::Name]),                           // MG
    (9, &[Field::Name]),                           // MR
    (14, &[Field::Name, Field::Name]),             // MINFO
    (17, &[Field::Name, Field::Name]),             // RP
    (18, &[Field::U16, Field::Name]),              // AFSDB
    (21, &[Field::U16, Field::Name]),              // RT
    (26, &[Field::U16, Field::Name, Field::Name]), // PX
    (30, &[Field::Name]),                          // NXT (then a bitmap)
    (36, &[Field::U16, Field::Name]),              // KX
    (38, &[Field::A6]),                            // A6
    (39, &[Field::Name]),                          // DNAME (RFC 6672)
];

#[derive(Clone, Copy)]
enum Field {
    U16,
    Name,
    /// prefix length, address suffix, prefix name (RFC 2874 §3.1.1).
    A6,
}

/// The owner name in canonical wire form: uncompressed, lowercase.
pub fn canonical_name_wire(name: &Name, out: &mut Vec<u8>) {
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
}

/// The canonical RDATA of one record (RFC 4034 §6.2 items 2–3).
pub fn canonical_rdata(data: &RData) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(64);
    {
        let mut enc = BinEncoder::new(&mut buf);
        // hickory's canonical mode: no compression anywhere, lowercase
        // names in the RDATA of the RFC 4034 §6.2 types it models
        // (StandardRecord/Canonical), case preserved for the rest (NSEC
        // next name per RFC 6840 §5.1, SVCB etc. per RFC 3597 §7).
        enc.set_canonical_form(true);
        enc.set_name_encoding(NameEncoding::Uncompressed);
        data.emit(&mut enc).map_err(|e| e.to_string())?;
    }
    if let RData::Unknown { code, .. } = data {
        let code = u16::from(*code);
        if let Some((_, fields)) = OPAQUE_CANONICAL.iter().find(|(c, _)| *c == code) {
            lowercase_fields(&mut buf, fields);
        }
    }
    Ok(buf)
}

/// Lowercases the uncompressed names at the field positions; stops at the
/// first malformed or compressed name (the signature will then not match,
/// which is the right outcome for such data).
fn lowercase_fields(buf: &mut [u8], fields: &[Field]) {
    let mut pos = 0usize;
    for f in fields {
        match f {
            Field::U16 => pos += 2,
            Field::Name => match lowercase_name_at(buf, pos) {
                Some(end) => pos = end,
                None => return,
            },
            Field::A6 => {
                let Some(&plen) = buf.first() else { return };
                if plen > 128 {
                    return;
                }
                pos = 1 + usize::from((128 - plen) / 8);
                if plen == 0 {
                    return;
                }
                if lowercase_name_at(buf, pos).is_none() {
                    return;
                }
            }
        }
    }
}

fn lowercase_name_at(buf: &mut [u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = usize::from(*buf.get(pos)?);
        if len == 0 {
            return Some(pos + 1);
        }
        if len > 63 || pos + 1 + len > buf.len() {
            return None;
        }
        buf[pos + 1..pos + 1 + len].make_ascii_lowercase();
        pos += 1 + len;
    }
}

/// The owner name a signature covers (RFC 4035 §5.3.2): the owner itself,
/// or `*.` + its rightmost `labels` labels when the RRset was synthesized
/// from a wildcard. None when the RRSIG claims more labels than the owner.
pub fn signed_owner(owner: &Name, rrsig_labels: u8) -> Option<Name> {
    let fqdn_labels = owner.num_labels();
    if rrsig_labels == fqdn_labels {
        return Some(owner.clone());
    }
    if rrsig_labels > fqdn_labels {
        return None;
    }
    let base = owner.trim_to(usize::from(rrsig_labels));
    Name::from_labels([b"*" as &[u8]])
        .ok()?
        .append_name(&base)
        .ok()
}

/// The data an RRSIG signs over `rrset` (all records share owner, type
/// and class; the owner is taken from the first record).
#[allow(
    clippy::result_large_err,
    reason = "BogusReason carries the names a responder needs; errors are the rare path"
)]
pub fn signed_data(rrsig: &RRSIG, rrset: &[Record]) -> Result<Vec<u8>, BogusReason> {
    let refs: Vec<&Record> = rrset.iter().collect();
    signed_data_of(rrsig, &refs)
}

/// [`signed_data`] over borrowed records (no copies on the verify path).
#[allow(
    clippy::result_large_err,
    reason = "BogusReason carries the names a responder needs; errors are the rare path"
)]
pub fn signed_data_of(rrsig: &RRSIG, rrset: &[&Record]) -> Result<Vec<u8>, BogusReason> {
    let input = rrsig.input();
    let rtype = input.type_covered;
    let Some(&first) = rrset.first() else {
        return Err(BogusReason::Other {
            what: format!("empty RRset for RRSIG over {rtype}"),
        });
    };
    let invalid = |why: String| BogusReason::InvalidRrsig {
        owner: first.name.clone(),
        rtype,
        why,
    };
    let name = signed_owner(&first.name, input.num_labels).ok_or_else(|| {
        invalid(format!(
            "labels field {} exceeds the owner's {} labels",
            input.num_labels,
            first.name.num_labels()
        ))
    })?;

    let mut out = Vec::with_capacity(256);
    // RRSIG_RDATA without the signature (RFC 4034 §3.1.8.1).
    out.extend_from_slice(&u16::from(rtype).to_be_bytes());
    out.push(u8::from(input.algorithm));
    out.push(input.num_labels);
    out.extend_from_slice(&input.original_ttl.to_be_bytes());
    out.extend_from_slice(&input.sig_expiration.get().to_be_bytes());
    out.extend_from_slice(&input.sig_inception.get().to_be_bytes());
    out.extend_from_slice(&input.key_tag.to_be_bytes());
    canonical_name_wire(&input.signer_name, &mut out);

    // Canonical RR ordering: by canonical RDATA as left-justified octet
    // strings, duplicates removed (RFC 4034 §6.3).
    let mut rdatas = Vec::with_capacity(rrset.len());
    for r in rrset {
        if r.record_type() != rtype || r.dns_class != first.dns_class || r.name != first.name {
            return Err(invalid(format!(
                "RRset mixes {}/{} with {}/{}",
                first.name,
                rtype,
                r.name,
                r.record_type()
            )));
        }
        let rd = canonical_rdata(&r.data).map_err(&invalid)?;
        if rd.len() > usize::from(u16::MAX) {
            return Err(invalid("RDATA longer than 65535 octets".into()));
        }
        rdatas.push(rd);
    }
    rdatas.sort_unstable();
    rdatas.dedup();

    let mut owner_wire = Vec::with_capacity(name.len() + 2);
    canonical_name_wire(&name, &mut owner_wire);
    let class = u16::from(first.dns_class).to_be_bytes();
    for rd in rdatas {
        out.extend_from_slice(&owner_wire);
        out.extend_from_slice(&u16::from(rtype).to_be_bytes());
        out.extend_from_slice(&class);
        out.extend_from_slice(&input.original_ttl.to_be_bytes());
        out.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        out.extend_from_slice(&rd);
    }
    Ok(out)
}

/// `now` reduced to the 32-bit serial space of RRSIG times.
pub fn serial_now(now: i64) -> u32 {
    now.rem_euclid(1 << 32) as u32
}

/// RFC 1982 §3.2: `a < b` in serial-number arithmetic (SERIAL_BITS = 32).
/// Undefined pairs (exactly 2^31 apart) compare as neither.
pub fn serial_lt(a: u32, b: u32) -> bool {
    a != b && ((a < b && b - a < 1 << 31) || (a > b && a - b > 1 << 31))
}

/// Checks inception ≤ now ≤ expiration (RFC 4035 §5.3.1) in serial
/// arithmetic (RFC 4034 §3.1.5); `owner` is for the error's context.
#[allow(
    clippy::result_large_err,
    reason = "BogusReason carries the names a responder needs; errors are the rare path"
)]
pub fn check_window(rrsig: &RRSIG, owner: &Name, now: i64) -> Result<(), BogusReason> {
    let input = rrsig.input();
    let (inception, expiration) = (input.sig_inception.get(), input.sig_expiration.get());
    let now = serial_now(now);
    let zone = input.signer_name.clone();
    let key_tag = input.key_tag;
    let rtype = input.type_covered;
    if serial_lt(expiration, inception) {
        return Err(BogusReason::SignatureExpiredBeforeValid {
            zone,
            key_tag,
            owner: owner.clone(),
            rtype,
            inception,
            expiration,
        });
    }
    if serial_lt(now, inception) {
        return Err(BogusReason::SignatureNotYetValid {
            zone,
            key_tag,
            owner: owner.clone(),
            rtype,
            inception,
            now,
        });
    }
    if serial_lt(expiration, now) {
        return Err(BogusReason::SignatureExpired {
            zone,
            key_tag,
            owner: owner.clone(),
            rtype,
            expiration,
            now,
        });
    }
    Ok(())
}

/// Seconds until the signature expires (for the TTL cap of RFC 4035
/// §5.3.3); 0 if already expired.
pub fn remaining_validity(rrsig: &RRSIG, now: i64) -> u32 {
    let exp = rrsig.input().sig_expiration.get();
    let now = serial_now(now);
    if serial_lt(exp, now) {
        0
    } else {
        exp.wrapping_sub(now)
    }
}

#[cfg(test)]
#[path = "rrsig_tests.rs"]
mod tests;
