//! A test lab for the rules: the engine over the in-process signed
//! hierarchy ([`crate::dnssec::testnet`]) so verdicts are real, and
//! captured "resolver answers" built from what the authoritative test
//! servers really answer (with their real RRSIGs), then altered per test.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::dnssec::rdata::DNSKEY;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{Record, RecordType};

use super::alert::{Alert, Rule};
use super::detector::{Detector, DetectorConfig};
use super::policy::DetectPolicy;
use super::sample::{SampleConfig, SampleStats, Sampled};
use super::testkit::{CLIENT, RESOLVER, event, query_msg};
use crate::correlate::outstanding::OutstandingConfig;
use crate::dnssec::anchors::TrustAnchors;
use crate::dnssec::clock::Clock;
use crate::dnssec::engine::{Engine, EngineConfig, RootHints};
use crate::dnssec::testnet::{Mutator, NOW, TestNet, Zone, a, name, standard_hierarchy};
use crate::dnssec::transport::{Protocol, Transport};

/// What the sampler of [`Lab::sampling`] took, and its counters.
#[derive(Default)]
pub struct Samples {
    pub stats: Arc<SampleStats>,
    pub taken: Arc<Mutex<Vec<Sampled>>>,
}

impl Samples {
    pub fn take(&self) -> Vec<Sampled> {
        std::mem::take(&mut *self.taken.lock().expect("samples"))
    }

    /// offered, sampled, over_rate, channel_full.
    pub fn counts(&self) -> [u64; 4] {
        let s = &self.stats;
        [&s.offered, &s.sampled, &s.over_rate, &s.channel_full].map(|c| c.load(Ordering::Relaxed))
    }
}

pub struct Lab {
    pub det: Detector,
    pub net: Arc<TestNet>,
    ms: u64,
    id: u16,
}

/// The default policy of the lab: the host uses [`RESOLVER`].
pub fn policy() -> DetectPolicy {
    DetectPolicy {
        resolvers: vec![RESOLVER.parse().expect("addr")],
        ..DetectPolicy::default()
    }
}

pub fn engine_over(net: Arc<TestNet>, anchor: DNSKEY, ntas: &[&str]) -> Engine {
    let mut cfg =
        EngineConfig::iterative(RootHints::from_addrs(vec![IpAddr::from([198, 18, 0, 1])]));
    let mut anchors = TrustAnchors::empty();
    anchors.add_dnskey(&hickory_proto::rr::Name::root(), anchor);
    cfg.trust_anchors = anchors;
    cfg.clock = Clock::fixed(i64::from(NOW));
    cfg.negative_trust_anchors = ntas.iter().map(|n| name(n).into()).collect();
    Engine::new(cfg, net)
}

/// How a fake resolver turns the authoritative answer into its own.
#[derive(Default)]
pub struct Reply {
    pub ad: bool,
    pub rcode: Option<ResponseCode>,
    /// Replace the answer section (after the copy).
    pub answers: Option<Vec<Record>>,
    pub strip_rrsigs: bool,
}

fn is_dnssec(r: &Record) -> bool {
    matches!(
        r.record_type(),
        RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3
    )
}

/// The questions (and verdict TTLs) of the exchanges reported clean.
#[derive(Debug, Default)]
pub struct CleanLog(pub std::sync::Mutex<Vec<(String, u32)>>);

impl crate::detect::clean::CleanExchanges for CleanLog {
    fn clean(
        &self,
        answer: &crate::event::DnsEvent,
        _query: &crate::correlate::outstanding::QueryInfo,
        verdict_ttl: u32,
    ) {
        let q = answer.message.queries.first().map(|q| q.name().to_ascii());
        self.0
            .lock()
            .expect("clean log")
            .push((q.unwrap_or_default(), verdict_ttl));
    }
}

impl Lab {
    pub fn new(policy: DetectPolicy) -> Lab {
        let (net, anchor) = standard_hierarchy(Vec::new());
        Lab::over(net, anchor, policy, &[])
    }

    pub fn over(net: TestNet, anchor: DNSKEY, policy: DetectPolicy, ntas: &[&str]) -> Lab {
        Lab::configured(net, anchor, policy, ntas, DetectorConfig::default())
    }

    /// The standard hierarchy, with no verdicts asked for
    /// ([`DetectorConfig::offline`]).
    pub fn offline(policy: DetectPolicy) -> Lab {
        let (net, anchor) = standard_hierarchy(Vec::new());
        let cfg = DetectorConfig {
            offline: true,
            ..DetectorConfig::default()
        };
        Lab::configured(net, anchor, policy, &[], cfg)
    }

    /// The standard hierarchy with the store's sample of answers at
    /// `per_second`; the sink keeps every taken answer.
    pub fn sampling(policy: DetectPolicy, per_second: u32) -> (Lab, Samples) {
        let samples = Samples::default();
        let taken = samples.taken.clone();
        let cfg = DetectorConfig {
            sample: Some(SampleConfig {
                per_second,
                stats: samples.stats.clone(),
                sink: Arc::new(move |s| {
                    taken.lock().expect("samples").push(*s);
                    true
                }),
            }),
            ..DetectorConfig::default()
        };
        let (net, anchor) = standard_hierarchy(Vec::new());
        (Lab::configured(net, anchor, policy, &[], cfg), samples)
    }

    /// The standard hierarchy with `--events` transaction lines, each
    /// parsed into the returned list; `room` false: the output is full.
    pub fn logging(policy: DetectPolicy, room: bool) -> (Lab, Arc<Mutex<Vec<serde_json::Value>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        let cfg = DetectorConfig {
            transactions: Some(crate::detect::transactions::TransactionLog::per_line(
                Arc::new(move |bytes: Vec<u8>, n| {
                    assert_eq!(n, 1, "one line at a time");
                    assert_eq!(bytes.last(), Some(&b'\n'), "one line each");
                    let v = serde_json::from_slice(&bytes).expect("a JSON line");
                    kept.lock().expect("lines").push(v);
                    room
                }),
            )),
            ..DetectorConfig::default()
        };
        let (net, anchor) = standard_hierarchy(Vec::new());
        (Lab::configured(net, anchor, policy, &[], cfg), lines)
    }

    /// The standard hierarchy, transaction lines to `log`.
    pub fn with_transactions(
        policy: DetectPolicy,
        log: crate::detect::transactions::TransactionLog,
    ) -> Lab {
        let cfg = DetectorConfig {
            transactions: Some(log),
            ..DetectorConfig::default()
        };
        let (net, anchor) = standard_hierarchy(Vec::new());
        Lab::configured(net, anchor, policy, &[], cfg)
    }

    /// The standard hierarchy, every exchange judged clean recorded in
    /// the returned list (the kernel fast path's hook, detect/clean.rs).
    pub fn reporting_clean(policy: DetectPolicy) -> (Lab, Arc<CleanLog>) {
        let log = Arc::new(CleanLog::default());
        let cfg = DetectorConfig {
            clean: Some(log.clone()),
            ..DetectorConfig::default()
        };
        let (net, anchor) = standard_hierarchy(Vec::new());
        (Lab::configured(net, anchor, policy, &[], cfg), log)
    }

    /// `cfg` with no warm-up (an unmatched answer is unsolicited at once).
    fn configured(
        net: TestNet,
        anchor: DNSKEY,
        policy: DetectPolicy,
        ntas: &[&str],
        cfg: DetectorConfig,
    ) -> Lab {
        let net = Arc::new(net);
        let engine = engine_over(net.clone(), anchor, ntas);
        Lab {
            det: Detector::new(
                engine,
                policy,
                DetectorConfig {
                    outstanding: OutstandingConfig {
                        warmup: std::time::Duration::ZERO,
                        ..cfg.outstanding.clone()
                    },
                    ..cfg
                },
            ),
            net,
            ms: 0,
            id: 1000,
        }
    }

    /// The authoritative answer of test server `198.18.0.n` (DO=1).
    pub async fn auth(&self, n: u8, qname: &str, qtype: RecordType) -> Message {
        let q = query_msg(1, qname, qtype, false, true);
        let bytes = self
            .net
            .exchange(
                SocketAddr::from(([198, 18, 0, n], 53)),
                Protocol::Udp,
                &q.to_vec().expect("query encodes"),
            )
            .await
            .expect("test server answers");
        Message::from_vec(&bytes).expect("answer decodes")
    }

    /// The answer a resolver would give to `q` from the authoritative answer.
    pub fn resolver_answer(q: &Message, auth: &Message, reply: Reply) -> Message {
        let mut m = auth.clone();
        m.metadata.id = q.metadata.id;
        m.metadata.message_type = MessageType::Response;
        m.metadata.authoritative = false;
        m.metadata.recursion_desired = q.metadata.recursion_desired;
        m.metadata.recursion_available = true;
        m.metadata.authentic_data = reply.ad;
        m.queries = q.queries.clone();
        m.edns = q.edns.clone();
        let dnssec_ok = q.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
        if let Some(rc) = reply.rcode {
            m.metadata.response_code = rc;
            if rc != ResponseCode::NoError {
                m.answers.clear();
                m.authorities.clear();
            }
        }
        if let Some(ans) = reply.answers {
            m.answers = ans;
        }
        // Referral data and glue are a resolver's business, not the stub's.
        m.additionals.clear();
        if !m.answers.is_empty() {
            m.authorities.clear();
        }
        if !dnssec_ok || reply.strip_rrsigs {
            m.answers.retain(|r| !is_dnssec(r));
            m.authorities.retain(|r| !is_dnssec(r));
        }
        m
    }

    /// One transaction: the query from [`CLIENT`] to `server`, then `answer`
    /// (built from the query); returns the alerts of the answer.
    pub async fn txn(
        &mut self,
        qname: &str,
        qtype: RecordType,
        rd: bool,
        dnssec_ok: bool,
        server: &str,
        answer: impl FnOnce(&Message) -> Message,
    ) -> Vec<Alert> {
        self.id += 1;
        self.ms += 10;
        let q = query_msg(self.id, qname, qtype, rd, dnssec_ok);
        let qa = self
            .det
            .on_event(event(q.clone(), CLIENT, server, self.ms))
            .await;
        assert!(qa.is_empty(), "a query raised {qa:?}");
        self.ms += 5;
        let ans = answer(&q);
        self.det.on_event(event(ans, CLIENT, server, self.ms)).await
    }

    /// A stub's RD=1 query to [`RESOLVER`], answered from server `n`'s data.
    pub async fn via_resolver(
        &mut self,
        n: u8,
        qname: &str,
        qtype: RecordType,
        dnssec_ok: bool,
        reply: Reply,
    ) -> Vec<Alert> {
        let auth = self.auth(n, qname, qtype).await;
        self.txn(qname, qtype, true, dnssec_ok, RESOLVER, |q| {
            Lab::resolver_answer(q, &auth, reply)
        })
        .await
    }

    pub fn now_ms(&mut self, advance: u64) -> u64 {
        self.ms += advance;
        self.ms
    }
}

pub fn rules(alerts: &[Alert]) -> Vec<Rule> {
    alerts.iter().map(|a| a.rule).collect()
}

pub fn a_rec(owner: &str, ip: [u8; 4]) -> Record {
    a(owner, ip)
}

/// root → test. → cdn.test., where `www.cdn.test./A` rotates between two
/// validly signed RRsets (192.0.2.10 and 192.0.2.20) on every query, like
/// a CDN's geo/round-robin answers.
pub fn cdn_hierarchy() -> (TestNet, DNSKEY) {
    let (inc, exp) = (NOW - 86_400, NOW + 30 * 86_400);
    let ip = |n: u8| [198, 18, 0, n];
    let mut cdn = Zone::new("cdn.test.", ip(10));
    cdn.add(a("www.cdn.test.", [192, 0, 2, 10])).sign(inc, exp);
    let key = cdn.key.as_ref().expect("signed");
    let alt = a("www.cdn.test.", [192, 0, 2, 20]);
    let alt_sig = key.sign(&name("cdn.test."), std::slice::from_ref(&alt), inc, exp);
    let ds = key.ds(&cdn.origin);
    let mut test = Zone::new("test.", ip(2));
    test.delegate(&cdn, ip(10), Some(ds)).sign(inc, exp);
    let test_ds = test.key.as_ref().expect("signed").ds(&test.origin);
    let mut root = Zone::new(".", ip(1));
    root.delegate(&test, ip(2), Some(test_ds)).sign(inc, exp);
    let anchor = root.key.as_ref().expect("signed").dnskey.clone();
    let mut net = TestNet::default();
    net.serve(ip(1), root).serve(ip(2), test).serve(ip(10), cdn);
    let turn = Arc::new(AtomicUsize::new(0));
    let rotate: Mutator = Box::new(move |q, t, m: &mut Message| {
        // Only authoritative answers rotate (not the parent's referrals).
        if *q == name("www.cdn.test.")
            && t == RecordType::A
            && !m.answers.is_empty()
            && turn.fetch_add(1, Ordering::Relaxed) % 2 == 1
        {
            m.answers = vec![alt.clone(), alt_sig.clone()];
        }
    });
    net.mutate(rotate);
    (net, anchor)
}

/// The A records of an answer built from scratch (a forged one).
pub fn forged(q: &Message, rcode: ResponseCode, answers: Vec<Record>) -> Message {
    let mut m = super::testkit::answer_msg(q, rcode, answers);
    m.metadata.recursion_available = true;
    m
}

/// root → test. → cdn.test. served by two servers, 198.18.0.10 (`www`
/// A 192.0.2.10) and 198.18.0.11 (`www` A 192.0.2.20), both sets signed
/// with the zone's one key: each server always serves its own set (a
/// CDN's per-site answers). The delegation lists .10 first, so the
/// engine's ordinary lookups only ever see 192.0.2.10.
pub fn cdn_two_servers() -> (TestNet, DNSKEY) {
    let (inc, exp) = (NOW - 86_400, NOW + 30 * 86_400);
    let ip = |n: u8| [198, 18, 0, n];
    let ns2 = |origin: &str| {
        [
            crate::dnssec::testnet::rec(
                origin,
                3600,
                hickory_proto::rr::RData::NS(hickory_proto::rr::rdata::NS(name("ns2.cdn.test."))),
            ),
            a("ns2.cdn.test.", ip(11)),
        ]
    };
    let www = name("www.cdn.test.");
    let mut cdn = Zone::new("cdn.test.", ip(10));
    let [ns, glue] = ns2("cdn.test.");
    cdn.add(ns)
        .add(glue)
        .add(a("www.cdn.test.", [192, 0, 2, 10]));
    cdn.sign(inc, exp);
    let key = cdn.key.as_ref().expect("signed");
    let alt = a("www.cdn.test.", [192, 0, 2, 20]);
    let alt_sig = key.sign(&name("cdn.test."), std::slice::from_ref(&alt), inc, exp);
    let ds = key.ds(&cdn.origin);
    // The second site: the same zone, its own www set and signature.
    let mut records: Vec<Record> = cdn
        .records
        .iter()
        .filter(|r| !(r.name == www && covers_a(r)))
        .cloned()
        .collect();
    records.extend([alt, alt_sig]);
    let site2 = Zone {
        origin: cdn.origin.clone(),
        records,
        // Only marks the zone as signed for answering (RRSIGs attached);
        // never used to sign.
        key: Some(crate::dnssec::testnet::TestKey::generate()),
    };
    let mut test = Zone::new("test.", ip(2));
    test.delegate(&cdn, ip(10), Some(ds));
    let [ns, glue] = ns2("cdn.test.");
    test.add(ns).add(glue).sign(inc, exp);
    let test_ds = test.key.as_ref().expect("signed").ds(&test.origin);
    let mut root = Zone::new(".", ip(1));
    root.delegate(&test, ip(2), Some(test_ds)).sign(inc, exp);
    let anchor = root.key.as_ref().expect("signed").dnskey.clone();
    let mut net = TestNet::default();
    net.serve(ip(1), root)
        .serve(ip(2), test)
        .serve(ip(10), cdn)
        .serve(ip(11), site2);
    (net, anchor)
}

/// An A record or an RRSIG over A.
fn covers_a(r: &Record) -> bool {
    use hickory_proto::dnssec::rdata::DNSSECRData;
    match &r.data {
        hickory_proto::rr::RData::DNSSEC(DNSSECRData::RRSIG(s)) => {
            s.input().type_covered == RecordType::A
        }
        _ => r.record_type() == RecordType::A,
    }
}
