//! `cargo xtask bench report`: runs the head-to-head benchmarks of issue 5
//! (the `bench` bin of the `tests` crate: load, cold, rss) and the criterion
//! micro-benches, keeps every raw output under `docs/bench/`, and writes
//! `docs/BENCHMARKS.md`. Every figure is a ratio against a baseline measured
//! in the same run, because the machine is shared and noisy.

use crate::build::{build_ebpf, cargo};
use crate::util::{is_root, root, run};
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Criterion targets summarised in the report, with short measurement.
const CRITERION: &[&str] = &["capture", "dnssec_verify", "dnssec_engine", "alert_latency"];
/// The experiments of the `bench` bin, in report order.
const EXPERIMENTS: &[(&str, &[&str])] = &[
    ("load", &["--seconds", "10"]),
    ("cold", &["--names", "1000", "--concurrency", "32"]),
    ("rss", &["--names", "100000"]),
];

pub fn report() -> Result<()> {
    if !is_root() {
        bail!("bench report needs root: eBPF programs, bpf_stats, nsd on port 53");
    }
    let docs = root().join("docs");
    let raw = docs.join("bench");
    std::fs::create_dir_all(&raw).with_context(|| format!("creating {}", raw.display()))?;
    let machine_before = machine();
    // One cargo invocation for both binaries: built apart, the two
    // packages' different feature sets of shared dependencies make each
    // build recompile what the other just compiled.
    let obj = build_ebpf()?;
    run(
        "build dnssec-monitor and the bench runner",
        cargo(&obj).args([
            "build",
            "--release",
            "--package",
            "monitor",
            "--bin",
            "dnssec-monitor",
            "--package",
            "tests",
            "--bin",
            "bench",
        ]),
    )?;
    let monitor_bin = root().join("target/release/dnssec-monitor");
    let bench_bin = root().join("target/release/bench");
    let mut sections = Vec::new();
    for (name, args) in EXPERIMENTS {
        eprintln!("xtask: bench {name} {}", args.join(" "));
        let status = Command::new(&bench_bin)
            .arg(name)
            .args(*args)
            .env("BENCH_OUT", &raw)
            .env("DNSSEC_MONITOR_BIN", &monitor_bin)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("starting {}", bench_bin.display()))?;
        let md = raw.join(format!("{name}.md"));
        if status.success() && md.is_file() {
            sections.push(std::fs::read_to_string(&md)?);
        } else {
            sections.push(format!(
                "## {name}: FAILED ({status})\n\nSee the xtask log; no figure is reported.\n\n"
            ));
        }
    }
    let mut micro = String::new();
    for t in CRITERION {
        let out = cargo(&obj)
            .args(["bench", "--package", "monitor", "--bench", t, "--"])
            .args(["--measurement-time", "3", "--warm-up-time", "1"])
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cargo bench {t}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        std::fs::write(raw.join(format!("criterion-{t}.txt")), &text)?;
        if !out.status.success() {
            let _ = writeln!(micro, "- `{t}`: FAILED ({})", out.status);
            continue;
        }
        micro.push_str(&criterion_section(t, &text));
    }
    let machine_after = machine();
    let md = assemble(&machine_before, &machine_after, &sections, &micro);
    let path = docs.join("BENCHMARKS.md");
    std::fs::write(&path, md).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "xtask: wrote {} (raw outputs in {})",
        path.display(),
        raw.display()
    );
    Ok(())
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| format!("({cmd}: {e})"))
}

fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    format!(
        "nproc {}, {}, kernel {}, load average {}, {}",
        sh("nproc", &[]),
        model,
        sh("uname", &["-r"]),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        sh("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"])
    )
}

/// (bench name, median time in ns, throughput text) from criterion's
/// stdout, where a long name sits alone on the line before `time:`.
pub fn parse_criterion(text: &str) -> Vec<(String, f64, Option<String>)> {
    let mut out: Vec<(String, f64, Option<String>)> = Vec::new();
    let mut name = String::new();
    for line in text.lines() {
        let t = line.trim();
        if !line.starts_with(' ') && !t.is_empty() && !t.contains("time:") {
            name = t.split_whitespace().next().unwrap_or("").to_string();
        }
        if let Some((head, rest)) = t.split_once("time:") {
            if !head.trim().is_empty() {
                name = head.trim().to_string();
            }
            if let Some(ns) = median_ns(rest) {
                out.push((name.clone(), ns, None));
            }
        } else if let Some(rest) = t.strip_prefix("thrpt:")
            && let Some(last) = out.last_mut()
        {
            last.2 = middle(rest).map(|(v, u)| format!("{v} {u}"));
        }
    }
    out
}

fn middle(bracket: &str) -> Option<(String, String)> {
    let inner = bracket.trim().strip_prefix('[')?.split(']').next()?;
    let f: Vec<&str> = inner.split_whitespace().collect();
    if f.len() < 6 {
        return None;
    }
    Some((f[2].to_string(), f[3].to_string()))
}

fn median_ns(bracket: &str) -> Option<f64> {
    let (v, unit) = middle(bracket)?;
    let v: f64 = v.parse().ok()?;
    let scale = match unit.as_str() {
        "ps" => 1e-3,
        "ns" => 1.0,
        "µs" | "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    Some(v * scale)
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn criterion_section(target: &str, text: &str) -> String {
    let rows = parse_criterion(text);
    let mut s = format!(
        "### `{target}` (raw: `docs/bench/criterion-{target}.txt`)\n\n| bench | median | throughput |\n|---|---|---|\n"
    );
    for (n, ns, thr) in &rows {
        let _ = writeln!(
            s,
            "| {n} | {} | {} |",
            fmt_ns(*ns),
            thr.as_deref().unwrap_or("")
        );
    }
    if target == "alert_latency" {
        s.push_str(
            "\nAlert latency (a captured answer handed to the detector → its alert ready to write; \
             p50/p99 over fixed samples, printed by the bench; target for a cached verdict: p99 ≤ 5 ms). \
             In the daemon a packet first waits in the kernel ring for at most the reader's gather \
             delay (1 ms after a wake-up; `capture/ringbuf.rs` `GATHER`) or its poll period \
             (10 ms, only for a record that raced a reader going to sleep):\n\n",
        );
        for line in text.lines().filter(|l| l.contains(" p50=")) {
            let _ = writeln!(s, "- `{}`", line.trim());
        }
    }
    if target == "dnssec_verify" {
        s.push_str("\nRRSIG verification ÷ raw ring verification (throughput ratio = ring time ÷ verify_rrset time; target ≥ 0.95):\n\n");
        for (n, ns, _) in rows.iter().filter(|(n, _, _)| n.ends_with("/verify_rrset")) {
            let group = n.trim_end_matches("/verify_rrset");
            if let Some((_, ring, _)) = rows
                .iter()
                .find(|(m, _, _)| *m == format!("{group}/ring_raw"))
            {
                let r = ring / ns;
                let _ = writeln!(
                    s,
                    "- {group}: **{r:.3}** ({} vs {}) {}",
                    fmt_ns(*ns),
                    fmt_ns(*ring),
                    if r >= 0.95 { "met" } else { "**missed**" }
                );
            }
        }
    }
    s.push('\n');
    s
}

fn assemble(before: &str, after: &str, sections: &[String], micro: &str) -> String {
    let rev = sh(
        "git",
        &[
            "-C",
            &root().display().to_string(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Benchmarks\n\n\
         Produced by one command, as root: `cargo xtask bench report` (commit `{rev}`). It builds \
         the eBPF object, `target/release/dnssec-monitor` and the runner `target/release/bench` \
         (one `cargo build --release -p monitor --bin dnssec-monitor -p tests --bin bench`), then runs `bench load`, `bench cold`, \
         `bench rss` (each also runnable alone: `target/release/bench load --seconds 10`, \
         `bench cold --names 1000 --concurrency 32`, `bench rss --names 100000`) and the criterion \
         benches `{}` with `--measurement-time 3 --warm-up-time 1`. With \
         `DNSSEC_MONITOR_BASELINE_BIN=<an older dnssec-monitor>` in the environment the load bench \
         also runs that build (`before`) next to this one. Raw outputs (dnsperf reports, \
         the monitor's counters, JSON with every figure, criterion logs) are in `docs/bench/`.\n\n\
         **Machine**: at start: {before}; at end: {after}. This machine is shared with other agents \
         that compile at the same time: absolute figures are noisy, which is why every figure is \
         given next to a baseline measured in the same run (back to back), and ratios are what to \
         read. Traffic stays on loopback; every server and monitor started is stopped afterwards.\n",
        CRITERION.join(", ")
    );
    for sec in sections {
        s.push_str(sec);
    }
    s.push_str("## Micro-benchmarks (criterion)\n\n");
    s.push_str(micro);
    s.push_str(&findings());
    s
}

/// Profiling notes kept with the report (written by hand after profiling;
/// read from `docs/bench/findings.md` if present).
fn findings() -> String {
    let p = root().join("docs/bench/findings.md");
    if Path::new(&p).is_file() {
        std::fs::read_to_string(&p).unwrap_or_default()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_lines_parse() {
        let t = "alg13_ecdsap256/verify_rrset\n                        time:   [45.0 µs 46.0 µs 47.0 µs]\n\
                 alg13_ecdsap256/ring_raw time:   [44.0 µs 45.0 µs 46.0 µs]\n\
                 capture/decode          time:   [1.0 ms 2.0 ms 3.0 ms]\n                        thrpt:  [1.0 Melem/s 1.5 Melem/s 2.0 Melem/s]\n";
        let r = parse_criterion(t);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].0, "alg13_ecdsap256/verify_rrset");
        assert!((r[0].1 - 46_000.0).abs() < 1e-6);
        assert_eq!(r[1].0, "alg13_ecdsap256/ring_raw");
        assert_eq!(r[2].2.as_deref(), Some("1.5 Melem/s"));
        assert!(parse_criterion("Benchmarking x: Warming up\n").is_empty());
        assert!(median_ns("[1 parsecs 2 parsecs 3 parsecs]").is_none());
    }
}
