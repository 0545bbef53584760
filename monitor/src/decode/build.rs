//! Packet and DNS message builders for tests, property tests and benches
//! (also handy for the kernel-side tests). Not used on the decode path.
//!
//! L4 checksums are left zero: the decoder never checks them (see `ip.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::SystemTime;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::capture::{CapturedPacket, LinkType};

pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_IPV6: u16 = 0x86DD;
pub const ETH_8021Q: u16 = 0x8100;
pub const ETH_8021AD: u16 = 0x88A8;
pub const UDP: u8 = 17;
pub const TCP: u8 = 6;
pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH_ACK: u8 = 0x18;

fn checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ipv4_header(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    len: usize,
    id: u16,
    frag: u16,
    options: &[u8],
) -> Vec<u8> {
    assert!(options.len().is_multiple_of(4) && options.len() <= 40);
    let ihl = 20 + options.len();
    let total = (ihl + len) as u16;
    let mut h = vec![0x40 | (ihl / 4) as u8, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(options);
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_with_options(src, dst, proto, payload, &[])
}

pub fn ipv4_with_options(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    payload: &[u8],
    options: &[u8],
) -> Vec<u8> {
    let mut p = ipv4_header(src, dst, proto, payload.len(), 0, 0, options);
    p.extend_from_slice(payload);
    p
}

/// Cut an IPv4 payload into fragments of `size` bytes (a multiple of 8).
pub fn ipv4_fragments(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    id: u16,
    payload: &[u8],
    size: usize,
) -> Vec<Vec<u8>> {
    assert!(size.is_multiple_of(8) && size > 0);
    let n = payload.len().div_ceil(size);
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, c)| {
            let mf = if i + 1 < n { 0x2000 } else { 0 };
            let frag = mf | ((i * size / 8) as u16);
            let mut p = ipv4_header(src, dst, proto, c.len(), id, frag, &[]);
            p.extend_from_slice(c);
            p
        })
        .collect()
}

fn ipv6_header(src: Ipv6Addr, dst: Ipv6Addr, next: u8, len: usize) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(len as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h
}

pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv6_with_ext(src, dst, proto, payload, &[])
}

/// IPv6 with a chain of extension headers given as (type, Hdr Ext Len);
/// their bodies are zero (Pad1 options, routing type 0 with no segments).
pub fn ipv6_with_ext(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    proto: u8,
    payload: &[u8],
    chain: &[(u8, u8)],
) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, (_, len)) in chain.iter().enumerate() {
        let next = chain.get(i + 1).map_or(proto, |(t, _)| *t);
        let mut h = vec![0u8; (usize::from(*len) + 1) * 8];
        h[0] = next;
        h[1] = *len;
        body.extend_from_slice(&h);
    }
    body.extend_from_slice(payload);
    let first = chain.first().map_or(proto, |(t, _)| *t);
    let mut p = ipv6_header(src, dst, first, body.len());
    p.extend_from_slice(&body);
    p
}

/// Cut an IPv6 payload into fragments (RFC 8200 §4.5); a payload that fits
/// in one gives an atomic fragment (offset 0, M=0).
pub fn ipv6_fragments(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    proto: u8,
    id: u32,
    payload: &[u8],
    size: usize,
) -> Vec<Vec<u8>> {
    assert!(size.is_multiple_of(8) && size > 0);
    let n = payload.len().div_ceil(size).max(1);
    (0..n)
        .map(|i| {
            let c = &payload[i * size..((i + 1) * size).min(payload.len())];
            let m = u16::from(i + 1 < n);
            let mut fh = vec![proto, 0];
            fh.extend_from_slice(&((((i * size) / 8) as u16) << 3 | m).to_be_bytes());
            fh.extend_from_slice(&id.to_be_bytes());
            let mut p = ipv6_header(src, dst, 44, 8 + c.len());
            p.extend_from_slice(&fh);
            p.extend_from_slice(c);
            p
        })
        .collect()
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = sport.to_be_bytes().to_vec();
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

pub fn tcp(sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = sport.to_be_bytes().to_vec();
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

/// An IP packet of the family of `src` (both must be the same family).
pub fn ip(src: IpAddr, dst: IpAddr, proto: u8, l4: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(s, d, proto, l4),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(s, d, proto, l4),
        _ => panic!("mixed address families"),
    }
}

pub fn ethertype_of(l3: &[u8]) -> u16 {
    if l3.first().is_some_and(|b| b >> 4 == 6) {
        ETH_IPV6
    } else {
        ETH_IPV4
    }
}

/// Ethernet II frame around an IP packet, with optional VLAN tags
/// (outer first) given as (TPID, VLAN id).
pub fn ethernet(l3: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    for (tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&ethertype_of(l3).to_be_bytes());
    f.extend_from_slice(l3);
    f
}

/// Linux cooked capture v1 header (16 bytes) around an IP packet.
pub fn sll(l3: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    f.extend_from_slice(&ethertype_of(l3).to_be_bytes());
    f.extend_from_slice(l3);
    f
}

/// Linux cooked capture v2 header (20 bytes) around an IP packet.
pub fn sll2(l3: &[u8]) -> Vec<u8> {
    let mut f = ethertype_of(l3).to_be_bytes().to_vec();
    f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    f.extend_from_slice(l3);
    f
}

/// Ethernet + IP + UDP carrying `dns`.
pub fn udp_frame(src: SocketAddr, dst: SocketAddr, dns: &[u8]) -> Vec<u8> {
    ethernet(
        &ip(src.ip(), dst.ip(), UDP, &udp(src.port(), dst.port(), dns)),
        &[],
    )
}

/// Ethernet + IP + TCP segment.
pub fn tcp_frame(src: SocketAddr, dst: SocketAddr, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    ethernet(
        &ip(
            src.ip(),
            dst.ip(),
            TCP,
            &tcp(src.port(), dst.port(), seq, flags, payload),
        ),
        &[],
    )
}

pub fn captured(link: LinkType, data: Vec<u8>, timestamp: SystemTime) -> CapturedPacket {
    CapturedPacket {
        timestamp,
        link,
        interface: None,
        socket_cookie: None,
        orig_len: data.len() as u32,
        data,
    }
}

/// A 2-byte length prefix then the message (RFC 1035 §4.2.2).
pub fn tcp_framed(dns: &[u8]) -> Vec<u8> {
    let mut v = (dns.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(dns);
    v
}

fn name(n: &str) -> Name {
    Name::from_ascii(n).expect("test name")
}

/// A recursive query with EDNS (1232 bytes, DO=1).
pub fn dns_query(id: u16, qname: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname), qtype));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(true);
    m.set_edns(e);
    m.to_vec().expect("encodable")
}

/// An answer to `qname`/`qtype` holding `answers` (RD, RA set).
pub fn dns_answer(id: u16, qname: &str, qtype: RecordType, answers: Vec<Record>) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.add_query(Query::query(name(qname), qtype));
    m.add_answers(answers);
    m.to_vec().expect("encodable")
}

pub fn rr(owner: &str, ttl: u32, data: RData) -> Record {
    Record::from_rdata(name(owner), ttl, data)
}

/// An A or AAAA answer (type from the first address).
pub fn dns_answer_a(id: u16, qname: &str, addrs: &[IpAddr]) -> Vec<u8> {
    let qtype = match addrs.first() {
        Some(IpAddr::V6(_)) => RecordType::AAAA,
        _ => RecordType::A,
    };
    let recs = addrs
        .iter()
        .map(|a| match a {
            IpAddr::V4(v4) => rr(qname, 300, RData::A(A(*v4))),
            IpAddr::V6(v6) => rr(qname, 300, RData::AAAA(AAAA(*v6))),
        })
        .collect();
    dns_answer(id, qname, qtype, recs)
}

pub fn dns_answer_txt(id: u16, qname: &str, strings: &[String]) -> Vec<u8> {
    let recs = vec![rr(qname, 60, RData::TXT(TXT::new(strings.to_vec())))];
    dns_answer(id, qname, RecordType::TXT, recs)
}

pub fn dns_answer_cname_a(id: u16, qname: &str, target: &str, addr: Ipv4Addr) -> Vec<u8> {
    let recs = vec![
        rr(qname, 300, RData::CNAME(CNAME(name(target)))),
        rr(target, 300, RData::A(A(addr))),
    ];
    dns_answer(id, qname, RecordType::A, recs)
}

/// A classic pcap file (µs timestamps) with the given LINKTYPE_* value.
pub fn pcap_file(linktype: u32, packets: &[(SystemTime, Vec<u8>)]) -> Vec<u8> {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let header = PcapHeader {
        datalink: pcap_file::DataLink::from(linktype),
        endianness: pcap_file::Endianness::Little,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).expect("in-memory pcap");
    for (t, data) in packets {
        let ts = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        w.write_packet(&PcapPacket::new(ts, data.len() as u32, data))
            .expect("in-memory pcap");
    }
    w.into_writer()
}
