//! Running system tools with bounded time and readable failures.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Runs `argv` to completion (at most `timeout`) and returns its output.
pub fn run_timeout(argv: &[&str], timeout: Duration) -> Result<Output> {
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {argv:?}"))?;
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(child.wait_with_output()?);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{argv:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `argv`, failing unless it exits 0.
pub fn run(argv: &[&str]) -> Result<String> {
    let out = run_timeout(argv, Duration::from_secs(20))?;
    if !out.status.success() {
        bail!(
            "{argv:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `argv`, ignoring failure (teardown).
pub fn run_quiet(argv: &[&str]) {
    let _ = run_timeout(argv, Duration::from_secs(10));
}

/// Whether a tool is installed.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts `argv`, waits (bounded) and returns its pid with its output:
/// the pid is what the monitor must attribute the traffic to.
pub fn run_pid(argv: &[&str], timeout: Duration) -> Result<(u32, Output)> {
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {argv:?}"))?;
    let pid = child.id();
    let deadline = Instant::now() + timeout;
    let mut child = child;
    loop {
        if child.try_wait()?.is_some() {
            return Ok((pid, child.wait_with_output()?));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{argv:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
