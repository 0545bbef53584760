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
use hickory_proto::rr::{Name, RecordType};

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
    /// Servers that answered during this lookup.
    pub used: Vec<SocketAddr>,
    /// Servers tried last (they served data that did not validate).
    pub avoid: Vec<SocketAddr>,
    /// A second pass after a bogus result: caches of unvalidated data
    /// (referral DS) and cached failures are not reused.
    pub retry: bool,
    /// Upper bound on how long the result may be cached (a negative trust
    /// anchor that expires sooner, RFC 7646 §2.2).
    pub ttl_cap: u32,
    /// Start this many servers further down each server list (wrapping):
    /// the detector's confirming re-queries ask a zone's other servers,
    /// which may legitimately serve other data (CDN rotation).
    pub rotate: usize,
}

impl Work {
    /// `servers`, the avoided ones moved to the end (order kept otherwise),
    /// the others rotated left by [`Work::rotate`].
    fn order(&self, servers: &[SocketAddr]) -> Vec<SocketAddr> {
        let (mut good, bad): (Vec<SocketAddr>, Vec<SocketAddr>) =
            servers.iter().partition(|s| !self.avoid.contains(s));
        if !good.is_empty() {
            let n = self.rotate % good.len();
            good.rotate_left(n);
        }
        good.extend(bad);
        good
    }
}

impl Work {
    pub fn new(limits: &Limits) -> Self {
        Self {
            budget: Budget::new(limits),
            max_referral_depth: limits.max_referral_depth,
            nesting: 0,
            used: Vec::new(),
            avoid: Vec::new(),
            retry: false,
            ttl_cap: u32::MAX,
            rotate: 0,
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
    /// DS RRsets (or their NSEC/NSEC3 denial) carried by referrals
    /// (RFC 4035 §3.1.4), as ready-made DS answers, by child zone.
    referral_ds: TtlLru<Name, Arc<Message>>,
    /// In-bailiwick glue seen in referrals, by NS name.
    glue: TtlLru<Name, Arc<Vec<SocketAddr>>>,
    /// RFC 9156 query minimisation (iterative mode).
    minimise: bool,
    /// Per-zone upstreams (split horizon): names in these zones are asked
    /// of these servers (DO+CD), whatever the mode.
    zone_upstreams: Vec<(Name, Vec<SocketAddr>)>,
    /// DNS 0x20: the question's letters in a random case ([`random_case`]).
    dns0x20: bool,
    pub zone_upstream_queries: AtomicU64,
    pub queries_sent: AtomicU64,
    pub tcp_retries: AtomicU64,
    pub server_failures: AtomicU64,
    /// Answers dropped because their question did not echo the 0x20 case.
    pub case_mismatches: AtomicU64,
}

#[derive(Debug)]
enum Kind {
    Final,
    Referral {
        child: Name,
    },
    /// Lame, refused, broken: try the next server.
    Lame(String),
}

/// YXDOMAIN with a DNAME above `qname`: the substitution would exceed the
/// name length limit, a final answer (RFC 6672 §2.2), not a server failure.
pub fn dname_overflow(msg: &Message, qname: &Name) -> bool {
    msg.metadata.response_code == ResponseCode::YXDomain
        && msg.answers.iter().any(|r| {
            r.record_type() == RecordType::DNAME && r.name.zone_of(qname) && r.name != *qname
        })
}

fn classify(msg: &Message, zone: &Name, qname: &Name, qtype: RecordType) -> Kind {
    let rcode = msg.metadata.response_code;
    if dname_overflow(msg, qname) {
        return Kind::Final;
    }
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
        // NS of the zone itself with AA: an answer without SOA. Anything
        // else (upward or sideways referral) is lame, AA or not.
        if msg.metadata.authoritative && child == *zone {
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

/// `name` with each ASCII letter's case flipped at random (one random bit
/// per letter; other bytes as they are).
pub fn random_case(name: &Name) -> Name {
    let labels: Vec<Vec<u8>> = name
        .iter()
        .map(|label| {
            label
                .iter()
                .map(|&b| {
                    if b.is_ascii_alphabetic() && rand::random::<bool>() {
                        b ^ 0x20
                    } else {
                        b
                    }
                })
                .collect()
        })
        .collect();
    match Name::from_labels(labels) {
        Ok(mut n) => {
            n.set_fqdn(name.is_fqdn());
            n
        }
        // Same lengths as a valid name: cannot fail; ask as given if it did.
        Err(_) => name.clone(),
    }
}

impl Resolver {
    pub fn new(transport: Arc<dyn Transport>, mode: Mode, clock: Clock, minimise: bool) -> Self {
        Self {
            transport,
            mode,
            clock,
            delegations: TtlLru::new(4_096, 4 << 20),
            glue: TtlLru::new(4_096, 4 << 20),
            referral_ds: TtlLru::new(4_096, 16 << 20),
            minimise,
            zone_upstreams: Vec::new(),
            dns0x20: false,
            zone_upstream_queries: AtomicU64::new(0),
            queries_sent: AtomicU64::new(0),
            tcp_retries: AtomicU64::new(0),
            server_failures: AtomicU64::new(0),
            case_mismatches: AtomicU64::new(0),
        }
    }

    /// DNS 0x20 (draft-vixie-dnsext-dns0x20-00): every question goes out
    /// with its letters in a random case, and an answer whose question
    /// does not echo that case exactly is dropped (counted in
    /// `case_mismatches`; the next server is tried). An off-path forger
    /// must then guess one more bit per letter besides the id and port.
    /// A server that does not preserve case fails every lookup, so this is
    /// off by default (DESIGN.md: "0x20 optional").
    pub fn with_0x20(mut self, on: bool) -> Self {
        self.dns0x20 = on;
        self
    }

    /// Names at or below each zone are asked of its servers (split
    /// horizon: internal names resolvable only through internal servers).
    pub fn with_zone_upstreams(mut self, routes: Vec<(Name, Vec<SocketAddr>)>) -> Self {
        self.zone_upstreams = routes
            .into_iter()
            .map(|(z, s)| {
                let mut z = z.to_lowercase();
                z.set_fqdn(true);
                (z, s)
            })
            .collect();
        self
    }

    pub fn is_upstream(&self) -> bool {
        matches!(self.mode, Mode::Upstream { .. })
    }

    /// The servers of the deepest per-zone upstream covering (qname,
    /// qtype). A DS RRset lives in the parent zone (RFC 4035 §2.4), so a DS
    /// query is routed by the parent of its owner: the DS of an internal
    /// zone's apex is asked where its parent is.
    fn zone_route(&self, qname: &Name, qtype: RecordType) -> Option<&[SocketAddr]> {
        if self.zone_upstreams.is_empty() {
            return None;
        }
        let at = if qtype == RecordType::DS && !qname.is_root() {
            qname.base_name()
        } else {
            qname.clone()
        };
        self.zone_upstreams
            .iter()
            .filter(|(z, _)| z.zone_of(&at))
            .max_by_key(|(z, _)| z.num_labels())
            .map(|(_, s)| s.as_slice())
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
        let asked = if self.dns0x20 {
            random_case(qname)
        } else {
            qname.clone()
        };
        q.add_query(Query::query(asked.clone(), qtype));
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
                Err(e) => {
                    tracing::trace!(%server, %qname, %qtype, error = %e, "no answer");
                    return Ok(Err(e.to_string()));
                }
            };
            tracing::trace!(%server, %qname, %qtype, recursive, bytes = raw.len(), "answer");
            if !work.used.contains(&server) {
                work.used.push(server);
            }
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
            // Name equality ignores case (RFC 4343); 0x20 compares the
            // label bytes as sent.
            if self.dns0x20 && !msg.queries[0].name().iter().eq(asked.iter()) {
                self.case_mismatches.fetch_add(1, Ordering::Relaxed);
                return Ok(Err(format!(
                    "answer from {server} does not echo the question's 0x20 case ({} for {asked})",
                    msg.queries[0].name()
                )));
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
        if qtype == RecordType::DS
            && !work.retry
            && let Some(msg) = self.referral_ds.get(qname, &self.clock)
        {
            let server = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);
            return Ok(Response {
                message: msg,
                zone: None,
                server,
            });
        }
        if let Some(servers) = self.zone_route(qname, qtype) {
            self.zone_upstream_queries.fetch_add(1, Ordering::Relaxed);
            return self.upstream(work, servers, qname, qtype).await;
        }
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
        for server in work.order(servers) {
            match self.exchange(work, server, qname, qtype, true).await? {
                Ok(msg) => {
                    let rcode = msg.metadata.response_code;
                    if rcode == ResponseCode::NoError
                        || rcode == ResponseCode::NXDomain
                        || dname_overflow(&msg, qname)
                    {
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
        // A cached delegation keeps only addresses; if they all fail, start
        // over from the root once to learn the NS names again.
        let mut from_cache = !zone.is_root();
        let mut depth = 0u32;
        let qname_labels = qname.iter().count();
        // RFC 9156 §3: ask each zone only for the next label (NS), one more
        // label after every NODATA; relaxed: any trouble → the full name.
        let mut minimise = self.minimise;
        let mut next_labels = zone.iter().count() + 1;
        // NS names of the current zone without glue, resolved if all else fails.
        let mut pending: Vec<Name> = Vec::new();
        'referral: loop {
            let minimised = minimise && next_labels < qname_labels;
            let (ask, ask_type) = if minimised {
                (qname.trim_to(next_labels), RecordType::NS)
            } else {
                (qname.clone(), qtype)
            };
            let mut last = String::from("no server addresses");
            for server in work.order(&servers) {
                let msg = match self.exchange(work, server, &ask, ask_type, false).await? {
                    Ok(m) => m,
                    Err(_) if minimised => {
                        // Some servers drop NS queries for names inside a zone.
                        minimise = false;
                        continue 'referral;
                    }
                    Err(why) => {
                        self.server_failures.fetch_add(1, Ordering::Relaxed);
                        last = why;
                        continue;
                    }
                };
                let kind = classify(&msg, &zone, &ask, ask_type);
                tracing::trace!(%server, %ask, %ask_type, %zone, kind = ?kind, rcode = %msg.metadata.response_code, authority = ?msg.authorities.iter().map(|r| r.to_string()).collect::<Vec<_>>(), "classified");
                let kind = match kind {
                    Kind::Final if minimised => {
                        let rcode = msg.metadata.response_code;
                        let ns_here = msg
                            .answers
                            .iter()
                            .any(|r| r.record_type() == RecordType::NS && r.name == ask);
                        if rcode == ResponseCode::NXDomain {
                            // Some servers deny empty non-terminals: fall back.
                            minimise = false;
                            continue 'referral;
                        }
                        if !ns_here {
                            next_labels += 1; // not a zone cut: one label more
                            continue 'referral;
                        }
                        // The same servers are authoritative for the child too.
                        self.remember_glue(&msg.additionals, &ask, &zone);
                        zone = ask.clone();
                        next_labels = zone.iter().count() + 1;
                        continue 'referral;
                    }
                    Kind::Lame(_) if minimised => {
                        minimise = false;
                        continue 'referral;
                    }
                    k => k,
                };
                match kind {
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
                        self.remember_referral_ds(&msg, &child);
                        let (mut next, glueless, oob) = self.referral_servers(&msg, &zone, &child);
                        if next.is_empty() {
                            next = self.resolve_ns_names(work, &roots, &glueless).await?;
                            pending.clear();
                        } else {
                            pending = glueless;
                        }
                        if next.is_empty() {
                            next = oob;
                        }
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
                        next_labels = child.iter().count() + 1;
                        zone = child;
                        servers = next;
                        continue 'referral;
                    }
                }
            }
            // Every known server failed: try the NS names that had no glue.
            if !pending.is_empty() {
                let names = std::mem::take(&mut pending);
                let more = self.resolve_ns_names(work, &roots, &names).await?;
                if !more.is_empty() {
                    // Remember them with the delegation: the glued servers failed.
                    let mut all = more.clone();
                    all.extend(servers.iter().filter(|s| !more.contains(s)));
                    self.delegations.insert(
                        zone.clone(),
                        Arc::new(all),
                        300,
                        64 + (more.len() + servers.len()) * 32,
                        &self.clock,
                    );
                    servers = more;
                    continue 'referral;
                }
            }
            if from_cache {
                from_cache = false;
                zone = Name::root();
                servers = roots.clone();
                next_labels = 1;
                continue 'referral;
            }
            return Err(ResolveError::NoServer {
                name: qname.clone(),
                rtype: qtype,
                servers: servers.len(),
                last,
            });
        }
    }
}

#[path = "referral.rs"]
mod referral;

#[cfg(test)]
mod random_case_tests {
    use super::*;

    #[test]
    fn random_case_changes_only_the_case_of_letters() {
        let n = Name::from_ascii("a-1.Example.TEST.").unwrap();
        let mut upper = 0;
        let mut lower = 0;
        for _ in 0..64 {
            let r = random_case(&n);
            assert!(r.is_fqdn());
            // Equal ignoring case (RFC 4343), digits and '-' untouched.
            assert_eq!(r, n);
            let s = r.to_string();
            assert_eq!(s.to_ascii_lowercase(), "a-1.example.test.");
            assert_eq!(&s[1..3], "-1");
            upper += s.bytes().filter(u8::is_ascii_uppercase).count();
            lower += s.bytes().filter(u8::is_ascii_lowercase).count();
        }
        // 64 × 12 letters, each a fair coin: both cases show up.
        assert!(upper > 0 && lower > 0, "upper {upper} lower {lower}");
        assert_eq!(random_case(&Name::root()), Name::root());
    }
}
