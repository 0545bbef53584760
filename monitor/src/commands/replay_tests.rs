//! Golden test: a pcap built here (hickory messages in real frames) goes
//! through the replay path; the JSON must say exactly what was on the wire.

use std::io::Cursor;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use super::*;
use crate::decode::build;
use crate::detect::lab::{self, Lab};
use crate::dnssec::testnet::name;

fn t(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_764_000_000_000 + ms)
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn golden_pcap() -> Vec<u8> {
    let (c4, s4) = (sa("198.18.0.10:40000"), sa("198.18.0.53:53"));
    let (c6, s6) = (sa("[fd00::10]:40001"), sa("[fd00::53]:53"));
    let q = build::dns_query(0x1111, "alias.example.test.", RecordType::A);
    let a = build::dns_answer_cname_a(
        0x1111,
        "alias.example.test.",
        "real.example.test.",
        "198.18.1.1".parse().unwrap(),
    );
    let q6 = build::dns_query(0x2222, "v6.example.test.", RecordType::AAAA);
    let a6 = build::dns_answer_a(0x2222, "v6.example.test.", &["fd00::1:1".parse().unwrap()]);
    let qt = build::tcp_framed(&build::dns_query(
        0x3333,
        "txt.example.test.",
        RecordType::TXT,
    ));
    let at = build::tcp_framed(&build::dns_answer_txt(
        0x3333,
        "txt.example.test.",
        &["hello world".into(), "x\"y".into()],
    ));
    let (tc, ts) = (sa("198.18.0.10:40002"), s4);
    let frames = vec![
        build::udp_frame(c4, s4, &q),
        build::udp_frame(sa("198.18.0.10:123"), sa("198.18.0.1:123"), b"ntp, not dns"),
        build::udp_frame(s4, c4, &a),
        build::udp_frame(c6, s6, &q6),
        build::udp_frame(s6, c6, &a6),
        build::tcp_frame(tc, ts, 10, build::TCP_SYN, b""),
        build::tcp_frame(ts, tc, 90, build::TCP_SYN | 0x10, b""),
        build::tcp_frame(tc, ts, 11, build::TCP_PSH_ACK, &qt),
        build::tcp_frame(ts, tc, 91, build::TCP_PSH_ACK, &at[..20]),
        build::tcp_frame(ts, tc, 91 + 20, build::TCP_PSH_ACK, &at[20..]),
    ];
    let packets: Vec<_> = frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| (t(i as u64), f))
        .collect();
    build::pcap_file(1, &packets)
}

/// An event line as the JSON document `main` writes for it.
fn event_doc(l: EventLine<'_>) -> Value {
    match l {
        EventLine::Message(e) => e.to_ecs(),
        EventLine::Rendered(b) => serde_json::from_slice(b).expect("a JSON line"),
    }
}

/// The event lines of `pcap` (as `--events` writes them) and the summary,
/// through a detector over the test hierarchy that allow-lists the golden
/// names (no verdict is sought: these tests are about decoding).
async fn run(pcap: Vec<u8>) -> (Vec<Value>, ReplaySummary) {
    let mut p = lab::policy();
    p.allow.push(name("example.test."));
    let mut lab = Lab::new(p);
    let mut docs = Vec::new();
    let mut alerts = Vec::new();
    let src = PcapSource::new(Cursor::new(pcap)).unwrap();
    let mut on_alert = |a: &Alert| {
        alerts.push(a.rule);
        Ok(())
    };
    let mut on_event = |l: EventLine<'_>| {
        docs.push(event_doc(l));
        Ok(())
    };
    let out = ReplayOutput {
        alert: &mut on_alert,
        event: Some(&mut on_event),
        transactions: None,
    };
    let summary = replay(src, DecodeLimits::default(), &mut lab.det, out)
        .await
        .unwrap();
    assert!(alerts.is_empty(), "{alerts:?}");
    assert_eq!(summary.alerts_total(), 0);
    (docs, summary)
}

#[tokio::test]
async fn golden_replay() {
    let (docs, summary) = run(golden_pcap()).await;
    assert_eq!(docs.len(), 6, "{docs:#?}");
    assert_eq!(summary.events, 6);
    assert_eq!(summary.counters.packets, 10);
    assert_eq!(summary.counters.not_dns, 1);
    assert!(summary.stopped_by.is_none());

    // UDP/IPv4 query.
    let q = &docs[0];
    assert_eq!(q["@timestamp"], "2025-11-24T16:00:00.000000Z");
    assert_eq!(q["dns"]["type"], "query");
    assert_eq!(q["dns"]["id"], 0x1111);
    assert_eq!(q["dns"]["header_flags"], json!(["RD", "DO"]));
    assert_eq!(
        q["dns"]["question"],
        json!({"name": "alias.example.test", "type": "A", "class": "IN"})
    );
    assert_eq!(q["source"], json!({"ip": "198.18.0.10", "port": 40000}));
    assert_eq!(q["destination"], json!({"ip": "198.18.0.53", "port": 53}));
    assert_eq!(q["network"]["transport"], "udp");
    assert!(q.get("process").is_none());

    // Its answer: same source/destination, CNAME chain in presentation format.
    let a = &docs[1];
    assert_eq!(a["dns"]["type"], "answer");
    assert_eq!(a["dns"]["response_code"], "NOERROR");
    assert_eq!(a["dns"]["header_flags"], json!(["RD", "RA"]));
    assert_eq!(a["source"], q["source"]);
    assert_eq!(a["destination"], q["destination"]);
    assert_eq!(
        a["dns"]["answers"],
        json!([
            {"name": "alias.example.test", "type": "CNAME", "class": "IN", "ttl": 300, "data": "real.example.test"},
            {"name": "real.example.test", "type": "A", "class": "IN", "ttl": 300, "data": "198.18.1.1"},
        ])
    );
    assert_eq!(a["dns"]["resolved_ip"], json!(["198.18.1.1"]));

    // UDP/IPv6 answer.
    let a6 = &docs[3];
    assert_eq!(a6["network"]["type"], "ipv6");
    assert_eq!(a6["source"], json!({"ip": "fd00::10", "port": 40001}));
    assert_eq!(a6["dns"]["answers"][0]["data"], "fd00::1:1");
    assert_eq!(a6["dns"]["question"]["type"], "AAAA");

    // TCP query and an answer split across segments.
    let (tq, ta) = (&docs[4], &docs[5]);
    assert_eq!(tq["network"]["transport"], "tcp");
    assert_eq!(tq["dns"]["type"], "query");
    assert_eq!(ta["dns"]["type"], "answer");
    assert_eq!(ta["source"], json!({"ip": "198.18.0.10", "port": 40002}));
    assert_eq!(ta["dns"]["answers"][0]["data"], r#""hello world" "x\"y""#);
    assert_eq!(ta["dns"]["id"], 0x3333);
}

#[tokio::test]
async fn nothing_but_noise_gives_no_events() {
    let frames = vec![
        (
            t(0),
            build::udp_frame(sa("198.18.0.1:5000"), sa("198.18.0.2:6000"), b"x"),
        ),
        (t(1), vec![0u8; 5]),
    ];
    let (docs, summary) = run(build::pcap_file(1, &frames)).await;
    assert!(docs.is_empty());
    assert_eq!(summary.counters.packets, 2);
    assert_eq!(
        (summary.counters.not_dns, summary.counters.malformed_l2),
        (1, 1)
    );
}

#[tokio::test]
async fn cut_short_file_reports_where_it_stopped() {
    let mut pcap = golden_pcap();
    pcap.truncate(pcap.len() - 5);
    let (docs, summary) = run(pcap).await;
    assert_eq!(docs.len(), 5); // the last TCP segment is gone
    assert!(
        summary
            .stopped_by
            .as_deref()
            .unwrap()
            .starts_with("packet 10")
    );
    assert!(
        summary.counters.tcp_incomplete >= 1,
        "{:?}",
        summary.counters
    );
    assert!(format_summary(&summary).contains("stopped early"));
}

/// `main`'s detection options: the golden names allow-listed (no verdict,
/// so no network), `--events` as given.
fn detect_args(events: bool) -> DetectArgs {
    DetectArgs {
        allow: vec!["example.test".into()],
        events,
        ..DetectArgs::default()
    }
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn main_with_events_writes_event_lines_and_exits_zero() {
    let dir = std::env::temp_dir().join(format!("replay-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.pcap");
    let output = dir.join("out.jsonl");
    std::fs::write(&input, golden_pcap()).unwrap();
    let code = main(ReplayArgs {
        file: input.clone(),
        output: output.to_string_lossy().into_owned(),
        dns_ports: vec![],
        offline: false,
        detect: detect_args(true),
    })
    .unwrap();
    assert_eq!(code, 0);
    let docs = lines(&output);
    assert_eq!(docs.len(), 6);
    assert_eq!(docs[0]["dns"]["question"]["name"], "alias.example.test");
    // Without --events the same file gives no line: nothing to alert on.
    let quiet = dir.join("quiet.jsonl");
    let code = main(ReplayArgs {
        file: input.clone(),
        output: quiet.to_string_lossy().into_owned(),
        dns_ports: vec![],
        offline: false,
        detect: detect_args(false),
    })
    .unwrap();
    assert_eq!(code, 0);
    assert!(lines(&quiet).is_empty());
    // A non-capture file is a clear error.
    std::fs::write(&input, b"definitely not a pcap").unwrap();
    let err = main(ReplayArgs {
        file: input,
        output: "-".into(),
        dns_ports: vec![],
        offline: false,
        detect: detect_args(false),
    })
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("not a pcap or pcapng file"),
        "{err:#}"
    );
    // So is a bad detection option, as for `run`.
    let err = main(ReplayArgs {
        file: dir.join("in.pcap"),
        output: "-".into(),
        dns_ports: vec![],
        offline: false,
        detect: DetectArgs {
            resolvers: vec!["not-an-address".into()],
            ..DetectArgs::default()
        },
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("not-an-address"), "{err:#}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `main` end to end with the daemon's own detector (default options):
/// an answer nobody asked for is an alert line, but not within the
/// warm-up after the file's first message (its query may predate the
/// capture), exactly as for live capture. Neither needs a verdict.
#[test]
fn main_writes_alert_lines_after_the_warm_up() {
    let dir = std::env::temp_dir().join(format!("replay-alerts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (c, s) = (sa("198.18.0.10:40000"), sa("198.18.0.53:53"));
    let spoof = |id| build::dns_answer_a(id, "spoof.other.test.", &["192.0.2.66".parse().unwrap()]);
    let q = build::dns_query(0x1111, "www.example.test.", RecordType::A);
    let a = build::dns_answer_a(
        0x1111,
        "www.example.test.",
        &["198.18.1.1".parse().unwrap()],
    );
    let frames = vec![
        (t(0), build::udp_frame(c, s, &q)),
        (t(5), build::udp_frame(s, c, &a)),
        // 2 s into the capture: inside the 10 s warm-up.
        (t(2_000), build::udp_frame(s, c, &spoof(0x2222))),
        // 20 s in: unsolicited.
        (t(20_000), build::udp_frame(s, c, &spoof(0x3333))),
    ];
    let input = dir.join("in.pcap");
    let output = dir.join("alerts.jsonl");
    std::fs::write(&input, build::pcap_file(1, &frames)).unwrap();
    let code = main(ReplayArgs {
        file: input,
        output: output.to_string_lossy().into_owned(),
        dns_ports: vec![],
        offline: false,
        detect: detect_args(false),
    })
    .unwrap();
    assert_eq!(code, 0);
    let docs = lines(&output);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["rule"]["name"], "unsolicited_response");
    assert_eq!(docs[0]["event"]["kind"], "alert");
    assert_eq!(docs[0]["dns"]["id"], 0x3333);
    assert_eq!(docs[0]["dns"]["question"]["name"], "spoof.other.test");
    assert_eq!(docs[0]["@timestamp"], "2025-11-24T16:00:20.000000Z");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cut_short_file_exits_one() {
    let dir = std::env::temp_dir().join(format!("replay-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut pcap = golden_pcap();
    pcap.truncate(pcap.len() - 5);
    let input = dir.join("cut.pcap");
    std::fs::write(&input, pcap).unwrap();
    let code = main(ReplayArgs {
        file: input,
        output: dir.join("out.jsonl").to_string_lossy().into_owned(),
        dns_ports: vec![],
        offline: false,
        detect: detect_args(false),
    })
    .unwrap();
    assert_eq!(code, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[path = "replay_detect_tests.rs"]
mod detection;
