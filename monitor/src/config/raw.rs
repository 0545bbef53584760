//! The TOML file as written: serde structs mirroring the documented keys,
//! with `deny_unknown_fields` everywhere so a typo is an error, and
//! `Spanned` wherever a later check (address, file) must name the line.

use std::path::PathBuf;

use serde::Deserialize;
use toml::{Spanned, value::Datetime};

use super::units::{DurationSpec, SizeSpec};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub output: RawOutput,
    pub events: Option<bool>,
    #[serde(default)]
    pub resolvers: Vec<Spanned<String>>,
    #[serde(default)]
    pub validating_resolvers: Vec<Spanned<String>>,
    #[serde(default)]
    pub upstream: Vec<Spanned<String>>,
    pub root_hints: Option<Spanned<PathBuf>>,
    pub trust_anchor: Option<Spanned<PathBuf>>,
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    #[serde(default)]
    pub nta: Vec<RawNta>,
    pub metrics_listen: Option<Spanned<String>>,
    #[serde(default)]
    pub sink: RawSinks,
    pub store: Option<RawStore>,
    #[serde(default)]
    pub interfaces: Vec<Spanned<String>>,
    #[serde(default)]
    pub dns_ports: Vec<Spanned<u16>>,
    pub mode: Option<Spanned<String>>,
    #[serde(default)]
    pub zone: Vec<RawZone>,
    pub resolver_health: Option<super::resolver_health::RawResolverHealth>,
    #[serde(default)]
    pub critical: Vec<super::critical::RawCritical>,
    pub signature_expiry_window: Option<Spanned<DurationSpec>>,
    /// Scheduling niceness of the daemon's threads (see [`super::Config::nice`]).
    pub nice: Option<Spanned<i64>>,
    /// DNS 0x20 on the engine's queries (see [`super::Config::dns_0x20`]).
    pub dns_0x20: Option<bool>,
    /// The kernel fast path (see [`super::Config::kernel_fast_path`]).
    pub kernel_fast_path: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZone {
    pub name: Spanned<String>,
    pub trust_anchor: Option<Spanned<PathBuf>>,
    #[serde(default)]
    pub upstream: Vec<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub path: Option<Spanned<String>>,
    pub rotate_bytes: Option<Spanned<SizeSpec>>,
    pub keep: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNta {
    pub zone: Spanned<String>,
    pub expires: Option<Spanned<Datetime>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSinks {
    #[serde(default)]
    pub syslog: Vec<RawSyslog>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSyslog {
    pub transport: Spanned<String>,
    pub address: Spanned<String>,
    pub server_name: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<PathBuf>>,
    pub spool_dir: Option<Spanned<PathBuf>>,
    pub spool_max_bytes: Option<Spanned<SizeSpec>>,
    pub facility: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub path: Spanned<PathBuf>,
    pub max_age: Option<Spanned<DurationSpec>>,
    pub max_bytes: Option<Spanned<SizeSpec>>,
    pub sample_per_second: Option<Spanned<i64>>,
}
