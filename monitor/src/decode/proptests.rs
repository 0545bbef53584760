//! Property tests: whatever bytes arrive, the decoder neither panics nor
//! loses track — every packet ends in exactly one counter, every DNS
//! payload is a message or a counted drop, every fragment is used, dropped
//! or still held.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use hickory_proto::rr::RecordType;
use proptest::prelude::*;

use super::*;
use crate::capture::{CapturedPacket, LinkType};

fn assert_ledgers(d: &Decoder, pushed: u64) {
    let c = d.counters();
    assert_eq!(c.packets, pushed);
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

fn link() -> impl Strategy<Value = LinkType> {
    prop_oneof![
        Just(LinkType::Ethernet),
        Just(LinkType::LinuxSll),
        Just(LinkType::LinuxSll2),
        Just(LinkType::RawIp),
    ]
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Valid frames of every shape the decoder knows.
fn corpus() -> Vec<Vec<u8>> {
    let (c4, s4, c6, s6) = (
        sa("198.18.0.10:40000"),
        sa("198.18.0.53:53"),
        sa("[fd00::10]:40001"),
        sa("[fd00::53]:53"),
    );
    let q = build::dns_query(1, "www.example.test.", RecordType::A);
    let a = build::dns_answer_cname_a(
        1,
        "www.example.test.",
        "real.example.test.",
        "198.18.1.1".parse().unwrap(),
    );
    let big = build::dns_answer_txt(
        2,
        "big.example.test.",
        &["y".repeat(200), "z".repeat(250), "w".repeat(100)],
    );
    let mut v = vec![
        build::udp_frame(c4, s4, &q),
        build::udp_frame(s4, c4, &a),
        build::udp_frame(c6, s6, &q),
        build::ethernet(
            &build::ip(c6.ip(), s6.ip(), build::UDP, &build::udp(40001, 53, &q)),
            &[(build::ETH_8021Q, 5)],
        ),
        build::tcp_frame(c4, s4, 100, build::TCP_SYN, b""),
        build::tcp_frame(c4, s4, 101, build::TCP_PSH_ACK, &build::tcp_framed(&q)),
        build::tcp_frame(s4, c4, 900, build::TCP_SYN | 0x10, b""),
        build::tcp_frame(
            s4,
            c4,
            901,
            build::TCP_PSH_ACK,
            &build::tcp_framed(&a)[..10],
        ),
        build::tcp_frame(
            s4,
            c4,
            911,
            build::TCP_PSH_ACK | build::TCP_FIN,
            &build::tcp_framed(&a)[10..],
        ),
    ];
    let (std::net::IpAddr::V4(s), std::net::IpAddr::V4(d)) = (s4.ip(), c4.ip()) else {
        unreachable!()
    };
    for f in build::ipv4_fragments(s, d, build::UDP, 7, &build::udp(53, 40000, &big), 200) {
        v.push(build::ethernet(&f, &[]));
    }
    let (std::net::IpAddr::V6(s), std::net::IpAddr::V6(d)) = (s6.ip(), c6.ip()) else {
        unreachable!()
    };
    for f in build::ipv6_fragments(s, d, build::UDP, 8, &build::udp(53, 40001, &big), 256) {
        v.push(build::ethernet(&f, &[]));
    }
    v
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Truncate { to: usize, captured_short: bool },
    Extend(Vec<u8>),
    Set { at: usize, value: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(to, captured_short)| Mutation::Truncate { to, captured_short }),
        1 => proptest::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Extend),
        3 => (any::<usize>(), prop_oneof![Just(0u8), Just(0xff), Just(0x40), Just(0x2c), Just(53)])
            .prop_map(|(at, value)| Mutation::Set { at, value }),
    ]
}

fn packet(link: LinkType, data: Vec<u8>, orig_len: u32, ms: u64) -> CapturedPacket {
    CapturedPacket {
        timestamp: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms),
        link,
        interface: None,
        socket_cookie: None,
        orig_len,
        data,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(pkts in proptest::collection::vec((link(), proptest::collection::vec(any::<u8>(), 0..300), 0u32..400), 1..40)) {
        let mut d = Decoder::new(DecodeLimits::default());
        let mut out = Vec::new();
        let n = pkts.len() as u64;
        for (i, (l, data, orig)) in pkts.into_iter().enumerate() {
            d.push(&packet(l, data, orig, i as u64 * 700), &mut out);
        }
        assert_ledgers(&d, n);
        prop_assert_eq!(out.len() as u64, d.counters().messages);
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        picks in proptest::collection::vec((any::<prop::sample::Index>(), proptest::collection::vec(mutation(), 0..4)), 1..60),
        small_limits in any::<bool>(),
    ) {
        let corpus = corpus();
        let limits = if small_limits {
            // Tight bounds so floods and evictions happen inside a case.
            DecodeLimits {
                frag_max_datagrams: 2,
                frag_max_bytes: 600,
                frag_max_per_datagram: 3,
                tcp_max_flows: 2,
                tcp_max_ooo_segments: 1,
                tcp_max_ooo_bytes: 64,
                tcp_max_total_bytes: 200,
                max_message: 300,
                ..DecodeLimits::default()
            }
        } else {
            DecodeLimits::default()
        };
        let mut d = Decoder::new(limits);
        let mut out = Vec::new();
        let n = picks.len() as u64;
        for (i, (pick, muts)) in picks.into_iter().enumerate() {
            let mut data = pick.get(&corpus).clone();
            let mut orig = data.len() as u32;
            for m in muts {
                match m {
                    Mutation::Flip { at, xor } => {
                        if !data.is_empty() {
                            let at = at % data.len();
                            data[at] ^= xor;
                        }
                    }
                    Mutation::Truncate { to, captured_short } => {
                        data.truncate(to % (data.len() + 1));
                        if !captured_short {
                            orig = data.len() as u32;
                        }
                    }
                    Mutation::Extend(extra) => {
                        data.extend(extra);
                        orig = orig.max(data.len() as u32);
                    }
                    Mutation::Set { at, value } => {
                        if !data.is_empty() {
                            let at = at % data.len();
                            data[at] = value;
                        }
                    }
                }
            }
            d.push(&packet(LinkType::Ethernet, data, orig, i as u64 * 300), &mut out);
        }
        assert_ledgers(&d, n);
        prop_assert_eq!(out.len() as u64, d.counters().messages);
        d.expire(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        prop_assert_eq!(d.held().fragments, 0);
        prop_assert_eq!(d.held().tcp_streams, 0);
        assert_ledgers(&d, n);
    }

    #[test]
    fn random_dns_payloads_on_port_53_never_panic(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..20)) {
        let mut d = Decoder::new(DecodeLimits::default());
        let mut out = Vec::new();
        let n = payloads.len() as u64;
        for (i, p) in payloads.iter().enumerate() {
            let f = build::udp_frame(sa("198.18.0.53:53"), sa("198.18.0.10:40000"), p);
            d.push(&packet(LinkType::Ethernet, f.clone(), f.len() as u32, i as u64), &mut out);
        }
        assert_ledgers(&d, n);
        prop_assert_eq!(d.counters().udp_payloads, n);
    }
}

/// A real message with one byte changed anywhere still gives a message or a
/// counted drop — exhaustively over every byte position, not by sampling.
#[test]
fn every_single_byte_corruption_of_an_answer_is_accounted() {
    let a = build::dns_answer_cname_a(
        9,
        "www.example.test.",
        "real.example.test.",
        "198.18.1.1".parse().unwrap(),
    );
    let mut d = Decoder::new(DecodeLimits::default());
    let mut out = Vec::new();
    let mut n = 0;
    for at in 0..a.len() {
        for v in [0u8, 0xc0, 0xff, 0x3f] {
            let mut m = a.clone();
            m[at] = v;
            let f = build::udp_frame(sa("198.18.0.53:53"), sa("198.18.0.10:40000"), &m);
            d.push(
                &packet(LinkType::Ethernet, f.clone(), f.len() as u32, 0),
                &mut out,
            );
            n += 1;
        }
    }
    assert_ledgers(&d, n);
    assert!(d.counters().malformed_dns > 0);
    assert!(d.counters().messages > 0);
}
