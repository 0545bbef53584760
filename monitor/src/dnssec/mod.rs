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
//! - [`transport_net`]: real UDP/TCP; [`roothints`]: where iteration starts.
//! - [`resolver`]: iterative and upstream resolution; [`cache`]: TTL + LRU maps.
//! - [`engine`]: the entry point, `Engine::lookup(name, type)`.

pub mod cache;
pub mod clock;
pub mod engine;
pub mod resolver;
pub mod roothints;
pub mod transport;
pub mod transport_net;
pub mod verdict;
