//! What a lab may leave behind after a crash, found by name: namespaces and
//! links whose names start with [`PREFIX`], processes running inside those
//! namespaces, and processes of ours in the host namespace recognised by a
//! path only the lab uses on their command line (the monitor's output file,
//! the servers' configuration directory). [`sweep`] ends them by pid and
//! removes them; [`report`] lists what is there (for `lab status` and the
//! end-of-run check of the attack test target).

use std::path::PathBuf;

use crate::cmd::{run, run_quiet};

use super::topology::PREFIX;

/// Command-line fragments that only the lab's own processes carry: the
/// monitor's output file (`Monitor::start("attack-lab", …)`) and the
/// temporary directory holding the nsd/unbound configurations.
pub const PROCESS_MARKERS: &[&str] = &["dnssec-monitor-test-attack-lab", "dnssec-attack-lab-"];

/// Prefix of the lab's temporary directories (under the system temp dir).
pub const DIR_PREFIX: &str = "dnssec-attack-lab-";

/// Network namespaces named like the lab's.
pub fn namespaces() -> Vec<String> {
    run(&["ip", "netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(PREFIX))
        .map(str::to_owned)
        .collect()
}

/// Links in the host namespace named like the lab's (bridge, veth ends).
pub fn links() -> Vec<String> {
    run(&["ip", "-o", "link", "show"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .filter(|n| n.starts_with(PREFIX))
        .collect()
}

/// Processes (pid, command line) carrying one of [`PROCESS_MARKERS`],
/// this process and its ancestors excluded.
pub fn processes() -> Vec<(u32, String)> {
    let me = std::process::id();
    let ancestors = ancestors(me);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || ancestors.contains(&pid) {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        if PROCESS_MARKERS.iter().any(|m| cmd.contains(m)) {
            found.push((pid, cmd.trim().to_string()));
        }
    }
    found
}

fn ancestors(mut pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for _ in 0..64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            break;
        };
        // The fields after the parenthesised command name: state, ppid, …
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            break;
        };
        if ppid <= 1 {
            break;
        }
        out.push(ppid);
        pid = ppid;
    }
    out
}

/// Processes inside the lab's namespaces.
pub fn namespace_processes() -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for ns in namespaces() {
        for pid in run(&["ip", "netns", "pids", &ns])
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
        {
            out.push((ns.clone(), pid));
        }
    }
    out
}

/// The lab's temporary directories.
pub fn dirs() -> Vec<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(DIR_PREFIX))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Everything of the lab that is there, one line each (empty: nothing).
pub fn report() -> Vec<String> {
    let mut lines = Vec::new();
    for ns in namespaces() {
        lines.push(format!("namespace {ns}"));
    }
    for l in links() {
        lines.push(format!("link {l}"));
    }
    let in_ns = namespace_processes();
    for (ns, pid) in &in_ns {
        lines.push(format!("process {pid} in {ns}: {}", comm(*pid)));
    }
    for (pid, cmd) in processes() {
        if !in_ns.iter().any(|(_, p)| *p == pid) {
            lines.push(format!("process {pid}: {cmd}"));
        }
    }
    for d in dirs() {
        lines.push(format!("directory {}", d.display()));
    }
    lines
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Ends every process of the lab (by pid) and removes its namespaces,
/// links and temporary directories. Only call with the host lock held.
pub fn sweep() {
    for (_, pid) in namespace_processes() {
        run_quiet(&["kill", "-9", &pid.to_string()]);
    }
    for (pid, _) in processes() {
        run_quiet(&["kill", "-9", &pid.to_string()]);
    }
    for ns in namespaces() {
        run_quiet(&["ip", "netns", "del", &ns]);
    }
    for l in links() {
        run_quiet(&["ip", "link", "del", &l]);
    }
    for d in dirs() {
        let _ = std::fs::remove_dir_all(d);
    }
    // The lab monitor's output and log (tests::monitor names them).
    for ext in ["jsonl", "err"] {
        let _ = std::fs::remove_file(
            std::env::temp_dir().join(format!("dnssec-monitor-test-attack-lab.{ext}")),
        );
    }
}
