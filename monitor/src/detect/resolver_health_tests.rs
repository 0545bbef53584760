use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

fn t(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(ms)
}

fn r1() -> SocketAddr {
    "10.0.0.53:53".parse().unwrap()
}

fn r2() -> SocketAddr {
    "10.0.0.54:53".parse().unwrap()
}

fn health() -> ResolverHealth {
    ResolverHealth::new(HealthConfig {
        window: Duration::from_secs(10),
        slots: 10,
        min_queries: 4,
        ..HealthConfig::default()
    })
}

fn answered(h: &mut ResolverHealth, s: SocketAddr, ms: u64, rcode: u16) {
    h.on_query(s, t(ms));
    h.on_answer(s, t(ms + 5), rcode, Duration::from_millis(5));
}

#[test]
fn window_counts_and_rates() {
    let mut h = health();
    for i in 0..6 {
        answered(&mut h, r1(), i * 100, 0);
    }
    answered(&mut h, r1(), 700, 2);
    answered(&mut h, r1(), 800, 5);
    h.on_query(r1(), t(900));
    h.on_timeout(r1(), t(1_900));
    h.on_secure_answer(r1(), t(950), true);
    h.on_secure_answer(r1(), t(960), false);
    let w = h.window(r1(), t(2_000)).unwrap();
    assert_eq!(w.counts.queries, 9);
    assert_eq!(w.counts.answers, 8);
    assert_eq!(w.counts.timeouts, 1);
    assert_eq!(w.counts.servfail, 1);
    assert_eq!(w.counts.refused, 1);
    assert_eq!(w.counts.completed(), 9);
    assert_eq!(w.counts.rate(Condition::Servfail), Some(1.0 / 8.0));
    assert_eq!(w.counts.rate(Condition::Unanswered), Some(1.0 / 9.0));
    assert_eq!(w.counts.ad_rate(), Some(0.5));
    let p50 = w.p50.unwrap();
    assert!(
        p50 > Duration::from_millis(4) && p50 < Duration::from_millis(6),
        "{p50:?}"
    );
    assert!(h.window(r2(), t(2_000)).is_none());
}

#[test]
fn the_window_slides() {
    let mut h = health();
    for i in 0..5 {
        answered(&mut h, r1(), i * 100, 2);
    }
    assert_eq!(h.window(r1(), t(1_000)).unwrap().counts.answers, 5);
    // 10 s later the first slot has left the window.
    assert_eq!(h.window(r1(), t(10_050)).unwrap().counts.answers, 0);
    // New events far later drop the old slots.
    answered(&mut h, r1(), 30_000, 0);
    let w = h.window(r1(), t(30_010)).unwrap();
    assert_eq!((w.counts.answers, w.counts.servfail), (1, 0));
    // Totals keep everything (metrics counters).
    assert_eq!(h.snapshot(t(30_010))[0].totals.answers, 6);
    // An event older than the window is not counted in it.
    h.on_timeout(r1(), t(1_000));
    assert_eq!(h.window(r1(), t(30_010)).unwrap().counts.timeouts, 0);
}

#[test]
fn unanswered_queries_raise_once_per_episode() {
    let mut h = health();
    answered(&mut h, r1(), 0, 0);
    for i in 1..=3 {
        h.on_query(r1(), t(i * 100));
        h.on_timeout(r1(), t(i * 100 + 50));
    }
    // 3 of 4 unanswered, min_queries 4 reached: one finding.
    let f = h.evaluate(r1(), t(500));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].condition, Condition::Unanswered);
    assert_eq!(f[0].rate, 0.75);
    assert_eq!(f[0].stats.counts.timeouts, 3);
    // Still failing: no second finding, however many more time out.
    for i in 6..12 {
        h.on_timeout(r1(), t(i * 100));
    }
    assert!(h.evaluate(r1(), t(1_200)).is_empty());
    assert!(h.evaluate_all(t(1_300)).is_empty());
    assert_eq!(h.snapshot(t(1_300))[0].failing, vec![Condition::Unanswered]);
    // Recovery: the window fills with answers (rate below half the threshold) ...
    for i in 0..40 {
        answered(&mut h, r1(), 12_000 + i * 10, 0);
    }
    assert!(h.evaluate(r1(), t(12_500)).is_empty());
    assert!(h.snapshot(t(12_500))[0].failing.is_empty());
    // ... and a new outage is a new alert.
    for i in 0..60 {
        h.on_timeout(r1(), t(13_000 + i * 10));
    }
    assert_eq!(h.evaluate(r1(), t(13_700)).len(), 1);
}

#[test]
fn benign_twin_healthy_resolver_raises_nothing() {
    let mut h = health();
    for i in 0..200 {
        answered(&mut h, r1(), i * 50, if i % 20 == 19 { 2 } else { 0 });
        if i % 25 == 0 {
            h.on_query(r1(), t(i * 50));
            h.on_timeout(r1(), t(i * 50 + 20));
        }
        assert!(h.evaluate(r1(), t(i * 50 + 10)).is_empty(), "at {i}");
    }
}

#[test]
fn too_few_queries_are_not_judged() {
    let mut h = health();
    for i in 0..3 {
        h.on_query(r1(), t(i));
        h.on_timeout(r1(), t(i + 10));
    }
    assert!(h.evaluate(r1(), t(100)).is_empty(), "3 < min_queries");
    h.on_timeout(r1(), t(120));
    assert_eq!(h.evaluate(r1(), t(130)).len(), 1);
}

#[test]
fn servfail_and_refused_thresholds_are_separate() {
    let mut h = health();
    // 2 of 8 SERVFAIL = 25 % ≥ 20 %; 1 of 8 REFUSED = 12.5 % < 50 %.
    for (i, rc) in [0, 0, 2, 0, 2, 0, 5, 0].into_iter().enumerate() {
        answered(&mut h, r1(), i as u64 * 10, rc);
    }
    let f = h.evaluate(r1(), t(100));
    assert_eq!(
        f.iter().map(|f| f.condition).collect::<Vec<_>>(),
        [Condition::Servfail]
    );
    // Another resolver is judged on its own.
    for i in 0..8 {
        answered(&mut h, r2(), i * 10, 5);
    }
    let f = h.evaluate_all(t(100));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].condition, Condition::Refused);
    assert_eq!(f[0].stats.resolver, r2());
}

#[test]
fn a_zero_threshold_disables_the_condition() {
    let mut h = ResolverHealth::new(HealthConfig {
        min_queries: 1,
        servfail_rate: 0.0,
        ..HealthConfig::default()
    });
    for i in 0..5 {
        answered(&mut h, r1(), i, 2);
    }
    assert!(h.evaluate(r1(), t(10)).is_empty());
}

#[test]
fn resolvers_are_bounded() {
    let mut h = ResolverHealth::new(HealthConfig {
        max_resolvers: 2,
        ..HealthConfig::default()
    });
    h.on_query(r1(), t(0));
    h.on_query(r2(), t(10));
    h.on_query("10.0.0.55:53".parse().unwrap(), t(20));
    assert_eq!(h.tracked(), 2);
    assert_eq!(h.evicted, 1);
    assert!(h.window(r1(), t(30)).is_none(), "the stalest went");
}

#[test]
fn intervals_are_taken_once() {
    let mut h = health();
    answered(&mut h, r1(), 0, 0);
    answered(&mut h, r1(), 10, 2);
    let iv = h.take_intervals(t(1_000));
    assert_eq!(iv.len(), 1);
    assert_eq!(iv[0].counts.answers, 2);
    assert_eq!(iv[0].latency.count(), 2);
    assert_eq!(iv[0].end, t(1_000));
    assert!(h.take_intervals(t(2_000)).is_empty(), "nothing new");
    answered(&mut h, r1(), 2_500, 0);
    let iv = h.take_intervals(t(3_000));
    assert_eq!(iv[0].start, t(2_000));
    assert_eq!(iv[0].counts.queries, 1);
}
