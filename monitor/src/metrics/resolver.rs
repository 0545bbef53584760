//! Per-resolver series from [`crate::detect::resolver_health`], read at
//! scrape time: totals since start as counters, the sliding window's
//! rates, latency quantiles and raised conditions as gauges.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{Kind, Sample};
use crate::detect::resolver_health::{Condition, ResolverHealth};

pub const QUERIES: &str = "dnssec_monitor_resolver_queries_total";
pub const ANSWERS: &str = "dnssec_monitor_resolver_answers_total";
pub const UNANSWERED: &str = "dnssec_monitor_resolver_unanswered_total";
pub const SERVFAIL: &str = "dnssec_monitor_resolver_servfail_total";
pub const REFUSED: &str = "dnssec_monitor_resolver_refused_total";
pub const RATE: &str = "dnssec_monitor_resolver_window_ratio";
pub const LATENCY: &str = "dnssec_monitor_resolver_latency_seconds";
pub const FAILING: &str = "dnssec_monitor_resolver_failing";

fn sample(name: &str, help: &str, kind: Kind, labels: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        name: name.to_owned(),
        help: help.to_owned(),
        kind,
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        value,
    }
}

/// The samples of every tracked resolver as of `now`.
pub fn samples(health: &Arc<Mutex<ResolverHealth>>, now: SystemTime) -> Vec<Sample> {
    let snaps = health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .snapshot(now);
    let mut out = Vec::new();
    for s in snaps {
        let addr = s.window.resolver.to_string();
        let r = [("resolver", addr.as_str())];
        let t = &s.totals;
        for (name, help, v) in [
            (
                QUERIES,
                "Recursive queries the host sent to the resolver.",
                t.queries,
            ),
            (
                ANSWERS,
                "First answers from the resolver to those queries.",
                t.answers,
            ),
            (
                UNANSWERED,
                "Queries to the resolver that timed out unanswered.",
                t.timeouts,
            ),
            (
                SERVFAIL,
                "Answers from the resolver with RCODE SERVFAIL.",
                t.servfail,
            ),
            (
                REFUSED,
                "Answers from the resolver with RCODE REFUSED.",
                t.refused,
            ),
        ] {
            out.push(sample(name, help, Kind::Counter, &r, v as f64));
        }
        let w = &s.window.counts;
        let rates = [
            ("unanswered", w.rate(Condition::Unanswered)),
            ("servfail", w.rate(Condition::Servfail)),
            ("refused", w.rate(Condition::Refused)),
            ("ad_secure", w.ad_rate()),
        ];
        for (what, v) in rates {
            if let Some(v) = v {
                out.push(sample(
                    RATE,
                    "Rates over the resolver health window (ad_secure: AD set on answers for names found Secure).",
                    Kind::Gauge,
                    &[("resolver", addr.as_str()), ("rate", what)],
                    v,
                ));
            }
        }
        for (q, v) in [("0.5", s.window.p50), ("0.99", s.window.p99)] {
            if let Some(v) = v {
                out.push(sample(
                    LATENCY,
                    "Answer latency quantiles over the resolver health window.",
                    Kind::Gauge,
                    &[("resolver", addr.as_str()), ("quantile", q)],
                    v.as_secs_f64(),
                ));
            }
        }
        for c in Condition::ALL {
            out.push(sample(
                FAILING,
                "1 while resolver_failure is raised for the resolver and condition.",
                Kind::Gauge,
                &[("resolver", addr.as_str()), ("condition", c.name())],
                f64::from(u8::from(s.failing.contains(&c))),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::detect::resolver_health::HealthConfig;
    use crate::metrics::Metrics;

    #[test]
    fn series_per_resolver_show_counts_rates_and_failing() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = Arc::new(Mutex::new(ResolverHealth::new(HealthConfig {
            min_queries: 2,
            ..HealthConfig::default()
        })));
        let r: std::net::SocketAddr = "10.0.0.53:53".parse().unwrap();
        {
            let mut g = h.lock().unwrap();
            g.on_query(r, now);
            g.on_answer(r, now, 0, Duration::from_millis(20));
            for _ in 0..3 {
                g.on_query(r, now);
                g.on_timeout(r, now);
            }
            assert_eq!(g.evaluate(r, now).len(), 1);
        }
        let m = Metrics::new();
        let h2 = h.clone();
        m.add_collector(move || samples(&h2, now));
        let text = m.encode();
        for line in [
            "dnssec_monitor_resolver_queries_total{resolver=\"10.0.0.53:53\"} 4",
            "dnssec_monitor_resolver_unanswered_total{resolver=\"10.0.0.53:53\"} 3",
            "dnssec_monitor_resolver_window_ratio{resolver=\"10.0.0.53:53\",rate=\"unanswered\"} 0.75",
            "dnssec_monitor_resolver_failing{resolver=\"10.0.0.53:53\",condition=\"unanswered\"} 1",
            "dnssec_monitor_resolver_failing{resolver=\"10.0.0.53:53\",condition=\"servfail\"} 0",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
        assert!(text.contains("dnssec_monitor_resolver_latency_seconds{resolver=\"10.0.0.53:53\",quantile=\"0.5\"} 0.0"));
        // No resolver seen: no series.
        let empty = Arc::new(Mutex::new(ResolverHealth::new(HealthConfig::default())));
        assert!(samples(&empty, now).is_empty());
    }
}
