//! DNSKEY key tags (RFC 4034 Appendix B) and the DNSKEY RDATA wire form
//! they, DS digests (§5.1.4) and signatures over DNSKEY RRsets are built on.

use hickory_proto::dnssec::PublicKey;
use hickory_proto::dnssec::rdata::DNSKEY;

/// DNSKEY RDATA = Flags | Protocol (3) | Algorithm | Public Key
/// (RFC 4034 §2.1). The protocol is always 3: hickory refuses others on
/// decode (§2.1.2 says such keys are invalid for verification).
pub fn dnskey_rdata(dnskey: &DNSKEY) -> Vec<u8> {
    let key = dnskey.public_key().public_bytes();
    let mut out = Vec::with_capacity(4 + key.len());
    out.extend_from_slice(&dnskey.flags().to_be_bytes());
    out.push(3);
    out.push(u8::from(dnskey.public_key().algorithm()));
    out.extend_from_slice(key);
    out
}

/// The key tag of a DNSKEY (RFC 4034 Appendix B), without building the
/// RDATA (it is computed for every key on every verification).
pub fn key_tag(dnskey: &DNSKEY) -> u16 {
    let key = dnskey.public_key().public_bytes();
    let algorithm = u8::from(dnskey.public_key().algorithm());
    let flags = dnskey.flags().to_be_bytes();
    let head = [flags[0], flags[1], 3, algorithm];
    if algorithm == 1 {
        return key_tag_of_rdata(&dnskey_rdata(dnskey));
    }
    // The 4-octet header keeps the key's octets at their RDATA parity.
    let mut ac: u32 = 0;
    for (i, b) in head.iter().chain(key).enumerate() {
        ac += if i & 1 == 1 {
            u32::from(*b)
        } else {
            u32::from(*b) << 8
        };
    }
    ac += (ac >> 16) & 0xFFFF;
    (ac & 0xFFFF) as u16
}

/// The key tag computed over DNSKEY RDATA in wire form. Algorithm 1
/// (RSA/MD5) uses the most significant 16 bits of the last 24 bits of the
/// modulus instead (Appendix B.1).
pub fn key_tag_of_rdata(rdata: &[u8]) -> u16 {
    if rdata.len() >= 4 && rdata[3] == 1 {
        let n = rdata.len();
        if n >= 7 {
            return u16::from_be_bytes([rdata[n - 3], rdata[n - 2]]);
        }
        return 0;
    }
    // Appendix B: sum 16-bit big-endian words with carry folding.
    let mut ac: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 {
            u32::from(*b)
        } else {
            u32::from(*b) << 8
        };
    }
    ac += (ac >> 16) & 0xFFFF;
    (ac & 0xFFFF) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use hickory_proto::dnssec::{Algorithm, PublicKeyBuf};

    /// RFC 4034 §5.4: the DNSKEY of dskey.example.com has key tag 60485.
    #[test]
    fn rfc4034_dskey_example_key_tag() {
        let key = base64::engine::general_purpose::STANDARD
            .decode(
                "AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
            )
            .unwrap();
        let dnskey = DNSKEY::with_flags(256, PublicKeyBuf::new(key, Algorithm::from_u8(5)));
        assert_eq!(key_tag(&dnskey), 60485);
        assert_eq!(key_tag_of_rdata(&dnskey_rdata(&dnskey)), 60485);
        // Negative twin: one bit of the key changes the tag.
        let mut other = dnskey_rdata(&dnskey);
        let last = other.len() - 1;
        other[last] ^= 1;
        assert_ne!(key_tag_of_rdata(&other), 60485);
    }
}
