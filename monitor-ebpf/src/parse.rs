//! Bounded L3/L4 header parsing shared by the tc and cgroup_skb programs.
//!
//! Reads go straight to the linear packet data when the header lies
//! there (a bounds check and a load), and fall back to
//! `bpf_skb_load_bytes` otherwise (paged skbs), so no DNS packet is missed
//! because its headers were not pulled.

use aya_ebpf::{bindings::__sk_buff, helpers::generated::bpf_skb_load_bytes};
use core::mem::{MaybeUninit, size_of};
use monitor_common::{FAMILY_V4, FAMILY_V6, PROTO_TCP, PROTO_UDP};

/// EtherTypes as they read from memory (network byte order) on a
/// little-endian machine: compare against `u16::from_be_bytes` of the wire.
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86DD;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88A8;

/// IPv6 extension headers we step over (RFC 8200 §4): hop-by-hop,
/// routing, destination options, fragment, authentication (RFC 4302).
const IPV6_HOPOPTS: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AH: u8 = 51;
const IPV6_DSTOPTS: u8 = 60;
/// At most this many extension headers; anything longer is not DNS we
/// can attribute cheaply and is let through uncaptured.
const MAX_IPV6_EXT: usize = 6;

/// The packet of an `__sk_buff`, with its linear data bounds.
pub struct Pkt {
    skb: *mut __sk_buff,
    data: usize,
    end: usize,
}

impl Pkt {
    #[inline(always)]
    pub fn new(skb: *mut __sk_buff) -> Self {
        // SAFETY: the context pointer the kernel passed us.
        let (data, end) = unsafe { ((*skb).data as usize, (*skb).data_end as usize) };
        Pkt { skb, data, end }
    }

    /// `size_of::<T>()` bytes at `off`, or `None` past the end.
    #[inline(always)]
    pub fn read<T: Copy>(&self, off: usize) -> Option<T> {
        let start = self.data + off;
        if start + size_of::<T>() <= self.end {
            // SAFETY: bounds checked against data_end just above.
            return Some(unsafe { core::ptr::read_unaligned(start as *const T) });
        }
        let mut v = MaybeUninit::<T>::uninit();
        // SAFETY: the helper writes exactly size_of::<T>() bytes or fails.
        let r = unsafe {
            bpf_skb_load_bytes(
                self.skb as *const _,
                off as u32,
                v.as_mut_ptr() as *mut _,
                size_of::<T>() as u32,
            )
        };
        if r == 0 {
            // SAFETY: initialised by the helper.
            Some(unsafe { v.assume_init() })
        } else {
            None
        }
    }
}

/// Where the transport header is and what kind of packet this is.
pub struct L4 {
    pub family: u8,
    pub proto: u8,
    pub l4_off: usize,
    /// Part of a fragmented IP datagram (first or later fragment).
    pub fragment: bool,
    /// A later fragment: there is no transport header at `l4_off`.
    pub nonfirst: bool,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Ipv4Head {
    ver_ihl: u8,
    tos: u8,
    tot_len: [u8; 2],
    id: [u8; 2],
    frag: [u8; 2],
    ttl: u8,
    proto: u8,
}

/// Parses the IP header at `l3_off` (whose EtherType is `ethertype`, host
/// order) and any IPv6 extension headers. `None` for anything that is not
/// TCP or UDP over IPv4/IPv6.
#[inline(always)]
pub fn parse_ip(pkt: &Pkt, l3_off: usize, ethertype: u16) -> Option<L4> {
    if ethertype == ETH_P_IP {
        let h: Ipv4Head = pkt.read(l3_off)?;
        if h.proto != PROTO_UDP && h.proto != PROTO_TCP {
            return None;
        }
        let ihl = usize::from(h.ver_ihl & 0x0f) * 4;
        if ihl < 20 {
            return None;
        }
        // RFC 791: MF flag (0x2000) and 13-bit fragment offset.
        let frag = u16::from_be_bytes(h.frag);
        let fragment = frag & 0x3fff != 0;
        Some(L4 {
            family: FAMILY_V4,
            proto: h.proto,
            l4_off: l3_off + ihl,
            fragment,
            nonfirst: frag & 0x1fff != 0,
        })
    } else if ethertype == ETH_P_IPV6 {
        let mut next: u8 = pkt.read(l3_off + 6)?;
        let mut off = l3_off + 40;
        let mut fragment = false;
        let mut nonfirst = false;
        for _ in 0..MAX_IPV6_EXT {
            match next {
                PROTO_UDP | PROTO_TCP => {
                    return Some(L4 {
                        family: FAMILY_V6,
                        proto: next,
                        l4_off: off,
                        fragment,
                        nonfirst,
                    });
                }
                IPV6_HOPOPTS | IPV6_ROUTING | IPV6_DSTOPTS => {
                    let [n, len]: [u8; 2] = pkt.read(off)?;
                    next = n;
                    off += (usize::from(len) + 1) * 8;
                }
                IPV6_AH => {
                    let [n, len]: [u8; 2] = pkt.read(off)?;
                    next = n;
                    off += (usize::from(len) + 2) * 4;
                }
                IPV6_FRAGMENT => {
                    // RFC 8200 §4.5: next header, reserved, offset(13)|res|M.
                    let [n, _res, o0, o1]: [u8; 4] = pkt.read(off)?;
                    next = n;
                    fragment = true;
                    nonfirst = u16::from_be_bytes([o0, o1]) & 0xfff8 != 0;
                    off += 8;
                }
                _ => return None,
            }
        }
        None
    } else {
        None
    }
}

/// The source and destination ports at `l4_off` (host order).
#[inline(always)]
pub fn ports(pkt: &Pkt, l4_off: usize) -> Option<(u16, u16)> {
    let [a, b, c, d]: [u8; 4] = pkt.read(l4_off)?;
    Some((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])))
}
