//! DNS over TCP: rebuild each direction's byte stream from segments and cut
//! it into messages by their 2-byte length prefix (RFC 1035 §4.2.2,
//! RFC 7766 §8: several messages may share a segment, one may span many).
//!
//! Each direction of a connection is a separate half-stream keyed by
//! (sender, receiver). Segments are placed by sequence number (RFC 9293
//! §3.4, modulo 2³² arithmetic); a few segments ahead of a hole are held.
//! When the hole does not fill before that buffer is full, the segment is
//! taken as lost: the partial message is dropped (`tcp_gap`) and the stream
//! resynchronises on the next segment that starts like a DNS message (a
//! plausible length and header), which is how DNS servers write: one
//! message per `send`. Joining a connection mid-stream works the same way.
//!
//! Memory is bounded per stream (one message, `tcp_max_ooo_*`), in total
//! (`tcp_max_total_bytes`) and in number of streams (`tcp_max_flows`, least
//! recently used evicted first). A length prefix larger than allowed is
//! counted `oversized` and its bytes skipped, never buffered.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::SystemTime;

use super::counters::DecodeCounters;
use super::l4::{TCP_FIN, TCP_RST, TCP_SYN, Tcp};
use super::limits::DecodeLimits;

/// One direction of a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FlowKey {
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

impl FlowKey {
    fn reverse(self) -> Self {
        Self {
            src: self.dst,
            dst: self.src,
        }
    }
}

#[derive(Default)]
struct HalfStream {
    generation: u64,
    last_seen: Option<SystemTime>,
    /// Sequence number of the next byte expected; `None` until we have a
    /// SYN or a segment that looks like a message start.
    next_seq: Option<u32>,
    /// In-order bytes not yet framed into a message.
    buf: Vec<u8>,
    /// Bytes still to throw away of an oversized message.
    skip: usize,
    /// Looking for a message start after a gap.
    desync: bool,
    /// Segments ahead of `next_seq`: (seq, payload).
    ooo: Vec<(u32, Vec<u8>)>,
    ooo_bytes: usize,
    /// Sequence number just past the sender's last byte, once FIN seen.
    fin_at: Option<u32>,
}

impl HalfStream {
    fn bytes(&self) -> usize {
        self.buf.len() + self.ooo_bytes
    }

    /// A message was partly received and will now never complete.
    fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.skip > 0
    }
}

/// `a - b` in sequence space: negative when `a` is before `b`.
fn seq_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Does `p` start like a length-prefixed DNS message? Length at least a
/// header, one question (what every query and nearly every answer has),
/// and a defined opcode (RFC 6895 §2.2: 0,1,2,4,5,6).
fn plausible_start(p: &[u8]) -> bool {
    if p.len() < 14 {
        return false;
    }
    let len = u16::from_be_bytes([p[0], p[1]]);
    let opcode = (p[4] >> 3) & 0x0f;
    let qdcount = u16::from_be_bytes([p[6], p[7]]);
    len >= 12 && qdcount == 1 && matches!(opcode, 0 | 1 | 2 | 4 | 5 | 6)
}

pub(crate) struct TcpReassembler {
    streams: HashMap<FlowKey, HalfStream>,
    /// Streams by last use (oldest first); stale entries skipped.
    lru: VecDeque<(u64, FlowKey)>,
    next_generation: u64,
    bytes: usize,
}

impl TcpReassembler {
    pub(crate) fn new() -> Self {
        Self {
            streams: HashMap::new(),
            lru: VecDeque::new(),
            next_generation: 0,
            bytes: 0,
        }
    }

    pub(crate) fn streams_held(&self) -> usize {
        self.streams.len()
    }

    pub(crate) fn bytes_held(&self) -> usize {
        self.bytes
    }

    /// Take one segment of the half-stream `key`; complete messages (without
    /// their prefix) are appended to `out`.
    pub(crate) fn push(
        &mut self,
        key: FlowKey,
        seg: &Tcp<'_>,
        now: SystemTime,
        limits: &DecodeLimits,
        c: &mut DecodeCounters,
        out: &mut Vec<Vec<u8>>,
    ) {
        if seg.flags & TCP_RST != 0 {
            // The connection is gone both ways; data in an RST is not
            // delivered to the application (RFC 9293 §3.10.7.4).
            self.remove(key, c);
            self.remove(key.reverse(), c);
            return;
        }
        if !self.streams.contains_key(&key) {
            while self.streams.len() >= limits.tcp_max_flows.max(1) {
                if !self.evict_lru(c) {
                    break;
                }
            }
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let s = self.streams.entry(key).or_default();
        s.generation = generation;
        s.last_seen = Some(now);
        self.lru.push_back((generation, key));
        let before = s.bytes();

        let mut seq = seg.seq;
        if seg.flags & TCP_SYN != 0 {
            // A new connection (or a reused 4-tuple): start afresh. Data in a
            // SYN (TCP Fast Open) starts at ISN+1.
            if s.has_partial() {
                c.tcp_incomplete += 1;
            }
            *s = HalfStream {
                generation,
                last_seen: Some(now),
                ..Default::default()
            };
            seq = seq.wrapping_add(1);
            s.next_seq = Some(seq);
        }
        let payload = seg.payload;
        if seg.flags & TCP_FIN != 0 {
            s.fin_at = Some(seq.wrapping_add(payload.len() as u32));
        }

        let next = match s.next_seq {
            Some(n) => n,
            None => {
                // Joined mid-connection: begin at a segment that looks like
                // a message start.
                s.desync = true;
                seq
            }
        };
        s.next_seq = Some(next);
        if !payload.is_empty() {
            let d = seq_diff(seq, next);
            if d == 0 {
                Self::accept(s, payload, true, limits, c, out);
            } else if d < 0 {
                let end_d = seq_diff(seq.wrapping_add(payload.len() as u32), next);
                if end_d <= 0 {
                    c.tcp_retransmit += 1;
                } else {
                    // Partly new: keep the tail past what we already have.
                    let new = &payload[payload.len() - end_d as usize..];
                    Self::accept(s, new, false, limits, c, out);
                }
            } else {
                Self::hold_out_of_order(s, seq, payload, limits, c, out);
            }
            Self::drain(s, limits, c, out);
        }

        let closed = match (s.fin_at, s.next_seq) {
            (Some(f), Some(n)) => seq_diff(n, f) >= 0,
            _ => false,
        };
        let after = s.bytes();
        self.bytes = self.bytes.saturating_sub(before) + after;
        if closed {
            self.remove(key, c);
        }
        while self.bytes > limits.tcp_max_total_bytes {
            if !self.evict_lru(c) {
                break;
            }
        }
        self.compact_lru();
    }

    /// Forget streams idle for longer than the timeout.
    pub(crate) fn expire(
        &mut self,
        now: SystemTime,
        limits: &DecodeLimits,
        c: &mut DecodeCounters,
    ) {
        let idle: Vec<FlowKey> = self
            .streams
            .iter()
            .filter(|(_, s)| {
                s.last_seen.is_some_and(|t| {
                    now.duration_since(t)
                        .is_ok_and(|d| d >= limits.tcp_idle_timeout)
                })
            })
            .map(|(k, _)| *k)
            .collect();
        for k in idle {
            self.remove(k, c);
        }
        self.compact_lru();
    }

    /// Place a segment that starts past a hole; if there is no room left,
    /// give up on the hole (see module docs).
    fn hold_out_of_order(
        s: &mut HalfStream,
        seq: u32,
        payload: &[u8],
        limits: &DecodeLimits,
        c: &mut DecodeCounters,
        out: &mut Vec<Vec<u8>>,
    ) {
        if s.ooo
            .iter()
            .any(|(q, p)| *q == seq && p.len() >= payload.len())
        {
            c.tcp_retransmit += 1;
            return;
        }
        c.tcp_out_of_order += 1;
        if s.ooo.len() >= limits.tcp_max_ooo_segments
            || s.ooo_bytes + payload.len() > limits.tcp_max_ooo_bytes
        {
            c.tcp_gap += 1;
            s.buf.clear();
            s.skip = 0;
            s.desync = true;
            // Jump to the earliest held segment; drain resyncs from there.
            let base = s.next_seq.unwrap_or(seq);
            let earliest = s
                .ooo
                .iter()
                .map(|(q, _)| *q)
                .chain([seq])
                .min_by_key(|q| seq_diff(*q, base))
                .unwrap_or(seq);
            s.next_seq = Some(earliest);
            if earliest == seq {
                Self::accept(s, payload, true, limits, c, out);
                return;
            }
            Self::drain(s, limits, c, out);
            if s.ooo.len() >= limits.tcp_max_ooo_segments
                || s.ooo_bytes + payload.len() > limits.tcp_max_ooo_bytes
            {
                // Still no room (a second hole): take this one as the new start.
                s.ooo.clear();
                s.ooo_bytes = 0;
                s.next_seq = Some(seq);
                Self::accept(s, payload, true, limits, c, out);
                return;
            }
        }
        s.ooo_bytes += payload.len();
        s.ooo.push((seq, payload.to_vec()));
    }

    /// Move held segments that are now in order into the stream.
    fn drain(
        s: &mut HalfStream,
        limits: &DecodeLimits,
        c: &mut DecodeCounters,
        out: &mut Vec<Vec<u8>>,
    ) {
        loop {
            let Some(next) = s.next_seq else { return };
            let Some(i) = s.ooo.iter().position(|(q, _)| seq_diff(*q, next) <= 0) else {
                return;
            };
            let (q, p) = s.ooo.swap_remove(i);
            s.ooo_bytes -= p.len();
            let end_d = seq_diff(q.wrapping_add(p.len() as u32), next);
            if end_d <= 0 {
                c.tcp_retransmit += 1;
                continue;
            }
            let at_start = q == next;
            Self::accept(s, &p[p.len() - end_d as usize..], at_start, limits, c, out);
        }
    }

    /// Append in-order bytes (`at_segment_start` when they begin a segment)
    /// and frame as many messages as are complete.
    fn accept(
        s: &mut HalfStream,
        mut data: &[u8],
        at_segment_start: bool,
        limits: &DecodeLimits,
        c: &mut DecodeCounters,
        out: &mut Vec<Vec<u8>>,
    ) {
        s.next_seq = s.next_seq.map(|n| n.wrapping_add(data.len() as u32));
        if s.desync {
            if at_segment_start && plausible_start(data) {
                s.desync = false;
            } else {
                c.tcp_desync_segments += 1;
                return;
            }
        }
        if s.skip > 0 {
            let n = s.skip.min(data.len());
            s.skip -= n;
            data = &data[n..];
        }
        s.buf.extend_from_slice(data);
        let mut at = 0;
        while s.buf.len() - at >= 2 {
            let len = usize::from(u16::from_be_bytes([s.buf[at], s.buf[at + 1]]));
            if len > limits.max_message || len + 2 > limits.tcp_max_buffer {
                c.tcp_messages += 1;
                c.oversized += 1;
                let have = s.buf.len() - at - 2;
                if have >= len {
                    at += 2 + len;
                    continue;
                }
                s.skip = len - have;
                at = s.buf.len();
                break;
            }
            if s.buf.len() - at - 2 < len {
                break;
            }
            c.tcp_messages += 1;
            out.push(s.buf[at + 2..at + 2 + len].to_vec());
            at += 2 + len;
        }
        s.buf.drain(..at);
    }

    fn remove(&mut self, key: FlowKey, c: &mut DecodeCounters) {
        if let Some(s) = self.streams.remove(&key) {
            if s.has_partial() {
                c.tcp_incomplete += 1;
            }
            self.bytes -= s.bytes().min(self.bytes);
        }
    }

    fn evict_lru(&mut self, c: &mut DecodeCounters) -> bool {
        while let Some((generation, key)) = self.lru.pop_front() {
            if self
                .streams
                .get(&key)
                .is_some_and(|s| s.generation == generation)
            {
                c.tcp_flow_limit += 1;
                self.remove(key, c);
                return true;
            }
        }
        false
    }

    fn compact_lru(&mut self) {
        if self.lru.len() > 2 * self.streams.len() + 64 {
            let streams = &self.streams;
            self.lru
                .retain(|(g, k)| streams.get(k).is_some_and(|s| s.generation == *g));
        }
    }
}

#[cfg(test)]
#[path = "tcp_stream_tests.rs"]
mod tests;
