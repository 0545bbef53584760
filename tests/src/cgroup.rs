//! A cgroup shaped like a container runtime's (`docker-<64 hex>.scope`)
//! under the cgroup v2 mount, for checking `container.id`. Removed in
//! `Drop` once its processes are gone (bounded retries).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use monitor::capture::cgroup::cgroup2_mount;

pub struct FakeContainer {
    parent: PathBuf,
    dir: PathBuf,
    pub id: String,
}

impl FakeContainer {
    pub fn new(tag: &str) -> Result<FakeContainer> {
        let root = cgroup2_mount()?;
        let parent = root.join(format!("dnssec-monitor-test-{tag}"));
        // A fixed-looking but test-unique 64-hex id.
        let seed = format!("{tag}{}", std::process::id());
        let mut id = String::new();
        for (i, b) in seed.bytes().cycle().take(32).enumerate() {
            id.push_str(&format!("{:02x}", b.wrapping_add(i as u8)));
        }
        let dir = parent.join(format!("docker-{id}.scope"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(FakeContainer { parent, dir, id })
    }

    /// `sh -c 'echo $$ > …/cgroup.procs; exec "$@"' sh argv…`: runs argv
    /// inside the cgroup, keeping its pid.
    pub fn wrap(&self, argv: &[&str]) -> Vec<String> {
        let mut v = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            format!(
                "echo $$ > '{}/cgroup.procs' && exec \"$@\"",
                self.dir.display()
            ),
            "sh".to_owned(),
        ];
        v.extend(argv.iter().map(|s| (*s).to_owned()));
        v
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        for _ in 0..50 {
            let _ = std::fs::remove_dir(&self.dir);
            if std::fs::remove_dir(&self.parent).is_ok() || !self.parent.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
