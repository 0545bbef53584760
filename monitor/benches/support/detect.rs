//! What the detection benches share: a detector over the in-process signed
//! hierarchy (`monitor::dnssec::testnet`) and events between one client and
//! its resolver. Included with `#[path]` by `alert_latency.rs`,
//! `evaluate.rs` and `detect_transaction.rs` (a file under `benches/support/` is not a bench target).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use monitor::decode::Transport;
use monitor::detect::detector::{Detector, DetectorConfig};
use monitor::detect::policy::DetectPolicy;
use monitor::dnssec::anchors::TrustAnchors;
use monitor::dnssec::clock::Clock;
use monitor::dnssec::engine::{Engine, EngineConfig, RootHints};
use monitor::dnssec::testnet::{NOW, standard_hierarchy};
use monitor::event::{DnsEvent, DnsKind, ProcessInfo};

pub const CLIENT: &str = "10.0.0.2:40000";
pub const RESOLVER: &str = "10.0.0.53:53";

/// A fresh detector (empty caches) on `rt`, its engine iterating from the
/// test hierarchy's root at the hierarchy's fixed time; `RESOLVER` is the
/// expected resolver; no warm-up for unmatched answers.
pub fn detector(rt: &tokio::runtime::Runtime) -> Detector {
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

/// `msg` captured at `t` between `CLIENT` and `RESOLVER` over UDP.
pub fn event(msg: Message, t: SystemTime, process: Option<Arc<ProcessInfo>>) -> DnsEvent {
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
        process,
        raw: msg.to_vec().unwrap().into(),
        txid: msg.metadata.id,
        message: std::sync::Arc::new(msg),
    }
}

/// The load generator's process (dnsperf), as the kernel attributes it.
#[allow(dead_code, reason = "not every bench including this file uses it")]
pub fn dnsperf() -> Arc<ProcessInfo> {
    Arc::new(ProcessInfo {
        pid: 4242,
        tid: 4242,
        uid: 1000,
        name: "dnsperf".into(),
        cgroup_id: 1,
        container_id: None,
    })
}

/// Transaction `n` for `qname`/A answered with `ip`: DO=0, RD=1, the
/// answer as a resolver gives it (no RRSIG, AD as a validating resolver
/// would set it for a Secure name). Capture times 100 µs apart, so a txid
/// comes back only after the race window. The query carries `process`;
/// the answer none (joined from the query, as in the daemon).
#[allow(dead_code, reason = "not every bench including this file uses it")]
pub fn transaction(
    n: u64,
    qname: &str,
    ip: [u8; 4],
    ad: bool,
    process: &Arc<ProcessInfo>,
) -> (DnsEvent, DnsEvent) {
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
    (
        event(q, t, Some(process.clone())),
        event(a, t + Duration::from_micros(300), None),
    )
}
