//! A DNSSEC lab on loopback for differential tests: a signed hierarchy with
//! its own root ([`zones`]), served by nsd, with a non-validating unbound
//! as the recursive resolver behind `delv` ([`oracle`]).
//!
//! Table of contents:
//! - [`process`]: server processes killed on drop, bounded command runs.
//! - [`zones`]: zone contents, keys, signing (and deliberate damage).
//! - [`oracle`]: delv's verdict on a name/type.

pub mod oracle;
pub mod process;
pub mod zones;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use process::Server;
use zones::{Keys, Zone, file_stem, make_keys, sign, zone_text, zones};

/// Whether the lab can run here (root and the tools installed); `Err` says
/// what is missing.
pub fn available() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root (nsd must bind port 53)".into());
    }
    for t in [
        "nsd",
        "unbound",
        "delv",
        "ldns-keygen",
        "ldns-signzone",
        "ldns-key2ds",
    ] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()));
        if !found {
            return Err(format!("{t} not installed"));
        }
    }
    Ok(())
}

/// The running lab; dropping it stops the servers and removes the files.
pub struct Lab {
    // Servers first: they must stop before their directory goes.
    pub servers: Vec<Server>,
    pub dir: tempfile::TempDir,
}

pub fn parent_of(origin: &str) -> Option<String> {
    if origin == "." {
        return None;
    }
    let rest = origin.split_once('.').map(|(_, r)| r).unwrap_or("");
    Some(if rest.is_empty() {
        ".".into()
    } else {
        rest.to_string()
    })
}

impl Lab {
    /// Builds, signs and serves the hierarchy.
    pub fn start() -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("dnssec-lab-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let mut lab = Lab {
            servers: Vec::new(),
            dir,
        };
        let d = lab.dir.path().to_owned();
        let all = zones();
        let mut keys: BTreeMap<&str, Option<Keys>> = BTreeMap::new();
        for z in &all {
            keys.insert(z.origin, make_keys(&d, z)?);
        }
        let mut files: BTreeMap<Ipv4Addr, Vec<(&Zone, String)>> = BTreeMap::new();
        for z in &all {
            let children: Vec<(&Zone, Option<&Keys>)> = all
                .iter()
                .filter(|c| parent_of(c.origin).as_deref() == Some(z.origin))
                .map(|c| (c, keys[c.origin].as_ref()))
                .collect();
            let stem = file_stem(z.origin);
            let zonefile = format!("{stem}.zone");
            std::fs::write(d.join(&zonefile), zone_text(z, &children))
                .map_err(|e| format!("{zonefile}: {e}"))?;
            let served = match &keys[z.origin] {
                Some(k) => sign(&d, z, &zonefile, k)?,
                None => zonefile,
            };
            files.entry(z.server).or_default().push((z, served));
        }
        let root_ds = keys["."].as_ref().ok_or("root unsigned")?.ds[0].clone();
        zones::write_anchor_and_hints(&d, &root_ds)?;
        for (i, (addr, zs)) in files.iter().enumerate() {
            let conf = nsd_conf(&d, i, *addr, zs);
            let path = d.join(format!("nsd-{i}.conf"));
            std::fs::write(&path, conf).map_err(|e| e.to_string())?;
            let mut cmd = Command::new("nsd");
            cmd.args(["-d", "-c"]).arg(&path);
            lab.servers.push(Server::start(
                &format!("nsd {addr}"),
                cmd,
                SocketAddr::new((*addr).into(), 53),
                d.join(format!("nsd-{i}.out")),
                Duration::from_secs(15),
            )?);
        }
        let conf = d.join("unbound.conf");
        std::fs::write(&conf, unbound_conf(&d)).map_err(|e| e.to_string())?;
        let mut cmd = Command::new("unbound");
        cmd.args(["-d", "-c"]).arg(&conf);
        lab.servers.push(Server::start(
            "unbound",
            cmd,
            SocketAddr::new(zones::RECURSOR_ADDR.into(), 53),
            d.join("unbound.out"),
            Duration::from_secs(15),
        )?);
        Ok(lab)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The DS trust anchor of the lab root (zone-file syntax).
    pub fn anchor_file(&self) -> PathBuf {
        self.path("anchor.ds")
    }

    /// Root hints naming the lab root server.
    pub fn root_hints_file(&self) -> PathBuf {
        self.path("root.hints")
    }
}

/// Response rate limiting is off (Debian's nsd has it on at 200 answers/s
/// per client /24): the lab's clients are validators under test, not
/// amplification victims, and RRL drops would time their lookups out.
pub fn nsd_conf(d: &Path, i: usize, addr: Ipv4Addr, zones: &[(&Zone, String)]) -> String {
    let d = d.display();
    let mut c = format!(
        "server:\n  ip-address: {addr}\n  port: 53\n  username: \"\"\n  chroot: \"\"\n  \
         zonesdir: \"{d}\"\n  database: \"\"\n  pidfile: \"{d}/nsd-{i}.pid\"\n  \
         xfrdfile: \"{d}/xfrd-{i}.state\"\n  zonelistfile: \"{d}/zone-{i}.list\"\n  \
         logfile: \"{d}/nsd-{i}.log\"\n  server-count: 1\n  verbosity: 1\n  \
         rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n\
         remote-control:\n  control-enable: no\n"
    );
    for (z, file) in zones {
        c.push_str(&format!(
            "zone:\n  name: \"{}\"\n  zonefile: \"{file}\"\n",
            z.origin
        ));
    }
    c
}

/// A recursor without trust anchors: the validator module is loaded only so
/// unbound asks with DO and hands RRSIGs on (its iterator alone does not);
/// with no anchor it judges nothing and delv validates on its own.
/// `test.` is one of unbound's built-in empty zones (RFC 6761): unblock it.
fn unbound_conf(d: &Path) -> String {
    let d = d.display();
    format!(
        "server:\n  interface: {}\n  port: 53\n  do-daemonize: no\n  username: \"\"\n  \
         chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  \
         use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  num-threads: 1\n  \
         do-not-query-localhost: no\n  root-hints: \"{d}/root.hints\"\n  \
         module-config: \"validator iterator\"\n  access-control: 127.0.0.0/8 allow\n  \
         qname-minimisation: no\n  do-ip6: no\n  \
         local-zone: \"test.\" nodefault\n  so-reuseport: no\n\
         remote-control:\n  control-enable: no\n",
        zones::RECURSOR_ADDR
    )
}
