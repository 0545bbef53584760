//! DNSSEC signature algorithms through ring: which ones we can verify
//! (RFC 8624 §3.1) and the verification itself.
//!
//! Verified: RSA/SHA-1 (5, and 7 = its NSEC3 alias), RSA/SHA-256 (8),
//! RSA/SHA-512 (10) with keys in RFC 3110 form (RFC 5702), ECDSA P-256 and
//! P-384 (13, 14; RFC 6605: raw r|s signatures, raw x|y keys) and Ed25519
//! (15; RFC 8080). Everything else — RSA/MD5, DSA, GOST, Ed448, RSA keys
//! under 1024 bits, exponents ring refuses, unknown numbers — is
//! `Unsupported`, which the chain turns into Insecure (RFC 4035 §5.2,
//! RFC 6840 §5.2), never Secure and never Bogus.

use ring::signature::{self, RsaParameters, UnparsedPublicKey};
use thiserror::Error;

/// Can this validator verify signatures by this key?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlgorithmSupport {
    Supported,
    Unsupported,
}

/// Why a signature check did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CryptoError {
    #[error("algorithm {algorithm} is not supported")]
    Unsupported { algorithm: u8 },
    #[error("public key for algorithm {algorithm} is malformed")]
    BadPublicKey { algorithm: u8 },
    #[error("signature does not verify")]
    BadSignature,
}

/// The smallest RSA modulus we accept (RFC 8624 §3.1 deprecates less;
/// ring's legacy verifiers start at 1024 bits).
pub const MIN_RSA_BITS: usize = 1024;
/// The largest ring verifies.
pub const MAX_RSA_BITS: usize = 8192;
/// ring refuses public exponents above 2^33 - 1.
const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

/// The IANA mnemonic of a DNSSEC algorithm number.
pub fn algorithm_name(algorithm: u8) -> &'static str {
    match algorithm {
        1 => "RSAMD5",
        3 => "DSA",
        5 => "RSASHA1",
        6 => "DSA-NSEC3-SHA1",
        7 => "RSASHA1-NSEC3-SHA1",
        8 => "RSASHA256",
        10 => "RSASHA512",
        12 => "ECC-GOST",
        13 => "ECDSAP256SHA256",
        14 => "ECDSAP384SHA384",
        15 => "ED25519",
        16 => "ED448",
        _ => "unknown algorithm",
    }
}

/// Whether signatures by `public_key` (DNSKEY public key field) with
/// `algorithm` can be verified here.
pub fn support(algorithm: u8, public_key: &[u8]) -> AlgorithmSupport {
    match algorithm {
        5 | 7 | 8 | 10 => match parse_rsa_key(public_key) {
            Some(rsa) => {
                let bits = modulus_bits(rsa.n);
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) || exponent_value(rsa.e).is_none()
                {
                    AlgorithmSupport::Unsupported
                } else {
                    AlgorithmSupport::Supported
                }
            }
            // A malformed key of a supported algorithm: verification fails
            // (bogus), we do not get to call it unsupported.
            None => AlgorithmSupport::Supported,
        },
        13..=15 => AlgorithmSupport::Supported,
        _ => AlgorithmSupport::Unsupported,
    }
}

/// Whether an algorithm number alone (as in a DS record) may be supported.
pub fn algorithm_number_supported(algorithm: u8) -> bool {
    matches!(algorithm, 5 | 7 | 8 | 10 | 13 | 14 | 15)
}

/// Verifies `signature` over `message` with the DNSKEY public key field.
pub fn verify_signature(
    algorithm: u8,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    if support(algorithm, public_key) == AlgorithmSupport::Unsupported {
        return Err(CryptoError::Unsupported { algorithm });
    }
    let bad_key = CryptoError::BadPublicKey { algorithm };
    match algorithm {
        5 | 7 | 8 | 10 => {
            let params: &RsaParameters = match algorithm {
                8 => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                10 => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
                _ => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            };
            let rsa = parse_rsa_key(public_key).ok_or(bad_key)?;
            let components = signature::RsaPublicKeyComponents {
                n: strip_zeros(rsa.n),
                e: strip_zeros(rsa.e),
            };
            components
                .verify(params, message, signature)
                .map_err(|_| CryptoError::BadSignature)
        }
        13 | 14 => {
            let (alg, len): (&signature::EcdsaVerificationAlgorithm, usize) = if algorithm == 13 {
                (&signature::ECDSA_P256_SHA256_FIXED, 64)
            } else {
                (&signature::ECDSA_P384_SHA384_FIXED, 96)
            };
            if public_key.len() != len {
                return Err(bad_key);
            }
            // RFC 6605 §4: the key is x|y; ring wants the SEC1 uncompressed
            // point 0x04|x|y.
            let mut point = [0u8; 97];
            point[0] = 4;
            point[1..=len].copy_from_slice(public_key);
            UnparsedPublicKey::new(alg, &point[..=len])
                .verify(message, signature)
                .map_err(|_| CryptoError::BadSignature)
        }
        15 => {
            if public_key.len() != 32 {
                return Err(bad_key);
            }
            UnparsedPublicKey::new(&signature::ED25519, public_key)
                .verify(message, signature)
                .map_err(|_| CryptoError::BadSignature)
        }
        _ => Err(CryptoError::Unsupported { algorithm }),
    }
}

/// An RSA public key split per RFC 3110 §2.
pub struct RsaKey<'a> {
    pub e: &'a [u8],
    pub n: &'a [u8],
}

/// RFC 3110 §2: exponent length in one octet, or zero then two octets;
/// exponent; modulus.
pub fn parse_rsa_key(key: &[u8]) -> Option<RsaKey<'_>> {
    let (&first, rest) = key.split_first()?;
    let (elen, rest) = if first == 0 {
        if rest.len() < 2 {
            return None;
        }
        (
            usize::from(u16::from_be_bytes([rest[0], rest[1]])),
            &rest[2..],
        )
    } else {
        (usize::from(first), rest)
    };
    if elen == 0 || rest.len() <= elen {
        return None;
    }
    let (e, n) = rest.split_at(elen);
    Some(RsaKey { e, n })
}

/// Bit length of a big-endian unsigned integer.
pub fn modulus_bits(n: &[u8]) -> usize {
    let n = strip_zeros(n);
    match n.first() {
        None => 0,
        Some(b) => (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
    }
}

/// The exponent's value if ring can use it.
fn exponent_value(e: &[u8]) -> Option<u64> {
    let e = strip_zeros(e);
    if e.len() > 8 {
        return None;
    }
    let v = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    (v <= MAX_RSA_EXPONENT).then_some(v)
}

fn strip_zeros(v: &[u8]) -> &[u8] {
    let i = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    &v[i..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    #[test]
    fn unsupported_algorithms() {
        for alg in [1u8, 3, 6, 12, 16, 17, 200] {
            assert_eq!(
                support(alg, &[0; 64]),
                AlgorithmSupport::Unsupported,
                "{alg}"
            );
            assert_eq!(
                verify_signature(alg, &[0; 64], b"m", &[0; 64]),
                Err(CryptoError::Unsupported { algorithm: alg })
            );
        }
        assert_eq!(support(13, &[0; 64]), AlgorithmSupport::Supported);
    }

    #[test]
    fn rsa_key_parse_and_size() {
        // 3-byte exponent 65537, 512-bit modulus: unsupported.
        let mut key = vec![3, 1, 0, 1];
        key.extend(std::iter::repeat_n(0xff, 64));
        assert_eq!(support(8, &key), AlgorithmSupport::Unsupported);
        // 1024-bit: supported.
        let mut key = vec![3, 1, 0, 1];
        key.extend(std::iter::repeat_n(0xff, 128));
        assert_eq!(support(8, &key), AlgorithmSupport::Supported);
        // Long-form exponent length.
        let mut key = vec![0, 0, 3, 1, 0, 1];
        key.extend(std::iter::repeat_n(0x80, 256));
        let rsa = parse_rsa_key(&key).unwrap();
        assert_eq!(rsa.e, &[1, 0, 1]);
        assert_eq!(modulus_bits(rsa.n), 2048);
        assert!(parse_rsa_key(&[5, 1, 2]).is_none());
        assert!(parse_rsa_key(&[]).is_none());
    }

    #[test]
    fn ed25519_roundtrip_and_flip() {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let kp = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let sig = kp.sign(b"hello").as_ref().to_vec();
        let pk = kp.public_key().as_ref();
        assert_eq!(verify_signature(15, pk, b"hello", &sig), Ok(()));
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert_eq!(
            verify_signature(15, pk, b"hello", &bad),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn ecdsa_p256_roundtrip_and_flip() {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let sig = kp.sign(&rng, b"msg").unwrap().as_ref().to_vec();
        let pk = &kp.public_key().as_ref()[1..];
        assert_eq!(verify_signature(13, pk, b"msg", &sig), Ok(()));
        assert_eq!(
            verify_signature(13, pk, b"msh", &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            verify_signature(13, &pk[1..], b"msg", &sig),
            Err(CryptoError::BadPublicKey { algorithm: 13 })
        );
    }
}
