//! `dnssec-monitor report`: the DNSSEC posture of critical names and
//! resolvers over a period, from the store (DESIGN.md "Policy").
//!
//! - [`model`]: the content ([`model::Report`]), also the JSON format
//!   (docs/report.md).
//! - [`markdown`], [`html`]: renderers ([`fmt`]: shared cell texts).

pub mod fmt;
pub mod html;
pub mod markdown;
pub mod model;

use std::time::SystemTime;

use crate::detect::posture::CriticalLabels;
use crate::store::{Store, StoreError};

pub use model::Report;

/// Alerts read for one report (newest first).
pub const MAX_ALERTS: usize = 100_000;

/// Build the report of `store` for `[since, now]`.
pub fn from_store(
    store: &Store,
    critical: &CriticalLabels,
    since: SystemTime,
    now: SystemTime,
) -> Result<Report, StoreError> {
    let names = store.name_observations_since(since)?;
    let resolvers = store.resolver_stats_since(since)?;
    let alerts = store.alerts_since(since, MAX_ALERTS)?;
    Ok(model::build(&model::Inputs {
        now,
        since,
        critical,
        names: &names,
        resolvers: &resolvers,
        alerts: &alerts,
    }))
}

#[cfg(test)]
mod tests;
