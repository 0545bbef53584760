//! Verdict lookups off the capture path.
//!
//! [`VerdictService::request`] never waits: a cached verdict is returned at
//! once, a (name, type) already being looked up gets one more waiter, and
//! anything else goes onto a bounded queue with `try_send` — a full queue
//! is counted (`queue_full`) and surfaces as `capture_loss`. A dispatcher
//! task runs at most `concurrency` engine lookups at a time.
//!
//! Verdicts are cached per (name, type) for their TTL: the engine caches
//! too, this cache is the per-transaction join that avoids a task per
//! answer. The validated history keeps, per (name, type), every RRset
//! validation produced within its TTL, so an answer from any of a CDN's
//! rotating sets is recognised (DESIGN.md "Legitimate variation").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::decode::presentation as pres;
use crate::dnssec::engine::{Engine, Lookup};
use crate::dnssec::verdict::Verdict;

/// foldhash instead of SipHash: these maps are hit several times per DNS
/// message (measured: SipHash was ~5% of the agent under load); a
/// per-process random seed keeps flooding attacks on bucket order out.
/// (hashbrown: the cache is probed with a borrowed [`KeyRef`].)
type HashMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

type Key = (Name, RecordType);

/// A [`Key`] probed for without building it: a fully qualified name is
/// equal to its lowercased key, and hashes the same (`Name`'s `Hash` and
/// `Eq` ignore ASCII case, RFC 4343), so a cache hit needs no lowercased
/// copy of the name (a heap allocation for a long one).
struct KeyRef<'a>(&'a Name, RecordType);

impl std::hash::Hash for KeyRef<'_> {
    /// As the tuple `(Name, RecordType)` hashes: its fields in order.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.hash(state);
    }
}

impl hashbrown::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, k: &Key) -> bool {
        *self.0 == k.0 && self.1 == k.1
    }
}
/// A key and the `nth` confirming re-query of it.
type ConfirmKey = (Key, usize);

/// A confirming re-query is reused this long: a flood of forged answers
/// for one name must not become a flood of queries to its servers.
pub const CONFIRM_REUSE: Duration = Duration::from_secs(5);

/// At most this many confirming re-queries per suspicious answer, each
/// starting at another server of the zone (DESIGN.md "Legitimate
/// variation": a CDN's servers may each serve their own validated set).
pub const CONFIRM_SERVERS: usize = 3;

#[derive(Clone, Debug)]
pub struct VerdictConfig {
    /// Lookups waiting for a worker.
    pub queue: usize,
    /// Engine lookups at once.
    pub concurrency: usize,
    /// Cached verdicts.
    pub max_cached: usize,
    /// (name, type) keys in the validated history.
    pub max_history: usize,
    /// Values kept per key in the history (a CDN's pool).
    pub max_history_values: usize,
}

impl Default for VerdictConfig {
    fn default() -> Self {
        Self {
            queue: 4_096,
            concurrency: 32,
            max_cached: 65_536,
            max_history: 65_536,
            max_history_values: 64,
        }
    }
}

/// Counters (metrics: cache size and hit rate, drops).
#[derive(Default, Debug)]
pub struct VerdictStats {
    pub requests: AtomicU64,
    pub cache_hits: AtomicU64,
    pub joined_inflight: AtomicU64,
    pub queued: AtomicU64,
    pub queue_full: AtomicU64,
    pub lookups_done: AtomicU64,
    pub confirming_requeries: AtomicU64,
    /// Confirmations answered from one made less than [`CONFIRM_REUSE`] ago.
    pub confirm_reused: AtomicU64,
    pub cache_evicted: AtomicU64,
    pub history_evicted: AtomicU64,
    /// Time of each engine lookup (cold, or from the engine's own cache):
    /// the validation latency metric.
    pub latency: crate::metrics::Histogram,
}

/// The answer to [`VerdictService::request`].
pub enum Ticket {
    Ready(Arc<Lookup>),
    Pending(oneshot::Receiver<Arc<Lookup>>),
    /// The queue was full: no verdict for this answer (counted).
    Overflow,
}

impl Ticket {
    /// The verdict if it is already here, without waiting: `Ready(None)`
    /// after an overflow or a dropped service (as [`Ticket::wait`]).
    pub fn now(&mut self) -> std::task::Poll<Option<Arc<Lookup>>> {
        use std::task::Poll;
        match self {
            Ticket::Ready(l) => Poll::Ready(Some(l.clone())),
            Ticket::Pending(rx) => match rx.try_recv() {
                Ok(l) => {
                    *self = Ticket::Ready(l.clone());
                    Poll::Ready(Some(l))
                }
                Err(oneshot::error::TryRecvError::Empty) => Poll::Pending,
                Err(oneshot::error::TryRecvError::Closed) => {
                    *self = Ticket::Overflow;
                    Poll::Ready(None)
                }
            },
            Ticket::Overflow => Poll::Ready(None),
        }
    }

    /// Take the verdict from the channel if it has come (`Ready` or
    /// `Overflow` from then on, as [`Ticket::now`] leaves it); pending
    /// while it has not. See [`Ticket::ready`].
    pub fn poll_ready(&mut self) -> std::task::Poll<()> {
        match self {
            Ticket::Pending(_) => self.now().map(|_| ()),
            Ticket::Ready(_) | Ticket::Overflow => std::task::Poll::Ready(()),
        }
    }

    /// The verdict once here, by reference (no count taken on the
    /// lookup): None while pending, after an overflow or a dropped service.
    pub fn ready(&self) -> Option<&Arc<Lookup>> {
        match self {
            Ticket::Ready(l) => Some(l),
            Ticket::Pending(_) | Ticket::Overflow => None,
        }
    }

    /// Wait for the verdict; None after an overflow or a dropped service.
    pub async fn wait(self) -> Option<Arc<Lookup>> {
        match self {
            Ticket::Ready(l) => Some(l),
            Ticket::Pending(rx) => rx.await.ok(),
            Ticket::Overflow => None,
        }
    }
}

struct Shared {
    engine: Engine,
    cfg: VerdictConfig,
    cache: Mutex<HashMap<Key, (Arc<Lookup>, Instant)>>,
    inflight: Mutex<HashMap<Key, Vec<oneshot::Sender<Arc<Lookup>>>>>,
    /// rdata → valid until (values compared as [`same_value`]).
    history: Mutex<HashMap<Key, Vec<(RData, Instant)>>>,
    /// The last confirming re-query per (key, nth), and when it finished.
    confirmed: Mutex<HashMap<ConfirmKey, (Arc<Lookup>, Instant)>>,
    stats: VerdictStats,
    permits: Arc<Semaphore>,
}

/// An RDATA as compared between the host's answer and validated ones
/// (presentation form, names lowercased: RFC 4343 case-insensitivity).
pub fn rdata_value(r: &Record) -> String {
    text_value(&r.data)
}

fn text_value(d: &RData) -> String {
    pres::rdata(d).to_lowercase()
}

/// Whether two RDATAs are the same value as [`rdata_value`] compares
/// them, without building the text when the values decide: addresses
/// directly; equal RDATAs (names compare case-insensitively, RFC 4343)
/// have equal text; anything else by the text.
pub fn same_value(a: &RData, b: &RData) -> bool {
    match (a, b) {
        (RData::A(x), RData::A(y)) => x == y,
        (RData::AAAA(x), RData::AAAA(y)) => x == y,
        _ => a == b || text_value(a) == text_value(b),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn key(name: &Name, rtype: RecordType) -> Key {
    let mut n = name.to_lowercase();
    n.set_fqdn(true);
    (n, rtype)
}

/// See the module comment. Cheap to clone.
#[derive(Clone)]
pub struct VerdictService {
    tx: mpsc::Sender<Key>,
    shared: Arc<Shared>,
}

impl VerdictService {
    /// Starts the dispatcher on the current tokio runtime.
    pub fn start(engine: Engine, cfg: VerdictConfig) -> (VerdictService, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Key>(cfg.queue.max(1));
        let shared = Arc::new(Shared {
            engine,
            permits: Arc::new(Semaphore::new(cfg.concurrency.max(1))),
            cfg,
            cache: Mutex::default(),
            inflight: Mutex::default(),
            history: Mutex::default(),
            confirmed: Mutex::default(),
            stats: VerdictStats::default(),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Some(k) = rx.recv().await {
                let Ok(permit) = s.permits.clone().acquire_owned().await else {
                    break;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let l = Arc::new(s.engine.lookup(&k.0, k.1).await);
                    s.stats.latency.observe(started.elapsed());
                    s.stats.lookups_done.fetch_add(1, Ordering::Relaxed);
                    s.complete(k, l);
                    drop(permit);
                });
            }
        });
        (VerdictService { tx, shared }, task)
    }

    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    pub fn stats(&self) -> &VerdictStats {
        &self.shared.stats
    }

    pub fn cached(&self) -> usize {
        lock(&self.shared.cache).len()
    }

    /// The verdict for (name, type), without ever waiting (module comment).
    pub fn request(&self, name: &Name, rtype: RecordType) -> Ticket {
        self.request_at(name, rtype, Instant::now())
    }

    /// [`Self::request`] with the caller's reading of the clock as now
    /// (the detector reads it once per message).
    pub fn request_at(&self, name: &Name, rtype: RecordType, now: Instant) -> Ticket {
        let s = &self.shared;
        s.stats.requests.fetch_add(1, Ordering::Relaxed);
        let lowered;
        let probe = if name.is_fqdn() {
            KeyRef(name, rtype)
        } else {
            lowered = key(name, rtype);
            KeyRef(&lowered.0, rtype)
        };
        {
            let mut cache = lock(&s.cache);
            match cache.get(&probe) {
                Some((l, until)) if *until > now => {
                    s.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Ticket::Ready(l.clone());
                }
                Some(_) => {
                    cache.remove(&probe);
                }
                None => {}
            }
        }
        let k = key(name, rtype);
        let mut inflight = lock(&s.inflight);
        let (tx, rx) = oneshot::channel();
        if let Some(waiters) = inflight.get_mut(&k) {
            s.stats.joined_inflight.fetch_add(1, Ordering::Relaxed);
            waiters.push(tx);
            return Ticket::Pending(rx);
        }
        match self.tx.try_send(k.clone()) {
            Ok(()) => {
                s.stats.queued.fetch_add(1, Ordering::Relaxed);
                inflight.insert(k, vec![tx]);
                Ticket::Pending(rx)
            }
            Err(_) => {
                s.stats.queue_full.fetch_add(1, Ordering::Relaxed);
                Ticket::Overflow
            }
        }
    }

    /// The `nth` confirming re-query: a fresh engine lookup that bypasses
    /// both caches, starting `nth` servers further down every server list
    /// (so 0, 1, 2 … reach a zone's other servers, which may serve another
    /// validated set: CDN rotation), then refreshes the caches and the
    /// history. Bounded by the same concurrency as ordinary lookups; each
    /// (name, type, nth) is reused for [`CONFIRM_REUSE`].
    pub async fn confirm(&self, name: &Name, rtype: RecordType, nth: usize) -> Arc<Lookup> {
        let s = &self.shared;
        let k = key(name, rtype);
        let ck: ConfirmKey = (k.clone(), nth);
        if let Some((l, at)) = lock(&s.confirmed).get(&ck)
            && at.elapsed() < CONFIRM_REUSE
        {
            s.stats.confirm_reused.fetch_add(1, Ordering::Relaxed);
            return l.clone();
        }
        s.stats.confirming_requeries.fetch_add(1, Ordering::Relaxed);
        let _permit = s.permits.clone().acquire_owned().await.ok();
        let l = Arc::new(s.engine.lookup_fresh_rotated(&k.0, k.1, nth).await);
        s.record(&k, &l);
        s.cache_insert(k, l.clone());
        let mut confirmed = lock(&s.confirmed);
        if confirmed.len() >= s.cfg.max_cached {
            confirmed.retain(|_, (_, at)| at.elapsed() < CONFIRM_REUSE);
        }
        if confirmed.len() < s.cfg.max_cached {
            confirmed.insert(ck, (l.clone(), Instant::now()));
        }
        l
    }

    /// Every value is in some RRset validation produced for (name, type)
    /// within its TTL (compared as [`same_value`]).
    pub fn history_holds<'a>(
        &self,
        name: &Name,
        rtype: RecordType,
        values: impl IntoIterator<Item = &'a RData>,
    ) -> bool {
        let k = key(name, rtype);
        let now = Instant::now();
        let h = lock(&self.shared.history);
        let mut values = values.into_iter();
        let Some(seen) = h.get(&k) else {
            return values.next().is_none();
        };
        values.all(|v| {
            seen.iter()
                .any(|(s, until)| *until > now && same_value(s, v))
        })
    }
}

impl Shared {
    fn complete(&self, k: Key, l: Arc<Lookup>) {
        self.record(&k, &l);
        self.cache_insert(k.clone(), l.clone());
        let waiters = lock(&self.inflight).remove(&k).unwrap_or_default();
        for w in waiters {
            let _ = w.send(l.clone());
        }
    }

    fn cache_insert(&self, k: Key, l: Arc<Lookup>) {
        if l.ttl == 0 {
            return;
        }
        let now = Instant::now();
        let mut cache = lock(&self.cache);
        if cache.len() >= self.cfg.max_cached && !cache.contains_key(&k) {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= self.cfg.max_cached
                && let Some(victim) = cache.keys().next().cloned()
            {
                cache.remove(&victim);
                self.stats.cache_evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        cache.insert(k, (l.clone(), now + Duration::from_secs(u64::from(l.ttl))));
    }

    /// Adds the data of a Secure or Insecure lookup to the history.
    fn record(&self, k: &Key, l: &Lookup) {
        let (verdict, answers) = l.answers_with_verdict();
        if !matches!(verdict, Verdict::Secure | Verdict::Insecure { .. }) {
            return;
        }
        let now = Instant::now();
        let mut h = lock(&self.history);
        if h.len() >= self.cfg.max_history && !h.contains_key(k) {
            h.retain(|_, v| v.iter().any(|(_, until)| *until > now));
            if h.len() >= self.cfg.max_history
                && let Some(victim) = h.keys().next().cloned()
            {
                h.remove(&victim);
                self.stats.history_evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        let seen = h.entry(k.clone()).or_default();
        seen.retain(|(_, until)| *until > now);
        for r in answers.iter().filter(|r| r.record_type() == k.1) {
            let until = now + Duration::from_secs(u64::from(r.ttl.max(l.ttl)));
            if let Some(e) = seen.iter_mut().find(|(s, _)| same_value(s, &r.data)) {
                e.1 = e.1.max(until);
            } else if seen.len() < self.cfg.max_history_values {
                seen.push((r.data.clone(), until));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, TXT};

    use super::*;

    fn rdatas() -> Vec<RData> {
        let n = |s: &str| Name::from_str(s).unwrap();
        vec![
            RData::A(A::new(192, 0, 2, 1)),
            RData::A(A::new(192, 0, 2, 2)),
            RData::AAAA(AAAA::from_str("2001:db8::1").unwrap()),
            RData::AAAA(AAAA::from_str("2001:db8::2").unwrap()),
            RData::CNAME(CNAME(n("www.example.com."))),
            RData::CNAME(CNAME(n("WWW.Example.COM."))),
            RData::CNAME(CNAME(n("web.example.com."))),
            RData::MX(MX::new(10, n("mx.example.com."))),
            RData::MX(MX::new(10, n("MX.example.com."))),
            RData::MX(MX::new(20, n("mx.example.com."))),
            RData::TXT(TXT::new(vec!["Hello".into()])),
            RData::TXT(TXT::new(vec!["hello".into()])),
            RData::TXT(TXT::new(vec!["other".into()])),
        ]
    }

    #[test]
    fn values_compare_as_their_lowercased_text() {
        let v = rdatas();
        for a in &v {
            for b in &v {
                let text = text_value(a) == text_value(b);
                assert_eq!(same_value(a, b), text, "{a:?} vs {b:?}");
            }
        }
        // Names any case (RFC 4343); addresses and preferences exactly.
        assert!(same_value(&v[4], &v[5]));
        assert!(!same_value(&v[4], &v[6]));
        assert!(!same_value(&v[0], &v[1]));
        assert!(!same_value(&v[7], &v[9]));
    }

    #[test]
    fn a_key_is_found_by_its_name_in_any_case() {
        let n = |s: &str| Name::from_str(s).unwrap();
        let mut m: HashMap<Key, u8> = HashMap::default();
        m.insert(key(&n("www.Example.COM."), RecordType::A), 1);
        for q in ["www.example.com.", "WWW.EXAMPLE.COM.", "www.Example.COM."] {
            assert_eq!(m.get(&KeyRef(&n(q), RecordType::A)), Some(&1), "{q}");
        }
        assert_eq!(
            m.get(&KeyRef(&n("www.example.com."), RecordType::AAAA)),
            None
        );
        assert_eq!(m.get(&KeyRef(&n("ww.example.com."), RecordType::A)), None);
        assert_eq!(
            m.get(&KeyRef(&n("www.example.com.a."), RecordType::A)),
            None
        );
        // Not fully qualified: not the key (`request` builds that one).
        assert_eq!(m.get(&KeyRef(&n("www.example.com"), RecordType::A)), None);
    }

    #[tokio::test]
    async fn a_cached_verdict_is_found_for_the_name_in_any_case() {
        let (net, anchor) = crate::dnssec::testnet::standard_hierarchy(Vec::new());
        let engine = crate::detect::lab::engine_over(Arc::new(net), anchor, &[]);
        let (v, task) = VerdictService::start(engine, VerdictConfig::default());
        let name = Name::from_str("www.unsigned.test.").unwrap();
        let first = v.request(&name, RecordType::A).wait().await.unwrap();
        for q in ["WWW.Unsigned.TEST.", "www.unsigned.test"] {
            let q = Name::from_str(q).unwrap();
            match v.request_at(&q, RecordType::A, Instant::now()) {
                Ticket::Ready(l) => assert!(Arc::ptr_eq(&l, &first)),
                _ => panic!("{q}: not the cached verdict"),
            }
        }
        assert_eq!(v.stats().cache_hits.load(Ordering::Relaxed), 2);
        // Past its TTL (now given by the caller): looked up again.
        let later = Instant::now() + Duration::from_secs(u64::from(first.ttl) + 1);
        assert!(matches!(
            v.request_at(&name, RecordType::A, later),
            Ticket::Pending(_)
        ));
        assert_eq!(v.stats().cache_hits.load(Ordering::Relaxed), 2);
        task.abort();
    }

    #[tokio::test]
    async fn a_ticket_yields_its_verdict_without_waiting() {
        let (net, anchor) = crate::dnssec::testnet::standard_hierarchy(Vec::new());
        let engine = crate::detect::lab::engine_over(Arc::new(net), anchor, &[]);
        let name = Name::from_str("www.unsigned.test.").unwrap();
        let l = Arc::new(engine.lookup(&name, RecordType::A).await);
        let (tx, rx) = oneshot::channel();
        let mut t = Ticket::Pending(rx);
        assert!(t.now().is_pending());
        tx.send(l.clone()).ok().unwrap();
        assert!(matches!(t.now(), std::task::Poll::Ready(Some(got)) if Arc::ptr_eq(&got, &l)));
        // Taken once from the channel, kept for the awaiting path.
        assert!(matches!(t, Ticket::Ready(_)));
        assert!(Arc::ptr_eq(&t.wait().await.unwrap(), &l));
        // A dropped service, an overflow: no verdict, as `wait` says.
        let (tx, rx) = oneshot::channel::<Arc<Lookup>>();
        drop(tx);
        let mut t = Ticket::Pending(rx);
        assert!(matches!(t.now(), std::task::Poll::Ready(None)));
        assert!(matches!(
            Ticket::Overflow.now(),
            std::task::Poll::Ready(None)
        ));
        // The same through `poll_ready` and `ready`.
        let (tx, rx) = oneshot::channel();
        let mut t = Ticket::Pending(rx);
        assert!(t.poll_ready().is_pending());
        assert!(t.ready().is_none());
        tx.send(l.clone()).ok().unwrap();
        assert!(t.poll_ready().is_ready());
        assert!(Arc::ptr_eq(t.ready().unwrap(), &l));
        assert!(t.poll_ready().is_ready(), "taken once, kept");
        assert!(Arc::ptr_eq(t.ready().unwrap(), &l));
        let (tx, rx) = oneshot::channel::<Arc<Lookup>>();
        drop(tx);
        let mut t = Ticket::Pending(rx);
        assert!(t.poll_ready().is_ready());
        assert!(t.ready().is_none());
        assert!(Ticket::Overflow.poll_ready().is_ready());
        assert!(Ticket::Overflow.ready().is_none());
    }
}
