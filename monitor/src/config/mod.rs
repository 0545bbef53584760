//! The daemon's TOML configuration: documented keys and defaults
//! (`monitor/config/dnssec-monitor.toml` is the reference), strict parsing
//! (an unknown key is an error), and checks that name the key and line of
//! a bad address, a bad value or an unreadable file.
//!
//! - [`raw`]: the file as written (serde, spans).
//! - [`resolver_health`]: `[resolver_health]` (window and thresholds).
//! - [`units`]: sizes and durations with units.
//! - [`error`]: [`ConfigError`] and span → line mapping.
//! - [`validate`]: raw → [`Config`], with every check.
//! - [`critical`]: `[[critical]]` names and the signature-expiry window.
//!
//! Relative paths in the file are taken relative to the file's directory,
//! so a config means the same whatever the daemon's working directory.

pub mod critical;
pub mod error;
pub mod raw;
pub mod resolver_health;
pub mod units;
pub mod validate;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

pub use critical::{CriticalName, DEFAULT_SIGNATURE_EXPIRY_WINDOW, Require};
pub use error::{ConfigError, ConfigErrorKind};
pub use resolver_health::ResolverHealthConfig;

use crate::sinks::{
    reliable::ReliableSinkOptions,
    rotate::RotateOptions,
    spool::SpoolOptions,
    syslog::{Facility, SinkStartError, SyslogSink, SyslogTransport, TransportKind, tls},
};
use crate::store::{Retention, StoreOptions};

/// Where alerts (and events with `events = true`) are written as JSON lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputTarget {
    Stdout,
    File(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputConfig {
    /// `path = "-"` (default) is stdout.
    pub target: OutputTarget,
    /// Rotation of a file target.
    pub rotate: RotateOptions,
}

/// A negative trust anchor (RFC 7646): validation failures in `zone` are
/// not alerted on until `expires` (forever when `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nta {
    pub zone: String,
    pub expires: Option<SystemTime>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogSinkConfig {
    pub transport: TransportKind,
    /// `host:port` (resolved at each connect).
    pub address: String,
    /// Name the TLS certificate must carry; defaults to the host of `address`.
    pub server_name: Option<String>,
    /// CA bundle for TLS; defaults to [`tls::SYSTEM_CA_FILE`].
    pub ca_file: Option<PathBuf>,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub facility: Facility,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub max_age: Option<Duration>,
    pub max_bytes: Option<u64>,
    /// DNS answers stored per second (besides every alert's); a bound so
    /// the store never competes with capture. 0 = alerts only.
    pub sample_per_second: u32,
}

/// Default of `store.sample_per_second`.
pub const DEFAULT_SAMPLE_PER_SECOND: u32 = 200;
/// Upper bound of `store.sample_per_second`: beyond it SQLite commits
/// would be the bottleneck on a busy host.
pub const MAX_SAMPLE_PER_SECOND: u32 = 100_000;

/// How alerts are emitted (phased roll-out): `enforce` writes alerts,
/// `audit` writes them as `event.kind: event` with `dnssec_monitor.mode: audit`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        }
    }
}

/// Per-zone settings (`[[zone]]`): internal and split-horizon zones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneConfig {
    /// The zone apex; the settings apply to it and everything below it.
    pub name: String,
    /// A trust anchor file (DS/DNSKEY records) for this zone, for internal
    /// signed zones with no chain from the root.
    pub trust_anchor: Option<PathBuf>,
    /// Servers the engine asks (DO+CD) for names in this zone instead of
    /// iterating (internal names reachable only through internal servers).
    pub upstream: Vec<SocketAddr>,
    /// Overrides the global mode for this zone.
    pub mode: Option<Mode>,
}

/// The validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub output: OutputConfig,
    /// Also write event lines (not only alerts): each query, each answer's
    /// transaction with its query and verdict, and the transaction of each
    /// query that got no answer (detect/transactions.rs).
    pub events: bool,
    /// Resolvers this host is expected to use (port 53 unless given).
    pub resolvers: Vec<SocketAddr>,
    /// Resolvers expected to validate (set AD).
    pub validating_resolvers: Vec<SocketAddr>,
    /// Where the engine sends its own queries; empty = iterate from the root.
    pub upstream: Vec<SocketAddr>,
    pub root_hints: Option<PathBuf>,
    pub trust_anchor: Option<PathBuf>,
    /// Names (and everything below them) never alerted on.
    pub allow: Vec<String>,
    pub nta: Vec<Nta>,
    pub metrics_listen: SocketAddr,
    pub syslog: Vec<SyslogSinkConfig>,
    pub store: Option<StoreConfig>,
    /// Interfaces to capture on; empty = all.
    pub interfaces: Vec<String>,
    pub dns_ports: Vec<u16>,
    /// Global alert mode (`mode = "enforce"|"audit"`).
    pub mode: Mode,
    /// Per-zone settings, in file order.
    pub zones: Vec<ZoneConfig>,
    /// `[resolver_health]`: window and thresholds of `resolver_failure`.
    pub resolver_health: ResolverHealthConfig,
    /// Identity-critical names (`[[critical]]`), in file order.
    pub critical: Vec<CriticalName>,
    /// Warn (`signature_expiring`) when signatures expire within this; 0: off.
    pub signature_expiry_window: Duration,
    /// Niceness of every daemon thread (`nice`, -20..=19, setpriority(2)):
    /// a positive value makes the monitor yield to the host's own work under
    /// CPU contention; what it then cannot keep up with is counted and raised
    /// as `capture_loss`. 0 (default) competes equally; negative values need
    /// CAP_SYS_NICE.
    pub nice: i32,
    /// DNS 0x20 on every query the monitor's own engine sends (`dns_0x20`,
    /// default off): question letters in a random case, answers that do
    /// not echo it dropped. Off by default because a server that does not
    /// preserve case would fail every lookup (DESIGN.md: "0x20 optional").
    pub dns_0x20: bool,
    /// The kernel counts repeats of exchanges on `lo` that the detector
    /// judged clean instead of copying them up (`kernel_fast_path`,
    /// default on; always off with `events`, which writes every exchange).
    /// docs/design-kernel-fast-path.md.
    pub kernel_fast_path: bool,
}

/// Default [`Config::nice`]: compete equally. Measured on the 2-core lab
/// machine at dnsperf's maximum loopback rate (docs/BENCHMARKS.md), 10 or
/// even 19 gave the host back almost nothing (the monitor fills otherwise
/// idle CPU time and is preempted often; what slows the DNS path is the CPU
/// it uses while it runs), so a positive default would only starve the
/// monitor on busy hosts without protecting them. Kept as a knob for
/// operators who want their workload first (CFS weight 110 at nice 10
/// against 1024, kernel/sched/core.c `sched_prio_to_weight`).
pub const DEFAULT_NICE: i32 = 0;

pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9153";
pub const DEFAULT_SPOOL_ROOT: &str = "/var/lib/dnssec-monitor/spool";
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 64 << 20;

impl Default for Config {
    fn default() -> Self {
        Config {
            output: OutputConfig {
                target: OutputTarget::Stdout,
                rotate: RotateOptions::default(),
            },
            events: false,
            resolvers: Vec::new(),
            validating_resolvers: Vec::new(),
            upstream: Vec::new(),
            root_hints: None,
            trust_anchor: None,
            allow: Vec::new(),
            nta: Vec::new(),
            metrics_listen: DEFAULT_METRICS_LISTEN.parse().expect("valid constant"),
            syslog: Vec::new(),
            store: None,
            interfaces: Vec::new(),
            dns_ports: vec![53],
            mode: Mode::Enforce,
            zones: Vec::new(),
            resolver_health: ResolverHealthConfig::default(),
            critical: Vec::new(),
            signature_expiry_window: DEFAULT_SIGNATURE_EXPIRY_WINDOW,
            nice: DEFAULT_NICE,
            dns_0x20: false,
            kernel_fast_path: true,
        }
    }
}

/// Read, parse and check the config file at `path` (what
/// `dnssec-monitor check-config FILE` runs).
pub fn check_config(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        kind: ConfigErrorKind::Read,
        key: None,
        line: None,
        column: None,
        message: format!("cannot read the config file: {e}"),
    })?;
    parse_config(&text, path)
}

/// Parse and check config `text`; `origin` names it in errors and its
/// directory anchors relative paths.
pub fn parse_config(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    validate::validate(text, origin)
}

impl SyslogSinkConfig {
    /// The transport to hand to [`crate::sinks::reliable::ReliableSink::start`]
    /// (loads the CA file for TLS).
    pub fn build_transport(&self) -> Result<SyslogTransport, tls::TlsConfigError> {
        Ok(match self.transport {
            TransportKind::Udp => SyslogTransport::udp(&self.address),
            TransportKind::Tcp => SyslogTransport::tcp(&self.address),
            TransportKind::Tls => {
                let ca = self
                    .ca_file
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(tls::SYSTEM_CA_FILE));
                let name = match &self.server_name {
                    Some(n) => n.clone(),
                    None => validate::host_of(&self.address).unwrap_or_default(),
                };
                SyslogTransport::tls(
                    &self.address,
                    tls::client_config(&ca)?,
                    tls::server_name(&name)?,
                )
            }
        })
    }

    /// Build the transport, open the spool and start the sink thread.
    pub fn start(&self) -> Result<SyslogSink, SinkStartError> {
        SyslogSink::start(
            &self.address,
            self.build_transport()?,
            self.facility,
            self.sink_options(),
        )
    }

    pub fn sink_options(&self) -> ReliableSinkOptions {
        ReliableSinkOptions {
            spool: SpoolOptions::with_max_bytes(self.spool_max_bytes),
            ..ReliableSinkOptions::new(&self.spool_dir)
        }
    }
}

impl StoreConfig {
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            retention: Retention {
                max_age: self.max_age,
                max_bytes: self.max_bytes,
            },
            ..StoreOptions::new(&self.path)
        }
    }
}

#[cfg(test)]
mod tests;
