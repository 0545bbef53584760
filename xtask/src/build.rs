//! Building the kernel programs and the agent, and running them and the tests.

use crate::util::{is_root, root, run};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

/// Where `monitor/build.rs` finds the eBPF object to embed.
const EBPF_OBJ_ENV: &str = "DNSSEC_MONITOR_EBPF_OBJ";

/// Builds the kernel programs (always optimised: the verifier needs it)
/// and returns the object's path.
pub fn build_ebpf() -> Result<PathBuf> {
    let dir = root().join("monitor-ebpf");
    run(
        "build eBPF programs",
        Command::new("cargo")
            .current_dir(&dir)
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .args([
                "+nightly",
                "build",
                "--release",
                "-Z",
                "build-std=core",
                "--target",
                "bpfel-unknown-none",
            ]),
    )?;
    let obj = dir.join("target/bpfel-unknown-none/release/monitor-ebpf");
    if !obj.is_file() {
        bail!("eBPF build succeeded but {} is missing", obj.display());
    }
    Ok(obj)
}

/// A `cargo` command with the eBPF object path set, so that build, test and
/// bench all embed the same object and never rebuild each other's work.
pub fn cargo(obj: &std::path::Path) -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(root()).env(EBPF_OBJ_ENV, obj);
    c
}

pub fn build(release: bool) -> Result<PathBuf> {
    let obj = build_ebpf()?;
    let mut c = cargo(&obj);
    c.args(["build", "--package", "monitor", "--bin", "dnssec-monitor"]);
    if release {
        c.arg("--release");
    }
    run("build dnssec-monitor", &mut c)?;
    let bin = root()
        .join("target")
        .join(if release { "release" } else { "debug" })
        .join("dnssec-monitor");
    eprintln!("xtask: built {}", bin.display());
    Ok(bin)
}

pub fn run_daemon(release: bool, args: Vec<String>) -> Result<()> {
    crate::setup::setup()?;
    let bin = build(release)?;
    let args = if args.is_empty() {
        vec!["run".into(), "--output".into(), "-".into()]
    } else {
        args
    };
    let mut c = if is_root() {
        Command::new(&bin)
    } else {
        eprintln!("xtask: not root: starting the daemon through sudo (it loads eBPF programs)");
        let mut s = Command::new("sudo");
        s.arg(&bin);
        s
    };
    c.args(&args);
    eprintln!("xtask: starting {c:?} (Ctrl-C stops it)");
    let status = c.status().context("cannot start dnssec-monitor")?;
    if !status.success() {
        bail!("dnssec-monitor exited with {status}");
    }
    Ok(())
}

pub fn test() -> Result<()> {
    crate::setup::setup()?;
    let obj = build_ebpf()?;
    run(
        "format check",
        cargo(&obj).args(["fmt", "--all", "--", "--check"]),
    )?;
    // The root integration tests start target/debug/dnssec-monitor: build it
    // with the kernel programs embedded before they run.
    run(
        "build dnssec-monitor with the eBPF object",
        cargo(&obj).args(["build", "--package", "monitor", "--bin", "dnssec-monitor"]),
    )?;
    run(
        "unit and integration tests",
        cargo(&obj)
            .args(["test", "--workspace", "--all-targets"])
            .env(
                "DNSSEC_MONITOR_REQUIRE_ROOT_TESTS",
                if is_root() { "1" } else { "0" },
            ),
    )?;
    let shared = root().join("../shared/conformance");
    if shared.is_dir() {
        conformance(&[
            shared.join("deckard-stub").display().to_string(),
            shared.join("deckard-iter").display().to_string(),
        ])?;
    } else {
        bail!(
            "{} is missing: the conformance scenarios live there",
            shared.display()
        );
    }
    if !is_root() {
        eprintln!(
            "xtask: not root: the integration tests that need namespaces and eBPF were skipped"
        );
    }
    eprintln!("xtask: test: all passed");
    Ok(())
}

pub fn conformance(paths: &[String]) -> Result<()> {
    let obj = build_ebpf_if_possible();
    let mut c = match &obj {
        Some(o) => cargo(o),
        None => {
            let mut c = Command::new("cargo");
            c.current_dir(root());
            c
        }
    };
    c.args([
        "run",
        "--quiet",
        "--package",
        "tests",
        "--bin",
        "conformance",
        "--",
    ]);
    for p in paths {
        let p = PathBuf::from(p);
        let abs = if p.is_absolute() {
            p
        } else {
            std::env::current_dir()?.join(p)
        };
        c.arg(abs);
    }
    run("conformance", &mut c)
}

/// Conformance does not need the kernel programs; reuse the object if the
/// toolchain is there so `cargo` does not rebuild `monitor` with another env.
fn build_ebpf_if_possible() -> Option<PathBuf> {
    let obj = root().join("monitor-ebpf/target/bpfel-unknown-none/release/monitor-ebpf");
    obj.is_file().then_some(obj)
}

pub fn bench(what: &[String]) -> Result<()> {
    crate::setup::setup()?;
    let obj = build_ebpf()?;
    let mut c = cargo(&obj);
    c.args(["bench", "--package", "monitor"]);
    if !what.is_empty() {
        c.arg("--").args(what);
    }
    run("benchmarks", &mut c)
}
