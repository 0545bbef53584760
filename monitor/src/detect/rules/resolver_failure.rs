//! `resolver_failure`: a resolver the host uses left too many queries
//! unanswered, or answered too many with SERVFAIL or REFUSED, over the
//! sliding window of [`crate::detect::resolver_health`]. Unanswered
//! queries mean the host cannot resolve (an outage, or a flood keeping the
//! resolver busy); a burst of SERVFAIL is also what a validating resolver
//! answers for a zone whose signatures broke (RFC 4035 §5.5).

use crate::detect::alert::{Finding, Rule, Severity};
use crate::detect::resolver_health::{Condition, HealthFinding};

fn pct(r: f64) -> String {
    format!("{:.0}%", r * 100.0)
}

/// The finding for one crossed threshold.
pub fn finding(h: &HealthFinding) -> Finding {
    let c = &h.stats.counts;
    let secs = h.stats.window.as_secs_f64();
    let (severity, what) = match h.condition {
        Condition::Unanswered => (
            Severity::High,
            format!(
                "left {} of {} queries unanswered",
                c.timeouts,
                c.completed()
            ),
        ),
        Condition::Servfail => (
            Severity::Medium,
            format!(
                "answered {} of {} queries with SERVFAIL",
                c.servfail, c.answers
            ),
        ),
        Condition::Refused => (
            Severity::Medium,
            format!(
                "answered {} of {} queries with REFUSED",
                c.refused, c.answers
            ),
        ),
    };
    Finding::new(
        Rule::ResolverFailure,
        severity,
        format!(
            "resolver {} {what} in the last {secs:.0}s ({} ≥ threshold {})",
            h.stats.resolver,
            pct(h.rate),
            pct(h.threshold)
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::detect::resolver_health::{Counts, WindowStats};

    fn hf(condition: Condition, counts: Counts, rate: f64) -> HealthFinding {
        HealthFinding {
            condition,
            rate,
            threshold: 0.5,
            stats: WindowStats {
                resolver: "10.0.0.53:53".parse().unwrap(),
                window: Duration::from_secs(60),
                counts,
                p50: None,
                p99: None,
            },
        }
    }

    #[test]
    fn detail_names_the_resolver_counts_and_threshold() {
        let f = finding(&hf(
            Condition::Unanswered,
            Counts {
                queries: 20,
                answers: 5,
                timeouts: 15,
                ..Counts::default()
            },
            0.75,
        ));
        assert_eq!(f.rule, Rule::ResolverFailure);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.detail,
            "resolver 10.0.0.53:53 left 15 of 20 queries unanswered in the last 60s (75% ≥ threshold 50%)"
        );
        let s = finding(&hf(
            Condition::Servfail,
            Counts {
                answers: 10,
                servfail: 6,
                ..Counts::default()
            },
            0.6,
        ));
        assert_eq!(s.severity, Severity::Medium);
        assert!(
            s.detail.contains("6 of 10 queries with SERVFAIL"),
            "{}",
            s.detail
        );
    }
}
