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

// The skipped judgement (`Resolver::settled`): cases where a wrong skip
// would miss or repeat a finding.

fn noerror(h: &mut ResolverHealth, s: SocketAddr, ms: u64) -> Vec<HealthFinding> {
    let at = t(ms);
    let o = Observation::Answer {
        rcode: 0,
        latency: Duration::from_millis(1),
    };
    h.observe_and_evaluate(s, at, o, at)
}

fn rcode(h: &mut ResolverHealth, s: SocketAddr, ms: u64, rcode: u16) -> Vec<HealthFinding> {
    let o = Observation::Answer {
        rcode,
        latency: Duration::from_millis(1),
    };
    h.observe_and_evaluate(s, t(ms), o, t(ms))
}

/// Slot 0: 30 good answers; slot 3: 4 SERVFAIL of 10 (10 % with slot 0 in
/// the window, 40 % without it).
fn servfail_hidden_by_old_good_slot() -> ResolverHealth {
    let mut h = health();
    for i in 0..30 {
        assert!(noerror(&mut h, r1(), i * 10).is_empty());
    }
    for i in 0..10 {
        let f = rcode(&mut h, r1(), 3_000 + i * 10, if i < 4 { 2 } else { 0 });
        assert!(f.is_empty(), "4 of 40 at most: below 20 %");
    }
    // Judged in slot 3 with nothing raised: the next judgement there is skipped.
    assert!(h.evaluate(r1(), t(3_900)).is_empty());
    h
}

#[test]
fn a_window_fails_when_old_good_slots_slide_out() {
    // No new event at all: the judgement in a later slot is a full one.
    let mut h = servfail_hidden_by_old_good_slot();
    let f = h.evaluate(r1(), t(10_500));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].condition, f[0].rate), (Condition::Servfail, 0.4));
    // A query in an old slot changes no rate, yet the slot of the
    // judgement moved: still judged in full.
    let mut h = servfail_hidden_by_old_good_slot();
    h.on_query(r1(), t(3_950));
    let f = h.evaluate(r1(), t(10_500));
    assert_eq!(f.len(), 1, "{f:?}");
    // A benign answer in the new slot: the same finding.
    let mut h = servfail_hidden_by_old_good_slot();
    let f = noerror(&mut h, r1(), 10_500);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rate, 4.0 / 11.0);
}

#[test]
fn a_new_newest_slot_is_judged_even_at_an_old_now() {
    // A query far ahead pushes slot 0 out of the kept slots; a judgement
    // back in slot 3 then sums slot 3 alone (as the window always did),
    // though only a query happened since the last judgement there.
    let mut h = servfail_hidden_by_old_good_slot();
    h.on_query(r1(), t(10_100));
    let f = h.evaluate(r1(), t(3_950));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rate, 0.4);
}

#[test]
fn a_raised_condition_clears_below_half_and_raises_again() {
    let mut h = health();
    // 4 SERVFAIL: min_queries reached at 100 %: raised at the 4th.
    for i in 0..3 {
        assert!(rcode(&mut h, r1(), i, 2).is_empty());
    }
    assert_eq!(rcode(&mut h, r1(), 3, 2).len(), 1);
    // Good answers: 4 / (4 + n) falls below 10 % (half of 20 %) at n = 37.
    for n in 1..=37u64 {
        assert!(noerror(&mut h, r1(), 10 + n).is_empty());
        let failing = h.snapshot(t(10 + n))[0].failing.clone();
        if n < 37 {
            assert_eq!(failing, [Condition::Servfail], "n = {n}");
        } else {
            assert!(failing.is_empty(), "4 of 41 < 10 %");
        }
    }
    // Settled (the judgements of good answers are skipped) ...
    for n in 0..20 {
        assert!(noerror(&mut h, r1(), 100 + n).is_empty());
    }
    // ... yet SERVFAILs are judged: (4 + k) / (61 + k) reaches 20 % at k = 11.
    for k in 1..=11u64 {
        let f = rcode(&mut h, r1(), 200 + k, 2);
        if k < 11 {
            assert!(f.is_empty(), "k = {k}: {f:?}");
        } else {
            assert_eq!(f.len(), 1, "15 of 72");
            assert_eq!(f[0].rate, 15.0 / 72.0);
        }
    }
}

#[test]
fn the_first_judgement_comes_at_exactly_min_queries() {
    // 3 SERVFAIL: too few to judge, so not settled; a good answer then
    // changes no rate upward but completes the 4th query: 75 % raised.
    let mut h = health();
    for i in 0..3 {
        assert!(rcode(&mut h, r1(), i, 2).is_empty(), "3 < min_queries");
        assert!(h.evaluate(r1(), t(i)).is_empty());
    }
    let f = noerror(&mut h, r1(), 10);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].condition, f[0].rate), (Condition::Servfail, 0.75));
    // The same for timeouts, completed by a query's answer.
    let mut h = health();
    for i in 0..3 {
        h.on_query(r1(), t(i));
        h.on_timeout(r1(), t(i + 1));
        assert!(h.evaluate(r1(), t(i + 1)).is_empty());
    }
    h.on_query(r1(), t(20));
    assert!(
        h.evaluate(r1(), t(20)).is_empty(),
        "a query completes nothing"
    );
    let f = noerror(&mut h, r1(), 21);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].condition, f[0].rate), (Condition::Unanswered, 0.75));
}

#[test]
fn secure_answers_and_queries_never_unsettle_a_failing_window() {
    // A raised condition is never settled: every judgement is a full one,
    // so it clears as soon as the rate allows.
    let mut h = health();
    for i in 0..4 {
        rcode(&mut h, r1(), i, 5);
    }
    assert_eq!(h.snapshot(t(5))[0].failing, [Condition::Refused]);
    for i in 0..100 {
        h.on_query(r1(), t(10 + i));
        h.on_secure_answer(r1(), t(10 + i), true);
        assert!(h.evaluate(r1(), t(10 + i)).is_empty());
    }
    assert_eq!(h.snapshot(t(200))[0].failing, [Condition::Refused]);
    // 4 of 9 REFUSED = 44 % ≥ 25 %: still raised; 4 of 10 = 40 %: still.
    for i in 0..5 {
        noerror(&mut h, r1(), 300 + i);
    }
    assert_eq!(h.snapshot(t(400))[0].failing, [Condition::Refused]);
    for i in 0..12 {
        noerror(&mut h, r1(), 500 + i);
    }
    // 4 of 21 = 19 % < 25 %: cleared.
    assert!(h.snapshot(t(600))[0].failing.is_empty());
}

/// The window and its judgement as they were computed before the skip
/// and the slot rewrite: every update retains the slots inside the window
/// of the newest, every judgement sums the window.
#[derive(Default)]
struct Model {
    slots: Vec<(i64, Counts)>,
    failing: [bool; 3],
}

impl Model {
    fn update(&mut self, idx: i64, keep: i64, o: Observation) {
        let newest = self.slots.last().map_or(idx, |s| s.0.max(idx));
        self.slots.retain(|s| s.0 > newest - keep);
        if idx <= newest - keep {
            return;
        }
        let mut c = Counts::default();
        o.apply(&mut c);
        match self.slots.iter().position(|s| s.0 >= idx) {
            Some(p) if self.slots[p].0 == idx => self.slots[p].1.add(&c),
            Some(p) => self.slots.insert(p, (idx, c)),
            None => self.slots.push((idx, c)),
        }
    }

    fn counts(&self, now_idx: i64, keep: i64) -> Counts {
        let mut c = Counts::default();
        for s in self.slots.iter().filter(|s| s.0 > now_idx - keep) {
            c.add(&s.1);
        }
        c
    }

    fn evaluate(&mut self, cfg: &HealthConfig, now_idx: i64) -> Vec<(Condition, f64)> {
        let counts = self.counts(now_idx, cfg.slots as i64);
        let mut out = Vec::new();
        if counts.completed() >= cfg.min_queries.max(1) {
            for c in Condition::ALL {
                let th = threshold(cfg, c);
                let Some(rate) = counts.rate(c) else {
                    continue;
                };
                let i = c.index();
                if !self.failing[i] && th > 0.0 && rate >= th {
                    self.failing[i] = true;
                    out.push((c, rate));
                } else if self.failing[i] && rate < th / 2.0 {
                    self.failing[i] = false;
                }
            }
        }
        out
    }
}

mod against_the_model {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any sequence of observations and judgements, times mostly
        /// moving forward with jitter and jumps: the same findings, the
        /// same window and the same raised conditions as the model.
        #[test]
        fn judgements_match_the_full_window_sum(
            ops in proptest::collection::vec((0u8..12, -400i64..900, any::<bool>()), 1..400),
        ) {
            let cfg = health().config().clone();
            let keep = cfg.slots as i64;
            let slot_ms = cfg.window.as_millis() as i64 / keep;
            let mut h = health();
            let mut models = [Model::default(), Model::default()];
            let mut now = 0i64;
            for (kind, dt, second) in ops {
                // Kind 11 jumps ahead by up to about a window.
                now = (now + if kind == 11 { dt.abs() * 12 } else { dt }).max(0);
                let (s, m) = if second { (r2(), &mut models[1]) } else { (r1(), &mut models[0]) };
                let at = t(now as u64);
                let idx = (now + 1_700_000_000_000).div_euclid(slot_ms);
                let o = match kind {
                    0..=3 => Some(Observation::Answer { rcode: 0, latency: Duration::from_millis(1) }),
                    4 => Some(Observation::Answer { rcode: 2, latency: Duration::from_millis(1) }),
                    5 => Some(Observation::Answer { rcode: 5, latency: Duration::from_millis(1) }),
                    6 => Some(Observation::Timeout),
                    7 => Some(Observation::Query),
                    8 => Some(Observation::SecureAnswer { ad: dt % 2 == 0 }),
                    _ => None,
                };
                let got = match o {
                    None if kind == 10 => {
                        // A query far ahead (a new newest slot that
                        // pushes slots out), judged back at now.
                        let ahead = now + dt.abs() * 12;
                        h.on_query(s, t(ahead as u64));
                        m.update((ahead + 1_700_000_000_000).div_euclid(slot_ms), keep, Observation::Query);
                        h.evaluate(s, at)
                    }
                    Some(o) if kind % 2 == 0 => {
                        // Observed at an earlier time (an expiry, a
                        // verdict's AD count), judged at now.
                        let back = (now - dt.abs() / 2).max(0);
                        h.observe(s, t(back as u64), o);
                        m.update((back + 1_700_000_000_000).div_euclid(slot_ms), keep, o);
                        h.evaluate(s, at)
                    }
                    Some(o) => {
                        m.update(idx, keep, o);
                        h.observe_and_evaluate(s, at, o, at)
                    }
                    None => h.evaluate(s, at),
                };
                let want = m.evaluate(&cfg, idx);
                let got: Vec<(Condition, f64)> = got.iter().map(|f| (f.condition, f.rate)).collect();
                prop_assert_eq!(got, want);
                if let Some(w) = h.window(s, at) {
                    prop_assert_eq!(w.counts, m.counts(idx, keep));
                }
                let failing: Vec<Condition> = Condition::ALL.into_iter().filter(|c| m.failing[c.index()]).collect();
                let snap = h.snapshot(at).into_iter().find(|x| x.window.resolver == s);
                prop_assert_eq!(snap.map(|x| x.failing).unwrap_or_default(), failing);
            }
        }
    }
}

/// Exchanges the kernel fast path counted (capture/fast_path.rs) are
/// answered queries to the window: a handful of timeouts among thousands
/// of them is no outage, while the same timeouts among only the copied
/// exchanges would be.
#[test]
fn repeats_counted_in_the_kernel_are_answered_queries() {
    let mut copied_only = health();
    let mut with_repeats = health();
    for h in [&mut copied_only, &mut with_repeats] {
        for i in 0..5 {
            h.on_query(r1(), t(i * 100));
            h.on_timeout(r1(), t(i * 100 + 50));
        }
        answered(h, r1(), 600, 0);
    }
    with_repeats.on_repeats(r1(), t(700), 10_000, Duration::from_micros(300));
    with_repeats.on_repeats(r1(), t(800), 0, Duration::ZERO);
    assert!(
        !copied_only.evaluate(r1(), t(900)).is_empty(),
        "5 timeouts of 6 queries: unanswered"
    );
    assert!(with_repeats.evaluate(r1(), t(900)).is_empty());
    let w = with_repeats.window(r1(), t(900)).unwrap();
    assert_eq!(w.counts.queries, 10_006);
    assert_eq!(w.counts.answers, 10_001);
    assert_eq!(w.counts.timeouts, 5);
    // The repeats' latency dominates the percentiles.
    assert!(w.p50.unwrap() < Duration::from_millis(1), "{:?}", w.p50);
}
