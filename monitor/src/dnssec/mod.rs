//! The independent DNSSEC engine: our own resolver, validator and cache.
//!
//! Wire format and record types come from hickory-proto, every signature,
//! digest and hash from ring; the chain-of-trust logic (RFC 4033/4034/4035,
//! 5155, 6840, 8624, 9276, 8914) is ours.
//!
//! Table of contents:
//! - [`clock`]: the validation clock (settable, for tests and forensics).
//! - [`transport`]: how queries reach servers; tests answer in-process.
//! - [`verdict`]: `Secure | Insecure | Bogus | Indeterminate`, EDE, trace.
//! - [`limits`]: caps against hostile zones (KeyTrap, NSEC3) and the
//!   per-lookup `Budget` that counts crypto work.
//! - [`algorithm`]: which DNSKEY algorithms ring verifies, and verification.
//! - [`keytag`]: DNSKEY key tags (RFC 4034 App. B) and DNSKEY RDATA.
//! - [`rrsig`]: canonical form, the data an RRSIG signs, its window.
//! - [`verify`]: one RRset against its RRSIGs and the zone's DNSKEYs;
//!   [`sigmemo`]: signatures that verified before (pure-function memo).
//! - [`ds`]: DS digests and matching a DS set to DNSKEYs.
//! - [`denial`]: the `Denial` outcome shared by the NSEC/NSEC3 proofs.
//! - [`nsec`]: NSEC proofs (RFC 4035 §5.4, RFC 6840 §4).
//! - [`nsec3`]: NSEC3 proofs (RFC 5155 §8, RFC 9276).
//! - [`anchors`]: trust anchors (IANA root, zone-file DS/DNSKEY files, per zone);
//!   [`nta`]: negative trust anchors with an expiry (RFC 7646).
//! - [`transport_net`]: real UDP/TCP; [`roothints`]: where iteration starts.
//! - [`resolver`]: iterative and upstream resolution; [`cache`]: TTL + LRU maps;
//!   [`cached`]: the compact form of a cached lookup.
//! - [`chain`]: chain of trust (DS/DNSKEY per zone cut); [`answer`]: answer and denial checks;
//!   [`sections`]: RRsets/RRSIGs out of messages, validated denial records.
//! - [`testnet`]: in-process signed zones and servers (tests, benches).
//! - [`testsign`]: ring signing keys for tests and benches (not used to
//!   validate).
//! - [`engine`]: the entry point, `Engine::lookup(name, type)`.

pub mod algorithm;
pub mod anchors;
pub mod answer;
pub mod cache;
pub mod cached;
pub mod chain;
pub mod clock;
pub mod denial;
pub mod ds;
pub mod engine;
pub mod keytag;
pub mod limits;
pub mod nsec;
pub mod nsec3;
pub mod nta;
pub mod resolver;
pub mod roothints;
pub mod rrsig;
pub mod sections;
pub mod sigmemo;
pub mod testnet;
pub mod testsign;
pub mod transport;
pub mod transport_net;
pub mod verdict;
pub mod verify;

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod zones_tests;
