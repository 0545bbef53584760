//! Command-line interface of `dnssec-monitor`. Each subcommand's options
//! live beside its implementation in [`crate::commands`].

use clap::{Parser, Subcommand};

use crate::commands::{
    check_config::CheckConfigArgs, replay::ReplayArgs, run::RunArgs, search::SearchArgs,
    validate::ValidateArgs,
};

#[derive(Parser, Debug)]
#[command(
    name = "dnssec-monitor",
    version,
    about = "Watch the DNS answers this host receives and validate each one independently with DNSSEC"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The daemon: attach the kernel programs and report every DNS message.
    Run(RunArgs),
    /// Decode a pcap or pcapng file through the same path as live capture.
    Replay(ReplayArgs),
    /// Resolve and validate NAME independently, like `delv`.
    Validate(ValidateArgs),
    /// Check a TOML config file; errors name the key and line.
    CheckConfig(CheckConfigArgs),
    /// Search the forensic store by name, process, rule and time.
    Search(SearchArgs),
}
