//! cgroup v2: where it is mounted (the kernel programs attach to its root),
//! and which container a cgroup belongs to.
//!
//! The kernel gives us a cgroup id (`bpf_get_current_cgroup_id`), which is
//! the inode number of the cgroup's directory in the cgroup2 file system.
//! [`ContainerResolver`] turns it into a container id: first through
//! `/proc/PID/cgroup` while the process lives, otherwise by finding the
//! directory with that inode under the mount (bounded walk), and caches the
//! answer.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read /proc/mounts: {0}")]
    Mounts(#[source] std::io::Error),
    #[error(
        "no cgroup2 file system is mounted (see /proc/mounts); the process attribution programs need cgroup v2"
    )]
    NotMounted,
}

/// The first cgroup2 mount point listed in `mounts` (the text of
/// `/proc/mounts`).
pub fn cgroup2_mount_in(mounts: &str) -> Option<PathBuf> {
    mounts.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let (_dev, dir, fstype) = (f.next()?, f.next()?, f.next()?);
        (fstype == "cgroup2").then(|| PathBuf::from(unescape_mount_path(dir)))
    })
}

/// The cgroup2 mount of this machine (`/sys/fs/cgroup` or, in hybrid
/// mode, `/sys/fs/cgroup/unified`).
pub fn cgroup2_mount() -> Result<PathBuf, CgroupError> {
    let mounts = std::fs::read_to_string("/proc/mounts").map_err(CgroupError::Mounts)?;
    cgroup2_mount_in(&mounts).ok_or(CgroupError::NotMounted)
}

/// `/proc/mounts` escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v2 path in the text of `/proc/PID/cgroup` (the `0::` line).
pub fn v2_path_in(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// The container id a cgroup path names, if any. Recognised (the last
/// matching component wins, so nested runtimes report the innermost):
/// - docker, cgroupfs driver: `/docker/<64 hex>`; systemd driver: `docker-<id>.scope`
/// - containerd (CRI): `cri-containerd-<id>.scope`; kubepods cgroupfs: `/kubepods/.../<64 hex>`
/// - cri-o: `crio-<id>.scope` (not `crio-conmon-…`, the monitor process)
/// - podman: `libpod-<id>.scope` (not `libpod-conmon-…`)
pub fn container_id_from_path(path: &str) -> Option<String> {
    path.split('/')
        .rev()
        .find_map(component_id)
        .map(str::to_owned)
}

fn component_id(c: &str) -> Option<&str> {
    let c = c.strip_suffix(".scope").unwrap_or(c);
    let id = ["docker-", "cri-containerd-", "crio-", "libpod-"]
        .iter()
        .find_map(|p| c.strip_prefix(p))
        .unwrap_or(c);
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// Upper bound on directories visited when searching the cgroup tree for
/// an id, so a huge hierarchy cannot stall the pipeline.
const WALK_LIMIT: usize = 20_000;
/// Cached cgroup ids (each entry is small; cleared when full).
const CACHE_LIMIT: usize = 16_384;

/// cgroup id → container id, cached.
pub struct ContainerResolver {
    root: PathBuf,
    cache: HashMap<u64, Option<String>>,
}

impl ContainerResolver {
    pub fn new(root: PathBuf) -> Self {
        ContainerResolver {
            root,
            cache: HashMap::new(),
        }
    }

    /// The container of `cgroup_id`; `pid` is tried first (cheap, exact
    /// while the process lives).
    pub fn resolve(&mut self, cgroup_id: u64, pid: u32) -> Option<String> {
        if cgroup_id == 0 {
            return None;
        }
        if let Some(hit) = self.cache.get(&cgroup_id) {
            return hit.clone();
        }
        let path = self
            .path_from_pid(cgroup_id, pid)
            .or_else(|| find_inode(&self.root, cgroup_id));
        let id = path.as_deref().and_then(container_id_from_path);
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        // Only cache what we found: a cgroup created after a failed walk
        // may show up on the next lookup.
        if path.is_some() {
            self.cache.insert(cgroup_id, id.clone());
        }
        id
    }

    fn path_from_pid(&self, cgroup_id: u64, pid: u32) -> Option<String> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let rel = v2_path_in(&text)?;
        let dir = self.root.join(rel.trim_start_matches('/'));
        // The process may have moved, or the pid been reused: check.
        let ino = std::fs::metadata(&dir).ok()?.ino();
        (ino == cgroup_id).then(|| rel.to_owned())
    }
}

/// The path (relative to `root`, starting with `/`) of the directory whose
/// inode is `ino`, breadth first, at most [`WALK_LIMIT`] directories.
fn find_inode(root: &Path, ino: u64) -> Option<String> {
    let mut queue = std::collections::VecDeque::from([root.to_path_buf()]);
    let mut visited = 0;
    while let Some(dir) = queue.pop_front() {
        visited += 1;
        if visited > WALK_LIMIT {
            return None;
        }
        let Ok(md) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        if md.ino() == ino {
            let rel = dir.strip_prefix(root).ok()?;
            return Some(format!("/{}", rel.display()));
        }
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                queue.push_back(e.path());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e9c0b2a1d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";

    #[test]
    fn mount_found_in_hybrid_layout() {
        let m = "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n\
                 cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n\
                 cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
        assert_eq!(
            cgroup2_mount_in(m),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn mount_absent_when_only_v1() {
        let m = "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n";
        assert_eq!(cgroup2_mount_in(m), None);
    }

    #[test]
    fn mount_path_unescaped() {
        let m = "cgroup2 /mnt/with\\040space cgroup2 rw 0 0\n";
        assert_eq!(cgroup2_mount_in(m), Some(PathBuf::from("/mnt/with space")));
    }

    #[test]
    fn v2_line_picked() {
        let t = "4:memory:/x\n0::/system.slice/foo.service\n";
        assert_eq!(v2_path_in(t), Some("/system.slice/foo.service"));
        assert_eq!(v2_path_in("4:memory:/x\n"), None);
    }

    #[test]
    fn docker_cgroupfs_and_systemd() {
        assert_eq!(
            container_id_from_path(&format!("/docker/{ID}")).as_deref(),
            Some(ID)
        );
        assert_eq!(
            container_id_from_path(&format!("/system.slice/docker-{ID}.scope")).as_deref(),
            Some(ID)
        );
    }

    #[test]
    fn containerd_crio_podman() {
        for p in [
            format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-{ID}.scope"
            ),
            format!("/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope"),
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"),
            format!("/kubepods/burstable/pod0b1c/{ID}"),
        ] {
            assert_eq!(container_id_from_path(&p).as_deref(), Some(ID), "{p}");
        }
    }

    #[test]
    fn not_containers() {
        for p in [
            "/".to_owned(),
            "/system.slice/unbound.service".to_owned(),
            "/user.slice/user-1000.slice/session-3.scope".to_owned(),
            // conmon is the runtime's monitor, not the container.
            format!("/machine.slice/libpod-conmon-{ID}.scope"),
            format!("/kubepods.slice/crio-conmon-{ID}.scope"),
            // 63 hex digits, or a non-hex character: not an id.
            format!("/docker/{}", &ID[1..]),
            format!("/docker/{}g", &ID[1..]),
        ] {
            assert_eq!(container_id_from_path(&p), None, "{p}");
        }
    }

    #[test]
    fn resolver_finds_own_cgroup_by_inode() {
        let Ok(root) = cgroup2_mount() else {
            eprintln!("skipped: no cgroup2 mount");
            return;
        };
        let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let rel = v2_path_in(&text)
            .unwrap()
            .trim_start_matches('/')
            .to_owned();
        let ino = std::fs::metadata(root.join(&rel)).unwrap().ino();
        assert_eq!(find_inode(&root, ino), Some(format!("/{rel}")));
        // An inode that is no cgroup directory is not found.
        assert_eq!(find_inode(&root, u64::MAX), None);
    }
}
