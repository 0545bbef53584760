//! The decode pipeline: captured packet → link → IP (→ defragmentation) →
//! UDP/TCP (→ stream reassembly) → DNS message. One `Decoder` per capture
//! source; it is not shared between threads.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use super::counters::{DecodeCounters, Outcome};
use super::dns;
use super::ip::{self, IpPacket, PROTO_TCP, PROTO_UDP};
use super::ipfrag::{Defragmenter, FragKey, FragResult};
use super::l4;
use super::limits::DecodeLimits;
use super::link::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use super::memo::{MemoStats, ParseMemo};
use super::message::{DnsMessage, Transport};
use super::tcp_stream::{FlowKey, TcpReassembler};
use crate::capture::CapturedPacket;

/// How often (in packet time) `push` runs `expire` by itself, so offline
/// replay times out fragments and streams without a wall clock.
const SELF_EXPIRE_EVERY: Duration = Duration::from_secs(1);

/// What the decoder holds right now (for the counters' ledgers and metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    pub fragments: usize,
    pub frag_datagrams: usize,
    pub frag_bytes: usize,
    pub tcp_streams: usize,
    pub tcp_bytes: usize,
}

/// Turns captured packets into complete DNS messages.
pub struct Decoder {
    limits: DecodeLimits,
    counters: DecodeCounters,
    defrag: Defragmenter,
    tcp: TcpReassembler,
    /// Packet time at which `push` expires state by itself next (`None`:
    /// on the first packet).
    next_expire: Option<SystemTime>,
    /// Scratch for messages framed out of a TCP segment.
    frames: Vec<Vec<u8>>,
    memo: ParseMemo,
}

/// The parts of a packet every message it yields carries along.
struct Meta<'p> {
    pkt: &'p CapturedPacket,
}

impl Decoder {
    pub fn new(limits: DecodeLimits) -> Self {
        Self {
            limits,
            counters: DecodeCounters::default(),
            defrag: Defragmenter::new(),
            tcp: TcpReassembler::new(),
            next_expire: None,
            frames: Vec::new(),
            memo: ParseMemo::new(),
        }
    }

    pub fn counters(&self) -> &DecodeCounters {
        &self.counters
    }

    /// How often the parse memo saved a parse.
    pub fn memo_stats(&self) -> MemoStats {
        self.memo.stats()
    }

    pub fn limits(&self) -> &DecodeLimits {
        &self.limits
    }

    pub fn held(&self) -> Held {
        Held {
            fragments: self.defrag.fragments_held(),
            frag_datagrams: self.defrag.datagrams_held(),
            frag_bytes: self.defrag.bytes_held(),
            tcp_streams: self.tcp.streams_held(),
            tcp_bytes: self.tcp.bytes_held(),
        }
    }

    /// Drop fragments and TCP streams that waited too long as of `now`.
    pub fn expire(&mut self, now: SystemTime) {
        self.defrag.expire(now, &self.limits, &mut self.counters);
        self.tcp.expire(now, &self.limits, &mut self.counters);
        // A clock that cannot go a second further has nothing left to age.
        self.next_expire = Some(now.checked_add(SELF_EXPIRE_EVERY).unwrap_or(now));
    }

    /// Decode one packet; append the DNS messages it completes (zero, one,
    /// or several for TCP) to `out`.
    pub fn push(&mut self, pkt: &CapturedPacket, out: &mut Vec<DnsMessage>) {
        self.counters.packets += 1;
        // One comparison per packet, no time arithmetic.
        if self.next_expire.is_none_or(|t| pkt.timestamp >= t) {
            self.expire(pkt.timestamp);
        }
        if let Err(o) = self.decode(pkt, out) {
            self.counters.count(o);
        }
    }

    fn decode(&mut self, pkt: &CapturedPacket, out: &mut Vec<DnsMessage>) -> Result<(), Outcome> {
        let truncated = (pkt.data.len() as u64) < u64::from(pkt.orig_len);
        let l3 = link::parse(pkt.link, &pkt.data, truncated)?;
        let d = &pkt.data[l3.offset..];
        let ip = match l3.ethertype {
            ETHERTYPE_IPV4 => ip::parse_v4(d, truncated)?,
            ETHERTYPE_IPV6 => ip::parse_v6(d, truncated)?,
            _ => return Err(Outcome::NotDns),
        };
        let meta = Meta { pkt };
        match ip.fragment {
            None => self.transport(&meta, ip.src, ip.dst, ip.proto, ip.payload, out),
            Some(_) => self.fragment(&meta, &ip, out),
        }
    }

    fn fragment(
        &mut self,
        meta: &Meta<'_>,
        ip: &IpPacket<'_>,
        out: &mut Vec<DnsMessage>,
    ) -> Result<(), Outcome> {
        let f = ip.fragment.expect("caller checked");
        // Only UDP/TCP (or IPv6 extension headers that precede them in the
        // fragmentable part) can end up DNS; do not spend memory on others.
        if !matches!(ip.proto, PROTO_UDP | PROTO_TCP | 0 | 43 | 51 | 60) {
            return Err(Outcome::NotDns);
        }
        // RFC 791 / RFC 8200 §4.5: every fragment but the last carries a
        // multiple of 8 bytes, and none is empty.
        if ip.payload.is_empty() || (f.more && !ip.payload.len().is_multiple_of(8)) {
            return Err(Outcome::MalformedL3);
        }
        self.counters.fragments += 1;
        let key = FragKey {
            src: ip.src,
            dst: ip.dst,
            id: f.id,
            proto: ip.proto,
        };
        let r = self.defrag.insert(
            key,
            f.offset,
            ip.payload,
            f.more,
            meta.pkt.timestamp,
            &self.limits,
            &mut self.counters,
        );
        let FragResult::Complete(payload) = r else {
            return Ok(());
        };
        // The rebuilt datagram is a new unit of the ledger.
        let r = if ip.src.is_ipv6() {
            ip::walk_ext_headers(ip.proto, &payload, false)
                .and_then(|(proto, l4, _)| self.transport(meta, ip.src, ip.dst, proto, l4, out))
        } else {
            self.transport(meta, ip.src, ip.dst, ip.proto, &payload, out)
        };
        if let Err(o) = r {
            self.counters.count(o);
        }
        Ok(())
    }

    fn transport(
        &mut self,
        meta: &Meta<'_>,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        payload: &[u8],
        out: &mut Vec<DnsMessage>,
    ) -> Result<(), Outcome> {
        match proto {
            PROTO_UDP => {
                let u = l4::parse_udp(payload)?;
                if !self.limits.is_dns_port(u.src_port, u.dst_port) {
                    return Err(Outcome::NotDns);
                }
                self.counters.udp_payloads += 1;
                let src = SocketAddr::new(src, u.src_port);
                let dst = SocketAddr::new(dst, u.dst_port);
                self.emit(meta, Transport::Udp, src, dst, u.payload, out);
                Ok(())
            }
            PROTO_TCP => {
                let t = l4::parse_tcp(payload)?;
                if !self.limits.is_dns_port(t.src_port, t.dst_port) {
                    return Err(Outcome::NotDns);
                }
                self.counters.tcp_segments += 1;
                let key = FlowKey {
                    src: SocketAddr::new(src, t.src_port),
                    dst: SocketAddr::new(dst, t.dst_port),
                };
                let mut frames = std::mem::take(&mut self.frames);
                self.tcp.push(
                    key,
                    &t,
                    meta.pkt.timestamp,
                    &self.limits,
                    &mut self.counters,
                    &mut frames,
                );
                for raw in frames.drain(..) {
                    self.emit(meta, Transport::Tcp, key.src, key.dst, &raw, out);
                }
                self.frames = frames;
                Ok(())
            }
            _ => Err(Outcome::NotDns),
        }
    }

    fn emit(
        &mut self,
        meta: &Meta<'_>,
        transport: Transport,
        src: SocketAddr,
        dst: SocketAddr,
        raw: &[u8],
        out: &mut Vec<DnsMessage>,
    ) {
        let Some(dns::Parsed { raw, txid, message }) =
            dns::parse(raw, &self.limits, &mut self.counters, &mut self.memo)
        else {
            return;
        };
        self.counters.messages += 1;
        out.push(DnsMessage {
            timestamp: meta.pkt.timestamp,
            transport,
            src,
            dst,
            interface: meta.pkt.interface.clone(),
            socket_cookie: meta.pkt.socket_cookie,
            raw,
            txid,
            message,
        });
    }
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
