//! Resolver health on the detection path: what one answered query costs
//! (a query, its answer, the per-event judgement), with 1 and 64
//! resolvers tracked, and the periodic judgement of all of them.
//! `answered_query`: separate update and judgement calls;
//! `observe_and_evaluate`: as the detector calls it (one lookup each for
//! the query and the answer, both judged).

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use monitor::detect::resolver_health::{HealthConfig, Observation, ResolverHealth};

fn t(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_millis(ms)
}

fn servers(n: u16) -> Vec<SocketAddr> {
    (0..n)
        .map(|i| SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 53)))
        .collect()
}

fn bench(c: &mut Criterion) {
    for n in [1u16, 64] {
        let s = servers(n);
        let mut h = ResolverHealth::new(HealthConfig::default());
        let mut ms = 0u64;
        c.bench_function(&format!("health/answered_query/{n}_resolvers"), |b| {
            b.iter(|| {
                ms += 1;
                let r = s[(ms % u64::from(n)) as usize];
                h.on_query(r, t(ms));
                h.on_answer(r, t(ms + 2), 0, Duration::from_millis(2));
                black_box(h.evaluate(r, t(ms + 2)));
            })
        });
    }
    for n in [1u16, 64] {
        let s = servers(n);
        let mut h = ResolverHealth::new(HealthConfig::default());
        let mut ms = 0u64;
        c.bench_function(&format!("health/observe_and_evaluate/{n}_resolvers"), |b| {
            b.iter(|| {
                ms += 1;
                let r = s[(ms % u64::from(n)) as usize];
                black_box(h.observe_and_evaluate(r, t(ms), Observation::Query, t(ms)));
                let o = Observation::Answer {
                    rcode: 0,
                    latency: Duration::from_millis(2),
                };
                black_box(h.observe_and_evaluate(r, t(ms + 2), o, t(ms + 2)));
            })
        });
    }
    let s = servers(64);
    let mut h = ResolverHealth::new(HealthConfig::default());
    for (i, r) in s.iter().enumerate() {
        for k in 0..100u64 {
            h.on_query(*r, t(k * 10 + i as u64));
            h.on_answer(*r, t(k * 10 + i as u64 + 1), 0, Duration::from_millis(1));
        }
    }
    c.bench_function("health/evaluate_all/64_resolvers", |b| {
        b.iter(|| black_box(h.evaluate_all(t(2_000))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
