//! ECS rendering tests.

use std::time::Duration;

use hickory_proto::rr::RecordType;

use super::*;
use crate::decode::{DecodeLimits, Decoder, build};
use serde_json::json;

fn t(micros: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros)
}

/// Decode `dns` as a UDP message from `src` to `dst`.
fn decode(src: &str, dst: &str, dns: &[u8]) -> DnsMessage {
    let mut d = Decoder::new(DecodeLimits::default());
    let mut out = Vec::new();
    let frame = build::udp_frame(src.parse().unwrap(), dst.parse().unwrap(), dns);
    d.push(
        &build::captured(
            crate::capture::LinkType::Ethernet,
            frame,
            t(1_700_000_000_123_456),
        ),
        &mut out,
    );
    assert_eq!(out.len(), 1, "{:?}", d.counters());
    out.pop().unwrap()
}

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(has_null),
        Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

#[test]
fn query_event_is_oriented_client_to_server() {
    let q = build::dns_query(0xbeef, "www.example.test.", RecordType::A);
    let e = DnsEvent::from_message(decode("198.18.0.10:40000", "198.18.0.53:53", &q), None);
    assert_eq!(e.kind, DnsKind::Query);
    let j = e.to_ecs();
    assert_eq!(j["@timestamp"], "2023-11-14T22:13:20.123456Z");
    assert_eq!(j["event"]["kind"], "event");
    assert_eq!(j["event"]["category"], json!(["network"]));
    assert_eq!(j["dns"]["type"], "query");
    assert_eq!(j["dns"]["id"], 0xbeef);
    assert_eq!(j["dns"]["op_code"], "QUERY");
    assert_eq!(j["dns"]["header_flags"], json!(["RD", "DO"]));
    assert!(j["dns"].get("response_code").is_none());
    assert!(j["dns"].get("answers").is_none());
    assert_eq!(
        j["dns"]["question"],
        json!({"name": "www.example.test", "type": "A", "class": "IN"})
    );
    assert_eq!(j["source"], json!({"ip": "198.18.0.10", "port": 40000}));
    assert_eq!(j["destination"], json!({"ip": "198.18.0.53", "port": 53}));
    assert_eq!(j["network"]["transport"], "udp");
    assert_eq!(j["network"]["type"], "ipv4");
    for absent in ["process", "user", "container", "observer"] {
        assert!(j.get(absent).is_none(), "{absent} should be omitted");
    }
    assert!(!has_null(&j));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(j["dnssec_monitor"]["raw"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, q);
}

#[test]
fn answer_event_keeps_client_as_source() {
    let a = build::dns_answer_a(
        7,
        "v6.example.test.",
        &["fd00::1:1".parse().unwrap(), "fd00::2".parse().unwrap()],
    );
    let e = DnsEvent::from_message(decode("[fd00::53]:53", "[fd00::10]:40001", &a), None);
    assert_eq!(e.kind, DnsKind::Answer);
    let j = e.to_ecs();
    assert_eq!(j["dns"]["type"], "answer");
    assert_eq!(j["dns"]["response_code"], "NOERROR");
    assert_eq!(j["dns"]["header_flags"], json!(["RD", "RA"]));
    assert_eq!(j["source"], json!({"ip": "fd00::10", "port": 40001}));
    assert_eq!(j["destination"], json!({"ip": "fd00::53", "port": 53}));
    assert_eq!(j["network"]["type"], "ipv6");
    assert_eq!(j["dns"]["resolved_ip"], json!(["fd00::1:1", "fd00::2"]));
    assert_eq!(
        j["dns"]["answers"][0],
        json!({"name": "v6.example.test", "type": "AAAA", "class": "IN", "ttl": 300, "data": "fd00::1:1"})
    );
    assert!(!has_null(&j));
}

#[test]
fn cname_and_txt_answers_in_presentation_format() {
    let a = build::dns_answer_cname_a(
        1,
        "alias.example.test.",
        "real.example.test.",
        "198.18.1.1".parse().unwrap(),
    );
    let j =
        DnsEvent::from_message(decode("198.18.0.53:53", "198.18.0.10:40000", &a), None).to_ecs();
    assert_eq!(j["dns"]["answers"][0]["type"], "CNAME");
    assert_eq!(j["dns"]["answers"][0]["data"], "real.example.test");
    assert_eq!(j["dns"]["answers"][1]["name"], "real.example.test");
    assert_eq!(j["dns"]["answers"][1]["data"], "198.18.1.1");
    assert_eq!(j["dns"]["resolved_ip"], json!(["198.18.1.1"]));

    let a = build::dns_answer_txt(2, "t.example.test.", &["v=spf1 -all".into(), "two".into()]);
    let j =
        DnsEvent::from_message(decode("198.18.0.53:53", "198.18.0.10:40000", &a), None).to_ecs();
    assert_eq!(j["dns"]["answers"][0]["data"], r#""v=spf1 -all" "two""#);
    assert!(j["dns"].get("resolved_ip").is_none());
}

#[test]
fn nxdomain_answer_has_rcode_and_no_answers() {
    let mut m = Message::new(3, MessageType::Response, hickory_proto::op::OpCode::Query);
    m.metadata.response_code = hickory_proto::op::ResponseCode::NXDomain;
    m.metadata.authoritative = true;
    m.add_query(hickory_proto::op::Query::query(
        hickory_proto::rr::Name::from_ascii("nope.example.test.").unwrap(),
        RecordType::A,
    ));
    let j = DnsEvent::from_message(
        decode("198.18.0.53:53", "198.18.0.10:40000", &m.to_vec().unwrap()),
        None,
    )
    .to_ecs();
    assert_eq!(j["dns"]["response_code"], "NXDOMAIN");
    assert_eq!(j["dns"]["header_flags"], json!(["AA"]));
    assert!(j["dns"].get("answers").is_none());
}

#[test]
fn process_interface_and_container_fields() {
    let q = build::dns_query(1, "p.example.test.", RecordType::A);
    let mut msg = decode("198.18.0.10:40000", "198.18.0.53:53", &q);
    msg.interface = Some(InterfaceRef {
        index: 4,
        name: "veth0".into(),
        direction: Direction::Egress,
        side: crate::capture::Side::Unknown,
    });
    let p = ProcessInfo {
        pid: 4242,
        tid: 4243,
        uid: 1000,
        name: "dig".into(),
        cgroup_id: 99,
        container_id: Some("0123456789ab".into()),
    };
    let j = DnsEvent::from_message(msg.clone(), Some(p.clone().into())).to_ecs();
    assert_eq!(
        j["process"],
        json!({"pid": 4242, "name": "dig", "thread": {"id": 4243}})
    );
    assert_eq!(j["user"]["id"], "1000");
    assert_eq!(j["container"]["id"], "0123456789ab");
    assert_eq!(j["observer"]["egress"]["interface"]["name"], "veth0");
    assert!(j["observer"].get("ingress").is_none());

    msg.interface.as_mut().unwrap().direction = Direction::Ingress;
    let j = DnsEvent::from_message(
        msg,
        Some(
            ProcessInfo {
                container_id: None,
                ..p
            }
            .into(),
        ),
    )
    .to_ecs();
    assert_eq!(j["observer"]["ingress"]["interface"]["name"], "veth0");
    assert!(j.get("container").is_none());
}

#[test]
fn rfc3339_dates() {
    assert_eq!(rfc3339_micros(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    assert_eq!(
        rfc3339_micros(t(951_782_400_000_001)),
        "2000-02-29T00:00:00.000001Z"
    );
    assert_eq!(
        rfc3339_micros(t(4_102_444_799_999_999)),
        "2099-12-31T23:59:59.999999Z"
    );
    assert_eq!(
        rfc3339_micros(UNIX_EPOCH - Duration::from_secs(5)),
        "1970-01-01T00:00:00.000000Z"
    );
}

#[test]
fn direct_serialisation_matches_value_and_starts_with_timestamp() {
    let a = build::dns_answer_cname_a(
        1,
        "alias.example.test.",
        "real.example.test.",
        "198.18.1.1".parse().unwrap(),
    );
    let mut msg = decode("198.18.0.53:53", "198.18.0.10:40000", &a);
    msg.interface = Some(InterfaceRef {
        index: 2,
        name: "eth0".into(),
        direction: Direction::Ingress,
        side: crate::capture::Side::Unknown,
    });
    let e = DnsEvent::from_message(msg, None);
    let text = serde_json::to_string(&e.ecs()).unwrap();
    assert!(text.starts_with("{\"@timestamp\":"), "{text}");
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, e.to_ecs());
    assert_eq!(back["observer"]["ingress"]["interface"]["id"], "2");
}

#[test]
fn event_is_cheap_to_move() {
    // Events are moved by value through batches and channels: what is
    // large (the parsed message, 150 bytes and more) stays behind a pointer.
    assert!(std::mem::size_of::<DnsEvent>() <= 192);
    assert!(std::mem::size_of::<crate::decode::DnsMessage>() <= 192);
    // Cloning shares the bytes and the process instead of copying them.
    let q = build::dns_query(1, "p.example.test.", RecordType::A);
    let p = Arc::new(ProcessInfo {
        pid: 1,
        tid: 1,
        uid: 0,
        name: "dig".into(),
        cgroup_id: 0,
        container_id: None,
    });
    let e = DnsEvent::from_message(
        decode("198.18.0.10:40000", "198.18.0.53:53", &q),
        Some(p.clone()),
    );
    let c = e.clone();
    assert!(Arc::ptr_eq(c.raw.body(), e.raw.body()));
    assert!(Arc::ptr_eq(c.process.as_ref().unwrap(), &p));
}

#[test]
fn rfc3339_digits_match_the_formatted_reference() {
    // The digit writer against `format!` over times spread across four
    // centuries (every field's carry: seconds, minutes, hours, days, leap
    // years) and past year 9999 (the formatted fallback).
    // The calendar fields themselves are pinned by `rfc3339_dates`.
    let reference = |t: SystemTime| {
        let c = crate::event::civil(t);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            c.year, c.month, c.day, c.h, c.min, c.sec, c.us
        )
    };
    let mut us: u64 = 0;
    while us < 13_000_000_000_000_000 {
        let t = UNIX_EPOCH + Duration::from_micros(us);
        assert_eq!(rfc3339_micros(t), reference(t), "{us} µs");
        us = us * 3 / 2 + 999_983;
    }
    let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
    assert_eq!(rfc3339_micros(far), reference(far));
    assert!(rfc3339_micros(far).starts_with("11476-"));
}

#[test]
fn served_answers_are_marked() {
    use crate::capture::Side;
    let a = build::dns_answer_a(7, "s.example.test.", &["192.0.2.7".parse().unwrap()]);
    let on = |side, direction| {
        let mut msg = decode("198.18.0.53:53", "198.18.0.10:40000", &a);
        msg.interface = Some(InterfaceRef {
            index: 4,
            name: "eth0".into(),
            direction,
            side,
        });
        DnsEvent::from_message(msg, None).to_ecs()
    };
    // Leaving through a NIC: a server here answering another machine.
    let j = on(Side::Network, Direction::Egress);
    assert_eq!(j["dnssec_monitor"]["served"], true, "{j}");
    // Arriving through it, or leaving toward a guest: received here.
    for (side, dir) in [
        (Side::Network, Direction::Ingress),
        (Side::Guests, Direction::Egress),
        (Side::Loopback, Direction::Egress),
    ] {
        let j = on(side, dir);
        assert!(
            j["dnssec_monitor"].get("served").is_none(),
            "{side:?} {dir:?}: {j}"
        );
    }
}

#[test]
fn event_objects_render_once_per_shape_as_they_would_field_by_field() {
    for dataset in [None, Some("dnssec_monitor.transaction"), Some("other")] {
        for outcome in [None, Some("failure"), Some("unknown")] {
            let e = EcsEventField {
                kind: "event",
                category: ["network"],
                r#type: ["protocol"],
                dataset,
                outcome,
            };
            let cached = event_object_json(&e).is_some();
            assert_eq!(
                cached,
                dataset != Some("other") && outcome != Some("unknown"),
                "{dataset:?} {outcome:?}"
            );
            let got = serde_json::to_string(&e).unwrap();
            let want = serde_json::to_string(&e.plain()).unwrap();
            assert_eq!(got, want);
            let v: Value = serde_json::from_str(&got).unwrap();
            assert_eq!(v["kind"], "event");
            assert_eq!(v.get("dataset").and_then(Value::as_str), dataset);
            assert_eq!(v.get("outcome").and_then(Value::as_str), outcome);
            // Through a `Value` too (`DnsEvent::to_ecs`).
            assert_eq!(serde_json::to_value(&e).unwrap(), v);
        }
    }
}

#[test]
fn timestamps_are_rfc3339_with_microseconds() {
    assert_eq!(rfc3339_micros(t(1_500_000)), "1970-01-01T00:00:01.500000Z");
    assert_eq!(
        rfc3339_micros(UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_micros(7)),
        "2023-11-14T22:13:20.000007Z"
    );
}
