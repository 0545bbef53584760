//! Issue 6, acceptance 2, as root, in the attack lab: an internal zone
//! signed with its own key, anchored per zone and reachable only through a
//! configured internal upstream (the lab root does not delegate to it),
//! validates Secure (`dnssec-monitor validate --config`); the same zone,
//! broken, under an NTA raises no alert until the NTA expires, and then
//! does. Negative twins: without the per-zone settings the name does not
//! resolve (the root proves NXDOMAIN), without the anchor it is bogus.
//!
//! Needs `target/debug/dnssec-monitor` with its eBPF object (`cargo xtask
//! build`). Skipped when not root, unless DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1.

use std::time::{Duration, SystemTime};

use tests::attack::internal::{self, INTERNAL_V4};
use tests::attack::tools;
use tests::attack::topology::PLAIN_V4;
use tests::root::{required, root_or_skip};

fn mentions(alerts: &[tests::attack::Seen], zone_suffix: &str) -> Vec<String> {
    alerts
        .iter()
        .filter(|a| a.qname.ends_with(zone_suffix))
        .map(|a| format!("{} {}", a.rule, a.qname))
        .collect()
}

#[test]
fn internal_zone_anchor_upstream_and_nta_expiry() {
    let test = "internal_zone_anchor_upstream_and_nta_expiry";
    if !root_or_skip(test) {
        return;
    }
    if let Err(missing) = tools() {
        assert!(!required(), "{test}: missing tools {missing:?}");
        eprintln!("{test}: skipped: missing {missing:?}");
        return;
    }
    // Warm-up (11 s) + the validate runs + the first dig fit well in 40 s.
    let (lab, int) = internal::up(Duration::from_secs(40)).expect("lab with the internal zone");
    lab.wait_warm();

    // 1. validate with the per-zone anchor and upstream: Secure.
    let (code, v) = internal::validate(&lab, "good.corp.internal", Some(&int.zone_config)).unwrap();
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["outcome"], "secure", "{v:#}");
    assert!(v["answers"].to_string().contains("192.0.2.3"), "{v:#}");
    // Twin: the broken name of the same zone is bogus.
    let (code, v) = internal::validate(&lab, "www.corp.internal", Some(&int.zone_config)).unwrap();
    assert_eq!((code, v["outcome"].as_str()), (2, Some("bogus")), "{v:#}");
    // Twin: no per-zone anchor: the chain from the lab root does not lead there.
    let (code, v) =
        internal::validate(&lab, "good.corp.internal", Some(&int.no_anchor_config)).unwrap();
    assert_eq!((code, v["outcome"].as_str()), (2, Some("bogus")), "{v:#}");
    // Twin: no per-zone settings at all: the lab root proves NXDOMAIN.
    let (_, v) = internal::validate(&lab, "good.corp.internal", None).unwrap();
    assert_eq!(v["rcode"], "Non-Existent Domain", "{v:#}");
    assert_eq!(v["answers"].as_array().map(Vec::len), Some(0), "{v:#}");

    // 2. The broken name under the NTA: no alert.
    assert!(
        SystemTime::now() + Duration::from_secs(8) < int.nta_expires,
        "the lab took too long: the NTA is (nearly) over already"
    );
    // In the same window a broken zone without an NTA does alert: the
    // monitor is alive and judging, only the NTA zone is quiet.
    let before = lab
        .observe(1, Duration::from_secs(3), || {
            internal::dig(INTERNAL_V4, "www.corp.internal", &["+dnssec"])?;
            internal::dig(PLAIN_V4, "www.broken.test", &["+dnssec"]).map(Some)
        })
        .unwrap();
    let seen = mentions(&before.alerts, "corp.internal");
    assert!(
        seen.is_empty(),
        "alerts under the NTA: {seen:?}\n{:#?}",
        before.raw
    );
    assert_eq!(
        mentions(&before.alerts, "broken.test"),
        vec!["bogus_signature www.broken.test".to_string()],
        "the monitor must be judging meanwhile: {:#?}\nmonitor log:\n{}",
        before.raw,
        lab.monitor.log()
    );
    assert!(
        SystemTime::now() < int.nta_expires,
        "checked after the NTA ended"
    );

    // 3. After the NTA's expiry the same answer raises bogus_signature.
    if let Ok(left) = int.nta_expires.duration_since(SystemTime::now()) {
        std::thread::sleep(left + Duration::from_secs(1));
    }
    let after = lab
        .observe(1, Duration::from_secs(3), || {
            internal::dig(INTERNAL_V4, "www.corp.internal", &["+dnssec"]).map(Some)
        })
        .unwrap();
    let seen = mentions(&after.alerts, "corp.internal");
    assert_eq!(
        seen,
        vec!["bogus_signature www.corp.internal".to_string()],
        "{:#?}\nmonitor log:\n{}",
        after.raw,
        lab.monitor.log()
    );
    let a = after
        .alerts
        .iter()
        .find(|a| a.qname == "www.corp.internal")
        .unwrap();
    assert_eq!(a.process.as_deref(), Some("dig"));
    assert_eq!(a.pid, after.client_pid.map(u64::from));
    drop(lab);
}
