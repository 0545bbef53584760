//! Operations glue for `run`, one call each: the metrics endpoint with
//! collectors over the capture counters, dropping capabilities after the
//! eBPF programs are attached, and SIGHUP → reopen of a rotating file.

use std::{net::SocketAddr, sync::Arc, sync::atomic::Ordering};

use anyhow::Context;
use tokio::task::JoinHandle;

use crate::capture::{ebpf::KernelCounters, ringbuf::RingStats};
use crate::config::DEFAULT_METRICS_LISTEN;
use crate::correlate::outstanding::OutstandingStats;
use crate::detect::{alert::Rule, stage::StageHandle};
use crate::metrics::{
    ALERTS, KERNEL_PACKETS, Kind, Metrics, STAGE_DROPPED, STAGE_EMITTED, STAGE_RECEIVED, Sample,
    server::MetricsServer,
};
use crate::privs::{DAEMON_KEEP, drop_capabilities};
use crate::sinks::rotate::ReopenHandle;

#[derive(clap::Args, Debug, Default, Clone)]
pub struct OpsArgs {
    /// Serve Prometheus metrics (GET /metrics) here [default: the config's
    /// `metrics_listen`, else 127.0.0.1:9153].
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<SocketAddr>,
    /// Niceness of the daemon's threads, -20..19 [default: the config's
    /// `nice`, else 0]: a positive value yields to the host's work under
    /// CPU contention; what is not checked is counted (`capture_loss`).
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-20..=19))]
    pub nice: Option<i32>,
}

impl OpsArgs {
    /// The command line wins over the config file's value.
    pub fn metrics_addr(&self, from_config: Option<SocketAddr>) -> SocketAddr {
        self.metrics_listen
            .or(from_config)
            .unwrap_or_else(|| DEFAULT_METRICS_LISTEN.parse().expect("valid constant"))
    }
}

/// One counter sample (shared with run_metrics.rs).
pub(super) fn sample(name: &str, help: &str, labels: &[(&str, &str)], value: u64) -> Sample {
    Sample {
        name: name.to_owned(),
        help: help.to_owned(),
        kind: Kind::Counter,
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        value: value as f64,
    }
}

/// The ring reader's counters as the `capture` stage.
pub fn ring_samples(ring: &RingStats) -> Vec<Sample> {
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let records = l(&ring.records);
    let dropped = [
        ("malformed", l(&ring.malformed)),
        ("channel_full", l(&ring.channel_full)),
        ("duplicate", l(&ring.duplicates)),
    ];
    let emitted = records.saturating_sub(dropped.iter().map(|(_, n)| n).sum());
    let mut out = vec![
        sample(
            STAGE_RECEIVED,
            "Items a pipeline stage received.",
            &[("stage", "capture")],
            records,
        ),
        sample(
            STAGE_EMITTED,
            "Items a pipeline stage passed on.",
            &[("stage", "capture")],
            emitted,
        ),
    ];
    for (reason, n) in dropped {
        out.push(sample(
            STAGE_DROPPED,
            "Items a pipeline stage dropped, by reason.",
            &[("stage", "capture"), ("reason", reason)],
            n,
        ));
    }
    out
}

/// Kernel counters (`seen`, `sent`, `truncated`, `ring_full`, …).
pub fn kernel_samples(named: &[(&str, u64)]) -> Vec<Sample> {
    named
        .iter()
        .map(|(name, v)| {
            sample(
                KERNEL_PACKETS,
                "Packets counted by the eBPF programs.",
                &[("counter", name)],
                *v,
            )
        })
        .collect()
}

/// The kernel fast path's user-space side (capture/fast_path.rs): entries
/// written, held-back queries sent up for want of an answer, and what was
/// lost on the way (`event` label: the exit report's `fast_*` names).
pub const FAST_PATH: &str = "dnssec_monitor_fast_path_total";

pub fn fast_path_samples(named: &[(&'static str, u64)]) -> Vec<Sample> {
    named
        .iter()
        .map(|(name, v)| {
            sample(
                FAST_PATH,
                "The kernel fast path's user-space side, by event.",
                &[("event", name.strip_prefix("fast_").unwrap_or(name))],
                *v,
            )
        })
        .collect()
}

/// The detection stage's counters: `detect` stage received/emitted and
/// drops by reason, and alerts per rule.
pub fn detect_samples(h: &StageHandle) -> Vec<Sample> {
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let stage = [("stage", "detect")];
    let mut out = vec![
        sample(
            STAGE_RECEIVED,
            "Items a pipeline stage received.",
            &stage,
            l(&h.stage.received),
        ),
        sample(
            STAGE_EMITTED,
            "Items a pipeline stage passed on.",
            &stage,
            l(&h.stage.emitted),
        ),
    ];
    for (reason, n) in [
        ("input_full", l(&h.stage.input_full)),
        ("pending_full", l(&h.stage.pending_full)),
        ("output_closed", l(&h.stage.output_closed)),
        ("verdict_queue_full", l(&h.detect.verdict_queue_full)),
        // `--events` lines the output channel had no room for.
        ("event_lines_full", l(&h.stage.event_lines_full)),
        (
            "transaction_lines_full",
            h.transactions.as_deref().map_or(0, |t| l(&t.full)),
        ),
    ] {
        out.push(sample(
            STAGE_DROPPED,
            "Items a pipeline stage dropped, by reason.",
            &[("stage", "detect"), ("reason", reason)],
            n,
        ));
    }
    // `--events`: transaction lines written (their drops are above).
    if let Some(t) = h.transactions.as_deref() {
        out.push(sample(
            "dnssec_monitor_transaction_lines_total",
            "Transaction lines (--events: one per answer and per unanswered query) handed to the output.",
            &[],
            l(&t.lines),
        ));
    }
    for rule in Rule::ALL {
        out.push(sample(
            ALERTS,
            "Alerts raised, by rule.",
            &[("rule", rule.name())],
            h.detect.alerts_of(rule),
        ));
    }
    // Policy: repeats within a rule's period, and audit-mode emissions.
    for rule in [
        Rule::CriticalNameUnprotected,
        Rule::SignatureExpiring,
        Rule::UnsolicitedResponse,
        Rule::ResponseRace,
    ] {
        out.push(sample(
            "dnssec_monitor_alerts_suppressed_total",
            "Alerts not raised: one was raised for the same key within the rule's period, or (unsolicited_response, response_race) the answer matched no captured query just after capture lost messages.",
            &[("rule", rule.name())],
            h.detect.suppressed_of(rule),
        ));
    }
    // Messages the rules leave out on purpose, by why: the monitor's own
    // lookups, allow-listed names, names under an NTA, and a DNS server's
    // traffic with other machines (`DnsEvent::served_here`).
    for (reason, n) in [
        ("own", &h.detect.own_skipped),
        ("allow", &h.detect.allow_skipped),
        ("nta", &h.detect.nta_skipped),
        ("served", &h.detect.served),
    ] {
        out.push(sample(
            "dnssec_monitor_detect_skipped_total",
            "DNS messages no rule judges, by why (own lookups, allow list, negative trust anchor, a server here answering other machines).",
            &[("reason", reason)],
            n.load(std::sync::atomic::Ordering::Relaxed),
        ));
    }
    out.push(sample(
        "dnssec_monitor_alerts_audit_total",
        "Alerts emitted in audit mode (event.kind event), also counted in alerts_total.",
        &[],
        h.detect.audit.load(std::sync::atomic::Ordering::Relaxed),
    ));
    out.extend(outstanding_samples(
        &h.outstanding.lock().unwrap_or_else(|p| p.into_inner()),
    ));
    out
}

pub const OUTSTANDING_MESSAGES: &str = "dnssec_monitor_outstanding_messages_total";
pub const OUTSTANDING_ENTRIES: &str = "dnssec_monitor_outstanding_entries";

/// The outstanding-query table (correlate/outstanding.rs): how messages
/// joined, and what left the table why. `evicted_full` (unanswered queries
/// pushed out of a full table) is a loss and feeds `capture_loss`;
/// `evicted_answered` only shortens the race window under load.
pub fn outstanding_samples(s: &OutstandingStats) -> Vec<Sample> {
    let help = "Messages through the outstanding-query table, by outcome.";
    let mut out: Vec<Sample> = [
        ("query", s.queries),
        ("answer", s.answers),
        ("joined", s.joined),
        ("unsolicited", s.unsolicited),
        ("race", s.races),
        ("wrong_txid", s.wrong_txid),
        ("warmup", s.warmup),
        ("expired", s.expired),
        ("evicted_full", s.evicted_full),
        ("evicted_answered", s.evicted_answered),
        ("sockets_dropped", s.sockets_dropped),
    ]
    .into_iter()
    .map(|(what, n)| sample(OUTSTANDING_MESSAGES, help, &[("outcome", what)], n))
    .collect();
    out.push(Sample {
        kind: Kind::Gauge,
        ..sample(
            OUTSTANDING_ENTRIES,
            "Queries held in the outstanding-query table (waiting, or answered and in their race window).",
            &[],
            s.entries,
        )
    });
    out
}

/// Start the metrics endpoint with collectors over the kernel and ring
/// counters; stages add their own series through the returned handle.
pub async fn start_metrics(
    listen: SocketAddr,
    kernel: Arc<KernelCounters>,
    ring: Arc<RingStats>,
) -> anyhow::Result<(Metrics, MetricsServer)> {
    let metrics = Metrics::new();
    metrics.add_collector(move || kernel_samples(&kernel.named()));
    metrics.add_collector(move || ring_samples(&ring));
    let server = crate::metrics::server::start(listen, metrics.clone())
        .await
        .with_context(|| format!("metrics: listening on {listen}"))?;
    Ok((metrics, server))
}

/// `run`'s metrics: `--metrics-listen`, else the config file's
/// `metrics_listen` (default 127.0.0.1:9153). A port that cannot be bound
/// is logged and the daemon runs on without metrics: detection matters
/// more than its own telemetry.
pub async fn start(
    ops: &OpsArgs,
    detect: &super::run_detect::DetectArgs,
    kernel: Arc<KernelCounters>,
    ring: Arc<RingStats>,
    detection: &StageHandle,
) -> anyhow::Result<Option<(Metrics, MetricsServer)>> {
    let from_config = super::run_detect::effective_config(detect)?.metrics_listen;
    let listen = ops.metrics_addr(Some(from_config));
    match start_metrics(listen, kernel, ring).await {
        Ok((metrics, server)) => {
            let h = detection.clone();
            metrics.add_collector(move || detect_samples(&h));
            let health = detection.health.clone();
            metrics.add_collector(move || {
                crate::metrics::resolver::samples(&health, std::time::SystemTime::now())
            });
            Ok(Some((metrics, server)))
        }
        Err(e) => {
            tracing::error!("{e:#}; running without metrics");
            Ok(None)
        }
    }
}

/// After the programs are attached: keep only [`DAEMON_KEEP`]
/// (CAP_NET_ADMIN, CAP_BPF) in every thread. Fails closed: an error here
/// stops the daemon rather than run with more privilege than documented.
/// Sets the calling thread's niceness; threads created afterwards inherit
/// it (on Linux niceness is per thread, sched(7)), so call this before the
/// runtime and the output threads are started.
pub fn set_nice(nice: i32) -> anyhow::Result<()> {
    // SAFETY: setpriority on the calling thread (who = 0); no memory passed.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        anyhow::bail!(
            "cannot set niceness {nice}: {e} (a negative value needs CAP_SYS_NICE; `nice = 0` in the config leaves it)"
        );
    }
    Ok(())
}

pub fn drop_privileges() -> anyhow::Result<()> {
    let r = drop_capabilities(DAEMON_KEEP).context("dropping capabilities")?;
    tracing::info!(
        threads = r.threads,
        effective = format_args!("{:016x}", r.effective),
        bounding = format_args!("{:016x}", r.bounding),
        "capabilities reduced to {}",
        r.kept
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !r.missing.is_empty() {
        tracing::warn!("capabilities not held (cannot be kept): {:?}", r.missing);
    }
    Ok(())
}

/// On every SIGHUP, ask the rotating file to reopen its path (after an
/// external logrotate moved it). Runs until the runtime stops.
pub fn spawn_reopen_on_hup(handle: ReopenHandle) -> anyhow::Result<JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    Ok(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reopening the output file");
            handle.request();
        }
    }))
}

#[cfg(test)]
#[path = "run_ops_tests.rs"]
mod tests;
