//! Dropping capabilities once the eBPF programs are attached.
//!
//! What the running daemon still needs (decided here, used by `run`):
//! - `CAP_NET_ADMIN`: attaching the tc program to interfaces that appear
//!   later (netlink `RTM_NEWQDISC`/`RTM_NEWTFILTER`, or a tcx `bpf_link`,
//!   both gated by `CAP_NET_ADMIN` in the kernel: `tc_modify_qdisc`,
//!   `bpf_net_capable()` in kernel/bpf/syscall.c).
//! - `CAP_BPF`: `BPF_LINK_CREATE`/`BPF_PROG_ATTACH` for those attachments
//!   (kernel/bpf/syscall.c `bpf_prog_attach_check_attach_type` path and
//!   aya's link creation) — programs are already loaded, maps open.
//!
//! Not kept: `CAP_PERFMON` (only needed to load tracing programs and read
//! kernel pointers), `CAP_SYS_RESOURCE` (memlock rlimit, set before
//! loading), `CAP_SYS_ADMIN`, `CAP_SETPCAP` and all the rest.
//! [`DAEMON_KEEP`] is that set.
//!
//! Capabilities are per thread in Linux (capset(2) acts on the calling
//! thread only), and the daemon is multi-threaded by the time it has
//! attached. So every thread of the process is made to drop: the calling
//! thread directly, each other thread by a real-time signal whose handler
//! makes the same async-signal-safe syscalls (the approach of libcap's
//! "psx"). The result is then checked in `/proc/self/task/*/status`, and
//! threads that have not dropped (or were created meanwhile by a thread
//! that had not) are signalled again, a bounded number of rounds.
//!
//! Order within a thread: bounding set (needs `CAP_SETPCAP` still in the
//! effective set), ambient set cleared, then capset(2) to the kept set for
//! permitted and effective with inheritable empty, then `no_new_privs`
//! (prctl(2) `PR_SET_NO_NEW_PRIVS`: no exec can regain privileges).

use std::{
    fmt,
    sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering},
    time::Duration,
};

/// A capability number (linux/capability.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cap(pub u8);

impl Cap {
    pub const DAC_OVERRIDE: Cap = Cap(1);
    pub const SETPCAP: Cap = Cap(8);
    pub const NET_ADMIN: Cap = Cap(12);
    pub const NET_RAW: Cap = Cap(13);
    pub const SYS_ADMIN: Cap = Cap(21);
    pub const SYS_RESOURCE: Cap = Cap(24);
    pub const PERFMON: Cap = Cap(38);
    pub const BPF: Cap = Cap(39);

    pub fn bit(self) -> u64 {
        1u64 << self.0
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            1 => "CAP_DAC_OVERRIDE",
            8 => "CAP_SETPCAP",
            12 => "CAP_NET_ADMIN",
            13 => "CAP_NET_RAW",
            21 => "CAP_SYS_ADMIN",
            24 => "CAP_SYS_RESOURCE",
            38 => "CAP_PERFMON",
            39 => "CAP_BPF",
            n => return write!(f, "cap{n}"),
        };
        f.write_str(name)
    }
}

/// What the daemon keeps after attaching (see the module comment).
pub const DAEMON_KEEP: &[Cap] = &[Cap::NET_ADMIN, Cap::BPF];

/// The sets after the drop (as the kernel reports them for this process).
/// `bounding` equals the kept set only when `CAP_SETPCAP` was held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapReport {
    /// Requested and held: now the whole permitted and effective sets.
    pub kept: Vec<Cap>,
    /// Requested but not held before the call (cannot be gained).
    pub missing: Vec<Cap>,
    pub effective: u64,
    pub permitted: u64,
    pub bounding: u64,
    /// Threads that dropped (including the caller).
    pub threads: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PrivError {
    #[error("{what}: {source}")]
    Syscall {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("reading {path}: {source}")]
    Proc {
        path: String,
        source: std::io::Error,
    },
    #[error("threads {tids:?} still hold capabilities beyond the kept set after {rounds} rounds")]
    ThreadsLeft { tids: Vec<i32>, rounds: u32 },
}

fn errno(what: &'static str) -> PrivError {
    PrivError::Syscall {
        what,
        source: std::io::Error::last_os_error(),
    }
}

const CAP_V3: u32 = 0x2008_0522; // _LINUX_CAPABILITY_VERSION_3

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The kept mask and the last capability, read by the signal handler.
static KEEP: AtomicU64 = AtomicU64::new(0);
static LAST_CAP: AtomicU32 = AtomicU32::new(40);
/// errno of the last failing drop in any thread (0 = none).
static FAILED: AtomicI32 = AtomicI32::new(0);
/// Whether the bounding set can be shrunk (`CAP_SETPCAP` held).
static SHRINK_BOUNDING: AtomicBool = AtomicBool::new(true);

/// Drop in the calling thread; only async-signal-safe syscalls, no
/// allocation (called from the signal handler too). Returns 0 or errno.
fn drop_in_this_thread() -> i32 {
    let keep = KEEP.load(Ordering::SeqCst);
    let last = LAST_CAP.load(Ordering::SeqCst);
    let err = || std::io::Error::last_os_error().raw_os_error().unwrap_or(-1);
    let shrink = SHRINK_BOUNDING.load(Ordering::SeqCst);
    for cap in 0..=last.min(63) {
        if shrink && keep & (1u64 << cap) == 0 {
            // A thread signalled twice (its status was read before the
            // first handler ran) has already dropped the bounding set and
            // CAP_SETPCAP with it: dropping again would fail with EPERM.
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) } == 0 {
                continue;
            }
            // SAFETY: prctl with integer arguments only.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            // EINVAL: a capability this kernel does not know.
            if r != 0 && err() != libc::EINVAL {
                return err();
            }
        }
    }
    // SAFETY: integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    let mut hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: keep as u32,
            permitted: keep as u32,
            inheritable: 0,
        },
        CapData {
            effective: (keep >> 32) as u32,
            permitted: (keep >> 32) as u32,
            inheritable: 0,
        },
    ];
    // SAFETY: header and two data structs as capset(2) v3 expects.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if r != 0 {
        return err();
    }
    // SAFETY: integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return err();
    }
    0
}

extern "C" fn on_signal(_: libc::c_int) {
    let e = drop_in_this_thread();
    if e != 0 {
        FAILED.store(e, Ordering::SeqCst);
    }
}

/// `CapEff`, `CapPrm`, `CapBnd` of a `/proc/.../status` text.
pub fn parse_status(text: &str) -> Option<(u64, u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    };
    Some((field("CapEff:")?, field("CapPrm:")?, field("CapBnd:")?))
}

fn read_status(path: &str) -> Result<(u64, u64, u64), PrivError> {
    let text = std::fs::read_to_string(path).map_err(|source| PrivError::Proc {
        path: path.to_owned(),
        source,
    })?;
    parse_status(&text).ok_or_else(|| PrivError::Proc {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "no CapEff/CapPrm/CapBnd"),
    })
}

/// Threads of this process whose permitted set is not within `keep`.
fn threads_over(keep: u64) -> Result<(Vec<i32>, usize), PrivError> {
    let dir = std::fs::read_dir("/proc/self/task").map_err(|source| PrivError::Proc {
        path: "/proc/self/task".into(),
        source,
    })?;
    let mut over = Vec::new();
    let mut all = 0;
    for entry in dir.flatten() {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        all += 1;
        // A thread that exited meanwhile has nothing left to drop.
        let Ok((eff, prm, _)) = read_status(&format!("/proc/self/task/{tid}/status")) else {
            continue;
        };
        if (eff | prm) & !keep != 0 {
            over.push(tid);
        }
    }
    Ok((over, all))
}

/// Drop every capability not in `keep` from the permitted, effective,
/// inheritable, ambient and bounding sets of every thread, and set
/// `no_new_privs`. Capabilities in `keep` that are not held are reported
/// in [`CapReport::missing`] (they cannot be gained).
pub fn drop_capabilities(keep: &[Cap]) -> Result<CapReport, PrivError> {
    let (effective_before, permitted_before, _) = read_status("/proc/thread-self/status")?;
    let wanted: u64 = keep.iter().fold(0, |m, c| m | c.bit());
    let keep_mask = wanted & permitted_before;
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    KEEP.store(keep_mask, Ordering::SeqCst);
    LAST_CAP.store(last, Ordering::SeqCst);
    FAILED.store(0, Ordering::SeqCst);
    // Without CAP_SETPCAP (e.g. a unit whose bounding set leaves it out)
    // the bounding set stays as the service manager set it.
    SHRINK_BOUNDING.store(effective_before & Cap::SETPCAP.bit() != 0, Ordering::SeqCst);

    let sig = libc::SIGRTMIN() + 7;
    // SAFETY: installing a handler that only makes async-signal-safe
    // syscalls and touches atomics.
    let old = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, &sa, &mut old) != 0 {
            return Err(errno("sigaction"));
        }
        old
    };
    let result = (|| {
        let e = drop_in_this_thread();
        if e != 0 {
            return Err(PrivError::Syscall {
                what: "dropping capabilities (prctl/capset)",
                source: std::io::Error::from_raw_os_error(e),
            });
        }
        // SAFETY: plain syscalls.
        let (pid, me) = unsafe { (libc::getpid(), libc::gettid()) };
        const ROUNDS: u32 = 50;
        let mut round = 0;
        loop {
            let (over, all) = threads_over(keep_mask)?;
            let e = FAILED.load(Ordering::SeqCst);
            if e != 0 {
                return Err(PrivError::Syscall {
                    what: "dropping capabilities in a thread",
                    source: std::io::Error::from_raw_os_error(e),
                });
            }
            if over.is_empty() {
                return Ok(all);
            }
            round += 1;
            if round == ROUNDS {
                return Err(PrivError::ThreadsLeft {
                    tids: over,
                    rounds: ROUNDS,
                });
            }
            for tid in over.into_iter().filter(|&t| t != me) {
                // SAFETY: signalling a thread of our own process.
                unsafe { libc::tgkill(pid, tid, sig) };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })();
    // SAFETY: restoring the previous disposition.
    unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
    let threads = result?;
    let (effective, permitted, bounding) = read_status("/proc/thread-self/status")?;
    let (kept, missing): (Vec<Cap>, Vec<Cap>) =
        keep.iter().partition(|c| permitted_before & c.bit() != 0);
    Ok(CapReport {
        kept,
        missing,
        effective,
        permitted,
        bounding,
        threads,
    })
}

#[cfg(test)]
#[path = "privs_tests.rs"]
mod tests;
