//! `cargo xtask …`: one place that knows how to provision this machine,
//! build the kernel programs and the agent, and run every test.

mod benchmarks;
mod build;
mod lab;
mod setup;
mod util;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Build, provision, run and test dnssec-monitor")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what is missing: Debian packages, nightly rust-src, bpf-linker.
    Setup,
    /// Build the eBPF object and `dnssec-monitor` with the object embedded.
    Build {
        #[arg(long)]
        release: bool,
    },
    /// Provision, build (optimised), and start the daemon as root
    /// (default arguments: `run --events --output -`: every DNS message and
    /// every alert as JSON lines on standard output).
    Run {
        /// Build without optimisations (faster to build, far slower to run).
        #[arg(long)]
        debug: bool,
        /// Arguments for `dnssec-monitor` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Provision, build, and run every test: unit, conformance, integration (root).
    Test,
    /// Replay Deckard `.rpl` scenarios (files or directories) through the engine.
    Conformance {
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Criterion benchmarks; with a name, only that group (e.g. `capture`);
    /// `report`: every head-to-head benchmark into docs/BENCHMARKS.md (root).
    Bench { what: Vec<String> },
    /// The attack lab (root): `up`, `down`, `status`, `list`, `scenario NAME…|all`.
    Lab { args: Vec<String> },
}

fn main() {
    // Print the error chain, not a backtrace: these errors are for people.
    if let Err(e) = dispatch(Cli::parse().cmd) {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn dispatch(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Setup => setup::setup(),
        Cmd::Build { release } => build::build(release).map(|_| ()),
        Cmd::Run { debug, args } => build::run_daemon(!debug, args),
        Cmd::Test => build::test(),
        Cmd::Conformance { paths } => build::conformance(&paths),
        Cmd::Bench { what } if what.first().map(String::as_str) == Some("report") => {
            benchmarks::report()
        }
        Cmd::Bench { what } => build::bench(&what),
        Cmd::Lab { args } => lab::lab(&args),
    }
}
