//! Issue 6, acceptance 1 (critical names and the signature expiry watch),
//! as root, in the attack lab: real nsd, real unbound (validating and
//! plain), the RRSIG-stripping relay, `dig` as the client and
//! `dnssec-monitor run` on the host with `[[critical]]` entries in its
//! config (tests/src/attack/critical.rs).
//!
//! The lab is brought up once for this binary (tests take it in turn) and
//! torn down at exit. Needs `target/debug/dnssec-monitor` built with its
//! eBPF object (`cargo xtask build`). Skipped when not root, unless
//! DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1.

use std::sync::{Mutex, MutexGuard, OnceLock};

use serde_json::Value;
use tests::attack::critical::{self, SIGNED_IDP, UNSIGNED_IDP};
use tests::attack::scenarios::{Expect, check};
use tests::attack::{Lab, Outcome, tools};
use tests::root::{required, root_or_skip};

static LAB: OnceLock<Mutex<Option<Lab>>> = OnceLock::new();

extern "C" fn teardown_lab() {
    if let Some(m) = LAB.get() {
        let lab = match m.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        drop(lab);
    }
}

fn lab(test: &str) -> Option<MutexGuard<'static, Option<Lab>>> {
    if !root_or_skip(test) {
        return None;
    }
    if let Err(missing) = tools() {
        assert!(!required(), "{test}: missing tools {missing:?}");
        eprintln!("{test}: skipped: missing {missing:?}");
        return None;
    }
    let m = LAB.get_or_init(|| {
        // SAFETY: registering a plain extern "C" fn with atexit(3).
        unsafe { libc::atexit(teardown_lab) };
        Mutex::new(None)
    });
    let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
    if g.is_none() {
        *g = Some(Lab::up_with(audit_zone).expect("bringing the attack lab up"));
    }
    Some(g)
}

/// This lab's monitor runs `broken.test` in audit mode (the rest enforce).
fn audit_zone(
    dir: &std::path::Path,
) -> anyhow::Result<(Vec<String>, Vec<tests::lab::process::Server>)> {
    let p = dir.join("audit-zone.toml");
    std::fs::write(&p, "[[zone]]\nname = \"broken.test\"\nmode = \"audit\"\n")?;
    Ok((vec!["--config".into(), p.display().to_string()], Vec::new()))
}

fn run(test: &str, f: fn(&Lab) -> anyhow::Result<Outcome>, expect: &[Expect]) -> Option<Outcome> {
    let g = lab(test)?;
    let lab = g.as_ref().expect("lab is up");
    let o = f(lab).unwrap_or_else(|e| panic!("{test}: {e:#}"));
    if let Err(e) = check(&o, expect) {
        panic!("{test}: {e:#}\nmonitor log:\n{}", lab.monitor.log());
    }
    Some(o)
}

fn field<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.pointer(path).unwrap_or(&Value::Null)
}

#[test]
fn unsigned_critical_name_alerts_once_per_process() {
    let Some(g) = lab("unsigned_critical_name_alerts_once_per_process") else {
        return;
    };
    let lab = g.as_ref().expect("lab is up");
    let o = critical::unsigned_twice(lab).unwrap_or_else(|e| panic!("{e:#}"));
    let expect = [Expect {
        rule: "critical_name_unprotected",
        qname: UNSIGNED_IDP,
        client: true,
        severity: Some("medium"),
        detail: None,
    }];
    if let Err(e) = check(&o, &expect) {
        panic!("{e:#}\nmonitor log:\n{}", lab.monitor.log());
    }
    // Two lookups by that one process were seen, one alert was raised.
    let seen = critical::answers_seen(lab, o.client_pid, UNSIGNED_IDP);
    let ids: std::collections::BTreeSet<u64> = seen
        .iter()
        .filter_map(|v| v.pointer("/dns/id").and_then(Value::as_u64))
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "two lookups by dig seen by the monitor: {seen:#?}"
    );
    let a = &o.raw[0];
    assert_eq!(field(a, "/dnssec_monitor/critical/label"), "idp");
    assert_eq!(field(a, "/dnssec/outcome"), "insecure");
    assert_eq!(field(a, "/event/kind"), "alert");
    assert_eq!(field(a, "/dnssec_monitor/mode"), "enforce");
}

#[test]
fn signed_critical_name_through_validating_resolver_is_quiet() {
    run(
        "signed_critical_name_through_validating_resolver_is_quiet",
        critical::signed_validated,
        &[],
    );
}

/// dig's lookup through the stripping relay raises both rules for dig. The
/// relay itself (a thread of this test process in the attacker namespace)
/// forwards the query to the plain, non-validating resolver and takes its
/// AD=0 answer: a process on this host resolving the critical name through
/// a path that does not validate, so it gets its own
/// critical_name_unprotected (medium), once.
#[test]
fn signed_critical_name_through_stripping_relay_raises_both() {
    let Some(g) = lab("signed_critical_name_through_stripping_relay_raises_both") else {
        return;
    };
    let lab = g.as_ref().expect("lab is up");
    let o = critical::signed_stripped(lab).unwrap_or_else(|e| panic!("{e:#}"));
    let dig = o.client_pid.map(u64::from);
    let (mine, others): (Vec<usize>, Vec<usize>) =
        (0..o.alerts.len()).partition(|&i| o.alerts[i].pid == dig);
    let dig_only = Outcome {
        client_pid: o.client_pid,
        alerts: mine.iter().map(|&i| o.alerts[i].clone()).collect(),
        raw: mine.iter().map(|&i| o.raw[i].clone()).collect(),
    };
    let expect = [
        Expect {
            rule: "unsigned_fallback",
            qname: SIGNED_IDP,
            client: true,
            severity: Some("critical"),
            detail: None,
        },
        Expect {
            rule: "critical_name_unprotected",
            qname: SIGNED_IDP,
            client: true,
            severity: Some("high"),
            detail: None,
        },
    ];
    if let Err(e) = check(&dig_only, &expect) {
        panic!(
            "{e:#}\nall: {:#?}\nmonitor log:\n{}",
            o.raw,
            lab.monitor.log()
        );
    }
    let uf = dig_only
        .raw
        .iter()
        .find(|v| field(v, "/rule/name") == "unsigned_fallback")
        .expect("unsigned_fallback");
    assert_eq!(field(uf, "/event/severity"), 99);
    assert_eq!(field(uf, "/dnssec_monitor/critical/base_severity"), "high");
    assert_eq!(field(uf, "/dnssec_monitor/critical/label"), "idp");
    assert_eq!(others.len(), 1, "{:#?}", o.raw);
    let relay = &o.raw[others[0]];
    assert_eq!(field(relay, "/rule/name"), "critical_name_unprotected");
    assert_eq!(field(relay, "/dnssec_monitor/severity"), "medium");
    assert_eq!(
        field(relay, "/process/pid").as_u64(),
        Some(u64::from(std::process::id()))
    );
    let detail = field(relay, "/dnssec_monitor/rule_detail")
        .as_str()
        .unwrap_or("");
    assert!(
        detail.contains("not a configured validating resolver"),
        "{detail}"
    );
}

#[test]
fn zone_signatures_expiring_in_two_days_warn() {
    let Some(g) = lab("zone_signatures_expiring_in_two_days_warn") else {
        return;
    };
    let lab = g.as_ref().expect("lab is up");
    let o = critical::expiring_zone(lab).unwrap_or_else(|e| panic!("{e:#}"));
    // The first lookup to finish reports the zone: dig's own, or the
    // validating unbound's iterative query for the same zone (also a
    // process on this host); either way exactly one warning.
    let rules: Vec<&str> = o.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(
        rules,
        vec!["signature_expiring"],
        "{:#?}\nmonitor log:\n{}",
        o.raw,
        lab.monitor.log()
    );
    let a = &o.raw[0];
    let detail = field(a, "/dnssec_monitor/rule_detail")
        .as_str()
        .unwrap_or("");
    assert!(detail.contains("zone expiring.test expire"), "{detail}");
    assert!(
        detail.contains("1d 23h left") || detail.contains("2d 0h left"),
        "{detail}"
    );
    assert_eq!(field(a, "/dnssec_monitor/severity"), "medium");
    assert_eq!(field(a, "/dnssec/outcome"), "secure");
    // The benign twin: a zone signed for the default four weeks.
    let o = lab
        .observe(0, std::time::Duration::from_secs(3), || {
            tests::attack::scenarios::dig(
                tests::attack::topology::VALIDATING_V4,
                "www.rsa-nsec3.test",
                &["+dnssec"],
            )
            .map(Some)
        })
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(o.alerts.is_empty(), "{:#?}", o.raw);
}

/// Audit mode for one zone: the bogus answer in `broken.test` is written
/// as an event (`event.kind: event`, `dnssec_monitor.mode: audit`), not an
/// alert; the same attack on `expired.test` (enforce) stays an alert.
#[test]
fn audit_zone_writes_events_enforce_zone_alerts() {
    let Some(g) = lab("audit_zone_writes_events_enforce_zone_alerts") else {
        return;
    };
    let lab = g.as_ref().expect("lab is up");
    let docs = |qname: &str| -> Vec<Value> {
        lab.monitor
            .events()
            .into_iter()
            .filter(|v| {
                field(v, "/rule/name") == "bogus_signature"
                    && field(v, "/dns/question/name")
                        .as_str()
                        .is_some_and(|n| n.trim_end_matches('.') == qname)
            })
            .collect()
    };
    let o = lab
        .observe(0, std::time::Duration::from_secs(3), || {
            tests::attack::scenarios::dig(
                tests::attack::topology::PLAIN_V4,
                "www.broken.test",
                &["+dnssec"],
            )
            .map(Some)
        })
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        o.alerts.is_empty(),
        "audit zone raised alerts: {:#?}",
        o.raw
    );
    let audit = docs("www.broken.test");
    assert!(
        !audit.is_empty(),
        "no audit event for www.broken.test\nmonitor log:\n{}",
        lab.monitor.log()
    );
    for v in &audit {
        assert_eq!(field(v, "/event/kind"), "event", "{v}");
        assert_eq!(field(v, "/dnssec_monitor/mode"), "audit", "{v}");
    }
    // The twin: a zone without a mode of its own is enforced.
    let o = lab
        .observe(1, std::time::Duration::from_secs(2), || {
            tests::attack::scenarios::dig(
                tests::attack::topology::PLAIN_V4,
                "www.expired.test",
                &["+dnssec"],
            )
            .map(Some)
        })
        .unwrap_or_else(|e| panic!("{e:#}"));
    let rules: Vec<&str> = o.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert!(rules.contains(&"bogus_signature"), "{:#?}", o.raw);
    for v in docs("www.expired.test") {
        assert_eq!(field(&v, "/event/kind"), "alert", "{v}");
        assert_eq!(field(&v, "/dnssec_monitor/mode"), "enforce", "{v}");
    }
}
