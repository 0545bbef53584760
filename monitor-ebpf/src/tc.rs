//! The tc classifier: find DNS packets (and UDP fragments, which user space
//! reassembles before it can see ports) and copy them whole into the ring
//! buffer. Everything else leaves after a handful of loads.

use aya_ebpf::{
    helpers::generated::{bpf_get_socket_cookie, bpf_ktime_get_ns, bpf_skb_load_bytes},
    programs::TcContext,
};
use monitor_common::{
    PKT_F_HAS_COOKIE, PKT_F_TRUNCATED, PROTO_UDP, PacketHeader, SIZE_CLASSES, counter,
};

use crate::maps::{PACKETS, bump, is_dns_port};
use crate::parse::{ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, Pkt, parse_ip, ports};

const HDR: usize = core::mem::size_of::<PacketHeader>();
const ETH_HLEN: usize = 14;
/// 802.1ad outer + 802.1Q inner is the deepest stack we expect.
const MAX_VLAN_TAGS: usize = 2;

const C0: usize = SIZE_CLASSES[0] as usize;
const C1: usize = SIZE_CLASSES[1] as usize;
const C2: usize = SIZE_CLASSES[2] as usize;
const C3: usize = SIZE_CLASSES[3] as usize;
const C4: usize = SIZE_CLASSES[4] as usize;

/// `ETH` = the device has a 14-byte Ethernet header (Ethernet, veth, lo);
/// otherwise the packet starts at the IP header (tun, wireguard, ...).
#[inline(always)]
pub fn try_tc<const ETH: bool>(ctx: &TcContext, dir: u32) -> Option<()> {
    bump(counter::SEEN);
    let skb = ctx.skb.skb;
    // skb->protocol holds the EtherType in network byte order.
    // SAFETY: context field read.
    let proto = u16::from_be(unsafe { (*skb).protocol } as u16);
    if proto != ETH_P_IP && proto != ETH_P_IPV6 && proto != ETH_P_8021Q && proto != ETH_P_8021AD
    {
        return None;
    }
    let pkt = Pkt::new(skb);
    let (l3_off, ethertype) = if ETH {
        let mut off = ETH_HLEN;
        let mut et = u16::from_be(pkt.read::<u16>(12)?);
        // Tags still in the data (not moved to skb->vlan_tci by offload).
        for _ in 0..MAX_VLAN_TAGS {
            if et != ETH_P_8021Q && et != ETH_P_8021AD {
                break;
            }
            et = u16::from_be(pkt.read::<u16>(off + 2)?);
            off += 4;
        }
        (off, et)
    } else {
        (0, proto)
    };
    let l4 = parse_ip(&pkt, l3_off, ethertype)?;
    // Every UDP fragment goes up: later fragments carry no ports, and user
    // space filters by port after reassembly.
    if !(l4.fragment && l4.proto == PROTO_UDP) {
        if l4.nonfirst {
            return None;
        }
        let (sport, dport) = ports(&pkt, l4.l4_off)?;
        if !is_dns_port(sport) && !is_dns_port(dport) {
            return None;
        }
        if crate::fast::absorbed(ctx, &pkt, l3_off, &l4, sport, dport) {
            return Some(());
        }
    }
    emit(ctx, dir, l3_off as u32);
    Some(())
}

/// Copies the packet into the smallest size class that holds it.
#[inline(always)]
fn emit(ctx: &TcContext, dir: u32, l3_off: u32) {
    let len = ctx.len();
    if len as usize <= C0 {
        send::<C0>(ctx, dir, l3_off, len);
    } else if len as usize <= C1 {
        send::<C1>(ctx, dir, l3_off, len);
    } else if len as usize <= C2 {
        send::<C2>(ctx, dir, l3_off, len);
    } else if len as usize <= C3 {
        send::<C3>(ctx, dir, l3_off, len);
    } else {
        send::<C4>(ctx, dir, l3_off, len);
    }
}

/// `bpf_ringbuf_query` / `bpf_ringbuf_submit` flags (include/uapi/linux/bpf.h).
const BPF_RB_AVAIL_DATA: u64 = 0;
const BPF_RB_NO_WAKEUP: u64 = 1;

/// How to notify user space of a record submitted when `avail` bytes were
/// already waiting: a wake-up per packet costs the sender microseconds
/// (irq_work + the reader's context switch, kernel/bpf/ringbuf.c), so only
/// the record that finds the ring drained wakes the reader (which then
/// lets a batch gather before it reads, see capture/ringbuf.rs). A reader
/// that is behind is not woken again (it is busy, or waiting for room
/// downstream: measured, forcing a wake-up per record once the ring held
/// 4 MiB cost ~4 µs per packet). A record that loses the race with a
/// reader going to sleep waits for the reader's poll timer.
#[inline(always)]
fn wake_flags(avail: u64) -> u64 {
    if avail == 0 {
        // Default (adaptive) notification: wakes the reader if it caught up.
        0
    } else {
        BPF_RB_NO_WAKEUP
    }
}

#[inline(always)]
fn send<const N: usize>(ctx: &TcContext, dir: u32, l3_off: u32, len: u32) {
    let avail = PACKETS.query(BPF_RB_AVAIL_DATA);
    let Some(mut buf) = PACKETS.reserve_bytes(HDR + N, 0) else {
        bump(counter::RING_FULL);
        return;
    };
    let mut flags = 0;
    let cap = if len as usize > N {
        flags |= PKT_F_TRUNCATED;
        N as u32
    } else {
        len
    };
    // The verifier must see 0 < cap <= N for the copy below.
    if cap == 0 || cap as usize > N {
        buf.discard(0);
        return;
    }
    // SAFETY: buf has HDR + N bytes; we write cap <= N bytes after HDR.
    let r = unsafe {
        bpf_skb_load_bytes(
            ctx.skb.skb as *const _,
            0,
            buf.as_mut_ptr().add(HDR) as *mut _,
            cap,
        )
    };
    if r != 0 {
        buf.discard(0);
        bump(counter::LOAD_FAILED);
        return;
    }
    // SAFETY: helpers on our own context.
    let (ktime_ns, cookie) = unsafe {
        (
            bpf_ktime_get_ns(),
            bpf_get_socket_cookie(ctx.skb.skb as *mut _),
        )
    };
    if cookie != 0 {
        flags |= PKT_F_HAS_COOKIE;
    }
    let hdr = PacketHeader {
        ktime_ns,
        socket_cookie: cookie,
        // SAFETY: context field read.
        ifindex: unsafe { (*ctx.skb.skb).ifindex },
        direction: dir,
        pkt_len: len,
        cap_len: cap,
        l3_offset: l3_off,
        flags,
    };
    // SAFETY: the record starts 8-byte aligned and has HDR bytes for it.
    unsafe { core::ptr::write_unaligned(buf.as_mut_ptr() as *mut PacketHeader, hdr) };
    if flags & PKT_F_TRUNCATED != 0 {
        bump(counter::TRUNCATED);
    }
    bump(counter::SENT);
    buf.submit(wake_flags(avail));
}
