//! What the operator told the rules (DESIGN.md "Whose traffic counts" and
//! "Legitimate variation must not alert"), taken from [`crate::config::Config`].

use std::net::SocketAddr;
use std::time::SystemTime;

use hickory_proto::rr::Name;
use thiserror::Error;

use super::critical::{CriticalNames, Modes};
use crate::config::Config;
use crate::event::DnsEvent;

#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("{key}: {value:?} is not a DNS name: {why}")]
    BadName {
        key: &'static str,
        value: String,
        why: String,
    },
}

/// A negative trust anchor (RFC 7646): no validation alert at or below
/// `zone` until `expires`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NtaPolicy {
    pub zone: Name,
    pub expires: Option<SystemTime>,
}

/// The rules' configuration.
#[derive(Clone, Debug, Default)]
pub struct DetectPolicy {
    /// Resolvers the host is expected to use (RD=1 traffic to anything
    /// else is a fallback path). Empty: the resolver-set test is off.
    pub resolvers: Vec<SocketAddr>,
    /// Resolvers expected to validate and so to set AD (RFC 4035 §3.2.3).
    pub validating_resolvers: Vec<SocketAddr>,
    /// Names (and everything below them) never alerted on.
    pub allow: Vec<Name>,
    pub nta: Vec<NtaPolicy>,
    /// Processes whose traffic is the monitor's own (its engine's queries).
    pub own_pids: Vec<u32>,
    /// `[[critical]]` names (DESIGN.md "Policy").
    pub critical: CriticalNames,
    /// Global and per-zone `mode`.
    pub modes: Modes,
    /// `signature_expiring` window; zero: off.
    pub signature_expiry_window: std::time::Duration,
}

pub(crate) fn parse_name(key: &'static str, s: &str) -> Result<Name, PolicyError> {
    let mut n = Name::from_ascii(s).map_err(|e| PolicyError::BadName {
        key,
        value: s.to_owned(),
        why: e.to_string(),
    })?;
    n.set_fqdn(true);
    Ok(n.to_lowercase())
}

impl DetectPolicy {
    /// From the validated configuration; this process is the monitor.
    pub fn from_config(cfg: &Config) -> Result<Self, PolicyError> {
        Ok(DetectPolicy {
            resolvers: cfg.resolvers.clone(),
            validating_resolvers: cfg.validating_resolvers.clone(),
            allow: cfg
                .allow
                .iter()
                .map(|a| parse_name("allow", a))
                .collect::<Result<_, _>>()?,
            nta: cfg
                .nta
                .iter()
                .map(|n| {
                    Ok(NtaPolicy {
                        zone: parse_name("nta", &n.zone)?,
                        expires: n.expires,
                    })
                })
                .collect::<Result<_, PolicyError>>()?,
            own_pids: vec![std::process::id()],
            critical: CriticalNames::from_config(&cfg.critical)?,
            modes: Modes::from_config(cfg.mode, &cfg.zones)?,
            signature_expiry_window: cfg.signature_expiry_window,
        })
    }

    /// The NTA zones still in force at `now` (for the engine's configuration).
    pub fn active_ntas(&self, now: SystemTime) -> Vec<Name> {
        self.nta
            .iter()
            .filter(|n| n.expires.is_none_or(|e| e > now))
            .map(|n| n.zone.clone())
            .collect()
    }

    /// `name` is at or below an allow-listed name.
    pub fn allowed(&self, name: &Name) -> Option<&Name> {
        self.allow.iter().find(|a| a.zone_of(name))
    }

    /// The NTA in force at `now` covering `name`.
    pub fn nta_for(&self, name: &Name, now: SystemTime) -> Option<&Name> {
        self.nta
            .iter()
            .find(|n| n.zone.zone_of(name) && n.expires.is_none_or(|e| e > now))
            .map(|n| &n.zone)
    }

    pub fn expected_resolver(&self, server: SocketAddr) -> bool {
        self.resolvers.contains(&server) || self.validating_resolvers.contains(&server)
    }

    pub fn validating(&self, server: SocketAddr) -> bool {
        self.validating_resolvers.contains(&server)
    }

    /// The event is the monitor's own traffic (recognised by its process).
    pub fn is_own(&self, ev: &DnsEvent) -> bool {
        ev.process
            .as_ref()
            .is_some_and(|p| self.own_pids.contains(&p.pid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn from_config_names_and_expiry() {
        let past = SystemTime::now() - Duration::from_secs(60);
        let mut cfg = Config {
            allow: vec!["Printer.LAN".into()],
            ..Config::default()
        };
        cfg.nta = vec![
            crate::config::Nta {
                zone: "broken.test".into(),
                expires: None,
            },
            crate::config::Nta {
                zone: "old.test".into(),
                expires: Some(past),
            },
        ];
        let p = DetectPolicy::from_config(&cfg).unwrap();
        let n = |s: &str| Name::from_ascii(s).unwrap();
        assert!(p.allowed(&n("x.printer.lan.")).is_some());
        assert!(p.allowed(&n("printer.lan.example.")).is_none());
        let now = SystemTime::now();
        assert_eq!(
            p.nta_for(&n("www.broken.test."), now),
            Some(&n("broken.test."))
        );
        assert_eq!(p.nta_for(&n("www.old.test."), now), None);
        assert_eq!(p.active_ntas(now), vec![n("broken.test.")]);
        assert!(p.own_pids.contains(&std::process::id()));
    }

    #[test]
    fn bad_name_is_an_error() {
        let cfg = Config {
            allow: vec!["a..b".into()],
            ..Config::default()
        };
        assert!(DetectPolicy::from_config(&cfg).is_err());
    }
}
