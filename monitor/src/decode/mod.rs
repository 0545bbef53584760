//! From captured packets to DNS messages: link layer, IP (with
//! defragmentation), UDP/TCP (with DNS stream reassembly), then the DNS
//! message itself through hickory-proto.
//!
//! * [`decoder`] — the pipeline, [`Decoder`]: `push` a packet, get messages.
//! * [`limits`] — configuration and every memory/time bound.
//! * [`counters`] — what was decoded, what was dropped and why.
//! * [`message`] — [`DnsMessage`], what comes out.
//! * `link` — Ethernet (802.1Q/802.1ad), Linux cooked v1/v2, raw IP.
//! * `ip` — IPv4 (options, checksum) and IPv6 (extension headers).
//! * `ipfrag` — IPv4/IPv6 defragmentation, bounded.
//! * `l4` — UDP and TCP headers.
//! * `tcp_stream` — DNS over TCP: per-flow reassembly and length framing.
//! * `dns` — the DNS message, via hickory-proto.
//! * [`memo`] — a parse memo: repeated messages (the same bytes under
//!   another id) share one parse.
//! * [`wire`] — [`Wire`], a message's bytes, shared between such repeats.
//! * [`presentation`] — DNS data as text (names, RDATA, mnemonics).
//! * [`build`] — packet builders for tests and benches.

pub mod build;
pub mod counters;
pub mod decoder;
mod dns;
pub(crate) mod ip;
mod ipfrag;
mod l4;
pub mod limits;
mod link;
pub mod memo;
pub mod message;
pub mod presentation;
#[cfg(test)]
mod proptests;
mod tcp_stream;
pub mod wire;

pub use counters::DecodeCounters;
pub use decoder::{Decoder, Held};
pub use limits::DecodeLimits;
pub use message::{DnsMessage, Transport};
pub use wire::Wire;
