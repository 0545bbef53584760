//! Helpers for the integration tests: network namespaces, real DNS servers
//! from Debian packages, and the monitor running as a child process.

pub mod deckard;
pub mod lab;
