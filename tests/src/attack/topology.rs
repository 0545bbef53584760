//! The attack lab's namespaces: servers, client and attacker, each with one
//! veth whose host end sits on a bridge in the host namespace, so every
//! packet between them crosses interfaces the monitor captures on (the
//! monitor itself runs in the host namespace).
//!
//! ```text
//!  [dmlab-s] nsd 198.18.53.1-4, unbound 198.18.54.1 (validating) / .54.2 (plain)
//!            unbound also on fd00:54::1 (validating) / fd00:54::2 (plain)
//!  [dmlab-c] client 198.18.1.2, fd00:1::2 (dig)     ── dmlab-br 198.18.0.1/16, fd00::1/16 (host)
//!  [dmlab-r] relays 198.18.3.1-5, fd00:3::1, forgers 198.18.4.66, fd00:4::66,
//!            fallback 198.18.4.67, fd00:4::67, raw-socket spoofer
//! ```
//! Every IPv6 address is added `nodad` (no tentative phase: a server can
//! bind it at once) and [`build`] still waits, bounded, until none is
//! tentative or failed DAD; the bridge does no multicast snooping, so
//! neighbour solicitations are never held back for want of an MLD querier.
//! Names are fixed (one lab per host); [`Topology::up`] first removes the
//! leftovers of a crashed run, `Drop` removes namespaces (and with them the
//! veths), the bridge and any process still running inside.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::{run, run_quiet};

pub const PREFIX: &str = "dmlab";
pub const SERVER_NS: &str = "dmlab-s";
pub const CLIENT_NS: &str = "dmlab-c";
pub const ATTACKER_NS: &str = "dmlab-r";
pub const BRIDGE: &str = "dmlab-br";
/// The host's address on the bridge (the monitor's own engine asks from it).
pub const HOST_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

pub const ROOT_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 53, 1);
pub const TEST_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 53, 2);
pub const CHILD_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 53, 3);
/// cdn.test's second name server (other data, same keys).
pub const CDN2_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 53, 4);
pub const VALIDATING_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 54, 1);
pub const PLAIN_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 54, 2);
pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 2);
/// A relay forwarding to the plain resolver that strips RRSIGs (listed resolver).
pub const STRIP_RELAY_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 1);
/// A relay forwarding to the validating resolver that clears AD (listed validating).
pub const AD_RELAY_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 2);
/// A relay that answers with a burst of wrong-txid forgeries before the real answer.
pub const RACE_RELAY_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 3);
/// A relay whose forged answers carry the right txid and arrive first.
pub const RACE_WIN_RELAY_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 5);
/// A listed resolver address held by a forger answering NXDOMAIN to everything.
pub const FORGE_LISTED_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 4);
/// A server the host is not configured to use (fallback / rogue DNS).
pub const ROGUE_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 4, 66);
/// An unlisted server that forwards honestly (fallback / DHCP-pushed DNS).
pub const FALLBACK_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 4, 67);
/// The attacker namespace's own address (raw socket spoofing leaves from here).
pub const ATTACKER_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 4, 1);

/// The host's IPv6 address on the bridge.
pub const HOST_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
/// The server namespace's first IPv6 address (no server binds it).
pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x53, 0, 0, 0, 0, 0, 1);
/// The validating unbound's IPv6 address (listed validating).
pub const VALIDATING_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x54, 0, 0, 0, 0, 0, 1);
/// The plain unbound's IPv6 address (listed resolver).
pub const PLAIN_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x54, 0, 0, 0, 0, 0, 2);
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 2);
/// The attacker namespace's own IPv6 address.
pub const ATTACKER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 4, 0, 0, 0, 0, 0, 1);
/// [`STRIP_RELAY_V4`]'s twin over IPv6 (listed resolver; upstream the plain unbound over IPv4).
pub const STRIP_RELAY_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 3, 0, 0, 0, 0, 0, 1);
/// [`ROGUE_V4`]'s twin over IPv6: unlisted, forges A records.
pub const ROGUE_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 4, 0, 0, 0, 0, 0, 0x66);
/// [`FALLBACK_V4`]'s twin over IPv6: unlisted, forwards honestly.
pub const FALLBACK_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 4, 0, 0, 0, 0, 0, 0x67);

/// The namespaces with their addresses.
pub struct Topology {
    _private: (),
}

type Addresses = (&'static str, Vec<Ipv4Addr>, Vec<Ipv6Addr>);

fn namespaces() -> [Addresses; 3] {
    [
        (
            SERVER_NS,
            vec![ROOT_V4, TEST_V4, CHILD_V4, CDN2_V4, VALIDATING_V4, PLAIN_V4],
            vec![SERVER_V6, VALIDATING_V6, PLAIN_V6],
        ),
        (CLIENT_NS, vec![CLIENT_V4], vec![CLIENT_V6]),
        (
            ATTACKER_NS,
            vec![
                ATTACKER_V4,
                STRIP_RELAY_V4,
                AD_RELAY_V4,
                RACE_RELAY_V4,
                FORGE_LISTED_V4,
                RACE_WIN_RELAY_V4,
                ROGUE_V4,
                FALLBACK_V4,
            ],
            vec![ATTACKER_V6, STRIP_RELAY_V6, ROGUE_V6, FALLBACK_V6],
        ),
    ]
}

impl Topology {
    pub fn up() -> Result<Topology> {
        // Whatever a crashed run left (namespaces, links, servers, a
        // monitor, directories), found by name; the caller holds the lock.
        super::leftovers::sweep();
        let t = Topology { _private: () };
        build().context("building the attack lab's namespaces")?;
        Ok(t)
    }

    /// `ip netns exec <ns> argv…` as a command line.
    pub fn in_ns<'a>(ns: &'a str, argv: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["ip", "netns", "exec", ns];
        a.extend_from_slice(argv);
        a
    }
}

fn build() -> Result<()> {
    // No multicast snooping: with no MLD querier on the bridge, learned
    // group entries age out and IPv6 neighbour discovery would hang on them.
    run(&[
        "ip",
        "link",
        "add",
        BRIDGE,
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ])?;
    run(&["ip", "addr", "add", &format!("{HOST_V4}/16"), "dev", BRIDGE])?;
    run(&[
        "ip",
        "-6",
        "addr",
        "add",
        &format!("{HOST_V6}/16"),
        "dev",
        BRIDGE,
        "nodad",
    ])?;
    run(&["ip", "link", "set", BRIDGE, "up"])?;
    for (ns, v4s, v6s) in namespaces() {
        run(&["ip", "netns", "add", ns])?;
        run(&[
            "ip", "link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ])?;
        run(&["ip", "link", "set", ns, "master", BRIDGE])?;
        run(&["ip", "link", "set", ns, "up"])?;
        let inside = |args: &[&str]| run(&Topology::in_ns(ns, args));
        inside(&["ip", "link", "set", "lo", "up"])?;
        for a in v4s {
            inside(&["ip", "addr", "add", &format!("{a}/16"), "dev", "eth0"])?;
        }
        for a in v6s {
            inside(&[
                "ip",
                "-6",
                "addr",
                "add",
                &format!("{a}/16"),
                "dev",
                "eth0",
                "nodad",
            ])?;
        }
        inside(&["ip", "link", "set", "eth0", "up"])?;
    }
    wait_v6_usable(Duration::from_secs(5))
}

/// Waits (at most `limit`) until no IPv6 address of the lab is tentative
/// (DAD still running: not bindable, EADDRNOTAVAIL) and fails at once on
/// one whose DAD failed (RFC 4862 5.4.5: it is never used). `nodad` makes
/// this immediate; the check keeps a kernel that ignores it from making
/// the IPv6 scenarios flaky.
fn wait_v6_usable(limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let mut tentative = Vec::new();
        for (ns, _, _) in namespaces() {
            let show = |flag| {
                run(&Topology::in_ns(
                    ns,
                    &["ip", "-6", "-o", "addr", "show", flag],
                ))
            };
            let failed = show("dadfailed")?;
            if !failed.trim().is_empty() {
                bail!("IPv6 duplicate address detection failed in {ns}: {failed}");
            }
            let t = show("tentative")?;
            if !t.trim().is_empty() {
                tentative.push(format!("{ns}: {}", t.trim()));
            }
        }
        if tentative.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("IPv6 addresses still tentative after {limit:?}: {tentative:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes everything the lab may have left (idempotent).
pub fn teardown() {
    for (ns, _, _) in namespaces() {
        if let Ok(pids) = run(&["ip", "netns", "pids", ns]) {
            for pid in pids.split_whitespace() {
                run_quiet(&["kill", "-9", pid]);
            }
        }
        run_quiet(&["ip", "netns", "del", ns]);
        run_quiet(&["ip", "link", "del", ns]);
    }
    run_quiet(&["ip", "link", "del", BRIDGE]);
}

/// Whether any of the lab's namespaces or its bridge exist.
pub fn present() -> bool {
    let ns = run(&["ip", "netns", "list"]).unwrap_or_default();
    let links = run(&["ip", "-o", "link", "show"]).unwrap_or_default();
    ns.contains(PREFIX) || links.contains(BRIDGE)
}

impl Drop for Topology {
    fn drop(&mut self) {
        teardown();
    }
}
