//! The conformance lab's signed hierarchy ([`crate::lab::zones`]: broken,
//! expired, bad-DS, NSEC3, opt-out, unsigned zones) plus the attack lab's
//! own zones ([`super::zones`]: RSA opt-out, CDN rotation, KeyTrap),
//! re-addressed into the server namespace and served there by nsd, with two
//! unbounds next to it: one validating with the lab's root anchor, one plain,
//! each answering on an IPv4 and an IPv6 address (upstream, to nsd, IPv4:
//! the hierarchy has no AAAA glue).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use super::topology::{
    CHILD_V4, PLAIN_V4, PLAIN_V6, ROOT_V4, SERVER_NS, TEST_V4, VALIDATING_V4, VALIDATING_V6,
};
use crate::lab::process::{Server, probe};
use crate::lab::zones::{self, Keys, Zone, file_stem, make_keys, sign, zone_text};
use crate::lab::{nsd_conf, parent_of};

/// The loopback address a zone has in the conformance lab → its address here.
fn readdress(a: Ipv4Addr) -> Ipv4Addr {
    match a {
        a if a == zones::ROOT_ADDR => ROOT_V4,
        a if a == zones::TEST_ADDR => TEST_V4,
        _ => CHILD_V4,
    }
}

/// Signs the hierarchy into `d`, writes `anchor.ds` and `root.hints`, and
/// starts nsd (one per address) and both unbounds in the server namespace.
pub fn start(d: &Path) -> Result<Vec<Server>> {
    let all: Vec<Zone> = zones::zones()
        .into_iter()
        .map(|mut z| {
            z.server = readdress(z.server);
            // Glue inside zone bodies (the opt-out zone's insecure child).
            z.body = z
                .body
                .replace(&zones::CHILD_ADDR.to_string(), &CHILD_V4.to_string());
            z
        })
        .chain(super::zones::zones())
        .collect();
    let second = all
        .iter()
        .find(|z| z.origin == "cdn.test.")
        .map(super::zones::cdn_second)
        .ok_or_else(|| anyhow!("no cdn.test"))?;
    let mut keys: BTreeMap<&str, Option<Keys>> = BTreeMap::new();
    for z in &all {
        keys.insert(z.origin, make_keys(d, z).map_err(|e| anyhow!(e))?);
    }
    let mut files: BTreeMap<Ipv4Addr, Vec<(&Zone, String)>> = BTreeMap::new();
    for z in &all {
        let children: Vec<(&Zone, Option<&Keys>)> = all
            .iter()
            .filter(|c| parent_of(c.origin).as_deref() == Some(z.origin))
            .map(|c| (c, keys[c.origin].as_ref()))
            .collect();
        let zonefile = format!("{}.zone", file_stem(z.origin));
        let mut text = zone_text(z, &children);
        if z.origin == "test." {
            text.push_str(&super::zones::cdn_parent_glue());
        }
        std::fs::write(d.join(&zonefile), text)?;
        let served = match &keys[z.origin] {
            Some(k) => sign(d, z, &zonefile, k).map_err(|e| anyhow!(e))?,
            None => zonefile,
        };
        if z.origin == "keytrap.test."
            && let Some(k) = &keys[z.origin]
        {
            super::zones::make_keytrap(d, &served, &k.ksk)?;
        }
        files.entry(z.server).or_default().push((z, served));
    }
    // cdn.test's second server: the same keys over other data.
    let cdn_keys = keys["cdn.test."]
        .as_ref()
        .ok_or_else(|| anyhow!("cdn.test unsigned"))?;
    let first = d.join("cdn.test.signed");
    std::fs::rename(&first, d.join("cdn.test.a.signed"))?;
    for (_, f) in files
        .values_mut()
        .flatten()
        .filter(|(z, _)| z.origin == "cdn.test.")
    {
        *f = "cdn.test.a.signed".into();
    }
    std::fs::write(d.join("cdn.test.b.zone"), zone_text(&second, &[]))?;
    sign(d, &second, "cdn.test.b.zone", cdn_keys).map_err(|e| anyhow!(e))?;
    std::fs::rename(&first, d.join("cdn.test.b.signed"))?;
    files
        .entry(second.server)
        .or_default()
        .push((&second, "cdn.test.b.signed".into()));
    let root_ds = keys["."]
        .as_ref()
        .ok_or_else(|| anyhow!("root unsigned"))?
        .ds[0]
        .clone();
    std::fs::write(d.join("anchor.ds"), format!("{root_ds}\n"))?;
    std::fs::write(
        d.join("root.hints"),
        format!(". 3600000 NS ns.\nns. 3600000 A {ROOT_V4}\n"),
    )?;
    let mut servers = Vec::new();
    for (i, (addr, zs)) in files.iter().enumerate() {
        let path = d.join(format!("nsd-{i}.conf"));
        std::fs::write(&path, nsd_conf(d, i, *addr, zs))?;
        servers.push(start_in_ns(
            &format!("nsd {addr}"),
            &["nsd", "-d", "-c", &path.display().to_string()],
            *addr,
            &d.join(format!("nsd-{i}.out")),
        )?);
    }
    for (name, addr, v6, anchor) in [
        ("unbound-validating", VALIDATING_V4, VALIDATING_V6, true),
        ("unbound-plain", PLAIN_V4, PLAIN_V6, false),
    ] {
        let path = d.join(format!("{name}.conf"));
        std::fs::write(&path, unbound_conf(d, name, addr, v6, anchor))?;
        servers.push(start_in_ns(
            name,
            &["unbound", "-d", "-c", &path.display().to_string()],
            addr,
            &d.join(format!("{name}.out")),
        )?);
        wait_answering(name, v6.into(), Duration::from_secs(10))?;
    }
    Ok(servers)
}

/// Waits (bounded) until `addr` answers too: the server already answers
/// on its IPv4 address, this is its second listening address.
fn wait_answering(name: &str, addr: IpAddr, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    let sa = SocketAddr::new(addr, 53);
    while !probe(sa) {
        if Instant::now() >= deadline {
            bail!("{name} not answering on {sa} after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn start_in_ns(name: &str, argv: &[&str], addr: Ipv4Addr, log: &Path) -> Result<Server> {
    // `ip netns exec` execs the server: the child's pid is the server's.
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", SERVER_NS]).args(argv);
    Server::start(
        name,
        cmd,
        SocketAddr::new(addr.into(), 53),
        log.to_path_buf(),
        Duration::from_secs(15),
    )
    .map_err(|e| anyhow!(e))
}

/// The plain resolver still loads the validator module (without an anchor
/// it judges nothing) so it asks with DO and hands RRSIGs on; `test.` is
/// one of unbound's built-in empty zones (RFC 6761): unblock it. It serves
/// clients on `addr` and `v6`; queries to nsd leave from `addr` only (no
/// name server of the hierarchy has an AAAA record).
fn unbound_conf(d: &Path, name: &str, addr: Ipv4Addr, v6: Ipv6Addr, anchor: bool) -> String {
    let d = d.display();
    let ta = if anchor {
        format!("  trust-anchor-file: \"{d}/anchor.ds\"\n")
    } else {
        String::new()
    };
    format!(
        "server:\n  interface: {addr}\n  interface: {v6}\n  outgoing-interface: {addr}\n  port: 53\n  \
         do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  \
         pidfile: \"\"\n  use-syslog: no\n  logfile: \"{d}/{name}.log\"\n  num-threads: 1\n  \
         root-hints: \"{d}/root.hints\"\n  module-config: \"validator iterator\"\n{ta}  \
         access-control: 0.0.0.0/0 allow\n  access-control: ::/0 allow\n  \
         qname-minimisation: no\n  do-ip6: yes\n  prefer-ip4: yes\n  \
         local-zone: \"test.\" nodefault\n  so-reuseport: no\n\
         remote-control:\n  control-enable: no\n"
    )
}
