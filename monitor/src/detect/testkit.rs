//! Builders of captured DNS events for the correlation and detection tests.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};

use crate::decode::Transport;
use crate::event::{DnsEvent, DnsKind, ProcessInfo};

pub const CLIENT: &str = "10.0.0.2:40000";
pub const RESOLVER: &str = "10.0.0.53:53";

pub fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test socket address")
}

/// Capture time `ms` milliseconds after a fixed origin.
pub fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(ms)
}

pub fn process() -> ProcessInfo {
    ProcessInfo {
        pid: 4242,
        tid: 4242,
        uid: 1000,
        name: "curl".into(),
        cgroup_id: 1,
        container_id: None,
    }
}

/// A query message: `rd` recursion desired, `dnssec_ok` the EDNS DO bit.
pub fn query_msg(id: u16, qname: &str, qtype: RecordType, rd: bool, dnssec_ok: bool) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rd;
    m.add_query(Query::query(
        Name::from_ascii(qname).expect("test name"),
        qtype,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(dnssec_ok);
    m.set_edns(e);
    m
}

/// The answer to `q` carrying `answers` (and `authorities`).
pub fn answer_msg(q: &Message, rcode: ResponseCode, answers: Vec<Record>) -> Message {
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.response_code = rcode;
    for qq in &q.queries {
        m.add_query(qq.clone());
    }
    if let Some(e) = &q.edns {
        m.set_edns(e.clone());
    }
    m.answers = answers;
    m
}

/// The event of `msg` between `client` and `server` at `ms`.
pub fn event(msg: Message, client: &str, server: &str, ms: u64) -> DnsEvent {
    let kind = match msg.metadata.message_type {
        MessageType::Query => DnsKind::Query,
        MessageType::Response => DnsKind::Answer,
    };
    let raw = msg.to_vec().expect("test message encodes");
    DnsEvent {
        timestamp: at(ms),
        kind,
        transport: Transport::Udp,
        client: sa(client),
        server: sa(server),
        interface: None,
        socket_cookie: None,
        process: (kind == DnsKind::Query).then(|| process().into()),
        raw: raw.into(),
        txid: msg.metadata.id,
        message: msg.into(),
    }
}

/// A query and its answer (one A record with `ttl`) between a stub and a
/// resolver on loopback, captured on `lo` (egress, as the kernel sees both).
pub fn loopback_exchange(qname: &str, ttl: u32) -> (DnsEvent, DnsEvent) {
    use hickory_proto::rr::{RData, rdata::A};
    let q = query_msg(7, qname, RecordType::A, true, false);
    let rec = Record::from_rdata(
        Name::from_ascii(qname).expect("test name"),
        ttl,
        RData::A(A::new(192, 0, 2, 1)),
    );
    let a = answer_msg(&q, ResponseCode::NoError, vec![rec]);
    let lo = crate::capture::InterfaceRef {
        index: 1,
        name: "lo".into(),
        direction: crate::capture::Direction::Egress,
        side: crate::capture::Side::Loopback,
    };
    let mut qe = event(q, "127.0.0.1:40000", "127.0.0.53:53", 0);
    let mut ae = event(a, "127.0.0.1:40000", "127.0.0.53:53", 1);
    qe.interface = Some(lo.clone());
    ae.interface = Some(lo);
    (qe, ae)
}
