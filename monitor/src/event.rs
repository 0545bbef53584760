//! The one owned event type that flows through the pipeline, and its
//! Elastic Common Schema (ECS) JSON rendering.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::RData;
use serde::Serialize;
use serde_json::Value;

use crate::capture::{Direction, InterfaceRef};
use crate::decode::presentation as pres;
use crate::decode::{DnsMessage, Transport};

/// The process that sent a query (and so received its answer), from the
/// kernel's socket-cookie attribution. Events hold it in an [`Arc`]: one
/// value per socket, shared by all its messages.
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
///
/// Moved by value through batches and channels, so what is large or
/// shared is behind a pointer: the parsed message is boxed, the bytes and
/// the process are reference-counted (a clone of an event copies neither).
#[derive(Clone, Debug)]
pub struct DnsEvent {
    pub timestamp: SystemTime,
    pub kind: DnsKind,
    pub transport: Transport,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub interface: Option<InterfaceRef>,
    pub socket_cookie: Option<u64>,
    pub process: Option<Arc<ProcessInfo>>,
    /// The DNS message bytes as captured.
    pub raw: crate::decode::Wire,
    /// This message's transaction id. `message.metadata.id` may be another
    /// copy's: repeated messages share one parse (decode/memo.rs).
    pub txid: u16,
    pub message: Arc<Message>,
}

impl DnsEvent {
    /// Traffic of a DNS server on this host with other machines: a query
    /// that arrived, or an answer that left, through a network-facing
    /// interface (its first sighting, capture/dedup.rs). Such an answer is
    /// not one "the host received" (DESIGN.md, Detection): no rule judges
    /// it and neither message counts toward resolver health. Answers to
    /// this host, its containers and VMs arrive at ingress, or leave toward
    /// a guest (veth, bridge, tap) or over `lo`, and are judged.
    pub fn served_here(&self) -> bool {
        use crate::capture::{Direction, Side};
        match &self.interface {
            Some(i) if i.side == Side::Network => match self.kind {
                DnsKind::Query => i.direction == Direction::Ingress,
                DnsKind::Answer => i.direction == Direction::Egress,
            },
            _ => false,
        }
    }

    /// Orient a decoded message: a query goes client → server, an answer
    /// server → client (QR bit, RFC 1035 §4.1.1).
    pub fn from_message(msg: DnsMessage, process: Option<Arc<ProcessInfo>>) -> DnsEvent {
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
            txid: msg.txid,
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

    /// The event as an ECS document (nested objects) ready to serialise;
    /// fields we do not know are left out, never written as null. Cheaper
    /// than [`DnsEvent::to_ecs`] when the document only goes to a writer
    /// ([`crate::sinks::jsonl::JsonLinesSink::write_record`]).
    pub fn ecs(&self) -> EcsDocument<'_> {
        let mut doc = self.ecs_without_dns();
        doc.dns = Some(self.dns_object(Some(self.txid)));
        doc
    }

    /// The `dns` object; without `id`, it depends on the parsed message
    /// alone, which repeated messages share (decode/memo.rs), so
    /// [`crate::event_lines::EcsLines`] renders it once per message.
    pub fn dns_object(&self, id: Option<u16>) -> EcsDns {
        let m = &self.message;
        let answer = self.kind == DnsKind::Answer;
        let answers: Vec<EcsAnswer> = m
            .answers
            .iter()
            .map(|r| EcsAnswer {
                name: pres::name(&r.name),
                r#type: pres::rtype(r.record_type()),
                class: pres::class(r.dns_class),
                ttl: r.ttl,
                data: pres::rdata(&r.data),
            })
            .collect();
        let resolved_ip: Vec<IpAddr> = m
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect();
        EcsDns {
            id,
            r#type: self.kind.as_str(),
            op_code: pres::opcode(m.metadata.op_code),
            header_flags: self.header_flags(),
            response_code: answer.then(|| pres::rcode(m.metadata.response_code)),
            question: m.queries.first().map(|q| EcsQuestion {
                name: pres::name(q.name()),
                r#type: pres::rtype(q.query_type()),
                class: pres::class(q.query_class()),
            }),
            answers,
            resolved_ip,
        }
    }

    /// [`DnsEvent::ecs`] without its `dns` object (`None`).
    pub fn ecs_without_dns(&self) -> EcsDocument<'_> {
        let interface = self.interface.as_ref().map(|i| EcsObserverSide {
            interface: EcsInterface {
                name: &i.name,
                id: i.index.to_string(),
            },
        });
        let (ingress, egress) = match self.interface.as_ref().map(|i| i.direction) {
            Some(Direction::Ingress) => (interface, None),
            Some(Direction::Egress) => (None, interface),
            None => (None, None),
        };
        let mut doc = EcsDocument {
            timestamp: rfc3339_micros(self.timestamp),
            event: EcsEventField {
                kind: "event",
                category: ["network"],
                r#type: ["protocol"],
                dataset: None,
                outcome: None,
            },
            source: EcsEndpoint {
                ip: self.client.ip(),
                port: self.client.port(),
            },
            destination: EcsEndpoint {
                ip: self.server.ip(),
                port: self.server.port(),
            },
            network: EcsNetwork {
                transport: self.transport.as_str(),
                r#type: if self.client.is_ipv4() {
                    "ipv4"
                } else {
                    "ipv6"
                },
                protocol: "dns",
            },
            observer: (ingress.is_some() || egress.is_some())
                .then_some(EcsObserver { ingress, egress }),
            process: None,
            user: None,
            container: None,
            dnssec: None,
            dns: None,
            dnssec_monitor: EcsOwn {
                raw: base64::engine::general_purpose::STANDARD.encode(self.raw.bytes()),
                own_query: false,
                served: self.served_here(),
                query: None,
                unanswered: false,
                alerts: Vec::new(),
            },
        };
        if let Some(p) = self.process.as_deref() {
            doc.set_process(p);
        }
        doc
    }

    /// The event as an ECS JSON value (see [`DnsEvent::ecs`]).
    pub fn to_ecs(&self) -> Value {
        serde_json::to_value(self.ecs()).expect("ECS document is plain data")
    }
}

// The ECS document, field for field. Names follow ECS 8.x; `r#type` is the
// ECS `type` field.

#[derive(Serialize)]
pub struct EcsDocument<'a> {
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    pub event: EcsEventField,
    pub source: EcsEndpoint,
    pub destination: EcsEndpoint,
    pub network: EcsNetwork,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observer: Option<EcsObserver<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<EcsProcess<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<EcsUser>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<EcsContainer<'a>>,
    /// The independent verdict of a transaction's answer
    /// (`detect::alert::dnssec_object`), on transaction lines only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<&'a serde_json::value::RawValue>,
    pub dnssec_monitor: EcsOwn,
    /// Last: [`crate::event_lines::EcsLines`] appends it to the rest of a
    /// line rendered without it (`None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<EcsDns>,
}

impl<'a> EcsDocument<'a> {
    /// `process`, `user` and `container` of process `p`.
    pub fn set_process(&mut self, p: &'a ProcessInfo) {
        self.process = Some(EcsProcess {
            pid: p.pid,
            name: &p.name,
            thread: EcsThread { id: p.tid },
        });
        self.user = Some(EcsUser {
            id: p.uid.to_string(),
        });
        self.container = p.container_id.as_deref().map(|id| EcsContainer { id });
    }
}

/// `event` (serialised through [`event_object_json`]).
pub struct EcsEventField {
    pub kind: &'static str,
    pub category: [&'static str; 1],
    pub r#type: [&'static str; 1],
    /// `dnssec_monitor.transaction` on a transaction line.
    pub dataset: Option<&'static str>,
    /// `failure` on the transaction line of a query that got no answer.
    pub outcome: Option<&'static str>,
}

/// [`EcsEventField`] field for field (`None`s left out).
#[derive(Serialize)]
struct EventFieldPlain {
    kind: &'static str,
    category: [&'static str; 1],
    r#type: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    dataset: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'static str>,
}

impl EcsEventField {
    fn plain(&self) -> EventFieldPlain {
        EventFieldPlain {
            kind: self.kind,
            category: self.category,
            r#type: self.r#type,
            dataset: self.dataset,
            outcome: self.outcome,
        }
    }
}

/// The `event` objects of event lines, rendered once: every line carries
/// one, and escaping its constant strings per line showed in profiles of
/// `--events` (~4% of the daemon).
fn event_object_json(e: &EcsEventField) -> Option<&'static serde_json::value::RawValue> {
    use serde_json::value::RawValue;
    use std::sync::OnceLock;
    static SHAPES: OnceLock<Vec<(EcsEventField, Box<RawValue>)>> = OnceLock::new();
    let shapes = SHAPES.get_or_init(|| {
        let mut out = Vec::new();
        for dataset in [None, Some("dnssec_monitor.transaction")] {
            for outcome in [None, Some("failure")] {
                let f = EcsEventField {
                    kind: "event",
                    category: ["network"],
                    r#type: ["protocol"],
                    dataset,
                    outcome,
                };
                if let Ok(raw) = serde_json::value::to_raw_value(&f.plain()) {
                    out.push((f, raw));
                }
            }
        }
        out
    });
    shapes
        .iter()
        .find(|(f, _)| {
            f.kind == e.kind
                && f.category == e.category
                && f.r#type == e.r#type
                && f.dataset == e.dataset
                && f.outcome == e.outcome
        })
        .map(|(_, raw)| raw.as_ref())
}

impl Serialize for EcsEventField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match event_object_json(self) {
            Some(raw) => raw.serialize(s),
            None => self.plain().serialize(s),
        }
    }
}

#[derive(Serialize)]
pub struct EcsDns {
    /// First: the only field a repeated message's copies do not share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u16>,
    pub r#type: &'static str,
    pub op_code: String,
    pub header_flags: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<EcsQuestion>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<EcsAnswer>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    /// Addresses serialise as their text (serde, human-readable formats)
    /// without a `String` per address.
    pub resolved_ip: Vec<IpAddr>,
}

#[derive(Serialize)]
pub struct EcsQuestion {
    pub name: String,
    pub r#type: String,
    pub class: String,
}

#[derive(Serialize)]
pub struct EcsAnswer {
    pub name: String,
    pub r#type: String,
    pub class: String,
    pub ttl: u32,
    pub data: String,
}

#[derive(Serialize)]
pub struct EcsEndpoint {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Serialize)]
pub struct EcsNetwork {
    pub transport: &'static str,
    pub r#type: &'static str,
    pub protocol: &'static str,
}

#[derive(Serialize)]
pub struct EcsObserver<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<EcsObserverSide<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<EcsObserverSide<'a>>,
}

#[derive(Serialize)]
pub struct EcsObserverSide<'a> {
    pub interface: EcsInterface<'a>,
}

#[derive(Serialize)]
pub struct EcsInterface<'a> {
    pub name: &'a str,
    pub id: String,
}

#[derive(Serialize)]
pub struct EcsProcess<'a> {
    pub pid: u32,
    pub name: &'a str,
    pub thread: EcsThread,
}

#[derive(Serialize)]
pub struct EcsThread {
    pub id: u32,
}

#[derive(Serialize)]
pub struct EcsUser {
    pub id: String,
}

#[derive(Serialize)]
pub struct EcsContainer<'a> {
    pub id: &'a str,
}

#[derive(Serialize)]
pub struct EcsOwn {
    pub raw: String,
    /// The monitor's own lookup (its engine), so readers can leave it out;
    /// written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub own_query: bool,
    /// Traffic of a DNS server on this host with other machines
    /// ([`DnsEvent::served_here`]): recorded, never judged; written only
    /// when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub served: bool,
    /// On transaction lines: the answer's query (same socket and txid), or
    /// the unanswered query itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<EcsQueryInfo>,
    /// The transaction line of a query that got no answer within the
    /// outstanding timeout; written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unanswered: bool,
    /// Transaction lines: the rules that alerted on this answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<&'static str>,
}

/// `dnssec_monitor.query` of a transaction line: the query an answer
/// answered, as the alert document writes it, and how long it took.
#[derive(Serialize)]
pub struct EcsQueryInfo {
    pub id: u16,
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    pub rd: bool,
    pub r#do: bool,
    pub cd: bool,
    /// Answer time − query time, in milliseconds (microsecond precision);
    /// none for a query that got no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-27T18:47:08.123456Z`.
/// Times before 1970 (a broken clock) are written as the epoch.
pub fn rfc3339_micros(t: SystemTime) -> String {
    let Civil {
        year,
        month,
        day,
        h,
        min,
        sec,
        us,
    } = civil(t);
    if !(0..=9999).contains(&year) {
        return format!("{year:04}-{month:02}-{day:02}T{h:02}:{min:02}:{sec:02}.{us:06}Z");
    }
    // Written digit by digit: this runs for every event line, and
    // `format!` was a quarter of the cost of building an event's document.
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    digits(&mut b[0..4], year as u64);
    digits(&mut b[5..7], month as u64);
    digits(&mut b[8..10], day as u64);
    digits(&mut b[11..13], h);
    digits(&mut b[14..16], min);
    digits(&mut b[17..19], sec);
    digits(&mut b[20..26], u64::from(us));
    // ASCII digits and punctuation: always UTF-8.
    std::str::from_utf8(&b)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// A UTC time as calendar fields (times before 1970 read as 1970-01-01).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub h: u64,
    pub min: u64,
    pub sec: u64,
    pub us: u32,
}

pub(crate) fn civil(t: SystemTime) -> Civil {
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
    Civil {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        h: sod / 3600,
        min: sod / 60 % 60,
        sec: sod % 60,
        us: d.subsec_micros(),
    }
}

/// `v` in decimal, right-aligned and zero-padded in `dst` (`v` fits).
fn digits(dst: &mut [u8], mut v: u64) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
