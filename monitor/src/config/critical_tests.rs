use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::{Config, ConfigError, ConfigErrorKind, parse_config};

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_config(text, Path::new("/etc/dnssec-monitor/test.toml"))
}

fn refused(text: &str, key: &str, line: usize) -> ConfigError {
    let e = parse(text).expect_err("config should be refused");
    assert_eq!(e.kind, ConfigErrorKind::BadValue, "{e}");
    assert_eq!(e.key.as_deref(), Some(key), "{e}");
    assert_eq!(e.line, Some(line), "{e}");
    e
}

#[test]
fn entries_parse_with_their_defaults() {
    let cfg = parse(
        r#"
signature_expiry_window = "7d"

[[critical]]
name = "Login.Example.COM."
label = "idp"

[[critical]]
name = "*.vault.example.com"
label = "secrets"
require = "any"
"#,
    )
    .unwrap();
    assert_eq!(
        cfg.critical,
        vec![
            CriticalName {
                name: "login.example.com".into(),
                label: "idp".into(),
                require: Require::Secure,
            },
            CriticalName {
                name: "*.vault.example.com".into(),
                label: "secrets".into(),
                require: Require::Any,
            },
        ]
    );
    assert_eq!(cfg.signature_expiry_window, Duration::from_secs(7 * 86_400));
}

#[test]
fn defaults_without_entries() {
    let cfg = parse("").unwrap();
    assert!(cfg.critical.is_empty());
    assert_eq!(cfg.signature_expiry_window, DEFAULT_SIGNATURE_EXPIRY_WINDOW);
    assert_eq!(
        parse("signature_expiry_window = 0")
            .unwrap()
            .signature_expiry_window,
        Duration::ZERO
    );
}

#[test]
fn bad_entries_name_key_and_line() {
    refused(
        "[[critical]]\nname = \"login.example.com\"\nlabel = \"idp\"\nrequire = \"strict\"\n",
        "critical[0].require",
        4,
    );
    refused(
        "[[critical]]\nname = \"a..b\"\nlabel = \"idp\"\n",
        "critical[0].name",
        2,
    );
    refused(
        "[[critical]]\nname = \"login.*.example.com\"\nlabel = \"idp\"\n",
        "critical[0].name",
        2,
    );
    refused(
        "[[critical]]\nname = \"*.\"\nlabel = \"idp\"\n",
        "critical[0].name",
        2,
    );
    refused(
        "[[critical]]\nname = \"x.example\"\nlabel = \"has space\"\n",
        "critical[0].label",
        3,
    );
    refused(
        "[[critical]]\nname = \"x.example\"\nlabel = \"a\"\n\n[[critical]]\nname = \"X.example.\"\nlabel = \"b\"\n",
        "critical[1].name",
        6,
    );
    refused(
        "signature_expiry_window = \"1y\"\n",
        "signature_expiry_window",
        1,
    );
    refused(
        "\nsignature_expiry_window = \"91d\"\n",
        "signature_expiry_window",
        2,
    );
}

#[test]
fn missing_label_and_unknown_key_are_errors() {
    let e = parse("[[critical]]\nname = \"x.example\"\n").unwrap_err();
    assert!(e.to_string().contains("label"), "{e}");
    let e = parse("[[critical]]\nname = \"x.example\"\nlabel = \"a\"\nlevel = 3\n").unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::UnknownKey, "{e}");
    assert_eq!(e.line, Some(4), "{e}");
}

/// The commented `[[critical]]` examples of the repo's example config are
/// themselves a valid config, and cover IdP, token endpoint, secrets, mesh.
#[test]
fn example_config_critical_entries_parse() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/dnssec-monitor.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let keys = ["[[critical]]", "name =", "label =", "require ="];
    let mut in_critical = false;
    let mut out = String::new();
    for line in text.lines() {
        let Some(l) = line.strip_prefix("# ") else {
            continue;
        };
        if l.starts_with("[[") {
            in_critical = l.starts_with("[[critical]]");
        }
        if in_critical && keys.iter().any(|k| l.starts_with(k)) {
            out.push_str(l);
            out.push('\n');
        }
    }
    let cfg = parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let labels: Vec<&str> = cfg.critical.iter().map(|c| c.label.as_str()).collect();
    for l in ["idp", "token-endpoint", "secrets", "mesh"] {
        assert!(labels.contains(&l), "{labels:?}");
    }
    assert!(cfg.critical.iter().any(|c| c.name.starts_with("*.")));
    assert!(cfg.critical.iter().any(|c| c.require == Require::Any));
}
