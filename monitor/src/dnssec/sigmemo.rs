//! A memo of signatures that verified: (algorithm, public key, signed data,
//! signature) → valid. Verification is a pure function of these four, so a
//! remembered success is as good as a new one at any time (the RRSIG window
//! is checked before, on every use, by the caller). Zones sign many
//! answers with the same records — the NSEC/NSEC3 proof behind every
//! wildcard expansion, the SOA of every negative answer — and validating
//! resolvers keep validated RRsets for the same reason (unbound's rrset
//! cache security status). Failures are never remembered.
//!
//! Bounded: a direct-mapped table of SHA-256 digests (a new entry replaces
//! whatever shared its slot), shared by every engine in the process.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::digest;

const SLOTS: usize = 16_384;

struct Table {
    slots: Box<[[u8; 32]]>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);
/// Verifications answered from the memo (for benches and tests).
pub static HITS: AtomicU64 = AtomicU64::new(0);

/// The memo key: SHA-256 over the four inputs, each length-prefixed.
pub fn key(algorithm: u8, public_key: &[u8], message: &[u8], signature: &[u8]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[algorithm]);
    for part in [public_key, message, signature] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn slot(k: &[u8; 32]) -> usize {
    let mut b = [0u8; 8];
    b.copy_from_slice(&k[..8]);
    (u64::from_le_bytes(b) % SLOTS as u64) as usize
}

/// True when exactly these inputs verified before.
pub fn known_good(k: &[u8; 32]) -> bool {
    let g = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    let hit = g.as_ref().is_some_and(|t| t.slots[slot(k)] == *k);
    if hit {
        HITS.fetch_add(1, Ordering::Relaxed);
    }
    hit
}

/// Remembers inputs that verified.
pub fn remember_good(k: [u8; 32]) {
    let mut g = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    let t = g.get_or_insert_with(|| Table {
        slots: vec![[0u8; 32]; SLOTS].into_boxed_slice(),
    });
    t.slots[slot(&k)] = k;
}

/// Forgets everything (benches measuring cold crypto).
pub fn clear() {
    *TABLE.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_exact_inputs_only() {
        let k = key(13, b"pub", b"data", b"sig");
        let other = [
            key(13, b"pub", b"data", b"sig!"),
            key(13, b"pub", b"data!", b"sig"),
            key(13, b"pub!", b"data", b"sig"),
            key(8, b"pub", b"data", b"sig"),
            // Length prefixes: moving a byte between parts changes the key.
            key(13, b"pubd", b"ata", b"sig"),
        ];
        assert!(!known_good(&k));
        remember_good(k);
        assert!(known_good(&k));
        for o in other {
            assert_ne!(o, k);
            assert!(!known_good(&o));
        }
    }
}
