//! The attack lab's namespaces: servers, client and attacker, each with one
//! veth whose host end sits on a bridge in the host namespace, so every
//! packet between them crosses interfaces the monitor captures on (the
//! monitor itself runs in the host namespace).
//!
//! ```text
//!  [dmlab-s] nsd 198.18.53.1-4, unbound 198.18.54.1 (validating) / .54.2 (plain)
//!  [dmlab-c] client 198.18.1.2 (dig)                          ── dmlab-br 198.18.0.1/16 (host)
//!  [dmlab-r] relays 198.18.3.1-3, forger 198.18.4.66, raw-socket spoofer
//! ```
//! Names are fixed (one lab per host); [`Topology::up`] first removes the
//! leftovers of a crashed run, `Drop` removes namespaces (and with them the
//! veths), the bridge and any process still running inside.

use std::net::Ipv4Addr;

use anyhow::{Context, Result};

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

/// The namespaces with their addresses.
pub struct Topology {
    _private: (),
}

fn namespaces() -> [(&'static str, Vec<Ipv4Addr>, &'static str); 3] {
    [
        (
            SERVER_NS,
            vec![ROOT_V4, TEST_V4, CHILD_V4, CDN2_V4, VALIDATING_V4, PLAIN_V4],
            "fd00:53::1",
        ),
        (CLIENT_NS, vec![CLIENT_V4], "fd00:1::2"),
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
            "fd00:4::1",
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
    run(&["ip", "link", "add", BRIDGE, "type", "bridge"])?;
    run(&["ip", "addr", "add", &format!("{HOST_V4}/16"), "dev", BRIDGE])?;
    run(&[
        "ip",
        "-6",
        "addr",
        "add",
        "fd00::1/16",
        "dev",
        BRIDGE,
        "nodad",
    ])?;
    run(&["ip", "link", "set", BRIDGE, "up"])?;
    for (ns, v4s, v6) in namespaces() {
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
        inside(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{v6}/16"),
            "dev",
            "eth0",
            "nodad",
        ])?;
        inside(&["ip", "link", "set", "eth0", "up"])?;
    }
    Ok(())
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
