//! The report's content, built from the store's posture rows and alerts
//! over a period: one entry per name (critical names first) and per
//! resolver. Serialized as is for `--format json` (docs/report.md).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

use crate::detect::latency::LatencyHist;
use crate::detect::posture::CriticalLabels;
use crate::dnssec::algorithm::algorithm_name;
use crate::sinks::syslog::format::rfc3339_utc;
use crate::store::record::normalize_name;
use crate::store::{NameObservation, ResolverStat, StoredAlert};

/// Names listed when no critical name was configured or recorded.
pub const MAX_UNLABELLED_NAMES: usize = 200;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    /// Report format version (bumped on incompatible changes).
    pub version: u32,
    pub generated: String,
    pub since: String,
    pub until: String,
    /// True when `names` are the `[[critical]]` names (configured or
    /// labelled in the store); false when they are the most-resolved names.
    pub critical_names: bool,
    pub names: Vec<NameReport>,
    pub resolvers: Vec<ResolverReport>,
    /// Alerts in the period, by rule.
    pub alerts_by_rule: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Algorithm {
    pub number: u8,
    pub name: &'static str,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProcessSeen {
    pub name: String,
    pub pids: Vec<u32>,
    pub container_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AlertLine {
    pub time: String,
    pub rule: String,
    pub severity: i64,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NameReport {
    /// Lowercase, without the final dot.
    pub name: String,
    pub label: Option<String>,
    pub zone: Option<String>,
    /// `secure`, `insecure`, `bogus`, `indeterminate`, or `unseen` (a
    /// configured critical name nobody resolved in the period): the latest verdict.
    pub status: String,
    pub reason: Option<String>,
    /// Every verdict seen in the period.
    pub statuses_seen: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    pub ds_key_tags: Vec<u16>,
    pub signature_expiration: Option<String>,
    /// Days from the report time to `signature_expiration` (negative: expired).
    pub signature_days_left: Option<f64>,
    pub resolvers: Vec<String>,
    pub answers: u64,
    pub ad_answers: u64,
    pub ad_seen: bool,
    pub processes: Vec<ProcessSeen>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub alerts: Vec<AlertLine>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ResolverReport {
    /// `ip:port`.
    pub resolver: String,
    pub queries: u64,
    pub answers: u64,
    pub unanswered: u64,
    pub servfail: u64,
    pub refused: u64,
    /// unanswered / (answers + unanswered); null without traffic.
    pub unanswered_rate: Option<f64>,
    /// SERVFAIL answers / answers.
    pub servfail_rate: Option<f64>,
    pub refused_rate: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// Answers for names found Secure, and the share with AD set.
    pub secure_answers: u64,
    pub ad_rate_secure: Option<f64>,
    pub alerts: Vec<AlertLine>,
}

/// What the report is built from.
pub struct Inputs<'a> {
    pub now: SystemTime,
    pub since: SystemTime,
    /// Configured `[[critical]]` (pattern, label) pairs, if any.
    pub critical: &'a CriticalLabels,
    pub names: &'a [NameObservation],
    pub resolvers: &'a [ResolverStat],
    pub alerts: &'a [StoredAlert],
}

/// RFC 3339 UTC to the second (the report needs no more).
fn time(t: SystemTime) -> String {
    let s = rfc3339_utc(t);
    match s.split_once('.') {
        Some((whole, _)) => format!("{whole}Z"),
        None => s,
    }
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| ((n as f64 / d as f64) * 1e4).round() / 1e4)
}

fn ms(d: Option<Duration>) -> Option<f64> {
    d.map(|d| (d.as_secs_f64() * 1e5).round() / 1e2)
}

fn line(a: &StoredAlert) -> AlertLine {
    AlertLine {
        time: time(a.time),
        rule: a.rule.clone(),
        severity: a.severity,
        detail: a.detail.clone(),
    }
}

fn json_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// How bad a verdict is, for picking the headline among several.
fn rank(status: &str) -> u8 {
    match status {
        "bogus" => 4,
        "indeterminate" => 3,
        "insecure" => 2,
        "secure" => 1,
        _ => 0,
    }
}

pub fn build(i: &Inputs<'_>) -> Report {
    // Alerts: by question name and by resolver address.
    let mut by_name: BTreeMap<String, Vec<AlertLine>> = BTreeMap::new();
    let mut by_resolver: BTreeMap<String, Vec<AlertLine>> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for a in i.alerts {
        *by_rule.entry(a.rule.clone()).or_default() += 1;
        let v: Value = serde_json::from_str(&a.json).unwrap_or(Value::Null);
        if let Some(n) = json_str(&v, &["dns", "question", "name"]) {
            by_name.entry(normalize_name(n)).or_default().push(line(a));
        }
        if let Some(r) = json_str(&v, &["dnssec_monitor", "resolver", "address"]) {
            by_resolver.entry(r.to_owned()).or_default().push(line(a));
        }
    }

    // Names: group observations; which names are listed.
    let mut groups: BTreeMap<String, Vec<&NameObservation>> = BTreeMap::new();
    for o in i.names {
        groups.entry(normalize_name(&o.qname)).or_default().push(o);
    }
    let label_of = |name: &str, obs: &[&NameObservation]| -> Option<String> {
        i.critical
            .label(name)
            .map(str::to_owned)
            .or_else(|| obs.iter().rev().find_map(|o| o.label.clone()))
    };
    let any_critical = !i.critical.is_empty() || i.names.iter().any(|o| o.label.is_some());
    let mut listed: Vec<String> = if any_critical {
        groups
            .iter()
            .filter(|(n, obs)| label_of(n, obs).is_some())
            .map(|(n, _)| n.clone())
            .collect()
    } else {
        let mut all: Vec<(&String, u64)> = groups
            .iter()
            .map(|(n, obs)| (n, obs.iter().map(|o| o.answers).sum()))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        all.into_iter()
            .take(MAX_UNLABELLED_NAMES)
            .map(|(n, _)| n.clone())
            .collect()
    };
    // Exact configured names are listed even when nobody resolved them.
    for (n, _) in i.critical.exact() {
        let n = normalize_name(n);
        if !listed.contains(&n) {
            listed.push(n);
        }
    }
    let mut names: Vec<NameReport> = listed
        .iter()
        .map(|n| {
            let obs: Vec<&NameObservation> = groups.get(n).cloned().unwrap_or_default();
            name_report(
                n,
                &obs,
                label_of(n, &obs),
                i.now,
                by_name.remove(n).unwrap_or_default(),
            )
        })
        .collect();
    // Worst first, then by name: what needs attention is on top.
    names.sort_by(|a, b| {
        rank(&b.status)
            .cmp(&rank(&a.status))
            .then(b.alerts.len().cmp(&a.alerts.len()))
            .then(a.name.cmp(&b.name))
    });

    // Resolvers.
    let mut rs: BTreeMap<String, (ResolverStat, LatencyHist)> = BTreeMap::new();
    for s in i.resolvers {
        let (acc, lat) = rs.entry(s.resolver.clone()).or_insert_with(|| {
            (
                ResolverStat {
                    resolver: s.resolver.clone(),
                    ..ResolverStat::default()
                },
                LatencyHist::default(),
            )
        });
        acc.queries += s.queries;
        acc.answers += s.answers;
        acc.unanswered += s.unanswered;
        acc.servfail += s.servfail;
        acc.refused += s.refused;
        acc.secure_answers += s.secure_answers;
        acc.secure_ad += s.secure_ad;
        lat.merge(&LatencyHist::from_sparse(&s.latency));
    }
    for r in by_resolver.keys() {
        rs.entry(r.clone()).or_insert_with(|| {
            (
                ResolverStat {
                    resolver: r.clone(),
                    ..ResolverStat::default()
                },
                LatencyHist::default(),
            )
        });
    }
    let resolvers = rs
        .into_values()
        .map(|(s, lat)| ResolverReport {
            unanswered_rate: ratio(s.unanswered, s.answers + s.unanswered),
            servfail_rate: ratio(s.servfail, s.answers),
            refused_rate: ratio(s.refused, s.answers),
            latency_p50_ms: ms(lat.quantile(0.5)),
            latency_p99_ms: ms(lat.quantile(0.99)),
            ad_rate_secure: ratio(s.secure_ad, s.secure_answers),
            alerts: by_resolver.remove(&s.resolver).unwrap_or_default(),
            resolver: s.resolver,
            queries: s.queries,
            answers: s.answers,
            unanswered: s.unanswered,
            servfail: s.servfail,
            refused: s.refused,
            secure_answers: s.secure_answers,
        })
        .collect();
    Report {
        version: 1,
        generated: time(i.now),
        since: time(i.since),
        until: time(i.now),
        critical_names: any_critical,
        names,
        resolvers,
        alerts_by_rule: by_rule,
    }
}

fn name_report(
    name: &str,
    obs: &[&NameObservation],
    label: Option<String>,
    now: SystemTime,
    alerts: Vec<AlertLine>,
) -> NameReport {
    let latest = obs.iter().max_by_key(|o| o.last);
    let mut statuses: BTreeSet<&str> = obs.iter().map(|o| o.outcome.as_str()).collect();
    statuses.remove("");
    let mut resolvers: BTreeSet<String> = BTreeSet::new();
    let mut procs: BTreeMap<(String, Option<String>), BTreeSet<u32>> = BTreeMap::new();
    let (mut answers, mut ad) = (0, 0);
    for o in obs {
        resolvers.extend(o.resolver.clone());
        let p = procs
            .entry((
                o.process.clone().unwrap_or_else(|| "?".into()),
                o.container_id.clone(),
            ))
            .or_default();
        p.extend(o.pid);
        answers += o.answers;
        ad += o.ad_answers;
    }
    let exp = latest.and_then(|o| o.sig_expiration);
    let days = exp.map(|e| {
        let secs = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        };
        ((secs(e) - secs(now)) / 86_400.0 * 10.0).round() / 10.0
    });
    NameReport {
        name: name.to_owned(),
        label,
        zone: latest.and_then(|o| o.zone.clone()),
        status: latest.map_or_else(|| "unseen".to_owned(), |o| o.outcome.clone()),
        reason: latest.and_then(|o| o.reason.clone()),
        statuses_seen: statuses.into_iter().map(str::to_owned).collect(),
        algorithms: latest
            .map(|o| {
                o.algorithms
                    .iter()
                    .map(|&a| Algorithm {
                        number: a,
                        name: algorithm_name(a),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ds_key_tags: latest.map(|o| o.ds_key_tags.clone()).unwrap_or_default(),
        signature_expiration: exp.map(time),
        signature_days_left: days,
        resolvers: resolvers.into_iter().collect(),
        answers,
        ad_answers: ad,
        ad_seen: ad > 0,
        processes: procs
            .into_iter()
            .map(|((name, container_id), pids)| ProcessSeen {
                name,
                pids: pids.into_iter().collect(),
                container_id,
            })
            .collect(),
        first_seen: obs.iter().filter_map(|o| o.first).min().map(time),
        last_seen: obs.iter().filter_map(|o| o.last).max().map(time),
        alerts,
    }
}
