//! `dnssec-monitor search`: query the forensic store by name (and every
//! name below it), process (name or pid), rule and time range; newest
//! first, as a table or as JSON lines. With `--rule` or without
//! `--transactions` it lists alerts; `--transactions` lists DNS
//! transactions instead (those that raised `--rule`, when given).

use std::{
    io::Write,
    path::PathBuf,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;

use crate::store::{AlertHit, SearchQuery, Store, TransactionHit};

use super::validate::parse_time;

/// Where the daemon keeps the store by default (see the example config).
pub const DEFAULT_DB: &str = "/var/lib/dnssec-monitor/store.db";

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// The store (SQLite file); opened read-only.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// This name and every name below it.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Process name (comm) or pid.
    #[arg(long, value_name = "P")]
    pub process: Option<String>,
    /// Alert rule, e.g. `bogus_signature`.
    #[arg(long, value_name = "RULE")]
    pub rule: Option<String>,
    /// From this time (RFC 3339, YYYYMMDDHHMMSS or Unix seconds).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Before this time (same formats as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// List DNS transactions instead of alerts.
    #[arg(long)]
    pub transactions: bool,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// At most N rows.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: usize,
}

/// A time argument: Unix seconds, or what `validate --at` takes.
pub fn parse_instant(s: &str) -> anyhow::Result<SystemTime> {
    let secs = match s.parse::<i64>() {
        Ok(n) if s.len() != 14 => n,
        _ => parse_time(s)?,
    };
    Ok(if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    })
}

pub fn main(args: SearchArgs) -> anyhow::Result<i32> {
    let query = SearchQuery {
        name: args.name.clone(),
        process: args.process.clone(),
        rule: args.rule.clone(),
        since: args.since.as_deref().map(parse_instant).transpose()?,
        until: args.until.as_deref().map(parse_instant).transpose()?,
        limit: args.limit,
    };
    let store = Store::open_read_only(&args.db)
        .with_context(|| format!("opening the store {}", args.db.display()))?;
    let mut out = std::io::stdout().lock();
    if args.transactions {
        let hits = store.search_transactions(&query)?;
        write_rows(&mut out, &hits, args.json, TX_HEADER, tx_row)?;
    } else {
        let hits = store.search_alerts(&query)?;
        write_rows(&mut out, &hits, args.json, ALERT_HEADER, alert_row)?;
    }
    out.flush()?;
    Ok(0)
}

const ALERT_HEADER: [&str; 7] = ["ID", "TIME", "RULE", "NAME", "TYPE", "PROCESS", "DETAIL"];
const TX_HEADER: [&str; 8] = [
    "ID", "TIME", "NAME", "TYPE", "RCODE", "PROCESS", "SERVER", "ALERTS",
];

fn write_rows<T: serde::Serialize, const N: usize>(
    out: &mut impl Write,
    hits: &[T],
    json: bool,
    header: [&str; N],
    row: fn(&T) -> [String; N],
) -> anyhow::Result<()> {
    if json {
        for h in hits {
            serde_json::to_writer(&mut *out, h)?;
            out.write_all(b"\n")?;
        }
        return Ok(());
    }
    let rows: Vec<[String; N]> = hits.iter().map(row).collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let last = cells.len() - 1;
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    (*c).to_owned()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// Unix nanoseconds → `2027-01-15T08:00:00.123Z`.
pub fn format_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let millis = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let days = secs.div_euclid(86_400);
    let s = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn rtype(t: u16) -> String {
    hickory_proto::rr::RecordType::from(t).to_string()
}

fn process(pid: Option<u32>, name: Option<&str>) -> String {
    match (name, pid) {
        (Some(n), Some(p)) => format!("{n}[{p}]"),
        (Some(n), None) => n.to_owned(),
        (None, Some(p)) => format!("[{p}]"),
        (None, None) => "-".to_owned(),
    }
}

fn alert_row(h: &AlertHit) -> [String; 7] {
    [
        h.id.to_string(),
        format_ns(h.time_ns),
        h.rule.clone(),
        h.qname.clone().unwrap_or_else(|| "-".into()),
        h.qtype.map_or("-".into(), rtype),
        process(h.pid, h.process.as_deref()),
        h.detail.clone(),
    ]
}

fn tx_row(h: &TransactionHit) -> [String; 8] {
    [
        h.id.to_string(),
        format_ns(h.time_ns),
        h.qname.clone(),
        rtype(h.qtype),
        h.rcode.map_or("-".into(), |r| r.to_string()),
        process(h.pid, h.process.as_deref()),
        h.dst.clone().unwrap_or_else(|| "-".into()),
        h.alerts.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_in_utc() {
        assert_eq!(format_ns(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_ns(1_800_000_000_123_000_000),
            "2027-01-15T08:00:00.123Z"
        );
        assert_eq!(format_ns(-1_000_000_000), "1969-12-31T23:59:59.000Z");
    }

    #[test]
    fn parses_unix_seconds_and_rfc3339() {
        let t = |s| parse_instant(s).unwrap();
        assert_eq!(
            t("1800000000"),
            UNIX_EPOCH + Duration::from_secs(1_800_000_000)
        );
        assert_eq!(t("2027-01-15T08:00:00Z"), t("1800000000"));
        assert_eq!(t("20270115080000"), t("1800000000"));
        assert!(parse_instant("yesterday").is_err());
        assert!(parse_instant("2027-13-01T00:00:00Z").is_err());
    }
}
