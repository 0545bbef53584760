//! Replays Deckard `.rpl` scenarios through the engine (see `cargo xtask
//! conformance`). Usage: `conformance [--exceptions FILE] [--timeout SECS]
//! [--jobs N] FILE|DIR…`. Prints `PASS name`, `FAIL name: …` or
//! `SKIP name: …` per scenario and closes with `N passed, N failed,
//! N skipped`; exits 1 when any failed, 64 on usage errors.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tests::deckard::run::{collect, parse_exceptions, run_all};

const USAGE: &str =
    "usage: conformance [--exceptions FILE] [--timeout SECS] [--jobs N] FILE|DIR...";

struct Args {
    paths: Vec<PathBuf>,
    exceptions: PathBuf,
    timeout: Duration,
    jobs: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        paths: Vec::new(),
        exceptions: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance-exceptions.txt"),
        timeout: Duration::from_secs(20),
        jobs: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |what: &str| it.next().with_context(|| format!("{a} needs {what}"));
        match a.as_str() {
            "--exceptions" => args.exceptions = PathBuf::from(value("a file")?),
            "--timeout" => {
                args.timeout = Duration::from_secs(value("seconds")?.parse().context("--timeout")?)
            }
            "--jobs" => args.jobs = value("a number")?.parse().context("--jobs")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ if a.starts_with("--") => bail!("unknown option {a}"),
            _ => args.paths.push(PathBuf::from(a)),
        }
    }
    if args.paths.is_empty() {
        bail!("no scenario files or directories given");
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("conformance: {e:#}\n{USAGE}");
            std::process::exit(64);
        }
    };
    match real_main(args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("conformance: {e:#}");
            std::process::exit(64);
        }
    }
}

fn real_main(args: Args) -> anyhow::Result<i32> {
    let exceptions = match std::fs::read_to_string(&args.exceptions) {
        Ok(text) => parse_exceptions(&text)
            .map_err(anyhow::Error::msg)
            .with_context(|| args.exceptions.display().to_string())?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
        Err(e) => return Err(e).context(args.exceptions.display().to_string()),
    };
    let files = collect(&args.paths)?;
    if files.is_empty() {
        bail!("no .rpl files under the given paths");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let totals = rt.block_on(run_all(&files, &exceptions, args.timeout, args.jobs, |r| {
        println!("{r}")
    }));
    println!("{totals}");
    // Engine tasks still parked on a timed-out scenario must not keep us.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(if totals.failed > 0 { 1 } else { 0 })
}
