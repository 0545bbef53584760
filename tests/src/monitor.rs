//! `dnssec-monitor run` as a child process writing JSON lines to a file.
//!
//! The binary is `$DNSSEC_MONITOR_BIN`, else `target/debug/dnssec-monitor`
//! of this workspace (or of `$CARGO_TARGET_DIR`). It must carry the eBPF
//! object: build it with `cargo xtask build` (`cargo xtask test` does).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("DNSSEC_MONITOR_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("debug/dnssec-monitor")
}

pub struct Monitor {
    child: Option<Child>,
    pub output: PathBuf,
    stderr: PathBuf,
}

/// Removes terminal colour sequences (`ESC [ … m`) from log text.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Monitor {
    /// Starts the monitor with `--events` and waits (bounded) for its
    /// startup line.
    pub fn start(tag: &str, extra: &[&str]) -> Result<Monitor> {
        Self::start_with(tag, extra, true)
    }

    /// As deployed by default: alerts only, no `--events` (which turns the
    /// kernel fast path off).
    pub fn start_alerts_only(tag: &str, extra: &[&str]) -> Result<Monitor> {
        Self::start_with(tag, extra, false)
    }

    fn start_with(tag: &str, extra: &[&str], events: bool) -> Result<Monitor> {
        let bin = binary();
        if !bin.is_file() {
            bail!(
                "{} is missing: build it with `cargo xtask build` (or run `cargo xtask test`)",
                bin.display()
            );
        }
        let dir = std::env::temp_dir();
        let output = dir.join(format!("dnssec-monitor-test-{tag}.jsonl"));
        let stderr = dir.join(format!("dnssec-monitor-test-{tag}.err"));
        let _ = std::fs::remove_file(&output);
        let out_s = output.display().to_string();
        let mut args = vec!["run", "--output", out_s.as_str()];
        if events {
            args.push("--events");
        }
        args.extend_from_slice(extra);
        let child = Command::new(&bin)
            .args(&args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut m = Monitor {
            child: Some(child),
            output,
            stderr,
        };
        m.wait_log("capturing DNS", Duration::from_secs(20))?;
        Ok(m)
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.stderr).unwrap_or_default())
    }

    /// Bounded wait until the log contains `needle`.
    pub fn wait_log(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Some(status) = c.try_wait()?
            {
                bail!("dnssec-monitor exited ({status}) before logging {needle:?}:\n{log}");
            }
            if Instant::now() >= deadline {
                bail!("dnssec-monitor did not log {needle:?} within {timeout:?}:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every event written so far (incomplete last line ignored).
    pub fn events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.output).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Bounded wait until `pred` holds for the events; returns them.
    pub fn wait_events(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Result<Vec<Value>> {
        let deadline = Instant::now() + timeout;
        loop {
            let ev = self.events();
            if pred(&ev) {
                return Ok(ev);
            }
            if Instant::now() >= deadline {
                bail!(
                    "no events for {what} within {timeout:?}; {} events:\n{}\nmonitor log:\n{}",
                    ev.len(),
                    ev.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n"),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGINT, then a bounded wait for a clean exit; returns the log.
    pub fn stop(&mut self) -> Result<String> {
        let Some(mut c) = self.child.take() else {
            return Ok(self.log());
        };
        // SAFETY: signalling our own child.
        unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = c.try_wait()? {
                if !status.success() {
                    bail!("dnssec-monitor exited with {status}:\n{}", self.log());
                }
                return Ok(self.log());
            }
            if Instant::now() >= deadline {
                let _ = c.kill();
                let _ = c.wait();
                bail!("dnssec-monitor did not stop within 10 s of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Monitor {
    /// SIGKILL (no chance to clean up), then reap it; returns the log.
    pub fn kill(&mut self) -> Result<String> {
        if let Some(mut c) = self.child.take() {
            c.kill().context("SIGKILL")?;
            c.wait().context("reaping the killed daemon")?;
        }
        Ok(self.log())
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.output);
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// `GET /metrics` from a daemon's `--metrics-listen 127.0.0.1:PORT`. The
/// endpoint starts listening just after the daemon logs its capability
/// drop: a refused connection is retried for a bounded while.
pub fn scrape_metrics(port: u16) -> Result<String> {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e).context("connecting to the metrics endpoint"),
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
