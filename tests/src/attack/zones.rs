//! Zones only the attack lab serves, next to the conformance hierarchy
//! ([`crate::lab::zones`]):
//!
//! ```text
//! rsa-optout.test  alg 8 (RSA-2048), NSEC3 opt-out; legacy.rsa-optout.test unsigned
//! cdn.test         alg 13, two servers (198.18.53.3 and .53.4) signing the
//!                  same keys over different www A sets: resolvers' answers
//!                  rotate among validated sets (CDN / geo style), TTL 2 s
//! keytrap.test     alg 8 (RSA-2048), NSEC3; its DNSKEY RRset holds KEYTRAP_KEYS
//!                  extra keys sharing the KSK's key tag, signed by
//!                  KEYTRAP_SIGS garbage RRSIGs under that tag and no valid
//!                  one (KeyTrap, CVE-2023-50387: every key × signature pair)
//! ```

use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::topology::{CDN2_V4, CHILD_V4};
use crate::lab::zones::{Signing, Zone};

/// Extra DNSKEYs with the KSK's key tag in keytrap.test.
pub const KEYTRAP_KEYS: usize = 40;
/// Garbage RRSIGs over keytrap.test's DNSKEY RRset, all under the KSK's tag.
pub const KEYTRAP_SIGS: usize = 70;

/// The two answers www.cdn.test rotates between.
pub const CDN_A: [&str; 2] = ["192.0.2.10", "192.0.2.11"];

fn rsa2048(opt_out: bool) -> Signing {
    Signing::Nsec3 {
        algorithm: "RSASHA256",
        bits: Some(2048),
        opt_out,
    }
}

/// The lab's own zones (served at [`CHILD_V4`]; cdn.test's second copy is
/// made by [`cdn_second`]).
pub fn zones() -> Vec<Zone> {
    vec![
        Zone {
            origin: "rsa-optout.test.",
            server: CHILD_V4,
            signing: rsa2048(true),
            body: format!(
                "www.rsa-optout.test. A 192.0.2.20\n\
                 legacy.rsa-optout.test. NS ns.legacy.rsa-optout.test.\n\
                 ns.legacy.rsa-optout.test. A {CHILD_V4}\n"
            ),
        },
        Zone {
            origin: "legacy.rsa-optout.test.",
            server: CHILD_V4,
            signing: Signing::Unsigned,
            body: "host.legacy.rsa-optout.test. A 192.0.2.21\n".into(),
        },
        Zone {
            origin: "cdn.test.",
            server: CHILD_V4,
            signing: Signing::Nsec {
                algorithm: "ECDSAP256SHA256",
            },
            body: cdn_body(CDN_A[0]),
        },
        Zone {
            origin: "keytrap.test.",
            server: CHILD_V4,
            signing: rsa2048(false),
            body: "www.keytrap.test. A 192.0.2.30\n".into(),
        },
    ]
}

fn cdn_body(a: &str) -> String {
    format!(
        "cdn.test. NS ns2.cdn.test.\n\
         ns2.cdn.test. A {CDN2_V4}\n\
         www.cdn.test. 2 A {a}\n"
    )
}

/// cdn.test as the second server serves it: other www data, same keys.
pub fn cdn_second(first: &Zone) -> Zone {
    Zone {
        server: CDN2_V4,
        body: cdn_body(CDN_A[1]),
        ..first.clone()
    }
}

/// The second name server of cdn.test, for the parent (test.) zone.
pub fn cdn_parent_glue() -> String {
    format!("cdn.test. NS ns2.cdn.test.\nns2.cdn.test. A {CDN2_V4}\n")
}

/// RFC 4034 Appendix B key tag of DNSKEY RDATA.
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i % 2 == 0 {
            u32::from(*b) << 8
        } else {
            u32::from(*b)
        };
    }
    ac += (ac >> 16) & 0xFFFF;
    (ac & 0xFFFF) as u16
}

/// `n` RSA public keys (DNSKEY RDATA) other than `rdata` with its key tag:
/// one 16-bit word of the modulus raised by one and another lowered by one
/// keeps the word sum, hence the tag (RFC 4034 Appendix B).
pub fn colliding_keys(rdata: &[u8], n: usize) -> Result<Vec<Vec<u8>>> {
    // flags(2) protocol(1) algorithm(1), then RFC 3110: exponent length
    // (one octet when non-zero), exponent, modulus.
    let exp_len = usize::from(*rdata.get(4).context("short DNSKEY")?);
    let modulus = 5 + exp_len;
    // Words of the modulus away from its first and last octets (size and
    // oddness stay), on even RDATA offsets (the high octet of each word).
    let first = (modulus + 8) & !1;
    let last = rdata.len().saturating_sub(8);
    let words: Vec<usize> = (first..last).step_by(2).collect();
    if words.len() < 2 * n {
        bail!("DNSKEY too short for {n} colliding keys");
    }
    let word = |d: &[u8], i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
    let mut out = Vec::with_capacity(n);
    let (mut up, mut down) = (words.iter(), words.iter().rev());
    while out.len() < n {
        let i = *up
            .find(|&&i| word(rdata, i) < u16::MAX)
            .context("no word to raise")?;
        let j = *down
            .find(|&&j| word(rdata, j) > 0 && j != i)
            .context("no word to lower")?;
        let mut k = rdata.to_vec();
        k[i..i + 2].copy_from_slice(&(word(rdata, i) + 1).to_be_bytes());
        k[j..j + 2].copy_from_slice(&(word(rdata, j) - 1).to_be_bytes());
        debug_assert_eq!(key_tag(&k), key_tag(rdata));
        out.push(k);
    }
    Ok(out)
}

/// DNSKEY RDATA from a `K…key` file line (`owner TTL IN DNSKEY f p a b64`).
fn key_rdata(line: &str) -> Result<Vec<u8>> {
    // A trailing `;{id = …}` comment is not part of the key.
    let line = line.split(';').next().unwrap_or("");
    let f: Vec<&str> = line.split_whitespace().collect();
    let at = f
        .iter()
        .position(|x| *x == "DNSKEY")
        .context("no DNSKEY in key file")?;
    let flags: u16 = f.get(at + 1).context("flags")?.parse()?;
    let proto: u8 = f.get(at + 2).context("protocol")?.parse()?;
    let alg: u8 = f.get(at + 3).context("algorithm")?.parse()?;
    let key = B64.decode(f[at + 4..].concat())?;
    let mut r = flags.to_be_bytes().to_vec();
    r.extend([proto, alg]);
    r.extend(key);
    Ok(r)
}

/// Deterministic filler for the garbage signatures (xorshift64).
fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn stamp(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Turns keytrap.test's signed file into the KeyTrap zone: the DNSKEY
/// RRset's real RRSIGs go, [`KEYTRAP_KEYS`] keys colliding with the KSK's
/// tag and [`KEYTRAP_SIGS`] garbage RRSIGs under that tag come in.
pub fn make_keytrap(dir: &Path, signed: &str, ksk: &str) -> Result<()> {
    let path = dir.join(signed);
    let text = std::fs::read_to_string(&path)?;
    let key_line = std::fs::read_to_string(dir.join(format!("{ksk}.key")))?;
    let rdata = key_rdata(
        key_line
            .lines()
            .find(|l| l.contains("DNSKEY"))
            .unwrap_or(""),
    )?;
    let tag = key_tag(&rdata);
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            !(f.len() > 4 && f[3] == "RRSIG" && f[4] == "DNSKEY")
        })
        .map(str::to_owned)
        .collect();
    for k in colliding_keys(&rdata, KEYTRAP_KEYS)? {
        out.push(format!(
            "keytrap.test.\t300\tIN\tDNSKEY\t257 3 8 {}",
            B64.encode(&k[4..])
        ));
    }
    let now = std::time::SystemTime::now();
    let inception = stamp(now - std::time::Duration::from_secs(3600));
    let expiration = stamp(now + std::time::Duration::from_secs(30 * 86_400));
    for i in 0..KEYTRAP_SIGS {
        out.push(format!(
            "keytrap.test.\t300\tIN\tRRSIG\tDNSKEY 8 2 300 {expiration} {inception} {tag} keytrap.test. {}",
            B64.encode(filler(i as u64 + 1, 256))
        ));
    }
    std::fs::write(&path, out.join("\n") + "\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_keys_share_the_tag_and_differ() {
        let mut rdata = vec![1, 1, 3, 8, 3, 1, 0, 1];
        rdata.extend(filler(7, 256));
        let keys = colliding_keys(&rdata, 40).unwrap();
        assert_eq!(keys.len(), 40);
        for k in &keys {
            assert_eq!(key_tag(k), key_tag(&rdata));
            assert_ne!(k, &rdata);
            assert_eq!(k.len(), rdata.len());
        }
        let mut uniq = keys.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 40);
        // Twin: a key too short for that many collisions is refused.
        assert!(colliding_keys(&rdata[..40], 40).is_err());
    }

    #[test]
    fn key_tag_depends_on_the_words() {
        // A one-word change moves the tag; the same bytes keep it.
        let a = [1u8, 0, 3, 8, 1, 2, 3, 4];
        let mut b = a;
        b[5] = 9;
        assert_ne!(key_tag(&a), key_tag(&b));
        assert_eq!(key_tag(&a), key_tag(&a.clone()));
    }

    #[test]
    fn stamps_are_rfc_4034_times() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(stamp(t), "20231114221320");
    }
}
