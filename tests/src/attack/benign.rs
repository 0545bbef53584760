//! Benign traffic: the mix of lookups that must raise no alert (secure,
//! insecure, NXDOMAIN, wildcard, CNAME, opt-out) and a name whose
//! authoritative answers rotate among validated sets (CDN style), run as
//! several `dig -f` batches in parallel from the client namespace.

use std::fmt::Write as _;
use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};

use std::net::{IpAddr, Ipv4Addr};

use super::topology::{CDN2_V4, CHILD_V4, CLIENT_NS, VALIDATING_V4, VALIDATING_V6};
use super::zones::CDN_A;
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
    ("www.rsa-optout.test", "A"),
    ("host.legacy.rsa-optout.test", "A"),
    ("nx{}.rsa-optout.test", "A"),
];

/// cdn.test's two servers: www.cdn.test asked of each directly (RD=0, as
/// a resolver on the host would) rotates between the two validated sets
/// whatever server a resolver or the monitor happens to prefer.
const CDN_SERVERS: [Ipv4Addr; 2] = [CHILD_V4, CDN2_V4];

/// Parallel `dig -f` clients of [`benign`].
pub const CLIENTS: usize = 4;

/// How a batch is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// The benign mix through the validating resolver.
    Benign,
    /// The benign mix through the validating resolver's IPv6 address.
    BenignV6,
    /// www.cdn.test only: of each cdn.test server in turn, and through the
    /// validating resolver, DO=1 and DO=0.
    CdnRotation,
}

/// The batch file lines for `dig -f`: `n` lookups starting at mix
/// position `from`, DO=1 on every other line.
pub fn batch(mix: Mix, from: usize, n: usize) -> String {
    let mut s = String::new();
    for i in from..from + n {
        if mix == Mix::CdnRotation {
            let dnssec = if i % 2 == 0 { "+dnssec" } else { "+nodnssec" };
            let _ = match i % 4 {
                0 | 1 => writeln!(
                    s,
                    "@{} www.cdn.test A +norecurse {dnssec} +time=3 +tries=1",
                    CDN_SERVERS[(i / 4) % 2]
                ),
                _ => writeln!(
                    s,
                    "@{VALIDATING_V4} www.cdn.test A {dnssec} +time=3 +tries=1"
                ),
            };
            continue;
        }
        let server: IpAddr = if mix == Mix::BenignV6 {
            VALIDATING_V6.into()
        } else {
            VALIDATING_V4.into()
        };
        let (name, ty) = BENIGN[i % BENIGN.len()];
        let name = name.replace("{}", &(i % 25).to_string());
        let dnssec = if i % 2 == 0 { "+dnssec" } else { "+nodnssec" };
        let _ = writeln!(s, "@{server} {name} {ty} {dnssec} +time=3 +tries=1");
    }
    s
}

/// `dig -f` batches running in the client namespace.
pub struct Batches {
    children: Vec<(Child, std::path::PathBuf)>,
    pub pids: Vec<u32>,
    n: usize,
    /// Everything the digs printed (`+short`), once they are done.
    pub output: String,
}

/// Starts `clients` batches sharing `n` lookups, files under the lab dir.
pub fn start(lab: &Lab, mix: Mix, tag: &str, n: usize, clients: usize) -> Result<Batches> {
    let mut children = Vec::new();
    let mut pids = Vec::new();
    let per = n.div_ceil(clients);
    for c in 0..clients {
        let from = c * per;
        let count = per.min(n.saturating_sub(from));
        let file = lab.dir.path().join(format!("{tag}-{c}.batch"));
        std::fs::write(&file, batch(mix, from, count))?;
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
    Ok(Batches {
        children,
        pids,
        n,
        output: String::new(),
    })
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
            let text = std::fs::read_to_string(&*out)?;
            lines += text.lines().count();
            self.output.push_str(&text);
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
    run_mix(lab, Mix::Benign, "benign", n)
}

/// [`benign`] over IPv6, to the validating resolver's IPv6 address: every
/// answer captured, parsed and attributed to its `dig`, and no alert.
pub fn benign_v6(lab: &Lab, n: usize) -> Result<Outcome> {
    run_mix(lab, Mix::BenignV6, "benign-v6", n)
}

/// CDN-style rotation: `n` lookups of www.cdn.test, whose two servers
/// sign different A sets with the same keys; the host sees both sets (the
/// run fails if not), each validated: no alert may follow.
pub fn cdn_rotation(lab: &Lab, n: usize) -> Result<Outcome> {
    run_mix(lab, Mix::CdnRotation, "cdn", n)
}

fn run_mix(lab: &Lab, mix: Mix, tag: &str, n: usize) -> Result<Outcome> {
    lab.observe(0, Duration::from_secs(5), || {
        let mut b = start(lab, mix, tag, n, CLIENTS)?;
        b.wait(Duration::from_secs(300))?;
        if mix == Mix::CdnRotation {
            for a in CDN_A {
                ensure!(
                    b.output.lines().any(|l| l.trim() == a),
                    "www.cdn.test never answered {a}: the rotation was not exercised"
                );
            }
        }
        let seen = wait_seen(lab, &b, n);
        ensure!(
            seen >= n,
            "the monitor reported {seen} answers to the digs (pids {:?}) for {n} lookups",
            b.pids
        );
        Ok(b.pids.first().copied())
    })
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
