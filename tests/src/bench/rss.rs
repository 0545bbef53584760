//! Resident memory of the engine with 100,000 names in its answer cache:
//! names are resolved and validated through the in-process signed network
//! ([`monitor::dnssec::testnet`], wildcard `*.wild.secure.test.`, ECDSA
//! P-256), so what is cached is exactly what a real lookup caches (answer,
//! RRSIGs, proofs, verdict). RSS is `VmRSS` of this process before (engine
//! built, chain of trust warm) and after.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use hickory_proto::rr::{Name, RecordType};
use monitor::dnssec::anchors::TrustAnchors;
use monitor::dnssec::cache::CacheConfig;
use monitor::dnssec::clock::Clock;
use monitor::dnssec::engine::{Engine, EngineConfig, RootHints};
use monitor::dnssec::testnet::{NOW, standard_hierarchy};

use super::procstat::vm_rss_kib;

#[derive(Clone, Debug, serde::Serialize)]
pub struct RssResult {
    pub names: usize,
    pub cache_entries: u64,
    /// What the answer cache accounts for its entries (its byte bound
    /// applies to this figure).
    pub cache_bytes: u64,
    pub rss_before_kib: u64,
    /// (names looked up so far, VmRSS KiB) along the way.
    pub samples: Vec<(usize, u64)>,
    pub rss_after_kib: u64,
    pub bytes_per_name: f64,
    pub seconds: f64,
}

pub fn measure(count: usize) -> Result<RssResult> {
    let (net, anchor) = standard_hierarchy(Vec::new());
    let mut cfg =
        EngineConfig::iterative(RootHints::from_addrs(vec![IpAddr::from([198, 18, 0, 1])]));
    let mut anchors = TrustAnchors::empty();
    anchors.add_dnskey(&Name::root(), anchor);
    cfg.trust_anchors = anchors;
    cfg.clock = Clock::fixed(i64::from(NOW));
    // Room for every name: the default (10,000 entries) would evict.
    cfg.cache = CacheConfig {
        max_entries: count * 2,
        max_bytes: usize::MAX / 2,
    };
    let net = Arc::new(net);
    let engine = Engine::new(cfg, net.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let warm = Name::from_ascii("www.secure.test.")?;
    if !rt
        .block_on(engine.lookup(&warm, RecordType::A))
        .verdict
        .is_secure()
    {
        bail!("the in-process hierarchy does not validate");
    }
    let rss_before_kib = vm_rss_kib("self").context("VmRSS")?;
    let start = Instant::now();
    let mut samples = Vec::new();
    for i in 0..count {
        let q = Name::from_ascii(format!("n{i}.wild.secure.test."))?;
        let l = rt.block_on(engine.lookup(&q, RecordType::A));
        if !l.verdict.is_secure() {
            bail!(
                "{q}: {} ({:?})",
                l.verdict.outcome(),
                l.verdict.reason_text()
            );
        }
        if (i + 1) % 1000 == 0 {
            // The test network logs every query (for tests' assertions):
            // drop that log so RSS measures the engine, not the harness.
            let mut log = net.log.lock().unwrap_or_else(|e| e.into_inner());
            log.clear();
            log.shrink_to_fit();
        }
        if (i + 1) % (count / 10).max(1) == 0 {
            samples.push((i + 1, vm_rss_kib("self").unwrap_or(0)));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let rss_after_kib = vm_rss_kib("self").context("VmRSS")?;
    let stats = engine.stats();
    let cache_entries = stats.cache_entries;
    if (cache_entries as usize) < count {
        bail!("only {cache_entries} of {count} names stayed in the cache");
    }
    Ok(RssResult {
        names: count,
        cache_entries,
        cache_bytes: stats.cache_bytes,
        rss_before_kib,
        samples,
        rss_after_kib,
        bytes_per_name: (rss_after_kib.saturating_sub(rss_before_kib) * 1024) as f64 / count as f64,
        seconds,
    })
}
