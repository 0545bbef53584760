//! What the detection benches share: a detector over the in-process signed
//! hierarchy (`monitor::dnssec::testnet`) and events between one client and
//! its resolver. Included with `#[path]` by `alert_latency.rs` and
//! `evaluate.rs` (a file under `benches/support/` is not a bench target).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::Name;
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
