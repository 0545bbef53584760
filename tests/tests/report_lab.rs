//! Issue 6, acceptance 3 (root): `dnssec-monitor report --format html`
//! over an attack-lab run opens in headless Chromium with its tables.
//!
//! The lab's monitor gets a store and a short health window (posture is
//! written every window and at shutdown) and more critical names; a few
//! lookups and attacks run (the critical names of the lab's config, a
//! bogus zone, a stripping relay, an AD-clearing relay, a zone whose
//! signatures expire in two days); the monitor is stopped cleanly, then
//! the report is made from its store with its config.
//! `REPORT_SCREENSHOT=FILE` keeps the screenshot (docs/report.png).
//! Needs the daemon with its eBPF object and chromium. Skipped when not
//! root, unless DNSSEC_MONITOR_REQUIRE_ROOT_TESTS=1.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;
use tests::attack::{Lab, critical, scenarios, tools};
use tests::monitor::binary;
use tests::root::{required, root_or_skip};

const EXTRA: &str = r#"[resolver_health]
window = "5s"

[[critical]]
name = "www.broken.test"
label = "token-endpoint"

[[critical]]
name = "www.ed.test"
label = "secrets"

[[critical]]
name = "*.rsa-nsec3.test"
label = "mesh"

[[critical]]
name = "www.expiring.test"
label = "ca"
"#;

fn report(config: &Path, format: &str, out: &Path) -> Result<()> {
    let o = Command::new(binary())
        .args(["report", "--since", "1h", "--format", format, "--config"])
        .arg(config)
        .arg("--output")
        .arg(out)
        .output()?;
    anyhow::ensure!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Ok(())
}

fn chromium(args: &[&str], html: &Path) -> Result<std::process::Output> {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .args(args)
        .arg(format!("file://{}", html.display()))
        .output()
        .context("chromium (cargo xtask setup installs it)")
}

#[test]
fn report_over_a_lab_run_renders_in_chromium() -> Result<()> {
    let test = "report_over_a_lab_run_renders_in_chromium";
    if !root_or_skip(test) {
        return Ok(());
    }
    if let Err(missing) = tools() {
        assert!(!required(), "{test}: missing tools {missing:?}");
        return Ok(());
    }
    let mut lab = Lab::up_with(|dir| {
        let cfg = dir.join("health-extra.toml");
        let store = dir.join("store.db");
        std::fs::write(
            &cfg,
            format!("[store]\npath = \"{}\"\n\n{EXTRA}", store.display()),
        )?;
        Ok((
            vec!["--config".into(), cfg.display().to_string()],
            Vec::new(),
        ))
    })?;
    critical::unsigned_twice(&lab)?;
    critical::signed_validated(&lab)?;
    critical::signed_stripped(&lab)?;
    critical::expiring_zone(&lab)?;
    for name in ["bogus-signature", "stripped-rrsig", "ad-cleared"] {
        let s = scenarios::find(name).context("known scenario")?;
        (s.run)(&lab).with_context(|| name.to_string())?;
    }
    lab.monitor.stop()?;
    let config = lab.dir.path().join("monitor.toml");
    let out = lab.dir.path().join("report.json");
    report(&config, "json", &out)?;
    let r: Value = serde_json::from_slice(&std::fs::read(&out)?)?;
    let status = |n: &str| {
        r["names"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == n))
            .map(|x| x["status"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(
        status("idp.unsigned.test").as_deref(),
        Some("insecure"),
        "{r:#}"
    );
    assert_eq!(status("idp.ecdsa.test").as_deref(), Some("secure"), "{r:#}");
    assert_eq!(status("www.broken.test").as_deref(), Some("bogus"), "{r:#}");
    assert_eq!(
        status("www.rsa-nsec3.test").as_deref(),
        Some("secure"),
        "{r:#}"
    );
    let expiring = r["names"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "www.expiring.test"))
        .context("expiring zone listed")?;
    let days = expiring["signature_days_left"]
        .as_f64()
        .context("days left")?;
    assert!(days > 0.0 && days <= 2.1, "{expiring:#}");
    assert!(
        r["resolvers"].as_array().is_some_and(|a| a.len() >= 3),
        "validating, plain and relays: {r:#}"
    );

    let html = lab.dir.path().join("report.html");
    report(&config, "html", &html)?;
    let dom = chromium(&["--dump-dom"], &html)?;
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<table id=\"names-table\">"), "{dom}");
    assert!(dom.contains("<table id=\"resolvers-table\">"), "{dom}");
    assert!(dom.contains("<code>idp.unsigned.test</code>"), "{dom}");
    let png = lab.dir.path().join("report.png");
    let shot = chromium(
        &[
            "--hide-scrollbars",
            "--window-size=1680,1000",
            &format!("--screenshot={}", png.display()),
        ],
        &html,
    )?;
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png)?;
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    if let Ok(keep) = std::env::var("REPORT_SCREENSHOT") {
        std::fs::copy(&png, &keep)?;
        std::fs::copy(&html, format!("{keep}.html")).ok();
    }
    let left = lab.down();
    assert!(left.is_empty(), "lab leftovers: {left:?}");
    Ok(())
}
