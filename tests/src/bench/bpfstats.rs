//! Kernel cost of the monitor's eBPF programs: `kernel.bpf_stats_enabled`
//! makes the kernel account `run_time_ns`/`run_cnt` per program
//! (kernel/bpf/syscall.c, bpf_prog_get_stats); `bpftool prog show -j`
//! reports them with the pids holding each program.

use std::process::Command;

use anyhow::{Context, Result, bail};

const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Turns statistics on; the previous value is restored on drop.
pub struct StatsGuard {
    previous: String,
}

impl StatsGuard {
    pub fn enable() -> Result<Self> {
        let previous = std::fs::read_to_string(SYSCTL)
            .with_context(|| format!("reading {SYSCTL}"))?
            .trim()
            .to_string();
        let g = Self { previous };
        g.set(true)?;
        Ok(g)
    }

    /// Statistics on or off while the guard lives. Off for throughput
    /// runs: with them on, the kernel reads the clock twice around every
    /// run of every BPF program (kernel/bpf/syscall.c,
    /// `bpf_prog_run` → `__bpf_prog_run` under `bpf_stats_enabled_key`),
    /// a cost the deployed daemon (which never enables them) does not have.
    pub fn set(&self, on: bool) -> Result<()> {
        let v = if on { "1" } else { "0" };
        std::fs::write(SYSCTL, v).with_context(|| format!("writing {v} to {SYSCTL}"))
    }
}

impl Drop for StatsGuard {
    fn drop(&mut self) {
        let _ = std::fs::write(SYSCTL, &self.previous);
    }
}

/// Run time and count of one program at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgStat {
    pub id: u64,
    pub name: String,
    pub run_time_ns: u64,
    pub run_cnt: u64,
}

/// The ids of every loaded program (taken before the monitor starts, so
/// its programs are the new ones when bpftool cannot name their holder).
pub fn loaded_ids() -> Result<Vec<u64>> {
    Ok(parse(&bpftool_json()?, None, &[])?
        .into_iter()
        .map(|p| p.id)
        .collect())
}

/// The programs held by `pid`: from bpftool's `pids` list when it has one
/// (bpftool built with skeletons), else the programs loaded since
/// `before` whose names are the monitor's (`monitor_common::names`).
pub fn programs_of(pid: u32, before: &[u64]) -> Result<Vec<ProgStat>> {
    parse(&bpftool_json()?, Some(pid), before)
}

fn bpftool_json() -> Result<String> {
    let out = Command::new("bpftool")
        .args(["prog", "show", "-j"])
        .output()
        .context("running bpftool")?;
    if !out.status.success() {
        bail!(
            "bpftool prog show failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Program name prefixes of the monitor (kernel names keep 15 bytes).
const OURS: [&str; 3] = ["tc_", "sock_", "skb_"];

pub fn parse(json: &str, pid: Option<u32>, before: &[u64]) -> Result<Vec<ProgStat>> {
    let v: serde_json::Value = serde_json::from_str(json).context("bpftool JSON")?;
    let progs = v.as_array().context("bpftool: expected an array")?;
    let has_pids = progs.iter().any(|p| p["pids"].is_array());
    Ok(progs
        .iter()
        .filter(|p| match pid {
            None => true,
            Some(pid) if has_pids => p["pids"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|x| x["pid"].as_u64() == Some(u64::from(pid)))),
            Some(_) => {
                let id = p["id"].as_u64().unwrap_or(0);
                let name = p["name"].as_str().unwrap_or("");
                !before.contains(&id) && OURS.iter().any(|o| name.starts_with(o))
            }
        })
        .map(|p| ProgStat {
            id: p["id"].as_u64().unwrap_or(0),
            name: p["name"].as_str().unwrap_or("?").to_string(),
            run_time_ns: p["run_time_ns"].as_u64().unwrap_or(0),
            run_cnt: p["run_cnt"].as_u64().unwrap_or(0),
        })
        .collect())
}

/// Per program: (name, runs, ns per run) between two snapshots.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProgDelta {
    pub name: String,
    pub runs: u64,
    pub total_ns: u64,
    pub ns_per_run: f64,
}

pub fn delta(before: &[ProgStat], after: &[ProgStat]) -> Vec<ProgDelta> {
    let mut out: Vec<ProgDelta> = after
        .iter()
        .filter_map(|a| {
            let b = before.iter().find(|b| b.id == a.id)?;
            let runs = a.run_cnt.saturating_sub(b.run_cnt);
            let total_ns = a.run_time_ns.saturating_sub(b.run_time_ns);
            (runs > 0).then(|| ProgDelta {
                name: a.name.clone(),
                runs,
                total_ns,
                ns_per_run: total_ns as f64 / runs as f64,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"[{"id":7,"name":"tc_ingress","run_time_ns":1000,"run_cnt":10,"pids":[{"pid":42,"comm":"dnssec-monitor"}]},
        {"id":8,"name":"other","run_time_ns":5,"run_cnt":1,"pids":[{"pid":43,"comm":"x"}]},
        {"id":9,"name":"nopids"}]"#;

    #[test]
    fn keeps_only_programs_of_pid() {
        let p = parse(JSON, Some(42), &[]).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].id, p[0].run_cnt), (7, 10));
        assert!(parse(JSON, Some(44), &[]).unwrap().is_empty());
        assert!(parse("{", Some(42), &[]).is_err());
        assert_eq!(parse(JSON, None, &[]).unwrap().len(), 3);
    }

    #[test]
    fn without_pids_new_programs_with_our_names() {
        let j = r#"[{"id":1,"name":"tc_ingress_eth","run_time_ns":1,"run_cnt":1},
            {"id":2,"name":"tc_ingress_eth","run_time_ns":1,"run_cnt":1},
            {"id":3,"name":"cgroup_device","run_time_ns":1,"run_cnt":1}]"#;
        let p = parse(j, Some(42), &[1]).unwrap();
        assert_eq!(p.iter().map(|p| p.id).collect::<Vec<_>>(), vec![2]);
        assert!(parse(j, Some(42), &[1, 2, 3]).unwrap().is_empty());
    }

    #[test]
    fn delta_per_run() {
        let before = parse(JSON, Some(42), &[]).unwrap();
        let mut after = before.clone();
        after[0].run_cnt += 100;
        after[0].run_time_ns += 5_000;
        let d = delta(&before, &after);
        assert_eq!(d[0].runs, 100);
        assert!((d[0].ns_per_run - 50.0).abs() < 1e-9);
        assert!(delta(&before, &before).is_empty());
    }
}
