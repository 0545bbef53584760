//! `dnssec-monitor check-config`: the binary's output and exit codes.

use std::{path::Path, process::Command};

fn check(path: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dnssec-monitor"))
        .arg("check-config")
        .arg(path)
        .output()
        .expect("run dnssec-monitor");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("dnssec-monitor.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn the_example_config_checks_ok_with_a_summary() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/dnssec-monitor.toml");
    let (code, out, err) = check(&path);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("dnssec-monitor.toml: ok ("), "{out}");
    assert!(out.contains("metrics on 127.0.0.1:9153"), "{out}");
}

#[test]
fn an_unknown_key_fails_naming_key_and_line() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "events = false\n\n[output]\npath = \"-\"\nrotat_bytes = 5\n",
    );
    let (code, out, err) = check(&p);
    assert_eq!(code, 64, "{out}{err}");
    assert!(!out.contains("ok"), "{out}");
    assert!(err.contains(":5:"), "{err}");
    assert!(err.contains("rotat_bytes"), "{err}");
}

#[test]
fn a_bad_address_fails_naming_key_and_line() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "events = true\nmetrics_listen = \"127.0.0.1:notaport\"\n",
    );
    let (code, _, err) = check(&p);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains(":2:"), "{err}");
    assert!(err.contains("`metrics_listen`"), "{err}");
}

#[test]
fn an_unreadable_trust_anchor_fails_naming_key_and_line() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "\n\n\ntrust_anchor = \"missing-anchor.key\"\n");
    let (code, _, err) = check(&p);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains(":4:"), "{err}");
    assert!(err.contains("`trust_anchor`"), "{err}");
    assert!(err.contains("missing-anchor.key"), "{err}");
}

#[test]
fn a_missing_config_file_fails() {
    let d = tempfile::tempdir().unwrap();
    let (code, out, err) = check(&d.path().join("nope.toml"));
    assert_eq!(code, 64, "{out}{err}");
    assert!(err.contains("nope.toml"), "{err}");
}
