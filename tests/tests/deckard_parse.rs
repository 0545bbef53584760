//! The Deckard parser on every shared scenario and on malformed input.

use std::path::Path;

use tests::deckard::parse::{StepKind, parse_file, parse_str};

fn shared() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance")
}

#[test]
fn every_shared_scenario_parses() {
    let mut n = 0;
    let mut errors = Vec::new();
    for dir in ["deckard-stub", "deckard-iter"] {
        let Ok(rd) = std::fs::read_dir(shared().join(dir)) else {
            panic!("{} missing", shared().join(dir).display());
        };
        for f in rd {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "rpl") {
                n += 1;
                if let Err(e) = parse_file(&p) {
                    errors.push(e.to_string());
                }
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} of {n} failed:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert!(n > 100, "only {n} scenarios found");
}

const SMALL: &str = "\
server:
\ttrust-anchor: \"example.com. IN DS 2423 7 1 EA4E6A7A91013E6852DE309CC3CB764A4D09361A\" # comment
\tval-override-date: \"20181130121906\"
\tstub-addr: 193.0.14.129 \t# K.ROOT-SERVERS.NET.
query-minimization: off
CONFIG_END

SCENARIO_BEGIN A small one
RANGE_BEGIN 0 100
\tADDRESS 193.0.14.129
ENTRY_BEGIN
MATCH opcode qtype qname
ADJUST copy_id
REPLY QR AA NOERROR
SECTION QUESTION
www.example.com. IN A
SECTION ANSWER
www.example.com. IN A 10.20.30.40 ; comment
ENTRY_END
RANGE_END
STEP 1 QUERY
ENTRY_BEGIN
REPLY RD DO
SECTION QUESTION
www.example.com. IN A
ENTRY_END
STEP 5 TIME_PASSES ELAPSE 10
STEP 10 CHECK_ANSWER
ENTRY_BEGIN
MATCH all
REPLY QR RD RA DO NOERROR
SECTION QUESTION
www.example.com. IN A
SECTION ANSWER
www.example.com. IN A 10.20.30.40
ENTRY_END
SCENARIO_END
";

#[test]
fn small_scenario_structure() {
    let s = parse_str(Path::new("small.rpl"), SMALL).unwrap();
    assert_eq!(s.config.trust_anchors.len(), 1);
    assert!(s.config.trust_anchors[0].starts_with("example.com. IN DS 2423"));
    assert_eq!(s.config.val_override, Some(1_543_580_346));
    assert_eq!(
        s.config.stub_addrs,
        vec!["193.0.14.129".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(s.config.query_minimization, Some(false));
    assert_eq!(s.ranges.len(), 1);
    assert_eq!(s.ranges[0].entries[0].answer.len(), 1);
    assert!(s.ranges[0].entries[0].adjust.copy_id);
    assert_eq!(s.steps.len(), 3);
    assert!(matches!(s.steps[1].kind, StepKind::TimePasses(10)));
    match &s.steps[2].kind {
        StepKind::CheckAnswer(e) => {
            assert!(e.matches_on("answer") && e.flags.ra && e.flags.do_ && !e.flags.ad)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_scenarios_name_the_line() {
    let cases = [
        (
            "www.example.com. IN A 10.20.30.40 ; comment",
            "www.example.com. IN A 10.20.30.400",
            18,
        ),
        ("REPLY QR AA NOERROR", "REPLY QR AA NOSUCHCODE", 14),
        ("ADJUST copy_id", "ADJUST copy_everything", 13),
        ("STEP 10 CHECK_ANSWER", "STEP 0 CHECK_ANSWER", 28),
        ("RANGE_END\n", "", 0),
        ("SCENARIO_END\n", "", 0),
    ];
    for (from, to, line) in cases {
        let text = SMALL.replacen(from, to, 1);
        let err = parse_str(Path::new("bad.rpl"), &text).expect_err(to);
        if line > 0 {
            assert_eq!(err.line, line, "{to}: {err}");
        }
        assert!(err.to_string().starts_with("bad.rpl:"), "{err}");
    }
}
