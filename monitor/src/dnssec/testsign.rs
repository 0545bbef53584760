//! Signing with ring, for tests and benches only: zones made at test time
//! (validator unit tests, the resolver's in-process transport tests, the
//! criterion benches) need real RRSIGs over data no RFC provides. Nothing
//! on the validation path uses this module.

use hickory_proto::dnssec::rdata::{DNSKEY, RRSIG, SigInput};
use hickory_proto::dnssec::{Algorithm, PublicKeyBuf};
use hickory_proto::rr::{Name, Record, SerialNumber};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};

use super::keytag::key_tag;
use super::rrsig::signed_data;

enum Pair {
    Ed25519(Ed25519KeyPair),
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A DNSSEC signing key (algorithm 8, 10, 13, 14 or 15).
pub struct TestKey {
    algorithm: u8,
    flags: u16,
    pair: Pair,
    public: Vec<u8>,
    rng: SystemRandom,
}

/// ZSK flags (Zone Key).
pub const ZSK: u16 = 256;
/// KSK flags (Zone Key + SEP).
pub const KSK: u16 = 257;
/// The REVOKE bit (RFC 5011 §7).
pub const REVOKE: u16 = 0x0080;

impl TestKey {
    /// A fresh Ed25519 key (algorithm 15).
    pub fn ed25519(flags: u16) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("ring Ed25519 keygen");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("ring Ed25519 parse");
        let public = pair.public_key().as_ref().to_vec();
        Self {
            algorithm: 15,
            flags,
            pair: Pair::Ed25519(pair),
            public,
            rng,
        }
    }

    /// A fresh ECDSA P-256 key (algorithm 13).
    pub fn p256(flags: u16) -> Self {
        Self::ecdsa(13, &signature::ECDSA_P256_SHA256_FIXED_SIGNING, flags)
    }

    /// A fresh ECDSA P-384 key (algorithm 14).
    pub fn p384(flags: u16) -> Self {
        Self::ecdsa(14, &signature::ECDSA_P384_SHA384_FIXED_SIGNING, flags)
    }

    fn ecdsa(algorithm: u8, alg: &'static signature::EcdsaSigningAlgorithm, flags: u16) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("ring ECDSA keygen");
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("ring ECDSA parse");
        // RFC 6605 §4: DNSKEY holds x|y without the 0x04 SEC1 prefix.
        let public = pair.public_key().as_ref()[1..].to_vec();
        Self {
            algorithm,
            flags,
            pair: Pair::Ecdsa(pair),
            public,
            rng,
        }
    }

    /// An RSA key from PKCS#8 DER, for algorithm 8 (SHA-256) or 10
    /// (SHA-512); ring cannot generate RSA keys.
    pub fn rsa_from_pkcs8(algorithm: u8, flags: u16, der: &[u8]) -> Result<Self, String> {
        if algorithm != 8 && algorithm != 10 {
            return Err(format!("RSA algorithm {algorithm} not offered"));
        }
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| e.to_string())?;
        let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        // RFC 3110 §2: exponent length, exponent, modulus.
        let mut public = Vec::with_capacity(3 + c.e.len() + c.n.len());
        if c.e.len() < 256 {
            public.push(c.e.len() as u8);
        } else {
            public.push(0);
            public.extend_from_slice(&(c.e.len() as u16).to_be_bytes());
        }
        public.extend_from_slice(&c.e);
        public.extend_from_slice(&c.n);
        Ok(Self {
            algorithm,
            flags,
            pair: Pair::Rsa(pair),
            public,
            rng: SystemRandom::new(),
        })
    }

    /// The bundled 2048-bit RSA test key (never use outside tests).
    pub fn rsa2048(algorithm: u8, flags: u16) -> Self {
        Self::rsa_from_pkcs8(algorithm, flags, include_bytes!("testdata/rsa2048.pk8"))
            .expect("bundled RSA test key")
    }

    pub fn algorithm(&self) -> u8 {
        self.algorithm
    }

    /// The public key field of the DNSKEY.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The DNSKEY RDATA of this key.
    pub fn dnskey(&self) -> DNSKEY {
        DNSKEY::with_flags(
            self.flags,
            PublicKeyBuf::new(self.public.clone(), Algorithm::from_u8(self.algorithm)),
        )
    }

    pub fn key_tag(&self) -> u16 {
        key_tag(&self.dnskey())
    }

    /// Raw signature over `message`.
    pub fn sign_raw(&self, message: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Ed25519(p) => p.sign(message).as_ref().to_vec(),
            Pair::Ecdsa(p) => p
                .sign(&self.rng, message)
                .expect("ECDSA sign")
                .as_ref()
                .to_vec(),
            Pair::Rsa(p) => {
                let enc: &'static dyn signature::RsaEncoding = if self.algorithm == 10 {
                    &signature::RSA_PKCS1_SHA512
                } else {
                    &signature::RSA_PKCS1_SHA256
                };
                let mut sig = vec![0; p.public().modulus_len()];
                p.sign(enc, &self.rng, message, &mut sig).expect("RSA sign");
                sig
            }
        }
    }

    /// The RRSIG input this key would use for `rrset` signed as `signer`
    /// (labels per RFC 4034 §3.1.3, Original TTL = the records' TTL).
    pub fn input_for(
        &self,
        signer: &Name,
        rrset: &[Record],
        inception: u32,
        expiration: u32,
    ) -> SigInput {
        let first = &rrset[0];
        SigInput {
            type_covered: first.record_type(),
            algorithm: Algorithm::from_u8(self.algorithm),
            // hickory's num_labels already leaves out a leading `*`.
            num_labels: first.name.num_labels(),
            original_ttl: first.ttl,
            sig_expiration: SerialNumber::new(expiration),
            sig_inception: SerialNumber::new(inception),
            key_tag: self.key_tag(),
            signer_name: signer.clone(),
        }
    }

    /// Signs `rrset` (one owner and type) as `signer`.
    pub fn sign_rrset(
        &self,
        signer: &Name,
        rrset: &[Record],
        inception: u32,
        expiration: u32,
    ) -> RRSIG {
        self.sign_input(self.input_for(signer, rrset, inception, expiration), rrset)
    }

    /// Signs `rrset` with a hand-made RRSIG input (wrong labels, windows…).
    pub fn sign_input(&self, input: SigInput, rrset: &[Record]) -> RRSIG {
        let unsigned = RRSIG::from_sig(input.clone(), Vec::new());
        let data = signed_data(&unsigned, rrset).expect("signable RRset");
        RRSIG::from_sig(input, self.sign_raw(&data))
    }
}
