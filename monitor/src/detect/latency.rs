//! A small mergeable latency histogram: log-spaced buckets (each 25 %
//! wider than the one before, from 50 µs to about 60 s), so a median or
//! p99 is known to within a bucket (about ±12 %) in constant memory, and
//! histograms of several windows or of stored intervals add up.

use std::time::Duration;

/// Number of buckets; the last one also takes everything above its bound.
pub const BUCKETS: usize = 64;
/// Upper bound of bucket 0, in microseconds.
const FIRST_US: f64 = 50.0;
const GROWTH: f64 = 1.25;

/// Upper bound of bucket `i` in microseconds.
pub fn bucket_upper_us(i: usize) -> f64 {
    FIRST_US * GROWTH.powi(i as i32)
}

fn bucket_of(us: f64) -> usize {
    if us <= FIRST_US {
        return 0;
    }
    let i = ((us / FIRST_US).ln() / GROWTH.ln()).ceil() as usize;
    // Float rounding can land one bucket high exactly at a bound.
    let i = if i > 0 && us <= bucket_upper_us(i - 1) {
        i - 1
    } else {
        i
    };
    i.min(BUCKETS - 1)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyHist {
    counts: [u32; BUCKETS],
    total: u64,
}

impl Default for LatencyHist {
    fn default() -> Self {
        Self {
            counts: [0; BUCKETS],
            total: 0,
        }
    }
}

impl LatencyHist {
    pub fn observe(&mut self, d: Duration) {
        self.add(bucket_of(d.as_secs_f64() * 1e6));
    }

    /// `d` observed in both (one bucket computation: a logarithm).
    pub fn observe_both(a: &mut LatencyHist, b: &mut LatencyHist, d: Duration) {
        let i = bucket_of(d.as_secs_f64() * 1e6);
        a.add(i);
        b.add(i);
    }

    /// `d` observed `n` times in both.
    pub fn observe_both_n(a: &mut LatencyHist, b: &mut LatencyHist, d: Duration, n: u32) {
        let i = bucket_of(d.as_secs_f64() * 1e6);
        for h in [a, b] {
            h.counts[i] = h.counts[i].saturating_add(n);
            h.total += u64::from(n);
        }
    }

    fn add(&mut self, i: usize) {
        self.counts[i] = self.counts[i].saturating_add(1);
        self.total += 1;
    }

    pub fn merge(&mut self, other: &LatencyHist) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (0..=1), interpolated linearly inside its bucket;
    /// None when empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * self.total as f64).max(1.0);
        let mut acc = 0.0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let next = acc + f64::from(c);
            if next >= rank {
                let lo = if i == 0 { 0.0 } else { bucket_upper_us(i - 1) };
                let hi = bucket_upper_us(i);
                let frac = (rank - acc) / f64::from(c);
                let us = lo + (hi - lo) * frac;
                return Some(Duration::from_nanos((us * 1e3) as u64));
            }
            acc = next;
        }
        Some(Duration::from_nanos(
            (bucket_upper_us(BUCKETS - 1) * 1e3) as u64,
        ))
    }

    /// Sparse form for storage: `[[bucket, count], …]` of non-empty buckets.
    pub fn to_sparse(&self) -> Vec<(u8, u32)> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i as u8, *c))
            .collect()
    }

    /// The inverse of [`LatencyHist::to_sparse`]; out-of-range buckets are
    /// folded into the last one (a store written by a build with more).
    pub fn from_sparse(pairs: &[(u8, u32)]) -> LatencyHist {
        let mut h = LatencyHist::default();
        for &(i, c) in pairs {
            let i = usize::from(i).min(BUCKETS - 1);
            h.counts[i] = h.counts[i].saturating_add(c);
            h.total += u64::from(c);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn quantiles_are_within_a_bucket() {
        let mut h = LatencyHist::default();
        for i in 1..=100 {
            h.observe(ms(i));
        }
        let p50 = h.quantile(0.5).unwrap().as_secs_f64() * 1e3;
        let p99 = h.quantile(0.99).unwrap().as_secs_f64() * 1e3;
        assert!((44.0..=57.0).contains(&p50), "p50 {p50}");
        assert!((87.0..=113.0).contains(&p99), "p99 {p99}");
        assert_eq!(h.count(), 100);
    }

    #[test]
    fn empty_has_no_quantile_and_extremes_are_bounded() {
        let mut h = LatencyHist::default();
        assert_eq!(h.quantile(0.5), None);
        h.observe(Duration::ZERO);
        h.observe(Duration::from_secs(3600));
        assert!(h.quantile(0.0).unwrap() <= Duration::from_micros(50));
        assert!(h.quantile(1.0).unwrap() <= Duration::from_secs(120));
    }

    #[test]
    fn observe_both_is_observe_twice() {
        let (mut a, mut b, mut want) = <(LatencyHist, LatencyHist, LatencyHist)>::default();
        for d in [ms(0), ms(1), ms(7), ms(250), Duration::from_secs(90)] {
            LatencyHist::observe_both(&mut a, &mut b, d);
            want.observe(d);
        }
        assert_eq!(a, want);
        assert_eq!(b, want);
        assert_eq!(a.count(), 5);
    }

    #[test]
    fn merge_and_sparse_round_trip() {
        let mut a = LatencyHist::default();
        let mut b = LatencyHist::default();
        a.observe(ms(1));
        b.observe(ms(200));
        b.observe(ms(200));
        a.merge(&b);
        assert_eq!(a.count(), 3);
        let back = LatencyHist::from_sparse(&a.to_sparse());
        assert_eq!(back, a);
        // A single fast sample does not make the median slow.
        assert!(a.quantile(0.5).unwrap() > ms(150));
        assert!(a.quantile(0.2).unwrap() < ms(2));
    }

    #[test]
    fn bucket_bounds_are_monotonic_and_exact_at_bounds() {
        for i in 1..BUCKETS {
            assert!(bucket_upper_us(i) > bucket_upper_us(i - 1));
            assert_eq!(bucket_of(bucket_upper_us(i)), i.min(BUCKETS - 1));
        }
        assert_eq!(bucket_of(1e12), BUCKETS - 1);
    }
}
