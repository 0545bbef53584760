//! The detection step of `dnssec-monitor run`, kept apart from the capture
//! side: its options (and the same keys from `--config FILE`), the engine
//! and policy they make, and [`start`], which turns the decoded DNS events
//! into alert lines (and event lines with `--events`) on the sink channel.
//!
//! ```text
//! decode ─(DnsEvent)─▶ tee (--events only: query line) ─▶ detect stage ─(Alert)─▶ ECS line ─▶ sink
//!                                                           ├─(--events: answer + query + verdict)─▶ transaction line ─▶ sink
//!                                                           └─(sampled answer, joined and judged)─▶ store
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use anyhow::{Context, bail};
use hickory_proto::rr::Name;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::run_output::Output;
use super::validate::parse_server;
use crate::config::{Config, Nta, check_config};
use crate::detect::alert::Rule;
use crate::detect::batches::{BatchReceiver, batch_channel};
use crate::detect::detector::{Detector, DetectorConfig, LossProbe};
use crate::detect::policy::DetectPolicy;
use crate::detect::stage::{LossSource, StageHandle, StageOptions, spawn_detect_stage};
use crate::detect::transactions::TransactionLog;
use crate::dnssec::anchors::TrustAnchors;
use crate::dnssec::engine::{Engine, EngineConfig, NegativeTrustAnchor, RootHints};
use crate::dnssec::transport_net::NetTransport;
use crate::event::DnsKind;

#[derive(clap::Args, Debug, Default, Clone)]
pub struct DetectArgs {
    /// TOML configuration (see monitor/config/dnssec-monitor.toml); the
    /// options below add to its lists and override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A resolver this host is expected to use (repeatable): RD=1 answers
    /// for secure names from any other server raise unsigned_fallback.
    #[arg(long = "resolver", value_name = "ADDR[:PORT]")]
    pub resolvers: Vec<String>,
    /// A resolver expected to validate and set AD (repeatable).
    #[arg(long = "validating-resolver", value_name = "ADDR[:PORT]")]
    pub validating_resolvers: Vec<String>,
    /// Where the monitor's own engine asks (DO+CD) instead of iterating
    /// from the root (repeatable).
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub upstream: Vec<String>,
    /// Root hints in named.root format (default: the built-in IANA hints).
    #[arg(long, value_name = "FILE")]
    pub root_hints: Option<PathBuf>,
    /// Trust anchors: DS or DNSKEY records in zone-file syntax (default: IANA root KSKs).
    #[arg(long, value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,
    /// Never alert on this name or anything below it (repeatable).
    #[arg(long = "allow", value_name = "NAME")]
    pub allow: Vec<String>,
    /// Negative trust anchor (RFC 7646): a known-broken zone (repeatable).
    #[arg(long = "nta", value_name = "ZONE")]
    pub nta: Vec<String>,
    /// Also write event lines: each query as captured, each answer's
    /// transaction with its query and verdict, and a transaction line for
    /// each query left unanswered (alerts are always written).
    #[arg(long)]
    pub events: bool,
    /// DNS 0x20 on the engine's own queries: random letter case, answers
    /// that do not echo it dropped (config `dns_0x20`).
    #[arg(long = "dns-0x20")]
    pub dns_0x20: bool,
    /// Copy every DNS message up from the kernel, also repeats of
    /// exchanges already judged clean (config `kernel_fast_path = false`).
    #[arg(long = "no-kernel-fast-path")]
    pub no_kernel_fast_path: bool,
}

/// The configuration file (if any) with the command-line options applied.
pub fn effective_config(args: &DetectArgs) -> anyhow::Result<Config> {
    let mut cfg = match &args.config {
        Some(p) => check_config(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Config::default(),
    };
    let servers = |v: &[String]| {
        v.iter()
            .map(|s| parse_server(s))
            .collect::<anyhow::Result<Vec<_>>>()
    };
    cfg.resolvers.extend(servers(&args.resolvers)?);
    cfg.validating_resolvers
        .extend(servers(&args.validating_resolvers)?);
    if !args.upstream.is_empty() {
        cfg.upstream = servers(&args.upstream)?;
    }
    if args.root_hints.is_some() {
        cfg.root_hints = args.root_hints.clone();
    }
    if args.trust_anchor.is_some() {
        cfg.trust_anchor = args.trust_anchor.clone();
    }
    cfg.allow.extend(args.allow.iter().cloned());
    cfg.nta.extend(args.nta.iter().map(|z| Nta {
        zone: z.clone(),
        expires: None,
    }));
    cfg.events |= args.events;
    cfg.dns_0x20 |= args.dns_0x20;
    cfg.kernel_fast_path &= !args.no_kernel_fast_path;
    Ok(cfg)
}

/// The engine's configuration from the daemon's: resolution mode, trust
/// anchors (global, then per zone), per-zone upstreams and the NTAs with
/// their expiry (the engine reads it at every lookup, RFC 7646 §2).
pub fn engine_config(cfg: &Config, policy: &DetectPolicy) -> anyhow::Result<EngineConfig> {
    let mut ec = if cfg.upstream.is_empty() {
        let hints = match &cfg.root_hints {
            Some(p) => RootHints::from_file(p)
                .with_context(|| format!("reading root hints {}", p.display()))?,
            None => RootHints::iana(),
        };
        EngineConfig::iterative(hints)
    } else {
        if cfg.root_hints.is_some() {
            bail!("root hints and upstream exclude each other");
        }
        EngineConfig::upstream(cfg.upstream.clone())
    };
    if let Some(p) = &cfg.trust_anchor {
        ec.trust_anchors = TrustAnchors::from_file(p)
            .with_context(|| format!("reading trust anchor {}", p.display()))?;
    }
    for (i, z) in cfg.zones.iter().enumerate() {
        let mut zone = Name::from_ascii(&z.name)
            .with_context(|| format!("zone[{i}].name: bad name {:?}", z.name))?;
        zone.set_fqdn(true);
        if let Some(p) = &z.trust_anchor {
            let anchors = TrustAnchors::from_file(p)
                .with_context(|| format!("zone[{i}].trust_anchor {}", p.display()))?;
            ec.trust_anchors
                .add_zone(&zone, anchors)
                .with_context(|| format!("zone[{i}].trust_anchor {}", p.display()))?;
        }
        if !z.upstream.is_empty() {
            ec.zone_upstreams.push((zone, z.upstream.clone()));
        }
    }
    ec.dns_0x20 = cfg.dns_0x20;
    ec.negative_trust_anchors = policy
        .nta
        .iter()
        .map(|n| match n.expires {
            Some(e) => NegativeTrustAnchor::until(&n.zone, e),
            None => NegativeTrustAnchor::permanent(&n.zone),
        })
        .collect();
    Ok(ec)
}

/// The engine the rules consult, from the configuration.
pub fn build_engine(cfg: &Config, policy: &DetectPolicy) -> anyhow::Result<Engine> {
    let ec = engine_config(cfg, policy)?;
    Ok(Engine::new(ec, Arc::new(NetTransport::default())))
}

/// The running detection step.
pub struct Detection {
    pub handle: StageHandle,
    /// The verdict service (its engine collects the store's evidence; its
    /// counters feed the cache and latency metrics).
    pub verdicts: crate::detect::verdicts::VerdictService,
    tee: JoinHandle<()>,
    stage: JoinHandle<()>,
    out: JoinHandle<()>,
}

/// Starts detection on the current runtime: `events` from decode, lines to
/// the sink on `lines`; `loss` names the earlier stages' drop counters.
/// Full line channel: the line is dropped and counted by the sink stage's
/// own accounting upstream of it (alerts wait instead, see [`send_line`]).
/// `sampler`: the store's sample of answers, taken by the detector after
/// the join and handed to `lines` without waiting.
pub fn start(
    args: &DetectArgs,
    events: BatchReceiver,
    lines: mpsc::Sender<Output>,
    loss: LossSource,
    sampler: Option<super::run_store::SamplePlan>,
    clean: Option<Arc<dyn crate::detect::clean::CleanExchanges>>,
) -> anyhow::Result<Detection> {
    let cfg = effective_config(args)?;
    let policy = DetectPolicy::from_config(&cfg)?;
    let engine = build_engine(&cfg, &policy)?;
    let own = policy.clone();
    // The same drop counters feed `capture_loss` (stage, every interval)
    // and the detector's probe (an unmatched answer right after a loss).
    let loss = Arc::new(loss);
    let probe = loss.clone();
    let detector = Detector::new(
        engine,
        policy,
        DetectorConfig {
            started: Some(SystemTime::now()),
            health: cfg.resolver_health.health_config(),
            // Capture-side losses only (see run_loss.rs).
            loss_probe: Some(LossProbe(Arc::new(move || {
                probe()
                    .iter()
                    .filter(|(n, _)| super::run_loss::suppresses(n))
                    .map(|(_, v)| *v)
                    .sum()
            }))),
            // Taken after the join, so a sampled answer carries its
            // query, process and verdict (detect/sample.rs).
            sample: sampler.map(|p| p.config(&lines)),
            clean,
            transactions: cfg.events.then(|| transaction_log(&lines)),
            ..DetectorConfig::default()
        },
    );
    let verdicts = detector.verdicts().clone();
    let with_events = cfg.events;
    let (alert_tx, alert_rx) = mpsc::channel(4_096);
    let opts = StageOptions {
        loss_source: Some(Box::new(move || loss())),
        posture_interval: cfg.resolver_health.window,
        posture_sink: posture_sink(&lines),
        ..StageOptions::default()
    };
    if !with_events {
        // Nothing to tee: decode feeds the detector directly (one channel
        // hop and two moves of every event fewer).
        let (handle, stage) = spawn_detect_stage(detector, events, alert_tx, opts);
        return Ok(Detection {
            handle,
            verdicts,
            tee: tokio::spawn(async {}),
            stage,
            out: spawn_alert_out(alert_rx, lines),
        });
    }
    let (det_tx, det_rx) = batch_channel(65_536);
    let (handle, stage) = spawn_detect_stage(detector, det_rx, alert_tx, opts);
    let ev_lines = lines.clone();
    let counters = handle.stage.clone();
    let tee = tokio::spawn(async move {
        let mut events = events;
        // Event lines of one batch, rendered into one buffer (one item on
        // the output channel per batch, not per message).
        let mut rendered: Vec<u8> = Vec::new();
        let mut ecs_lines = crate::event_lines::EcsLines::default();
        while let Some(batch) = events.recv().await {
            if with_events {
                let mut n = 0;
                // Queries here, as captured (one may never be answered);
                // an answer's line is its transaction, written by the
                // detector once it is done with it (detect/transactions.rs).
                for ev in batch.iter().filter(|ev| ev.kind == DnsKind::Query) {
                    let mut doc = ev.ecs_without_dns();
                    doc.dnssec_monitor.own_query = own.is_own(ev);
                    ecs_lines.write(&mut rendered, ev, &doc);
                    n += 1;
                }
                if n > 0 {
                    // The next batch's buffer starts at this one's size
                    // (no regrowth and copying as it fills).
                    let next = Vec::with_capacity(rendered.len());
                    let bytes = std::mem::replace(&mut rendered, next);
                    let item = Output::Events { bytes, lines: n };
                    if ev_lines.try_send(item).is_err() {
                        counters.event_lines_full.fetch_add(n, Ordering::Relaxed);
                    }
                }
            }
            // Waits for room: a slow detector holds the tee, which holds
            // the reader, which leaves records in the kernel ring (where a
            // loss is counted as ring_full), so nothing is dropped here.
            if let Err(b) = det_tx.send(batch).await {
                counters
                    .output_closed
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
            }
        }
    });
    let out = spawn_alert_out(alert_rx, lines);
    Ok(Detection {
        handle,
        verdicts,
        tee,
        stage,
        out,
    })
}

/// `--events`: answers' transaction lines, gathered and handed to the
/// output without waiting (a full channel: counted as
/// `transaction_lines_full`), every [`TRANSACTION_FLUSH`].
fn transaction_log(lines: &mpsc::Sender<Output>) -> TransactionLog {
    let tx = lines.clone();
    let log = TransactionLog::gathered(Arc::new(move |bytes, lines| {
        tx.try_send(Output::Events { bytes, lines }).is_ok()
    }));
    log.spawn_flusher(TRANSACTION_FLUSH);
    log
}

/// How long a transaction line may wait to be gathered with others.
const TRANSACTION_FLUSH: std::time::Duration = std::time::Duration::from_millis(20);

/// The posture (`dnssec-monitor report`) goes to the store through the
/// output stage, which owns the store's one writer; without a store the
/// output stage drops it. A full channel loses one interval (logged).
fn posture_sink(lines: &mpsc::Sender<Output>) -> Option<crate::detect::stage::PostureSink> {
    let tx = lines.clone();
    Some(Box::new(move |p| {
        if tx.try_send(Output::Posture(Box::new(p))).is_err() {
            tracing::warn!("posture: output channel full, one interval dropped");
        }
    }))
}

/// Alerts to the output channel, with back-pressure (never dropped).
fn spawn_alert_out(
    mut alerts: mpsc::Receiver<crate::detect::alert::Alert>,
    lines: mpsc::Sender<Output>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(a) = alerts.recv().await {
            if lines.send(Output::Alert(Arc::new(a))).await.is_err() {
                break;
            }
        }
    })
}

impl Detection {
    /// Waits until the event channel closed and every alert was handed on.
    pub async fn finish(self) {
        let _ = self.tee.await;
        let _ = self.stage.await;
        let _ = self.out.await;
    }

    /// [`Detection::finish`], bounded: past `limit` the evaluations still
    /// waiting for a verdict are abandoned (their tasks aborted, so the
    /// output channel closes and the outputs can drain). `false` then.
    pub async fn finish_within(self, limit: std::time::Duration) -> bool {
        let aborts = [
            self.tee.abort_handle(),
            self.stage.abort_handle(),
            self.out.abort_handle(),
        ];
        let done = tokio::time::timeout(limit, self.finish()).await.is_ok();
        if !done {
            for a in aborts {
                a.abort();
            }
        }
        done
    }
}

/// One line for the exit report: stage counters and alerts per rule.
pub fn report(h: &StageHandle) -> String {
    let s = &h.stage;
    let d = &h.detect;
    let per_rule: Vec<String> = Rule::ALL
        .iter()
        .map(|r| format!("{}={}", r.name(), d.alerts_of(*r)))
        .collect();
    let o = *h.outstanding.lock().unwrap_or_else(|p| p.into_inner());
    let t = h.transactions.as_deref();
    format!(
        "detect: received={} alerts={} input_full={} pending_full={} event_lines_full={} transaction_lines={} transaction_lines_full={} verdict_queue_full={} own_skipped={} served={}; {}; outstanding: joined={} unsolicited_answers={} races={} wrong_txid={} expired={} evicted_full={} evicted_answered={} entries={}",
        s.received.load(Ordering::Relaxed),
        s.emitted.load(Ordering::Relaxed),
        s.input_full.load(Ordering::Relaxed),
        s.pending_full.load(Ordering::Relaxed),
        s.event_lines_full.load(Ordering::Relaxed),
        t.map_or(0, |t| t.lines.load(Ordering::Relaxed)),
        t.map_or(0, |t| t.full.load(Ordering::Relaxed)),
        d.verdict_queue_full.load(Ordering::Relaxed),
        d.own_skipped.load(Ordering::Relaxed),
        d.served.load(Ordering::Relaxed),
        per_rule.join(" "),
        o.joined,
        o.unsolicited,
        o.races,
        o.wrong_txid,
        o.expired,
        o.evicted_full,
        o.evicted_answered,
        o.entries,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        d: DetectArgs,
    }

    #[test]
    fn options_map_to_config_keys() {
        let dir = std::env::temp_dir().join(format!("run-detect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "resolvers = [\"127.0.0.53\"]\nallow = [\"printer.lan\"]\n",
        )
        .unwrap();
        let cli = Cli::parse_from([
            "x",
            "--config",
            f.to_str().unwrap(),
            "--resolver",
            "10.0.0.1",
            "--validating-resolver",
            "10.0.0.2:5353",
            "--allow",
            "corp.example",
            "--nta",
            "broken.example",
            "--events",
        ]);
        let c = effective_config(&cli.d).unwrap();
        let s: Vec<String> = c.resolvers.iter().map(|a| a.to_string()).collect();
        assert_eq!(s, ["127.0.0.53:53", "10.0.0.1:53"]);
        assert_eq!(c.validating_resolvers[0].to_string(), "10.0.0.2:5353");
        assert_eq!(c.allow, ["printer.lan", "corp.example"]);
        assert_eq!(c.nta[0].zone, "broken.example");
        assert!(c.events);
        let p = DetectPolicy::from_config(&c).unwrap();
        assert!(p.expected_resolver("10.0.0.2:5353".parse().unwrap()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_values_are_errors() {
        let cli = Cli::parse_from(["x", "--resolver", "not-an-address"]);
        assert!(effective_config(&cli.d).is_err());
        let cli = Cli::parse_from(["x", "--config", "/nonexistent/dnssec-monitor.toml"]);
        let e = effective_config(&cli.d).unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
        let cli = Cli::parse_from(["x", "--upstream", "127.0.0.1", "--root-hints", "/x"]);
        let c = effective_config(&cli.d).unwrap();
        assert!(build_engine(&c, &DetectPolicy::default()).is_err());
    }
}
