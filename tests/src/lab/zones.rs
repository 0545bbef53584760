//! A small DNS hierarchy with its own root, signed at test time with
//! ldns-keygen / ldns-signzone / ldns-key2ds:
//!
//! ```text
//! .            alg 13, NSEC             127.53.0.1
//! test.        alg 13, NSEC             127.53.0.2
//!   ecdsa.test      alg 13, NSEC         127.53.0.3 (all children)
//!   rsa-nsec3.test  alg 8 (2048), NSEC3 (no opt-out)
//!   optout.test     alg 13, NSEC3 opt-out; insecure-sub.optout.test unsigned
//!   ed.test         alg 15, NSEC
//!   broken.test     alg 13, www's A signature corrupted after signing
//!   expired.test    alg 13, signed with a window that ended in 2020
//!   badds.test      alg 13, the DS in test. is of a key the zone does not have
//!   expiring.test   alg 13, valid now, signatures expire 2 days after signing
//!   unsigned.test   no DNSSEC, no DS
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::process::run;

pub const ROOT_ADDR: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 1);
pub const TEST_ADDR: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 2);
pub const CHILD_ADDR: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 3);
/// Where the non-validating recursive resolver delv talks to listens.
pub const RECURSOR_ADDR: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 9);

const LIMIT: Duration = Duration::from_secs(60);

/// How a zone is (mis)signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    Unsigned,
    Nsec {
        algorithm: &'static str,
    },
    Nsec3 {
        algorithm: &'static str,
        bits: Option<u32>,
        opt_out: bool,
    },
    /// Signed normally, then one RRSIG over `www` A is damaged.
    CorruptWww,
    /// Signature window entirely in the past.
    Expired,
    /// Valid, but the signatures expire 2 days after signing
    /// (`signature_expiring`).
    ExpiresSoon,
    /// Signed, but the parent publishes the DS of an unrelated key.
    WrongDs,
}

/// One zone of the lab.
#[derive(Clone, Debug)]
pub struct Zone {
    pub origin: &'static str,
    pub server: Ipv4Addr,
    pub signing: Signing,
    /// Records below the apex (SOA/NS/glue are added).
    pub body: String,
}

fn child(origin: &'static str, signing: Signing, extra: &str) -> Zone {
    Zone {
        origin,
        server: CHILD_ADDR,
        signing,
        body: format!(
            "www.{origin} A 192.0.2.1\n\
             txt.{origin} TXT \"lab\"\n\
             *.wild.{origin} A 192.0.2.2\n\
             alias.{origin} CNAME www.{origin}\n\
             {extra}"
        ),
    }
}

/// The lab's zones, parents before children.
pub fn zones() -> Vec<Zone> {
    let e13 = Signing::Nsec {
        algorithm: "ECDSAP256SHA256",
    };
    vec![
        Zone {
            origin: ".",
            server: ROOT_ADDR,
            signing: e13,
            body: String::new(),
        },
        Zone {
            origin: "test.",
            server: TEST_ADDR,
            signing: e13,
            body: String::new(),
        },
        child(
            "ecdsa.test.",
            e13,
            "cross.ecdsa.test. CNAME www.rsa-nsec3.test.\n\
             to-unsigned.ecdsa.test. CNAME www.unsigned.test.\n\
             idp.ecdsa.test. A 192.0.2.30\n",
        ),
        child(
            "rsa-nsec3.test.",
            Signing::Nsec3 {
                algorithm: "RSASHA256",
                bits: Some(2048),
                opt_out: false,
            },
            "",
        ),
        child(
            "optout.test.",
            Signing::Nsec3 {
                algorithm: "ECDSAP256SHA256",
                bits: None,
                opt_out: true,
            },
            "insecure-sub.optout.test. NS ns.insecure-sub.optout.test.\n\
             ns.insecure-sub.optout.test. A 127.53.0.3\n",
        ),
        Zone {
            origin: "insecure-sub.optout.test.",
            server: CHILD_ADDR,
            signing: Signing::Unsigned,
            body: "host.insecure-sub.optout.test. A 192.0.2.9\n".into(),
        },
        child(
            "ed.test.",
            Signing::Nsec {
                algorithm: "ED25519",
            },
            "",
        ),
        child(
            "broken.test.",
            Signing::CorruptWww,
            "good.broken.test. A 192.0.2.3\n",
        ),
        child("expired.test.", Signing::Expired, ""),
        child("badds.test.", Signing::WrongDs, ""),
        child("expiring.test.", Signing::ExpiresSoon, ""),
        child(
            "unsigned.test.",
            Signing::Unsigned,
            "idp.unsigned.test. A 192.0.2.31\n",
        ),
    ]
}

/// File-name-safe form of an origin.
pub fn file_stem(origin: &str) -> String {
    if origin == "." {
        "root".into()
    } else {
        origin.trim_end_matches('.').to_string()
    }
}

fn tool(name: &str, dir: &Path) -> Command {
    let mut c = Command::new(name);
    c.current_dir(dir);
    c
}

/// Generates a key; returns its base name (`K<zone>+<alg>+<tag>`).
fn keygen(
    dir: &Path,
    origin: &str,
    algorithm: &str,
    bits: Option<u32>,
    ksk: bool,
) -> Result<String, String> {
    let mut c = tool("ldns-keygen", dir);
    c.args(["-a", algorithm]);
    if let Some(b) = bits {
        c.args(["-b", &b.to_string()]);
    }
    if ksk {
        c.arg("-k");
    }
    c.arg(origin);
    Ok(run(c, LIMIT)?.trim().to_string())
}

/// The DS (SHA-256) of a key file, one zone-file line.
fn key2ds(dir: &Path, base: &str) -> Result<String, String> {
    let mut c = tool("ldns-key2ds", dir);
    c.args(["-n", "-2", &format!("{base}.key")]);
    Ok(run(c, LIMIT)?.trim().to_string())
}

/// The signing material of one zone.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    pub zsk: String,
    pub ksk: String,
    /// DS lines to publish in the parent.
    pub ds: Vec<String>,
}

fn algorithm_of(s: Signing) -> Option<(&'static str, Option<u32>)> {
    match s {
        Signing::Unsigned => None,
        Signing::Nsec { algorithm } => Some((algorithm, None)),
        Signing::Nsec3 {
            algorithm, bits, ..
        } => Some((algorithm, bits)),
        Signing::CorruptWww | Signing::Expired | Signing::ExpiresSoon | Signing::WrongDs => {
            Some(("ECDSAP256SHA256", None))
        }
    }
}

/// Keys (and the parent's DS) for a zone; `None` when unsigned.
pub fn make_keys(dir: &Path, z: &Zone) -> Result<Option<Keys>, String> {
    let Some((alg, bits)) = algorithm_of(z.signing) else {
        return Ok(None);
    };
    let zsk = keygen(dir, z.origin, alg, bits, false)?;
    let ksk = keygen(dir, z.origin, alg, bits, true)?;
    let ds_of = if z.signing == Signing::WrongDs {
        // A key that exists nowhere in the zone: its DS matches nothing.
        keygen(dir, z.origin, alg, bits, true)?
    } else {
        ksk.clone()
    };
    let ds = vec![key2ds(dir, &ds_of)?];
    Ok(Some(Keys { zsk, ksk, ds }))
}

/// Zone text with SOA, NS, glue, delegations (+DS) to `children`.
pub fn zone_text(z: &Zone, children: &[(&Zone, Option<&Keys>)]) -> String {
    let o = z.origin;
    let ns = if o == "." {
        "ns.".to_string()
    } else {
        format!("ns.{o}")
    };
    let mut t = format!(
        "$TTL 300\n{o} SOA {ns} hostmaster.{o_} 1 3600 600 86400 300\n{o} NS {ns}\n{ns} A {}\n",
        z.server,
        o_ = if o == "." { "" } else { o },
    );
    t.push_str(&z.body);
    for (c, keys) in children {
        let cns = format!("ns.{}", c.origin);
        t.push_str(&format!("{} NS {cns}\n{cns} A {}\n", c.origin, c.server));
        if let Some(k) = keys {
            for ds in &k.ds {
                t.push_str(ds);
                t.push('\n');
            }
        }
    }
    t
}

/// Signs `zonefile` into `<stem>.signed` as `z.signing` says.
pub fn sign(dir: &Path, z: &Zone, zonefile: &str, keys: &Keys) -> Result<String, String> {
    let out = format!("{}.signed", file_stem(z.origin));
    let mut c = tool("ldns-signzone", dir);
    c.args(["-f", &out, "-o", z.origin]);
    match z.signing {
        Signing::Nsec3 { opt_out, .. } => {
            // RFC 9276: no extra iterations, no salt.
            c.args(["-n", "-t", "0"]);
            if opt_out {
                c.arg("-p");
            }
        }
        Signing::Expired => {
            c.args(["-i", "20200101000000", "-e", "20200201000000"]);
        }
        Signing::ExpiresSoon => {
            // ldns-signzone takes a UNIX timestamp as well as YYYYMMDD.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| e.to_string())?
                .as_secs();
            c.args(["-e", &(now + 2 * 86_400).to_string()]);
        }
        _ => {}
    }
    c.args([zonefile, &keys.zsk, &keys.ksk]);
    run(c, LIMIT)?;
    if z.signing == Signing::CorruptWww {
        corrupt_www_a_signature(&dir.join(&out), z.origin)?;
    }
    Ok(out)
}

/// Flips one base64 character in the middle of the RRSIG covering
/// `www.<origin>` A, leaving everything else intact.
fn corrupt_www_a_signature(path: &Path, origin: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let owner = format!("www.{origin}");
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if !done && f.len() > 12 && f[0] == owner && f[3] == "RRSIG" && f[4] == "A" {
                done = true;
                let mut sig: Vec<char> = f[12..].concat().chars().collect();
                let i = sig.len() / 2;
                sig[i] = if sig[i] == 'A' { 'B' } else { 'A' };
                let mut g: Vec<String> = f[..12].iter().map(|s| s.to_string()).collect();
                g.push(sig.into_iter().collect());
                g.join("\t")
            } else {
                l.to_string()
            }
        })
        .collect();
    if !done {
        return Err(format!("no RRSIG over {owner} A in {}", path.display()));
    }
    std::fs::write(path, lines.join("\n") + "\n").map_err(|e| e.to_string())
}

/// The DS anchor of the lab root and the root hints, as files.
pub fn write_anchor_and_hints(dir: &Path, root_ds: &str) -> Result<(), String> {
    let w = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    w("anchor.ds", format!("{root_ds}\n"))?;
    w(
        "root.hints",
        format!(". 3600000 NS ns.\nns. 3600000 A {ROOT_ADDR}\n"),
    )?;
    // BIND 9.18 trust-anchors clause for delv -a.
    let f: Vec<&str> = root_ds.split_whitespace().collect();
    let n = f.len();
    if n < 4 {
        return Err(format!("odd DS line {root_ds:?}"));
    }
    let (tag, alg, dt, digest) = (f[n - 4], f[n - 3], f[n - 2], f[n - 1]);
    w(
        "delv.anchor",
        format!("trust-anchors {{\n  . static-ds {tag} {alg} {dt} \"{digest}\";\n}};\n"),
    )
}

/// Every address the lab's servers use.
pub fn addresses() -> [IpAddr; 4] {
    [
        ROOT_ADDR.into(),
        TEST_ADDR.into(),
        CHILD_ADDR.into(),
        RECURSOR_ADDR.into(),
    ]
}
