//! `dnssec-monitor replay FILE`: run a pcap/pcapng file through the same
//! decode path as live capture and print one ECS JSON line per DNS message
//! (no process fields: a file does not know them), then the decode counters
//! on stderr.

use std::io::Read;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

use crate::capture::pcap::PcapSource;
use crate::decode::{DecodeCounters, DecodeLimits, Decoder};
use crate::event::DnsEvent;
use crate::sinks::jsonl::JsonLinesSink;

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// pcap or pcapng file (Ethernet, Linux cooked v1/v2, raw IP).
    pub file: PathBuf,
    /// Where the JSON lines go: `-` for stdout, or a file (appended).
    #[arg(long, short, default_value = "-")]
    pub output: String,
    /// DNS port (repeat for several); default 53.
    #[arg(long = "dns-port", value_name = "PORT")]
    pub dns_ports: Vec<u16>,
}

/// What a replay did.
#[derive(Debug)]
pub struct ReplaySummary {
    pub counters: DecodeCounters,
    pub events: u64,
    /// A read error that ended the file early (e.g. a capture cut short).
    pub stopped_by: Option<String>,
}

/// Decode every packet of `src` and hand each DNS message, as an event
/// without process (a file does not know it), to `emit`. At the end, whatever is still waiting (fragments, partial TCP
/// messages) is expired so the counters account for it.
pub fn replay<R: Read>(
    src: PcapSource<R>,
    limits: DecodeLimits,
    emit: &mut dyn FnMut(&DnsEvent) -> std::io::Result<()>,
) -> anyhow::Result<ReplaySummary> {
    let waits = limits.frag_timeout.max(limits.tcp_idle_timeout);
    let mut decoder = Decoder::new(limits);
    let mut out = Vec::new();
    let mut events = 0;
    let mut last = UNIX_EPOCH;
    let mut stopped_by = None;
    for (n, pkt) in src.enumerate() {
        let pkt = match pkt {
            Ok(p) => p,
            Err(e) => {
                stopped_by = Some(format!("packet {}: {e}", n + 1));
                break;
            }
        };
        last = last.max(pkt.timestamp);
        decoder.push(&pkt, &mut out);
        for m in out.drain(..) {
            emit(&DnsEvent::from_message(m, None)).context("writing output")?;
            events += 1;
        }
    }
    decoder.expire(
        last.checked_add(waits * 2)
            .unwrap_or(SystemTime::UNIX_EPOCH),
    );
    Ok(ReplaySummary {
        counters: decoder.counters().clone(),
        events,
        stopped_by,
    })
}

/// The stderr summary: one headline, then every counter.
pub fn format_summary(s: &ReplaySummary) -> String {
    let c = &s.counters;
    let mut text = format!(
        "replay: {} packets, {} DNS messages, {} events written\n",
        c.packets, c.messages, s.events
    );
    for (name, value) in c.fields() {
        text.push_str(&format!("  {name:<20} {value}\n"));
    }
    if let Some(why) = &s.stopped_by {
        text.push_str(&format!("replay: stopped early: {why}\n"));
    }
    text
}

pub fn main(args: ReplayArgs) -> anyhow::Result<i32> {
    let src =
        PcapSource::open(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let mut sink = JsonLinesSink::open(&args.output)
        .with_context(|| format!("opening output {}", args.output))?;
    let mut limits = DecodeLimits::default();
    if !args.dns_ports.is_empty() {
        limits.dns_ports = args.dns_ports.clone();
    }
    let summary = replay(src, limits, &mut |e| sink.write_record(&e.ecs()))?;
    sink.flush().context("writing output")?;
    eprint!("{}", format_summary(&summary));
    // Like tcpdump on a cut-short file: output is complete up to the damage,
    // but say so in the exit status.
    Ok(if summary.stopped_by.is_some() { 1 } else { 0 })
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
