use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::server::{Route, route};
use super::*;

/// Parse the text format into (series with labels, value), checking that
/// every sample's family has a TYPE line above it.
fn parse(text: &str) -> Vec<(String, f64)> {
    let mut typed: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.iter().any(|t| t == f))
            })
            .unwrap_or(name);
        assert_eq!(
            typed.last().map(String::as_str),
            Some(family),
            "{line}: not under its TYPE"
        );
        let v = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        out.push((series.to_owned(), v));
    }
    out
}

fn value(samples: &[(String, f64)], series: &str) -> Option<f64> {
    samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v)
}

fn sample_metrics() -> Metrics {
    let m = Metrics::new();
    m.stage_received("decode").add(10);
    m.stage_emitted("decode").add(7);
    m.stage_dropped("decode", "malformed").add(3);
    m.alerts("bogus_signature").inc();
    m.cache_entries().set(42);
    m.cache_hits().add(5);
    m.cache_misses().inc();
    let h = m.validation_seconds();
    h.observe(Duration::from_micros(50));
    h.observe(Duration::from_millis(30));
    h.observe(Duration::from_secs(60));
    m.add_collector(|| {
        ["seen", "sent"]
            .iter()
            .zip([100.0, 90.0])
            .map(|(c, v)| Sample {
                name: KERNEL_PACKETS.into(),
                help: "kernel".into(),
                kind: Kind::Counter,
                labels: vec![("counter".into(), (*c).into())],
                value: v,
            })
            .collect()
    });
    m
}

#[test]
fn encodes_every_kind_in_text_format() {
    let m = sample_metrics();
    // Same name and labels: the same series.
    m.stage_received("decode").inc();
    let s = parse(&m.encode());
    assert_eq!(
        value(&s, r#"dnssec_monitor_stage_received_total{stage="decode"}"#),
        Some(11.0)
    );
    assert_eq!(
        value(
            &s,
            r#"dnssec_monitor_stage_dropped_total{stage="decode",reason="malformed"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&s, r#"dnssec_monitor_alerts_total{rule="bogus_signature"}"#),
        Some(1.0)
    );
    assert_eq!(value(&s, "dnssec_monitor_cache_entries"), Some(42.0));
    assert_eq!(
        value(&s, r#"dnssec_monitor_kernel_packets_total{counter="sent"}"#),
        Some(90.0)
    );
    assert_eq!(
        value(
            &s,
            r#"dnssec_monitor_validation_seconds_bucket{le="0.0001"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&s, r#"dnssec_monitor_validation_seconds_bucket{le="0.05"}"#),
        Some(2.0)
    );
    assert_eq!(
        value(&s, r#"dnssec_monitor_validation_seconds_bucket{le="10"}"#),
        Some(2.0)
    );
    assert_eq!(
        value(&s, r#"dnssec_monitor_validation_seconds_bucket{le="+Inf"}"#),
        Some(3.0)
    );
    assert_eq!(
        value(&s, "dnssec_monitor_validation_seconds_count"),
        Some(3.0)
    );
    let sum = value(&s, "dnssec_monitor_validation_seconds_sum").unwrap();
    assert!((sum - 60.03005).abs() < 1e-6, "{sum}");
}

#[test]
fn label_values_are_escaped_and_bad_names_refused() {
    let m = Metrics::new();
    m.alerts("a\"b\\c\nd").inc();
    assert!(
        m.encode().contains(r#"{rule="a\"b\\c\nd"} 1"#),
        "{}",
        m.encode()
    );
    let r = m.registry();
    assert!(r.series("bad-name", "", Kind::Counter, &[]).is_err());
    assert!(
        r.series("ok", "", Kind::Counter, &[("bad:label", "v")])
            .is_err()
    );
    r.series("ok", "", Kind::Counter, &[]).unwrap();
    assert!(
        r.series("ok", "", Kind::Gauge, &[]).is_err(),
        "kind mismatch"
    );
}

#[test]
fn routes_only_get_metrics() {
    assert_eq!(
        route("GET /metrics HTTP/1.1"),
        Some(Route::Metrics { head_only: false })
    );
    assert_eq!(
        route("GET /metrics?x=1 HTTP/1.0"),
        Some(Route::Metrics { head_only: false })
    );
    assert_eq!(
        route("HEAD /metrics HTTP/1.1"),
        Some(Route::Metrics { head_only: true })
    );
    assert_eq!(route("GET / HTTP/1.1"), Some(Route::NotFound));
    assert_eq!(route("POST /metrics HTTP/1.1"), Some(Route::NotFound));
    assert_eq!(route("GET /metrics"), None);
    assert_eq!(route("GET /metrics SPDY/3"), None);
}

async fn http(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("server answers and closes")
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn server_scrape_and_refusals() {
    let server = server::start("127.0.0.1:0".parse().unwrap(), sample_metrics())
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);

    let r = http(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (head, body) = r.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    let s = parse(body);
    assert_eq!(value(&s, "dnssec_monitor_cache_hits_total"), Some(5.0));

    let r = http(addr, b"GET /other HTTP/1.1\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    let r = http(addr, b"garbage\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', server::MAX_REQUEST + 10));
    let r = http(addr, &big).await;
    assert!(r.starts_with("HTTP/1.1 431"), "{r}");
}

#[tokio::test]
async fn a_silent_client_is_timed_out() {
    let server = server::start("127.0.0.1:0".parse().unwrap(), Metrics::new())
        .await
        .unwrap();
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\n").await.unwrap(); // never ends the head
    let mut out = Vec::new();
    // Real time: the server gives up after READ_TIMEOUT (5 s).
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .expect("closed after the read timeout")
        .unwrap();
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 408"));
}
