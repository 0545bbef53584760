//! `cargo xtask lab up|down|status|scenario NAME…|all`: the attack lab
//! (tests/src/attack) from the command line, over the `attack_lab` binary.
//!
//! `up` starts `attack_lab hold` in its own session, detached, and waits
//! until it wrote its state file (pid, then where the root hints and trust
//! anchor are and how to point a monitor at the lab); `down` asks that
//! process to tear the lab down (SIGTERM, bounded wait, then SIGKILL) and
//! then removes whatever is still there by name (also after a crash);
//! `status` prints the state file and what of the lab exists.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::build::{build_ebpf, cargo};
use crate::util::{is_root, root, run};

/// Written by `attack_lab hold` once the lab is up (first line: its pid).
const STATE: &str = "/tmp/dnssec-monitor-lab.state";
/// `attack_lab hold`'s output.
const LOG: &str = "/tmp/dnssec-monitor-lab.log";
/// Signing the hierarchy, starting the servers and the monitor's warm-up.
const UP_TIMEOUT: Duration = Duration::from_secs(240);

pub fn lab(args: &[String]) -> Result<()> {
    if !is_root() {
        bail!("the lab needs root (network namespaces, eBPF): run `sudo -E cargo xtask lab …`");
    }
    match args.first().map(String::as_str) {
        Some("up") => up(),
        Some("down") => down(),
        Some("status") => status(),
        Some("scenario") if args.len() > 1 => scenario(&args[1..]),
        Some("list") => attack_lab(&["list"]),
        _ => bail!("usage: cargo xtask lab up|down|status|list|scenario NAME…|all"),
    }
}

/// Builds `dnssec-monitor` (with its eBPF object) and `attack_lab`.
fn build() -> Result<PathBuf> {
    let obj = build_ebpf()?;
    run(
        "build dnssec-monitor and attack_lab",
        cargo(&obj).args([
            "build",
            "--package",
            "monitor",
            "--bin",
            "dnssec-monitor",
            "--package",
            "tests",
            "--bin",
            "attack_lab",
        ]),
    )?;
    Ok(root().join("target/debug/attack_lab"))
}

fn attack_lab(args: &[&str]) -> Result<()> {
    let bin = build()?;
    run(
        &format!("attack_lab {}", args.join(" ")),
        Command::new(bin).args(args),
    )
}

/// The pid in the state file, if that process is alive.
fn holder() -> Option<u32> {
    let text = std::fs::read_to_string(STATE).ok()?;
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    std::path::Path::new(&format!("/proc/{pid}"))
        .exists()
        .then_some(pid)
}

fn up() -> Result<()> {
    if let Some(pid) = holder() {
        bail!(
            "a lab is already up (attack_lab hold, pid {pid}): `cargo xtask lab status` / `down`"
        );
    }
    let bin = build()?;
    let _ = std::fs::remove_file(STATE);
    let log = std::fs::File::create(LOG).with_context(|| LOG.to_string())?;
    let mut child = Command::new(&bin);
    child
        .args(["hold", "0"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own session: closing this terminal does not end the lab.
        .process_group(0);
    eprintln!("xtask: lab up: starting {child:?} (output in {LOG})");
    let mut child = child.spawn().context("cannot start attack_lab hold")?;
    let deadline = Instant::now() + UP_TIMEOUT;
    loop {
        if let Some(st) = child.try_wait()? {
            let out = std::fs::read_to_string(LOG).unwrap_or_default();
            bail!("attack_lab hold exited ({st}) before the lab was up:\n{out}");
        }
        if holder() == Some(child.id()) {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = down();
            bail!("the lab was not up within {UP_TIMEOUT:?} (torn down); see {LOG}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let text = std::fs::read_to_string(STATE)?;
    println!("lab up: held by attack_lab pid {}", child.id());
    for l in text.lines().skip(1) {
        println!("  {l}");
    }
    println!("  stop it with `cargo xtask lab down`");
    Ok(())
}

fn down() -> Result<()> {
    if let Some(pid) = holder() {
        eprintln!("xtask: lab down: stopping attack_lab hold (pid {pid})");
        let pid_s = pid.to_string();
        let _ = Command::new("kill").args(["-TERM", &pid_s]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while holder() == Some(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("xtask: lab down: pid {pid} still there after 30 s: SIGKILL");
            let _ = Command::new("kill").args(["-KILL", &pid_s]).status();
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    // Whatever is still there (a crashed holder, an interrupted test run).
    attack_lab(&["down"])?;
    let _ = std::fs::remove_file(STATE);
    Ok(())
}

fn status() -> Result<()> {
    match holder() {
        Some(pid) => {
            println!("lab held by attack_lab pid {pid}:");
            let text = std::fs::read_to_string(STATE).unwrap_or_default();
            for l in text.lines().skip(1) {
                println!("  {l}");
            }
        }
        None => println!("no attack_lab hold running"),
    }
    let bin = root().join("target/debug/attack_lab");
    if bin.is_file() {
        run("lab status", Command::new(bin).arg("status"))?;
    }
    Ok(())
}

fn scenario(names: &[String]) -> Result<()> {
    if let Some(pid) = holder() {
        bail!(
            "a lab is held (attack_lab pid {pid}); scenarios bring up their own: `cargo xtask lab down` first"
        );
    }
    let mut args = vec!["scenario"];
    args.extend(names.iter().map(String::as_str));
    attack_lab(&args)
}
