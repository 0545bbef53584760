use std::path::Path;

use super::*;

const ORIGIN: &str = "/etc/dnssec-monitor/test.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_config(text, Path::new(ORIGIN))
}

fn err(text: &str) -> ConfigError {
    parse(text).expect_err("config should be refused")
}

/// The error names the key, the line, and appears so in the message.
fn assert_names(e: &ConfigError, kind: ConfigErrorKind, key: &str, line: usize) {
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!(e.key.as_deref(), Some(key), "{e}");
    assert_eq!(e.line, Some(line), "{e}");
    let shown = e.to_string();
    assert!(shown.contains(&format!(":{line}:")), "{shown}");
    assert!(shown.contains(&format!("`{key}`")), "{shown}");
}

#[test]
fn example_config_in_the_repo_is_accepted() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/dnssec-monitor.toml");
    let cfg = check_config(&path).unwrap();
    assert_eq!(cfg.metrics_listen, "127.0.0.1:9153".parse().unwrap());
    assert_eq!(cfg.resolvers, vec!["127.0.0.53:53".parse().unwrap()]);
    assert_eq!(cfg.output.target, OutputTarget::Stdout);
    assert_eq!(
        cfg.output.rotate,
        RotateOptions {
            max_bytes: 100 << 20,
            keep: 5
        }
    );
    let store = cfg.store.unwrap();
    assert_eq!(store.max_age, Some(Duration::from_secs(30 * 86_400)));
    assert_eq!(store.max_bytes, Some(1 << 30));
    assert_eq!(store.sample_per_second, 200);
}

#[test]
fn store_sample_rate_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    let ok = parse_config("[store]\npath = \"s.db\"\nsample_per_second = 0\n", &f).unwrap();
    assert_eq!(ok.store.unwrap().sample_per_second, 0);
    let dflt = parse_config("[store]\npath = \"s.db\"\n", &f).unwrap();
    assert_eq!(
        dflt.store.unwrap().sample_per_second,
        crate::config::DEFAULT_SAMPLE_PER_SECOND
    );
    for bad in ["-1", "100001", "\"fast\""] {
        let e = parse_config(
            &format!("[store]\npath = \"s.db\"\nsample_per_second = {bad}\n"),
            &f,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("store.sample_per_second") && e.line == Some(3),
            "{bad}: {e}"
        );
    }
}

/// File contents the daemon accepts: a DS trust anchor, `named.root`
/// hints, a PEM CA certificate (config validation parses all three).
const ANCHOR: &str = "example. 3600 IN DS 12345 13 2 \
    0000000000000000000000000000000000000000000000000000000000000000\n";
const HINTS: &str = ". 3600000 NS a.root-servers.net.\na.root-servers.net. 3600000 A 198.41.0.4\n";

fn ca_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

#[test]
fn empty_config_gives_the_documented_defaults() {
    assert_eq!(parse("").unwrap(), Config::default());
    assert_eq!(
        Config::default().metrics_listen.to_string(),
        DEFAULT_METRICS_LISTEN
    );
    assert_eq!(Config::default().dns_ports, vec![53]);
}

#[test]
fn a_full_config_parses_every_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("anchor.key"), ANCHOR).unwrap();
    std::fs::write(dir.path().join("root.hints"), HINTS).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem()).unwrap();
    let text = r#"
events = true
resolvers = ["192.0.2.53", "[2001:db8::53]:5353"]
validating_resolvers = ["127.0.0.1:53"]
upstream = ["198.18.0.1"]
root_hints = "root.hints"
trust_anchor = "anchor.key"
allow = ["Printer.LAN."]
metrics_listen = "[::1]:9999"
interfaces = ["eth0", "veth-lab"]
dns_ports = [53, 5353]

[output]
path = "alerts.jsonl"
rotate_bytes = 1048576
keep = 2

[store]
path = "store.db"
max_age = 3600

[[nta]]
zone = "broken.example"
expires = 2026-12-31T01:00:00+01:00

[[nta]]
zone = "old.example"

[[sink.syslog]]
transport = "tls"
address = "siem.example.net:6514"
ca_file = "ca.pem"
spool_max_bytes = "8MiB"
facility = "local3"

[[sink.syslog]]
transport = "udp"
address = "127.0.0.1:514"
spool_dir = "/tmp/spool-udp"
"#;
    let cfg = parse_config(text, &dir.path().join("c.toml")).unwrap();
    assert!(cfg.events);
    assert_eq!(
        cfg.resolvers,
        vec![
            "192.0.2.53:53".parse().unwrap(),
            "[2001:db8::53]:5353".parse().unwrap()
        ]
    );
    assert_eq!(cfg.upstream, vec!["198.18.0.1:53".parse().unwrap()]);
    assert_eq!(
        cfg.trust_anchor,
        Some(dir.path().join("anchor.key")),
        "relative to the file"
    );
    assert_eq!(cfg.allow, vec!["printer.lan"]);
    assert_eq!(
        cfg.output.target,
        OutputTarget::File(dir.path().join("alerts.jsonl"))
    );
    assert_eq!(
        cfg.output.rotate,
        RotateOptions {
            max_bytes: 1 << 20,
            keep: 2
        }
    );
    assert_eq!(
        cfg.store.as_ref().unwrap().max_age,
        Some(Duration::from_secs(3600))
    );
    assert_eq!(cfg.store.as_ref().unwrap().max_bytes, None);
    assert_eq!(
        cfg.nta[0],
        Nta {
            zone: "broken.example".into(),
            expires: Some(UNIX_EPOCH_PLUS(1_798_675_200))
        },
        "2026-12-31T00:00:00Z"
    );
    assert_eq!(cfg.nta[1].expires, None);
    let tls_sink = &cfg.syslog[0];
    assert_eq!(tls_sink.transport, TransportKind::Tls);
    assert_eq!(tls_sink.ca_file, Some(dir.path().join("ca.pem")));
    assert_eq!(tls_sink.spool_max_bytes, 8 << 20);
    assert_eq!(tls_sink.facility.code(), 19);
    assert_eq!(
        tls_sink.spool_dir,
        Path::new(DEFAULT_SPOOL_ROOT).join("tls-siem.example.net_6514")
    );
    assert_eq!(cfg.syslog[1].spool_dir, Path::new("/tmp/spool-udp"));
    assert_eq!(cfg.dns_ports, vec![53, 5353]);
    assert_eq!(cfg.interfaces, vec!["eth0", "veth-lab"]);
    assert_eq!(cfg.metrics_listen, "[::1]:9999".parse().unwrap());
}

#[allow(non_snake_case, reason = "reads like the constant it offsets")]
fn UNIX_EPOCH_PLUS(secs: u64) -> SystemTime {
    std::time::UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn unknown_top_level_key() {
    let e = err("events = true\n\nmetrics_listn = \"127.0.0.1:1\"\n");
    assert_names(&e, ConfigErrorKind::UnknownKey, "metrics_listn", 3);
}

#[test]
fn unknown_key_in_a_table_names_the_table() {
    let e = err("[output]\npath = \"-\"\nrotate = 5\n");
    assert_names(&e, ConfigErrorKind::UnknownKey, "output.rotate", 3);
    let e = err("[[sink.syslog]]\ntransport = \"tcp\"\naddress = \"a:1\"\nspool_max = 1\n");
    assert_names(&e, ConfigErrorKind::UnknownKey, "sink.syslog.spool_max", 4);
}

#[test]
fn wrong_type_names_the_key() {
    let e = err("# comment\nevents = \"yes\"\n");
    assert_names(&e, ConfigErrorKind::Syntax, "events", 2);
    let e = err("[store]\npath = \"s.db\"\nmax_bytes = true\n");
    assert_names(&e, ConfigErrorKind::Syntax, "store.max_bytes", 3);
    assert!(e.message.contains("64MiB"), "{e}");
}

#[test]
fn bad_addresses() {
    let e = err("\nmetrics_listen = \"localhost:9153\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "metrics_listen", 2);
    let e = err("resolvers = [\n  \"192.0.2.1\",\n  \"192.0.2.300\",\n]\n");
    assert_names(&e, ConfigErrorKind::BadValue, "resolvers[1]", 3);
    let e = err("[[sink.syslog]]\ntransport = \"tcp\"\naddress = \"siem.example.net\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "sink.syslog[0].address", 3);
    // The positive twin: the same shapes, valid.
    assert!(parse("metrics_listen = \"127.0.0.1:9153\"\nresolvers = [\"192.0.2.1\"]\n").is_ok());
}

#[test]
fn unreadable_files() {
    let e = err("\n\ntrust_anchor = \"/nonexistent/root.key\"\n");
    assert_names(&e, ConfigErrorKind::UnreadableFile, "trust_anchor", 3);
    assert!(e.message.contains("/nonexistent/root.key"), "{e}");
    let e = err("root_hints = \"/\"\n");
    assert_names(&e, ConfigErrorKind::UnreadableFile, "root_hints", 1);
    let e = err(
        "[[sink.syslog]]\ntransport = \"tls\"\naddress = \"a.example:6514\"\nca_file = \"/nonexistent/ca.pem\"\n",
    );
    assert_names(
        &e,
        ConfigErrorKind::UnreadableFile,
        "sink.syslog[0].ca_file",
        4,
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.key"), ANCHOR).unwrap();
    assert!(parse_config("trust_anchor = \"root.key\"\n", &dir.path().join("c.toml")).is_ok());
}

/// A file that is there but that the daemon could not use fails the
/// config check (not the daemon's start), naming the key and its line.
#[test]
fn corrupt_files_are_refused_by_the_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let at = |text: &str| parse_config(text, &dir.path().join("c.toml")).unwrap_err();
    std::fs::write(dir.path().join("garbage"), "this is not DNS data\n").unwrap();
    std::fs::write(dir.path().join("anchor.key"), ANCHOR).unwrap();
    std::fs::write(dir.path().join("root.hints"), HINTS).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem()).unwrap();
    let e = at("\ntrust_anchor = \"garbage\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "trust_anchor", 2);
    assert!(e.message.contains("garbage"), "{e}");
    // Hints where an anchor belongs, and the other way round.
    let e = at("trust_anchor = \"root.hints\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "trust_anchor", 1);
    let e = at("\n\nroot_hints = \"anchor.key\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "root_hints", 3);
    let e = at("[[zone]]\nname = \"corp.example\"\ntrust_anchor = \"garbage\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "zone[0].trust_anchor", 3);
    let e = at(
        "[[sink.syslog]]\ntransport = \"tls\"\naddress = \"a.example:6514\"\nca_file = \"garbage\"\n",
    );
    assert_names(&e, ConfigErrorKind::BadValue, "sink.syslog[0].ca_file", 4);
    // Twins with good files pass.
    assert!(
        parse_config(
            "trust_anchor = \"anchor.key\"\nroot_hints = \"root.hints\"\n[[sink.syslog]]\n\
             transport = \"tls\"\naddress = \"a.example:6514\"\nca_file = \"ca.pem\"\n",
            &dir.path().join("c.toml"),
        )
        .is_ok()
    );
}

#[test]
fn bad_values() {
    let e = err("[[sink.syslog]]\ntransport = \"relp\"\naddress = \"a:1\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "sink.syslog[0].transport", 2);
    let e =
        err("[[sink.syslog]]\ntransport = \"tcp\"\naddress = \"a:1\"\nca_file = \"/etc/hosts\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "sink.syslog[0].ca_file", 4);
    let e = err("[output]\nrotate_bytes = \"10 parsecs\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "output.rotate_bytes", 2);
    let e = err("allow = [\"ok.example\", \"bad..example\"]\n");
    assert_names(&e, ConfigErrorKind::BadValue, "allow[1]", 1);
    let e = err("[[nta]]\nzone = \"x.example\"\nexpires = 2026-12-31\n");
    assert_names(&e, ConfigErrorKind::BadValue, "nta[0].expires", 3);
    let e = err("dns_ports = [53, 0]\n");
    assert_names(&e, ConfigErrorKind::BadValue, "dns_ports[1]", 1);
    let e = err("interfaces = [\"an-interface-name-too-long\"]\n");
    assert_names(&e, ConfigErrorKind::BadValue, "interfaces[0]", 1);
    let e = err("[[sink.syslog]]\ntransport = \"udp\"\naddress = \"a:1\"\nfacility = \"mars\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "sink.syslog[0].facility", 4);
}

#[test]
fn two_sinks_cannot_share_a_spool() {
    let text = "[[sink.syslog]]\ntransport = \"udp\"\naddress = \"a:1\"\nspool_dir = \"/tmp/s\"\n\
                [[sink.syslog]]\ntransport = \"tcp\"\naddress = \"b:1\"\nspool_dir = \"/tmp/s\"\n";
    let e = err(text);
    assert_names(&e, ConfigErrorKind::BadValue, "sink.syslog[1].spool_dir", 8);
}

#[test]
fn syntax_error_has_a_line() {
    let e = err("events = true\n[output\n");
    assert_eq!(e.kind, ConfigErrorKind::Syntax);
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn unreadable_config_file() {
    let e = check_config(Path::new("/nonexistent/dnssec-monitor.toml")).unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::Read);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/dnssec-monitor.toml: "),
        "{e}"
    );
}

#[test]
fn sink_config_builds_its_transport_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[[sink.syslog]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:6514\"\nspool_max_bytes = 8192\n";
    let cfg = parse_config(text, &dir.path().join("c.toml")).unwrap();
    let t = cfg.syslog[0].build_transport().unwrap();
    assert_eq!(
        (t.kind(), t.address()),
        (TransportKind::Tcp, "127.0.0.1:6514")
    );
    assert_eq!(cfg.syslog[0].sink_options().spool.max_bytes, 8192);
    let mut with_spool = cfg.syslog[0].clone();
    with_spool.spool_dir = dir.path().join("spool");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sink = with_spool.start().unwrap();
    assert_eq!(sink.name(), "127.0.0.1:6514");
    rt.block_on(sink.shutdown(Duration::ZERO));
    let store = StoreConfig {
        path: dir.path().join("s.db"),
        max_age: None,
        max_bytes: Some(5),
        sample_per_second: 1,
    };
    assert_eq!(store.store_options().retention.max_bytes, Some(5));
}

#[test]
fn mode_and_zones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("corp.key"),
        ANCHOR.replace("example.", "corp.example."),
    )
    .unwrap();
    let cfg = parse_config(
        "mode = \"audit\"\n[[zone]]\nname = \"corp.example\"\ntrust_anchor = \"corp.key\"\n\
         upstream = [\"10.0.0.53\"]\nmode = \"enforce\"\n[[zone]]\nname = \"lab.example\"\n",
        &dir.path().join("c.toml"),
    )
    .unwrap();
    assert_eq!(cfg.mode, Mode::Audit);
    assert_eq!(cfg.zones.len(), 2);
    assert_eq!(cfg.zones[0].name, "corp.example");
    assert_eq!(cfg.zones[0].trust_anchor, Some(dir.path().join("corp.key")));
    assert_eq!(cfg.zones[0].upstream, vec!["10.0.0.53:53".parse().unwrap()]);
    assert_eq!(cfg.zones[0].mode, Some(Mode::Enforce));
    assert_eq!(cfg.zones[1].mode, None);
    assert_eq!(parse("").unwrap().mode, Mode::Enforce);
    let e = err("mode = \"loud\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "mode", 1);
    let e = err("[[zone]]\nname = \"a.example\"\n[[zone]]\nname = \"A.example\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "zone[1].name", 4);
    let e = err("[[zone]]\nname = \"a.example\"\nupstream = [\"nope\"]\n");
    assert_names(&e, ConfigErrorKind::BadValue, "zone[0].upstream[0]", 3);
    let e = err("[[zone]]\nname = \"a.example\"\ntrust_anchor = \"/nonexistent/a.key\"\n");
    assert_names(
        &e,
        ConfigErrorKind::UnreadableFile,
        "zone[0].trust_anchor",
        3,
    );
    let e = err("[[zone]]\nname = \"a.example\"\nmode = \"quiet\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "zone[0].mode", 3);
}

#[test]
fn resolver_health_table() {
    let c = parse(
        "[resolver_health]\nwindow = \"20s\"\nmin_queries = 5\ntimeout_rate = 0.4\nservfail_rate = 0\nrefused_rate = 1\n",
    )
    .unwrap();
    let h = &c.resolver_health;
    assert_eq!(h.window, Duration::from_secs(20));
    assert_eq!(h.min_queries, 5);
    assert_eq!(
        (h.timeout_rate, h.servfail_rate, h.refused_rate),
        (0.4, 0.0, 1.0)
    );
    let hc = h.health_config();
    assert_eq!((hc.window, hc.min_queries), (Duration::from_secs(20), 5));
    // Defaults when the table is absent.
    let d = parse("").unwrap().resolver_health;
    assert_eq!(d, ResolverHealthConfig::default());
    assert_eq!(d.window, Duration::from_secs(60));
    assert_eq!(
        (d.min_queries, d.timeout_rate, d.servfail_rate),
        (10, 0.5, 0.2)
    );
}

#[test]
fn resolver_health_errors_name_key_and_line() {
    let e = err("[resolver_health]\nwindow = \"1s\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "resolver_health.window", 2);
    let e = err("[resolver_health]\nwindow = \"soon\"\n");
    assert_names(&e, ConfigErrorKind::BadValue, "resolver_health.window", 2);
    let e = err("[resolver_health]\n\ntimeout_rate = 1.5\n");
    assert_names(
        &e,
        ConfigErrorKind::BadValue,
        "resolver_health.timeout_rate",
        3,
    );
    let e = err("[resolver_health]\nservfail_rate = -0.1\n");
    assert_names(
        &e,
        ConfigErrorKind::BadValue,
        "resolver_health.servfail_rate",
        2,
    );
    let e = err("[resolver_health]\nmin_queries = 0\n");
    assert_names(
        &e,
        ConfigErrorKind::BadValue,
        "resolver_health.min_queries",
        2,
    );
    let e = err("[resolver_health]\ntimeout = 0.5\n");
    assert_names(
        &e,
        ConfigErrorKind::UnknownKey,
        "resolver_health.timeout",
        2,
    );
    let e = err("[resolver_health]\nrefused_rate = \"half\"\n");
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn nice_defaults_and_range() {
    assert_eq!(parse("").unwrap().nice, super::DEFAULT_NICE);
    assert_eq!(parse("nice = 0").unwrap().nice, 0);
    assert_eq!(parse("nice = -5").unwrap().nice, -5);
    for bad in ["nice = 20", "nice = -21", "nice = 99999999999"] {
        let e = parse(bad).unwrap_err().to_string();
        assert!(e.contains("nice"), "{bad}: {e}");
        assert!(e.contains("between -20 and 19"), "{bad}: {e}");
    }
}

#[test]
fn dns_0x20_is_off_unless_set_and_reaches_the_engine() {
    assert!(!parse("").unwrap().dns_0x20);
    let cfg = parse("dns_0x20 = true").unwrap();
    assert!(cfg.dns_0x20);
    let policy = crate::detect::policy::DetectPolicy::from_config(&cfg).unwrap();
    let ec = crate::commands::run_detect::engine_config(&cfg, &policy).unwrap();
    assert!(ec.dns_0x20);
    let e = parse("dns_0x20 = \"yes\"").unwrap_err().to_string();
    assert!(e.contains("dns_0x20"), "{e}");
}

/// A `[[zone]]` trust anchor for a name outside its zone is what the daemon
/// refuses at start; the config check refuses it too, naming key and line.
#[test]
fn zone_anchor_outside_its_zone_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("other.key"), ANCHOR).unwrap();
    std::fs::write(
        dir.path().join("corp.key"),
        ANCHOR.replace("example.", "corp.example."),
    )
    .unwrap();
    let text =
        |file: &str| format!("[[zone]]\nname = \"corp.example\"\ntrust_anchor = \"{file}\"\n");
    let e = parse_config(&text("other.key"), &dir.path().join("c.toml")).unwrap_err();
    assert_names(&e, ConfigErrorKind::BadValue, "zone[0].trust_anchor", 3);
    assert!(e.message.contains("corp.example"), "{e}");
    // Its twin, at the zone's apex, passes and reaches the engine.
    let cfg = parse_config(&text("corp.key"), &dir.path().join("c.toml")).unwrap();
    let policy = crate::detect::policy::DetectPolicy::from_config(&cfg).unwrap();
    assert!(crate::commands::run_detect::engine_config(&cfg, &policy).is_ok());
}
