//! IPv4 and IPv6 headers: addresses, upper-layer protocol, payload bounds,
//! and fragment information for the defragmenter.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::counters::Outcome;

pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;
const V6_HOP_BY_HOP: u8 = 0;
const V6_ROUTING: u8 = 43;
const V6_FRAGMENT: u8 = 44;
const V6_AUTH: u8 = 51;
const V6_DEST_OPTS: u8 = 60;
/// Extension headers walked before giving up (RFC 8200 §4.1 recommends at
/// most one of each, and each at most twice for Destination Options).
const MAX_EXT_HEADERS: usize = 8;

/// Where a fragment sits in its datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FragInfo {
    /// IPv4 identification (16 bits) or IPv6 fragment identification.
    pub id: u32,
    /// Byte offset of this fragment's data in the reassembled payload.
    pub offset: usize,
    /// More fragments follow (MF / M flag).
    pub more: bool,
}

/// One IP packet, borrowed from the captured bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Upper-layer protocol; for a fragment, the protocol of the datagram
    /// (IPv6: the Next Header of the fragment header).
    pub proto: u8,
    /// Upper-layer bytes, or this fragment's share of them (IPv6: the
    /// fragmentable part, which may still start with extension headers).
    pub payload: &'a [u8],
    pub fragment: Option<FragInfo>,
}

fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

/// RFC 1071 ones' complement sum over the IPv4 header; zero when valid.
pub(crate) fn header_checksum(h: &[u8]) -> u16 {
    // 16-bit words (an IPv4 header is a whole number of 32-bit words; an
    // odd byte, never seen here, counts as padded with zero).
    let words = h.chunks_exact(2);
    let odd = words.remainder().first().map_or(0, |&b| u32::from(b) << 8);
    let mut sum: u32 = words
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>()
        + odd;
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Parse an IPv4 header (RFC 791), options included.
///
/// The header checksum is verified: it is always computed in software before
/// tc egress (`ip_send_check`) and the host drops bad ones on receive
/// (`ip_rcv_core`), so a packet that fails it never reached a socket and must
/// not become an event. L4 checksums are not checked: with checksum offload
/// they hold partial sums at capture time, even on `lo` and veths.
pub(crate) fn parse_v4(d: &[u8], truncated: bool) -> Result<IpPacket<'_>, Outcome> {
    let short = Outcome::short(truncated, Outcome::MalformedL3);
    if d.len() < 20 {
        return Err(short);
    }
    if d[0] >> 4 != 4 {
        return Err(Outcome::MalformedL3);
    }
    let ihl = usize::from(d[0] & 0x0f) * 4;
    let total = usize::from(be16(d, 2));
    if ihl < 20 || total < ihl {
        return Err(Outcome::MalformedL3);
    }
    if d.len() < ihl {
        return Err(short);
    }
    if header_checksum(&d[..ihl]) != 0 {
        return Err(Outcome::MalformedL3);
    }
    if d.len() < total {
        return Err(short);
    }
    let flags_frag = be16(d, 6);
    let more = flags_frag & 0x2000 != 0;
    let offset = usize::from(flags_frag & 0x1fff) * 8;
    let fragment = (more || offset != 0).then(|| FragInfo {
        id: u32::from(be16(d, 4)),
        offset,
        more,
    });
    Ok(IpPacket {
        src: IpAddr::V4(Ipv4Addr::new(d[12], d[13], d[14], d[15])),
        dst: IpAddr::V4(Ipv4Addr::new(d[16], d[17], d[18], d[19])),
        proto: d[9],
        // Bytes past `total` are link-layer padding (short Ethernet frames).
        payload: &d[ihl..total],
        fragment,
    })
}

/// Parse an IPv6 header (RFC 8200) and walk its extension headers.
pub(crate) fn parse_v6(d: &[u8], truncated: bool) -> Result<IpPacket<'_>, Outcome> {
    let short = Outcome::short(truncated, Outcome::MalformedL3);
    if d.len() < 40 {
        return Err(short);
    }
    if d[0] >> 4 != 6 {
        return Err(Outcome::MalformedL3);
    }
    let plen = usize::from(be16(d, 4));
    if plen == 0 {
        // Jumbograms (RFC 2675) are never DNS; a zero length is otherwise a lie.
        return Err(Outcome::MalformedL3);
    }
    if d.len() < 40 + plen {
        return Err(short);
    }
    let mut a = [0u8; 16];
    a.copy_from_slice(&d[8..24]);
    let src = IpAddr::V6(Ipv6Addr::from(a));
    a.copy_from_slice(&d[24..40]);
    let dst = IpAddr::V6(Ipv6Addr::from(a));
    let body = &d[40..40 + plen];
    let (proto, payload, fragment) = walk_ext_headers(d[6], body, true)?;
    Ok(IpPacket {
        src,
        dst,
        proto,
        payload,
        fragment,
    })
}

/// Skip extension headers starting with `next` at the start of `body`.
///
/// Stops at the first non-extension header (the upper layer, or something we
/// do not look into such as ESP, which the caller sees as not DNS), or at a
/// real fragment header when `allow_frag`. An atomic fragment (offset 0, M=0,
/// RFC 6946) is stepped over and the walk goes on. Called again with
/// `allow_frag = false` on a reassembled payload: a second fragment header
/// there is malformed.
pub(crate) fn walk_ext_headers(
    mut next: u8,
    body: &[u8],
    allow_frag: bool,
) -> Result<(u8, &[u8], Option<FragInfo>), Outcome> {
    let mut at = 0usize;
    for _ in 0..=MAX_EXT_HEADERS {
        match next {
            V6_HOP_BY_HOP | V6_ROUTING | V6_DEST_OPTS | V6_AUTH => {
                if body.len() < at + 2 {
                    return Err(Outcome::MalformedL3);
                }
                // Hdr Ext Len counts 8-octet units beyond the first; AH
                // counts 4-octet units beyond the first two (RFC 4302 §2.2).
                let len = if next == V6_AUTH {
                    (usize::from(body[at + 1]) + 2) * 4
                } else {
                    (usize::from(body[at + 1]) + 1) * 8
                };
                if body.len() < at + len {
                    return Err(Outcome::MalformedL3);
                }
                next = body[at];
                at += len;
            }
            V6_FRAGMENT => {
                if !allow_frag || body.len() < at + 8 {
                    return Err(Outcome::MalformedL3);
                }
                let nh = body[at];
                let off_flags = be16(body, at + 2);
                let id =
                    u32::from_be_bytes([body[at + 4], body[at + 5], body[at + 6], body[at + 7]]);
                let offset = usize::from(off_flags >> 3) * 8;
                let more = off_flags & 1 != 0;
                at += 8;
                next = nh;
                if offset == 0 && !more {
                    continue; // atomic fragment: a whole datagram
                }
                return Ok((nh, &body[at..], Some(FragInfo { id, offset, more })));
            }
            _ => return Ok((next, &body[at..], None)),
        }
    }
    Err(Outcome::MalformedL3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::build;

    #[test]
    fn ipv4_with_options_and_padding() {
        let udp = [0u8; 8];
        let mut p = build::ipv4_with_options(
            "198.18.0.1".parse().unwrap(),
            "198.18.0.2".parse().unwrap(),
            PROTO_UDP,
            &udp,
            &[1, 1, 1, 1], // four NOPs
        );
        p.extend_from_slice(&[0xee; 6]); // Ethernet padding after the datagram
        let ip = parse_v4(&p, false).unwrap();
        assert_eq!(ip.proto, PROTO_UDP);
        assert_eq!(ip.payload, &udp);
        assert_eq!(ip.src, "198.18.0.1".parse::<IpAddr>().unwrap());
        assert!(ip.fragment.is_none());
    }

    #[test]
    fn ipv4_bad_checksum_and_lengths() {
        let good = build::ipv4(
            "198.18.0.1".parse().unwrap(),
            "198.18.0.2".parse().unwrap(),
            PROTO_UDP,
            &[0; 8],
        );
        assert!(parse_v4(&good, false).is_ok());
        let mut bad = good.clone();
        bad[8] ^= 1; // TTL changed, checksum not
        assert_eq!(parse_v4(&bad, false), Err(Outcome::MalformedL3));
        let mut ihl = good.clone();
        ihl[0] = 0x44;
        assert_eq!(parse_v4(&ihl, false), Err(Outcome::MalformedL3));
        assert_eq!(
            parse_v4(&good[..good.len() - 1], false),
            Err(Outcome::MalformedL3)
        );
        assert_eq!(
            parse_v4(&good[..good.len() - 1], true),
            Err(Outcome::TruncatedCapture)
        );
    }

    #[test]
    fn ipv4_fragment_fields() {
        let pkts = build::ipv4_fragments(
            "198.18.0.1".parse().unwrap(),
            "198.18.0.2".parse().unwrap(),
            PROTO_UDP,
            0x1234,
            &[7u8; 100],
            48,
        );
        assert_eq!(pkts.len(), 3);
        let f0 = parse_v4(&pkts[0], false).unwrap().fragment.unwrap();
        assert_eq!(
            f0,
            FragInfo {
                id: 0x1234,
                offset: 0,
                more: true
            }
        );
        let f2 = parse_v4(&pkts[2], false).unwrap().fragment.unwrap();
        assert_eq!(
            f2,
            FragInfo {
                id: 0x1234,
                offset: 96,
                more: false
            }
        );
    }

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        let src = "fd00::1".parse().unwrap();
        let dst = "fd00::2".parse().unwrap();
        let udp = [9u8; 8];
        // hop-by-hop (8 bytes), routing (16 bytes), destination options (8)
        let p = build::ipv6_with_ext(
            src,
            dst,
            PROTO_UDP,
            &udp,
            &[(V6_HOP_BY_HOP, 0), (V6_ROUTING, 1), (V6_DEST_OPTS, 0)],
        );
        let ip = parse_v6(&p, false).unwrap();
        assert_eq!(ip.proto, PROTO_UDP);
        assert_eq!(ip.payload, &udp);
        assert!(ip.fragment.is_none());
        // A cut extension header is malformed, not a panic.
        let mut cut = p.clone();
        cut[5] = 10; // payload length now ends inside the routing header
        cut.truncate(50);
        assert_eq!(parse_v6(&cut, false), Err(Outcome::MalformedL3));
    }

    #[test]
    fn ipv6_too_many_ext_headers() {
        let src = "fd00::1".parse().unwrap();
        let dst = "fd00::2".parse().unwrap();
        let chain: Vec<(u8, u8)> = (0..12).map(|_| (V6_DEST_OPTS, 0)).collect();
        let p = build::ipv6_with_ext(src, dst, PROTO_UDP, &[0; 8], &chain);
        assert_eq!(parse_v6(&p, false), Err(Outcome::MalformedL3));
        let ok: Vec<(u8, u8)> = (0..3).map(|_| (V6_DEST_OPTS, 0)).collect();
        let p = build::ipv6_with_ext(src, dst, PROTO_UDP, &[0; 8], &ok);
        assert!(parse_v6(&p, false).is_ok());
    }

    #[test]
    fn ipv6_fragments_and_atomic_fragment() {
        let src = "fd00::1".parse().unwrap();
        let dst = "fd00::2".parse().unwrap();
        let frags = build::ipv6_fragments(src, dst, PROTO_UDP, 77, &[1u8; 64], 32);
        let ip = parse_v6(&frags[1], false).unwrap();
        assert_eq!(ip.proto, PROTO_UDP);
        assert_eq!(
            ip.fragment,
            Some(FragInfo {
                id: 77,
                offset: 32,
                more: false
            })
        );
        let atomic = build::ipv6_fragments(src, dst, PROTO_UDP, 78, &[1u8; 16], 64);
        assert_eq!(atomic.len(), 1);
        let ip = parse_v6(&atomic[0], false).unwrap();
        assert_eq!(ip.fragment, None);
        assert_eq!(ip.payload.len(), 16);
    }
}
