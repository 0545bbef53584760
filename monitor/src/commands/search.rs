//! `dnssec-monitor search`: query the forensic store by name (and below),
//! process, rule and time range; a table or JSON.

use std::{
    io::Write,
    path::PathBuf,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::Context as _;

use crate::{
    config::{units::parse_duration, validate::offset_datetime},
    sinks::syslog::format::rfc3339_utc,
    store::{SearchQuery, Store},
};

/// Where the daemon keeps its store by default (see the example config).
pub const DEFAULT_STORE: &str = "/var/lib/dnssec-monitor/store.db";

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// The store (SQLite file) to search.
    #[arg(long, alias = "db", default_value = DEFAULT_STORE)]
    pub store: PathBuf,
    /// A DNS name: matches it and every name below it.
    #[arg(long)]
    pub name: Option<String>,
    /// Process name (comm) or pid.
    #[arg(long)]
    pub process: Option<String>,
    /// Rule name, e.g. bogus_signature.
    #[arg(long)]
    pub rule: Option<String>,
    /// From this time: RFC 3339 (2026-11-27T18:00:00Z) or an age (2h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Until this time (exclusive), same forms as --since.
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many rows (newest first).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// List DNS transactions instead of alerts.
    #[arg(long)]
    pub transactions: bool,
    /// JSON (an array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: SearchArgs) -> anyhow::Result<i32> {
    run(&args, SystemTime::now(), &mut std::io::stdout().lock())
}

/// `2026-11-27T18:00:00Z`, or an age such as `2h` counted back from `now`.
pub fn parse_time(s: &str, now: SystemTime) -> anyhow::Result<SystemTime> {
    if let Ok(age) = parse_duration(s) {
        return Ok(now.checked_sub(age).unwrap_or(UNIX_EPOCH));
    }
    let dt: toml::value::Datetime = s
        .parse()
        .map_err(|_| anyhow::anyhow!("{s:?} is neither an RFC 3339 time nor an age like 2h"))?;
    offset_datetime(&dt).map_err(|e| anyhow::anyhow!("{s:?}: {e}"))
}

fn ns_time(ns: i64) -> String {
    rfc3339_utc(UNIX_EPOCH + std::time::Duration::from_nanos(ns.max(0) as u64))
}

fn cell<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_owned(), T::to_string)
}

pub fn run(args: &SearchArgs, now: SystemTime, out: &mut dyn Write) -> anyhow::Result<i32> {
    let q = SearchQuery {
        name: args.name.clone(),
        process: args.process.clone(),
        rule: args.rule.clone(),
        since: args
            .since
            .as_deref()
            .map(|s| parse_time(s, now))
            .transpose()
            .context("--since")?,
        until: args
            .until
            .as_deref()
            .map(|s| parse_time(s, now))
            .transpose()
            .context("--until")?,
        limit: args.limit,
    };
    let store = Store::open_read_only(&args.store)?;
    if args.transactions {
        let hits = store.search_transactions(&q)?;
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&hits)?)?;
        } else {
            writeln!(
                out,
                "{:<27} {:<40} {:>5} {:>5} {:>7} {:<15} {:<10} {:>6}",
                "TIME", "NAME", "TYPE", "RCODE", "PID", "PROCESS", "OUTCOME", "ALERTS"
            )?;
            for h in &hits {
                writeln!(
                    out,
                    "{:<27} {:<40} {:>5} {:>5} {:>7} {:<15} {:<10} {:>6}",
                    ns_time(h.time_ns),
                    h.qname,
                    h.qtype,
                    cell(&h.rcode),
                    cell(&h.pid),
                    cell(&h.process),
                    cell(&h.outcome),
                    h.alerts
                )?;
            }
        }
    } else {
        let hits = store.search_alerts(&q)?;
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&hits)?)?;
        } else {
            writeln!(
                out,
                "{:>6} {:<27} {:<20} {:>3} {:<40} {:>7} {:<15} DETAIL",
                "ID", "TIME", "RULE", "SEV", "NAME", "PID", "PROCESS"
            )?;
            for h in &hits {
                writeln!(
                    out,
                    "{:>6} {:<27} {:<20} {:>3} {:<40} {:>7} {:<15} {}",
                    h.id,
                    ns_time(h.time_ns),
                    h.rule,
                    h.severity,
                    cell(&h.qname),
                    cell(&h.pid),
                    cell(&h.process),
                    h.detail
                )?;
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::{Alert, BatchWriter, Record, Transaction};

    const T0: u64 = 1_800_000_000;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(T0 + s)
    }

    fn store(dir: &std::path::Path) -> PathBuf {
        let path = dir.join("s.db");
        let mut w = BatchWriter::new(Store::open(&path).unwrap(), 10, Duration::from_secs(1));
        for (i, (name, rule)) in [
            ("www.secure.test", "bogus_signature"),
            ("cdn.other.test", "answer_mismatch"),
        ]
        .iter()
        .enumerate()
        {
            w.push(Record {
                transaction: Some(Transaction {
                    time: Some(at(i as u64)),
                    qname: (*name).into(),
                    qtype: 1,
                    pid: Some(77),
                    process: Some("curl".into()),
                    ..Transaction::default()
                }),
                verdict: None,
                alerts: vec![Alert {
                    time: Some(at(i as u64)),
                    rule: (*rule).into(),
                    severity: 73,
                    detail: format!("why {i}"),
                    json: "{}".into(),
                }],
            })
            .unwrap();
        }
        w.finish().unwrap();
        path
    }

    fn args(store: PathBuf) -> SearchArgs {
        SearchArgs {
            store,
            name: None,
            process: None,
            rule: None,
            since: None,
            until: None,
            limit: 100,
            transactions: false,
            json: false,
        }
    }

    fn output(a: &SearchArgs) -> String {
        let mut out = Vec::new();
        assert_eq!(run(a, at(3600), &mut out).unwrap(), 0);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_of_alerts_filtered_by_name() {
        let d = tempfile::tempdir().unwrap();
        let a = SearchArgs {
            name: Some("secure.test".into()),
            ..args(store(d.path()))
        };
        let out = output(&a);
        assert!(out.starts_with("    ID TIME"), "{out}");
        assert!(
            out.contains("bogus_signature")
                && out.contains("www.secure.test")
                && out.contains("why 0"),
            "{out}"
        );
        assert!(!out.contains("answer_mismatch"), "{out}");
    }

    #[test]
    fn json_transactions_filtered_by_time() {
        let d = tempfile::tempdir().unwrap();
        let a = SearchArgs {
            transactions: true,
            json: true,
            since: Some("2027-01-15T08:00:01Z".into()),
            ..args(store(d.path()))
        };
        let v: serde_json::Value = serde_json::from_str(&output(&a)).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1);
        assert_eq!(v[0]["qname"], "cdn.other.test");
        assert_eq!(v[0]["alerts"], 1);
    }

    #[test]
    fn times_parse_as_rfc3339_or_age() {
        let now = at(7200);
        assert_eq!(parse_time("1h", now).unwrap(), at(3600));
        assert_eq!(
            parse_time("2027-01-15T08:00:00Z", now).unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_800_000_000)
        );
        assert!(parse_time("yesterday", now).is_err());
    }

    #[test]
    fn missing_store_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        assert!(run(&args(d.path().join("none.db")), at(0), &mut Vec::new()).is_err());
    }
}
