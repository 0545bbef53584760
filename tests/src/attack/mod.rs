//! The attack lab: real nsd (signed hierarchy with its own root) and real
//! unbound (validating and plain) in network namespaces, `dig` as the
//! client in another, relays, rogue servers and a raw-socket spoofer in an
//! attacker namespace, and `dnssec-monitor run` on the host with its eBPF
//! programs attached, root hints and trust anchor pointed at the lab root.
//! Used by `tests/tests/attacks.rs` (and meant for `cargo xtask lab`).
//!
//! Table of contents:
//! - [`topology`]: namespaces, bridge and addresses.
//! - [`leftovers`]: what a crashed lab left, found by name, and its removal.
//! - [`servers`]: the signed hierarchy, nsd and both unbounds.
//! - [`relay`]: on-path relays (strip RRSIGs, clear AD, race) and forgers.
//! - [`spoof`]: raw-socket injection with a forged source.
//! - [`zones`]: the zones only this lab serves (RSA opt-out, CDN rotation, KeyTrap).
//! - [`benign`]: the benign mix as parallel `dig -f` batches.
//! - [`scenarios`]: one function per attack, returning the alerts seen.
//! - [`critical`]: the identity-critical names of the lab's config (issue 6).
//! - [`internal`]: an internal zone with its own anchor behind its own
//!   server (split horizon), per-zone config and an expiring NTA (issue 6).

pub mod benign;
pub mod critical;
pub mod internal;
pub mod leftovers;
pub mod relay;
pub mod scenarios;
pub mod servers;
pub mod spoof;
pub mod topology;
pub mod zones;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cmd::have;
use crate::lab::process::Server;
use crate::monitor::Monitor;
use relay::{Behaviour, Relay};
use topology::*;

/// Unmatched answers this soon after the monitor started are not called
/// unsolicited (correlate::outstanding warm-up, 10 s) — wait it out.
const WARMUP: Duration = Duration::from_secs(11);

/// The running lab. Fields drop in order: monitor, relays, servers, then
/// the namespaces, then the files.
pub struct Lab {
    pub monitor: Monitor,
    /// The arguments the lab's monitor runs with after `run --events --output FILE`.
    pub monitor_args: Vec<String>,
    relays: Vec<Relay>,
    servers: Vec<Server>,
    _topology: Topology,
    pub dir: tempfile::TempDir,
    monitor_started: Instant,
    /// Held for the lab's life, released last (see [`host_lock`]).
    _lock: std::fs::File,
}

/// One lab per host: its names and addresses are fixed, and a second
/// `up` would tear the first one down (two `cargo test` runs at once).
pub const LOCK_PATH: &str = "/tmp/dnssec-monitor-attack-lab.lock";

/// Takes the host-wide lab lock (flock(2), freed when the holder exits,
/// even by SIGKILL), waiting at most `wait`.
pub fn host_lock(wait: Duration) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK_PATH)
        .with_context(|| LOCK_PATH.to_string())?;
    let deadline = Instant::now() + wait;
    loop {
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(f);
        }
        if Instant::now() >= deadline {
            bail!("another attack lab holds {LOCK_PATH} (waited {wait:?})");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Tools the lab needs; `Err` names the missing ones.
pub fn tools() -> Result<(), Vec<&'static str>> {
    let missing: Vec<&str> = [
        "ip",
        "nsd",
        "unbound",
        "dig",
        "ldns-keygen",
        "ldns-signzone",
        "ldns-key2ds",
    ]
    .into_iter()
    .filter(|t| !have(t))
    .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    }
}

fn a53(a: Ipv4Addr) -> SocketAddrV4 {
    SocketAddrV4::new(a, 53)
}

fn a53_v6(a: Ipv6Addr) -> SocketAddrV6 {
    SocketAddrV6::new(a, 53, 0, 0)
}

/// The lab's monitor arguments: only the lab's links, its root hints and
/// anchor, and which lab addresses count as configured resolvers.
fn monitor_args(dir: &std::path::Path) -> Vec<String> {
    let d = dir.display();
    let mut a: Vec<String> = [
        // An ephemeral port: other monitors (parallel test binaries) may
        // hold the default 127.0.0.1:9153.
        "--metrics-listen",
        "127.0.0.1:0",
    ]
    .map(String::from)
    .to_vec();
    // Only the lab's links: other DNS traffic on this host (load
    // generators, other tests) is not the lab's to judge.
    for i in [BRIDGE, SERVER_NS, CLIENT_NS, ATTACKER_NS] {
        a.extend(["--interface".into(), i.into()]);
    }
    a.extend(["--root-hints".into(), format!("{d}/root.hints")]);
    a.extend(["--trust-anchor".into(), format!("{d}/anchor.ds")]);
    let listed: [IpAddr; 7] = [
        PLAIN_V4.into(),
        PLAIN_V6.into(),
        STRIP_RELAY_V4.into(),
        STRIP_RELAY_V6.into(),
        RACE_RELAY_V4.into(),
        FORGE_LISTED_V4.into(),
        RACE_WIN_RELAY_V4.into(),
    ];
    for r in listed {
        a.extend(["--resolver".into(), r.to_string()]);
    }
    let validating: [IpAddr; 3] = [
        VALIDATING_V4.into(),
        VALIDATING_V6.into(),
        AD_RELAY_V4.into(),
    ];
    for r in validating {
        a.extend(["--validating-resolver".into(), r.to_string()]);
    }
    a
}

/// One alert as the scenarios compare them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub rule: String,
    pub qname: String,
    pub process: Option<String>,
    pub pid: Option<u64>,
    /// `dnssec_monitor.severity` (low, medium, high, critical).
    pub severity: Option<String>,
    /// `dnssec_monitor.rule_detail`: why.
    pub detail: Option<String>,
    /// `destination.ip`: the server asked (for answers and queries alike).
    pub server: Option<IpAddr>,
}

impl Seen {
    pub fn of(v: &Value) -> Seen {
        let s = |p: &[&str]| p.iter().try_fold(v, |v, k| v.get(k));
        Seen {
            rule: s(&["rule", "name"])
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            qname: s(&["dns", "question", "name"])
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim_end_matches('.')
                .into(),
            process: s(&["process", "name"])
                .and_then(Value::as_str)
                .map(str::to_owned),
            pid: s(&["process", "pid"]).and_then(Value::as_u64),
            severity: s(&["dnssec_monitor", "severity"])
                .and_then(Value::as_str)
                .map(str::to_owned),
            detail: s(&["dnssec_monitor", "rule_detail"])
                .and_then(Value::as_str)
                .map(str::to_owned),
            server: s(&["destination", "ip"])
                .and_then(Value::as_str)
                .and_then(|ip| ip.parse().ok()),
        }
    }
}

/// What a scenario did and what the monitor said about it.
#[derive(Debug)]
pub struct Outcome {
    /// The `dig` that was the victim, if any.
    pub client_pid: Option<u32>,
    pub alerts: Vec<Seen>,
    /// The alert documents themselves (for failure messages).
    pub raw: Vec<Value>,
}

fn is_alert(v: &Value) -> bool {
    v.get("event")
        .and_then(|e| e.get("kind"))
        .and_then(Value::as_str)
        == Some("alert")
}

impl Lab {
    /// Builds the namespaces, signs and serves the hierarchy, starts the
    /// relays and the monitor, and waits out the monitor's warm-up.
    pub fn up() -> Result<Lab> {
        Self::up_with(|_| Ok((Vec::new(), Vec::new())))
    }

    /// [`Lab::up`], with `extra` run once the namespaces, servers and relays
    /// are up, right before the monitor starts (given the lab directory):
    /// it may start more servers (kept with the lab's) and returns more
    /// monitor arguments (e.g. `--config FILE`).
    pub fn up_with(
        extra: impl FnOnce(&std::path::Path) -> Result<(Vec<String>, Vec<Server>)>,
    ) -> Result<Lab> {
        if let Err(missing) = tools() {
            bail!("attack lab: missing tools {missing:?}");
        }
        // Dropped last of the locals, so also after a failed start.
        let lock = host_lock(Duration::from_secs(600))?;
        let topology = Topology::up()?;
        let dir = tempfile::Builder::new()
            .prefix("dnssec-attack-lab-")
            .tempdir()?;
        let mut servers = servers::start(dir.path()).context("starting nsd and unbound")?;
        let relays = vec![
            Relay::start(
                ATTACKER_NS,
                a53(STRIP_RELAY_V4),
                Behaviour::Forward {
                    upstream: a53(PLAIN_V4),
                    strip_rrsig: true,
                    clear_ad: false,
                },
            )?,
            Relay::start(
                ATTACKER_NS,
                a53(AD_RELAY_V4),
                Behaviour::Forward {
                    upstream: a53(VALIDATING_V4),
                    strip_rrsig: false,
                    clear_ad: true,
                },
            )?,
            Relay::start(
                ATTACKER_NS,
                a53(RACE_RELAY_V4),
                Behaviour::Race {
                    upstream: a53(PLAIN_V4),
                    wrong: 5,
                },
            )?,
            Relay::start(
                ATTACKER_NS,
                a53(RACE_WIN_RELAY_V4),
                Behaviour::RaceWin {
                    upstream: a53(PLAIN_V4),
                    variants: 3,
                },
            )?,
            Relay::start(ATTACKER_NS, a53(FORGE_LISTED_V4), Behaviour::ForgeNxdomain)?,
            Relay::start(
                ATTACKER_NS,
                a53(FALLBACK_V4),
                Behaviour::Forward {
                    upstream: a53(PLAIN_V4),
                    strip_rrsig: false,
                    clear_ad: false,
                },
            )?,
            Relay::start(
                ATTACKER_NS,
                a53(ROGUE_V4),
                Behaviour::ForgeA(Ipv4Addr::new(6, 6, 6, 6)),
            )?,
            // The IPv6 twins: the client reaches them over IPv6, they
            // reach the plain resolver over IPv4.
            Relay::start(
                ATTACKER_NS,
                a53_v6(STRIP_RELAY_V6),
                Behaviour::Forward {
                    upstream: a53(PLAIN_V4),
                    strip_rrsig: true,
                    clear_ad: false,
                },
            )?,
            Relay::start(
                ATTACKER_NS,
                a53_v6(FALLBACK_V6),
                Behaviour::Forward {
                    upstream: a53(PLAIN_V4),
                    strip_rrsig: false,
                    clear_ad: false,
                },
            )?,
            Relay::start(
                ATTACKER_NS,
                a53_v6(ROGUE_V6),
                Behaviour::ForgeA(Ipv4Addr::new(6, 6, 6, 6)),
            )?,
        ];
        let (more_args, more_servers) = extra(dir.path())?;
        servers.extend(more_servers);
        // One config file: what the hook's `--config` holds (top-level keys
        // first), then the lab's critical names (tables only).
        let mut config_text = String::new();
        let mut args = monitor_args(dir.path());
        let mut more_args = more_args.into_iter();
        while let Some(a) = more_args.next() {
            if a == "--config" {
                let p = more_args.next().unwrap_or_default();
                config_text.push_str(&std::fs::read_to_string(&p)?);
                config_text.push('\n');
            } else {
                args.push(a);
            }
        }
        config_text.push_str(critical::CONFIG);
        let config = dir.path().join("monitor.toml");
        std::fs::write(&config, config_text)?;
        args.extend(["--config".to_string(), config.display().to_string()]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let monitor = Monitor::start("attack-lab", &argv)?;
        Ok(Lab {
            monitor,
            monitor_args: args,
            relays,
            servers,
            _topology: topology,
            dir,
            monitor_started: Instant::now(),
            _lock: lock,
        })
    }

    /// Stops everything (as dropping does), then — still holding the host
    /// lock, so no other lab can be mistaken for ours — lists whatever of
    /// the lab is left: namespaces, links, processes, directories (empty:
    /// a clean teardown).
    pub fn down(self) -> Vec<String> {
        let Lab {
            monitor,
            relays,
            servers,
            _topology,
            dir,
            _lock,
            ..
        } = self;
        drop(monitor);
        drop(relays);
        drop(servers);
        drop(_topology);
        drop(dir);
        let left = leftovers::report();
        drop(_lock);
        left
    }

    /// Blocks until the monitor's warm-up is over.
    pub fn wait_warm(&self) {
        let since = self.monitor_started.elapsed();
        if since < WARMUP {
            std::thread::sleep(WARMUP - since);
        }
    }

    /// How to point a monitor at this lab, for people (`lab up`).
    pub fn describe(&self) -> String {
        let d = self.dir.path().display();
        format!(
            "lab directory   {d}\n\
             root hints      {d}/root.hints\n\
             trust anchor    {d}/anchor.ds\n\
             resolvers       validating {VALIDATING_V4} {VALIDATING_V6} (unbound), \
             plain {PLAIN_V4} {PLAIN_V6} (unbound)\n\
             client          ip netns exec {CLIENT_NS} dig @{VALIDATING_V4} www.ecdsa.test A +dnssec\n\
             lab monitor     pid {pid}, events and alerts in {out}\n\
             your monitor    dnssec-monitor run --events --output - {args}\n",
            pid = self.monitor.pid().map_or("?".into(), |p| p.to_string()),
            out = self.monitor.output.display(),
            args = self.monitor_args.join(" "),
        )
    }

    /// How many processes and relays are running (for `lab status`).
    pub fn status(&self) -> String {
        format!(
            "{} servers, {} relays, monitor output {}",
            self.servers.len(),
            self.relays.len(),
            self.monitor.output.display()
        )
    }

    /// Alert documents written so far.
    pub fn alerts(&self) -> Vec<Value> {
        self.monitor.events().into_iter().filter(is_alert).collect()
    }

    /// Runs `act` (returning the victim's pid), then waits until at least
    /// `expect` new alerts were written (bounded), then `settle` longer for
    /// any that should not be there; returns every new alert.
    pub fn observe(
        &self,
        expect: usize,
        settle: Duration,
        act: impl FnOnce() -> Result<Option<u32>>,
    ) -> Result<Outcome> {
        self.wait_warm();
        let mark = self.alerts().len();
        let client_pid = act()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.alerts().len() < mark + expect && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(settle);
        let raw: Vec<Value> = self.alerts().into_iter().skip(mark).collect();
        let alerts = raw.iter().map(Seen::of).collect();
        Ok(Outcome {
            client_pid,
            alerts,
            raw,
        })
    }
}
