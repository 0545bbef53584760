//! CPU time and resident memory of a process, from `/proc/PID/stat` and
//! `/proc/PID/status` (proc(5)).

use std::time::Instant;

/// utime + stime of `pid` in clock ticks (fields 14 and 15 of
/// `/proc/PID/stat`, counted after the `comm` field, which may hold spaces).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14 → index 11.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// A CPU-time sample to compute a share of one core over an interval.
#[derive(Clone, Copy, Debug)]
pub struct CpuSample {
    ticks: u64,
    at: Instant,
}

impl CpuSample {
    pub fn take(pid: u32) -> Option<Self> {
        Some(Self {
            ticks: cpu_ticks(pid)?,
            at: Instant::now(),
        })
    }

    /// Percent of one core used between `self` and `later`.
    pub fn percent_until(&self, later: &CpuSample) -> f64 {
        let secs = later.at.duration_since(self.at).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        let used = later.ticks.saturating_sub(self.ticks) as f64 / ticks_per_second();
        100.0 * used / secs
    }
}

/// Idle time of the whole machine (all CPUs: `idle` + `iowait` of the
/// `cpu` line of `/proc/stat`, proc(5)), to tell a machine that is busy
/// from one whose DNS path waits: with the monitor at the maximum rate the
/// load generator and the resolver can slow down while CPUs sit idle.
#[derive(Clone, Copy, Debug)]
pub struct IdleSample {
    ticks: u64,
    at: Instant,
}

impl IdleSample {
    pub fn take() -> Option<Self> {
        let s = std::fs::read_to_string("/proc/stat").ok()?;
        Some(Self {
            ticks: parse_idle_ticks(&s)?,
            at: Instant::now(),
        })
    }

    /// Idle time between `self` and `later`, as % of one core (200 = two
    /// whole CPUs idle).
    pub fn percent_until(&self, later: &IdleSample) -> f64 {
        let secs = later.at.duration_since(self.at).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        let idle = later.ticks.saturating_sub(self.ticks) as f64 / ticks_per_second();
        100.0 * idle / secs
    }
}

/// `idle` + `iowait` (fields 4 and 5) of the aggregate `cpu ` line.
fn parse_idle_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    Some(f.get(3)? + f.get(4)?)
}

/// The pid of the process whose command line contains `needle` (the
/// first found; for children whose handle hides the pid).
pub fn pid_by_cmdline(needle: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        (pid != std::process::id() && cmd.contains(needle)).then_some(pid)
    })
}

/// `VmRSS` of `/proc/<who>/status` in KiB (`who` = a pid or `self`).
pub fn vm_rss_kib(who: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{who}/status")).ok()?;
    parse_kib(&s, "VmRSS:")
}

fn parse_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_is_idle_plus_iowait_of_the_cpu_line() {
        let stat = "cpu  10 1 20 300 7 0 5 0 0 0\ncpu0 5 0 10 150 3 0 2 0 0 0\n";
        assert_eq!(parse_idle_ticks(stat), Some(307));
        assert_eq!(parse_idle_ticks("cpu0 1 2 3 4 5\n"), None);
        assert_eq!(parse_idle_ticks("cpu  1 2 x 4 5\n"), None);
    }

    #[test]
    fn reads_own_cpu_and_rss() {
        let me = std::process::id();
        assert!(cpu_ticks(me).is_some());
        assert!(vm_rss_kib("self").is_some_and(|k| k > 0));
    }

    #[test]
    fn missing_process_or_key_is_none() {
        assert_eq!(cpu_ticks(u32::MAX), None);
        assert_eq!(parse_kib("VmSize: 12 kB\n", "VmRSS:"), None);
        assert_eq!(parse_kib("VmRSS:\t  812 kB\n", "VmRSS:"), Some(812));
    }
}
