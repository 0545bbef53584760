//! The report as one self-contained HTML page: inline CSS, no script, no
//! font or image from elsewhere, so it can be mailed or archived as is
//! (and a Content-Security-Policy forbids anything else being loaded).

use std::fmt::Write as _;

use super::fmt::{algorithms, days, list, pct, processes, when};
use super::model::{AlertLine, NameReport, Report};

/// Text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "
:root{--fg:#1d2330;--muted:#5b6475;--line:#dde2ea;--bg:#f6f8fb;--card:#fff;
--ok:#13795b;--okbg:#e3f5ee;--warn:#8a5a00;--warnbg:#fff3d6;--bad:#b42318;--badbg:#fde8e6;--na:#475467;--nabg:#eef1f5}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
header{background:#101828;color:#fff;padding:20px 32px}
header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header p{margin:0;color:#c5cbd6}
main{padding:24px 32px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin-bottom:22px;overflow-x:auto}
h2{font-size:17px;margin:0 0 12px}
.summary{display:flex;gap:14px;flex-wrap:wrap;margin-bottom:22px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 18px;min-width:150px}
.tile b{display:block;font-size:24px}
.tile span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;width:100%}
th{text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);border-bottom:2px solid var(--line);padding:8px 10px;white-space:nowrap}
td{border-bottom:1px solid var(--line);padding:8px 10px;vertical-align:top;font-size:13px}
tr:last-child td{border-bottom:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.badge{display:inline-block;border-radius:999px;padding:1px 10px;font-size:12px;font-weight:600}
.secure{color:var(--ok);background:var(--okbg)}
.insecure,.warn{color:var(--warn);background:var(--warnbg)}
.bogus,.bad{color:var(--bad);background:var(--badbg)}
.indeterminate,.unseen{color:var(--na);background:var(--nabg)}
.muted{color:var(--muted)}
ul.alerts{margin:0;padding-left:16px;white-space:nowrap}
ul.alerts li{margin:2px 0}
footer{color:var(--muted);font-size:12px;padding:0 32px 24px}
";

fn badge(class: &str, text: &str) -> String {
    format!("<span class=\"badge {}\">{}</span>", esc(class), esc(text))
}

/// A rate cell, highlighted past `warn` / `bad`.
fn rate_cell(v: Option<f64>, warn: f64, bad: f64) -> String {
    let class = match v {
        Some(x) if x >= bad => " bad",
        Some(x) if x >= warn => " warn",
        _ => "",
    };
    if class.is_empty() {
        format!("<td class=\"num\">{}</td>", pct(v))
    } else {
        format!(
            "<td class=\"num\"><span class=\"badge{class}\">{}</span></td>",
            pct(v)
        )
    }
}

fn alerts_cell(a: &[AlertLine]) -> String {
    if a.is_empty() {
        return "<td class=\"muted\">none</td>".to_owned();
    }
    let mut o = String::from("<td><ul class=\"alerts\">");
    for x in a.iter().take(5) {
        let _ = write!(
            o,
            "<li title=\"{}\"><code>{}</code><div class=\"muted\">{}</div></li>",
            esc(&x.detail),
            esc(&x.rule),
            esc(&when(&x.time))
        );
    }
    if a.len() > 5 {
        let _ = write!(o, "<li class=\"muted\">and {} more</li>", a.len() - 5);
    }
    o.push_str("</ul></td>");
    o
}

fn expiry_cell(n: &NameReport) -> String {
    let class = match n.signature_days_left {
        Some(d) if d < 1.0 => "bad",
        Some(d) if d < 3.0 => "warn",
        _ => "",
    };
    let text = days(n);
    if class.is_empty() {
        format!("<td>{}</td>", esc(&text))
    } else {
        format!("<td>{}</td>", badge(class, &text))
    }
}

fn name_row(o: &mut String, n: &NameReport) {
    let ad = if n.answers == 0 {
        "<td class=\"muted\">-</td>".to_owned()
    } else if n.ad_seen {
        format!(
            "<td>{} <span class=\"muted\">{}/{}</span></td>",
            badge("secure", "yes"),
            n.ad_answers,
            n.answers
        )
    } else {
        let class = if n.status == "secure" {
            "warn"
        } else {
            "unseen"
        };
        format!(
            "<td>{} <span class=\"muted\">0/{}</span></td>",
            badge(class, "no"),
            n.answers
        )
    };
    let status = match &n.reason {
        Some(r) => format!(
            "{}<div class=\"muted\">{}</div>",
            badge(&n.status, &n.status),
            esc(r)
        ),
        None => badge(&n.status, &n.status),
    };
    let _ = writeln!(
        o,
        "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{status}</td><td>{}</td><td>{}</td>{}<td>{}</td>{ad}<td>{}</td>{}</tr>",
        esc(&n.name),
        esc(n.label.as_deref().unwrap_or("-")),
        esc(n.zone.as_deref().unwrap_or("-")),
        esc(&algorithms(&n.algorithms)),
        esc(&list(&n.ds_key_tags)),
        expiry_cell(n),
        esc(&list(&n.resolvers)),
        esc(&processes(&n.processes)),
        alerts_cell(&n.alerts),
    );
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let secure = r.names.iter().filter(|n| n.status == "secure").count();
    let failing = r.resolvers.iter().filter(|s| !s.alerts.is_empty()).count();
    let alerts: u64 = r.alerts_by_rule.values().sum();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>DNSSEC posture report</title><style>{CSS}</style></head><body>\n\
<header><h1>DNSSEC posture report</h1><p>{} &ndash; {} &middot; generated {} by dnssec-monitor</p></header>\n<main>\n",
        esc(&when(&r.since)),
        esc(&when(&r.until)),
        esc(&when(&r.generated))
    );
    let _ = writeln!(
        o,
        "<div class=\"summary\">\
<div class=\"tile\"><b>{secure}/{}</b><span>{} secure</span></div>\
<div class=\"tile\"><b>{}</b><span>resolvers</span></div>\
<div class=\"tile\"><b>{failing}</b><span>resolvers with alerts</span></div>\
<div class=\"tile\"><b>{alerts}</b><span>alerts in period</span></div></div>",
        r.names.len(),
        if r.critical_names {
            "critical names"
        } else {
            "names"
        },
        r.resolvers.len(),
    );
    let _ = writeln!(
        o,
        "<section id=\"names\"><h2>{}</h2>",
        if r.critical_names {
            "Critical names"
        } else {
            "Names <span class=\"muted\">(no critical names configured: the most resolved)</span>"
        }
    );
    if r.names.is_empty() {
        o.push_str("<p class=\"muted\">No name observed in the period.</p>");
    } else {
        o.push_str(
            "<table id=\"names-table\"><thead><tr><th>Name</th><th>Label</th><th>Zone</th><th>Status</th>\
<th>Algorithm</th><th>DS key tags</th><th>Signatures expire</th><th>Resolvers</th><th>AD seen</th>\
<th>Processes</th><th>Alerts</th></tr></thead><tbody>\n",
        );
        for n in &r.names {
            name_row(&mut o, n);
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>\n<section id=\"resolvers\"><h2>Resolvers</h2>\n");
    if r.resolvers.is_empty() {
        o.push_str("<p class=\"muted\">No recursive query observed in the period.</p>");
    } else {
        o.push_str(
            "<table id=\"resolvers-table\"><thead><tr><th>Resolver</th><th>Queries</th><th>Unanswered</th>\
<th>SERVFAIL</th><th>REFUSED</th><th>Median latency</th><th>p99 latency</th><th>AD rate (secure names)</th>\
<th>Alerts</th></tr></thead><tbody>\n",
        );
        for s in &r.resolvers {
            let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
            let ad = match s.ad_rate_secure {
                Some(x) if x < 0.5 => {
                    format!("<td class=\"num\">{}</td>", badge("warn", &pct(Some(x))))
                }
                v => format!("<td class=\"num\">{}</td>", pct(v)),
            };
            let _ = writeln!(
                o,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td>{}{}{}<td class=\"num\">{}</td><td class=\"num\">{}</td>{ad}{}</tr>",
                esc(&s.resolver),
                s.queries,
                rate_cell(s.unanswered_rate, 0.05, 0.5),
                rate_cell(s.servfail_rate, 0.05, 0.2),
                rate_cell(s.refused_rate, 0.05, 0.5),
                ms(s.latency_p50_ms),
                ms(s.latency_p99_ms),
                alerts_cell(&s.alerts),
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>\n<section id=\"alerts\"><h2>Alerts by rule</h2>\n");
    if r.alerts_by_rule.is_empty() {
        o.push_str("<p class=\"muted\">No alert in the period.</p>");
    } else {
        o.push_str("<table id=\"alerts-table\"><thead><tr><th>Rule</th><th>Alerts</th></tr></thead><tbody>");
        for (k, v) in &r.alerts_by_rule {
            let _ = write!(
                o,
                "<tr><td><code>{}</code></td><td class=\"num\">{v}</td></tr>",
                esc(k)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str(
        "</section>\n</main><footer>Verdicts are the monitor's own, independent of the host's resolvers. \
Latency quantiles are within about 12 %.</footer></body></html>\n",
    );
    o
}
