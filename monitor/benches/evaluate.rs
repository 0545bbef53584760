//! The per-answer verdict path when the verdict is already cached and
//! nothing is wrong (the common case at 50k q/s): benign answers for a
//! name with a cached Insecure verdict (www.unsigned.test./A) and one with
//! a cached Secure verdict (www.secure.test./A, DO=0, no RRSIGs), through
//! [`Detector::observe`] and then the evaluation the detection stage runs.
//!
//! - `*_stage`: what `detect/stage.rs` does per answer (`try_now`, else a
//!   boxed future polled once).
//! - `*_boxed`: the evaluation as a boxed future polled once (the path
//!   before `try_now`).
//! - `*_transaction`: a query and its answer observed, then evaluated as
//!   the stage does: ns per transaction.
//!
//! `cargo bench -p monitor --bench evaluate -- --quick`

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use monitor::decode::Transport;
use monitor::detect::alert::Alert;
use monitor::detect::detector::{Detector, DetectorConfig, Pending};
use monitor::detect::policy::DetectPolicy;
use monitor::dnssec::anchors::TrustAnchors;
use monitor::dnssec::clock::Clock;
use monitor::dnssec::engine::{Engine, EngineConfig, RootHints};
use monitor::dnssec::testnet::{NOW, standard_hierarchy};
use monitor::event::{DnsEvent, DnsKind, ProcessInfo};

const CLIENT: &str = "10.0.0.2:40000";
const RESOLVER: &str = "10.0.0.53:53";

fn detector(rt: &tokio::runtime::Runtime) -> Detector {
    let (net, anchor) = standard_hierarchy(Vec::new());
    let mut cfg =
        EngineConfig::iterative(RootHints::from_addrs(vec![IpAddr::from([198, 18, 0, 1])]));
    let mut anchors = TrustAnchors::empty();
    anchors.add_dnskey(&Name::root(), anchor);
    cfg.trust_anchors = anchors;
    cfg.clock = Clock::fixed(i64::from(NOW));
    let engine = Engine::new(cfg, Arc::new(net));
    let policy = DetectPolicy {
        resolvers: vec![RESOLVER.parse().unwrap()],
        ..DetectPolicy::default()
    };
    let _guard = rt.enter();
    let mut c = DetectorConfig::default();
    c.outstanding.warmup = Duration::ZERO;
    Detector::new(engine, policy, c)
}

fn ev(msg: Message, t: SystemTime) -> DnsEvent {
    let kind = match msg.metadata.message_type {
        MessageType::Query => DnsKind::Query,
        MessageType::Response => DnsKind::Answer,
    };
    DnsEvent {
        timestamp: t,
        kind,
        transport: Transport::Udp,
        client: CLIENT.parse::<SocketAddr>().unwrap(),
        server: RESOLVER.parse::<SocketAddr>().unwrap(),
        interface: None,
        socket_cookie: None,
        process: (kind == DnsKind::Query).then(|| ProcessInfo {
            pid: 4242,
            tid: 4242,
            uid: 1000,
            name: "dnsperf".into(),
            cgroup_id: 1,
            container_id: None,
        }),
        raw: msg.to_vec().unwrap(),
        message: msg,
    }
}

/// Transaction `n` for `qname`/A answered with `ip`: DO=0, RD=1, the
/// answer as a resolver gives it (no RRSIG, AD as a validating resolver
/// would set it for a Secure name). Capture times 100 µs apart, so a txid
/// comes back only after the race window.
fn txn(n: u64, qname: &str, ip: [u8; 4], ad: bool) -> (DnsEvent, DnsEvent) {
    let id = (n % 65_521) as u16;
    let mut q = Message::new(id, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(
        Name::from_ascii(qname).unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    q.set_edns(e);
    let mut a = Message::new(id, MessageType::Response, OpCode::Query);
    a.metadata.recursion_desired = true;
    a.metadata.recursion_available = true;
    a.metadata.authentic_data = ad;
    a.metadata.response_code = ResponseCode::NoError;
    a.add_query(q.queries[0].clone());
    a.set_edns(q.edns.clone().unwrap());
    a.answers = vec![Record::from_rdata(
        Name::from_ascii(qname).unwrap(),
        300,
        RData::A(A::from(std::net::Ipv4Addr::from(ip))),
    )];
    let t = UNIX_EPOCH + Duration::from_secs(u64::from(NOW)) + Duration::from_micros(100 * n);
    (ev(q, t), ev(a, t + Duration::from_micros(300)))
}

/// The boxed evaluation polled once, as the stage did before `try_now`.
fn boxed(p: Pending) -> Vec<Alert> {
    let mut fut: std::pin::Pin<Box<dyn Future<Output = Vec<Alert>> + Send>> =
        Box::pin(p.evaluate());
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(a) => a,
        Poll::Pending => panic!("the cached verdict did not complete at once"),
    }
}

/// What the stage does now.
fn stage(p: Pending) -> Vec<Alert> {
    match p.try_now() {
        Ok(a) => a,
        Err(p) => boxed(p),
    }
}

fn pending(d: &mut Detector, n: u64, qname: &str, ip: [u8; 4], ad: bool) -> Pending {
    let (q, a) = txn(n, qname, ip, ad);
    assert!(d.observe(q).alerts.is_empty());
    let o = d.observe(a);
    assert!(o.alerts.is_empty(), "{:?}", o.alerts);
    o.pending.expect("an accepted answer waits for its verdict")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cases = [
        ("insecure", "www.unsigned.test.", [192, 0, 2, 3], false),
        ("secure", "www.secure.test.", [192, 0, 2, 1], true),
    ];
    for (label, qname, ip, ad) in cases {
        let mut d = detector(&rt);
        // Warm the verdict cache (the engine resolves through the test net).
        let (q, a) = txn(0, qname, ip, ad);
        rt.block_on(async {
            d.on_event(q).await;
            assert!(d.on_event(a).await.is_empty());
        });
        let mut n = 1u64;
        type Eval = fn(Pending) -> Vec<Alert>;
        let paths: [(&str, Eval); 2] = [("stage", stage), ("boxed", boxed)];
        for (path, eval) in paths {
            c.bench_function(&format!("evaluate_{label}_{path}"), |b| {
                b.iter_batched(
                    || {
                        n += 1;
                        pending(&mut d, n, qname, ip, ad)
                    },
                    |p| {
                        let alerts = eval(p);
                        assert!(alerts.is_empty());
                    },
                    BatchSize::SmallInput,
                )
            });
        }
        c.bench_function(&format!("evaluate_{label}_transaction"), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    txn(n, qname, ip, ad)
                },
                |(q, a)| {
                    d.observe(q);
                    if let Some(p) = d.observe(a).pending {
                        assert!(stage(p).is_empty());
                    }
                },
                BatchSize::SmallInput,
            )
        });
        // Every answer was checked against its cached verdict.
        let v = d.verdicts().stats();
        assert!(v.cache_hits.load(std::sync::atomic::Ordering::Relaxed) > 0);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
