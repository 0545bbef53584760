//! Embeds the eBPF object built by `cargo xtask build`: the path in
//! `DNSSEC_MONITOR_EBPF_OBJ` (xtask sets it), else the object xtask leaves
//! in `monitor-ebpf/target/`, so a plain `cargo build` after one xtask build
//! still embeds the kernel programs. Without either the agent still builds
//! — unit tests, `replay` and `validate` need no kernel programs — and `run`
//! explains how to build them.

use std::path::{Path, PathBuf};

const DEFAULT_OBJ: &str = "../monitor-ebpf/target/bpfel-unknown-none/release/monitor-ebpf";

fn main() {
    println!("cargo::rerun-if-env-changed=DNSSEC_MONITOR_EBPF_OBJ");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("monitor.bpf.o");
    let src = match std::env::var("DNSSEC_MONITOR_EBPF_OBJ") {
        Ok(src) if !src.is_empty() => Some(PathBuf::from(src)),
        _ => Path::new(DEFAULT_OBJ)
            .is_file()
            .then(|| PathBuf::from(DEFAULT_OBJ)),
    };
    match src {
        Some(src) => {
            println!("cargo::rerun-if-changed={}", src.display());
            std::fs::copy(&src, &out)
                .unwrap_or_else(|e| panic!("cannot copy eBPF object {}: {e}", src.display()));
        }
        None => {
            // Watch a path that exists, so cargo does not rerun this on every
            // build; `cargo xtask build` sets the variable, which reruns it.
            println!("cargo::rerun-if-changed=../monitor-ebpf/src");
            std::fs::write(&out, b"").expect("write empty eBPF placeholder");
        }
    }
}
