//! Benign traffic: the mix of lookups that must raise no alert (secure,
//! insecure, NXDOMAIN, wildcard, CNAME, opt-out, and a name whose
//! authoritative answers rotate among validated sets), run as several
//! `dig -f` batches in parallel from the client namespace.

use std::fmt::Write as _;
use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};

use super::topology::{CLIENT_NS, VALIDATING_V4};
use super::{Lab, Outcome};

/// Lookups of the benign mix, cycled; `{}` varies over 25 labels.
const BENIGN: &[(&str, &str)] = &[
    ("www.ecdsa.test", "A"),
    ("www.rsa-nsec3.test", "A"),
    ("www.ed.test", "A"),
    ("txt.ecdsa.test", "TXT"),
    ("www.unsigned.test", "A"),
    ("host.insecure-sub.optout.test", "A"),
    ("www.optout.test", "A"),
    ("nx{}.ecdsa.test", "A"),
    ("nx{}.rsa-nsec3.test", "A"),
    ("nx{}.unsigned.test", "A"),
    ("h{}.wild.ecdsa.test", "A"),
    ("h{}.wild.ed.test", "A"),
    ("alias.ecdsa.test", "A"),
    ("cross.ecdsa.test", "A"),
    ("to-unsigned.ecdsa.test", "A"),
    ("www.ecdsa.test", "AAAA"),
    ("good.broken.test", "A"),
    // CDN-style: two servers, the same keys, different A sets, TTL 2 s.
    ("www.cdn.test", "A"),
    ("www.rsa-optout.test", "A"),
    ("host.legacy.rsa-optout.test", "A"),
    ("nx{}.rsa-optout.test", "A"),
    ("www.cdn.test", "A"),
];

/// Parallel `dig -f` clients of [`benign`].
pub const CLIENTS: usize = 4;

/// The batch file lines for `dig -f`: `n` lookups through the validating
/// resolver starting at mix position `from`, DO=1 on every other line.
pub fn batch(from: usize, n: usize) -> String {
    let mut s = String::new();
    for i in from..from + n {
        let (name, ty) = BENIGN[i % BENIGN.len()];
        let name = name.replace("{}", &(i % 25).to_string());
        let dnssec = if i % 2 == 0 { "+dnssec" } else { "+nodnssec" };
        let _ = writeln!(s, "@{VALIDATING_V4} {name} {ty} {dnssec} +time=3 +tries=1");
    }
    s
}

/// `dig -f` batches running in the client namespace.
pub struct Batches {
    children: Vec<(Child, std::path::PathBuf)>,
    pub pids: Vec<u32>,
    n: usize,
}

/// Starts `clients` batches sharing `n` lookups, files under the lab dir.
pub fn start(lab: &Lab, tag: &str, n: usize, clients: usize) -> Result<Batches> {
    let mut children = Vec::new();
    let mut pids = Vec::new();
    let per = n.div_ceil(clients);
    for c in 0..clients {
        let from = c * per;
        let count = per.min(n.saturating_sub(from));
        let file = lab.dir.path().join(format!("{tag}-{c}.batch"));
        std::fs::write(&file, batch(from, count))?;
        let out = lab.dir.path().join(format!("{tag}-{c}.out"));
        // Output to a file, not a pipe: nobody reads a pipe until dig exits.
        let child = Command::new("ip")
            .args(["netns", "exec", CLIENT_NS, "dig", "+short", "-f"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(File::create(&out)?)
            .stderr(Stdio::null())
            .spawn()?;
        pids.push(child.id());
        children.push((child, out));
    }
    Ok(Batches { children, pids, n })
}

impl Batches {
    /// Waits for every batch (bounded), killing them all on timeout.
    pub fn wait(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        let mut lines = 0;
        for (child, out) in &mut self.children {
            let status = loop {
                if let Some(st) = child.try_wait()? {
                    break st;
                }
                if Instant::now() >= deadline {
                    bail!("dig -f batches did not finish within {limit:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            ensure!(status.success(), "dig -f: {status}");
            lines += std::fs::read_to_string(&*out)?.lines().count();
        }
        let n = self.n;
        ensure!(
            lines >= n / 3,
            "dig -f printed only {lines} lines for {n} lookups"
        );
        Ok(())
    }

    /// Answers the monitor reported to these batches' processes.
    pub fn answers_seen(&self, lab: &Lab) -> usize {
        lab.monitor
            .events()
            .iter()
            .filter(|v| {
                v.pointer("/dns/type").and_then(|t| t.as_str()) == Some("answer")
                    && v.pointer("/process/pid")
                        .and_then(|p| p.as_u64())
                        .is_some_and(|p| self.pids.iter().any(|&q| u64::from(q) == p))
            })
            .count()
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        for (child, _) in &mut self.children {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// `n` benign lookups from [`CLIENTS`] parallel `dig -f`, then a settle
/// time: every alert returned is a false one. The monitor must have
/// reported every answer (as an event naming one of the digs).
pub fn benign(lab: &Lab, n: usize) -> Result<Outcome> {
    let mut pids = Vec::new();
    let o = lab.observe(0, Duration::from_secs(5), || {
        let mut b = start(lab, "benign", n, CLIENTS)?;
        b.wait(Duration::from_secs(300))?;
        pids.clone_from(&b.pids);
        let seen = wait_seen(lab, &b, n);
        ensure!(
            seen >= n,
            "the monitor reported {seen} answers to the digs (pids {:?}) for {n} lookups",
            b.pids
        );
        Ok(b.pids.first().copied())
    })?;
    Ok(o)
}

/// Answers seen for `b`, waiting (bounded) for the monitor to catch up.
pub fn wait_seen(lab: &Lab, b: &Batches, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = b.answers_seen(lab);
        if seen >= n || Instant::now() >= deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
