//! `dnsperf` (DNS-OARC) runs with a time limit, and its summary parsed.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::lab::process::run_combined;

/// The figures of one dnsperf run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DnsperfResult {
    pub sent: u64,
    pub completed: u64,
    pub lost: u64,
    /// Answers with RCODE NOERROR (from "Response codes:").
    pub noerror: u64,
    pub run_time_s: f64,
    pub qps: f64,
    pub avg_latency_s: f64,
    /// The whole output, kept as raw evidence.
    pub raw: String,
}

/// Parses dnsperf 2.x's "Statistics:" block.
pub fn parse(out: &str) -> Result<DnsperfResult> {
    let field = |key: &str| -> Option<&str> {
        out.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    let first_num = |key: &str| -> Result<f64> {
        let v = field(key).with_context(|| format!("dnsperf output lacks {key:?}:\n{out}"))?;
        v.split_whitespace()
            .next()
            .unwrap_or("")
            .parse::<f64>()
            .with_context(|| format!("dnsperf {key:?} is not a number: {v:?}"))
    };
    Ok(DnsperfResult {
        sent: first_num("Queries sent:")? as u64,
        completed: first_num("Queries completed:")? as u64,
        lost: first_num("Queries lost:")? as u64,
        noerror: field("Response codes:")
            .and_then(|v| {
                let t: Vec<&str> = v.split_whitespace().collect();
                let i = t.iter().position(|w| *w == "NOERROR")?;
                t.get(i + 1)?.parse().ok()
            })
            .unwrap_or(0),
        run_time_s: first_num("Run time (s):")?,
        qps: first_num("Queries per second:")?,
        avg_latency_s: first_num("Average Latency (s):").unwrap_or(0.0),
        raw: out.to_string(),
    })
}

/// Runs dnsperf with `args`; killed if it outlives `limit`.
pub fn run(args: &[String], limit: Duration) -> Result<DnsperfResult> {
    let mut c = Command::new("dnsperf");
    c.args(args);
    let (ok, stdout, stderr, desc) = run_combined(c, limit).map_err(anyhow::Error::msg)?;
    if !ok {
        bail!("{desc}:\n{stdout}{stderr}");
    }
    parse(&format!("{stdout}{stderr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "Statistics:\n\n  Queries sent:         100000\n  \
        Queries completed:    99990 (99.99%)\n  Queries lost:         10 (0.01%)\n\n  \
        Response codes:       NOERROR 99990 (100.00%)\n  Run time (s):         10.000123\n  \
        Queries per second:   9999.87\n\n  Average Latency (s):  0.000098 (min 0.000021, max 0.002010)\n";

    #[test]
    fn parses_summary() {
        let r = parse(OUT).unwrap();
        assert_eq!((r.sent, r.completed, r.lost), (100_000, 99_990, 10));
        assert_eq!(r.noerror, 99_990);
        assert!((r.qps - 9999.87).abs() < 1e-6);
        assert!((r.run_time_s - 10.000123).abs() < 1e-9);
        assert!((r.avg_latency_s - 0.000098).abs() < 1e-12);
    }

    #[test]
    fn missing_summary_is_an_error() {
        assert!(parse("[Status] Command line: dnsperf\n").is_err());
        assert!(parse(&OUT.replace("9999.87", "lots")).is_err());
    }
}
