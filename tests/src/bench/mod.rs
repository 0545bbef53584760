//! Head-to-head benchmarks (issue 5): the measurements behind
//! `cargo xtask bench report`. Each experiment is a bin in `tests/src/bin/`
//! that writes its raw outputs and a JSON summary under `docs/bench/`;
//! xtask assembles `docs/BENCHMARKS.md` from them.
//!
//! Table of contents:
//! - [`procstat`]: CPU ticks and RSS of a process from `/proc`.
//! - [`dnsperf`]: running `dnsperf` bounded and parsing its summary.
//! - [`bpfstats`]: `kernel.bpf_stats_enabled` and per-program run time via bpftool.
//! - [`load`]: dnsperf → unbound on loopback, without and with the monitor.
//! - [`cold`]: cold validation throughput, our engine vs a validating unbound.
//! - [`rss`]: resident memory of the engine holding 100,000 cached names.

pub mod bpfstats;
pub mod cold;
pub mod dnsperf;
pub mod load;
pub mod procstat;
pub mod rss;

use std::path::PathBuf;

/// The workspace root (parent of `tests/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// Where raw outputs and JSON summaries go (`docs/bench/`, created).
pub fn out_dir() -> std::io::Result<PathBuf> {
    let d = std::env::var_os("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("docs/bench"));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
