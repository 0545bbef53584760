//! `dnssec-monitor report`: the posture of critical names and resolvers
//! from the store, as Markdown, self-contained HTML or JSON.

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Context as _;

use super::search::DEFAULT_STORE;
use crate::config::{check_config, units::parse_duration};
use crate::detect::posture::CriticalLabels;
use crate::report::{self, html, markdown};
use crate::store::Store;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Md,
    Html,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The store (SQLite file) [default: the config's [store] path, else
    /// /var/lib/dnssec-monitor/store.db].
    #[arg(long, alias = "db")]
    pub store: Option<PathBuf>,
    /// The daemon's config: its [store] path and its critical names.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Md)]
    pub format: Format,
    /// The period: this long back from now (s, m, h, d, w).
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    pub since: String,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn main(args: ReportArgs) -> anyhow::Result<i32> {
    let text = render(&args, SystemTime::now())?;
    match &args.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(0)
}

/// The `[[critical]]` names the config lists (without a config, the
/// labels the daemon recorded in the store name the critical names).
fn critical_of(cfg: &crate::config::Config) -> CriticalLabels {
    CriticalLabels::new(
        cfg.critical
            .iter()
            .map(|c| (c.name.clone(), c.label.clone())),
    )
}

/// The report text for `args` as of `now`.
pub fn render(args: &ReportArgs, now: SystemTime) -> anyhow::Result<String> {
    let age = parse_duration(&args.since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let since = now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH);
    let cfg = args
        .config
        .as_ref()
        .map(|p| check_config(p).map_err(|e| anyhow::anyhow!("{e}")))
        .transpose()?;
    let path = args
        .store
        .clone()
        .or_else(|| {
            cfg.as_ref()
                .and_then(|c| c.store.as_ref())
                .map(|s| s.path.clone())
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE));
    let critical = cfg.as_ref().map(critical_of).unwrap_or_default();
    let store = Store::open_read_only(&path)?;
    let r = report::from_store(&store, &critical, since, now)?;
    Ok(match args.format {
        Format::Md => markdown::render(&r),
        Format::Html => html::render(&r),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&r)?;
            s.push('\n');
            s
        }
    })
}
