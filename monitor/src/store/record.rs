//! What the daemon hands to the store: one answer's bundle of rows.
//!
//! A [`Record`] is written in one database transaction, so its rows are
//! linked (alert → verdict → transaction) and appear together or not at
//! all. Alerts without a DNS transaction (`capture_loss`) have
//! `transaction: None`.

use std::time::{SystemTime, UNIX_EPOCH};

/// One DNS query and its answer, as seen on the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transaction {
    /// When the answer was captured.
    pub time: Option<SystemTime>,
    pub query_time: Option<SystemTime>,
    /// Question name in presentation format (case and trailing dot are
    /// normalised on write).
    pub qname: String,
    pub qtype: u16,
    pub rcode: Option<u16>,
    pub pid: Option<u32>,
    pub process: Option<String>,
    pub uid: Option<u32>,
    pub container_id: Option<String>,
    /// `ip:port` of the querier and of the server.
    pub src: Option<String>,
    pub dst: Option<String>,
    /// `udp` or `tcp`.
    pub transport: Option<String>,
    /// The raw DNS messages (no IP/UDP headers).
    pub query: Option<Vec<u8>>,
    pub answer: Option<Vec<u8>>,
}

/// The independent verdict for a transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub time: Option<SystemTime>,
    pub qname: String,
    pub qtype: u16,
    /// `secure`, `insecure`, `bogus`, `indeterminate`.
    pub outcome: String,
    pub reason: Option<String>,
    pub ede_code: Option<u16>,
    pub ede_text: Option<String>,
    /// The chain of trust as JSON (same shape as the alert's `dnssec.chain`).
    pub chain_json: Option<String>,
    /// The DNSKEY/DS/RRSIG records the verdict rested on.
    pub evidence: Vec<Evidence>,
}

/// One DNSSEC record used by a verdict, kept as wire bytes (for offline
/// re-verification) and presentation text (for people).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub owner: String,
    pub rtype: u16,
    /// The whole RR in wire format (RFC 1035 §4.1.3), owner uncompressed.
    pub wire: Vec<u8>,
    pub presentation: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alert {
    pub time: Option<SystemTime>,
    pub rule: String,
    /// ECS `event.severity`.
    pub severity: i64,
    /// The one-sentence `dnssec_monitor.rule_detail`.
    pub detail: String,
    /// The full alert JSON as emitted to the sinks.
    pub json: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub transaction: Option<Transaction>,
    pub verdict: Option<Verdict>,
    pub alerts: Vec<Alert>,
}

impl Record {
    /// Rows this record adds (the unit of the writer's batch size).
    pub fn rows(&self) -> usize {
        usize::from(self.transaction.is_some())
            + self.verdict.as_ref().map_or(0, |v| 1 + v.evidence.len())
            + self.alerts.len()
    }
}

/// Unix nanoseconds; `None` means now. Saturates instead of failing for
/// times outside i64 nanoseconds (years before 1678 or after 2262).
pub fn time_ns(t: Option<SystemTime>) -> i64 {
    let t = t.unwrap_or_else(SystemTime::now);
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// `WWW.Example.COM.` → `www.example.com` (the root stays `.`).
pub fn normalize_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    if lower == "." {
        return lower;
    }
    match lower.strip_suffix('.') {
        Some(s) => s.to_owned(),
        None => lower,
    }
}

/// `www.example.com` → `com.example.www.`: reversed labels, each followed
/// by a dot, so that every name under a suffix shares its prefix.
pub fn reversed_name(normalized: &str) -> String {
    if normalized == "." || normalized.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(normalized.len() + 1);
    for label in normalized.rsplit('.') {
        out.push_str(label);
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_and_reverse() {
        assert_eq!(normalize_name("WWW.Example.COM."), "www.example.com");
        assert_eq!(normalize_name("example.com"), "example.com");
        assert_eq!(normalize_name("."), ".");
        assert_eq!(reversed_name("www.example.com"), "com.example.www.");
        assert_eq!(reversed_name("."), "");
        assert_ne!(reversed_name("example.com"), reversed_name("com.example"));
    }

    #[test]
    fn times_convert_to_unix_nanoseconds() {
        assert_eq!(
            time_ns(Some(UNIX_EPOCH + std::time::Duration::from_nanos(1_500))),
            1_500
        );
        assert_eq!(
            time_ns(Some(UNIX_EPOCH - std::time::Duration::from_nanos(7))),
            -7
        );
        assert!(time_ns(None) > 1_700_000_000_000_000_000);
    }

    #[test]
    fn rows_count_every_table_row() {
        let r = Record {
            transaction: Some(Transaction::default()),
            verdict: Some(Verdict {
                evidence: vec![Evidence::default(); 3],
                ..Verdict::default()
            }),
            alerts: vec![Alert::default(); 2],
        };
        assert_eq!(r.rows(), 7);
        assert_eq!(Record::default().rows(), 0);
    }
}
