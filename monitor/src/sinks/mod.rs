//! Where events and alerts go.
//!
//! * [`jsonl`] — JSON lines to stdout or a file.
//! * [`rotate`] — JSON-lines file with size rotation and reopen on SIGHUP.
//! * [`syslog`] — RFC 5424 messages over UDP, TCP (RFC 6587) and TLS (RFC 5425).
//! * [`spool`] — bounded on-disk queue that keeps alerts while a sink is down.
//! * [`reliable`] — a sink task joining a network transport and the spool.

pub mod jsonl;
pub mod reliable;
pub mod rotate;
pub mod spool;
pub mod syslog;

#[cfg(test)]
mod rsyslog_tests;
