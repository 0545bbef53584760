//! A client namespace and a server namespace, each with one veth whose
//! host end sits on a bridge in the host namespace:
//!
//! ```text
//!  [client ns] eth0 198.18.K.2 fd00::K:2 ── <p>c (host) ─┐
//!                                                        ├─ <p>br (bridge, host)
//!  [server ns] eth0 198.18.K.1 fd00::K:1 ── <p>s (host) ─┘
//! ```
//! Names carry a per-test prefix `<p>`; `Drop` removes the namespaces (and
//! with them the veths), the bridge, `/etc/netns/<ns>/` and any process
//! still running inside, also when the test panics.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result};

use crate::cmd::{run, run_quiet};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Topology {
    pub prefix: String,
    pub client_ns: String,
    pub server_ns: String,
    /// Host ends of the veths (what the monitor must capture on).
    pub host_ifaces: Vec<String>,
    pub bridge: String,
    pub client_v4: String,
    pub server_v4: String,
    pub client_v6: String,
    pub server_v6: String,
}

impl Topology {
    /// Builds the namespaces. The links use the default MTU of 1500, so
    /// UDP answers over ~1,450 bytes cross as IP fragments.
    pub fn new() -> Result<Topology> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = (std::process::id().wrapping_mul(31).wrapping_add(n)) & 0xffff;
        let prefix = format!("dm{tag:04x}");
        let k = 1 + (tag % 250);
        let t = Topology {
            client_ns: format!("{prefix}c"),
            server_ns: format!("{prefix}s"),
            host_ifaces: vec![format!("{prefix}c"), format!("{prefix}s")],
            bridge: format!("{prefix}br"),
            client_v4: format!("198.18.{k}.2"),
            server_v4: format!("198.18.{k}.1"),
            client_v6: format!("fd00::{k:x}:2"),
            server_v6: format!("fd00::{k:x}:1"),
            prefix,
        };
        // Clean up leftovers of a crashed run with the same names first.
        t.teardown();
        t.build()
            .with_context(|| format!("building namespaces {}", t.prefix))?;
        Ok(t)
    }

    fn build(&self) -> Result<()> {
        run(&["ip", "link", "add", &self.bridge, "type", "bridge"])?;
        run(&["ip", "link", "set", &self.bridge, "up"])?;
        for (ns, v4, v6) in [
            (&self.client_ns, &self.client_v4, &self.client_v6),
            (&self.server_ns, &self.server_v4, &self.server_v6),
        ] {
            run(&["ip", "netns", "add", ns])?;
            // Host end named like the namespace; the peer is eth0 inside.
            run(&[
                "ip", "link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ])?;
            run(&["ip", "link", "set", ns, "master", &self.bridge])?;
            run(&["ip", "link", "set", ns, "up"])?;
            let inside = |args: &[&str]| {
                let mut a = vec!["ip", "netns", "exec", ns.as_str()];
                a.extend_from_slice(args);
                run(&a)
            };
            inside(&["ip", "link", "set", "lo", "up"])?;
            inside(&["ip", "addr", "add", &format!("{v4}/24"), "dev", "eth0"])?;
            inside(&[
                "ip",
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                "eth0",
                "nodad",
            ])?;
            inside(&["ip", "link", "set", "eth0", "up"])?;
        }
        // glibc in the client namespace asks the server (`ip netns exec`
        // bind-mounts this file over /etc/resolv.conf).
        let dir = format!("/etc/netns/{}", self.client_ns);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            format!("{dir}/resolv.conf"),
            format!(
                "nameserver {}\noptions timeout:2 attempts:2\n",
                self.server_v4
            ),
        )?;
        Ok(())
    }

    /// `ip netns exec <client ns> argv…` as a command line.
    pub fn in_client<'a>(&'a self, argv: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["ip", "netns", "exec", self.client_ns.as_str()];
        a.extend_from_slice(argv);
        a
    }

    /// `ip netns exec <server ns> argv…` as a command line.
    pub fn in_server<'a>(&'a self, argv: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["ip", "netns", "exec", self.server_ns.as_str()];
        a.extend_from_slice(argv);
        a
    }

    fn teardown(&self) {
        for ns in [&self.client_ns, &self.server_ns] {
            if let Ok(pids) = run(&["ip", "netns", "pids", ns]) {
                for pid in pids.split_whitespace() {
                    run_quiet(&["kill", "-9", pid]);
                }
            }
            run_quiet(&["ip", "netns", "del", ns]);
            run_quiet(&["ip", "link", "del", ns]);
        }
        run_quiet(&["ip", "link", "del", &self.bridge]);
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.client_ns));
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.teardown();
    }
}
