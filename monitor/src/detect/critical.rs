//! Policy for identity-critical names and for the roll-out mode (DESIGN.md
//! "Policy"): which configured `[[critical]]` entry a name falls under,
//! which mode (`enforce` / `audit`) governs it, and [`annotate`], which
//! stamps every alert with both — the critical label and a severity one
//! step up, and the mode that decides `event.kind`.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use hickory_proto::rr::Name;

use super::alert::{Alert, Rule, Severity};
use super::policy::{DetectPolicy, PolicyError, parse_name};
use crate::config::{CriticalName, Mode, Require, ZoneConfig};
use crate::event::DnsEvent;

/// How an entry matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// That name only.
    Exact(Name),
    /// Every name strictly below (`*.suffix`).
    Below(Name),
}

/// One `[[critical]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CriticalEntry {
    pub pattern: Pattern,
    /// The entry as configured (`login.example.com`, `*.vault.example.com`).
    pub shown: String,
    pub label: String,
    pub require: Require,
}

/// The configured critical names.
#[derive(Clone, Debug, Default)]
pub struct CriticalNames {
    entries: Vec<CriticalEntry>,
}

impl CriticalNames {
    pub fn from_config(list: &[CriticalName]) -> Result<Self, PolicyError> {
        let entries = list
            .iter()
            .map(|c| {
                let pattern = match c.name.strip_prefix("*.") {
                    Some(suffix) => Pattern::Below(parse_name("critical.name", suffix)?),
                    None => Pattern::Exact(parse_name("critical.name", &c.name)?),
                };
                Ok(CriticalEntry {
                    pattern,
                    shown: c.name.clone(),
                    label: c.label.clone(),
                    require: c.require,
                })
            })
            .collect::<Result<_, PolicyError>>()?;
        Ok(CriticalNames { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// In configuration order (for reports).
    pub fn entries(&self) -> &[CriticalEntry] {
        &self.entries
    }

    /// The entry `name` (lowercased, fully qualified) falls under: an exact
    /// entry first, else the pattern with the longest suffix.
    pub fn lookup(&self, name: &Name) -> Option<&CriticalEntry> {
        let mut best: Option<(&CriticalEntry, usize)> = None;
        for e in &self.entries {
            let rank = match &e.pattern {
                Pattern::Exact(n) if n == name => usize::MAX,
                Pattern::Below(s) if s.zone_of(name) && s != name => s.num_labels() as usize,
                _ => continue,
            };
            if best.is_none_or(|(_, r)| rank > r) {
                best = Some((e, rank));
            }
        }
        best.map(|(e, _)| e)
    }
}

/// The global mode and the `[[zone]]` overrides.
#[derive(Clone, Debug, Default)]
pub struct Modes {
    pub global: Mode,
    zones: Vec<(Name, Mode)>,
}

impl Modes {
    pub fn from_config(global: Mode, zones: &[ZoneConfig]) -> Result<Self, PolicyError> {
        let zones = zones
            .iter()
            .filter_map(|z| z.mode.map(|m| (z, m)))
            .map(|(z, m)| Ok((parse_name("zone.name", &z.name)?, m)))
            .collect::<Result<_, PolicyError>>()?;
        Ok(Modes { global, zones })
    }

    /// The mode for `name`: the longest `[[zone]]` at or above it that sets
    /// one, else the global mode; no name → global.
    pub fn mode_for(&self, name: Option<&Name>) -> Mode {
        name.and_then(|n| {
            self.zones
                .iter()
                .filter(|(z, _)| z.zone_of(n))
                .max_by_key(|(z, _)| z.num_labels())
                .map(|(_, m)| *m)
        })
        .unwrap_or(self.global)
    }
}

/// One step up (critical stays critical).
pub fn raise(s: Severity) -> Severity {
    match s {
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        Severity::High | Severity::Critical => Severity::Critical,
    }
}

/// What an alert is about: the question of its DNS message, lowercased.
pub fn alert_name(ev: Option<&DnsEvent>) -> Option<Name> {
    let q = ev?.message.queries.first()?;
    let mut n = q.name().to_lowercase();
    n.set_fqdn(true);
    Some(n)
}

/// Stamps `a` with its mode and, for a critical name, its label; every
/// rule but `critical_name_unprotected` (whose severity already says the
/// name is critical) has its severity raised one step.
pub fn annotate(a: &mut Alert, policy: &DetectPolicy) {
    let name = alert_name(a.event.as_ref());
    a.tags.mode = policy.modes.mode_for(name.as_ref());
    let Some(e) = name.as_ref().and_then(|n| policy.critical.lookup(n)) else {
        return;
    };
    a.tags.critical = Some(CriticalTag {
        name: e.shown.clone(),
        label: e.label.clone(),
    });
    if a.rule != Rule::CriticalNameUnprotected {
        a.tags.base_severity = Some(a.severity);
        a.severity = raise(a.severity);
    }
}

/// `dnssec_monitor.critical`: the entry an alert's name fell under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CriticalTag {
    /// The entry as configured.
    pub name: String,
    pub label: String,
}

/// What policy added to an alert (see [`annotate`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertTags {
    pub mode: Mode,
    pub critical: Option<CriticalTag>,
    /// The rule's own severity, when policy raised it.
    pub base_severity: Option<Severity>,
}

/// "Once per key per period": remembers when each key last fired.
/// Bounded: when full, entries older than the period are dropped, and if
/// that frees nothing the table is cleared (an alert may then repeat
/// early — better than growing without limit under a flood of names).
#[derive(Debug)]
pub struct Dedup<K> {
    period: Duration,
    max: usize,
    last: Mutex<std::collections::HashMap<K, SystemTime>>,
}

impl<K: std::hash::Hash + Eq + Clone> Dedup<K> {
    pub fn new(period: Duration, max: usize) -> Self {
        Dedup {
            period,
            max: max.max(1),
            last: Mutex::default(),
        }
    }

    /// True (and remembered) when `key` has not fired within the period
    /// before `now`; false: a repeat, to be suppressed.
    pub fn first(&self, key: &K, now: SystemTime) -> bool {
        let mut m = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = m.get(key) {
            // A clock that went backwards (replay of an older file) counts
            // as within the period.
            let since = now.duration_since(*t).unwrap_or(Duration::ZERO);
            if since < self.period {
                return false;
            }
        }
        if m.len() >= self.max && !m.contains_key(key) {
            let period = self.period;
            m.retain(|_, t| now.duration_since(*t).unwrap_or(Duration::ZERO) < period);
            if m.len() >= self.max {
                m.clear();
            }
        }
        m.insert(key.clone(), now);
        true
    }

    pub fn len(&self) -> usize {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The memory of the policy rules, shared by every pending evaluation.
#[derive(Debug)]
pub struct RuleState {
    pub unprotected: super::rules::critical_name::UnprotectedDedup,
    pub expiry: super::rules::signature_expiring::ExpiryDedup,
}

impl Default for RuleState {
    fn default() -> Self {
        RuleState {
            unprotected: super::rules::critical_name::new_dedup(),
            expiry: super::rules::signature_expiring::new_dedup(),
        }
    }
}

#[cfg(test)]
#[path = "critical_tests.rs"]
mod tests;
