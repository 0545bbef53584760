//! Helpers for the integration tests: network namespaces, real DNS servers
//! from Debian packages, and the monitor running as a child process.
//!
//! The root tests build their own world and tear it down in `Drop` (also
//! when a test panics): a client and a server namespace joined by veths to
//! a bridge in the host namespace, so their DNS traffic crosses interfaces
//! the monitor captures on, while its processes live in other namespaces.

pub mod bench;
pub mod cgroup;
pub mod cmd;
pub mod dns;
pub mod kernel_cost;
pub mod monitor;
pub mod netns;
pub mod root;
pub mod unbound;

/// Attack lab in network namespaces (issue 4 acceptance 2, issue 5).
pub mod attack;
/// Deckard `.rpl` replay: parser, in-process transport, runner.
pub mod deckard;
/// Signed DNS hierarchy on loopback (ldns + nsd) with delv as the oracle.
pub mod lab;
