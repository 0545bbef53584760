//! RFC 5424 message formatting.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG`
//! (RFC 5424 §6). MSG is the alert's JSON. The MSGID is the rule name, so a
//! SIEM can route on it without parsing the JSON.

use std::time::{SystemTime, UNIX_EPOCH};

/// RFC 5424 §6.2.1 table 2 severities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Informational = 6,
    Debug = 7,
}

impl Severity {
    /// From an alert's 0–100 risk score (ECS `event.risk_score`; Elastic's
    /// rule levels are low 21, medium 47, high 73, critical 99): ≥ 90
    /// critical, ≥ 70 error, ≥ 40 warning, below that notice. An alert is
    /// never merely informational.
    pub fn from_risk_score(score: f64) -> Severity {
        match score {
            s if s >= 90.0 => Severity::Critical,
            s if s >= 70.0 => Severity::Error,
            s if s >= 40.0 => Severity::Warning,
            _ => Severity::Notice,
        }
    }
}

/// RFC 5424 §6.2.1 table 1 facility code (0..=23).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(u8);

impl Facility {
    /// "security/authorization messages" (code 4): where a SIEM expects
    /// security findings.
    pub const AUTH: Facility = Facility(4);
    pub const DAEMON: Facility = Facility(3);
    pub const LOCAL0: Facility = Facility(16);

    /// `None` for codes outside 0..=23 (RFC 5424 §6.2.1).
    pub fn new(code: u8) -> Option<Facility> {
        (code <= 23).then_some(Facility(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }
}

/// The header fields that do not change from message to message.
#[derive(Clone, Debug)]
pub struct Rfc5424Formatter {
    facility: Facility,
    hostname: String,
    app_name: String,
    procid: String,
}

/// The SD-ID `origin` is registered with IANA by RFC 5424 §7.2, so it needs
/// no private enterprise number.
const ORIGIN_SD_ID: &str = "origin";

impl Rfc5424Formatter {
    /// APP-NAME `dnssec-monitor`, PROCID this process, HOSTNAME from
    /// `gethostname(2)`.
    pub fn new(facility: Facility) -> Self {
        Self::with_fields(
            facility,
            &local_hostname(),
            "dnssec-monitor",
            &std::process::id().to_string(),
        )
    }

    /// Fields are sanitised to the RFC 5424 §6 ABNF: PRINTUSASCII (33..=126),
    /// at most 255/48/128 octets; an empty field becomes the NILVALUE `-`.
    pub fn with_fields(facility: Facility, hostname: &str, app_name: &str, procid: &str) -> Self {
        Self {
            facility,
            hostname: header_field(hostname, 255),
            app_name: header_field(app_name, 48),
            procid: header_field(procid, 128),
        }
    }

    /// One message, without transport framing. `msgid` is the rule name
    /// (at most 32 printable octets, RFC 5424 §6.2.7); `msg` is the JSON.
    ///
    /// MSG carries no BOM: RFC 5424 §6.4 allows MSG-ANY, and a leading BOM
    /// breaks the JSON parsers of common SIEM pipelines.
    pub fn format(&self, severity: Severity, msgid: &str, time: SystemTime, msg: &str) -> Vec<u8> {
        let pri = u16::from(self.facility.0) * 8 + severity as u16;
        let line = format!(
            "<{pri}>1 {ts} {host} {app} {procid} {msgid} [{ORIGIN_SD_ID} software=\"{sw}\" swVersion=\"{ver}\"] {msg}",
            ts = rfc3339_utc(time),
            host = self.hostname,
            app = self.app_name,
            procid = self.procid,
            msgid = header_field(msgid, 32),
            sw = sd_param_value("dnssec-monitor"),
            ver = sd_param_value(env!("CARGO_PKG_VERSION")),
        );
        line.into_bytes()
    }
}

impl Rfc5424Formatter {
    /// One alert as a message: MSGID from `rule.name`, severity from
    /// `event.risk_score` (else `event.severity`, same 0–100 scale), MSG
    /// the compact JSON. Nested (`{"rule":{"name":…}}`) and dotted
    /// (`{"rule.name":…}`) ECS keys are both understood.
    pub fn format_alert(&self, alert: &serde_json::Value, time: SystemTime) -> Vec<u8> {
        let rule = ecs_field(alert, "rule", "name")
            .and_then(|v| v.as_str())
            .unwrap_or("alert");
        let score = ecs_field(alert, "event", "risk_score")
            .or_else(|| ecs_field(alert, "event", "severity"))
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(50.0);
        // Serialising a Value cannot fail (no non-string map keys).
        let msg = serde_json::to_string(alert).unwrap_or_default();
        self.format(Severity::from_risk_score(score), rule, time, &msg)
    }
}

fn ecs_field<'a>(
    v: &'a serde_json::Value,
    group: &str,
    field: &str,
) -> Option<&'a serde_json::Value> {
    v.get(group)
        .and_then(|g| g.get(field))
        .or_else(|| v.get(format!("{group}.{field}")))
}

/// Keep PRINTUSASCII only (others become `_`), cut at `max` octets, and use
/// `-` for an empty field (RFC 5424 §6: NILVALUE).
fn header_field(value: &str, max: usize) -> String {
    let cleaned: String = value
        .bytes()
        .take(max)
        .map(|b| {
            if (33..=126).contains(&b) {
                b as char
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "-".to_owned()
    } else {
        cleaned
    }
}

/// RFC 5424 §6.3.3: inside PARAM-VALUE, `"`, `\` and `]` are escaped with `\`.
fn sd_param_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// This host's name, or `-` when it cannot be read.
pub fn local_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for buf.len() bytes; gethostname NUL-terminates
    // when the name fits, and we also bound the search to the buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "-".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// RFC 3339 / RFC 5424 §6.2.3 timestamp in UTC with microseconds,
/// e.g. `2026-11-27T18:47:29.123456Z`.
pub fn rfc3339_utc(time: SystemTime) -> String {
    // Times before 1970 do not occur for alerts; clamp rather than panic.
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    /// A strict RFC 5424 §6 parser for the tests: returns the fields or
    /// says which rule of the ABNF the message breaks.
    #[derive(Debug, PartialEq)]
    pub(crate) struct Parsed {
        pub pri: u16,
        pub timestamp: String,
        pub hostname: String,
        pub app_name: String,
        pub procid: String,
        pub msgid: String,
        pub sd: Vec<(String, Vec<(String, String)>)>,
        pub msg: String,
    }

    pub(crate) fn parse_rfc5424(raw: &[u8]) -> Result<Parsed, String> {
        let s = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
        let rest = s.strip_prefix('<').ok_or("no <")?;
        let close = rest.find('>').ok_or("no >")?;
        let pri_s = &rest[..close];
        if pri_s.is_empty() || pri_s.len() > 3 || !pri_s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("PRIVAL".into());
        }
        if pri_s.len() > 1 && pri_s.starts_with('0') {
            return Err("PRIVAL leading zero".into());
        }
        let pri: u16 = pri_s.parse().map_err(|_| "PRIVAL")?;
        if pri > 191 {
            return Err("PRIVAL > 191".into());
        }
        let rest = rest[close + 1..].strip_prefix("1 ").ok_or("VERSION")?;
        let mut fields = rest.splitn(6, ' ');
        let mut next = |name: &str, max: usize| -> Result<String, String> {
            let f = fields.next().ok_or(format!("missing {name}"))?;
            if f.is_empty() || f.len() > max || !f.bytes().all(|b| (33..=126).contains(&b)) {
                return Err(format!("bad {name}: {f:?}"));
            }
            Ok(f.to_owned())
        };
        let timestamp = next("TIMESTAMP", 32)?;
        let hostname = next("HOSTNAME", 255)?;
        let app_name = next("APP-NAME", 48)?;
        let procid = next("PROCID", 128)?;
        let msgid = next("MSGID", 32)?;
        let tail = fields.next().ok_or("missing STRUCTURED-DATA")?;
        check_timestamp(&timestamp)?;
        let (sd, msg) = parse_sd(tail)?;
        Ok(Parsed {
            pri,
            timestamp,
            hostname,
            app_name,
            procid,
            msgid,
            sd,
            msg,
        })
    }

    fn check_timestamp(ts: &str) -> Result<(), String> {
        let b = ts.as_bytes();
        let digits =
            |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
        let ok = ts.len() >= 20
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && ts.ends_with('Z');
        if !ok {
            return Err(format!("TIMESTAMP {ts:?}"));
        }
        let frac = &ts[19..ts.len() - 1];
        let frac_ok = frac.is_empty()
            || (frac.starts_with('.')
                && (2..=7).contains(&frac.len())
                && frac[1..].bytes().all(|d| d.is_ascii_digit()));
        if frac_ok {
            Ok(())
        } else {
            Err(format!("TIMESTAMP {ts:?}"))
        }
    }

    type Sd = Vec<(String, Vec<(String, String)>)>;

    fn parse_sd(s: &str) -> Result<(Sd, String), String> {
        if let Some(msg) = s.strip_prefix('-') {
            return Ok((Vec::new(), msg.strip_prefix(' ').unwrap_or(msg).to_owned()));
        }
        let mut out = Vec::new();
        let mut chars = s.char_indices().peekable();
        loop {
            match chars.next() {
                Some((_, '[')) => {}
                Some((i, ' ')) if !out.is_empty() => return Ok((out, s[i + 1..].to_owned())),
                None if !out.is_empty() => return Ok((out, String::new())),
                other => return Err(format!("SD-ELEMENT expected, got {other:?}")),
            }
            let mut id = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c == ' ' || c == ']' {
                    break;
                }
                if c == '=' || c == '"' {
                    return Err("SD-NAME char".into());
                }
                id.push(c);
                chars.next();
            }
            let mut params = Vec::new();
            loop {
                match chars.next() {
                    Some((_, ']')) => break,
                    Some((_, ' ')) => {}
                    other => return Err(format!("SD-PARAM sep, got {other:?}")),
                }
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some((_, '=')) => break,
                        Some((_, c)) if c != ' ' && c != ']' && c != '"' => name.push(c),
                        other => return Err(format!("PARAM-NAME, got {other:?}")),
                    }
                }
                if chars.next().map(|x| x.1) != Some('"') {
                    return Err("PARAM-VALUE quote".into());
                }
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => value.push(chars.next().ok_or("dangling escape")?.1),
                        Some((_, '"')) => break,
                        Some((_, ']')) => return Err("unescaped ] in PARAM-VALUE".into()),
                        Some((_, c)) => value.push(c),
                        None => return Err("unterminated PARAM-VALUE".into()),
                    }
                }
                params.push((name, value));
            }
            out.push((id, params));
        }
    }

    fn formatter() -> Rfc5424Formatter {
        Rfc5424Formatter::with_fields(Facility::AUTH, "node-1.example", "dnssec-monitor", "4242")
    }

    #[test]
    fn formats_and_parses_back() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_000_000_123_456);
        let json = r#"{"rule":{"name":"bogus_signature"},"x":"a ] \" b"}"#;
        let raw = formatter().format(Severity::Critical, "bogus_signature", t, json);
        let p = parse_rfc5424(&raw).unwrap();
        assert_eq!(p.pri, 4 * 8 + 2);
        assert_eq!(p.timestamp, "2026-11-18T11:06:40.123456Z");
        assert_eq!(p.hostname, "node-1.example");
        assert_eq!(p.app_name, "dnssec-monitor");
        assert_eq!(p.procid, "4242");
        assert_eq!(p.msgid, "bogus_signature");
        assert_eq!(p.sd[0].0, "origin");
        assert_eq!(
            p.sd[0].1[0],
            ("software".to_owned(), "dnssec-monitor".to_owned())
        );
        assert_eq!(p.msg, json);
        let back: serde_json::Value = serde_json::from_str(&p.msg).unwrap();
        assert_eq!(back["rule"]["name"], "bogus_signature");
    }

    #[test]
    fn parser_rejects_broken_messages() {
        // The negative twin: the test parser must actually check the ABNF.
        assert!(parse_rfc5424(b"<192>1 2026-01-01T00:00:00Z h a p m - x").is_err());
        assert!(parse_rfc5424(b"<13>2 2026-01-01T00:00:00Z h a p m - x").is_err());
        assert!(parse_rfc5424(b"<13>1 2026-01-01 h a p m - x").is_err());
        assert!(parse_rfc5424(b"<13>1 2026-01-01T00:00:00Z h a p m [x a=\"]\"] m").is_err());
        assert!(parse_rfc5424(b"<13>1 2026-01-01T00:00:00Z h a p m [x a=\"\\]\"] m").is_ok());
    }

    #[test]
    fn header_fields_are_sanitised_and_bounded() {
        let f = Rfc5424Formatter::with_fields(Facility::LOCAL0, "bad host\n", "", "1");
        let long_rule = "r".repeat(40);
        let raw = f.format(Severity::Warning, &long_rule, UNIX_EPOCH, "{}");
        let p = parse_rfc5424(&raw).unwrap();
        assert_eq!(p.hostname, "bad_host_");
        assert_eq!(p.app_name, "-");
        assert_eq!(p.msgid.len(), 32);
        assert_eq!(p.pri, 16 * 8 + 4);
        assert_eq!(p.timestamp, "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_ne!(civil_from_days(20_785), (2026, 11, 27));
    }

    #[test]
    fn alert_json_sets_msgid_and_severity() {
        let f = formatter();
        let alert = serde_json::json!({"rule": {"name": "answer_mismatch"}, "event": {"risk_score": 99, "kind": "alert"}});
        let p = parse_rfc5424(&f.format_alert(&alert, UNIX_EPOCH)).unwrap();
        assert_eq!((p.msgid.as_str(), p.pri), ("answer_mismatch", 4 * 8 + 2));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&p.msg).unwrap(),
            alert
        );
        let flat = serde_json::json!({"rule.name": "capture_loss", "event.severity": 47});
        let p = parse_rfc5424(&f.format_alert(&flat, UNIX_EPOCH)).unwrap();
        assert_eq!((p.msgid.as_str(), p.pri), ("capture_loss", 4 * 8 + 4));
        let bare = serde_json::json!({"x": 1});
        let p = parse_rfc5424(&f.format_alert(&bare, UNIX_EPOCH)).unwrap();
        assert_eq!((p.msgid.as_str(), p.pri), ("alert", 4 * 8 + 4));
    }

    #[test]
    fn risk_scores_map_to_severities() {
        assert_eq!(Severity::from_risk_score(99.0), Severity::Critical);
        assert_eq!(Severity::from_risk_score(73.0), Severity::Error);
        assert_eq!(Severity::from_risk_score(47.0), Severity::Warning);
        assert_eq!(Severity::from_risk_score(21.0), Severity::Notice);
    }

    #[test]
    fn facility_range_is_checked() {
        assert_eq!(Facility::new(23).map(Facility::code), Some(23));
        assert!(Facility::new(24).is_none());
    }

    #[test]
    fn hostname_is_printable() {
        let h = header_field(&local_hostname(), 255);
        assert!(h.bytes().all(|b| (33..=126).contains(&b)));
    }
}
