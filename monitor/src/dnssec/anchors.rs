//! Trust anchors: where chains of trust start (RFC 4033 §5, RFC 4035 §4.4).
//!
//! Built in: the IANA root KSK DS records (KSK-2017, tag 20326, and
//! KSK-2024, tag 38696; https://data.iana.org/root-anchors/). A file of DS
//! and/or DNSKEY records in zone-file syntax (RFC 1035 §5.1: comments,
//! parentheses, `$ORIGIN`, `$TTL`, optional TTL and class) replaces them;
//! errors name the line. hickory 0.26's trust-anchor parser reads DNSKEY
//! only and does not report lines, hence this small parser.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use base64::Engine as _;
use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf};
use hickory_proto::rr::Name;
use thiserror::Error;

/// The anchors configured for one name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnchorSet {
    pub ds: Vec<DS>,
    pub dnskeys: Vec<DNSKEY>,
}

/// All configured trust anchors, by owner name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustAnchors {
    anchors: BTreeMap<Name, AnchorSet>,
}

/// A trust-anchor file that could not be used.
#[derive(Debug, Error)]
pub enum AnchorError {
    #[error("cannot read trust anchor file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("trust anchors line {line}: {why}: {text}")]
    Parse {
        line: usize,
        text: String,
        why: String,
    },
    #[error("no DS or DNSKEY record in the trust anchors")]
    Empty,
    #[error(
        "trust anchor for {owner} lies outside zone {zone} (a per-zone anchor anchors that zone only)"
    )]
    OutsideZone { owner: String, zone: String },
}

/// IANA root anchors (root-anchors.xml): KSK-2017 and KSK-2024.
const IANA_ROOT: &str = "\
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
";

impl TrustAnchors {
    /// No anchors at all: everything validates as insecure.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The IANA root DS records.
    pub fn iana_root() -> Self {
        Self::from_zone_text(IANA_ROOT).unwrap_or_default()
    }

    /// Reads DS/DNSKEY records in zone-file syntax.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, AnchorError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| AnchorError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_zone_text(&text)
    }

    /// Parses DS/DNSKEY records in zone-file syntax.
    pub fn from_zone_text(text: &str) -> Result<Self, AnchorError> {
        let mut out = Self::default();
        let mut origin = Name::root();
        let mut last_owner: Option<Name> = None;
        for (line, raw, tokens, starts_blank) in logical_lines(text)? {
            let err = |why: String| AnchorError::Parse {
                line,
                text: raw.clone(),
                why,
            };
            let Some(first) = tokens.first() else {
                continue;
            };
            match first.to_ascii_uppercase().as_str() {
                "$ORIGIN" => {
                    let o = tokens
                        .get(1)
                        .ok_or_else(|| err("$ORIGIN needs a name".into()))?;
                    origin = parse_name(o, &origin).map_err(err)?;
                    continue;
                }
                "$TTL" => continue,
                d if d.starts_with('$') => return Err(err(format!("unsupported directive {d}"))),
                _ => {}
            }
            let mut rest: &[String] = &tokens;
            let owner = if starts_blank {
                last_owner
                    .clone()
                    .ok_or_else(|| err("no owner name".into()))?
            } else {
                let o = parse_name(&rest[0], &origin).map_err(err)?;
                rest = &rest[1..];
                o
            };
            // Optional TTL and class, in either order (RFC 1035 §5.1).
            while let Some(t) = rest.first() {
                let u = t.to_ascii_uppercase();
                if u == "IN" || t.chars().all(|c| c.is_ascii_digit()) {
                    rest = &rest[1..];
                } else if ["CH", "HS", "CS"].contains(&u.as_str()) {
                    return Err(err(format!("class {u} is not IN")));
                } else {
                    break;
                }
            }
            let rtype = rest
                .first()
                .ok_or_else(|| err("missing record type".into()))?
                .to_ascii_uppercase();
            let rdata = &rest[1..];
            let set = out.anchors.entry(owner.to_lowercase()).or_default();
            match rtype.as_str() {
                "DS" => set.ds.push(parse_ds(rdata).map_err(err)?),
                "DNSKEY" => set.dnskeys.push(parse_dnskey(rdata).map_err(err)?),
                other => return Err(err(format!("record type {other} is not DS or DNSKEY"))),
            }
            last_owner = Some(owner);
        }
        if out.anchors.is_empty() {
            return Err(AnchorError::Empty);
        }
        Ok(out)
    }

    /// Adds a DS anchor.
    pub fn add_ds(&mut self, owner: &Name, ds: DS) {
        self.anchors
            .entry(owner.to_lowercase())
            .or_default()
            .ds
            .push(ds);
    }

    /// Adds a DNSKEY anchor.
    pub fn add_dnskey(&mut self, owner: &Name, key: DNSKEY) {
        self.anchors
            .entry(owner.to_lowercase())
            .or_default()
            .dnskeys
            .push(key);
    }

    /// Adds a per-zone anchor set (an internal zone with its own key):
    /// every owner in `other` must be `zone` or below it. The closest
    /// enclosing anchor is where a chain starts (RFC 4035 §4.4), so such a
    /// zone is a secure entry point whatever its parent says.
    pub fn add_zone(&mut self, zone: &Name, other: TrustAnchors) -> Result<(), AnchorError> {
        let mut zone = zone.to_lowercase();
        zone.set_fqdn(true);
        if let Some(owner) = other.anchors.keys().find(|o| !zone.zone_of(o)) {
            return Err(AnchorError::OutsideZone {
                owner: owner.to_string(),
                zone: zone.to_string(),
            });
        }
        for (owner, set) in other.anchors {
            let mine = self.anchors.entry(owner).or_default();
            mine.ds.extend(set.ds);
            mine.dnskeys.extend(set.dnskeys);
        }
        Ok(())
    }

    /// The anchor at `name` or its closest ancestor.
    pub fn closest(&self, name: &Name) -> Option<(&Name, &AnchorSet)> {
        self.anchors
            .iter()
            .filter(|(owner, _)| owner.zone_of(name))
            .max_by_key(|(owner, _)| owner.num_labels())
    }

    /// All anchors.
    pub fn iter(&self) -> impl Iterator<Item = (&Name, &AnchorSet)> {
        self.anchors.iter()
    }

    /// True when no anchor is configured.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

type LogicalLine = (usize, String, Vec<String>, bool);

/// Splits zone text into logical lines: comments removed, parenthesised
/// continuations joined. Each: (first line number, raw text, tokens,
/// whether the line started with blank — meaning "same owner").
fn logical_lines(text: &str) -> Result<Vec<LogicalLine>, AnchorError> {
    let mut out = Vec::new();
    let mut cur: Option<LogicalLine> = None;
    let mut depth = 0usize;
    for (i, line) in text.lines().enumerate() {
        let no = i + 1;
        let content = line.split(';').next().unwrap_or("");
        let entry = cur.get_or_insert_with(|| {
            (
                no,
                line.trim().to_string(),
                Vec::new(),
                line.starts_with([' ', '\t']),
            )
        });
        if entry.0 != no {
            entry.1.push(' ');
            entry.1.push_str(line.trim());
        }
        for tok in content
            .replace('(', " ( ")
            .replace(')', " ) ")
            .split_whitespace()
        {
            match tok {
                "(" => depth += 1,
                ")" => {
                    depth = depth.checked_sub(1).ok_or_else(|| AnchorError::Parse {
                        line: no,
                        text: line.trim().to_string(),
                        why: "unbalanced ')'".into(),
                    })?
                }
                t => entry.2.push(t.to_string()),
            }
        }
        if depth == 0
            && let Some(l) = cur.take()
            && !l.2.is_empty()
        {
            out.push(l);
        }
    }
    if let Some(l) = cur
        && depth > 0
    {
        return Err(AnchorError::Parse {
            line: l.0,
            text: l.1,
            why: "unbalanced '('".into(),
        });
    }
    Ok(out)
}

fn parse_name(text: &str, origin: &Name) -> Result<Name, String> {
    if text == "@" {
        return Ok(origin.clone());
    }
    Name::parse(text, Some(origin)).map_err(|e| format!("bad name {text}: {e}"))
}

/// An algorithm given as a number or a mnemonic (RFC 4034 §5.3, App. A.1).
fn parse_algorithm(t: &str) -> Result<Algorithm, String> {
    if let Ok(n) = t.parse::<u8>() {
        return Ok(Algorithm::from_u8(n));
    }
    let n = match t.to_ascii_uppercase().as_str() {
        "RSAMD5" => 1,
        "DSA" => 3,
        "RSASHA1" => 5,
        "DSA-NSEC3-SHA1" => 6,
        "RSASHA1-NSEC3-SHA1" => 7,
        "RSASHA256" => 8,
        "RSASHA512" => 10,
        "ECC-GOST" => 12,
        "ECDSAP256SHA256" => 13,
        "ECDSAP384SHA384" => 14,
        "ED25519" => 15,
        "ED448" => 16,
        _ => return Err(format!("unknown algorithm {t}")),
    };
    Ok(Algorithm::from_u8(n))
}

fn parse_ds(rdata: &[String]) -> Result<DS, String> {
    if rdata.len() < 4 {
        return Err("DS needs key tag, algorithm, digest type and digest".into());
    }
    let key_tag = u16::from_str(&rdata[0]).map_err(|_| format!("bad key tag {}", rdata[0]))?;
    let algorithm = parse_algorithm(&rdata[1])?;
    let digest_type =
        u8::from_str(&rdata[2]).map_err(|_| format!("bad digest type {}", rdata[2]))?;
    let hex: String = rdata[3..].concat();
    let digest = decode_hex(&hex).ok_or_else(|| format!("bad hex digest {hex}"))?;
    Ok(DS::new(
        key_tag,
        algorithm,
        DigestType::from(digest_type),
        digest,
    ))
}

fn parse_dnskey(rdata: &[String]) -> Result<DNSKEY, String> {
    if rdata.len() < 4 {
        return Err("DNSKEY needs flags, protocol, algorithm and key".into());
    }
    let flags = u16::from_str(&rdata[0]).map_err(|_| format!("bad flags {}", rdata[0]))?;
    if rdata[1] != "3" {
        return Err(format!("protocol {} is not 3 (RFC 4034 §2.1.2)", rdata[1]));
    }
    let algorithm = parse_algorithm(&rdata[2])?;
    let b64: String = rdata[3..].concat();
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| format!("bad base64 key: {e}"))?;
    Ok(DNSKEY::with_flags(flags, PublicKeyBuf::new(key, algorithm)))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.is_empty() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
#[path = "anchors_tests.rs"]
mod tests;
