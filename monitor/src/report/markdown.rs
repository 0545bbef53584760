//! The report as Markdown (GitHub tables): readable in a terminal, a
//! ticket or a wiki.

use std::fmt::Write as _;

use super::fmt::{algorithms, days, list, pct, processes};
use super::model::Report;

/// `|` and newlines would break a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# DNSSEC posture report\n");
    let _ = writeln!(
        o,
        "Period: {} to {} (generated {}).\n",
        r.since, r.until, r.generated
    );
    let _ = writeln!(
        o,
        "## {}\n",
        if r.critical_names {
            "Critical names"
        } else {
            "Names (no critical names configured: the most resolved)"
        }
    );
    if r.names.is_empty() {
        let _ = writeln!(o, "No name observed in the period.\n");
    } else {
        let _ = writeln!(
            o,
            "| Name | Label | Zone | Status | Algorithm | DS key tags | Signatures expire | Resolvers | AD seen | Processes | Alerts |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|");
        for n in &r.names {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&n.name),
                cell(n.label.as_deref().unwrap_or("-")),
                cell(n.zone.as_deref().unwrap_or("-")),
                cell(&n.status),
                cell(&algorithms(&n.algorithms)),
                list(&n.ds_key_tags),
                cell(&days(n)),
                cell(&list(&n.resolvers)),
                if n.answers == 0 {
                    "-".to_owned()
                } else {
                    format!(
                        "{} ({}/{})",
                        if n.ad_seen { "yes" } else { "no" },
                        n.ad_answers,
                        n.answers
                    )
                },
                cell(&processes(&n.processes)),
                n.alerts.len()
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## Resolvers\n");
    if r.resolvers.is_empty() {
        let _ = writeln!(o, "No recursive query observed in the period.\n");
    } else {
        let _ = writeln!(
            o,
            "| Resolver | Queries | Unanswered | SERVFAIL | REFUSED | Median latency | p99 latency | AD rate (secure names) | Alerts |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
        for s in &r.resolvers {
            let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
            let _ = writeln!(
                o,
                "| {} | {} | {} ({}) | {} ({}) | {} ({}) | {} | {} | {} | {} |",
                cell(&s.resolver),
                s.queries,
                s.unanswered,
                pct(s.unanswered_rate),
                s.servfail,
                pct(s.servfail_rate),
                s.refused,
                pct(s.refused_rate),
                ms(s.latency_p50_ms),
                ms(s.latency_p99_ms),
                pct(s.ad_rate_secure),
                s.alerts.len()
            );
        }
        let _ = writeln!(o);
    }
    let alerts: Vec<_> = r
        .names
        .iter()
        .flat_map(|n| n.alerts.iter())
        .chain(r.resolvers.iter().flat_map(|s| s.alerts.iter()))
        .collect();
    let _ = writeln!(o, "## Alerts\n");
    if r.alerts_by_rule.is_empty() {
        let _ = writeln!(o, "No alert in the period.");
    } else {
        let by: Vec<String> = r
            .alerts_by_rule
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(o, "By rule: {}.\n", by.join(", "));
        for a in alerts.iter().take(50) {
            let _ = writeln!(
                o,
                "- {} `{}` {}",
                a.time,
                a.rule,
                a.detail.replace('\n', " ")
            );
        }
    }
    o
}
