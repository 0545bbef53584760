//! Reliable-sink tests against in-process collectors on loopback: the
//! collector goes down and comes back, the sink restarts, the spool fills;
//! each asserts the exact sequence that arrives.

use std::net::SocketAddr;

use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::*;
use crate::sinks::syslog::{
    format::tests::parse_rfc5424,
    tls,
    transport::tests::{Collector, TestPki, test_pki},
};

/// Constant-length messages (so spool sizes are exact) that parse as RFC 5424.
fn msg(i: u64) -> Vec<u8> {
    format!("<14>1 2026-01-01T00:00:00Z h dnssec-monitor 1 test - {{\"n\":{i:>4}}}").into_bytes()
}

fn n_of(raw: &[u8]) -> u64 {
    let p = parse_rfc5424(raw).expect("collector got a valid RFC 5424 message");
    let v: serde_json::Value = serde_json::from_str(&p.msg).unwrap();
    v["n"].as_u64().unwrap()
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn options(dir: &std::path::Path) -> ReliableSinkOptions {
    ReliableSinkOptions {
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        ..ReliableSinkOptions::new(dir)
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Receive exactly `count` messages, then check nothing else arrives.
async fn receive(rx: &mut UnboundedReceiver<Vec<u8>>, count: usize) -> Vec<u64> {
    let mut got = Vec::new();
    while got.len() < count {
        let m = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} arrived: {got:?}", got.len()))
            .unwrap();
        got.push(n_of(&m));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        rx.try_recv().is_err(),
        "more than {count} messages arrived (duplicates?)"
    );
    got
}

fn transport(kind: TransportKind, addr: SocketAddr, pki: &TestPki) -> SyslogTransport {
    match kind {
        TransportKind::Tcp => SyslogTransport::tcp(addr.to_string()),
        TransportKind::Tls => SyslogTransport::tls(
            addr.to_string(),
            tls::client_config(&pki.ca_file).unwrap(),
            tls::server_name("localhost").unwrap(),
        ),
        TransportKind::Udp => SyslogTransport::udp(addr.to_string()),
    }
}

use crate::sinks::syslog::TransportKind;

async fn down_then_up(kind: TransportKind) {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let sink = ReliableSink::start("t", transport(kind, addr, &pki), options(dir.path())).unwrap();
    for i in 0..100 {
        assert!(sink.try_send(msg(i)));
    }
    wait_for("100 spooled and a failed connect", || {
        let s = sink.stats();
        s.spooled == 100 && s.connect_failures >= 1
    })
    .await;
    let (tx, mut rx) = unbounded_channel();
    let c = Collector::start(
        addr,
        (kind == TransportKind::Tls).then(|| pki.server.clone()),
        tx,
    )
    .await;
    assert_eq!(receive(&mut rx, 100).await, (0..100).collect::<Vec<_>>());
    let s = sink.stats();
    assert_eq!((s.sent, s.spool_depth, s.dropped_spool_full), (100, 0, 0));
    sink.shutdown(Duration::from_secs(1)).await;
    c.stop().await;
}

#[tokio::test]
async fn tcp_collector_down_then_up_gets_all_once_in_order() {
    down_then_up(TransportKind::Tcp).await;
}

#[tokio::test]
async fn tls_collector_down_then_up_gets_all_once_in_order() {
    down_then_up(TransportKind::Tls).await;
}

async fn restart_midway(kind: TransportKind) {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let tls_cfg = (kind == TransportKind::Tls).then(|| pki.server.clone());
    let (tx, mut rx) = unbounded_channel();
    let c = Collector::start(free_addr(), tls_cfg.clone(), tx.clone()).await;
    let addr = c.addr;
    let sink = ReliableSink::start("t", transport(kind, addr, &pki), options(dir.path())).unwrap();
    for i in 0..50 {
        assert!(sink.try_send(msg(i)));
    }
    let first = receive(&mut rx, 50).await;
    c.stop().await;
    // The collector is gone (as when rsyslog is stopped); 50 more alerts.
    for i in 50..100 {
        assert!(sink.try_send(msg(i)));
    }
    wait_for("the sink to notice and spool", || {
        sink.stats().spool_depth == 50
    })
    .await;
    let c = Collector::start(addr, tls_cfg, tx).await;
    let second = receive(&mut rx, 50).await;
    let all: Vec<u64> = first.into_iter().chain(second).collect();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    assert!(sink.stats().reconnects >= 1);
    sink.shutdown(Duration::from_secs(1)).await;
    c.stop().await;
}

#[tokio::test]
async fn tcp_collector_restart_loses_and_repeats_nothing() {
    restart_midway(TransportKind::Tcp).await;
}

#[tokio::test]
async fn tls_collector_restart_loses_and_repeats_nothing() {
    restart_midway(TransportKind::Tls).await;
}

#[tokio::test]
async fn spool_survives_a_sink_restart() {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let sink = ReliableSink::start(
        "t",
        transport(TransportKind::Tcp, addr, &pki),
        options(dir.path()),
    )
    .unwrap();
    for i in 0..20 {
        assert!(sink.try_send(msg(i)));
    }
    wait_for("20 spooled", || sink.stats().spool_depth == 20).await;
    sink.shutdown(Duration::ZERO).await;
    let on_disk = Spool::open(dir.path(), SpoolOptions::default())
        .unwrap()
        .len();
    assert_eq!(on_disk, 20, "the backlog is on disk");

    let (tx, mut rx) = unbounded_channel();
    let c = Collector::start(addr, None, tx).await;
    let sink = ReliableSink::start(
        "t",
        transport(TransportKind::Tcp, addr, &pki),
        options(dir.path()),
    )
    .unwrap();
    for i in 20..30 {
        assert!(sink.try_send(msg(i)));
    }
    assert_eq!(receive(&mut rx, 30).await, (0..30).collect::<Vec<_>>());
    sink.shutdown(Duration::from_secs(1)).await;
    c.stop().await;
}

#[tokio::test]
async fn full_spool_drops_the_oldest_and_counts_them() {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let frame = 16 + msg(0).len() as u64;
    let mut opts = options(dir.path());
    opts.spool = SpoolOptions {
        max_bytes: frame * 10,
        segment_bytes: frame * 3,
        sync: true,
    };
    let sink = ReliableSink::start("t", transport(TransportKind::Tcp, addr, &pki), opts).unwrap();
    for i in 0..30 {
        assert!(sink.try_send(msg(i)));
    }
    wait_for("30 taken in", || sink.stats().spooled == 30).await;
    assert_eq!(sink.stats().dropped_spool_full, 20);
    let (tx, mut rx) = unbounded_channel();
    let c = Collector::start(addr, None, tx).await;
    assert_eq!(receive(&mut rx, 10).await, (20..30).collect::<Vec<_>>());
    sink.shutdown(Duration::from_secs(1)).await;
    c.stop().await;
}

#[tokio::test]
async fn udp_sink_delivers_datagrams() {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let sink = ReliableSink::start(
        "u",
        transport(TransportKind::Udp, addr, &pki),
        options(dir.path()),
    )
    .unwrap();
    for i in 0..10 {
        assert!(sink.try_send(msg(i)));
    }
    let mut buf = [0u8; 2048];
    for i in 0..10 {
        let n = tokio::time::timeout(Duration::from_secs(5), server.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n_of(&buf[..n]), i);
    }
    sink.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn shutdown_with_grace_delivers_the_backlog() {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = unbounded_channel();
    let c = Collector::start(free_addr(), None, tx).await;
    let sink = ReliableSink::start(
        "t",
        transport(TransportKind::Tcp, c.addr, &pki),
        options(dir.path()),
    )
    .unwrap();
    for i in 0..200 {
        assert!(sink.try_send(msg(i)));
    }
    sink.shutdown(Duration::from_secs(5)).await;
    assert_eq!(receive(&mut rx, 200).await, (0..200).collect::<Vec<_>>());
    c.stop().await;
    // Nothing left behind on disk.
    let s = Spool::open(dir.path(), SpoolOptions::default()).unwrap();
    assert!(s.is_empty());
}

#[tokio::test]
async fn a_collector_that_stops_reading_does_not_stall_the_sink() {
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    // Accepts connections and never reads from them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let mut opts = options(dir.path());
    opts.send_timeout = Duration::from_millis(200);
    let sink = ReliableSink::start("t", transport(TransportKind::Tcp, addr, &pki), opts).unwrap();
    // 32 MiB: more than loopback socket buffers hold.
    let big = vec![b'x'; 64 << 10];
    for _ in 0..512 {
        assert!(sink.try_send(big.clone()));
    }
    wait_for("a send timeout", || sink.stats().send_timeouts >= 1).await;
    // Still taking input while the collector is stuck.
    assert!(sink.try_send(msg(1)));
    wait_for("the input spooled", || {
        sink.stats().received == 513 && sink.stats().spool_depth > 0
    })
    .await;
    sink.shutdown(Duration::ZERO).await;
    hold.abort();
}
