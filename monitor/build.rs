//! Embeds the eBPF object built by `cargo xtask build` (path in
//! `DNSSEC_MONITOR_EBPF_OBJ`). Without it the agent still builds — unit
//! tests, `replay` and `validate` need no kernel programs — and `run`
//! explains how to build them.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=DNSSEC_MONITOR_EBPF_OBJ");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("monitor.bpf.o");
    match std::env::var("DNSSEC_MONITOR_EBPF_OBJ") {
        Ok(src) if !src.is_empty() => {
            println!("cargo::rerun-if-changed={src}");
            std::fs::copy(&src, &out)
                .unwrap_or_else(|e| panic!("cannot copy eBPF object {src}: {e}"));
        }
        _ => {
            std::fs::write(&out, b"").expect("write empty eBPF placeholder");
        }
    }
}
