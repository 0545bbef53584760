//! `dnssec-monitor`: parse the command line and hand over to the command.

use clap::Parser;
use monitor::cli::{Cli, Command};
use monitor::commands;

/// mimalloc instead of glibc malloc: every DNS message costs a few small
/// allocations (hickory's parsed message, the shared payload), and under
/// load glibc's arena bookkeeping (`malloc_consolidate`, `sysmalloc`
/// growing and trimming the heap) took ~18% of the agent's CPU at
/// 50k queries/s (perf, docs/bench/findings.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Usage errors exit 64 (2 means "bogus" for `validate`); --help exits 0.
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        let _ = e.print();
        std::process::exit(if e.use_stderr() { 64 } else { 0 })
    });
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Run(a) => commands::run::main(a),
        Command::Replay(a) => commands::replay::main(a),
        Command::Validate(a) => commands::validate::main(a),
        Command::CheckConfig(a) => commands::check_config::main(a),
        Command::Search(a) => commands::search::main(a),
        Command::Export(a) => commands::export::main(a),
        Command::VerifyEvidence(a) => commands::verify_evidence::main(a),
        Command::Report(a) => commands::report::main(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("dnssec-monitor: {e:#}");
            // 64 = EX_USAGE-style: configuration or usage problem.
            std::process::exit(64);
        }
    }
}
