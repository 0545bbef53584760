//! End-to-end decoder tests: packets in, DNS messages and counters out.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use hickory_proto::op::MessageType;
use hickory_proto::rr::RecordType;

use super::*;
use crate::capture::LinkType;
use crate::decode::build;

fn t(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const CLIENT4: &str = "198.18.0.10:40000";
const SERVER4: &str = "198.18.0.53:53";
const CLIENT6: &str = "[fd00::10]:40001";
const SERVER6: &str = "[fd00::53]:53";

/// Units and DNS payloads both balance (see counters.rs).
fn assert_ledgers(d: &Decoder) {
    let c = d.counters();
    assert_eq!(
        c.packets + c.frag_reassembled,
        c.unit_outcomes(),
        "unit ledger: {c:?}"
    );
    assert_eq!(
        c.udp_payloads + c.tcp_messages,
        c.messages + c.malformed_dns + c.oversized,
        "dns ledger: {c:?}"
    );
    assert_eq!(
        c.fragments,
        c.frag_used + c.frag_dropped() + d.held().fragments as u64,
        "fragment ledger: {c:?}"
    );
}

fn run(d: &mut Decoder, frames: Vec<(LinkType, Vec<u8>)>) -> Vec<DnsMessage> {
    let mut out = Vec::new();
    for (i, (link, f)) in frames.into_iter().enumerate() {
        d.push(&build::captured(link, f, t(i as u64)), &mut out);
    }
    assert_ledgers(d);
    out
}

fn eth(f: Vec<u8>) -> (LinkType, Vec<u8>) {
    (LinkType::Ethernet, f)
}

#[test]
fn udp_query_and_answer_ipv4() {
    let mut d = Decoder::new(DecodeLimits::default());
    let q = build::dns_query(7, "www.example.test.", RecordType::A);
    let a = build::dns_answer_a(7, "www.example.test.", &["198.18.1.1".parse().unwrap()]);
    let out = run(
        &mut d,
        vec![
            eth(build::udp_frame(sa(CLIENT4), sa(SERVER4), &q)),
            eth(build::udp_frame(sa(SERVER4), sa(CLIENT4), &a)),
        ],
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].message.metadata.message_type, MessageType::Query);
    assert_eq!((out[0].src, out[0].dst), (sa(CLIENT4), sa(SERVER4)));
    assert_eq!(out[1].message.metadata.message_type, MessageType::Response);
    assert_eq!(out[1].transport, Transport::Udp);
    assert_eq!(out[1].raw.to_vec(), *a);
    assert_eq!(out[1].timestamp, t(1));
    assert_eq!(d.counters().messages, 2);
}

#[test]
fn repeated_messages_keep_their_own_id_and_bytes() {
    // The same query three times under different ids (a stub retrying, or
    // asking again): the parse is shared, each message keeps its own id
    // and its own bytes.
    let mut d = Decoder::new(DecodeLimits::default());
    let ids = [7u16, 0x1234, 0xfffe];
    let frames = ids
        .iter()
        .map(|&id| {
            let q = build::dns_query(id, "www.example.test.", RecordType::A);
            eth(build::udp_frame(sa(CLIENT4), sa(SERVER4), &q))
        })
        .collect();
    let out = run(&mut d, frames);
    assert_eq!(out.len(), 3);
    for (m, id) in out.iter().zip(ids) {
        assert_eq!(m.txid, id);
        assert_eq!(
            m.raw.to_vec(),
            *build::dns_query(id, "www.example.test.", RecordType::A)
        );
    }
    assert!(std::sync::Arc::ptr_eq(&out[0].message, &out[2].message));
    assert_eq!(d.memo_stats().hits, 2);
    assert_eq!(d.counters().messages, 3);
}

#[test]
fn other_ports_and_protocols_are_not_dns() {
    let mut d = Decoder::new(DecodeLimits::default());
    let q = build::dns_query(7, "www.example.test.", RecordType::A);
    let icmp = build::ipv4(
        "198.18.0.1".parse().unwrap(),
        "198.18.0.2".parse().unwrap(),
        1,
        &[8, 0, 0, 0],
    );
    let mut arp = build::ethernet(&[0x45; 28], &[]);
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    let out = run(
        &mut d,
        vec![
            eth(build::udp_frame(
                sa("198.18.0.10:40000"),
                sa("198.18.0.53:5353"),
                &q,
            )),
            eth(build::ethernet(&icmp, &[])),
            eth(arp),
        ],
    );
    assert!(out.is_empty());
    assert_eq!(d.counters().not_dns, 3);
    // The same packet on a configured port is DNS.
    let mut d = Decoder::new(DecodeLimits {
        dns_ports: vec![5353],
        ..Default::default()
    });
    let out = run(
        &mut d,
        vec![eth(build::udp_frame(
            sa("198.18.0.10:40000"),
            sa("198.18.0.53:5353"),
            &q,
        ))],
    );
    assert_eq!(out.len(), 1);
}

#[test]
fn vlan_tagged_frames_decode() {
    let mut d = Decoder::new(DecodeLimits::default());
    let q = build::dns_query(1, "v.example.test.", RecordType::AAAA);
    let l3 = build::ip(
        sa(CLIENT6).ip(),
        sa(SERVER6).ip(),
        build::UDP,
        &build::udp(40001, 53, &q),
    );
    let out = run(
        &mut d,
        vec![
            eth(build::ethernet(&l3, &[(build::ETH_8021Q, 100)])),
            eth(build::ethernet(
                &l3,
                &[(build::ETH_8021AD, 10), (build::ETH_8021Q, 100)],
            )),
        ],
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].src, sa(CLIENT6));
}

#[test]
fn cooked_and_raw_link_types_decode() {
    let q = build::dns_query(1, "c.example.test.", RecordType::A);
    let l3 = build::ip(
        sa(CLIENT4).ip(),
        sa(SERVER4).ip(),
        build::UDP,
        &build::udp(40000, 53, &q),
    );
    let mut d = Decoder::new(DecodeLimits::default());
    let out = run(
        &mut d,
        vec![
            (LinkType::LinuxSll, build::sll(&l3)),
            (LinkType::LinuxSll2, build::sll2(&l3)),
            (LinkType::RawIp, l3.clone()),
        ],
    );
    assert_eq!(out.len(), 3);
    // The wrong link type for the bytes is not silently accepted.
    let mut d = Decoder::new(DecodeLimits::default());
    let out = run(&mut d, vec![(LinkType::LinuxSll2, build::sll(&l3))]);
    assert!(out.is_empty());
}

#[test]
fn ipv6_with_extension_headers_decodes() {
    let q = build::dns_query(3, "x6.example.test.", RecordType::AAAA);
    let (IpAddr::V6(s), IpAddr::V6(dd)) = (sa(CLIENT6).ip(), sa(SERVER6).ip()) else {
        unreachable!()
    };
    let l3 = build::ipv6_with_ext(
        s,
        dd,
        build::UDP,
        &build::udp(40001, 53, &q),
        &[(0, 0), (60, 1)],
    );
    let mut d = Decoder::new(DecodeLimits::default());
    let out = run(&mut d, vec![eth(build::ethernet(&l3, &[]))]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dst, sa(SERVER6));
}

fn big_txt_answer() -> Vec<u8> {
    let strings: Vec<String> = (0..20).map(|i| format!("{i:02}").repeat(100)).collect();
    build::dns_answer_txt(9, "big.example.test.", &strings)
}

fn v4_fragments(dns: &[u8], id: u16) -> Vec<Vec<u8>> {
    let (IpAddr::V4(s), IpAddr::V4(dd)) = (sa(SERVER4).ip(), sa(CLIENT4).ip()) else {
        unreachable!()
    };
    build::ipv4_fragments(s, dd, build::UDP, id, &build::udp(53, 40000, dns), 1480)
        .into_iter()
        .map(|p| build::ethernet(&p, &[]))
        .collect()
}

#[test]
fn fragmented_ipv4_answer_reassembles_in_any_order() {
    let a = big_txt_answer();
    assert!(a.len() > 4000);
    for reverse in [false, true] {
        let mut frags = v4_fragments(&a, 0x4242);
        assert_eq!(frags.len(), 3);
        if reverse {
            frags.reverse();
        }
        let mut d = Decoder::new(DecodeLimits::default());
        let out = run(&mut d, frags.into_iter().map(eth).collect());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].raw.to_vec(), *a);
        assert_eq!(out[0].src, sa(SERVER4));
        let c = d.counters();
        assert_eq!((c.fragments, c.frag_reassembled, c.udp_payloads), (3, 1, 1));
    }
}

#[test]
fn fragmented_ipv6_answer_reassembles() {
    let a = big_txt_answer();
    let (IpAddr::V6(s), IpAddr::V6(dd)) = (sa(SERVER6).ip(), sa(CLIENT6).ip()) else {
        unreachable!()
    };
    let frags = build::ipv6_fragments(s, dd, build::UDP, 99, &build::udp(53, 40001, &a), 1448);
    let mut d = Decoder::new(DecodeLimits::default());
    let out = run(
        &mut d,
        frags.iter().map(|f| eth(build::ethernet(f, &[]))).collect(),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].raw.to_vec(), *a);
}

#[test]
fn overlapping_fragment_drops_the_answer() {
    let a = big_txt_answer();
    let mut frags = v4_fragments(&a, 0x77);
    // Forge a fragment at offset 1472 (inside the first) carrying other bytes.
    let (IpAddr::V4(s), IpAddr::V4(dd)) = (sa(SERVER4).ip(), sa(CLIENT4).ip()) else {
        unreachable!()
    };
    let evil =
        build::ipv4_fragments(s, dd, build::UDP, 0x77, &vec![0xAA; 1480 * 3], 1480)[1].clone();
    let mut evil = evil;
    evil[6..8].copy_from_slice(&(0x2000u16 | 184).to_be_bytes()); // offset 1472, MF
    evil[10..12].copy_from_slice(&[0, 0]);
    let c = {
        let mut sum: u32 = evil[..20]
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    };
    evil[10..12].copy_from_slice(&c.to_be_bytes());
    frags.insert(1, build::ethernet(&evil, &[]));
    let mut d = Decoder::new(DecodeLimits::default());
    let out = run(&mut d, frags.into_iter().map(eth).collect());
    assert!(out.is_empty());
    assert_eq!(d.counters().frag_overlap, 2);
}

#[test]
fn fragments_that_never_complete_time_out_during_replay() {
    let a = big_txt_answer();
    let frags = v4_fragments(&a, 5);
    let mut d = Decoder::new(DecodeLimits::default());
    let mut out = Vec::new();
    d.push(
        &build::captured(LinkType::Ethernet, frags[0].clone(), t(0)),
        &mut out,
    );
    // An unrelated packet 31 s later makes the decoder expire by itself.
    let q = build::dns_query(1, "later.example.test.", RecordType::A);
    d.push(
        &build::captured(
            LinkType::Ethernet,
            build::udp_frame(sa(CLIENT4), sa(SERVER4), &q),
            t(31_000),
        ),
        &mut out,
    );
    assert_eq!(d.counters().frag_timeout, 1);
    assert_eq!(out.len(), 1);
    assert_ledgers(&d);
}

#[test]
fn tcp_query_and_split_answer() {
    let q = build::tcp_framed(&build::dns_query(11, "t.example.test.", RecordType::TXT));
    let a = build::tcp_framed(&big_txt_answer());
    let (c, s) = (sa(CLIENT4), sa(SERVER4));
    let mut frames = vec![
        eth(build::tcp_frame(c, s, 100, build::TCP_SYN, b"")),
        eth(build::tcp_frame(s, c, 500, build::TCP_SYN | 0x10, b"")),
        eth(build::tcp_frame(c, s, 101, build::TCP_PSH_ACK, &q)),
    ];
    let mut seq = 501;
    for chunk in a.chunks(1448) {
        frames.push(eth(build::tcp_frame(s, c, seq, build::TCP_PSH_ACK, chunk)));
        seq += chunk.len() as u32;
    }
    frames.push(eth(build::tcp_frame(s, c, seq, build::TCP_FIN | 0x10, b"")));
    let mut d = Decoder::new(DecodeLimits::default());
    let out = run(&mut d, frames);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].transport, Transport::Tcp);
    assert_eq!((out[1].src, out[1].dst), (s, c));
    assert_eq!(out[1].raw.to_vec(), *big_txt_answer());
    assert_eq!(d.held().tcp_streams, 1); // the client side has not closed
}

#[test]
fn truncated_capture_is_counted_not_malformed() {
    let a = build::dns_answer_a(7, "www.example.test.", &["198.18.1.1".parse().unwrap()]);
    let f = build::udp_frame(sa(SERVER4), sa(CLIENT4), &a);
    let mut d = Decoder::new(DecodeLimits::default());
    let mut out = Vec::new();
    let mut p = build::captured(LinkType::Ethernet, f.clone(), t(0));
    p.data.truncate(40); // snaplen 40
    d.push(&p, &mut out);
    assert_eq!(d.counters().truncated_capture, 1);
    // Same bytes, but the packet claims to be whole: malformed.
    let mut p = build::captured(LinkType::Ethernet, f, t(0));
    p.data.truncate(40);
    p.orig_len = 40;
    d.push(&p, &mut out);
    assert_eq!(d.counters().malformed_l3, 1);
    assert!(out.is_empty());
    assert_ledgers(&d);
}

#[test]
fn malformed_dns_on_port_53_is_counted() {
    let mut d = Decoder::new(DecodeLimits::default());
    let out = run(
        &mut d,
        vec![eth(build::udp_frame(
            sa(CLIENT4),
            sa(SERVER4),
            b"not dns at all",
        ))],
    );
    assert!(out.is_empty());
    assert_eq!(
        (d.counters().udp_payloads, d.counters().malformed_dns),
        (1, 1)
    );
}
