//! The fast path for repeated UDP exchanges on `lo` (`monitor_common::fast`,
//! docs/design-kernel-fast-path.md).
//!
//! A query whose bytes after the id equal one whose exchange user space
//! validated is held back (`FAST_PENDING`); its answer, when it equals the
//! validated answer byte for byte after the id, is counted and not copied.
//! Whatever else happens to a held-back query — a different answer, an
//! answer with another txid on the same socket pair (a race, a spoof) —
//! sends the query up first, with its own time and socket cookie, then the
//! answer as usual: user space then sees what it would have without the
//! fast path. A query that gets no answer is found by user space's scan of
//! `FAST_PENDING` (capture/fast_path.rs). Only `lo`: there each packet
//! passes one hook once (egress), so no second sighting of an answer can
//! arrive after its held-back query was consumed.

use aya_ebpf::{
    helpers::generated::{bpf_get_socket_cookie, bpf_ktime_get_ns, bpf_skb_load_bytes},
    programs::TcContext,
};
use monitor_common::{
    DIR_EGRESS, FAMILY_V4, PKT_F_DEFERRED_QUERY, PKT_F_HAS_COOKIE, PacketHeader, config,
    counter,
    fast::{
        ANSWER_MAX, ExchangeKey, PQ_F_RD, PendingQuery, QUERY_MAX, ServerCounts, ServerKey,
        TUPLES_MAX,
    },
};

use crate::maps::{
    FAST_PENDING, FAST_SCRATCH, FAST_SERVERS, FAST_TUPLES, FAST_VALIDATED, PACKETS, bump,
    config as cfg, is_dns_port,
};
use crate::parse::{L4, Pkt};

/// `LOOPBACK_IFINDEX` (include/net/flow.h): `lo` is 1 in every namespace,
/// and the tc programs are attached in the daemon's own.
const LOOPBACK_IFINDEX: u32 = 1;
/// `BPF_NOEXIST` (include/uapi/linux/bpf.h).
const BPF_NOEXIST: u64 = 1;
const ANSWER_WORDS: usize = ANSWER_MAX / 8;

/// A deferred query's ring record.
#[repr(C)]
struct Deferred {
    hdr: PacketHeader,
    pq: PendingQuery,
}

/// `true`: the packet was absorbed (held back or counted); do not copy it.
#[inline(always)]
pub fn absorbed(ctx: &TcContext, pkt: &Pkt, l3_off: usize, l4: &L4, sport: u16, dport: u16) -> bool {
    if l4.fragment || l4.proto != monitor_common::PROTO_UDP {
        return false;
    }
    // SAFETY: context field read.
    if unsafe { (*ctx.skb.skb).ifindex } != LOOPBACK_IFINDEX || cfg(config::FAST_PATH) == 0 {
        return false;
    }
    try_absorb(ctx, pkt, l3_off, l4, sport, dport).unwrap_or(false)
}

#[inline(always)]
fn try_absorb(
    ctx: &TcContext,
    pkt: &Pkt,
    l3_off: usize,
    l4: &L4,
    sport: u16,
    dport: u16,
) -> Option<bool> {
    let udp_len = u16::from_be_bytes(pkt.read::<[u8; 2]>(l4.l4_off + 4)?) as usize;
    if udp_len < 8 + 12 {
        return None;
    }
    let dns_off = l4.l4_off + 8;
    // The message after its id (RFC 1035 §4.1.1).
    let body_len = udp_len - 8 - 2;
    let head: [u8; 4] = pkt.read(dns_off)?;
    let txid = u16::from_be_bytes([head[0], head[1]]);
    let (src, dst) = addresses(pkt, l3_off, l4.family)?;
    // QR (RFC 1035 §4.1.1): a query goes to the server, an answer comes from it.
    let query = head[2] & 0x80 == 0;
    let ((client, client_port), (server, server_port)) = if query {
        ((src, sport), (dst, dport))
    } else {
        ((dst, dport), (src, sport))
    };
    if !is_dns_port(server_port) {
        return None;
    }
    let exchange = ExchangeKey {
        server: ServerKey {
            family: l4.family,
            _pad: 0,
            port: server_port,
            addr: server,
        },
        client_port,
        txid,
        client_addr: client,
    };
    if query {
        hold_query(ctx, dns_off, body_len, exchange, head[2] & 1 != 0)
    } else {
        Some(count_answer(ctx, dns_off, body_len, &exchange))
    }
}

/// Source and destination address (IPv4 in the first 4 bytes).
#[inline(always)]
fn addresses(pkt: &Pkt, l3_off: usize, family: u8) -> Option<([u8; 16], [u8; 16])> {
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    if family == FAMILY_V4 {
        let a: [u8; 8] = pkt.read(l3_off + 12)?;
        src[..4].copy_from_slice(&a[..4]);
        dst[..4].copy_from_slice(&a[4..]);
    } else {
        src = pkt.read(l3_off + 8)?;
        dst = pkt.read(l3_off + 24)?;
    }
    Some((src, dst))
}

/// Holds the query back when (server, its bytes after the id) has a
/// validated answer that has not expired.
#[inline(always)]
fn hold_query(
    ctx: &TcContext,
    dns_off: usize,
    body_len: usize,
    exchange: ExchangeKey,
    rd: bool,
) -> Option<bool> {
    let n = body_len as u32;
    if n == 0 || n > QUERY_MAX as u32 {
        return None;
    }
    let s = FAST_SCRATCH.get_ptr_mut(0)?;
    // SAFETY: this CPU's scratch slot; nothing else runs on it meanwhile.
    let pq = unsafe { &mut (*s).pending };
    pq.key.server = exchange.server;
    pq.key.len = n as u16;
    pq.key._pad = 0;
    // The key is hashed whole: the bytes past the query must be zero.
    let words = pq.key.query.as_mut_ptr() as *mut u64;
    for i in 0..QUERY_MAX / 8 {
        // SAFETY: i < QUERY_MAX / 8 words inside `query` (8-aligned: offset
        // 88 of PendingQuery, asserted layout).
        unsafe { words.add(i).write_unaligned(0) };
    }
    // SAFETY: 0 < n <= QUERY_MAX bytes into `query`.
    let r = unsafe {
        bpf_skb_load_bytes(
            ctx.skb.skb as *const _,
            (dns_off + 2) as u32,
            pq.key.query.as_mut_ptr() as *mut _,
            bounded::<QUERY_MAX>(n),
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: read at once.
    let expires = unsafe { FAST_VALIDATED.get(&pq.key) }?.expires_ns;
    // SAFETY: helpers on our own context.
    let (now, cookie) = unsafe {
        (
            bpf_ktime_get_ns(),
            bpf_get_socket_cookie(ctx.skb.skb as *mut _),
        )
    };
    if expires <= now {
        return None;
    }
    pq.ktime_ns = now;
    pq.socket_cookie = cookie;
    pq.ifindex = LOOPBACK_IFINDEX;
    pq.flags = if rd { PQ_F_RD } else { 0 };
    pq.exchange = exchange;
    FAST_PENDING.insert(&exchange, pq, BPF_NOEXIST).ok()?;
    let mut tuple = exchange;
    tuple.txid = 0;
    if let Some(slot) = FAST_TUPLES.get_ptr_mut(tuple_index(&tuple)) {
        // SAFETY: a map value; a concurrent writer can only garble the
        // heuristic (see maps.rs).
        unsafe {
            (*slot).tuple = tuple;
            (*slot).txid = u32::from(exchange.txid);
        }
    }
    bump(counter::FAST_QUERIES);
    Some(true)
}

/// An answer: counted (`true`) when it answers a held-back query with the
/// validated bytes; otherwise any held-back query it concerns goes up
/// first and the answer is copied (`false`).
#[inline(always)]
fn count_answer(ctx: &TcContext, dns_off: usize, body_len: usize, exchange: &ExchangeKey) -> bool {
    // SAFETY: fields copied out or the entry handed on before it is removed.
    let Some(pq) = (unsafe { FAST_PENDING.get(exchange) }) else {
        deferred_by_tuple(exchange);
        return false;
    };
    // SAFETY: helper.
    let now = unsafe { bpf_ktime_get_ns() };
    if same_as_validated(ctx, dns_off, body_len, pq, now) {
        let (sent, flags, server) = (pq.ktime_ns, pq.flags, pq.exchange.server);
        let _ = FAST_PENDING.remove(exchange);
        if flags & PQ_F_RD != 0 {
            count_server(&server, now.saturating_sub(sent));
        }
        bump(counter::FAST_ANSWERS);
        return true;
    }
    send_deferred(pq);
    let _ = FAST_PENDING.remove(exchange);
    false
}

/// A wrong-txid answer on a socket pair whose last query was held back:
/// that query goes up, so the answer meets it (`response_race`, not an
/// `unsolicited_response`), and its own answer will be copied too.
#[inline(always)]
fn deferred_by_tuple(exchange: &ExchangeKey) {
    let mut tuple = *exchange;
    tuple.txid = 0;
    let Some(slot) = FAST_TUPLES.get(tuple_index(&tuple)) else {
        return;
    };
    let held = slot.txid;
    if slot.tuple != tuple || held == u32::from(exchange.txid) {
        return;
    }
    let mut other = *exchange;
    other.txid = held as u16;
    // SAFETY: handed on before it is removed.
    if let Some(pq) = unsafe { FAST_PENDING.get(&other) } {
        send_deferred(pq);
        let _ = FAST_PENDING.remove(&other);
    }
}

#[inline(always)]
fn same_as_validated(
    ctx: &TcContext,
    dns_off: usize,
    body_len: usize,
    pq: &PendingQuery,
    now: u64,
) -> bool {
    // SAFETY: read in place below, no other map operation meanwhile.
    let Some(v) = (unsafe { FAST_VALIDATED.get(&pq.key) }) else {
        return false;
    };
    let n = body_len as u32;
    if v.expires_ns <= now || v.len != n || n == 0 || n > ANSWER_MAX as u32 {
        return false;
    }
    let Some(s) = FAST_SCRATCH.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: this CPU's scratch slot.
    let buf = unsafe { &mut (*s).answer };
    let last = ((n as usize - 1) / 8) & (ANSWER_WORDS - 1);
    // The bytes past the answer in its last word must be zero, as in
    // the validated copy (user space zero-pads it).
    buf[last] = 0;
    // SAFETY: 0 < n <= ANSWER_MAX bytes into `buf`.
    let r = unsafe {
        bpf_skb_load_bytes(
            ctx.skb.skb as *const _,
            (dns_off + 2) as u32,
            buf.as_mut_ptr() as *mut _,
            bounded::<ANSWER_MAX>(n),
        )
    };
    if r != 0 {
        return false;
    }
    let want = v.answer.as_ptr() as *const u64;
    for (i, have) in buf.iter().enumerate() {
        if i > last {
            break;
        }
        // SAFETY: i < ANSWER_WORDS words inside `answer`.
        if unsafe { want.add(i).read_unaligned() } != *have {
            return false;
        }
    }
    true
}

/// The `FAST_TUPLES` slot of a socket pair: ports and the low words of
/// both addresses, mixed (Fibonacci hashing).
#[inline(always)]
fn tuple_index(t: &ExchangeKey) -> u32 {
    let word = |b: &[u8; 16]| u32::from_ne_bytes([b[12], b[13], b[14], b[15]])
        ^ u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    let h = (u32::from(t.client_port) << 16 | u32::from(t.server.port))
        ^ word(&t.client_addr).rotate_left(7)
        ^ word(&t.server.addr).rotate_left(13);
    h.wrapping_mul(0x9E37_79B1) >> (32 - TUPLES_MAX.trailing_zeros())
}

/// `n` (already checked to be in 1..=MAX, MAX a power of two) in a form
/// whose range the verifier sees at the helper call: the compiler may
/// check a copy of the register, leaving the one passed unbounded.
#[inline(always)]
fn bounded<const MAX: usize>(n: u32) -> u32 {
    // black_box: so that LLVM, knowing the range, does not drop the mask.
    ((core::hint::black_box(n) - 1) & (MAX as u32 - 1)) + 1
}

#[inline(always)]
fn count_server(server: &ServerKey, latency_ns: u64) {
    if let Some(p) = FAST_SERVERS.get_ptr_mut(server) {
        // SAFETY: this CPU's value (a per-CPU map): no concurrent writer.
        unsafe {
            (*p).answers += 1;
            (*p).latency_ns += latency_ns;
        }
        return;
    }
    let first = ServerCounts {
        answers: 1,
        latency_ns,
    };
    let _ = FAST_SERVERS.insert(server, &first, BPF_NOEXIST);
}

/// The held-back query as a [`PKT_F_DEFERRED_QUERY`] record.
#[inline(always)]
fn send_deferred(pq: &PendingQuery) {
    let Some(mut rec) = PACKETS.reserve::<Deferred>(0) else {
        bump(counter::RING_FULL);
        return;
    };
    let mut flags = PKT_F_DEFERRED_QUERY;
    if pq.socket_cookie != 0 {
        flags |= PKT_F_HAS_COOKIE;
    }
    let p = rec.as_mut_ptr();
    // SAFETY: the reservation holds a whole `Deferred`.
    unsafe {
        core::ptr::write_unaligned(
            &raw mut (*p).hdr,
            PacketHeader {
                ktime_ns: pq.ktime_ns,
                socket_cookie: pq.socket_cookie,
                ifindex: pq.ifindex,
                direction: DIR_EGRESS,
                pkt_len: u32::from(pq.key.len) + 2,
                cap_len: core::mem::size_of::<PendingQuery>() as u32,
                l3_offset: 0,
                flags,
            },
        );
        core::ptr::copy_nonoverlapping(pq, &raw mut (*p).pq, 1);
    }
    bump(counter::FAST_DEFERRED);
    bump(counter::SENT);
    rec.submit(0);
}
