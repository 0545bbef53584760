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
    DIR_EGRESS, FAMILY_V4, PKT_F_DEFERRED_QUERY, PKT_F_HAS_COOKIE, PacketHeader, config, counter,
    fast::{
        ANSWER_MAX, ExchangeKey, FastKey, HeldSlot, PQ_F_RD, PendingQuery, QUERY_MAX, QUERY_WORDS,
        SLOT_BUSY, SLOT_FREE, SLOT_SENT, ServerCounts, ServerKey, TIMED_EVERY, ValidatedKey,
        pending_index, query_digest, tuple_index, validated_index,
    },
};

use crate::atomic::{cas, load_ordered, store};
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{Ordering, compiler_fence};

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
/// Words of a [`ValidatedKey`].
const KEY_WORDS: usize = core::mem::size_of::<ValidatedKey>() / 8;
const _: () = assert!(core::mem::size_of::<FastKey>() == 24 + QUERY_MAX);

/// A deferred query's ring record.
#[repr(C)]
struct Deferred {
    hdr: PacketHeader,
    pq: PendingQuery,
}

/// `true`: the packet was absorbed (held back or counted); do not copy it.
#[inline(always)]
pub fn absorbed(
    ctx: &TcContext,
    pkt: &Pkt,
    l3_off: usize,
    l4: &L4,
    sport: u16,
    dport: u16,
) -> bool {
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
        let held = hold_query(ctx, dns_off, body_len, exchange, head[2] & 1 != 0);
        if held.is_none() {
            note_copied(&exchange);
        }
        held
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
    let words = unsafe { &mut (*s).query };
    // The digest and the compare read whole words: the bytes past the
    // query must be zero, as in user space's copy. Word by word: a plain
    // `= [0; N]` becomes a call of a byte-wise memset subprogram.
    for i in 0..QUERY_WORDS {
        // SAFETY: i < QUERY_WORDS.
        unsafe { core::ptr::write_volatile(words.as_mut_ptr().add(i), 0) };
    }
    if !load_body(ctx, dns_off, words, n) {
        return None;
    }
    let key = ValidatedKey {
        server: exchange.server,
        len: n as u16,
        _pad: 0,
        digest: query_digest(words),
    };
    // SAFETY: helper.
    let now = unsafe { bpf_ktime_get_ns() };
    let tso = cfg(config::TSO) != 0;
    let last = (n as usize - 1) / 8;
    let first = validated_index(&key);
    let (vslot, vseq) = validated(first, &key, words, last, now, tso)
        .or_else(|| validated(first + 1, &key, words, last, now, tso))?;
    let Some(slot) =
        claim(pending_index(&exchange)).or_else(|| claim(pending_index(&exchange) ^ 1))
    else {
        bump(counter::FAST_SLOT_BUSY);
        return None;
    };
    // SAFETY: a map value; `state` is its first field, 8-aligned.
    let state = unsafe { &raw mut (*slot).state };
    // SAFETY: helper on our own context.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.skb.skb as *mut _) };
    // SAFETY: the slot is ours until `state` holds the token.
    unsafe {
        // The query's own words (the last one zero-padded): it must be
        // able to go up even after its validated entry left the LRU.
        let last = (n as usize - 1) / 8;
        #[allow(
            clippy::needless_range_loop,
            reason = "one index into both arrays, bounded by the constant: the form the verifier was shown to accept on this hot path"
        )]
        for i in 0..QUERY_WORDS {
            if i > last {
                break;
            }
            (*slot).query[i] = words[i];
        }
        (*slot).exchange = exchange;
        (*slot).validated_seq = vseq;
        (*slot).validated_slot = vslot;
        (*slot).len = key.len;
        (*slot).flags = if rd { PQ_F_RD as u16 } else { 0 };
        (*slot).socket_cookie = cookie;
        publish(state, token(now), tso);
    }
    let mut tuple = exchange;
    tuple.txid = 0;
    if let Some(t) = FAST_TUPLES.get_ptr_mut(tuple_index(&tuple)) {
        // SAFETY: a map value; a concurrent writer can only garble the
        // heuristic (see maps.rs).
        unsafe {
            (*t).tuple = tuple;
            (*t).txid = u32::from(exchange.txid);
        }
    }
    bump(counter::FAST_QUERIES);
    Some(true)
}

/// Slot `i`, if it was free: then it is ours (BUSY) to write.
#[inline(always)]
fn claim(i: u32) -> Option<*mut HeldSlot> {
    let slot = FAST_PENDING.get_ptr_mut(i)?;
    // SAFETY: a map value; `state` is its first field, 8-aligned.
    unsafe { cas(&raw mut (*slot).state, SLOT_FREE, SLOT_BUSY) }.then_some(slot)
}

/// `FAST_VALIDATED` slot `i`, if it holds an unexpired entry for `key`
/// whose query is `words` (`0..=last`, the rest zero in both): its index
/// and the sequence number it was read under (see
/// [`monitor_common::fast::ValidatedSlot`]).
#[inline(always)]
fn validated(
    i: u32,
    key: &ValidatedKey,
    words: &[u64; QUERY_WORDS],
    last: usize,
    now: u64,
    tso: bool,
) -> Option<(u32, u64)> {
    let e = FAST_VALIDATED.get_ptr_mut(i)?;
    // SAFETY: a map value user space may be rewriting: every read below is
    // a volatile word load of it, validated by the sequence word around
    // them; the key on our stack is read as the words it is made of.
    unsafe {
        let seq = read_seq(&raw mut (*e).seq, tso);
        if seq & 1 != 0 {
            return None;
        }
        let have = &raw const (*e).key as *const u64;
        let want = key as *const ValidatedKey as *const u64;
        for j in 0..KEY_WORDS {
            if read_volatile(have.add(j)) != *want.add(j) {
                return None;
            }
        }
        if read_volatile(&raw const (*e).value.expires_ns) <= now
            || !same_words(&raw const (*e).value.query as *const u64, words, last)
            || read_seq(&raw mut (*e).seq, tso) != seq
        {
            return None;
        }
        Some((i, seq))
    }
}

/// A `FAST_VALIDATED` slot's sequence word. Where loads are not reordered
/// with loads (`tso`), a plain load; elsewhere a fully ordered one, so
/// the slot's words are read between the two sequence reads.
///
/// # Safety
/// `p` is the `seq` of a map value.
#[inline(always)]
unsafe fn read_seq(p: *mut u64, tso: bool) -> u64 {
    // SAFETY: the caller's pointer.
    unsafe {
        if tso {
            let v = read_volatile(p);
            // The words read next stay after it (the compiler's side of
            // the load order the CPU keeps).
            compiler_fence(Ordering::Acquire);
            v
        } else {
            load_ordered(p)
        }
    }
}

/// Sets a held slot's state to `token` once its other words are written.
/// With ordered stores (`tso`) a plain store does it: the locked exchange
/// otherwise waits for the slot's earlier stores to reach the cache, the
/// query side's second-largest cost (~14% of its samples, perf, session
/// 13).
///
/// # Safety
/// `state` is the state word of a slot this program claimed.
#[inline(always)]
unsafe fn publish(state: *mut u64, token: u64, tso: bool) {
    // SAFETY: the caller's pointer.
    unsafe {
        if tso {
            compiler_fence(Ordering::Release);
            write_volatile(state, token);
        } else {
            store(state, token);
        }
    }
}

/// `a` and `b` agree in words `0..=last` (`a`: words of a map value that
/// user space may be rewriting, read one volatile load each).
///
/// # Safety
/// `a` points at `N` readable, 8-aligned words.
#[inline(always)]
unsafe fn same_words<const N: usize>(a: *const u64, b: &[u64; N], last: usize) -> bool {
    for (i, have) in b.iter().enumerate() {
        if i > last {
            break;
        }
        // SAFETY: i < N (the caller's contract).
        if unsafe { read_volatile(a.add(i)) } != *have {
            return false;
        }
    }
    true
}

/// A held slot's state: its query's time, never FREE or BUSY.
#[inline(always)]
fn token(now: u64) -> u64 {
    if now > SLOT_BUSY { now } else { SLOT_BUSY + 1 }
}

/// What `FAST_PENDING` knows of an exchange.
enum Held {
    /// Its query is held: the slot and the token it was read with.
    Query(*mut HeldSlot, u64),
    /// Its query was held and went up without its answer: the slot and
    /// its state.
    Sent(*mut HeldSlot, u64),
}

/// `exchange`'s slot (of its two), if it holds or held its query.
#[inline(always)]
fn held(exchange: &ExchangeKey) -> Option<Held> {
    let i = pending_index(exchange);
    held_in(i, exchange).or_else(|| held_in(i ^ 1, exchange))
}

#[inline(always)]
fn held_in(i: u32, exchange: &ExchangeKey) -> Option<Held> {
    let slot = FAST_PENDING.get_ptr_mut(i)?;
    // SAFETY: a map value; the state word is read once, atomically (an
    // aligned 8-byte load).
    let state = unsafe { read_volatile(&raw const (*slot).state) };
    // The slot's other words are read after its state (see `publish`).
    compiler_fence(Ordering::Acquire);
    // SAFETY: as above; a slot being rewritten is caught by the
    // compare-and-exchange on the state that follows.
    if state <= SLOT_BUSY || unsafe { (*slot).exchange } != *exchange {
        return None;
    }
    Some(if state & SLOT_SENT != 0 {
        Held::Sent(slot, state)
    } else {
        Held::Query(slot, state)
    })
}

/// A query on `lo` that goes up as usual: the last query on its socket
/// pair is now one whose answer is expected in user space, so that answer
/// must not bring up another held query (see [`deferred_by_tuple`]).
#[inline(always)]
fn note_copied(exchange: &ExchangeKey) {
    let mut tuple = *exchange;
    tuple.txid = 0;
    if let Some(t) = FAST_TUPLES.get_ptr_mut(tuple_index(&tuple)) {
        // SAFETY: a map value; see `hold_query`.
        unsafe {
            (*t).tuple = tuple;
            (*t).txid = u32::from(exchange.txid);
        }
    }
}

/// An answer: counted (`true`) when it answers a held-back query with the
/// validated bytes; otherwise any held-back query it concerns goes up
/// first and the answer is copied (`false`).
#[inline(always)]
fn count_answer(ctx: &TcContext, dns_off: usize, body_len: usize, exchange: &ExchangeKey) -> bool {
    let (slot, token) = match held(exchange) {
        Some(Held::Query(slot, token)) => (slot, token),
        Some(Held::Sent(slot, state)) => {
            // Its query went up already: the answer follows it, and frees
            // the slot (unless user space just did).
            // SAFETY: the state word of a map value.
            let _ = unsafe { cas(&raw mut (*slot).state, state, SLOT_FREE) };
            return false;
        }
        None => {
            deferred_by_tuple(exchange);
            return false;
        }
    };
    // SAFETY: a map value read in place; if it is rewritten meanwhile the
    // exchange below fails and the answer is copied.
    let (vslot, vseq) = unsafe { ((*slot).validated_slot, (*slot).validated_seq) };
    // The entry's lifetime was checked when the query was held (at most
    // HOLD_LIMIT + a scan period ago): no clock read here.
    let same = same_as_validated(ctx, dns_off, body_len, vslot, vseq);
    // SAFETY: the state word of a map value.
    let state = unsafe { &raw mut (*slot).state };
    if same {
        // Read before the slot is given up; the exchange below proves
        // they were this query's (its token was there all along).
        // SAFETY: a map value read in place.
        let (flags, server) = unsafe { ((*slot).flags, (*slot).exchange.server) };
        // Take the query and free its slot at once; failing = user space
        // took it (no answer in time) and sends it up: the answer must go
        // up too.
        // SAFETY: as above.
        if !unsafe { cas(state, token, SLOT_FREE) } {
            return false;
        }
        if u32::from(flags) & PQ_F_RD != 0 {
            count_server(&server, token);
        }
        bump(counter::FAST_ANSWERS);
        return true;
    }
    // A different answer: the query goes up, then this answer; the slot
    // is free for the next query (this answer was its answer).
    // SAFETY: the slot is ours once the exchange succeeds; then released.
    unsafe {
        if !cas(state, token, SLOT_BUSY) {
            return false;
        }
        send_deferred(&*slot, token);
        store(state, SLOT_FREE);
    }
    false
}

/// A wrong-txid answer on a socket pair whose last query was held back:
/// that query goes up, so the answer meets it (`response_race`, not an
/// `unsolicited_response`), and its own answer will be copied too.
#[inline(always)]
fn deferred_by_tuple(exchange: &ExchangeKey) {
    let mut tuple = *exchange;
    tuple.txid = 0;
    let Some(t) = FAST_TUPLES.get(tuple_index(&tuple)) else {
        return;
    };
    let held_txid = t.txid;
    if t.tuple != tuple || held_txid == u32::from(exchange.txid) {
        return;
    }
    let mut other = *exchange;
    other.txid = held_txid as u16;
    let Some(Held::Query(slot, token)) = held(&other) else {
        return;
    };
    // SAFETY: the state word of a map value; the slot is ours once the
    // exchange succeeds. Marked sent: its own answer, still to come, is
    // then copied without bringing up yet another query.
    unsafe {
        let state = &raw mut (*slot).state;
        if cas(state, token, SLOT_BUSY) {
            send_deferred(&*slot, token);
            store(state, SLOT_SENT | bpf_ktime_get_ns());
        }
    }
}

/// The answer's bytes after the id equal those of `FAST_VALIDATED` slot
/// `vslot` as it was when its query was held (sequence `vseq`).
#[inline(always)]
fn same_as_validated(
    ctx: &TcContext,
    dns_off: usize,
    body_len: usize,
    vslot: u32,
    vseq: u64,
) -> bool {
    let n = body_len as u32;
    if n == 0 || n > ANSWER_MAX as u32 {
        return false;
    }
    let Some(e) = FAST_VALIDATED.get_ptr_mut(vslot) else {
        return false;
    };
    let Some(s) = FAST_SCRATCH.get_ptr_mut(0) else {
        return false;
    };
    let tso = cfg(config::TSO) != 0;
    // SAFETY: this CPU's scratch slot; the map value as in `validated`.
    unsafe {
        let seq = &raw mut (*e).seq;
        if read_seq(seq, tso) != vseq || read_volatile(&raw const (*e).value.len) != n {
            return false;
        }
        let buf = &mut (*s).answer;
        let last = ((n as usize - 1) / 8) & (ANSWER_WORDS - 1);
        // The bytes past the answer in its last word must be zero, as in
        // the validated copy (user space zero-pads it).
        buf[last] = 0;
        load_body(ctx, dns_off, buf, n)
            && same_words(&raw const (*e).value.answer as *const u64, buf, last)
            && read_seq(seq, tso) == vseq
    }
}

/// Copies the message's `n` bytes after its id (callers checked
/// 0 < n <= W * 8) into `buf`; `false` if the kernel refused.
#[inline(always)]
fn load_body<const W: usize>(ctx: &TcContext, dns_off: usize, buf: &mut [u64; W], n: u32) -> bool {
    // SAFETY: at most W * 8 bytes into `buf` (`bounded_words`).
    let r = unsafe {
        bpf_skb_load_bytes(
            ctx.skb.skb as *const _,
            (dns_off + 2) as u32,
            buf.as_mut_ptr() as *mut _,
            bounded_words::<W>(n),
        )
    };
    r == 0
}

/// `n` (already checked to be in 1..=W * 8, W a power of two) in a form
/// whose range the verifier sees at the helper call: the compiler may
/// check a copy of the register, leaving the one passed unbounded.
#[inline(always)]
fn bounded_words<const W: usize>(n: u32) -> u32 {
    // black_box: so that LLVM, knowing the range, does not drop the mask.
    ((core::hint::black_box(n) - 1) & (W as u32 * 8 - 1)) + 1
}

/// One more answer from `server` absorbed; timed (its latency since the
/// query's time `sent`) one in [`TIMED_EVERY`].
#[inline(always)]
fn count_server(server: &ServerKey, sent: u64) {
    let latency_ns = if sent & (TIMED_EVERY - 1) == 0 {
        // SAFETY: helper.
        Some(unsafe { bpf_ktime_get_ns() }.saturating_sub(sent))
    } else {
        None
    };
    if let Some(p) = FAST_SERVERS.get_ptr_mut(server) {
        // SAFETY: this CPU's value (a per-CPU map): no concurrent writer.
        unsafe {
            (*p).answers += 1;
            if let Some(l) = latency_ns {
                (*p).latency_ns += l;
                (*p).timed += 1;
            }
        }
        return;
    }
    let first = ServerCounts {
        answers: 1,
        latency_ns: latency_ns.unwrap_or(0),
        timed: u64::from(latency_ns.is_some()),
    };
    let _ = FAST_SERVERS.insert(server, first, BPF_NOEXIST);
}

/// The held-back query as a [`PKT_F_DEFERRED_QUERY`] record.
#[inline(always)]
fn send_deferred(slot: &HeldSlot, token: u64) {
    let Some(mut rec) = PACKETS.reserve::<Deferred>(0) else {
        bump(counter::RING_FULL);
        return;
    };
    let mut flags = PKT_F_DEFERRED_QUERY;
    if slot.socket_cookie != 0 {
        flags |= PKT_F_HAS_COOKIE;
    }
    let p = rec.as_mut_ptr();
    // SAFETY: the reservation holds a whole `Deferred`.
    unsafe {
        core::ptr::write_unaligned(
            &raw mut (*p).hdr,
            PacketHeader {
                ktime_ns: token,
                socket_cookie: slot.socket_cookie,
                ifindex: LOOPBACK_IFINDEX,
                direction: DIR_EGRESS,
                pkt_len: u32::from(slot.len) + 2,
                cap_len: core::mem::size_of::<PendingQuery>() as u32,
                l3_offset: 0,
                flags,
            },
        );
        let pq = &raw mut (*p).pq;
        (*pq).ktime_ns = token;
        (*pq).socket_cookie = slot.socket_cookie;
        (*pq).ifindex = LOOPBACK_IFINDEX;
        (*pq).flags = u32::from(slot.flags);
        (*pq).exchange = slot.exchange;
        (*pq).key.server = slot.exchange.server;
        (*pq).key.len = slot.len;
        (*pq).key._pad = 0;
        // Word by word (the record is 8-aligned, `query` at offset 88):
        // past `len` the words may hold an earlier query's bytes, which
        // user space ignores (it reads `len`).
        let dst = (*pq).key.query.as_mut_ptr() as *mut u64;
        for i in 0..QUERY_WORDS {
            dst.add(i).write_unaligned(slot.query[i]);
        }
    }
    bump(counter::FAST_DEFERRED);
    bump(counter::SENT);
    rec.submit(0);
}
