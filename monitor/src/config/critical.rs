//! `[[critical]]`: the identity-critical names (IdP issuers, token
//! endpoints, secret managers, mesh control planes, internal APIs) and
//! what the operator expects of them, plus the signature-expiry window
//! (`signature_expiry_window`). DESIGN.md "Policy".

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::units::DurationSpec;
use super::validate::Checker;
use super::{ConfigError, ConfigErrorKind as Kind};

/// Warn this long before the RRSIGs a verdict rested on expire.
pub const DEFAULT_SIGNATURE_EXPIRY_WINDOW: Duration = Duration::from_secs(3 * 86_400);

/// What the operator expects of a critical name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Require {
    /// A Secure chain and a validating path (`critical_name_unprotected`
    /// otherwise).
    #[default]
    Secure,
    /// No expectation: the name's other alerts are only labelled and raised.
    Any,
}

impl Require {
    pub fn as_str(self) -> &'static str {
        match self {
            Require::Secure => "secure",
            Require::Any => "any",
        }
    }
}

/// One `[[critical]]` entry, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CriticalName {
    /// `login.example.com` (that name only) or `*.example.com` (every name
    /// strictly below example.com); lowercased, without the final dot.
    pub name: String,
    /// What it is (`idp`, `token-endpoint`, `secrets`, `mesh`, …).
    pub label: String,
    pub require: Require,
}

/// The entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCritical {
    pub name: Spanned<String>,
    pub label: Spanned<String>,
    pub require: Option<Spanned<String>>,
}

impl Checker<'_> {
    /// The `[[critical]]` entries: a DNS name or `*.` and a DNS name, a
    /// label of letters, digits, `-`, `_`, `.` (it becomes a metric and
    /// SIEM field value), a known `require`; no name twice.
    pub(super) fn critical(&self, raw: &[RawCritical]) -> Result<Vec<CriticalName>, ConfigError> {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, c) in raw.iter().enumerate() {
            let key = |k: &str| format!("critical[{i}].{k}");
            let written = c.name.get_ref().trim();
            let name = match written.strip_prefix("*.") {
                Some(rest) => {
                    let suffix = Spanned::new(c.name.span(), rest.to_owned());
                    let s = self.dns_name(&key("name"), &suffix)?;
                    if s == "." {
                        return Err(self.bad(
                            &key("name"),
                            &c.name,
                            "\"*.\" would make every name critical; list the suffixes",
                        ));
                    }
                    format!("*.{s}")
                }
                None if written.contains('*') => {
                    return Err(self.bad(
                        &key("name"),
                        &c.name,
                        format!(
                            "{written:?}: a pattern is \"*.\" followed by a name (\"*.example.com\")"
                        ),
                    ));
                }
                None => {
                    let n = self.dns_name(&key("name"), &c.name)?;
                    if n == "." {
                        return Err(self.bad(
                            &key("name"),
                            &c.name,
                            "the root is not a name to protect",
                        ));
                    }
                    n
                }
            };
            if !seen.insert(name.clone()) {
                return Err(self.bad(&key("name"), &c.name, format!("{name} is listed twice")));
            }
            let label = c.label.get_ref().trim();
            if label.is_empty()
                || label.len() > 63
                || !label
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
            {
                return Err(self.bad(
                    &key("label"),
                    &c.label,
                    format!("{label:?} is not a label (1-63 of letters, digits, - _ .)"),
                ));
            }
            let require = match &c.require {
                None => Require::Secure,
                Some(r) => match r.get_ref().as_str() {
                    "secure" => Require::Secure,
                    "any" => Require::Any,
                    other => {
                        return Err(self.bad(
                            &key("require"),
                            r,
                            format!("{other:?} is not one of secure, any"),
                        ));
                    }
                },
            };
            out.push(CriticalName {
                name,
                label: label.to_owned(),
                require,
            });
        }
        Ok(out)
    }

    /// `signature_expiry_window`: a duration; 0 turns the watch off; more
    /// than 90 days is refused (every zone would warn all the time).
    pub(super) fn expiry_window(
        &self,
        raw: Option<&Spanned<DurationSpec>>,
    ) -> Result<Duration, ConfigError> {
        let Some(w) = raw else {
            return Ok(DEFAULT_SIGNATURE_EXPIRY_WINDOW);
        };
        let d = w
            .get_ref()
            .duration()
            .map_err(|m| self.bad("signature_expiry_window", w, m))?;
        if d > Duration::from_secs(90 * 86_400) {
            return Err(self.ctx.at(
                Kind::BadValue,
                "signature_expiry_window",
                w.span(),
                "more than 90 days: every zone would warn (ldns and BIND sign for 30 days by default)",
            ));
        }
        Ok(d)
    }
}

#[cfg(test)]
#[path = "critical_tests.rs"]
mod tests;
