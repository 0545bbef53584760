//! One function per attack (and the benign load), each returning what the
//! monitor alerted, plus [`SCENARIOS`]: every scenario with the alerts
//! DESIGN.md ("Detection") says it must raise, and [`check`] comparing them.

use std::fmt::Write as _;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::time::Duration;
use std::time::Instant;

use anyhow::{Result, bail, ensure};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

use super::topology::*;
use super::{Lab, Outcome, relay, spoof};
use crate::cmd::run_pid;

const SETTLE: Duration = Duration::from_secs(2);

/// `dig` in the client namespace; returns its pid (the alerts' process).
pub fn dig(server: Ipv4Addr, name: &str, extra: &[&str]) -> Result<u32> {
    let at = format!("@{server}");
    let mut argv = vec![
        "ip", "netns", "exec", CLIENT_NS, "dig", "+time=3", "+tries=1", &at, name, "A",
    ];
    argv.extend_from_slice(extra);
    let (pid, out) = run_pid(&argv, Duration::from_secs(15))?;
    ensure!(
        out.status.success(),
        "{argv:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(pid)
}

fn dig_scenario(
    lab: &Lab,
    expect: usize,
    server: Ipv4Addr,
    name: &str,
    extra: &[&str],
) -> Result<Outcome> {
    lab.observe(expect, SETTLE, || dig(server, name, extra).map(Some))
}

/// A zone whose RRSIG over www A is damaged, through the plain resolver.
pub fn broken_signature(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 1, PLAIN_V4, "www.broken.test", &["+dnssec"])
}

/// A zone signed with a window that ended in 2020.
pub fn expired_signatures(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 1, PLAIN_V4, "www.expired.test", &["+dnssec"])
}

/// The parent's DS matches no key of the zone.
pub fn ds_mismatch(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 1, PLAIN_V4, "www.badds.test", &["+dnssec"])
}

/// DO=1 query; the on-path relay removes every RRSIG from the answer.
pub fn stripped_rrsig(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 1, STRIP_RELAY_V4, "www.ed.test", &["+dnssec"])
}

/// A resolver configured as validating answers a Secure name with AD=0
/// (a relay in front of the validating unbound clears it).
pub fn ad_cleared(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 1, AD_RELAY_V4, "www.rsa-nsec3.test", &["+adflag"])
}

/// A forged A for a signed name from a server outside the resolver set.
pub fn forged_a_signed(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 2, ROGUE_V4, "alias.ed.test", &[])
}

/// True data for a Secure name, but from a resolver outside the set
/// (fallback DNS): the path gives no protection.
pub fn fallback_unlisted(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 1, FALLBACK_V4, "www.optout.test", &[])
}

/// The benign twin: the same lookup through the unlisted server for a name
/// in an unsigned zone (no Secure verdict → no unsigned_fallback).
pub fn fallback_unlisted_unsigned(lab: &Lab) -> Result<Outcome> {
    lab.observe(0, SETTLE + SETTLE, || {
        dig(FALLBACK_V4, "www.unsigned.test", &[]).map(Some)
    })
}

/// A forged A for a name in an unsigned zone from an unlisted server.
pub fn forged_a_unsigned(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 1, ROGUE_V4, "www.unsigned.test", &[])
}

/// NXDOMAIN for a name whose A is validated, from a listed resolver address.
pub fn forged_nxdomain(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 1, FORGE_LISTED_V4, "www.ecdsa.test", &[])
}

/// The client port the unsolicited answer goes to: no socket, no query.
pub const UNSOLICITED_PORT: u16 = 40_404;

/// An answer with a forged source (the plain resolver) sent by a raw
/// socket in the attacker namespace to a client port with no query out.
pub fn unsolicited_answer(lab: &Lab) -> Result<Outcome> {
    lab.observe(1, SETTLE, || {
        let mut q = Message::new(0x4242, MessageType::Query, OpCode::Query);
        q.metadata.recursion_desired = true;
        q.add_query(Query::query(
            Name::from_ascii("www.rsa-nsec3.test.")?,
            RecordType::A,
        ));
        let payload = relay::forged(&q, 0x4242, Some(Ipv4Addr::new(6, 6, 6, 6)))?;
        spoof::send_spoofed(
            ATTACKER_NS,
            SocketAddrV4::new(PLAIN_V4, 53),
            SocketAddrV4::new(CLIENT_V4, UNSOLICITED_PORT),
            &payload,
        )?;
        Ok(None)
    })
}

/// Blind spoofing: the race relay reads the query and fires five forged
/// answers under wrong txids at the client's socket before the real one.
pub fn response_race(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 1, RACE_RELAY_V4, "txt.ed.test", &[])
}

/// An on-path spoofer wins the race: three forged answers under the
/// right txid reach dig before the real one (dig takes the first).
pub fn response_race_won(lab: &Lab) -> Result<Outcome> {
    dig_scenario(lab, 2, RACE_WIN_RELAY_V4, "www.ed.test", &[])
}

/// Lookups of the benign mix, cycled.
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
];

/// The batch file for `dig -f`: `n` lookups through the validating
/// resolver, DO=1 on every other line; names with `{}` vary over 25 labels.
pub fn benign_batch(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let (name, ty) = BENIGN[i % BENIGN.len()];
        let name = name.replace("{}", &(i % 25).to_string());
        let dnssec = if i % 2 == 0 { "+dnssec" } else { "+nodnssec" };
        let _ = writeln!(s, "@{VALIDATING_V4} {name} {ty} {dnssec} +time=3 +tries=1");
    }
    s
}

/// `n` benign lookups from one `dig -f` (mixed secure, insecure, NXDOMAIN,
/// wildcard, CNAME), then a settle time: every alert returned is a false one.
pub fn benign(lab: &Lab, n: usize) -> Result<Outcome> {
    let batch = lab.dir.path().join("benign.batch");
    std::fs::write(&batch, benign_batch(n))?;
    let b = batch.display().to_string();
    let out_path = lab.dir.path().join("benign.out");
    let o = lab.observe(0, Duration::from_secs(5), || {
        // Output to a file, not a pipe: ~100 KB of +short lines would fill
        // a pipe nobody reads until dig exits.
        let mut child = Command::new("ip")
            .args(["netns", "exec", CLIENT_NS, "dig", "+short", "-f", &b])
            .stdin(Stdio::null())
            .stdout(File::create(&out_path)?)
            .stderr(Stdio::null())
            .spawn()?;
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(st) = child.try_wait()? {
                break st;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("dig -f with {n} lookups did not finish within 120 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        ensure!(status.success(), "dig -f: {status}");
        let answers = std::fs::read_to_string(&out_path)?.lines().count();
        ensure!(
            answers >= n / 3,
            "dig -f printed only {answers} lines for {n} lookups"
        );
        Ok(Some(pid))
    })?;
    // No alert means nothing only if the monitor saw the lookups: every
    // answer must be there as an event naming dig's pid.
    let pid = o.client_pid.map(u64::from);
    let seen = lab
        .monitor
        .events()
        .iter()
        .filter(|v| {
            v.pointer("/dns/type").and_then(|t| t.as_str()) == Some("answer")
                && v.pointer("/process/pid").and_then(|p| p.as_u64()) == pid
        })
        .count();
    ensure!(
        seen >= n,
        "the monitor reported {seen} answers to dig (pid {pid:?}) for {n} lookups"
    );
    Ok(o)
}

/// An expected alert: rule, question, and whether it names the client's
/// process (`dig`, its pid).
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    pub rule: &'static str,
    pub qname: &'static str,
    pub client: bool,
    /// The severity it must carry, where the design fixes one.
    pub severity: Option<&'static str>,
}

const fn e(rule: &'static str, qname: &'static str) -> Expect {
    Expect {
        rule,
        qname,
        client: true,
        severity: None,
    }
}

/// `answer_mismatch`: high for Secure names, medium for Insecure ones.
const fn mismatch(qname: &'static str, severity: &'static str) -> Expect {
    Expect {
        rule: "answer_mismatch",
        qname,
        client: true,
        severity: Some(severity),
    }
}

/// A scenario: how to run it and exactly which alerts it must raise.
pub struct Scenario {
    pub name: &'static str,
    pub run: fn(&Lab) -> Result<Outcome>,
    pub expect: &'static [Expect],
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "bogus-signature",
        run: broken_signature,
        expect: &[e("bogus_signature", "www.broken.test")],
    },
    Scenario {
        name: "expired-signatures",
        run: expired_signatures,
        expect: &[e("bogus_signature", "www.expired.test")],
    },
    Scenario {
        name: "ds-mismatch",
        run: ds_mismatch,
        expect: &[e("bogus_signature", "www.badds.test")],
    },
    Scenario {
        name: "stripped-rrsig",
        run: stripped_rrsig,
        expect: &[e("unsigned_fallback", "www.ed.test")],
    },
    Scenario {
        name: "ad-cleared",
        run: ad_cleared,
        expect: &[e("unsigned_fallback", "www.rsa-nsec3.test")],
    },
    Scenario {
        name: "forged-a-signed",
        run: forged_a_signed,
        expect: &[
            mismatch("alias.ed.test", "high"),
            e("unsigned_fallback", "alias.ed.test"),
        ],
    },
    Scenario {
        name: "fallback-unlisted",
        run: fallback_unlisted,
        expect: &[e("unsigned_fallback", "www.optout.test")],
    },
    Scenario {
        name: "fallback-unlisted-unsigned",
        run: fallback_unlisted_unsigned,
        expect: &[],
    },
    Scenario {
        name: "forged-a-unsigned",
        run: forged_a_unsigned,
        expect: &[mismatch("www.unsigned.test", "medium")],
    },
    Scenario {
        name: "forged-nxdomain",
        run: forged_nxdomain,
        expect: &[mismatch("www.ecdsa.test", "high")],
    },
    Scenario {
        name: "unsolicited",
        run: unsolicited_answer,
        expect: &[Expect {
            rule: "unsolicited_response",
            qname: "www.rsa-nsec3.test",
            client: false,
            severity: None,
        }],
    },
    Scenario {
        name: "response-race",
        run: response_race,
        expect: &[e("response_race", "txt.ed.test")],
    },
    Scenario {
        name: "response-race-won",
        run: response_race_won,
        expect: &[
            mismatch("www.ed.test", "high"),
            e("response_race", "www.ed.test"),
        ],
    },
];

pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Exactly the expected alerts (as a multiset of rule and question), each
/// naming `dig` and its pid where the expectation says so; nothing else.
pub fn check(o: &Outcome, expect: &[Expect]) -> Result<()> {
    let dump = || {
        o.raw
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut got: Vec<(String, String)> = o
        .alerts
        .iter()
        .map(|a| (a.rule.clone(), a.qname.clone()))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = expect
        .iter()
        .map(|x| (x.rule.to_string(), x.qname.to_string()))
        .collect();
    want.sort();
    if got != want {
        bail!("alerts {got:?}, expected {want:?}:\n{}", dump());
    }
    for x in expect {
        let Some(sev) = x.severity else { continue };
        for a in o
            .alerts
            .iter()
            .filter(|a| a.rule == x.rule && a.qname == x.qname)
        {
            ensure!(
                a.severity.as_deref() == Some(sev),
                "{} for {} has severity {:?}, expected {sev}:\n{}",
                a.rule,
                a.qname,
                a.severity,
                dump()
            );
        }
    }
    for x in expect.iter().filter(|x| x.client) {
        for a in o.alerts.iter().filter(|a| a.rule == x.rule) {
            ensure!(
                a.process.as_deref() == Some("dig") && a.pid == o.client_pid.map(u64::from),
                "{} names process {:?} pid {:?}, expected dig pid {:?}:\n{}",
                a.rule,
                a.process,
                a.pid,
                o.client_pid,
                dump()
            );
        }
    }
    Ok(())
}
