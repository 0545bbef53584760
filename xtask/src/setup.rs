//! Provisioning: install only what is missing, and say each step.
//!
//! Kept in code rather than in a README so that `cargo xtask run`, `cargo
//! xtask test` and CI all provision the same way on a fresh machine.

use crate::util::{have, run, which};
use anyhow::{Context, Result, bail};
use std::process::Command;

/// Debian packages: LLVM 22 for bpf-linker, and the real DNS software and
/// tools the tests and the lab drive (chromium renders the HTML report in
/// a headless test).
const DEBIAN_PACKAGES: &[&str] = &[
    "llvm-22-dev",
    "libpolly-22-dev",
    "libzstd-dev",
    "iproute2",
    "unbound",
    "nsd",
    "ldnsutils",
    "bind9-dnsutils",
    "dnsperf",
    "tshark",
    "bpftool",
    "rsyslog",
    "rsyslog-gnutls",
    "gnutls-bin",
    "chromium",
];

pub fn setup() -> Result<()> {
    eprintln!("xtask: setup: checking what this machine is missing");
    debian_packages()?;
    nightly_rust_src()?;
    bpf_linker()?;
    eprintln!("xtask: setup: done");
    Ok(())
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn debian_packages() -> Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        eprintln!(
            "xtask: setup: Debian packages present ({})",
            DEBIAN_PACKAGES.len()
        );
        return Ok(());
    }
    if !crate::util::is_root() {
        bail!(
            "missing Debian packages {missing:?}; run `cargo xtask setup` as root or `apt-get install -y {}`",
            missing.join(" ")
        );
    }
    run(
        "apt-get update",
        Command::new("apt-get").args(["update", "-q"]),
    )?;
    run(
        "install Debian packages",
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing),
    )?;
    // Debian starts the daemons it installs; the tests start their own.
    for svc in ["unbound", "nsd", "rsyslog"] {
        let _ = Command::new("pkill").args(["-x", svc]).status();
    }
    Ok(())
}

fn nightly_rust_src() -> Result<()> {
    let out = Command::new("rustup")
        .args(["+nightly", "component", "list", "--installed"])
        .output();
    let ok = out
        .as_ref()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.starts_with("rust-src"))
        })
        .unwrap_or(false);
    if ok {
        eprintln!("xtask: setup: nightly toolchain with rust-src present");
        return Ok(());
    }
    let have_nightly = out.map(|o| o.status.success()).unwrap_or(false);
    if !have_nightly {
        run(
            "install the nightly toolchain (eBPF programs need -Z build-std)",
            Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
            ]),
        )?;
    }
    run(
        "add rust-src to nightly",
        Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]),
    )
}

fn bpf_linker() -> Result<()> {
    if let Some(p) = which("bpf-linker") {
        eprintln!("xtask: setup: bpf-linker present at {}", p.display());
        return Ok(());
    }
    // bpf-linker's default feature wants LLVM 23; Debian ships 22 here.
    let llvm = "/usr/lib/llvm-22";
    let path = format!("{llvm}/bin:{}", std::env::var("PATH").unwrap_or_default());
    run(
        "build bpf-linker against Debian's LLVM 22 (several minutes, once)",
        Command::new("cargo")
            .env("PATH", path)
            .env("LLVM_SYS_221_PREFIX", llvm)
            .env(
                "RUSTFLAGS",
                format!("-L {llvm}/lib -C link-args=-Wl,-rpath,{llvm}/lib"),
            )
            .args([
                "install",
                "bpf-linker",
                "--locked",
                "--no-default-features",
                "--features",
                "llvm-22",
            ]),
    )
    .context("bpf-linker is needed to link the eBPF programs")
}

#[allow(dead_code, reason = "used by later steps that need a given tool")]
pub fn require(tool: &str) -> Result<()> {
    if have(tool) {
        Ok(())
    } else {
        bail!("{tool} not found; run `cargo xtask setup`")
    }
}
