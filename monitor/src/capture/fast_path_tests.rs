//! The fast path's user-space pieces: held-back queries back into packets
//! the decoder takes, and which clean exchanges become kernel entries.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use monitor_common::fast::{ExchangeKey, FastKey, PQ_F_RD, PendingQuery, QUERY_MAX};

use super::fast_path::{held_query, server_key, synthesize_query, validated_entry};
use super::ringbuf::{KtimeClock, deferred_record, parse_record};
use super::{Direction, Side};
use crate::decode::{DecodeLimits, Decoder, DnsMessage};

/// `fast.example. A` with RD, no EDNS, as its bytes after the id.
fn query_body() -> Vec<u8> {
    let mut q = vec![0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in ["fast", "example"] {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

fn held(client: SocketAddr, server: SocketAddr, txid: u16) -> PendingQuery {
    let body = query_body();
    let mut key = FastKey {
        server: server_key(server),
        len: body.len() as u16,
        _pad: 0,
        query: [0; QUERY_MAX],
    };
    key.query[..body.len()].copy_from_slice(&body);
    let c = server_key(client);
    PendingQuery {
        ktime_ns: 5_000_000_000,
        socket_cookie: 77,
        ifindex: 1,
        flags: PQ_F_RD,
        exchange: ExchangeKey {
            server: key.server,
            client_port: client.port(),
            txid,
            client_addr: c.addr,
        },
        key,
    }
}

fn decode(rec: &[u8]) -> Vec<DnsMessage> {
    let names = Arc::new(RwLock::new(HashMap::from([(
        1u32,
        ("lo".into(), Side::Loopback),
    )])));
    let clock = KtimeClock::with_offset_ns(1_000_000_000_000_000_000);
    let pkt = parse_record(rec, &clock, &names).expect("a held-back query record");
    assert_eq!(pkt.socket_cookie, Some(77));
    let i = pkt.interface.as_ref().expect("its interface");
    assert_eq!((i.index, i.direction), (1, Direction::Egress));
    assert_eq!(
        pkt.timestamp,
        SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(1_000_000_005_000_000_000)
    );
    let mut d = Decoder::new(DecodeLimits {
        dns_ports: vec![5392],
        ..DecodeLimits::default()
    });
    let mut out = Vec::new();
    d.push(&pkt, &mut out);
    out
}

#[test]
fn held_back_queries_decode_as_the_queries_they_were() {
    for (client, server) in [
        ("127.0.0.1:40000", "127.0.0.1:5392"),
        ("[::1]:40000", "[::1]:5392"),
    ] {
        let (client, server): (SocketAddr, SocketAddr) =
            (client.parse().unwrap(), server.parse().unwrap());
        let out = decode(&deferred_record(&held(client, server, 0xbeef)));
        assert_eq!(out.len(), 1, "{client} → {server}: one message");
        let m = &out[0];
        assert_eq!((m.src, m.dst, m.txid), (client, server, 0xbeef));
        assert_eq!(m.message.queries[0].name().to_ascii(), "fast.example.");
        let mut want = 0xbeefu16.to_be_bytes().to_vec();
        want.extend_from_slice(&query_body());
        assert_eq!(m.raw.bytes().as_ref(), want.as_slice());
    }
}

#[test]
fn a_held_back_query_that_lies_about_its_length_is_refused() {
    let c: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let s: SocketAddr = "127.0.0.1:5392".parse().unwrap();
    let mut pq = held(c, s, 1);
    pq.key.len = QUERY_MAX as u16 + 1;
    assert!(synthesize_query(&pq, &mut Vec::new()).is_none());
    let mut rec = deferred_record(&held(c, s, 1));
    rec.truncate(rec.len() - 1);
    let names = Arc::default();
    assert!(parse_record(&rec, &KtimeClock::with_offset_ns(0), &names).is_err());
}

#[test]
fn server_keys_put_ipv4_in_the_first_four_bytes() {
    let k = server_key(SocketAddr::new(IpAddr::from([127, 0, 0, 53]), 53));
    assert_eq!((k.family, k.port), (monitor_common::FAMILY_V4, 53));
    assert_eq!(&k.addr[..4], &[127, 0, 0, 53]);
    assert!(k.addr[4..].iter().all(|&b| b == 0));
}

#[test]
fn one_changed_byte_or_another_server_is_another_key() {
    let pq = held(
        SocketAddr::from(([127, 0, 0, 1], 40_000)),
        SocketAddr::from(([127, 0, 0, 53], 53)),
        7,
    );
    let k = pq.key.validated_key();
    for i in 0..usize::from(pq.key.len) {
        let mut other = pq.key;
        other.query[i] ^= 1;
        assert_ne!(other.validated_key(), k, "byte {i}");
    }
    let mut elsewhere = pq.key;
    elsewhere.server = server_key(SocketAddr::from(([127, 0, 0, 54], 53)));
    assert_ne!(elsewhere.validated_key(), k);
}

#[test]
fn a_taken_slot_becomes_the_query_it_held() {
    let pq = held(
        SocketAddr::from(([127, 0, 0, 1], 40_000)),
        SocketAddr::from(([127, 0, 0, 53], 53)),
        7,
    );
    // What the kernel keeps of it: the exchange, its key and its words.
    // SAFETY: plain data.
    let mut slot: monitor_common::fast::HeldSlot = unsafe { std::mem::zeroed() };
    slot.exchange = pq.exchange;
    slot.validated_seq = 2;
    slot.validated_slot = 6;
    slot.len = pq.key.len;
    slot.flags = PQ_F_RD as u16;
    slot.socket_cookie = pq.socket_cookie;
    slot.query = pq.key.words();
    assert_eq!(held_query(pq.ktime_ns, &slot), pq);
}

mod entries {
    use super::*;
    use crate::correlate::outstanding::QueryInfo;
    use crate::detect::testkit;

    #[test]
    fn only_udp_on_lo_with_a_lifetime_becomes_an_entry() {
        let (q, a) = testkit::loopback_exchange("fast.example.", 60);
        let qi = QueryInfo::of(&q);
        let (key, value) = validated_entry(&a, &qi, 3_600, 1_000).expect("an entry");
        let qb = q.raw.bytes();
        let ab = a.raw.bytes();
        assert_eq!(usize::from(key.len), qb.len() - 2);
        assert_eq!(&value.query[..qb.len() - 2], &qb[2..]);
        assert!(value.query[qb.len() - 2..].iter().all(|&b| b == 0));
        // The key's digest is of exactly those zero-padded bytes, read as
        // the kernel reads them (little-endian words).
        let mut words = [0u64; QUERY_MAX / 8];
        for (w, c) in words.iter_mut().zip(value.query.chunks(8)) {
            *w = u64::from_le_bytes(c.try_into().unwrap());
        }
        assert_eq!(key.digest, monitor_common::fast::query_digest(&words));
        assert_eq!(key.server, server_key(a.server));
        assert_eq!(value.len as usize, ab.len() - 2);
        assert_eq!(&value.answer[..ab.len() - 2], &ab[2..]);
        // The record TTL (60 s) is longer than the cap: 30 s.
        assert_eq!(value.expires_ns, 1_000 + 30_000_000_000);
        // The verdict's TTL bounds it too.
        let (_, v) = validated_entry(&a, &qi, 5, 0).unwrap();
        assert_eq!(v.expires_ns, 5_000_000_000);
        // Nothing to reuse: a zero TTL.
        assert!(validated_entry(&a, &qi, 0, 0).is_none());
        let (_, a0) = testkit::loopback_exchange("fast.example.", 0);
        assert!(validated_entry(&a0, &qi, 3_600, 0).is_none());
        // Not on lo: the kernel side never holds it back.
        let mut eth = a.clone();
        if let Some(i) = eth.interface.as_mut() {
            i.index = 4;
        }
        assert!(validated_entry(&eth, &qi, 3_600, 0).is_none());
        let mut none = a.clone();
        none.interface = None;
        assert!(validated_entry(&none, &qi, 3_600, 0).is_none());
    }
}

#[test]
fn repeats_take_the_mean_of_the_timed_answers_or_the_last_known() {
    use super::fast_path::repeats_mean;
    use monitor_common::fast::ServerCounts;
    use std::time::Duration;
    let d = |answers, latency_ns, timed| ServerCounts {
        answers,
        latency_ns,
        timed,
    };
    // 32 answers, 2 timed: 100 µs and 300 µs.
    assert_eq!(
        repeats_mean(&d(32, 400_000, 2), None),
        Some(Duration::from_micros(200))
    );
    // None timed this interval: the last mean stands for them.
    assert_eq!(
        repeats_mean(&d(5, 0, 0), Some(Duration::from_micros(200))),
        Some(Duration::from_micros(200))
    );
    assert_eq!(repeats_mean(&d(5, 0, 0), None), Some(Duration::ZERO));
    assert_eq!(
        repeats_mean(&d(0, 0, 0), Some(Duration::from_micros(1))),
        None
    );
}
