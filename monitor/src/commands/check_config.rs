//! `dnssec-monitor check-config FILE`: parse and check a config file the
//! way `run --config` would, without starting anything. Prints `ok` and a
//! summary (exit 0), or the error naming file, line, column and key
//! (exit 64, the usage/config error code of `main`).

use std::{fmt::Write as _, path::PathBuf};

use crate::config::{self, Config, OutputTarget};

#[derive(clap::Args, Debug)]
pub struct CheckConfigArgs {
    /// The TOML config file to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Exit code of a config that does not check (EX_USAGE, as `main`).
pub const EXIT_CONFIG_ERROR: i32 = 64;

pub fn main(args: CheckConfigArgs) -> anyhow::Result<i32> {
    match config::check_config(&args.file) {
        Ok(cfg) => {
            print!("ok\n{}", summary(&cfg));
            Ok(0)
        }
        Err(e) => {
            eprintln!("dnssec-monitor: {e}");
            Ok(EXIT_CONFIG_ERROR)
        }
    }
}

/// One line per setting that matters for an operator checking the file.
pub fn summary(cfg: &Config) -> String {
    let mut s = String::new();
    let list = |v: &[std::net::SocketAddr]| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let output = match &cfg.output.target {
        OutputTarget::Stdout => "stdout".to_owned(),
        OutputTarget::File(p) => p.display().to_string(),
    };
    // Writing to a String cannot fail.
    let _ = writeln!(s, "output: {output} (events: {})", cfg.events);
    let _ = writeln!(s, "resolvers: {}", list(&cfg.resolvers));
    let _ = writeln!(
        s,
        "validating resolvers: {}",
        list(&cfg.validating_resolvers)
    );
    let _ = writeln!(
        s,
        "upstream: {}",
        if cfg.upstream.is_empty() {
            "iterate from the root".to_owned()
        } else {
            list(&cfg.upstream)
        }
    );
    let _ = writeln!(
        s,
        "trust anchor: {}",
        cfg.trust_anchor
            .as_ref()
            .map_or("built-in IANA root".to_owned(), |p| p.display().to_string())
    );
    let _ = writeln!(s, "allow: {}, nta: {}", cfg.allow.len(), cfg.nta.len());
    let _ = writeln!(s, "metrics: {}", cfg.metrics_listen);
    let _ = writeln!(s, "syslog sinks: {}", cfg.syslog.len());
    let _ = writeln!(
        s,
        "store: {}",
        cfg.store
            .as_ref()
            .map_or("off".to_owned(), |st| st.path.display().to_string())
    );
    s
}
