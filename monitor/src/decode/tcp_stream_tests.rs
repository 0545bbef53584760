//! TCP DNS stream reassembly tests, hostile cases included.

use std::time::{Duration, SystemTime};

use super::*;

const ACK: u8 = 0x10;

fn t(s: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
}

fn key(port: u16) -> FlowKey {
    FlowKey {
        src: "198.18.0.53:53".parse().unwrap(),
        dst: format!("198.18.0.1:{port}").parse().unwrap(),
    }
}

/// A DNS-shaped message: header with `id`, QDCOUNT=1, then `n` filler bytes.
fn msg(id: u16, n: usize) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend((0..n).map(|i| (i % 200) as u8));
    m
}

fn framed(m: &[u8]) -> Vec<u8> {
    let mut v = (m.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(m);
    v
}

struct Rig {
    r: TcpReassembler,
    l: DecodeLimits,
    c: DecodeCounters,
    out: Vec<Vec<u8>>,
}

impl Rig {
    fn new(l: DecodeLimits) -> Self {
        Self {
            r: TcpReassembler::new(),
            l,
            c: DecodeCounters::default(),
            out: Vec::new(),
        }
    }
    fn seg(&mut self, k: FlowKey, seq: u32, flags: u8, payload: &[u8]) {
        let seg = Tcp {
            src_port: k.src.port(),
            dst_port: k.dst.port(),
            seq,
            flags,
            payload,
        };
        self.r
            .push(k, &seg, t(0), &self.l, &mut self.c, &mut self.out);
    }
}

const ISN: u32 = 1000;

#[test]
fn one_message_in_one_segment() {
    let mut g = Rig::new(DecodeLimits::default());
    g.seg(key(1), ISN, TCP_SYN, b"");
    g.seg(key(1), ISN + 1, ACK, &framed(&msg(1, 30)));
    assert_eq!(g.out, vec![msg(1, 30)]);
    assert_eq!(g.c.tcp_messages, 1);
}

#[test]
fn several_messages_in_one_segment() {
    let mut g = Rig::new(DecodeLimits::default());
    let mut p = framed(&msg(1, 10));
    p.extend(framed(&msg(2, 0)));
    p.extend(framed(&msg(3, 300)));
    g.seg(key(1), ISN, TCP_SYN, b"");
    g.seg(key(1), ISN + 1, ACK, &p);
    assert_eq!(g.out, vec![msg(1, 10), msg(2, 0), msg(3, 300)]);
}

#[test]
fn message_across_three_segments_including_split_prefix() {
    let mut g = Rig::new(DecodeLimits::default());
    let p = framed(&msg(7, 3000));
    g.seg(key(1), ISN, TCP_SYN, b"");
    // The first segment holds only one byte of the length prefix.
    g.seg(key(1), ISN + 1, ACK, &p[..1]);
    g.seg(key(1), ISN + 2, ACK, &p[1..1500]);
    assert!(g.out.is_empty());
    g.seg(key(1), ISN + 1 + 1500, ACK, &p[1500..]);
    assert_eq!(g.out, vec![msg(7, 3000)]);
}

#[test]
fn out_of_order_segments_are_put_back_in_order() {
    let mut g = Rig::new(DecodeLimits::default());
    let p = framed(&msg(9, 2000));
    g.seg(key(1), ISN, TCP_SYN, b"");
    g.seg(key(1), ISN + 1, ACK, &p[..700]);
    g.seg(key(1), ISN + 1 + 1400, ACK, &p[1400..]);
    assert!(g.out.is_empty());
    assert_eq!(g.c.tcp_out_of_order, 1);
    g.seg(key(1), ISN + 1 + 700, ACK, &p[700..1400]);
    assert_eq!(g.out, vec![msg(9, 2000)]);
    assert_eq!(g.c.tcp_gap, 0);
}

#[test]
fn retransmissions_and_partial_overlaps_are_ignored() {
    let mut g = Rig::new(DecodeLimits::default());
    let p = framed(&msg(9, 100));
    g.seg(key(1), ISN, TCP_SYN, b"");
    g.seg(key(1), ISN + 1, ACK, &p[..50]);
    g.seg(key(1), ISN + 1, ACK, &p[..50]); // exact retransmission
    g.seg(key(1), ISN + 1 + 20, ACK, &p[20..80]); // overlaps, 30 new bytes
    g.seg(key(1), ISN + 1 + 80, ACK, &p[80..]);
    assert_eq!(g.out, vec![msg(9, 100)]);
    assert_eq!(g.c.tcp_retransmit, 1);
}

#[test]
fn lost_segment_is_counted_and_stream_resynchronises() {
    let l = DecodeLimits {
        tcp_max_ooo_segments: 2,
        ..Default::default()
    };
    let mut g = Rig::new(l);
    g.seg(key(1), ISN, TCP_SYN, b"");
    let a = framed(&msg(1, 1000));
    let mut seq = ISN + 1;
    g.seg(key(1), seq, ACK, &a[..500]);
    seq += 500;
    // a[500..] is lost. Then the rest of message 1 never comes, and the
    // server sends messages 2, 3, 4, one segment each.
    seq += (a.len() - 500) as u32;
    for id in 2..=4u16 {
        let m = framed(&msg(id, 40));
        g.seg(key(1), seq, ACK, &m);
        seq += m.len() as u32;
    }
    assert_eq!(g.c.tcp_gap, 1);
    assert_eq!(g.out, vec![msg(2, 40), msg(3, 40), msg(4, 40)]);
    // Continues normally afterwards.
    g.seg(key(1), seq, ACK, &framed(&msg(5, 1)));
    assert_eq!(g.out.last(), Some(&msg(5, 1)));
}

#[test]
fn resync_skips_segments_that_do_not_start_a_message() {
    let l = DecodeLimits {
        tcp_max_ooo_segments: 1,
        ..Default::default()
    };
    let mut g = Rig::new(l);
    g.seg(key(1), ISN, TCP_SYN, b"");
    let big = framed(&msg(1, 4000));
    // First 1000 bytes lost; then two mid-message segments, then a new message.
    let mut seq = ISN + 1 + 1000;
    g.seg(key(1), seq, ACK, &big[1000..2500]);
    seq += 1500;
    g.seg(key(1), seq, ACK, &big[2500..]);
    seq += (big.len() - 2500) as u32;
    let m = framed(&msg(2, 5));
    g.seg(key(1), seq, ACK, &m);
    assert_eq!(g.c.tcp_gap, 1);
    assert!(g.c.tcp_desync_segments >= 1);
    assert_eq!(g.out, vec![msg(2, 5)]);
}

#[test]
fn joining_mid_stream_waits_for_a_message_start() {
    let mut g = Rig::new(DecodeLimits::default());
    let a = framed(&msg(1, 500));
    g.seg(key(1), 5000, ACK, &a[100..]); // no SYN seen, middle of a message
    assert!(g.out.is_empty());
    assert_eq!(g.c.tcp_desync_segments, 1);
    let b = framed(&msg(2, 8));
    g.seg(key(1), 5000 + (a.len() - 100) as u32, ACK, &b);
    assert_eq!(g.out, vec![msg(2, 8)]);
}

#[test]
fn lying_length_prefix_waits_bounded_then_counts_incomplete() {
    let mut g = Rig::new(DecodeLimits::default());
    g.seg(key(1), ISN, TCP_SYN, b"");
    // Claims 60,000 bytes, sends 14.
    let mut p = 60_000u16.to_be_bytes().to_vec();
    p.extend(msg(1, 0));
    g.seg(key(1), ISN + 1, ACK | TCP_FIN, &p);
    assert!(g.out.is_empty());
    assert_eq!(g.c.tcp_incomplete, 1);
    assert_eq!(g.r.streams_held(), 0);
    assert_eq!(g.r.bytes_held(), 0);
}

#[test]
fn length_prefix_over_the_limit_is_skipped_not_buffered() {
    let l = DecodeLimits {
        max_message: 512,
        ..Default::default()
    };
    let mut g = Rig::new(l);
    g.seg(key(1), ISN, TCP_SYN, b"");
    let big = framed(&msg(1, 1000));
    let small = framed(&msg(2, 10));
    let mut p = big.clone();
    p.extend_from_slice(&small);
    g.seg(key(1), ISN + 1, ACK, &p[..600]);
    assert!(
        g.r.bytes_held() < 600,
        "oversized message must not be buffered"
    );
    g.seg(key(1), ISN + 601, ACK, &p[600..]);
    assert_eq!(g.c.oversized, 1);
    assert_eq!(g.out, vec![msg(2, 10)]);
    assert_eq!(g.c.tcp_messages, 2);
}

#[test]
fn zero_and_tiny_lengths_are_framed_for_the_dns_parser_to_reject() {
    let mut g = Rig::new(DecodeLimits::default());
    g.seg(key(1), ISN, TCP_SYN, b"");
    let mut p = vec![0, 0, 0, 3, 1, 2, 3];
    p.extend(framed(&msg(4, 0)));
    g.seg(key(1), ISN + 1, ACK, &p);
    assert_eq!(g.out, vec![vec![], vec![1, 2, 3], msg(4, 0)]);
}

#[test]
fn rst_forgets_both_directions() {
    let mut g = Rig::new(DecodeLimits::default());
    g.seg(key(1), ISN, TCP_SYN, b"");
    g.seg(key(1).reverse(), 77, TCP_SYN, b"");
    g.seg(key(1), ISN + 1, ACK, &framed(&msg(1, 10))[..5]);
    assert_eq!(g.r.streams_held(), 2);
    g.seg(key(1).reverse(), 78, TCP_RST, b"");
    assert_eq!(g.r.streams_held(), 0);
    assert_eq!(g.c.tcp_incomplete, 1);
    assert_eq!(g.r.bytes_held(), 0);
}

#[test]
fn fin_closes_after_last_message() {
    let mut g = Rig::new(DecodeLimits::default());
    g.seg(key(1), ISN, TCP_SYN, b"");
    g.seg(key(1), ISN + 1, ACK | TCP_FIN, &framed(&msg(1, 10)));
    assert_eq!(g.out.len(), 1);
    assert_eq!(g.r.streams_held(), 0);
    assert_eq!(g.c.tcp_incomplete, 0);
}

#[test]
fn sequence_numbers_wrap() {
    let mut g = Rig::new(DecodeLimits::default());
    let isn = u32::MAX - 10;
    let p = framed(&msg(3, 100));
    g.seg(key(1), isn, TCP_SYN, b"");
    g.seg(key(1), isn.wrapping_add(1), ACK, &p[..20]);
    g.seg(key(1), isn.wrapping_add(21), ACK, &p[20..]);
    assert_eq!(g.out, vec![msg(3, 100)]);
}

#[test]
fn flow_table_is_bounded() {
    let l = DecodeLimits {
        tcp_max_flows: 64,
        ..Default::default()
    };
    let mut g = Rig::new(l);
    for port in 0..5000u16 {
        g.seg(key(port), ISN, TCP_SYN, b"");
        g.seg(key(port), ISN + 1, ACK, &[0, 50, 1, 2]); // partial message
        assert!(g.r.streams_held() <= 64);
    }
    assert_eq!(g.c.tcp_flow_limit, 5000 - 64);
    assert_eq!(g.c.tcp_incomplete, 5000 - 64);
    assert!(g.r.lru.len() <= 2 * 64 + 64 + 2);
}

#[test]
fn total_bytes_are_bounded() {
    let l = DecodeLimits {
        tcp_max_total_bytes: 100_000,
        ..Default::default()
    };
    let mut g = Rig::new(l);
    for port in 0..100u16 {
        g.seg(key(port), ISN, TCP_SYN, b"");
        let mut p = 65_000u16.to_be_bytes().to_vec();
        p.extend(vec![0u8; 10_000]);
        g.seg(key(port), ISN + 1, ACK, &p);
        assert!(g.r.bytes_held() <= 100_000);
    }
    assert!(g.c.tcp_flow_limit > 0);
}

#[test]
fn idle_streams_expire() {
    let mut g = Rig::new(DecodeLimits::default());
    g.seg(key(1), ISN, TCP_SYN, b"");
    g.seg(key(1), ISN + 1, ACK, &[0, 40, 1]);
    g.r.expire(t(59), &g.l, &mut g.c);
    assert_eq!(g.r.streams_held(), 1);
    g.r.expire(t(60), &g.l, &mut g.c);
    assert_eq!(g.r.streams_held(), 0);
    assert_eq!(g.c.tcp_incomplete, 1);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Any segmentation, any arrival order, any retransmissions: as long
        /// as nothing is lost and the out-of-order buffer can hold it, the
        /// messages come out exactly, in order.
        #[test]
        fn any_segmentation_and_order_gives_the_same_messages(
            sizes in proptest::collection::vec(0usize..600, 1..8),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
            order in any::<prop::sample::Index>(),
            dups in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
            isn in any::<u32>(),
        ) {
            let msgs: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, n)| msg(i as u16, *n)).collect();
            let stream: Vec<u8> = msgs.iter().flat_map(|m| framed(m)).collect();
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len())).collect();
            points.extend([0, stream.len()]);
            points.sort_unstable();
            points.dedup();
            let mut segs: Vec<(u32, Vec<u8>)> = points
                .windows(2)
                .map(|w| (isn.wrapping_add(1).wrapping_add(w[0] as u32), stream[w[0]..w[1]].to_vec()))
                .collect();
            for d in &dups {
                let s = d.get(&segs).clone();
                segs.push(s);
            }
            // A rotation of the arrival order (every segment still arrives).
            let k = order.index(segs.len());
            segs.rotate_left(k);
            let mut g = Rig::new(DecodeLimits {
                tcp_max_ooo_segments: 64,
                ..Default::default()
            });
            g.seg(key(1), isn, TCP_SYN, b"");
            for (seq, p) in &segs {
                g.seg(key(1), *seq, ACK, p);
            }
            prop_assert_eq!(&g.out, &msgs);
            prop_assert_eq!(g.c.tcp_gap, 0);
            prop_assert_eq!(g.r.bytes_held(), 0);
        }
    }
}
