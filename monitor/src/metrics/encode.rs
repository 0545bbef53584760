//! The Prometheus text exposition format, version 0.0.4: `# HELP`,
//! `# TYPE`, then one `name{label="value"} number` line per series;
//! histograms as `_bucket{le=…}` (cumulative), `_sum` and `_count`.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use super::registry::{Kind, Labels, Registry, Series};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Label values escape `\`, `"` and newline; HELP escapes `\` and newline.
fn escape(s: &str, quote: bool) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '"' if quote => o.push_str("\\\""),
            c => o.push(c),
        }
    }
    o
}

fn labels(l: &Labels, extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v, true)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn number(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

/// Render every family and every collector's samples. Each family's
/// lines are contiguous under one HELP/TYPE (required by the format),
/// also when a collector adds series to a registered family.
pub fn encode(reg: &Registry) -> String {
    // name → (help, kind, series lines)
    let mut fams: BTreeMap<String, (String, Kind, Vec<String>)> = BTreeMap::new();
    {
        let registered = reg.families.lock().unwrap_or_else(|p| p.into_inner());
        for (name, fam) in registered.iter() {
            let mut lines = Vec::new();
            for (l, s) in &fam.series {
                match s {
                    Series::Counter(c) => {
                        lines.push(format!("{name}{} {}", labels(l, None), c.get()))
                    }
                    Series::Gauge(g) => {
                        lines.push(format!("{name}{} {}", labels(l, None), g.get()))
                    }
                    Series::Histogram(h) => {
                        let (buckets, sum, count) = h.snapshot();
                        for (le, n) in buckets {
                            lines.push(format!(
                                "{name}_bucket{} {n}",
                                labels(l, Some(("le", number(le))))
                            ));
                        }
                        lines.push(format!("{name}_sum{} {}", labels(l, None), number(sum)));
                        lines.push(format!("{name}_count{} {count}", labels(l, None)));
                    }
                }
            }
            fams.insert(name.clone(), (fam.help.clone(), fam.kind, lines));
        }
    }
    let collectors = reg.collectors.lock().unwrap_or_else(|p| p.into_inner());
    for s in collectors.iter().flat_map(|c| c()) {
        let line = format!("{}{} {}", s.name, labels(&s.labels, None), number(s.value));
        fams.entry(s.name.clone())
            .or_insert_with(|| (s.help.clone(), s.kind, Vec::new()))
            .2
            .push(line);
    }
    let mut out = String::new();
    for (name, (help, kind, lines)) in fams {
        let _ = writeln!(out, "# HELP {name} {}", escape(&help, false));
        let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}
