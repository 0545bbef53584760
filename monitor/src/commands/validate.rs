//! `dnssec-monitor validate NAME [TYPE]`: resolve NAME independently of the
//! host's resolver and validate it, printing the verdict, the answers and the
//! chain of trust like `delv +vtrace`, or one JSON object with `--json`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, bail};
use hickory_proto::rr::{Name, RecordType};
use serde_json::json;

use super::run_detect::engine_config;
use crate::config::{Config, check_config};
use crate::detect::policy::DetectPolicy;
use crate::dnssec::clock::Clock;
use crate::dnssec::engine::{Engine, Lookup};
use crate::dnssec::transport_net::NetTransport;
use crate::dnssec::verdict::Verdict;

const AFTER_HELP: &str = "\
Exit status:
  0   secure: the answer (or its denial) chains to a trust anchor
  1   insecure: provably unsigned, or signed with an unsupported algorithm
  2   bogus: should be secure but does not validate (the reason names zone, key tag, EDE)
  3   indeterminate: no answer could be had (unreachable servers, limits)
  64  usage or configuration error (bad option, unreadable file)

Examples:
  dnssec-monitor validate example.com
  dnssec-monitor validate example.com AAAA --upstream 127.0.0.1:5353 --json
  dnssec-monitor validate www.test. --root-hints lab.root --trust-anchor lab.ds --at 20240101000000
  dnssec-monitor validate www.corp.internal --config /etc/dnssec-monitor/dnssec-monitor.toml";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct ValidateArgs {
    /// The name to resolve and validate.
    pub name: String,
    /// Record type (A, AAAA, MX, TXT, DS, DNSKEY, ...).
    #[arg(default_value = "A")]
    pub rtype: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Ask this recursive server (DO+CD) instead of iterating from the root;
    /// ADDR or ADDR:PORT, repeatable.
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub upstream: Vec<String>,
    /// Root hints in named.root format (default: the built-in IANA hints).
    #[arg(long, value_name = "FILE")]
    pub root_hints: Option<PathBuf>,
    /// Trust anchors: DS or DNSKEY records in zone-file syntax (default: IANA root).
    #[arg(long, value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,
    /// Validate as of TIME: RFC 3339 (2024-05-01T12:00:00Z) or YYYYMMDDHHMMSS (UTC).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Take the engine settings from this daemon configuration: upstream,
    /// root hints, trust anchor, `[[zone]]` trust anchors and upstreams,
    /// `[[nta]]` (with expiry). The options above override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Per-server timeout in milliseconds.
    #[arg(long, default_value_t = 1500, value_name = "MS")]
    pub timeout_ms: u64,
    /// DNS 0x20: every query with its letters in a random case; answers
    /// that do not echo it are dropped (config `dns_0x20`).
    #[arg(long = "dns-0x20")]
    pub dns_0x20: bool,
}

pub fn main(args: ValidateArgs) -> anyhow::Result<i32> {
    let mut qname =
        Name::from_utf8(&args.name).with_context(|| format!("bad name {:?}", args.name))?;
    qname.set_fqdn(true);
    let rtype = RecordType::from_str(&args.rtype.to_ascii_uppercase())
        .map_err(|_| anyhow::anyhow!("unknown record type {:?}", args.rtype))?;
    let mut cfg = match &args.config {
        Some(p) => check_config(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Config::default(),
    };
    if !args.upstream.is_empty() {
        if args.root_hints.is_some() {
            bail!("--root-hints and --upstream exclude each other");
        }
        cfg.upstream = args
            .upstream
            .iter()
            .map(|s| parse_server(s))
            .collect::<anyhow::Result<Vec<_>>>()?;
        cfg.root_hints = None;
    }
    if let Some(p) = &args.root_hints {
        cfg.root_hints = Some(p.clone());
        cfg.upstream.clear();
    }
    if let Some(p) = &args.trust_anchor {
        cfg.trust_anchor = Some(p.clone());
    }
    cfg.dns_0x20 |= args.dns_0x20;
    let policy = DetectPolicy::from_config(&cfg)?;
    let mut config = engine_config(&cfg, &policy)?;
    if let Some(t) = &args.at {
        config.clock = Clock::fixed(parse_time(t)?);
    }
    let transport = Arc::new(NetTransport {
        timeout: std::time::Duration::from_millis(args.timeout_ms),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let engine = Engine::new(config, transport);
    let lookup = rt.block_on(engine.lookup(&qname, rtype));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&lookup, &engine))?
        );
    } else {
        print_human(&lookup, &engine);
    }
    Ok(exit_code(&lookup.verdict))
}

pub fn exit_code(v: &Verdict) -> i32 {
    match v {
        Verdict::Secure => 0,
        Verdict::Insecure { .. } => 1,
        Verdict::Bogus { .. } => 2,
        Verdict::Indeterminate { .. } => 3,
    }
}

/// `ADDR`, `ADDR:PORT`, `[V6]:PORT`; port 53 by default.
pub fn parse_server(s: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(sa) = SocketAddr::from_str(s) {
        return Ok(sa);
    }
    if let Ok(ip) = IpAddr::from_str(s.trim_start_matches('[').trim_end_matches(']')) {
        return Ok(SocketAddr::new(ip, 53));
    }
    bail!("bad server address {s:?} (expected ADDR or ADDR:PORT)")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Unix seconds → `YYYYMMDDHHMMSS` (the RRSIG presentation format).
pub fn format_time(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// RFC 3339 (`2024-05-01T12:00:00Z`, `...+02:00`, fraction ignored) or
/// `YYYYMMDDHHMMSS` (UTC) → Unix seconds.
pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("bad time {s:?}: expected RFC 3339 or YYYYMMDDHHMMSS");
    let num = |t: &str| -> anyhow::Result<i64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<i64>().map_err(|_| bad())
    };
    let (date, time, offset) = if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
        let f = |a: usize, b: usize| num(&s[a..b]);
        (
            (f(0, 4)?, f(4, 6)?, f(6, 8)?),
            (f(8, 10)?, f(10, 12)?, f(12, 14)?),
            0,
        )
    } else {
        let (d, rest) = s.split_once(['T', 't', ' ']).ok_or_else(bad)?;
        let dp: Vec<&str> = d.split('-').collect();
        let [y, mo, da] = dp.as_slice() else {
            return Err(bad());
        };
        let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else {
            let i = rest.rfind(['+', '-']).ok_or_else(bad)?;
            let (c, off) = rest.split_at(i);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':').ok_or_else(bad)?;
            (c, sign * (num(oh)? * 3600 + num(om)? * 60))
        };
        let clock = clock.split('.').next().unwrap_or("");
        let tp: Vec<&str> = clock.split(':').collect();
        let [h, mi, se] = tp.as_slice() else {
            return Err(bad());
        };
        (
            (num(y)?, num(mo)?, num(da)?),
            (num(h)?, num(mi)?, num(se)?),
            offset,
        )
    };
    let ((y, mo, d), (h, mi, se)) = (date, time);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

fn headline(v: &Verdict) -> &'static str {
    match v {
        Verdict::Secure => "; fully validated",
        Verdict::Insecure { .. } => "; unsigned answer",
        Verdict::Bogus { .. } => "; validation FAILED",
        Verdict::Indeterminate { .. } => "; resolution failed",
    }
}

fn print_human(l: &Lookup, engine: &Engine) {
    let (verdict, answers) = l.answers_with_verdict();
    println!(
        "{}  ({} {}, rcode {})",
        headline(verdict),
        l.qname,
        l.qtype,
        l.rcode
    );
    println!("; verdict: {verdict}");
    for r in answers {
        println!("{r}");
    }
    for r in &l.rrsigs {
        println!("{r}");
    }
    println!(";; chain of trust:");
    for s in &l.trace.steps {
        let windows: Vec<String> = s
            .signatures
            .iter()
            .map(|w| {
                format!(
                    "key {} alg {} {}..{}",
                    w.key_tag,
                    w.algorithm,
                    format_time(i64::from(w.inception)),
                    format_time(i64::from(w.expiration))
                )
            })
            .collect();
        println!(
            ";;   {:<24} DS {:?} DNSKEY {:?} sigs [{}] {}",
            s.zone.to_string(),
            s.ds_key_tags,
            s.dnskey_key_tags,
            windows.join(", "),
            s.note
        );
    }
    let st = engine.stats();
    println!(
        ";; {} queries, {} signature verifications, {} NSEC3 hashes",
        st.queries_sent,
        l.budget.sig_verifications(),
        l.budget.nsec3_hashes()
    );
    if st.case_mismatches > 0 {
        println!(
            ";; {} answers dropped: their question did not echo the 0x20 case",
            st.case_mismatches
        );
    }
    if !verdict.is_secure() {
        // The one line for a responder: zone, key tag, what was wrong, EDE.
        println!(";; {verdict}");
    }
}

fn to_json(l: &Lookup, engine: &Engine) -> serde_json::Value {
    let (verdict, answers) = l.answers_with_verdict();
    let answers: Vec<serde_json::Value> = answers
        .iter()
        .map(|r| {
            json!({
                "name": r.name.to_string(),
                "type": r.record_type().to_string(),
                "ttl": r.ttl,
                "data": r.data.to_string(),
            })
        })
        .collect();
    json!({
        "qname": l.qname.to_string(),
        "qtype": l.qtype.to_string(),
        "outcome": verdict.outcome(),
        "rcode": l.rcode.to_string(),
        "answers": answers,
        "reason": verdict.reason_text(),
        "ede": verdict.ede(),
        "chain": l.trace.steps,
        "sig_verifications": l.budget.sig_verifications(),
        "nsec3_hashes": l.budget.nsec3_hashes(),
        "queries": engine.stats().queries_sent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        assert_eq!(parse_time("20240101000000").unwrap(), 1_704_067_200);
        assert_eq!(parse_time("2024-01-01T00:00:00Z").unwrap(), 1_704_067_200);
        assert_eq!(
            parse_time("2024-01-01T02:00:00.5+02:00").unwrap(),
            1_704_067_200
        );
        assert_eq!(format_time(1_704_067_200), "20240101000000");
        assert_eq!(format_time(i64::from(1_700_000_000u32)), "20231114221320");
        for bad in [
            "2024-13-01T00:00:00Z",
            "yesterday",
            "2024010100000",
            "2024-01-01T00:00:00",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_addresses() {
        assert_eq!(
            parse_server("127.0.0.1").unwrap(),
            "127.0.0.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_server("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(parse_server("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(
            parse_server("[::1]:54").unwrap(),
            "[::1]:54".parse().unwrap()
        );
        assert!(parse_server("localhost").is_err());
    }

    #[test]
    fn exit_codes() {
        use crate::dnssec::verdict::{IndeterminateReason, InsecureReason};
        assert_eq!(exit_code(&Verdict::Secure), 0);
        let n = Name::root();
        assert_eq!(
            exit_code(&Verdict::insecure(InsecureReason::NoTrustAnchor {
                name: n
            })),
            1
        );
        assert_eq!(
            exit_code(&Verdict::indeterminate(IndeterminateReason::Other {
                detail: "x".into()
            })),
            3
        );
    }
}
