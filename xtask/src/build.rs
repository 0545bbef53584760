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
    run("build eBPF programs", &mut ebpf_cargo("build"))?;
    let obj = root().join("monitor-ebpf/target/bpfel-unknown-none/release/monitor-ebpf");
    if !obj.is_file() {
        bail!("eBPF build succeeded but {} is missing", obj.display());
    }
    Ok(obj)
}

/// `cargo +nightly SUBCOMMAND` for the eBPF crate (its own target, core
/// built from source), clear of the outer cargo's toolchain overrides.
fn ebpf_cargo(subcommand: &str) -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(root().join("monitor-ebpf"))
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args([
            "+nightly",
            subcommand,
            "--release",
            "-Z",
            "build-std=core",
            "--target",
            "bpfel-unknown-none",
        ]);
    c
}

/// clippy with warnings as errors on the workspace (stable) and on the
/// eBPF crate (nightly, its target). A toolchain without the clippy
/// component is reported and skipped, not failed: the tests still run.
fn lint(obj: &std::path::Path) -> Result<()> {
    let has_clippy = |mut c: Command| {
        c.args(["clippy", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut nightly = Command::new("cargo");
    nightly.env_remove("RUSTUP_TOOLCHAIN").arg("+nightly");
    if has_clippy(cargo(obj)) {
        run(
            "lint the workspace (clippy -D warnings)",
            cargo(obj).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
    } else {
        eprintln!(
            "xtask: lint skipped: no clippy for the workspace's toolchain (rustup component add clippy)"
        );
    }
    if has_clippy(nightly) {
        run(
            "lint the eBPF crate (clippy -D warnings)",
            ebpf_cargo("clippy").args(["--", "-D", "warnings"]),
        )?;
    } else {
        eprintln!(
            "xtask: eBPF lint skipped: no clippy for the nightly toolchain (rustup component add clippy --toolchain nightly)"
        );
    }
    Ok(())
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
        vec![
            "run".into(),
            "--events".into(),
            "--output".into(),
            "-".into(),
        ]
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
    lint(&obj)?;
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

/// Benchmark groups: name → criterion bench targets of `monitor`.
const BENCH_GROUPS: &[(&str, &[&str])] = &[
    ("capture", &["capture"]),
    ("dnssec", &["dnssec_verify", "dnssec_engine"]),
    ("sinks", &["sinks_store"]),
    ("alerts", &["alert_latency"]),
];

/// `cargo xtask bench [GROUP…]`: criterion benches (figures are ratios
/// against a baseline measured in the same run), plus for `capture` the
/// kernel programs' cost per packet from `kernel.bpf_stats_enabled` (root).
pub fn bench(what: &[String]) -> Result<()> {
    crate::setup::setup()?;
    let obj = build_ebpf()?;
    let groups: Vec<&str> = if what.is_empty() {
        BENCH_GROUPS.iter().map(|(g, _)| *g).collect()
    } else {
        what.iter().map(String::as_str).collect()
    };
    let present = |t: &str| {
        root()
            .join("monitor/benches")
            .join(format!("{t}.rs"))
            .is_file()
    };
    for g in groups {
        let Some((_, targets)) = BENCH_GROUPS.iter().find(|(n, _)| *n == g) else {
            let names: Vec<&str> = BENCH_GROUPS.iter().map(|(n, _)| *n).collect();
            bail!("unknown bench group {g:?}; known: {}", names.join(", "));
        };
        for t in targets.iter().filter(|t| present(t)) {
            run(
                &format!("bench {t}"),
                cargo(&obj).args([
                    "bench",
                    "--package",
                    "monitor",
                    "--bench",
                    t,
                    "--",
                    "--measurement-time",
                    "5",
                ]),
            )?;
        }
        if g == "capture" {
            if is_root() {
                run(
                    "kernel cost per packet (bpf_stats)",
                    cargo(&obj).args([
                        "run",
                        "--release",
                        "--package",
                        "tests",
                        "--bin",
                        "kernel-cost",
                    ]),
                )?;
            } else {
                eprintln!("xtask: bench capture: kernel cost needs root (bpf_stats); skipped");
            }
        }
    }
    Ok(())
}
