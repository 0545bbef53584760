//! Builders shared by the validator's unit tests.

use std::net::Ipv4Addr;

use base64::Engine as _;
use hickory_proto::dnssec::rdata::{DNSKEY, RRSIG, SigInput};
use hickory_proto::dnssec::{Algorithm, PublicKeyBuf};
use hickory_proto::rr::rdata::{A, MX};
use hickory_proto::rr::{Name, RData, Record, RecordType, SerialNumber};

pub fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("test name")
}

pub fn b64(s: &str) -> Vec<u8> {
    let clean: String = s.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .expect("test base64")
}

pub fn hex(s: &str) -> Vec<u8> {
    let clean: String = s.split_whitespace().collect();
    (0..clean.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).expect("test hex"))
        .collect()
}

pub fn dnskey(flags: u16, algorithm: u8, key_b64: &str) -> DNSKEY {
    DNSKEY::with_flags(
        flags,
        PublicKeyBuf::new(b64(key_b64), Algorithm::from_u8(algorithm)),
    )
}

pub fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A(Ipv4Addr::from(ip))))
}

pub fn mx(owner: &str, ttl: u32, pref: u16, exchange: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::MX(MX::new(pref, name(exchange))))
}

/// Unix time of a `YYYYMMDDHHMMSS` RRSIG timestamp (RFC 4034 §3.2).
pub fn ts(s: &str) -> u32 {
    let n = |a: usize, b: usize| -> i64 { s[a..b].parse().expect("test timestamp") };
    let (y, m, d) = (n(0, 4), n(4, 6), n(6, 8));
    // Days from civil (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(8, 10) * 3600 + n(10, 12) * 60 + n(12, 14)) as u32
}

#[allow(
    clippy::too_many_arguments,
    reason = "mirrors the RRSIG presentation fields"
)]
pub fn rrsig(
    covered: RecordType,
    algorithm: u8,
    labels: u8,
    original_ttl: u32,
    expiration: u32,
    inception: u32,
    key_tag: u16,
    signer: &str,
    sig_b64: &str,
) -> RRSIG {
    RRSIG::from_sig(
        SigInput {
            type_covered: covered,
            algorithm: Algorithm::from_u8(algorithm),
            num_labels: labels,
            original_ttl,
            sig_expiration: SerialNumber::new(expiration),
            sig_inception: SerialNumber::new(inception),
            key_tag,
            signer_name: name(signer),
        },
        b64(sig_b64),
    )
}

/// The same RRSIG with one signature byte flipped.
pub fn flipped(sig: &RRSIG, index: usize) -> RRSIG {
    let mut bytes = sig.sig().to_vec();
    let i = index % bytes.len();
    bytes[i] ^= 0x01;
    RRSIG::from_sig(sig.input().clone(), bytes)
}

#[test]
fn timestamps() {
    assert_eq!(ts("20000101000000"), 946_684_800);
    assert_eq!(ts("20300101000000"), 1_893_456_000);
    assert_eq!(ts("20100812100439"), 1_281_607_479);
}
