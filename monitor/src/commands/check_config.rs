//! `dnssec-monitor check-config FILE`: parse and check a config file.
//! Exit 0 and a one-line summary when it is good; exit 64 (the usage and
//! config error code of `main`) and the error
//! (`FILE:LINE:COLUMN: `key`: what is wrong`) on stderr when it is not.

use std::{io::Write, path::PathBuf};

use crate::config::{OutputTarget, check_config};

#[derive(clap::Args, Debug)]
pub struct CheckConfigArgs {
    /// The TOML configuration file.
    pub file: PathBuf,
}

pub fn main(args: CheckConfigArgs) -> anyhow::Result<i32> {
    Ok(run(&args, &mut std::io::stdout(), &mut std::io::stderr()))
}

pub fn run(args: &CheckConfigArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match check_config(&args.file) {
        Ok(cfg) => {
            let output = match &cfg.output.target {
                OutputTarget::Stdout => "stdout".to_owned(),
                OutputTarget::File(p) => p.display().to_string(),
            };
            let _ = writeln!(
                out,
                "{}: ok (output {output}, {} syslog sink(s), store {}, metrics on {})",
                args.file.display(),
                cfg.syslog.len(),
                cfg.store
                    .as_ref()
                    .map_or("off".to_owned(), |s| s.path.display().to_string()),
                cfg.metrics_listen,
            );
            0
        }
        Err(e) => {
            let _ = writeln!(err, "{e}");
            64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> (i32, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, text).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&CheckConfigArgs { file }, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn good_config_exits_zero_with_a_summary() {
        let (code, out, err) = check("metrics_listen = \"127.0.0.1:9999\"\n");
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(
                ": ok (output stdout, 0 syslog sink(s), store off, metrics on 127.0.0.1:9999)"
            ),
            "{out}"
        );
    }

    #[test]
    fn bad_config_exits_64_naming_key_and_line() {
        let (code, out, err) = check("events = true\nmetrics_listen = \"nowhere\"\n");
        assert_eq!(code, 64);
        assert!(out.is_empty());
        assert!(err.contains("c.toml:2:18: `metrics_listen`: "), "{err}");
    }
}
