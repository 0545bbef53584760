//! Cell texts shared by the Markdown and HTML renderers.

use super::model::{Algorithm, NameReport, ProcessSeen};

pub fn pct(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

pub fn list<T: ToString>(v: &[T]) -> String {
    if v.is_empty() {
        "-".to_owned()
    } else {
        v.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
    }
}

pub fn algorithms(v: &[Algorithm]) -> String {
    if v.is_empty() {
        "-".to_owned()
    } else {
        v.iter()
            .map(|a| format!("{} ({})", a.name, a.number))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `2026-12-01T00:00:00Z` → `2026-12-01 00:00 UTC`, for people.
pub fn when(t: &str) -> String {
    match (t.get(..10), t.get(11..16)) {
        (Some(d), Some(hm)) if t.len() >= 16 => format!("{d} {hm} UTC"),
        _ => t.to_owned(),
    }
}

/// `2026-12-01 00:00 UTC (3.5 days)`.
pub fn days(n: &NameReport) -> String {
    match (&n.signature_expiration, n.signature_days_left) {
        (Some(t), Some(d)) if d < 0.0 => format!("{} (expired {:.1} days ago)", when(t), -d),
        (Some(t), Some(d)) => format!("{} ({d:.1} days)", when(t)),
        _ => "-".to_owned(),
    }
}

/// `curl[4242], nginx[17,18] (container 0123456789ab)`.
pub fn processes(v: &[ProcessSeen]) -> String {
    if v.is_empty() {
        return "-".to_owned();
    }
    v.iter()
        .map(|p| {
            let pids = p
                .pids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let c = p
                .container_id
                .as_ref()
                .map(|c| format!(" (container {})", c.chars().take(12).collect::<String>()))
                .unwrap_or_default();
            format!("{}[{pids}]{c}", p.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
