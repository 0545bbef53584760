//! UDP (RFC 768) and TCP (RFC 9293) headers: ports, payload, and for TCP the
//! sequence number and flags the stream reassembler needs.

use super::counters::Outcome;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Udp<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

pub(crate) const TCP_FIN: u8 = 0x01;
pub(crate) const TCP_SYN: u8 = 0x02;
pub(crate) const TCP_RST: u8 = 0x04;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tcp<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub flags: u8,
    pub payload: &'a [u8],
}

fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

/// `d` is the whole IP payload (the IP layer already checked the capture
/// holds all of it), so any shortfall here is the packet's own lie.
pub(crate) fn parse_udp(d: &[u8]) -> Result<Udp<'_>, Outcome> {
    if d.len() < 8 {
        return Err(Outcome::MalformedL4);
    }
    let len = usize::from(be16(d, 4));
    // Length 0 is legal for IPv6 jumbograms only (RFC 2675), which we refuse.
    if len < 8 || len > d.len() {
        return Err(Outcome::MalformedL4);
    }
    Ok(Udp {
        src_port: be16(d, 0),
        dst_port: be16(d, 2),
        payload: &d[8..len],
    })
}

pub(crate) fn parse_tcp(d: &[u8]) -> Result<Tcp<'_>, Outcome> {
    if d.len() < 20 {
        return Err(Outcome::MalformedL4);
    }
    let off = usize::from(d[12] >> 4) * 4;
    if off < 20 || off > d.len() {
        return Err(Outcome::MalformedL4);
    }
    Ok(Tcp {
        src_port: be16(d, 0),
        dst_port: be16(d, 2),
        seq: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
        flags: d[13],
        payload: &d[off..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::build;

    #[test]
    fn udp_header_and_length() {
        let d = build::udp(5353, 53, b"hello");
        let u = parse_udp(&d).unwrap();
        assert_eq!(
            (u.src_port, u.dst_port, u.payload),
            (5353, 53, &b"hello"[..])
        );
        let mut lie = d.clone();
        lie[5] = 200; // length beyond the datagram
        assert_eq!(parse_udp(&lie), Err(Outcome::MalformedL4));
        let mut tiny = d.clone();
        tiny[5] = 7;
        assert_eq!(parse_udp(&tiny), Err(Outcome::MalformedL4));
        assert_eq!(parse_udp(&d[..7]), Err(Outcome::MalformedL4));
    }

    #[test]
    fn tcp_header_options_and_flags() {
        let d = build::tcp(40000, 53, 1000, TCP_SYN, b"");
        let t = parse_tcp(&d).unwrap();
        assert_eq!((t.seq, t.flags, t.payload.len()), (1000, TCP_SYN, 0));
        let d = build::tcp(40000, 53, 7, 0x18, b"xy");
        assert_eq!(parse_tcp(&d).unwrap().payload, b"xy");
        let mut bad = d.clone();
        bad[12] = 0x40; // data offset 16 < 20
        assert_eq!(parse_tcp(&bad), Err(Outcome::MalformedL4));
        let mut long = d.clone();
        long[12] = 0xf0; // 60 bytes, more than the segment holds
        assert_eq!(parse_tcp(&long), Err(Outcome::MalformedL4));
    }
}
