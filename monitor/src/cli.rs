//! Command-line interface of `dnssec-monitor`. Each subcommand's options
//! live beside its implementation in [`crate::commands`].

use clap::{Parser, Subcommand};

use crate::commands::report::ReportArgs;
use crate::commands::{
    check_config::CheckConfigArgs, export::ExportArgs, search::SearchArgs,
    verify_evidence::VerifyEvidenceArgs,
};
use crate::commands::{replay::ReplayArgs, run::RunArgs, validate::ValidateArgs};

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
    /// Run a pcap or pcapng file through the detection pipeline offline: its alerts as JSON lines.
    Replay(ReplayArgs),
    /// Resolve and validate NAME independently, like `delv`.
    Validate(ValidateArgs),
    /// Check a config file: `ok` and a summary, or the error with key and line.
    CheckConfig(CheckConfigArgs),
    /// Search the forensic store: alerts (or transactions) by name, process, rule, time.
    Search(SearchArgs),
    /// Write an alert's query and answer as a pcap file.
    Export(ExportArgs),
    /// Re-check a stored alert's DNSKEY/DS/RRSIG evidence offline, at the stored time.
    VerifyEvidence(VerifyEvidenceArgs),
    /// DNSSEC posture of critical names and resolvers from the store (md, html, json).
    Report(ReportArgs),
}
