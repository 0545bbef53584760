//! Issue 4, acceptance 2, as root: attacks against a real signed hierarchy
//! (nsd), real resolvers (unbound, validating and plain) and a real client
//! (`dig`), each in network namespaces, with `dnssec-monitor run` on the
//! host. Every scenario must raise exactly its alerts (rule, question,
//! `dig` and its pid) and nothing else; 1,000 benign lookups raise none.
//!
//! One lab serves every test (bringing it up signs the hierarchy and waits
//! out the monitor's warm-up); tests take it in turn through a mutex, and it
//! is torn down when the test binary exits (atexit), also after failures.
//! Needs `target/debug/dnssec-monitor` built with its eBPF object
//! (`cargo xtask build`). Skipped when not root, unless
//! DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1.

use std::sync::{Mutex, MutexGuard, OnceLock};

use tests::attack::scenarios::{self, check};
use tests::attack::{Lab, tools};
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

/// The shared lab (brought up on first use), or None: skip.
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
        *g = Some(Lab::up().expect("bringing the attack lab up"));
    }
    Some(g)
}

fn scenario(name: &str) {
    let Some(g) = lab(name) else { return };
    let lab = g.as_ref().expect("lab is up");
    let s = scenarios::find(name).expect("known scenario");
    let outcome = (s.run)(lab).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    if let Err(e) = check(&outcome, s.expect) {
        panic!("{name}: {e:#}\nmonitor log:\n{}", lab.monitor.log());
    }
}

#[test]
fn bogus_signature() {
    scenario("bogus-signature");
}

#[test]
fn expired_signatures() {
    scenario("expired-signatures");
}

#[test]
fn ds_mismatch() {
    scenario("ds-mismatch");
}

#[test]
fn stripped_rrsig() {
    scenario("stripped-rrsig");
}

#[test]
fn ad_cleared() {
    scenario("ad-cleared");
}

#[test]
fn forged_a_signed() {
    scenario("forged-a-signed");
}

#[test]
fn fallback_unlisted() {
    scenario("fallback-unlisted");
}

#[test]
fn fallback_unlisted_unsigned() {
    scenario("fallback-unlisted-unsigned");
}

#[test]
fn forged_a_unsigned() {
    scenario("forged-a-unsigned");
}

#[test]
fn forged_nxdomain() {
    scenario("forged-nxdomain");
}

#[test]
fn unsolicited() {
    scenario("unsolicited");
}

/// Blind spoofing: five wrong-txid answers, then the right one, toward
/// dig's socket: one response_race, and no unsolicited_response (the
/// guesses target a socket with a query out: correlate::outstanding).
#[test]
fn response_race() {
    scenario("response-race");
}

#[test]
fn response_race_won() {
    scenario("response-race-won");
}

/// The benign twin of every scenario above: 1,000 lookups, no alert.
#[test]
fn benign_thousand() {
    let Some(g) = lab("benign_thousand") else {
        return;
    };
    let lab = g.as_ref().expect("lab is up");
    let o = scenarios::benign(lab, 1_000).unwrap_or_else(|e| panic!("benign: {e:#}"));
    check(&o, &[]).unwrap_or_else(|e| panic!("benign: {e:#}"));
}

/// The checker itself: an alert that is not expected fails it, a missing
/// one fails it, the wrong process fails it.
#[test]
fn check_is_exact() {
    use tests::attack::scenarios::Expect;
    use tests::attack::{Outcome, Seen};
    let seen = |rule: &str, pid| Seen {
        rule: rule.into(),
        qname: "www.x.test".into(),
        process: Some("dig".into()),
        pid: Some(pid),
        severity: Some("high".into()),
    };
    let want = [Expect {
        rule: "bogus_signature",
        qname: "www.x.test",
        client: true,
        severity: Some("high"),
    }];
    let o = |alerts| Outcome {
        client_pid: Some(7),
        alerts,
        raw: vec![],
    };
    assert!(check(&o(vec![seen("bogus_signature", 7)]), &want).is_ok());
    assert!(check(&o(vec![seen("bogus_signature", 8)]), &want).is_err());
    assert!(check(&o(vec![]), &want).is_err());
    assert!(
        check(
            &o(vec![seen("bogus_signature", 7), seen("answer_mismatch", 7)]),
            &want
        )
        .is_err()
    );
    assert!(check(&o(vec![seen("answer_mismatch", 7)]), &[]).is_err());
    let mut medium = seen("bogus_signature", 7);
    medium.severity = Some("medium".into());
    assert!(check(&o(vec![medium]), &want).is_err());
}
