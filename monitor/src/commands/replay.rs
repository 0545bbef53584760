//! `dnssec-monitor replay FILE`: run a pcap/pcapng file through the same
//! pipeline as live capture, offline (DESIGN.md "CLI and configuration"):
//! the same decoder, then a [`Detector`] configured exactly as `run`'s
//! (the same detection options and `--config`, see [`run_detect`]), fed
//! each DNS message in capture order. Every alert goes out as the JSON line
//! the daemon writes for it ([`Alert::to_ecs`]); with `--events`, also one
//! ECS line per query, one transaction line per answer (its query and
//! verdict, as `run --events` writes it: detect/transactions.rs) and per
//! query that timed out unanswered within the capture, in capture order (no process fields: a file does not know them).
//! The decode counters, the messages observed and the alerts per rule go to
//! stderr.
//!
//! Time: correlation, warm-up, timeouts and resolver health run on the
//! packets' capture timestamps (the detector's own time line), so a file
//! replays as it was captured however fast it is read. The verdicts are
//! not: the engine resolves the names *now*, against today's DNS data,
//! and checks signature windows (captured RRSIGs included) against the
//! wall clock. A file older than the signatures' validity can therefore
//! show `bogus_signature` (expired) for answers that were valid at capture.
//! The engine's clock can be fixed, but one fixed instant would also judge
//! today's chain data at the capture's time, so there is no `--at` here.
//! `--offline` asks nothing at all: only the rules that need no verdict
//! run, and the summary says how many answers went unvalidated.
//!
//! [`run_detect`]: super::run_detect

use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

pub use super::replay_lines::ReplayLines;
use super::run_detect::{DetectArgs, build_engine, effective_config};
use crate::capture::pcap::PcapSource;
use crate::decode::{DecodeCounters, DecodeLimits, Decoder};
use crate::detect::alert::{Alert, Rule};
use crate::detect::detector::{Detector, DetectorConfig, Observed, Pending};
use crate::detect::policy::DetectPolicy;
use crate::event::{DnsEvent, DnsKind};
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
    /// Validate nothing: no lookups at all (an air-gapped analysis host, or
    /// a capture that must not cause DNS traffic). The rules that need no
    /// verdict still run (`unsolicited_response`, `response_race`,
    /// `resolver_failure`); the answers left unvalidated are counted.
    #[arg(long)]
    pub offline: bool,
    /// The detector's options, as for `run` (`--events` adds the event lines).
    #[command(flatten)]
    pub detect: DetectArgs,
}

/// How often the resolver health check runs on capture time: as often as
/// the daemon's detection stage runs it on its time line.
fn health_every() -> Duration {
    crate::detect::stage::StageOptions::default().health_interval
}

/// What a replay did.
#[derive(Debug)]
pub struct ReplaySummary {
    pub counters: DecodeCounters,
    /// DNS messages handed to the detector.
    pub events: u64,
    /// Alerts written, by [`Rule::index`].
    pub alerts: [u64; Rule::ALL.len()],
    /// A read error that ended the file early (e.g. a capture cut short).
    pub stopped_by: Option<String>,
    /// Answers the verdict rules would have checked, left unvalidated
    /// (`--offline`).
    pub unvalidated: u64,
}

impl ReplaySummary {
    pub fn alerts_of(&self, rule: Rule) -> u64 {
        self.alerts[rule.index()]
    }

    pub fn alerts_total(&self) -> u64 {
        self.alerts.iter().sum()
    }
}

/// One line of `--events` output: a message as captured (a query), or a
/// line the detector rendered (a transaction: an answer's, or an
/// unanswered query's).
pub enum EventLine<'a> {
    Message(&'a DnsEvent),
    Rendered(&'a [u8]),
}

/// Where a replay's output goes: each alert, and (`--events`) each query
/// and each transaction line, in capture order. Written as they
/// come (at most 64 messages behind), so a long file's alerts
/// appear while it is read and are not held in memory.
pub struct ReplayOutput<'a> {
    pub alert: &'a mut dyn FnMut(&Alert) -> std::io::Result<()>,
    pub event: Option<&'a mut EventWriter<'a>>,
    /// Where the detector writes its transaction lines (it was built with
    /// [`ReplayLines::log`]); None: answers are written as messages too.
    pub transactions: Option<ReplayLines>,
}

/// Writes one event line.
pub type EventWriter<'a> = dyn FnMut(EventLine<'_>) -> std::io::Result<()> + 'a;

/// Answers whose verdicts are fetched at the same time. Lookups of a
/// capture's names are independent (the engine deduplicates the same
/// name in flight); one at a time, a capture full of names whose servers
/// do not answer took a timeout per name.
const IN_FLIGHT: usize = 64;

/// What one message (or one health check) writes, in capture order: its
/// event line (a query, or an answer without [`ReplayOutput::transactions`]),
/// the transaction lines written while it was observed, its alerts, then
/// the lines and alerts of its verdict once it is in.
struct Settled {
    line: Option<DnsEvent>,
    rendered: Vec<Vec<u8>>,
    alerts: Vec<Alert>,
    verdict: Option<tokio::task::JoinHandle<Judged>>,
}

/// An evaluation task's alerts and the transaction lines it wrote.
type Judged = (Vec<Alert>, Vec<Vec<u8>>);

impl Settled {
    /// A health check's alerts and the lines the detector wrote meanwhile
    /// (the transactions of queries that expired unanswered).
    fn health(alerts: Vec<Alert>, transactions: Option<&ReplayLines>) -> Settled {
        Settled {
            line: None,
            rendered: transactions.map(ReplayLines::take).unwrap_or_default(),
            alerts,
            verdict: None,
        }
    }
}

fn write_rendered(w: &mut Option<&mut EventWriter<'_>>, lines: &[Vec<u8>]) -> anyhow::Result<()> {
    if let Some(w) = w.as_mut() {
        for l in lines {
            w(EventLine::Rendered(l)).context("writing output")?;
        }
    }
    Ok(())
}

/// Writes the oldest entry, awaiting its verdict first.
async fn settle_front(
    queue: &mut VecDeque<Settled>,
    write_event: &mut Option<&mut EventWriter<'_>>,
    emit: &mut impl FnMut(Vec<Alert>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let Some(s) = queue.pop_front() else {
        return Ok(());
    };
    if let (Some(ev), Some(w)) = (&s.line, write_event.as_mut()) {
        w(EventLine::Message(ev)).context("writing output")?;
    }
    write_rendered(write_event, &s.rendered)?;
    emit(s.alerts)?;
    if let Some(v) = s.verdict {
        let (alerts, rendered) = v.await.context("a verdict task failed")?;
        write_rendered(write_event, &rendered)?;
        emit(alerts)?;
    }
    Ok(())
}

/// Decode every packet of `src` and hand each DNS message, as an event
/// without process (a file does not know it), to `detector` in capture
/// order; up to [`IN_FLIGHT`] answers wait for their verdicts at once,
/// and everything is written in capture order. The resolver health check runs every second of capture time,
/// as the daemon's stage runs it. At the end, whatever the decoder still
/// holds (fragments, partial TCP messages) is expired so the counters
/// account for it.
pub async fn replay<R: Read>(
    src: PcapSource<R>,
    limits: DecodeLimits,
    detector: &mut Detector,
    out: ReplayOutput<'_>,
) -> anyhow::Result<ReplaySummary> {
    let ReplayOutput {
        alert: write_alert,
        event: mut write_event,
        transactions,
    } = out;
    let waits = limits.frag_timeout.max(limits.tcp_idle_timeout);
    let every = health_every();
    let mut decoder = Decoder::new(limits);
    let mut msgs = Vec::new();
    let mut events = 0;
    let mut per_rule = [0u64; Rule::ALL.len()];
    let mut emit = |alerts: Vec<Alert>| -> anyhow::Result<()> {
        for a in alerts {
            per_rule[a.rule.index()] += 1;
            write_alert(&a).context("writing output")?;
        }
        Ok(())
    };
    let mut queue = VecDeque::new();
    let mut last = UNIX_EPOCH;
    let mut next_health: Option<SystemTime> = None;
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
        decoder.push(&pkt, &mut msgs);
        for m in msgs.drain(..) {
            let ev = DnsEvent::from_message(m, None);
            match next_health {
                None => next_health = ev.timestamp.checked_add(every),
                Some(due) if ev.timestamp >= due => {
                    let alerts = detector.check_health(ev.timestamp);
                    queue.push_back(Settled::health(alerts, transactions.as_ref()));
                    next_health = ev.timestamp.checked_add(every);
                }
                Some(_) => {}
            }
            events += 1;
            let line = (write_event.is_some()
                && (ev.kind == DnsKind::Query || transactions.is_none()))
            .then(|| ev.clone());
            let Observed {
                mut alerts,
                pending,
            } = detector.observe(ev);
            // As the detection stage does: at once when it can be, else
            // on its own task while the next messages are observed.
            let verdict = match pending.map(Pending::try_now) {
                None => None,
                Some(Ok(more)) => {
                    alerts.extend(more);
                    None
                }
                Some(Err(p)) => Some(tokio::spawn(ReplayLines::scoped(p.evaluate()))),
            };
            let rendered = transactions
                .as_ref()
                .map(ReplayLines::take)
                .unwrap_or_default();
            queue.push_back(Settled {
                line,
                rendered,
                alerts,
                verdict,
            });
            while queue.len() > IN_FLIGHT {
                settle_front(&mut queue, &mut write_event, &mut emit).await?;
            }
        }
    }
    // The capture's end is the last thing it can prove: one more health
    // check there judges the queries that timed out since the last
    // periodic one. Queries younger than the timeout at the end stay
    // unjudged (their answers may have come after the capture stopped).
    if next_health.is_some() {
        let alerts = detector.check_health(last);
        queue.push_back(Settled::health(alerts, transactions.as_ref()));
    }
    while !queue.is_empty() {
        settle_front(&mut queue, &mut write_event, &mut emit).await?;
    }
    decoder.expire(last.checked_add(waits * 2).unwrap_or(UNIX_EPOCH));
    Ok(ReplaySummary {
        counters: decoder.counters().clone(),
        events,
        alerts: per_rule,
        stopped_by,
        unvalidated: detector.counters().unvalidated.load(Ordering::Relaxed),
    })
}

/// The stderr summary: one headline, the alerts per rule, then every
/// decode counter.
pub fn format_summary(s: &ReplaySummary) -> String {
    let c = &s.counters;
    let mut text = format!(
        "replay: {} packets, {} DNS messages, {} observed, {} alerts\n",
        c.packets,
        c.messages,
        s.events,
        s.alerts_total()
    );
    for r in Rule::ALL {
        text.push_str(&format!("  alerts.{:<28} {}\n", r.name(), s.alerts_of(r)));
    }
    for (name, value) in c.fields() {
        text.push_str(&format!("  {name:<20} {value}\n"));
    }
    if s.unvalidated > 0 {
        text.push_str(&format!(
            "replay: offline: {} answers not validated (the verdict rules did not run on them)\n",
            s.unvalidated
        ));
    }
    if let Some(why) = &s.stopped_by {
        text.push_str(&format!("replay: stopped early: {why}\n"));
    }
    text
}

/// The detector `run` would build from `args`, on the current runtime;
/// capture starts at the file's first message (its warm-up too), and no
/// capture-side loss is known (nothing suppresses an unmatched answer).
/// Also where its transaction lines go when event lines are wanted
/// (`--events` or `events = true`). `offline`: no verdicts
/// ([`DetectorConfig::offline`]).
pub fn build_detector(
    args: &DetectArgs,
    offline: bool,
) -> anyhow::Result<(Detector, Option<ReplayLines>)> {
    let cfg = effective_config(args)?;
    let policy = DetectPolicy::from_config(&cfg)?;
    let engine = build_engine(&cfg, &policy)?;
    let lines = cfg.events.then(ReplayLines::default);
    let detector = Detector::new(
        engine,
        policy,
        DetectorConfig {
            started: None,
            health: cfg.resolver_health.health_config(),
            offline,
            transactions: lines.as_ref().map(ReplayLines::log),
            ..DetectorConfig::default()
        },
    );
    Ok((detector, lines))
}

pub fn main(args: ReplayArgs) -> anyhow::Result<i32> {
    let mut limits = DecodeLimits::default();
    if !args.dns_ports.is_empty() {
        limits.dns_ports = args.dns_ports.clone();
    }
    // One thread: the file is read in order; up to IN_FLIGHT verdict
    // lookups overlap on it, and the output keeps capture order.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let summary = rt.block_on(async {
        // A bad option is reported before the file is looked at, as `run`
        // reports it before attaching anything.
        let (mut detector, transactions) = build_detector(&args.detect, args.offline)?;
        let src = PcapSource::open(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?;
        let mut sink = JsonLinesSink::open(&args.output)
            .with_context(|| format!("opening output {}", args.output))?;
        let summary = {
            // Both write to the one sink, in the order they come.
            let sink = std::cell::RefCell::new(&mut sink);
            let mut alert = |a: &Alert| sink.borrow_mut().write_record(&a.to_ecs());
            let mut event = |l: EventLine<'_>| match l {
                EventLine::Message(e) => sink.borrow_mut().write_record(&e.ecs()),
                EventLine::Rendered(b) => sink.borrow_mut().write_raw(b),
            };
            let out = ReplayOutput {
                alert: &mut alert,
                event: transactions.is_some().then_some(&mut event as _),
                transactions,
            };
            replay(src, limits, &mut detector, out).await?
        };
        sink.flush().context("writing output")?;
        anyhow::Ok(summary)
    })?;
    eprint!("{}", format_summary(&summary));
    // Like tcpdump on a cut-short file: output is complete up to the
    // damage, but say so in the exit status.
    Ok(if summary.stopped_by.is_some() { 1 } else { 0 })
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
