//! DNS data as text, the way zone files and `dig` write it (RFC 1035 §5.1):
//! names without the trailing dot (as ECS `dns.question.name` wants), RDATA
//! in presentation format, mnemonics for types, classes, opcodes and rcodes.
//!
//! Names are written from their wire bytes, escaping `.`, `\`, `"` and the
//! zone-file specials with a backslash and anything non-printable as `\DDD`
//! (decimal, RFC 1035 §5.1; ECS asks the same of `dns.question.name`), so a
//! hostile name cannot inject control characters into logs.

use std::fmt::Write;

use hickory_proto::op::{OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

fn escape_byte(out: &mut String, b: u8, in_quotes: bool) {
    let special = if in_quotes {
        matches!(b, b'"' | b'\\')
    } else {
        matches!(b, b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$')
    };
    if special {
        out.push('\\');
        out.push(char::from(b));
    } else if (0x21..=0x7e).contains(&b) || (in_quotes && b == b' ') {
        out.push(char::from(b));
    } else {
        let _ = write!(out, "\\{b:03}");
    }
}

/// A domain name without its trailing dot; the root is ".".
pub fn name(n: &Name) -> String {
    let mut out = String::with_capacity(n.len());
    for (i, label) in n.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        for &b in label {
            escape_byte(&mut out, b, false);
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// A `<character-string>` in double quotes (RFC 1035 §5.1).
pub fn quoted(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        escape_byte(&mut out, b, true);
    }
    out.push('"');
    out
}

/// RFC 3597 §5 generic form: `\# <length> <hex>`.
pub fn generic(bytes: &[u8]) -> String {
    let mut out = format!("\\# {}", bytes.len());
    if !bytes.is_empty() {
        out.push(' ');
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
    }
    out
}

/// RDATA in presentation format.
pub fn rdata(d: &RData) -> String {
    match d {
        RData::A(a) => a.0.to_string(),
        // Rust writes IPv6 in RFC 5952 canonical form (fd00::1:1).
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(n) => name(&n.0),
        RData::NS(n) => name(&n.0),
        RData::PTR(n) => name(&n.0),
        RData::ANAME(n) => name(&n.0),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|s| quoted(s))
            .collect::<Vec<_>>()
            .join(" "),
        RData::NULL(n) => generic(&n.anything),
        RData::Unknown { rdata, .. } => generic(&rdata.anything),
        other => {
            // hickory's zone-file rendering for the rest (MX, SOA, SRV,
            // DNSKEY, RRSIG...). `write!` rather than `format!`: OPT's
            // Display returns an error, which `format!` would turn into a panic.
            let mut s = String::new();
            if write!(s, "{other}").is_err() {
                s.clear();
            }
            s
        }
    }
}

/// Type mnemonic; unknown types as `TYPEnnn` (RFC 3597 §5).
pub fn rtype(t: RecordType) -> String {
    match t {
        RecordType::Unknown(n) => format!("TYPE{n}"),
        t => t.to_string(),
    }
}

/// Class mnemonic; unknown classes as `CLASSnnn` (RFC 3597 §5).
pub fn class(c: DNSClass) -> String {
    match c {
        DNSClass::Unknown(n) => format!("CLASS{n}"),
        c => c.to_string(),
    }
}

/// Opcode mnemonic from the IANA registry (RFC 6895 §2.2).
pub fn opcode(o: OpCode) -> String {
    match u8::from(o) {
        0 => "QUERY".into(),
        1 => "IQUERY".into(),
        2 => "STATUS".into(),
        4 => "NOTIFY".into(),
        5 => "UPDATE".into(),
        6 => "DSO".into(),
        n => format!("OPCODE{n}"),
    }
}

/// RCODE mnemonic from the IANA registry (RFC 6895 §2.3), extended RCODEs
/// included (hickory merges the EDNS high bits into the header's).
pub fn rcode(r: ResponseCode) -> String {
    let s = match u16::from(r) {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        n => return format!("RCODE{n}"),
    };
    s.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NULL, TXT};

    #[test]
    fn names_drop_the_trailing_dot_and_escape() {
        assert_eq!(
            name(&Name::from_ascii("www.example.test.").unwrap()),
            "www.example.test"
        );
        assert_eq!(name(&Name::root()), ".");
        let hostile =
            Name::from_labels(vec![&b"a.b"[..], &b"c\n\x1b[31m"[..], &b"test"[..]]).unwrap();
        assert_eq!(name(&hostile), "a\\.b.c\\010\\027[31m.test");
        assert_ne!(name(&hostile), "a.b.c\n\x1b[31m.test");
    }

    #[test]
    fn rdata_presentation() {
        assert_eq!(
            rdata(&RData::A(A("198.18.1.1".parse().unwrap()))),
            "198.18.1.1"
        );
        assert_eq!(
            rdata(&RData::AAAA(AAAA("fd00:0:0:0:0:0:1:1".parse().unwrap()))),
            "fd00::1:1"
        );
        let cname = RData::CNAME(CNAME(Name::from_ascii("target.example.test.").unwrap()));
        assert_eq!(rdata(&cname), "target.example.test");
        let txt = RData::TXT(TXT::from_bytes(vec![
            &b"hello world"[..],
            &b"say \"hi\"\\"[..],
            &b"\x00"[..],
        ]));
        assert_eq!(rdata(&txt), r#""hello world" "say \"hi\"\\" "\000""#);
        let mx = RData::MX(MX::new(10, Name::from_ascii("mx.example.test.").unwrap()));
        assert_eq!(rdata(&mx), "10 mx.example.test.");
        assert_eq!(
            rdata(&RData::NULL(NULL::with(vec![0xde, 0xad]))),
            "\\# 2 dead"
        );
    }

    #[test]
    fn mnemonics() {
        assert_eq!(rtype(RecordType::AAAA), "AAAA");
        assert_eq!(rtype(RecordType::Unknown(65280)), "TYPE65280");
        assert_eq!(class(DNSClass::IN), "IN");
        assert_eq!(class(DNSClass::Unknown(7)), "CLASS7");
        assert_eq!(opcode(OpCode::Query), "QUERY");
        assert_eq!(opcode(OpCode::Unknown(9)), "OPCODE9");
        assert_eq!(rcode(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode(ResponseCode::NoError), "NOERROR");
        assert_eq!(rcode(ResponseCode::Unknown(3841)), "RCODE3841");
    }
}
