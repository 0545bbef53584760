//! One function per attack (and the benign load), each returning what the
//! monitor alerted, plus [`SCENARIOS`]: every scenario with the alerts
//! DESIGN.md ("Detection") says it must raise, and [`check`] comparing them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::time::Duration;

use anyhow::{Result, bail, ensure};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

use super::topology::*;
use super::{Lab, Outcome, benign, relay, spoof};
use crate::cmd::run_pid;

const SETTLE: Duration = Duration::from_secs(2);

/// `dig` in the client namespace (over IPv6 when `server` is an IPv6
/// address); returns its pid (the alerts' process).
pub fn dig(server: impl Into<IpAddr>, name: &str, extra: &[&str]) -> Result<u32> {
    let at = format!("@{}", server.into());
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
    server: impl Into<IpAddr>,
    name: &str,
    extra: &[&str],
) -> Result<Outcome> {
    let server = server.into();
    lab.observe(expect, SETTLE, || dig(server, name, extra).map(Some))
}

/// [`dig_scenario`] against an IPv6 server: every alert must also name
/// that server (`destination.ip`): captured, parsed and attributed over
/// IPv6, not a twin seen over IPv4.
fn dig_scenario_v6(
    lab: &Lab,
    expect: usize,
    server: Ipv6Addr,
    name: &str,
    extra: &[&str],
) -> Result<Outcome> {
    let o = dig_scenario(lab, expect, server, name, extra)?;
    let want = IpAddr::V6(server);
    for a in &o.alerts {
        if a.server != Some(want) {
            let raw: Vec<String> = o.raw.iter().map(|v| v.to_string()).collect();
            bail!(
                "{} for {} names server {:?}, expected {want}:\n{}",
                a.rule,
                a.qname,
                a.server,
                raw.join("\n")
            );
        }
    }
    Ok(o)
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

/// [`forged_a_signed`] over IPv6: the forger answers on the attacker
/// namespace's IPv6 address.
pub fn forged_a_signed_v6(lab: &Lab) -> Result<Outcome> {
    dig_scenario_v6(lab, 2, ROGUE_V6, "alias.ed.test", &[])
}

/// [`stripped_rrsig`] over IPv6 (the relay asks the plain resolver over IPv4).
pub fn stripped_rrsig_v6(lab: &Lab) -> Result<Outcome> {
    dig_scenario_v6(lab, 1, STRIP_RELAY_V6, "www.ed.test", &["+dnssec"])
}

/// [`fallback_unlisted`] over IPv6.
pub fn fallback_unlisted_v6(lab: &Lab) -> Result<Outcome> {
    dig_scenario_v6(lab, 1, FALLBACK_V6, "www.optout.test", &[])
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

/// Benign lookups run alongside the KeyTrap lookup.
pub const KEYTRAP_COMPANIONS: usize = 300;
/// Monitor CPU (user + system) the KeyTrap scenario may cost, all of it.
pub const KEYTRAP_CPU_LIMIT: Duration = Duration::from_secs(10);

/// CPU time (user + system) of a process so far.
fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    // After the name: state(3) … utime(14) stime(15), in clock ticks.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> {
        Ok(f.get(i - 3)
            .ok_or_else(|| anyhow::anyhow!("short /proc/{pid}/stat"))?
            .parse()?)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    Ok(Duration::from_millis(
        (ticks(14)? + ticks(15)?) * 1000 / hz.max(1),
    ))
}

/// KeyTrap (CVE-2023-50387): keytrap.test's DNSKEY RRset holds 40 keys
/// sharing the KSK's tag and 70 garbage signatures under it. dig asks for
/// www.keytrap.test through the plain resolver (which does not validate)
/// while other clients keep looking up benign names: the monitor must
/// answer every one of those, stay within its CPU bound, and judge the
/// KeyTrap name bogus with the budget as the reason.
pub fn keytrap(lab: &Lab) -> Result<Outcome> {
    let monitor = lab
        .monitor
        .pid()
        .ok_or_else(|| anyhow::anyhow!("the monitor is not running"))?;
    let cpu0 = cpu_time(monitor)?;
    let o = lab.observe(1, SETTLE, || {
        let mut others = benign::start(
            lab,
            benign::Mix::Benign,
            "keytrap-companions",
            KEYTRAP_COMPANIONS,
            2,
        )?;
        let pid = dig(PLAIN_V4, "www.keytrap.test", &["+dnssec"])?;
        others.wait(Duration::from_secs(120))?;
        let seen = benign::wait_seen(lab, &others, KEYTRAP_COMPANIONS);
        ensure!(
            seen >= KEYTRAP_COMPANIONS,
            "while judging the KeyTrap zone the monitor reported only {seen} of \
             {KEYTRAP_COMPANIONS} other answers"
        );
        Ok(Some(pid))
    })?;
    let spent = cpu_time(monitor)?.saturating_sub(cpu0);
    ensure!(
        spent <= KEYTRAP_CPU_LIMIT,
        "the monitor spent {spent:?} CPU on the KeyTrap scenario (limit {KEYTRAP_CPU_LIMIT:?})"
    );
    eprintln!(
        "keytrap: monitor CPU {spent:?} for the KeyTrap lookup and {KEYTRAP_COMPANIONS} others"
    );
    Ok(o)
}

/// Benign lookups over the whole mix ([`benign::benign`]).
pub const BENIGN_LOOKUPS: usize = 5_000;

fn benign_scenario(lab: &Lab) -> Result<Outcome> {
    benign::benign(lab, BENIGN_LOOKUPS)
}

/// Benign lookups over IPv6 ([`benign::benign_v6`]): the whole mix, twice.
pub const BENIGN_V6_LOOKUPS: usize = 40;

fn benign_v6(lab: &Lab) -> Result<Outcome> {
    benign::benign_v6(lab, BENIGN_V6_LOOKUPS)
}

/// Lookups of the CDN-style rotating name.
pub const CDN_LOOKUPS: usize = 400;

fn cdn_rotation(lab: &Lab) -> Result<Outcome> {
    benign::cdn_rotation(lab, CDN_LOOKUPS)
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
    /// Text `dnssec_monitor.rule_detail` must contain (the reason).
    pub detail: Option<&'static str>,
}

const fn e(rule: &'static str, qname: &'static str) -> Expect {
    Expect {
        rule,
        qname,
        client: true,
        severity: None,
        detail: None,
    }
}

/// `answer_mismatch`: high for Secure names, medium for Insecure ones.
const fn mismatch(qname: &'static str, severity: &'static str) -> Expect {
    Expect {
        rule: "answer_mismatch",
        qname,
        client: true,
        severity: Some(severity),
        detail: None,
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
            detail: None,
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
    Scenario {
        name: "keytrap",
        run: keytrap,
        expect: &[Expect {
            rule: "bogus_signature",
            qname: "www.keytrap.test",
            client: true,
            severity: None,
            detail: Some("limit reached"),
        }],
    },
    Scenario {
        name: "benign",
        run: benign_scenario,
        expect: &[],
    },
    Scenario {
        name: "benign-v6",
        run: benign_v6,
        expect: &[],
    },
    Scenario {
        name: "forged-a-signed-v6",
        run: forged_a_signed_v6,
        expect: &[
            mismatch("alias.ed.test", "high"),
            e("unsigned_fallback", "alias.ed.test"),
        ],
    },
    Scenario {
        name: "stripped-rrsig-v6",
        run: stripped_rrsig_v6,
        expect: &[e("unsigned_fallback", "www.ed.test")],
    },
    Scenario {
        name: "fallback-unlisted-v6",
        run: fallback_unlisted_v6,
        expect: &[e("unsigned_fallback", "www.optout.test")],
    },
    Scenario {
        name: "cdn-rotation",
        run: cdn_rotation,
        expect: &[],
    },
];

pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Exactly the expected alerts (as a multiset of rule and question), each
/// naming `dig` and its pid where the expectation says so (and no process
/// where it says the client is not involved), each with the expected
/// severity and reason where given; nothing else.
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
    for x in expect {
        let Some(text) = x.detail else { continue };
        for a in o
            .alerts
            .iter()
            .filter(|a| a.rule == x.rule && a.qname == x.qname)
        {
            ensure!(
                a.detail.as_deref().is_some_and(|d| d.contains(text)),
                "{} for {} says {:?}, expected it to contain {text:?}:\n{}",
                a.rule,
                a.qname,
                a.detail,
                dump()
            );
        }
    }
    // Not the client's: an answer to a socket nobody holds has no process.
    for x in expect.iter().filter(|x| !x.client) {
        for a in o.alerts.iter().filter(|a| a.rule == x.rule) {
            ensure!(
                a.process.is_none() && a.pid.is_none(),
                "{} names process {:?} pid {:?}, expected none:\n{}",
                a.rule,
                a.process,
                a.pid,
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
