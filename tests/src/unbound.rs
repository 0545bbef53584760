//! A real unbound serving fixed local data inside the server namespace.

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::run_timeout;
use crate::netns::Topology;

/// Data the server holds (and the tests assert).
pub const A_NAME: &str = "a.test";
pub const A_V4: &str = "198.18.99.1";
pub const A_V6: &str = "fd00::99:1";
/// A TXT RRset of [`FRAG_COUNT`] records: over 4,000 bytes, so over UDP it
/// crosses the 1,500-MTU veths as IP fragments.
pub const FRAG_NAME: &str = "frag.test";
pub const FRAG_COUNT: usize = 24;
/// A TXT RRset over 16 KiB, fetched over TCP.
pub const HUGE_NAME: &str = "huge.test";
pub const HUGE_COUNT: usize = 90;

/// The `i`-th TXT string (200 characters) of an RRset.
pub fn txt_string(i: usize) -> String {
    format!("{i:03}-{}", "x".repeat(196))
}

pub struct Unbound {
    child: Child,
    dir: std::path::PathBuf,
}

impl Unbound {
    pub fn start(t: &Topology) -> Result<Unbound> {
        let dir = std::env::temp_dir().join(format!("dnssec-monitor-test-{}", t.prefix));
        std::fs::create_dir_all(&dir)?;
        let mut conf = format!(
            "server:\n  interface: {}\n  interface: {}\n  port: 53\n  do-daemonize: no\n  \
             username: \"\"\n  chroot: \"\"\n  directory: \"{}\"\n  pidfile: \"\"\n  \
             use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n  num-threads: 1\n  \
             access-control: 0.0.0.0/0 allow\n  access-control: ::/0 allow\n  \
             max-udp-size: 65535\n  msg-buffer-size: 65552\n  \
             local-zone: \"test.\" static\n",
            t.server_v4,
            t.server_v6,
            dir.display()
        );
        writeln!(conf, "  local-data: \"{A_NAME}. 300 IN A {A_V4}\"")?;
        writeln!(conf, "  local-data: \"{A_NAME}. 300 IN AAAA {A_V6}\"")?;
        for (name, count) in [(FRAG_NAME, FRAG_COUNT), (HUGE_NAME, HUGE_COUNT)] {
            for i in 0..count {
                writeln!(
                    conf,
                    "  local-data: '{name}. 300 IN TXT \"{}\"'",
                    txt_string(i)
                )?;
            }
        }
        conf.push_str("remote-control:\n  control-enable: no\n");
        let path = dir.join("unbound.conf");
        std::fs::write(&path, conf)?;
        let path = path.display().to_string();
        let child = Command::new("ip")
            .args(["netns", "exec", &t.server_ns, "unbound", "-d", "-c", &path])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("unbound.log"))?)
            .spawn()
            .context("cannot start unbound")?;
        let mut u = Unbound { child, dir };
        u.wait_ready(t)?;
        Ok(u)
    }

    /// Bounded wait until the server answers from the client namespace.
    fn wait_ready(&mut self, t: &Topology) -> Result<()> {
        let at = format!("@{}", t.server_v4);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(self.dir.join("unbound.log")).unwrap_or_default();
                bail!("unbound exited ({status}): {log}");
            }
            let argv = t.in_client(&["dig", "+short", "+time=1", "+tries=1", &at, A_NAME]);
            if let Ok(out) = run_timeout(&argv, Duration::from_secs(3))
                && String::from_utf8_lossy(&out.stdout).contains(A_V4)
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("unbound did not answer within 10 s")
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
