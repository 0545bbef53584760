//! The one owned event type that flows through the pipeline, and its
//! Elastic Common Schema (ECS) JSON rendering.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::RData;
use serde_json::{Map, Value, json};

use crate::capture::{Direction, InterfaceRef};
use crate::decode::presentation as pres;
use crate::decode::{DnsMessage, Transport};

/// The process that sent a query (and so received its answer), from the
/// kernel's socket-cookie attribution.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProcessInfo {
    /// Thread-group id (what users call the pid).
    pub pid: u32,
    /// The thread that made the call.
    pub tid: u32,
    pub uid: u32,
    /// `comm`, at most 15 bytes, as the kernel keeps it.
    pub name: String,
    pub cgroup_id: u64,
    /// Container id taken from the cgroup path (docker, containerd, cri-o, podman).
    pub container_id: Option<String>,
}

/// Whether the message asks (QR=0) or answers (QR=1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsKind {
    Query,
    Answer,
}

impl DnsKind {
    /// ECS `dns.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsKind::Query => "query",
            DnsKind::Answer => "answer",
        }
    }
}

/// One DNS message seen on the host, oriented as a transaction: `client` is
/// the side that asked and `server` the side that answers, whichever way
/// this particular message travelled.
#[derive(Clone, Debug)]
pub struct DnsEvent {
    pub timestamp: SystemTime,
    pub kind: DnsKind,
    pub transport: Transport,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub interface: Option<InterfaceRef>,
    pub socket_cookie: Option<u64>,
    pub process: Option<ProcessInfo>,
    /// The DNS message bytes as captured.
    pub raw: Vec<u8>,
    pub message: Message,
}

impl DnsEvent {
    /// Orient a decoded message: a query goes client → server, an answer
    /// server → client (QR bit, RFC 1035 §4.1.1).
    pub fn from_message(msg: DnsMessage, process: Option<ProcessInfo>) -> DnsEvent {
        let kind = match msg.message.metadata.message_type {
            MessageType::Query => DnsKind::Query,
            MessageType::Response => DnsKind::Answer,
        };
        let (client, server) = match kind {
            DnsKind::Query => (msg.src, msg.dst),
            DnsKind::Answer => (msg.dst, msg.src),
        };
        DnsEvent {
            timestamp: msg.timestamp,
            kind,
            transport: msg.transport,
            client,
            server,
            interface: msg.interface,
            socket_cookie: msg.socket_cookie,
            process,
            raw: msg.raw,
            message: msg.message,
        }
    }

    /// ECS header flags (`dns.header_flags`), DO taken from the EDNS OPT
    /// record (RFC 3225).
    pub fn header_flags(&self) -> Vec<&'static str> {
        let m = &self.message.metadata;
        let mut f = Vec::with_capacity(7);
        for (on, name) in [
            (m.authoritative, "AA"),
            (m.truncation, "TC"),
            (m.recursion_desired, "RD"),
            (m.recursion_available, "RA"),
            (m.authentic_data, "AD"),
            (m.checking_disabled, "CD"),
            (
                self.message
                    .edns
                    .as_ref()
                    .is_some_and(|e| e.flags().dnssec_ok),
                "DO",
            ),
        ] {
            if on {
                f.push(name);
            }
        }
        f
    }

    /// The event as an ECS document (nested objects). Fields we do not know
    /// are left out, never written as null.
    pub fn to_ecs(&self) -> Value {
        let m = &self.message;
        let mut dns = Map::new();
        dns.insert("type".into(), json!(self.kind.as_str()));
        dns.insert("id".into(), json!(m.metadata.id));
        dns.insert("op_code".into(), json!(pres::opcode(m.metadata.op_code)));
        dns.insert("header_flags".into(), json!(self.header_flags()));
        if self.kind == DnsKind::Answer {
            dns.insert(
                "response_code".into(),
                json!(pres::rcode(m.metadata.response_code)),
            );
        }
        if let Some(q) = m.queries.first() {
            dns.insert(
                "question".into(),
                json!({
                    "name": pres::name(q.name()),
                    "type": pres::rtype(q.query_type()),
                    "class": pres::class(q.query_class()),
                }),
            );
        }
        if !m.answers.is_empty() {
            let answers: Vec<Value> = m
                .answers
                .iter()
                .map(|r| {
                    json!({
                        "name": pres::name(&r.name),
                        "type": pres::rtype(r.record_type()),
                        "class": pres::class(r.dns_class),
                        "ttl": r.ttl,
                        "data": pres::rdata(&r.data),
                    })
                })
                .collect();
            dns.insert("answers".into(), Value::Array(answers));
            let ips: Vec<Value> = m
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(json!(a.0.to_string())),
                    RData::AAAA(a) => Some(json!(a.0.to_string())),
                    _ => None,
                })
                .collect();
            if !ips.is_empty() {
                dns.insert("resolved_ip".into(), Value::Array(ips));
            }
        }

        let mut doc = Map::new();
        doc.insert("@timestamp".into(), json!(rfc3339_micros(self.timestamp)));
        doc.insert(
            "event".into(),
            json!({"kind": "event", "category": ["network"], "type": ["protocol"]}),
        );
        doc.insert("dns".into(), Value::Object(dns));
        doc.insert(
            "source".into(),
            json!({"ip": self.client.ip().to_string(), "port": self.client.port()}),
        );
        doc.insert(
            "destination".into(),
            json!({"ip": self.server.ip().to_string(), "port": self.server.port()}),
        );
        doc.insert(
            "network".into(),
            json!({
                "transport": self.transport.as_str(),
                "type": if self.client.is_ipv4() { "ipv4" } else { "ipv6" },
                "protocol": "dns",
            }),
        );
        if let Some(i) = &self.interface {
            let side = match i.direction {
                Direction::Ingress => "ingress",
                Direction::Egress => "egress",
            };
            doc.insert(
                "observer".into(),
                json!({side: {"interface": {"name": i.name, "id": i.index.to_string()}}}),
            );
        }
        if let Some(p) = &self.process {
            doc.insert(
                "process".into(),
                json!({"pid": p.pid, "name": p.name, "thread": {"id": p.tid}}),
            );
            doc.insert("user".into(), json!({"id": p.uid.to_string()}));
            if let Some(c) = &p.container_id {
                doc.insert("container".into(), json!({"id": c}));
            }
        }
        doc.insert(
            "dnssec_monitor".into(),
            json!({"raw": base64::engine::general_purpose::STANDARD.encode(&self.raw)}),
        );
        Value::Object(doc)
    }
}

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-27T18:47:08.123456Z`.
/// Times before 1970 (a broken clock) are written as the epoch.
pub fn rfc3339_micros(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, sod) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant, "chrono-Compatible
    // Low-Level Date Algorithms", civil_from_days).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
