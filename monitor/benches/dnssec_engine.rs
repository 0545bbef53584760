//! Engine benchmarks over the in-process signed hierarchy
//! (`monitor::dnssec::testnet`): a cold validation of `www.secure.test.`
//! (root → test. → secure.test., ECDSA P-256: DNSKEY/DS fetches, ~7
//! signature checks) with a fresh engine per iteration — once with the
//! process-wide memo of verified signatures ([`monitor::dnssec::sigmemo`])
//! cleared too (every signature checked again: cold crypto), once with it
//! kept (a new engine in a process that saw these zones) — and a
//! warm-cache lookup of the same name.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::rr::{Name, RecordType};
use monitor::dnssec::anchors::TrustAnchors;
use monitor::dnssec::clock::Clock;
use monitor::dnssec::engine::{Engine, EngineConfig, RootHints};
use monitor::dnssec::testnet::{NOW, TestNet, standard_hierarchy};

fn config(anchor: hickory_proto::dnssec::rdata::DNSKEY) -> EngineConfig {
    let mut cfg =
        EngineConfig::iterative(RootHints::from_addrs(vec![IpAddr::from([198, 18, 0, 1])]));
    let mut anchors = TrustAnchors::empty();
    anchors.add_dnskey(&Name::root(), anchor);
    cfg.trust_anchors = anchors;
    cfg.clock = Clock::fixed(i64::from(NOW));
    cfg
}

fn bench(c: &mut Criterion) {
    // The engine bounds each lookup with a tokio timer: enable it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (net, anchor) = standard_hierarchy(Vec::new());
    let net: Arc<TestNet> = Arc::new(net);
    let qname = Name::from_ascii("www.secure.test.").expect("name");

    c.bench_function("engine/cold_three_zones_deep", |b| {
        b.iter(|| {
            monitor::dnssec::sigmemo::clear();
            let engine = Engine::new(config(anchor.clone()), net.clone());
            let l = rt.block_on(engine.lookup(&qname, RecordType::A));
            assert!(l.verdict.is_secure());
            black_box(l)
        })
    });

    c.bench_function("engine/cold_caches_signatures_memoized", |b| {
        b.iter(|| {
            let engine = Engine::new(config(anchor.clone()), net.clone());
            let l = rt.block_on(engine.lookup(&qname, RecordType::A));
            assert!(l.verdict.is_secure());
            black_box(l)
        })
    });

    let warm = Engine::new(config(anchor.clone()), net.clone());
    assert!(
        rt.block_on(warm.lookup(&qname, RecordType::A))
            .verdict
            .is_secure()
    );
    c.bench_function("engine/warm_cache_hit", |b| {
        b.iter(|| black_box(rt.block_on(warm.lookup(&qname, RecordType::A))))
    });

    // A sibling name in a warm zone: only the answer is fetched and checked.
    let sibling = Name::from_ascii("alias.secure.test.").expect("name");
    c.bench_function("engine/warm_chain_new_name", |b| {
        b.iter(|| {
            let engine = Engine::new(config(anchor.clone()), net.clone());
            rt.block_on(engine.lookup(&qname, RecordType::A));
            black_box(rt.block_on(engine.lookup(&sibling, RecordType::A)))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
