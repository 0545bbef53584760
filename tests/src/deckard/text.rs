//! Zone-file presentation syntax (RFC 1035 §5.1) → wire format, for the
//! records and questions of Deckard scenarios.
//!
//! We encode to wire ourselves instead of going through hickory's text
//! parser because hickory cannot read DNSKEY/RRSIG/NSEC/NSEC3/DNAME from
//! text, and because several scenarios carry deliberately malformed data
//! (a DNSKEY with protocol 2, bad algorithms) that the replay must send
//! byte for byte so the engine, not the test harness, judges it.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXUPPER_PERMISSIVE};
use hickory_proto::rr::{Name, RecordType};

/// TTL used when a record line gives none (ldns' default, which Deckard's
/// scenarios were written against).
pub const DEFAULT_TTL: u32 = 3600;

/// One record exactly as the scenario wrote it, rdata already in wire form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRecord {
    pub owner: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

/// One question entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawQuestion {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

/// A token of a presentation line; `quoted` keeps `"a b"` as one string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub quoted: bool,
}

/// Splits a line into tokens, honouring double quotes and backslash
/// escapes, and dropping a `;` comment (outside quotes).
pub fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == ';' {
            break;
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => {
                        s.push('\\');
                        if let Some(n) = chars.next() {
                            s.push(n);
                        }
                    }
                    _ => s.push(c),
                }
            }
            if !closed {
                return Err("unterminated quoted string".into());
            }
            out.push(Token {
                text: s,
                quoted: true,
            });
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == ';' {
                    break;
                }
                s.push(c);
                chars.next();
                if c == '\\'
                    && let Some(n) = chars.next()
                {
                    s.push(n);
                }
            }
            out.push(Token {
                text: s,
                quoted: false,
            });
        }
    }
    Ok(out)
}

/// A domain name; relative names are taken relative to the root, as ldns
/// (Deckard's parser) does without `$ORIGIN`.
pub fn parse_name(s: &str) -> Result<Name, String> {
    // from_ascii keeps the case (0x20 bits matter to copy_id and qcase).
    let name = Name::from_ascii(s).map_err(|e| format!("bad name {s:?}: {e}"))?;
    if name.is_fqdn() {
        Ok(name)
    } else {
        name.append_domain(&Name::root())
            .map_err(|e| format!("bad name {s:?}: {e}"))
    }
}

/// Wire form of a name, uncompressed, case preserved (RFC 1035 §3.1).
pub fn name_wire(name: &Name, out: &mut Vec<u8>) {
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
}

/// `TYPE1234` (RFC 3597 §5) or a mnemonic.
pub fn parse_type(s: &str) -> Option<u16> {
    let up = s.to_ascii_uppercase();
    if let Some(n) = up.strip_prefix("TYPE")
        && let Ok(v) = n.parse::<u16>()
    {
        return Some(v);
    }
    match RecordType::from_str(&up) {
        Ok(RecordType::Unknown(_)) | Err(_) => None,
        Ok(t) => Some(u16::from(t)),
    }
}

/// `IN`, `CH`, `HS`, `ANY`, `NONE` or `CLASS1234`.
pub fn parse_class(s: &str) -> Option<u16> {
    let up = s.to_ascii_uppercase();
    match up.as_str() {
        "IN" => Some(1),
        "CH" => Some(3),
        "HS" => Some(4),
        "NONE" => Some(254),
        "ANY" => Some(255),
        _ => up.strip_prefix("CLASS").and_then(|n| n.parse().ok()),
    }
}

/// `owner [class] type` (class defaults to IN).
pub fn parse_question(line: &str) -> Result<RawQuestion, String> {
    let toks = tokenize(line)?;
    let mut it = toks.iter();
    let owner = it.next().ok_or("empty question")?;
    let name = parse_name(&owner.text)?;
    let mut qclass = 1;
    let mut qtype = None;
    for t in it {
        if qtype.is_some() {
            return Err(format!("unexpected {:?} after the question type", t.text));
        }
        if let Some(c) = parse_class(&t.text)
            && parse_type(&t.text).is_none()
        {
            qclass = c;
            continue;
        }
        qtype = Some(parse_type(&t.text).ok_or_else(|| format!("unknown type {:?}", t.text))?);
    }
    Ok(RawQuestion {
        name,
        qtype: qtype.ok_or("question without a type")?,
        qclass,
    })
}

/// `owner [ttl] [class] type rdata…` (ttl and class in either order).
pub fn parse_record(line: &str) -> Result<RawRecord, String> {
    let toks = tokenize(line)?;
    let owner = toks.first().ok_or("empty record")?;
    let owner = parse_name(&owner.text)?;
    let mut ttl = None;
    let mut class = None;
    let mut i = 1;
    let rtype = loop {
        let t = toks.get(i).ok_or("record without a type")?;
        i += 1;
        if ttl.is_none() && t.text.bytes().all(|b| b.is_ascii_digit()) {
            ttl = Some(t.text.parse::<u32>().map_err(|e| format!("bad TTL: {e}"))?);
        } else if class.is_none() && parse_class(&t.text).is_some() && parse_type(&t.text).is_none()
        {
            class = parse_class(&t.text);
        } else {
            break parse_type(&t.text).ok_or_else(|| format!("unknown type {:?}", t.text))?;
        }
    };
    let rdata = rdata_wire(rtype, &toks[i..])
        .map_err(|e| format!("{} rdata: {e}", RecordType::from(rtype)))?;
    Ok(RawRecord {
        owner,
        rtype,
        class: class.unwrap_or(1),
        ttl: ttl.unwrap_or(DEFAULT_TTL),
        rdata,
    })
}

fn num<T: FromStr>(toks: &[Token], i: usize, what: &str) -> Result<T, String> {
    let t = toks.get(i).ok_or_else(|| format!("missing {what}"))?;
    t.text
        .parse::<T>()
        .map_err(|_| format!("bad {what} {:?}", t.text))
}

fn tok<'a>(toks: &'a [Token], i: usize, what: &str) -> Result<&'a str, String> {
    toks.get(i)
        .map(|t| t.text.as_str())
        .ok_or_else(|| format!("missing {what}"))
}

fn joined(toks: &[Token], from: usize) -> String {
    toks.iter().skip(from).map(|t| t.text.as_str()).collect()
}

/// RRSIG times: `YYYYMMDDHHMMSS` or plain seconds (RFC 4034 §3.2).
pub fn parse_sig_time(s: &str) -> Result<u32, String> {
    if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
        let secs = parse_yyyymmddhhmmss(s)?;
        // Serial arithmetic (RFC 4034 §3.1.5): the field holds time mod 2^32.
        return Ok(secs.rem_euclid(1 << 32) as u32);
    }
    s.parse::<u32>().map_err(|_| format!("bad time {s:?}"))
}

/// `YYYYMMDDHHMMSS` (UTC) → Unix seconds.
pub fn parse_yyyymmddhhmmss(s: &str) -> Result<i64, String> {
    let bad = || format!("bad date {s:?} (want YYYYMMDDHHMMSS)");
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let f = |a: usize, b: usize| s[a..b].parse::<i64>().map_err(|_| bad());
    let (y, mo, d, h, mi, se) = (
        f(0, 4)?,
        f(4, 6)?,
        f(6, 8)?,
        f(8, 10)?,
        f(10, 12)?,
        f(12, 14)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// NSEC/NSEC3 type bitmap (RFC 4034 §4.1.2).
fn type_bitmap(toks: &[Token], out: &mut Vec<u8>) -> Result<(), String> {
    let mut types = toks
        .iter()
        .map(|t| parse_type(&t.text).ok_or_else(|| format!("unknown type {:?} in bitmap", t.text)))
        .collect::<Result<Vec<u16>, _>>()?;
    types.sort_unstable();
    types.dedup();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = (types[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        out.push(window);
        out.push(len as u8);
        out.extend_from_slice(&bits[..len]);
    }
    Ok(())
}

/// Character strings of TXT (RFC 1035 §3.3), with `\X` and `\DDD` escapes.
fn char_string(s: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let mut bytes = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if i + 4 <= b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
                let v: u16 = s[i + 1..i + 4].parse().map_err(|_| "bad escape")?;
                bytes.push(u8::try_from(v).map_err(|_| "escape over 255")?);
                i += 4;
            } else {
                bytes.push(b[i + 1]);
                i += 2;
            }
        } else {
            bytes.push(b[i]);
            i += 1;
        }
    }
    for chunk in bytes.chunks(255) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
    if bytes.is_empty() {
        out.push(0);
    }
    Ok(())
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    HEXUPPER_PERMISSIVE
        .decode(s.to_ascii_uppercase().as_bytes())
        .map_err(|e| format!("bad hex: {e}"))
}

fn salt(s: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let v = if s == "-" { Vec::new() } else { hex(s)? };
    out.push(u8::try_from(v.len()).map_err(|_| "salt too long")?);
    out.extend_from_slice(&v);
    Ok(())
}

/// Algorithm numbers may be written as mnemonics (RFC 4034 App. A.1).
fn algorithm(s: &str) -> Result<u8, String> {
    if let Ok(v) = s.parse::<u8>() {
        return Ok(v);
    }
    Ok(match s.to_ascii_uppercase().as_str() {
        "RSAMD5" => 1,
        "DH" => 2,
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
        "PRIVATEDNS" => 253,
        "PRIVATEOID" => 254,
        _ => return Err(format!("unknown algorithm {s:?}")),
    })
}

/// The rdata of one record type in wire form.
pub fn rdata_wire(rtype: u16, t: &[Token]) -> Result<Vec<u8>, String> {
    let mut o = Vec::new();
    // RFC 3597 §5 generic syntax works for every type.
    if t.first().is_some_and(|x| x.text == "\\#") {
        let len: usize = num(t, 1, "rdata length")?;
        let data = hex(&joined(t, 2))?;
        if data.len() != len {
            return Err(format!("\\# says {len} bytes, got {}", data.len()));
        }
        return Ok(data);
    }
    match RecordType::from(rtype) {
        RecordType::A => {
            let a: Ipv4Addr = num(t, 0, "IPv4 address")?;
            o.extend_from_slice(&a.octets());
        }
        RecordType::AAAA => {
            let a: Ipv6Addr = num(t, 0, "IPv6 address")?;
            o.extend_from_slice(&a.octets());
        }
        RecordType::NS | RecordType::CNAME | RecordType::PTR | RecordType::ANAME => {
            name_wire(&parse_name(tok(t, 0, "name")?)?, &mut o)
        }
        _ if rtype == 39 => name_wire(&parse_name(tok(t, 0, "DNAME target")?)?, &mut o),
        RecordType::MX => {
            o.extend_from_slice(&num::<u16>(t, 0, "preference")?.to_be_bytes());
            name_wire(&parse_name(tok(t, 1, "exchange")?)?, &mut o);
        }
        RecordType::SOA => {
            name_wire(&parse_name(tok(t, 0, "mname")?)?, &mut o);
            name_wire(&parse_name(tok(t, 1, "rname")?)?, &mut o);
            for (i, what) in ["serial", "refresh", "retry", "expire", "minimum"]
                .iter()
                .enumerate()
            {
                o.extend_from_slice(&num::<u32>(t, 2 + i, what)?.to_be_bytes());
            }
        }
        RecordType::TXT => {
            for x in t {
                char_string(&x.text, &mut o)?;
            }
        }
        RecordType::DS | RecordType::CDS => {
            o.extend_from_slice(&num::<u16>(t, 0, "key tag")?.to_be_bytes());
            o.push(algorithm(tok(t, 1, "algorithm")?)?);
            o.push(num(t, 2, "digest type")?);
            o.extend(hex(&joined(t, 3))?);
        }
        RecordType::DNSKEY | RecordType::CDNSKEY | RecordType::KEY => {
            o.extend_from_slice(&num::<u16>(t, 0, "flags")?.to_be_bytes());
            o.push(num(t, 1, "protocol")?);
            o.push(algorithm(tok(t, 2, "algorithm")?)?);
            o.extend(
                BASE64
                    .decode(joined(t, 3).as_bytes())
                    .map_err(|e| format!("bad base64: {e}"))?,
            );
        }
        RecordType::RRSIG | RecordType::SIG => {
            let covered = tok(t, 0, "type covered")?;
            let covered = parse_type(covered).ok_or_else(|| format!("unknown type {covered:?}"))?;
            o.extend_from_slice(&covered.to_be_bytes());
            o.push(algorithm(tok(t, 1, "algorithm")?)?);
            o.push(num(t, 2, "labels")?);
            o.extend_from_slice(&num::<u32>(t, 3, "original TTL")?.to_be_bytes());
            o.extend_from_slice(&parse_sig_time(tok(t, 4, "expiration")?)?.to_be_bytes());
            o.extend_from_slice(&parse_sig_time(tok(t, 5, "inception")?)?.to_be_bytes());
            o.extend_from_slice(&num::<u16>(t, 6, "key tag")?.to_be_bytes());
            name_wire(&parse_name(tok(t, 7, "signer")?)?, &mut o);
            o.extend(
                BASE64
                    .decode(joined(t, 8).as_bytes())
                    .map_err(|e| format!("bad base64: {e}"))?,
            );
        }
        RecordType::NSEC => {
            name_wire(&parse_name(tok(t, 0, "next name")?)?, &mut o);
            type_bitmap(&t[1..], &mut o)?;
        }
        RecordType::NSEC3 => {
            o.push(num(t, 0, "hash algorithm")?);
            o.push(num(t, 1, "flags")?);
            o.extend_from_slice(&num::<u16>(t, 2, "iterations")?.to_be_bytes());
            salt(tok(t, 3, "salt")?, &mut o)?;
            let next = BASE32HEX_NOPAD
                .decode(
                    tok(t, 4, "next hashed owner")?
                        .to_ascii_uppercase()
                        .as_bytes(),
                )
                .map_err(|e| format!("bad base32hex: {e}"))?;
            o.push(u8::try_from(next.len()).map_err(|_| "next hash too long")?);
            o.extend(next);
            type_bitmap(&t[5..], &mut o)?;
        }
        RecordType::NSEC3PARAM => {
            o.push(num(t, 0, "hash algorithm")?);
            o.push(num(t, 1, "flags")?);
            o.extend_from_slice(&num::<u16>(t, 2, "iterations")?.to_be_bytes());
            salt(tok(t, 3, "salt")?, &mut o)?;
        }
        RecordType::NULL if t.is_empty() => {}
        other => {
            return Err(format!(
                "no text syntax for {other}; use \\# generic syntax"
            ));
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_to_unix_time() {
        assert_eq!(parse_yyyymmddhhmmss("19700101000000"), Ok(0));
        assert_eq!(parse_yyyymmddhhmmss("20170401000000"), Ok(1_491_004_800));
        assert!(parse_yyyymmddhhmmss("20171301000000").is_err());
    }

    #[test]
    fn records_with_and_without_ttl_and_class() {
        let r = parse_record("example.com. 300 IN A 192.0.2.1").unwrap();
        assert_eq!(
            (r.ttl, r.class, r.rtype, r.rdata.clone()),
            (300, 1, 1, vec![192, 0, 2, 1])
        );
        let r = parse_record("au. SOA bla bla 1 2 3 4 5").unwrap();
        assert_eq!(r.ttl, DEFAULT_TTL);
        assert_eq!(&r.rdata[..5], b"\x03bla\x00");
        assert!(parse_record("example.com. IN A 300.1.1.1").is_err());
        assert!(parse_record("example.com. IN").is_err());
    }

    #[test]
    fn nsec_bitmap_matches_rfc4034_example() {
        // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
        let r = parse_record(
            "alfa.example.com. 86400 IN NSEC host.example.com. A MX RRSIG NSEC TYPE1234",
        )
        .unwrap();
        let mut want = Vec::new();
        name_wire(&parse_name("host.example.com.").unwrap(), &mut want);
        want.extend_from_slice(&[0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03]);
        want.extend_from_slice(&[
            0x04, 0x1b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0x20,
        ]);
        assert_eq!(r.rdata, want);
    }

    #[test]
    fn comments_and_quotes() {
        let t = tokenize("a. IN TXT \"x ; y\" z ; comment").unwrap();
        assert_eq!(t.len(), 5);
        assert_eq!(t[3].text, "x ; y");
        assert!(tokenize("a. TXT \"open").is_err());
    }

    #[test]
    fn questions() {
        let q = parse_question("shortloop.x.x.\tTXT").unwrap();
        assert_eq!((q.qtype, q.qclass), (16, 1));
        let q = parse_question("nsec.example. IN TYPE1000").unwrap();
        assert_eq!(q.qtype, 1000);
        assert!(parse_question("example.com. IN BOGUSTYPE").is_err());
    }
}
