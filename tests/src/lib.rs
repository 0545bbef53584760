//! Helpers for the integration tests: network namespaces, real DNS servers
//! from Debian packages, and the monitor running as a child process.
//!
//! The root tests build their own world and tear it down in `Drop` (also
//! when a test panics): a client and a server namespace joined by veths to
//! a bridge in the host namespace, so their DNS traffic crosses interfaces
//! the monitor captures on, while its processes live in other namespaces.

pub mod cmd;
pub mod monitor;
pub mod netns;
pub mod root;
pub mod unbound;

pub mod attack;
pub mod deckard;
pub mod lab;
