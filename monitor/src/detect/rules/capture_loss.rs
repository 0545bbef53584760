//! `capture_loss`: the kernel or any stage dropped events. The detector
//! samples named drop counters (kernel ring buffer, channels, the verdict
//! queue …) and raises one alert per sample in which any of them grew,
//! naming each counter and by how much.

use std::collections::HashMap;

use crate::detect::alert::{Finding, Rule, Severity};

/// `--events` lines the output had no room for (`event_lines_full`,
/// `transaction_lines_full`): the answers behind them were checked, only
/// their lines are missing.
fn output_only(name: &str) -> bool {
    name.ends_with("_lines_full")
}

/// The last value seen of each counter.
#[derive(Default)]
pub struct LossTracker {
    last: HashMap<String, u64>,
}

impl LossTracker {
    /// Compares `counters` with the previous sample; the finding and the
    /// deltas when anything was dropped since.
    pub fn check(&mut self, counters: &[(String, u64)]) -> Option<(Finding, Vec<(String, u64)>)> {
        let mut grew = Vec::new();
        for (name, value) in counters {
            let before = self.last.insert(name.clone(), *value).unwrap_or(0);
            // A counter that went backwards was reset: count from zero.
            let delta = if *value >= before {
                value - before
            } else {
                *value
            };
            if delta > 0 {
                grew.push((name.clone(), delta));
            }
        }
        if grew.is_empty() {
            return None;
        }
        let parts: Vec<String> = grew.iter().map(|(n, d)| format!("{n} +{d}")).collect();
        let parts = parts.join(", ");
        let lines: u64 = grew
            .iter()
            .filter(|(n, _)| output_only(n))
            .map(|(_, d)| d)
            .sum();
        let unchecked: u64 = grew.iter().map(|(_, d)| d).sum::<u64>() - lines;
        let (severity, detail) = match (unchecked, lines) {
            (0, _) => (
                Severity::Low,
                format!(
                    "{lines} event line(s) dropped since the last check ({parts}): the output had no room for them; every answer was still checked"
                ),
            ),
            (_, 0) => (
                Severity::Medium,
                format!(
                    "{unchecked} event(s) dropped since the last check ({parts}): answers in that gap were not checked"
                ),
            ),
            _ => (
                Severity::Medium,
                format!(
                    "{unchecked} event(s) dropped since the last check, and {lines} event line(s) the output had no room for ({parts}): answers in that gap were not checked"
                ),
            ),
        };
        Some((Finding::new(Rule::CaptureLoss, severity, detail), grew))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_only_when_a_counter_grows() {
        let mut t = LossTracker::default();
        let c = |a: u64, b: u64| {
            vec![
                ("ring_full".to_string(), a),
                ("verdict_queue_full".to_string(), b),
            ]
        };
        assert!(t.check(&c(0, 0)).is_none());
        assert!(t.check(&c(0, 0)).is_none());
        let (f, d) = t.check(&c(5, 0)).expect("grew");
        assert_eq!(f.rule, Rule::CaptureLoss);
        assert_eq!(d, vec![("ring_full".to_string(), 5)]);
        assert!(f.detail.contains("ring_full +5"), "{}", f.detail);
        assert!(t.check(&c(5, 0)).is_none());
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.detail.contains("not checked"), "{}", f.detail);
    }

    #[test]
    fn dropped_event_lines_are_not_unchecked_answers() {
        let mut t = LossTracker::default();
        let c = |ring: u64, lines: u64| {
            vec![
                ("ring_full".to_string(), ring),
                ("transaction_lines_full".to_string(), lines),
            ]
        };
        assert!(t.check(&c(0, 0)).is_none());
        let (f, _) = t.check(&c(0, 40)).expect("grew");
        assert_eq!(f.severity, Severity::Low);
        assert!(f.detail.contains("still checked"), "{}", f.detail);
        assert!(!f.detail.contains("not checked"), "{}", f.detail);
        let (f, _) = t.check(&c(3, 50)).expect("grew");
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.detail.starts_with("3 event(s)"), "{}", f.detail);
        assert!(f.detail.contains("10 event line(s)"), "{}", f.detail);
        assert!(f.detail.contains("not checked"), "{}", f.detail);
    }
}
