//! Internal zones (issue 6, acceptance 2): `corp.internal.` signed with its
//! own keys and served by its own nsd in the server namespace, which the
//! lab root does not delegate to (the root proves `internal.` does not
//! exist): only a per-zone trust anchor and a per-zone upstream make it
//! resolvable and Secure. `www.corp.internal` carries a damaged RRSIG (the
//! "broken" part); `good.corp.internal` is intact.
//!
//! The monitor runs with a config holding the `[[zone]]` entry and an
//! `[[nta]]` for the zone that expires a given time after the monitor
//! starts; [`Internal`] also holds configs for `validate` (no NTA) and a
//! negative twin without the anchor.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};

use super::Lab;
use super::topology::{CLIENT_NS, SERVER_NS, Topology};
use crate::cmd::run_pid;
use crate::lab::nsd_conf;
use crate::lab::process::Server;
use crate::lab::zones::{Signing, Zone, make_keys, sign, zone_text};

/// The internal server (server namespace, same bridge; nothing delegates to it).
pub const INTERNAL_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 53, 20);
pub const ZONE: &str = "corp.internal.";

/// The files and times of the internal-zone setup.
pub struct Internal {
    /// The daemon's config: `[[zone]]` (anchor + upstream) and the NTA.
    pub daemon_config: PathBuf,
    /// `[[zone]]` with anchor and upstream, no NTA (for `validate`).
    pub zone_config: PathBuf,
    /// `[[zone]]` with the upstream only: no anchor for the zone.
    pub no_anchor_config: PathBuf,
    /// When the NTA ends.
    pub nta_expires: SystemTime,
}

/// `t` as a TOML/RFC 3339 UTC date-time (`2026-11-27T22:10:30Z`).
fn rfc3339(t: SystemTime) -> Result<String> {
    let secs = t.duration_since(UNIX_EPOCH)?.as_secs();
    let s = monitor::commands::validate::format_time(i64::try_from(secs)?);
    ensure!(s.len() == 14, "odd time {s}");
    Ok(format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[8..10],
        &s[10..12],
        &s[12..14]
    ))
}

/// Signs and serves the internal zone in `d`; returns its nsd and the
/// DS anchor file.
fn serve(d: &Path) -> Result<(Server, PathBuf)> {
    let zone = Zone {
        origin: ZONE,
        server: INTERNAL_V4,
        signing: Signing::CorruptWww,
        body: format!("www.{ZONE} A 192.0.2.1\ngood.{ZONE} A 192.0.2.3\nidp.{ZONE} A 192.0.2.4\n"),
    };
    let keys = make_keys(d, &zone)
        .map_err(|e| anyhow!(e))?
        .ok_or_else(|| anyhow!("internal zone unsigned"))?;
    let zonefile = "internal.zone";
    std::fs::write(d.join(zonefile), zone_text(&zone, &[]))?;
    let served = sign(d, &zone, zonefile, &keys).map_err(|e| anyhow!(e))?;
    let anchor = d.join("internal.ds");
    std::fs::write(&anchor, format!("{}\n", keys.ds[0]))?;
    let cidr = format!("{INTERNAL_V4}/16");
    let add = Topology::in_ns(SERVER_NS, &["ip", "addr", "add", &cidr, "dev", "eth0"]);
    let out = Command::new(add[0]).args(&add[1..]).output()?;
    ensure!(
        out.status.success(),
        "{add:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conf = d.join("nsd-internal.conf");
    std::fs::write(&conf, nsd_conf(d, 20, INTERNAL_V4, &[(&zone, served)]))?;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", SERVER_NS, "nsd", "-d", "-c"])
        .arg(&conf);
    let server = Server::start(
        "nsd internal",
        cmd,
        SocketAddr::new(INTERNAL_V4.into(), 53),
        d.join("nsd-internal.out"),
        Duration::from_secs(15),
    )
    .map_err(|e| anyhow!(e))?;
    Ok((server, anchor))
}

/// The attack lab with the internal zone, its server, and a monitor whose
/// NTA for the zone ends `nta_after` after the monitor is started.
pub fn up(nta_after: Duration) -> Result<(Lab, Internal)> {
    let mut internal = None;
    let lab = Lab::up_with(|d| {
        let (server, anchor) = serve(d).context("internal zone")?;
        let zone = |with_anchor: bool| {
            let ta = if with_anchor {
                format!("trust_anchor = \"{}\"\n", anchor.display())
            } else {
                String::new()
            };
            format!(
                "resolvers = [\"{INTERNAL_V4}\"]\n\n[[zone]]\nname = \"corp.internal\"\n{ta}\
                 upstream = [\"{INTERNAL_V4}\"]\n"
            )
        };
        let zone_config = d.join("internal-zone.toml");
        std::fs::write(&zone_config, zone(true))?;
        let no_anchor_config = d.join("internal-no-anchor.toml");
        std::fs::write(&no_anchor_config, zone(false))?;
        let nta_expires = SystemTime::now() + nta_after;
        let daemon_config = d.join("internal-daemon.toml");
        std::fs::write(
            &daemon_config,
            format!(
                "{}\n[[nta]]\nzone = \"corp.internal\"\nexpires = {}\n",
                zone(true),
                rfc3339(nta_expires)?
            ),
        )?;
        let args = vec!["--config".to_string(), daemon_config.display().to_string()];
        internal = Some(Internal {
            daemon_config,
            zone_config,
            no_anchor_config,
            nta_expires,
        });
        Ok((args, vec![server]))
    })?;
    let internal = internal.ok_or_else(|| anyhow!("the lab did not run its setup"))?;
    Ok((lab, internal))
}

/// `dig @server name A extra…` in the client namespace; its pid.
pub fn dig(server: Ipv4Addr, name: &str, extra: &[&str]) -> Result<u32> {
    let at = format!("@{server}");
    let mut argv = vec![
        "ip", "netns", "exec", CLIENT_NS, "dig", "+time=3", "+tries=1", &at, name, "A",
    ];
    argv.extend_from_slice(extra);
    let (pid, out) = run_pid(&argv, Duration::from_secs(15))?;
    if !out.status.success() {
        bail!(
            "{argv:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(pid)
}

/// `dnssec-monitor validate NAME A --json` from the host with the lab's
/// root hints and anchor and `config` (if any): (exit status, JSON).
pub fn validate(lab: &Lab, name: &str, config: Option<&Path>) -> Result<(i32, serde_json::Value)> {
    let d = lab.dir.path();
    let mut cmd = Command::new(crate::monitor::binary());
    cmd.args(["validate", name, "A", "--json", "--timeout-ms", "1500"])
        .arg("--root-hints")
        .arg(d.join("root.hints"))
        .arg("--trust-anchor")
        .arg(d.join("anchor.ds"));
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    // Bounded by the engine's own per-lookup time limit.
    let o = cmd.output()?;
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    let v: serde_json::Value = serde_json::from_str(&out)
        .with_context(|| format!("validate {name}: not JSON: {out}{err}"))?;
    Ok((o.status.code().unwrap_or(-1), v))
}
