//! Getting answers, independently of the host's resolver.
//!
//! - Iterative (RFC 1034 §5.3.3): start at the closest known delegation (root
//!   hints at first), ask with RD=0 DO=1 (EDNS0, 1232-byte UDP payload as
//!   recommended by DNS Flag Day 2020), follow referrals. Glue is accepted only
//!   in bailiwick of the delegating zone (RFC 2181 §5.4.1); other NS names are
//!   resolved separately. Lame, unreachable, REFUSED and SERVFAIL servers are
//!   skipped; TC=1 is retried over TCP (RFC 7766 §5).
//! - Upstream: RD=1 DO=1 CD=1 (RFC 4035 §3.2.2, §4.9.1) to configured servers;
//!   the validator checks everything itself.
//!
//! The resolver returns raw messages; CNAME/DNAME chasing and validation are
//! the engine's and the chain's business. Work is bounded by [`Work`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use super::cache::TtlLru;
use super::clock::Clock;
use super::limits::{Budget, Limits};
use super::transport::{Protocol, Transport};
use super::verdict::IndeterminateReason;

/// EDNS0 UDP payload size (DNS Flag Day 2020).
pub const EDNS_UDP_SIZE: u16 = 1232;
/// At most this many NS names without glue are resolved per referral.
const MAX_GLUELESS_NS: usize = 3;
/// Delegations are cached at most this long (seconds).
const MAX_DELEGATION_TTL: u32 = 86_400;

/// What one lookup may still spend: the validator's [`Budget`] (queries,
/// signature verifications, NSEC3 hashes) and the referral depth.
#[derive(Clone, Debug)]
pub struct Work {
    pub budget: Budget,
    pub max_referral_depth: u32,
    /// Nesting of glueless NS resolutions, bounded like referrals.
    nesting: u32,
}

impl Work {
    pub fn new(limits: &Limits) -> Self {
        Self {
            budget: Budget::new(limits),
            max_referral_depth: limits.max_referral_depth,
            nesting: 0,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Budget(IndeterminateReason),
    #[error("referral depth limit {limit} reached resolving {name}")]
    ReferralDepth { name: Name, limit: u32 },
    #[error("no usable answer for {name} {rtype} from {servers} server(s): {last}")]
    NoServer {
        name: Name,
        rtype: RecordType,
        servers: usize,
        last: String,
    },
}

/// A final answer (not a referral) and where it came from.
#[derive(Clone, Debug)]
pub struct Response {
    pub message: Arc<Message>,
    /// Iterative mode: the zone whose servers answered (the last referral).
    pub zone: Option<Name>,
    pub server: SocketAddr,
}

#[derive(Clone, Debug)]
pub enum Mode {
    Iterative { roots: Vec<SocketAddr> },
    Upstream { servers: Vec<SocketAddr> },
}

/// Sends queries and follows referrals.
pub struct Resolver {
    transport: Arc<dyn Transport>,
    mode: Mode,
    clock: Clock,
    delegations: TtlLru<Name, Arc<Vec<SocketAddr>>>,
    pub queries_sent: AtomicU64,
    pub tcp_retries: AtomicU64,
    pub server_failures: AtomicU64,
}

enum Kind {
    Final,
    Referral {
        child: Name,
    },
    /// Lame, refused, broken: try the next server.
    Lame(String),
}

fn classify(msg: &Message, zone: &Name, qname: &Name, qtype: RecordType) -> Kind {
    let rcode = msg.metadata.response_code;
    if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
        return Kind::Lame(format!("rcode {rcode}"));
    }
    if rcode == ResponseCode::NXDomain || !msg.answers.is_empty() {
        return Kind::Final;
    }
    if msg
        .authorities
        .iter()
        .any(|r| r.record_type() == RecordType::SOA)
    {
        return Kind::Final;
    }
    let ns_owner = msg
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::NS)
        .map(|r| r.name.clone());
    if let Some(child) = ns_owner {
        let below_zone = zone.zone_of(&child) && child != *zone;
        if below_zone && child.zone_of(qname) {
            if qtype == RecordType::DS && child == *qname {
                // The parent side of this cut answers DS; a referral here is a
                // (lame or unsigned) parent without a DS answer: final, unproven.
                return Kind::Final;
            }
            return Kind::Referral { child };
        }
        if msg.metadata.authoritative {
            return Kind::Final;
        }
        return Kind::Lame(format!("referral to {child} outside {zone}"));
    }
    if msg.metadata.authoritative {
        Kind::Final
    } else {
        Kind::Lame("empty non-authoritative answer".into())
    }
}

impl Resolver {
    pub fn new(transport: Arc<dyn Transport>, mode: Mode, clock: Clock) -> Self {
        Self {
            transport,
            mode,
            clock,
            delegations: TtlLru::new(4_096, 4 << 20),
            queries_sent: AtomicU64::new(0),
            tcp_retries: AtomicU64::new(0),
            server_failures: AtomicU64::new(0),
        }
    }

    pub fn is_upstream(&self) -> bool {
        matches!(self.mode, Mode::Upstream { .. })
    }

    /// One query to one server, TC → TCP. Errors are strings: they only
    /// ever explain why the next server is tried.
    async fn exchange(
        &self,
        work: &mut Work,
        server: SocketAddr,
        qname: &Name,
        qtype: RecordType,
        recursive: bool,
    ) -> Result<Result<Message, String>, ResolveError> {
        let id: u16 = rand::random();
        let mut q = Message::new(id, MessageType::Query, OpCode::Query);
        q.metadata.recursion_desired = recursive;
        q.metadata.checking_disabled = recursive;
        q.add_query(Query::query(qname.clone(), qtype));
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_UDP_SIZE);
        edns.set_dnssec_ok(true);
        q.set_edns(edns);
        let wire = match q.to_vec() {
            Ok(w) => w,
            Err(e) => return Ok(Err(format!("cannot encode query: {e}"))),
        };
        let mut protocol = Protocol::Udp;
        loop {
            work.budget.spend_query().map_err(ResolveError::Budget)?;
            self.queries_sent.fetch_add(1, Ordering::Relaxed);
            let raw = match self.transport.exchange(server, protocol, &wire).await {
                Ok(raw) => raw,
                Err(e) => return Ok(Err(e.to_string())),
            };
            let msg = match Message::from_vec(&raw) {
                Ok(m) => m,
                Err(e) => return Ok(Err(format!("undecodable answer from {server}: {e}"))),
            };
            if msg.metadata.id != id || msg.metadata.message_type != MessageType::Response {
                return Ok(Err(format!("answer from {server} does not match the id")));
            }
            let same_question = msg.queries.len() == 1
                && msg.queries[0].name() == qname
                && msg.queries[0].query_type() == qtype;
            if !same_question {
                return Ok(Err(format!("answer from {server} has another question")));
            }
            if msg.metadata.truncation && protocol == Protocol::Udp {
                self.tcp_retries.fetch_add(1, Ordering::Relaxed);
                protocol = Protocol::Tcp;
                continue;
            }
            return Ok(Ok(msg));
        }
    }

    /// The final answer for (qname, qtype).
    pub async fn resolve(
        &self,
        work: &mut Work,
        qname: &Name,
        qtype: RecordType,
    ) -> Result<Response, ResolveError> {
        match &self.mode {
            Mode::Upstream { servers } => self.upstream(work, servers, qname, qtype).await,
            Mode::Iterative { roots } => {
                Box::pin(self.iterate(work, roots.clone(), qname, qtype)).await
            }
        }
    }

    async fn upstream(
        &self,
        work: &mut Work,
        servers: &[SocketAddr],
        qname: &Name,
        qtype: RecordType,
    ) -> Result<Response, ResolveError> {
        let mut last = String::from("no servers configured");
        for &server in servers {
            match self.exchange(work, server, qname, qtype, true).await? {
                Ok(msg) => {
                    let rcode = msg.metadata.response_code;
                    if rcode == ResponseCode::NoError || rcode == ResponseCode::NXDomain {
                        return Ok(Response {
                            message: Arc::new(msg),
                            zone: None,
                            server,
                        });
                    }
                    last = format!("{server}: rcode {rcode}");
                }
                Err(why) => last = why,
            }
            self.server_failures.fetch_add(1, Ordering::Relaxed);
        }
        Err(ResolveError::NoServer {
            name: qname.clone(),
            rtype: qtype,
            servers: servers.len(),
            last,
        })
    }

    /// The deepest cached delegation covering `name` (for DS: its parent side).
    fn closest_delegation(
        &self,
        qname: &Name,
        qtype: RecordType,
        roots: Vec<SocketAddr>,
    ) -> (Name, Vec<SocketAddr>) {
        let mut n = if qtype == RecordType::DS && !qname.is_root() {
            qname.base_name()
        } else {
            qname.clone()
        };
        loop {
            if n.is_root() {
                return (Name::root(), roots);
            }
            if let Some(servers) = self.delegations.get(&n, &self.clock) {
                return (n, servers.as_ref().clone());
            }
            n = n.base_name();
        }
    }

    async fn iterate(
        &self,
        work: &mut Work,
        roots: Vec<SocketAddr>,
        qname: &Name,
        qtype: RecordType,
    ) -> Result<Response, ResolveError> {
        let (mut zone, mut servers) = self.closest_delegation(qname, qtype, roots.clone());
        let mut depth = 0u32;
        'referral: loop {
            let mut last = String::from("no server addresses");
            for &server in &servers {
                let msg = match self.exchange(work, server, qname, qtype, false).await? {
                    Ok(m) => m,
                    Err(why) => {
                        self.server_failures.fetch_add(1, Ordering::Relaxed);
                        last = why;
                        continue;
                    }
                };
                match classify(&msg, &zone, qname, qtype) {
                    Kind::Final => {
                        return Ok(Response {
                            message: Arc::new(msg),
                            zone: Some(zone),
                            server,
                        });
                    }
                    Kind::Lame(why) => {
                        self.server_failures.fetch_add(1, Ordering::Relaxed);
                        last = format!("{server}: {why}");
                    }
                    Kind::Referral { child } => {
                        depth += 1;
                        if depth + work.nesting > work.max_referral_depth {
                            return Err(ResolveError::ReferralDepth {
                                name: qname.clone(),
                                limit: work.max_referral_depth,
                            });
                        }
                        let next = self
                            .referral_servers(work, &roots, &msg, &zone, &child)
                            .await?;
                        if next.is_empty() {
                            last = format!("{server}: referral to {child} without usable servers");
                            continue;
                        }
                        let ttl = msg
                            .authorities
                            .iter()
                            .filter(|r| r.record_type() == RecordType::NS)
                            .map(|r| r.ttl)
                            .min()
                            .unwrap_or(0)
                            .min(MAX_DELEGATION_TTL);
                        self.delegations.insert(
                            child.clone(),
                            Arc::new(next.clone()),
                            ttl,
                            64 + next.len() * 32,
                            &self.clock,
                        );
                        zone = child;
                        servers = next;
                        continue 'referral;
                    }
                }
            }
            return Err(ResolveError::NoServer {
                name: qname.clone(),
                rtype: qtype,
                servers: servers.len(),
                last,
            });
        }
    }

    /// Addresses of the servers a referral points to: glue in bailiwick of
    /// the delegating `zone` (RFC 2181 §5.4.1), else the NS names resolved.
    async fn referral_servers(
        &self,
        work: &mut Work,
        roots: &[SocketAddr],
        msg: &Message,
        zone: &Name,
        child: &Name,
    ) -> Result<Vec<SocketAddr>, ResolveError> {
        let ns_names: Vec<Name> = msg
            .authorities
            .iter()
            .filter(|r| r.name == *child)
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for r in &msg.additionals {
            if !ns_names.contains(&r.name) || !zone.zone_of(&r.name) {
                continue;
            }
            match &r.data {
                RData::A(a) => v4.push(SocketAddr::new(IpAddr::V4(a.0), 53)),
                RData::AAAA(a) => v6.push(SocketAddr::new(IpAddr::V6(a.0), 53)),
                _ => {}
            }
        }
        v4.extend(v6);
        if !v4.is_empty() {
            return Ok(v4);
        }
        // Glueless: resolve up to a few NS names; names inside `child` itself
        // without glue cannot be resolved (they need this very referral).
        if work.nesting >= 4 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for ns in ns_names
            .iter()
            .filter(|n| !child.zone_of(n))
            .take(MAX_GLUELESS_NS)
        {
            for rtype in [RecordType::A, RecordType::AAAA] {
                work.nesting += 1;
                let r = Box::pin(self.iterate(work, roots.to_vec(), ns, rtype)).await;
                work.nesting -= 1;
                let resp = match r {
                    Ok(resp) => resp,
                    Err(e @ ResolveError::Budget(_)) => return Err(e),
                    Err(_) => continue,
                };
                for rec in resp.message.answers.iter().filter(|r| r.name == *ns) {
                    match &rec.data {
                        RData::A(a) => out.push(SocketAddr::new(IpAddr::V4(a.0), 53)),
                        RData::AAAA(a) => out.push(SocketAddr::new(IpAddr::V6(a.0), 53)),
                        _ => {}
                    }
                }
            }
            if !out.is_empty() {
                break;
            }
        }
        Ok(out)
    }
}
