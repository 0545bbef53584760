//! monitor/dist/dnssec-monitor.service: the key lines are there, and
//! `systemd-analyze verify` accepts it (with the binary path pointed at
//! the one cargo built) without a single warning.

use std::{path::Path, process::Command};

use clap::Parser;

fn unit() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/dnssec-monitor.service"),
    )
    .unwrap()
}

/// `Key=value` lines of section `[section]` (comments skipped).
fn keys(text: &str, section: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut out = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            current = s.to_owned();
            continue;
        }
        let (k, v) = l
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {l}"));
        if current == section {
            out.push((k.to_owned(), v.to_owned()));
        }
    }
    out
}

fn get<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[test]
fn unit_has_the_hardening_and_daemon_lines() {
    let s = keys(&unit(), "Service");
    assert_eq!(
        get(&s, "ExecStart"),
        Some("/usr/local/bin/dnssec-monitor run --config /etc/dnssec-monitor/dnssec-monitor.toml")
    );
    // The daemon accepts the command line the unit gives it.
    let argv = get(&s, "ExecStart").unwrap().split(' ');
    assert!(monitor::cli::Cli::try_parse_from(argv).is_ok());
    let check = get(&s, "ExecStartPre").unwrap().split(' ');
    assert!(monitor::cli::Cli::try_parse_from(check).is_ok());
    assert!(
        monitor::cli::Cli::try_parse_from(["dnssec-monitor", "run", "--no-such-flag"]).is_err()
    );
    assert_eq!(get(&s, "ExecReload"), Some("/bin/kill -HUP $MAINPID"));
    assert_eq!(get(&s, "Restart"), Some("on-failure"));
    assert_eq!(get(&s, "ProtectSystem"), Some("strict"));
    assert_eq!(get(&s, "NoNewPrivileges"), Some("yes"));
    assert_eq!(get(&s, "StateDirectory"), Some("dnssec-monitor"));
    assert!(
        get(&s, "ReadWritePaths")
            .unwrap()
            .contains("/var/lib/dnssec-monitor")
    );
    let caps: Vec<&str> = get(&s, "CapabilityBoundingSet")
        .unwrap()
        .split(' ')
        .collect();
    for c in ["CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"] {
        assert!(caps.contains(&c), "{caps:?}");
    }
    assert!(!caps.contains(&"CAP_SYS_ADMIN"), "{caps:?}");
    assert_eq!(
        get(&s, "AmbientCapabilities"),
        get(&s, "CapabilityBoundingSet")
    );
    assert_eq!(
        get(&keys(&unit(), "Install"), "WantedBy"),
        Some("multi-user.target")
    );
}

fn verify(text: &str) -> Option<(bool, String)> {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        return None;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("dnssec-monitor.service");
    std::fs::write(
        &p,
        text.replace(
            "/usr/local/bin/dnssec-monitor",
            env!("CARGO_BIN_EXE_dnssec-monitor"),
        ),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&p)
        .output()
        .unwrap();
    let msgs =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    Some((out.status.success(), msgs))
}

#[test]
fn systemd_analyze_verify_accepts_it_cleanly() {
    let Some((ok, msgs)) = verify(&unit()) else {
        eprintln!("systemd-analyze missing: skipped");
        return;
    };
    assert!(ok, "{msgs}");
    assert!(!msgs.contains("dnssec-monitor.service"), "warnings: {msgs}");
}

#[test]
fn systemd_analyze_verify_flags_a_misspelt_key() {
    let Some((_, msgs)) = verify(&unit().replace("ProtectSystem=", "ProtectSystm=")) else {
        return;
    };
    assert!(msgs.contains("Unknown key 'ProtectSystm'"), "{msgs}");
}
