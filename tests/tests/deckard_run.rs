//! The conformance runner end to end on a few shared scenarios, each with a
//! negative twin (the same scenario with a wrong expectation must FAIL).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tests::deckard::run::{Mode, Options, Outcome, parse_exceptions, run_all, run_file};

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance")
        .join(rel)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn opts(mode: Mode) -> Options {
    Options {
        mode,
        timeout: Duration::from_secs(20),
    }
}

/// Writes `text` as `<dir>/<sub>/<name>` (the parent's name picks the mode).
fn write(dir: &Path, sub: &str, name: &str, text: &str) -> PathBuf {
    let p = dir.join(sub).join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn mode_follows_the_directory() {
    assert_eq!(
        Mode::for_path(Path::new("/x/deckard-stub/a.rpl")),
        Mode::Stub
    );
    assert_eq!(
        Mode::for_path(Path::new("/x/deckard-iter/a.rpl")),
        Mode::Iterative
    );
}

#[test]
fn secure_stub_scenario_passes_and_its_twins_fail() {
    let path = shared("deckard-stub/val_minimal_noerror.rpl");
    let text = std::fs::read_to_string(&path).expect("shared scenarios missing");
    let rt = rt();
    let r = rt.block_on(run_file(&path, &opts(Mode::Stub)));
    assert_eq!(r.outcome, Outcome::Pass, "{r}");

    let dir = tempfile::tempdir().unwrap();
    // Expect SERVFAIL (bogus) for a secure answer.
    let bogus = write(
        dir.path(),
        "stub",
        "twin_rcode.rpl",
        &text.replacen("REPLY QR AA AD DO NOERROR", "REPLY QR AA DO SERVFAIL", 1),
    );
    let r = rt.block_on(run_file(&bogus, &opts(Mode::Stub)));
    match &r.outcome {
        Outcome::Fail(why) => assert!(why.contains("expected rcode SERVFAIL got NOERROR"), "{why}"),
        o => panic!("twin must fail, got {o:?}"),
    }
    // Expect no AD (insecure) for a secure answer.
    let insecure = write(
        dir.path(),
        "stub",
        "twin_ad.rpl",
        &text.replacen("REPLY QR AA AD DO NOERROR", "REPLY QR AA DO NOERROR", 1),
    );
    let r = rt.block_on(run_file(&insecure, &opts(Mode::Stub)));
    match &r.outcome {
        Outcome::Fail(why) => assert!(why.contains("no AD got AD"), "{why}"),
        o => panic!("twin must fail, got {o:?}"),
    }
    // A trust anchor that matches nothing: the same answer is bogus.
    let anchor = write(
        dir.path(),
        "stub",
        "twin_anchor.rpl",
        &text.replacen("IN DS 49060 8 2 E7B1", "IN DS 49060 8 2 F7B1", 1),
    );
    let r = rt.block_on(run_file(&anchor, &opts(Mode::Stub)));
    assert!(
        matches!(&r.outcome, Outcome::Fail(w) if w.contains("SERVFAIL")),
        "{r}"
    );
}

#[test]
fn iterative_scenario_passes_and_its_twin_fails() {
    let path = shared("deckard-iter/iter_resolve.rpl");
    let text = std::fs::read_to_string(&path).expect("shared scenarios missing");
    let rt = rt();
    let r = rt.block_on(run_file(&path, &opts(Mode::Iterative)));
    assert_eq!(r.outcome, Outcome::Pass, "{r}");

    let dir = tempfile::tempdir().unwrap();
    let wrong = write(
        dir.path(),
        "iter",
        "twin_answer.rpl",
        &text.replacen(
            "SECTION ANSWER\nwww.example.com. IN A\t10.20.30.40\n;SECTION AUTHORITY",
            "SECTION ANSWER\nwww.example.com. IN A\t10.20.30.41\n;SECTION AUTHORITY",
            1,
        ),
    );
    assert_ne!(
        std::fs::read_to_string(&wrong).unwrap(),
        text,
        "twin not made"
    );
    let r = rt.block_on(run_file(&wrong, &opts(Mode::Iterative)));
    match &r.outcome {
        Outcome::Fail(why) => assert!(why.contains("10.20.30.41"), "{why}"),
        o => panic!("twin must fail, got {o:?}"),
    }
}

#[test]
fn unparsable_scenario_fails_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "stub",
        "broken.rpl",
        "CONFIG_END\nSCENARIO_BEGIN x\nSTEP 1 FROB\n",
    );
    let r = rt().block_on(run_file(&p, &opts(Mode::Stub)));
    match &r.outcome {
        Outcome::Fail(why) => assert!(
            why.starts_with("parse error:") && why.contains("broken.rpl:"),
            "{why}"
        ),
        o => panic!("must fail, got {o:?}"),
    }
}

#[test]
fn exceptions_skip_and_totals_count() {
    let ex = parse_exceptions(
        "# comment\nval_minimal_noerror.rpl  algorithm ring cannot verify (test)\n",
    )
    .unwrap();
    assert_eq!(ex.len(), 1);
    assert!(parse_exceptions("lonely-name-without-reason\n").is_err());
    let files = vec![
        shared("deckard-stub/val_minimal_noerror.rpl"),
        shared("deckard-iter/iter_resolve.rpl"),
    ];
    let mut lines = Vec::new();
    let totals = rt().block_on(run_all(&files, &ex, Duration::from_secs(20), 2, |r| {
        lines.push(r.to_string())
    }));
    assert_eq!(totals.to_string(), "1 passed, 0 failed, 1 skipped");
    assert_eq!(
        lines,
        vec![
            "SKIP val_minimal_noerror.rpl: algorithm ring cannot verify (test)".to_string(),
            "PASS iter_resolve.rpl".to_string(),
        ]
    );
    let none = BTreeMap::new();
    let totals = rt().block_on(run_all(&files, &none, Duration::from_secs(20), 2, |_| {}));
    assert_eq!(totals.to_string(), "2 passed, 0 failed, 0 skipped");
}
