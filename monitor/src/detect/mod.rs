//! Detection (DESIGN.md "Detection"): each answer the host received, joined
//! with its query ([`crate::correlate::outstanding`]) and with the
//! independent verdict ([`verdicts`]), is checked by the rules.
//!
//! - [`policy`]: what the operator configured (resolvers, allow list, NTAs).
//! - [`critical`]: critical names, audit/enforce mode, and how they mark alerts.
//! - [`verdicts`]: verdict lookups off the capture path (queue, dedup, cache, history).
//! - [`rules`]: one file per rule.
//! - [`alert`]: [`alert::Alert`] and its ECS JSON (schema: docs/alert.schema.json).
//! - [`resolver_health`]: per-resolver sliding window (timeouts, SERVFAIL,
//!   REFUSED, latency via [`latency`], AD rate) behind `resolver_failure`.
//! - [`posture`]: per-name observations for `dnssec-monitor report`.
//! - [`clean`]: where answers judged clean are reported (the kernel fast path).
//! - [`sample`]: the rate-bounded sample of answers kept in the forensic store.
//! - [`transactions`]: `--events` transaction lines (an answer, its query, its verdict).
//! - [`detector`]: [`detector::Detector`], the per-event entry point.
//! - [`stage`]: the pipeline stage (channel in, channel out, counters).
//! - [`batches`]: the event channel into the stage, in batches bounded in events.

pub mod alert;
pub mod batches;
pub mod clean;
pub mod critical;
pub mod detector;
pub mod latency;
pub mod policy;
pub mod posture;
pub mod resolver_health;
pub mod rules;
pub mod sample;
pub mod stage;
pub mod transactions;
pub mod verdicts;

#[cfg(test)]
mod cdn_tests;
#[cfg(test)]
mod correlation_tests;
#[cfg(test)]
mod detector_tests;
#[cfg(test)]
mod evaluate_tests;
#[cfg(test)]
mod health_tests;
#[cfg(test)]
pub(crate) mod lab;
#[cfg(test)]
mod posture_tests;
#[cfg(test)]
mod sample_tests;
#[cfg(test)]
mod schema_tests;
#[cfg(test)]
pub mod testkit;
#[cfg(test)]
mod transactions_tests;
