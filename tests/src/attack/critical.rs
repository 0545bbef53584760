//! Issue 6 in the attack lab: the monitor's config lists two
//! identity-critical names, one in the unsigned zone and one in a signed
//! one, and `expiring.test.` is signed with signatures that expire two days
//! after the lab is brought up. Each function runs `dig` in the client
//! namespace and returns what the monitor said.

use anyhow::Result;

use super::scenarios::dig;
use super::topology::{STRIP_RELAY_V4, VALIDATING_V4};
use super::{Lab, Outcome};

/// The monitor's config file in the lab (the rest is on its command line).
pub const CONFIG: &str = r#"# The attack lab's identity-critical names (tests/src/attack/critical.rs).
[[critical]]
name = "idp.unsigned.test"
label = "idp"

[[critical]]
name = "idp.ecdsa.test"
label = "idp"
"#;

/// A critical name in the unsigned zone.
pub const UNSIGNED_IDP: &str = "idp.unsigned.test";
/// A critical name in a signed zone.
pub const SIGNED_IDP: &str = "idp.ecdsa.test";

const SETTLE: std::time::Duration = std::time::Duration::from_secs(3);

/// One `dig` process asking twice for the critical name in the unsigned
/// zone, through the validating resolver (which cannot protect it either).
pub fn unsigned_twice(lab: &Lab) -> Result<Outcome> {
    lab.observe(1, SETTLE, || {
        dig(VALIDATING_V4, UNSIGNED_IDP, &[UNSIGNED_IDP, "A"]).map(Some)
    })
}

/// The critical name in the signed zone, through the validating resolver
/// with DO=1: Secure and AD=1.
pub fn signed_validated(lab: &Lab) -> Result<Outcome> {
    lab.observe(0, SETTLE, || {
        dig(VALIDATING_V4, SIGNED_IDP, &["+dnssec"]).map(Some)
    })
}

/// The critical name in the signed zone through the relay that strips RRSIGs.
pub fn signed_stripped(lab: &Lab) -> Result<Outcome> {
    lab.observe(2, SETTLE, || {
        dig(STRIP_RELAY_V4, SIGNED_IDP, &["+dnssec"]).map(Some)
    })
}

/// A name of the zone whose signatures expire in two days.
pub fn expiring_zone(lab: &Lab) -> Result<Outcome> {
    lab.observe(1, SETTLE, || {
        dig(VALIDATING_V4, "www.expiring.test", &["+dnssec"]).map(Some)
    })
}

/// Answers the monitor reported to process `pid` for `qname`.
pub fn answers_seen(lab: &Lab, pid: Option<u32>, qname: &str) -> Vec<serde_json::Value> {
    let pid = pid.map(u64::from);
    lab.monitor
        .events()
        .into_iter()
        .filter(|v| {
            v.pointer("/dns/type").and_then(|t| t.as_str()) == Some("answer")
                && v.pointer("/process/pid").and_then(|p| p.as_u64()) == pid
                && v.pointer("/dns/question/name")
                    .and_then(|n| n.as_str())
                    .is_some_and(|n| n.trim_end_matches('.') == qname)
        })
        .collect()
}
