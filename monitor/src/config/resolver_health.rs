//! `[resolver_health]`: the sliding window and thresholds behind
//! `resolver_failure` (DESIGN.md "Policy"), see
//! [`crate::detect::resolver_health`].

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;
use super::units::DurationSpec;
use super::validate::Checker;
use crate::detect::resolver_health::HealthConfig;

/// The checked `[resolver_health]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolverHealthConfig {
    /// Length of the sliding window (also the interval of the per-resolver
    /// aggregates written to the store).
    pub window: Duration,
    /// Completed queries in the window before a rate is judged.
    pub min_queries: u64,
    /// Rates in 0..=1 that raise `resolver_failure`; 0 disables one.
    pub timeout_rate: f64,
    pub servfail_rate: f64,
    pub refused_rate: f64,
}

// The rates are checked finite (never NaN), so equality is total.
impl Eq for ResolverHealthConfig {}

impl Default for ResolverHealthConfig {
    fn default() -> Self {
        let h = HealthConfig::default();
        Self {
            window: h.window,
            min_queries: h.min_queries,
            timeout_rate: h.timeout_rate,
            servfail_rate: h.servfail_rate,
            refused_rate: h.refused_rate,
        }
    }
}

impl ResolverHealthConfig {
    pub fn health_config(&self) -> HealthConfig {
        HealthConfig {
            window: self.window,
            min_queries: self.min_queries,
            timeout_rate: self.timeout_rate,
            servfail_rate: self.servfail_rate,
            refused_rate: self.refused_rate,
            ..HealthConfig::default()
        }
    }
}

/// The table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResolverHealth {
    pub window: Option<Spanned<DurationSpec>>,
    pub min_queries: Option<Spanned<u64>>,
    pub timeout_rate: Option<Spanned<f64>>,
    pub servfail_rate: Option<Spanned<f64>>,
    pub refused_rate: Option<Spanned<f64>>,
}

/// Shortest window: the window has 12 slots of at least 100 ms each.
const MIN_WINDOW: Duration = Duration::from_secs(2);
const MAX_WINDOW: Duration = Duration::from_secs(86_400);

impl Checker<'_> {
    pub(super) fn resolver_health(
        &self,
        raw: Option<&RawResolverHealth>,
    ) -> Result<ResolverHealthConfig, ConfigError> {
        let mut out = ResolverHealthConfig::default();
        let Some(raw) = raw else { return Ok(out) };
        if let Some(w) = &raw.window {
            let d = w
                .get_ref()
                .duration()
                .map_err(|m| self.bad("resolver_health.window", w, m))?;
            if !(MIN_WINDOW..=MAX_WINDOW).contains(&d) {
                return Err(self.bad(
                    "resolver_health.window",
                    w,
                    "must be between 2 seconds and 1 day",
                ));
            }
            out.window = d;
        }
        if let Some(n) = &raw.min_queries {
            if *n.get_ref() == 0 {
                return Err(self.bad("resolver_health.min_queries", n, "must be at least 1"));
            }
            out.min_queries = *n.get_ref();
        }
        let rate = |key: &str, v: &Option<Spanned<f64>>, into: &mut f64| {
            if let Some(r) = v {
                let x = *r.get_ref();
                if !x.is_finite() || !(0.0..=1.0).contains(&x) {
                    return Err(self.bad(
                        &format!("resolver_health.{key}"),
                        r,
                        format!("{x} is not a rate between 0 and 1 (0 disables it)"),
                    ));
                }
                *into = x;
            }
            Ok(())
        };
        rate("timeout_rate", &raw.timeout_rate, &mut out.timeout_rate)?;
        rate("servfail_rate", &raw.servfail_rate, &mut out.servfail_rate)?;
        rate("refused_rate", &raw.refused_rate, &mut out.refused_rate)?;
        Ok(out)
    }
}
