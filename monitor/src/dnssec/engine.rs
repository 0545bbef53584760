//! The engine's entry point: `Engine::lookup(name, type)` resolves on its own
//! (iterative or upstream), follows CNAME/DNAME chains, validates every piece
//! with the chain of trust and returns a [`Lookup`] whose answers can only be
//! read together with the verdict.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tokio::sync::watch;

use super::anchors::TrustAnchors;
use super::answer::PieceOutcome;
pub use super::cache::CacheConfig;
use super::cache::TtlLru;
use super::cached::{CacheKey, CachedMeta, TraceInterner, key_bytes, pack, unpack};
use super::chain::{ChainCtx, FAILURE_TTL, MAX_TTL, ZoneState, resolve_failure, rrset};
use super::clock::Clock;
use super::limits::{Budget, Limits};
pub use super::nta::NegativeTrustAnchor;
use super::resolver::{Mode, Resolver, Work};
pub use super::roothints::RootHints;
use super::transport::Transport;
use super::verdict::{BogusReason, IndeterminateReason, InsecureReason, Trace, TraceStep, Verdict};

/// Where answers come from.
#[derive(Clone, Debug)]
pub enum ResolutionMode {
    /// From the root servers down (RD=0).
    Iterative { root_hints: RootHints },
    /// Through recursive servers with CD=1; everything validated here.
    Upstream { servers: Vec<SocketAddr> },
}

/// Everything the engine needs; see [`EngineConfig::iterative`].
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub mode: ResolutionMode,
    pub trust_anchors: TrustAnchors,
    /// The only time source for signature windows and cache expiry.
    pub clock: Clock,
    pub limits: Limits,
    pub cache: CacheConfig,
    /// RFC 9156 query minimisation (iterative mode, relaxed: NXDOMAIN or a
    /// failing server for a minimised NS query falls back to the full name).
    pub query_minimization: bool,
    /// RFC 7646: names at or below these are treated as insecure while
    /// the NTA is in force (its expiry is read at every lookup).
    pub negative_trust_anchors: Vec<NegativeTrustAnchor>,
    /// Split horizon: names at or below each zone are asked of its servers
    /// (DO+CD, validated here) instead of iterating or the global upstream.
    /// Per-zone trust anchors go into `trust_anchors` (the closest
    /// enclosing anchor is where a chain starts, RFC 4035 §4.4).
    pub zone_upstreams: Vec<(Name, Vec<SocketAddr>)>,
    /// DNS 0x20 on every query the engine sends (see `Resolver::with_0x20`).
    pub dns_0x20: bool,
}

impl EngineConfig {
    /// Iterative from `root_hints`, IANA root anchors, system clock, defaults.
    pub fn iterative(root_hints: RootHints) -> Self {
        Self::with_mode(ResolutionMode::Iterative { root_hints })
    }

    /// Upstream through `servers` (DO+CD), IANA root anchors, system clock.
    pub fn upstream(servers: Vec<SocketAddr>) -> Self {
        Self::with_mode(ResolutionMode::Upstream { servers })
    }

    fn with_mode(mode: ResolutionMode) -> Self {
        Self {
            mode,
            trust_anchors: TrustAnchors::iana_root(),
            clock: Clock::system(),
            limits: Limits::default(),
            cache: CacheConfig::default(),
            query_minimization: false,
            negative_trust_anchors: Vec::new(),
            zone_upstreams: Vec::new(),
            dns_0x20: false,
        }
    }
}

/// The validated outcome of one lookup. The answers are private: read them
/// through [`Lookup::secure_answers`] or [`Lookup::answers_with_verdict`].
#[derive(Clone, Debug)]
pub struct Lookup {
    pub qname: Name,
    pub qtype: RecordType,
    /// The authority's rcode for the end of the chain (SERVFAIL when no
    /// answer could be had at all).
    pub rcode: ResponseCode,
    pub verdict: Verdict,
    /// Answer section incl. CNAME/DNAME links, without RRSIGs.
    answers: Vec<Record>,
    /// The RRSIGs over those answers.
    pub rrsigs: Vec<Record>,
    pub trace: Trace,
    /// What validating this lookup spent (zero when served from cache).
    pub budget: Budget,
    pub from_cache: bool,
    /// Seconds this result may be reused.
    pub ttl: u32,
}

impl Lookup {
    /// The answers, only when the verdict is Secure.
    pub fn secure_answers(&self) -> Option<&[Record]> {
        self.verdict.is_secure().then_some(self.answers.as_slice())
    }

    /// The answers with the verdict that qualifies them.
    pub fn answers_with_verdict(&self) -> (&Verdict, &[Record]) {
        (&self.verdict, &self.answers)
    }
}

/// Counters for `dnssec-monitor` metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineStats {
    pub lookups: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cache_entries: u64,
    /// Bytes the answer cache holds (as accounted against `max_bytes`).
    pub cache_bytes: u64,
    /// Answers pushed out of the cache to make room (LRU).
    pub cache_evictions: u64,
    pub zone_cache_hits: u64,
    pub zone_cache_entries: u64,
    pub inflight_joined: u64,
    pub queries_sent: u64,
    pub tcp_retries: u64,
    pub server_failures: u64,
    /// Queries sent to a per-zone upstream.
    pub zone_upstream_queries: u64,
    /// Answers dropped for not echoing the question's 0x20 case.
    pub case_mismatches: u64,
}

type Key = (Name, RecordType);

struct Inner {
    config: EngineConfig,
    resolver: Resolver,
    zones: TtlLru<Name, ZoneState>,
    /// Compact entries ([`super::cached`]): key, wire records, own trace steps.
    lookups: TtlLru<CacheKey, CachedMeta>,
    /// Trace prefixes shared by cached lookups.
    traces: TraceInterner,
    inflight: Mutex<HashMap<Key, watch::Receiver<Option<Arc<Lookup>>>>>,
    lookups_total: AtomicU64,
    inflight_joined: AtomicU64,
}

/// A cheap, clonable handle (Send + Sync) to one engine and its caches.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// Removes the in-flight entry when the leader finishes or is cancelled
/// (a cancelled leader drops its sender; waiters then do the work themselves).
struct InflightGuard<'a> {
    inner: &'a Inner,
    key: Key,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        let mut map = self
            .inner
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.remove(&self.key);
    }
}

impl Engine {
    pub fn new(config: EngineConfig, transport: Arc<dyn Transport>) -> Engine {
        let mode = match &config.mode {
            ResolutionMode::Iterative { root_hints } => Mode::Iterative {
                roots: root_hints
                    .addresses()
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 53))
                    .collect(),
            },
            ResolutionMode::Upstream { servers } => Mode::Upstream {
                servers: servers.clone(),
            },
        };
        let resolver = Resolver::new(
            transport,
            mode,
            config.clock.clone(),
            config.query_minimization,
        )
        .with_zone_upstreams(config.zone_upstreams.clone())
        .with_0x20(config.dns_0x20);
        // Split the configured bounds: a quarter for zone state, the rest
        // for answers (the resolver's delegation maps are small and fixed).
        let c = config.cache;
        Engine {
            inner: Arc::new(Inner {
                zones: TtlLru::new((c.max_entries / 4).max(16), (c.max_bytes / 4).max(4096)),
                lookups: TtlLru::new(c.max_entries, c.max_bytes - c.max_bytes / 4),
                traces: TraceInterner::new(4_096),
                resolver,
                config,
                inflight: Mutex::new(HashMap::new()),
                lookups_total: AtomicU64::new(0),
                inflight_joined: AtomicU64::new(0),
            }),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub fn stats(&self) -> EngineStats {
        let i = &self.inner;
        EngineStats {
            lookups: i.lookups_total.load(Ordering::Relaxed),
            cache_hits: i.lookups.hits.load(Ordering::Relaxed),
            cache_misses: i.lookups.misses.load(Ordering::Relaxed),
            cache_entries: i.lookups.len() as u64,
            cache_bytes: i.lookups.bytes() as u64,
            cache_evictions: i.lookups.evictions.load(Ordering::Relaxed),
            zone_cache_hits: i.zones.hits.load(Ordering::Relaxed),
            zone_cache_entries: i.zones.len() as u64,
            inflight_joined: i.inflight_joined.load(Ordering::Relaxed),
            queries_sent: i.resolver.queries_sent.load(Ordering::Relaxed),
            tcp_retries: i.resolver.tcp_retries.load(Ordering::Relaxed),
            server_failures: i.resolver.server_failures.load(Ordering::Relaxed),
            zone_upstream_queries: i.resolver.zone_upstream_queries.load(Ordering::Relaxed),
            case_mismatches: i.resolver.case_mismatches.load(Ordering::Relaxed),
        }
    }

    /// Resolves and validates (name, rtype). Never fails: problems are verdicts.
    pub async fn lookup(&self, name: &Name, rtype: RecordType) -> Lookup {
        let inner = &self.inner;
        inner.lookups_total.fetch_add(1, Ordering::Relaxed);
        let mut qname = name.to_lowercase();
        qname.set_fqdn(true);
        let key = (qname.clone(), rtype);
        let wire_key = key_bytes(&qname, rtype);
        loop {
            if let Some(hit) = self.cached(&wire_key, &qname, rtype) {
                return hit;
            }
            // Either join a lookup in flight or become its leader; the lock
            // is released before any await.
            let (waiter, leader) = {
                let mut map = inner.inflight.lock().unwrap_or_else(|p| p.into_inner());
                match map.get(&key) {
                    Some(rx) => (Some(rx.clone()), None),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        map.insert(key.clone(), rx);
                        (None, Some(tx))
                    }
                }
            };
            if let Some(tx) = leader {
                let _guard = InflightGuard {
                    inner,
                    key: key.clone(),
                };
                let result = Arc::new(self.lookup_uncached(&qname, rtype, 0).await);
                self.remember(&wire_key, &result);
                let _ = tx.send(Some(result.clone()));
                return result.as_ref().clone();
            }
            if let Some(mut rx) = waiter {
                inner.inflight_joined.fetch_add(1, Ordering::Relaxed);
                loop {
                    if let Some(done) = rx.borrow().clone() {
                        let mut l = done.as_ref().clone();
                        l.from_cache = true;
                        return l;
                    }
                    if rx.changed().await.is_err() {
                        break; // leader cancelled: try again ourselves
                    }
                }
            }
        }
    }

    /// A lookup that bypasses the answer cache (zone keys may still come
    /// from the zone cache) and refreshes it: the detector's confirming
    /// re-query of the zone's servers before it calls an answer forged
    /// (DESIGN.md "Detection", `answer_mismatch`).
    pub async fn lookup_fresh(&self, name: &Name, rtype: RecordType) -> Lookup {
        self.lookup_fresh_rotated(name, rtype, 0).await
    }

    /// [`Engine::lookup_fresh`] that starts `rotate` servers further down
    /// every server list, so successive confirmations (0, 1, 2 …) reach a
    /// zone's other servers too.
    pub async fn lookup_fresh_rotated(
        &self,
        name: &Name,
        rtype: RecordType,
        rotate: usize,
    ) -> Lookup {
        let inner = &self.inner;
        inner.lookups_total.fetch_add(1, Ordering::Relaxed);
        let mut qname = name.to_lowercase();
        qname.set_fqdn(true);
        let result = self.lookup_uncached(&qname, rtype, rotate).await;
        self.remember(&key_bytes(&qname, rtype), &result);
        result
    }

    /// The cached lookup for `key`, decoded, with the seconds it has left.
    fn cached(&self, key: &[u8], qname: &Name, qtype: RecordType) -> Option<Lookup> {
        let inner = &self.inner;
        let (packed, meta, left) = inner.lookups.get_full(key, &inner.config.clock)?;
        let u = match unpack(&packed) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(%qname, %qtype, error = %e, "cache entry unusable");
                return None;
            }
        };
        let mut steps = meta
            .prefix
            .as_deref()
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        steps.extend(u.steps);
        Some(Lookup {
            qname: qname.clone(),
            qtype,
            rcode: meta.rcode,
            verdict: meta.verdict.as_deref().cloned().unwrap_or(Verdict::Secure),
            answers: u.answers,
            rrsigs: u.rrsigs,
            trace: Trace { steps },
            budget: Budget::new(&inner.config.limits),
            from_cache: true,
            ttl: left,
        })
    }

    /// Caches `l` in compact form: every step but the last is the chain
    /// shared with other names of the zone; the rest is packed bytes.
    fn remember(&self, key: &[u8], l: &Lookup) {
        if l.ttl == 0 {
            return;
        }
        let inner = &self.inner;
        let steps = &l.trace.steps;
        let (prefix, own) = match steps.len() {
            0 | 1 => (None, steps.as_slice()),
            n => (Some(inner.traces.intern(&steps[..n - 1])), &steps[n - 1..]),
        };
        let packed = match pack(key, &l.answers, &l.rrsigs, own) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(qname = %l.qname, error = %e, "not cached");
                return;
            }
        };
        let verdict = (!l.verdict.is_secure()).then(|| Arc::new(l.verdict.clone()));
        let bytes = packed.heap_bytes()
            + verdict
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<Verdict>() + 128);
        let meta = CachedMeta {
            verdict,
            prefix,
            rcode: l.rcode,
        };
        inner
            .lookups
            .insert(packed, meta, l.ttl, bytes, &inner.config.clock);
    }

    /// The validated state of the deepest zone at or above `name`: for a
    /// secure zone, its validated DNSKEYs, so a caller can verify RRSIGs
    /// it captured elsewhere (the detector's `bogus_signature` check).
    pub async fn zone_state(&self, name: &Name) -> ZoneState {
        let cfg = &self.inner.config;
        let mut work = Work::new(&cfg.limits);
        let ctx = ChainCtx {
            resolver: &self.inner.resolver,
            anchors: &cfg.trust_anchors,
            negative_anchors: &cfg.negative_trust_anchors,
            limits: &cfg.limits,
            now: cfg.clock.now_unix(),
            cache: &self.inner.zones,
            clock: &cfg.clock,
        };
        let mut n = name.to_lowercase();
        n.set_fqdn(true);
        ctx.zone_state(&n, &mut work).await
    }

    async fn lookup_uncached(&self, qname: &Name, qtype: RecordType, rotate: usize) -> Lookup {
        let limits = &self.inner.config.limits;
        let mut work = Work::new(limits);
        work.rotate = rotate;
        let fut = async {
            let first = self.resolve_and_validate(qname, qtype, &mut work).await;
            // RFC 4035 §5.5: data that does not validate may come from one bad
            // server; ask again once, other servers first (same budget).
            let retry = matches!(&first.verdict, Verdict::Bogus { reason, .. }
                if !matches!(reason, BogusReason::BudgetExceeded { .. }));
            if !retry {
                return first;
            }
            work.avoid = std::mem::take(&mut work.used);
            work.retry = true;
            let second = self.resolve_and_validate(qname, qtype, &mut work).await;
            if matches!(second.verdict, Verdict::Indeterminate { .. }) {
                first
            } else {
                second
            }
        };
        let timed = tokio::time::timeout(limits.max_lookup_time, fut).await;
        let cap = work.ttl_cap;
        let mut l = match timed {
            Ok(l) => l,
            Err(_) => Lookup {
                qname: qname.clone(),
                qtype,
                rcode: ResponseCode::ServFail,
                verdict: Verdict::indeterminate(IndeterminateReason::LimitReached {
                    what: "lookup time (s)",
                    limit: limits.max_lookup_time.as_secs(),
                }),
                answers: Vec::new(),
                rrsigs: Vec::new(),
                trace: Trace::default(),
                budget: work.budget.clone(),
                from_cache: false,
                ttl: FAILURE_TTL,
            },
        };
        l.ttl = l.ttl.min(cap);
        l
    }

    async fn resolve_and_validate(
        &self,
        qname: &Name,
        qtype: RecordType,
        work: &mut Work,
    ) -> Lookup {
        let cfg = &self.inner.config;
        let ctx = ChainCtx {
            resolver: &self.inner.resolver,
            anchors: &cfg.trust_anchors,
            negative_anchors: &cfg.negative_trust_anchors,
            limits: &cfg.limits,
            now: cfg.clock.now_unix(),
            cache: &self.inner.zones,
            clock: &cfg.clock,
        };
        let mut acc = Accumulator::default();
        let mut rcode;
        let mut current = qname.clone();
        let mut links = 0u32;
        let mut seen = vec![qname.clone()];
        'query: loop {
            let resp = match self.inner.resolver.resolve(work, &current, qtype).await {
                Ok(r) => r,
                Err(e) => {
                    acc.add(PieceOutcome {
                        verdict: resolve_failure(&e),
                        ttl: FAILURE_TTL,
                        steps: Vec::new(),
                    });
                    rcode = ResponseCode::ServFail;
                    break 'query;
                }
            };
            let msg = resp.message.clone();
            let hint = resp.zone.as_ref();
            rcode = msg.metadata.response_code;
            if matches!(qtype, RecordType::RRSIG | RecordType::ANY) {
                // RRSIGs are not signed (RFC 4035 §2.2) and ANY is not an
                // RRset: such answers cannot be validated, only shown.
                acc.answers.extend(msg.answers.iter().cloned());
                acc.add(PieceOutcome {
                    verdict: Verdict::insecure(InsecureReason::NoTrustAnchor {
                        name: current.clone(),
                    }),
                    ttl: FAILURE_TTL,
                    steps: Vec::new(),
                });
                break 'query;
            }
            let asked = current.clone();
            loop {
                let direct = rrset(&msg.answers, &current, qtype);
                if !direct.is_empty() {
                    let out = ctx
                        .validate_rrset(&current, qtype, &direct, &msg, hint, work)
                        .await;
                    acc.take(out, direct, &msg.answers, qtype);
                    break 'query;
                }
                // DNAME first (RFC 6672 §3.4): its synthesized CNAME is unsigned.
                let dname = msg.answers.iter().find(|r| {
                    r.record_type() == RecordType::DNAME
                        && r.name.zone_of(&current)
                        && r.name != current
                });
                let (next, owner, link_type) = if let Some(d) = dname {
                    let Some(target) = dname_target(d) else {
                        acc.add(invalid(format!("undecodable DNAME at {}", d.name)));
                        break 'query;
                    };
                    match synthesize(&current, &d.name, &target) {
                        Some(n) => (n, d.name.clone(), RecordType::DNAME),
                        None if rcode == ResponseCode::YXDomain => {
                            // RFC 6672 §2.2: the authority says the
                            // substitution overflows; the DNAME is the answer.
                            let set = rrset(&msg.answers, &d.name, RecordType::DNAME);
                            let owner = d.name.clone();
                            let out = ctx
                                .validate_rrset(&owner, RecordType::DNAME, &set, &msg, hint, work)
                                .await;
                            acc.take(out, set, &msg.answers, RecordType::DNAME);
                            break 'query;
                        }
                        None => {
                            acc.add(invalid(format!(
                                "DNAME at {} makes too long a name",
                                d.name
                            )));
                            break 'query;
                        }
                    }
                } else if qtype != RecordType::CNAME {
                    let cname = rrset(&msg.answers, &current, RecordType::CNAME);
                    match cname.first().map(|r| &r.data) {
                        Some(RData::CNAME(c)) => (c.0.clone(), current.clone(), RecordType::CNAME),
                        _ => break,
                    }
                } else {
                    break;
                };
                links += 1;
                // A link back to a name already on the chain is a loop (RFC
                // 1034 §3.6.2). It is still validated and kept: the answer a
                // resolver sends for a loop is the chain it followed.
                let looped = seen.contains(&next);
                seen.push(next.clone());
                if !looped && links > cfg.limits.max_cname_chain {
                    acc.add(PieceOutcome {
                        verdict: Verdict::indeterminate(IndeterminateReason::LimitReached {
                            what: "CNAME/DNAME chain length",
                            limit: u64::from(cfg.limits.max_cname_chain),
                        }),
                        ttl: FAILURE_TTL,
                        steps: Vec::new(),
                    });
                    break 'query;
                }
                let set = rrset(&msg.answers, &owner, link_type);
                let out = ctx
                    .validate_rrset(&owner, link_type, &set, &msg, hint, work)
                    .await;
                acc.take(out, set, &msg.answers, link_type);
                if link_type == RecordType::DNAME {
                    // The synthesized CNAME is shown, not validated (RFC 6672 §5.3.3).
                    acc.answers
                        .extend(rrset(&msg.answers, &current, RecordType::CNAME));
                }
                if looped {
                    acc.add(invalid(format!("CNAME/DNAME loop at {next}")));
                    break 'query;
                }
                current = next;
            }
            // Nothing more for `current` here.
            let negative = rcode == ResponseCode::NXDomain
                || msg
                    .authorities
                    .iter()
                    .any(|r| r.record_type() == RecordType::SOA);
            if current == asked || negative {
                let nx = rcode == ResponseCode::NXDomain;
                // RFC 2308 §5: a negative answer lives min(SOA TTL, SOA
                // MINIMUM); without SOA only briefly (RFC 2308 §5, "SHOULD NOT
                // be cached" — a few seconds, like common resolvers).
                let neg_ttl = msg
                    .authorities
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                        _ => None,
                    })
                    .min()
                    .unwrap_or(FAILURE_TTL);
                acc.cap = acc.cap.min(neg_ttl);
                let out = ctx
                    .validate_negative(&current, qtype, nx, &msg, hint, work)
                    .await;
                acc.add(out);
                break 'query;
            }
            // The chain leaves this response: ask for its target.
        }
        let (verdict, ttl) = acc.verdict();
        Lookup {
            qname: qname.clone(),
            qtype,
            rcode,
            verdict,
            answers: acc.answers,
            rrsigs: acc.rrsigs,
            trace: Trace { steps: acc.steps },
            budget: work.budget.clone(),
            from_cache: false,
            ttl,
        }
    }
}

fn invalid(detail: String) -> PieceOutcome {
    PieceOutcome {
        verdict: Verdict::indeterminate(IndeterminateReason::InvalidData { detail }),
        ttl: FAILURE_TTL,
        steps: Vec::new(),
    }
}

/// The DNAME target (RFC 6672 §2.1; RDATA is one uncompressed name).
fn dname_target(r: &Record) -> Option<Name> {
    match &r.data {
        RData::Unknown { rdata, .. } => {
            let mut d = BinDecoder::new(&rdata.anything);
            Name::read(&mut d).ok()
        }
        _ => None,
    }
}

/// `current` with the `owner` suffix replaced by `target` (RFC 6672 §2.2).
fn synthesize(current: &Name, owner: &Name, target: &Name) -> Option<Name> {
    let keep = current.iter().count() - owner.iter().count();
    let prefix = Name::from_labels(current.iter().take(keep)).ok()?;
    prefix.append_name(target).ok()
}

/// Collects the pieces of one lookup.
struct Accumulator {
    answers: Vec<Record>,
    rrsigs: Vec<Record>,
    steps: Vec<TraceStep>,
    pieces: Vec<PieceOutcome>,
    /// Upper bound on the cache TTL (negative answers).
    cap: u32,
}

impl Default for Accumulator {
    fn default() -> Self {
        Self {
            answers: Vec::new(),
            rrsigs: Vec::new(),
            steps: Vec::new(),
            pieces: Vec::new(),
            cap: MAX_TTL,
        }
    }
}

impl Accumulator {
    fn add(&mut self, out: PieceOutcome) {
        for s in &out.steps {
            if !self.steps.contains(s) {
                self.steps.push(s.clone());
            }
        }
        self.pieces.push(out);
    }

    fn take(&mut self, out: PieceOutcome, set: Vec<Record>, section: &[Record], rtype: RecordType) {
        if let Some(owner) = set.first().map(|r| r.name.clone()) {
            self.rrsigs.extend(section.iter().filter(|r| {
                r.name == owner
                    && matches!(&r.data, RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == rtype)
            }).cloned());
        }
        self.answers.extend(set);
        self.add(out);
    }

    /// The worst verdict wins: Bogus, then Indeterminate, then Insecure.
    fn verdict(&self) -> (Verdict, u32) {
        let rank = |v: &Verdict| match v {
            Verdict::Bogus { .. } => 3,
            Verdict::Indeterminate { .. } => 2,
            Verdict::Insecure { .. } => 1,
            Verdict::Secure => 0,
        };
        let worst = self
            .pieces
            .iter()
            .max_by_key(|p| rank(&p.verdict))
            .map(|p| p.verdict.clone())
            .unwrap_or_else(|| {
                Verdict::indeterminate(IndeterminateReason::Other {
                    detail: "nothing was validated".into(),
                })
            });
        let ttl = self
            .pieces
            .iter()
            .map(|p| p.ttl)
            .chain(self.answers.iter().map(|r| r.ttl))
            .min()
            .unwrap_or(FAILURE_TTL)
            .min(MAX_TTL)
            .min(self.cap);
        let ttl = if rank(&worst) >= 2 {
            ttl.min(FAILURE_TTL)
        } else {
            ttl
        };
        (worst, ttl)
    }
}
