//! dnssec-monitor: watch every DNS answer this host receives and check it
//! independently with DNSSEC.
//!
//! Data flow (see DESIGN.md): `capture` (eBPF ring buffer or pcap) →
//! `decode` (L2–L4, defragmentation, TCP reassembly, DNS) → `correlate`
//! (query ↔ answer, process) → `detect` (rules) → `sinks` / `store`.
//! `dnssec` is the independent resolver and validator the rules consult.

pub mod capture;
pub mod cli;
pub mod commands;
pub mod config;
pub mod correlate;
pub mod decode;
pub mod detect;
pub mod dnssec;
pub mod event;
pub mod event_lines;
pub mod metrics;
pub mod per_arc;
pub mod privs;
pub mod report;
pub mod sinks;
pub mod store;
