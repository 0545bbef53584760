//! `dnssec-monitor run`: the daemon.
//!
//! ```text
//! kernel ring buffer ─▶ reader ─(packets)─▶ decode + process join + ECS JSON ─(lines)─▶ sink
//!        ▲ tc on every interface (netlink keeps it current)
//!        ▲ cgroup sock_addr / skb programs on the cgroup v2 root
//! ```
//! Stages talk over bounded channels and never block the one before:
//! a full channel is a counted drop. SIGINT/SIGTERM stop the reader, the
//! later stages drain and the sink flushes; dropping the programs detaches
//! them.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};

use super::run_output::{Output, OutputPlan};
use crate::capture::CapturedPacket;
use crate::capture::cgroup::{ContainerResolver, cgroup2_mount};
use crate::capture::ebpf::{KernelCounters, KernelPrograms, ProcessMaps};
use crate::capture::fast_path::{
    FastPathStats, SCAN_EVERY, Scanner, monotonic_ns, start_publisher,
};
use crate::capture::netlink::{LinkEvent, LinkSocket, parse_messages};
use crate::capture::ringbuf::PacketSink;
use crate::capture::ringbuf::{InterfaceNames, RingReader, RingStats, deferred_record};
use crate::correlate::process::{KernelSource, ProcessTable, Proto};
use crate::decode::counters::SharedDecodeCounters;
use crate::decode::{DecodeLimits, Decoder, DnsMessage, Transport};
use crate::detect::batches::{BatchSender, TrySendError, batch_channel};
use crate::event::{DnsEvent, DnsKind};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Where JSON lines go: `-` for standard output, or a file (appended,
    /// rotated by the config's `[output]` keys) [default: the config's
    /// `[output] path`, else `-`].
    #[arg(long, value_name = "-|FILE")]
    pub output: Option<String>,
    /// Output options (see run_output.rs).
    #[command(flatten)]
    pub out: super::run_output::OutputArgs,
    /// Capture only on this interface (repeatable; default: every
    /// interface, including `lo`, veths and those that appear later).
    #[arg(long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// A port that carries DNS (repeatable).
    #[arg(long = "dns-port", value_name = "PORT", default_values_t = [53u16])]
    pub dns_ports: Vec<u16>,
    /// Detection options (see run_detect.rs).
    #[command(flatten)]
    pub detect: super::run_detect::DetectArgs,
    /// Metrics endpoint (see run_ops.rs).
    #[command(flatten)]
    pub ops: super::run_ops::OpsArgs,
}

/// Capacity of the event and line channels (items, not batches).
const CHANNEL: usize = 65_536;
/// Starting capacity of the decode stage's next batch (it grows as needed).
const BATCH_HINT: usize = 1_024;
/// How often the decoder's reassembly state is aged out.
const EXPIRE_EVERY: Duration = Duration::from_millis(500);

pub fn main(args: RunArgs) -> anyhow::Result<i32> {
    if args.dns_ports.contains(&0) {
        anyhow::bail!("--dns-port 0 is not a port");
    }
    // Niceness first: every thread started from here on inherits it.
    let cfg = super::run_detect::effective_config(&args.detect)?;
    super::run_ops::set_nice(args.ops.nice.unwrap_or(cfg.nice))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run(args))
}

/// Drops counted by the user-space stages.
#[derive(Default)]
struct StageDrops {
    lines_channel_full: AtomicU64,
    /// The decoder's counters, published after each batch (run_loss.rs).
    decoder: SharedDecodeCounters,
}

/// How long the syslog sinks may keep delivering at exit; what is left
/// stays in their spool for the next start.
const SINK_GRACE: Duration = Duration::from_secs(2);
/// Bound on the whole output drain at exit (sinks, evidence, store commit).
const DRAIN_LIMIT: Duration = Duration::from_secs(8);
/// Bound on evaluations still waiting for a verdict at exit (a cold
/// lookup can take the engine's 10 s budget; exit must not).
const DETECT_DRAIN: Duration = Duration::from_secs(4);

async fn run(args: RunArgs) -> anyhow::Result<i32> {
    // Take SIGINT/SIGTERM over before anything is attached: one that
    // arrives during start-up then stops the daemon cleanly once it is up,
    // instead of killing it (the default action) halfway.
    let signals = Signals::install()?;
    // Fail before attaching anything if an output cannot be opened.
    let cfg = super::run_detect::effective_config(&args.detect)?;
    let plan = OutputPlan::open(&cfg, args.output.as_deref(), &args.out)?;
    let mut progs = KernelPrograms::load(&args.dns_ports).context("loading the kernel programs")?;
    let maps = progs.take_maps()?;
    // `--events` writes every message: nothing may be held back then.
    let fast_on = cfg.kernel_fast_path && !cfg.events;
    progs
        .set_fast_path(fast_on)
        .context("configuring the kernel fast path")?;
    let cgroup_root = cgroup2_mount()?;
    progs
        .attach_cgroup(&cgroup_root)
        .with_context(|| format!("attaching to cgroup {}", cgroup_root.display()))?;

    let names: InterfaceNames = Arc::default();
    let links = LinkSocket::open().context("opening rtnetlink")?;
    let wanted: HashSet<String> = args.interfaces.iter().cloned().collect();
    for ev in links
        .dump(Duration::from_secs(5))
        .context("listing interfaces")?
    {
        apply_link_event(&mut progs, &names, &wanted, ev);
    }
    for w in &wanted {
        if !progs.attached().iter().any(|(_, n)| n == w) {
            tracing::warn!("interface {w} does not exist (yet); it is attached when it appears");
        }
    }
    let attached: Vec<String> = progs.attached().into_iter().map(|(_, n)| n).collect();
    eprintln!(
        "dnssec-monitor: capturing DNS (ports {:?}) on {} interface(s): {}; process attribution on cgroup {}",
        args.dns_ports,
        attached.len(),
        attached.join(", "),
        cgroup_root.display()
    );
    super::run_ops::drop_privileges()?;
    let progs = Arc::new(Mutex::new(progs));

    let (stop_tx, stop_rx) = watch::channel(false);
    let ring_stats = Arc::new(RingStats::default());
    let drops = Arc::new(StageDrops::default());
    let (line_tx, line_rx) = mpsc::channel::<Output>(CHANNEL);
    let (ev_tx, ev_rx) = batch_channel(CHANNEL);

    let link_task = tokio::spawn(watch_links(
        links,
        progs.clone(),
        names.clone(),
        wanted,
        stop_rx.clone(),
    ));
    let processes = ProcessTable::new(maps.processes, Some(ContainerResolver::new(cgroup_root)));
    // The decoder filters by the same ports the kernel does: `--dns-port`
    // must reach both, or messages on other ports are captured, then dropped.
    let limits = DecodeLimits {
        dns_ports: args.dns_ports.clone(),
        ..DecodeLimits::default()
    };
    let (expired_tx, expired_rx) = std::sync::mpsc::channel();
    let reader = RingReader::new(maps.ring, names.clone())
        .context("watching the ring buffer")?
        .with_expired(expired_rx);
    let fast_stats = Arc::new(FastPathStats::default());
    let fast_maps = Arc::new(Mutex::new(maps.fast));
    let publisher = fast_on.then(|| start_publisher(fast_maps.clone(), fast_stats.clone()));
    let decode = DecodeSink::new(ev_tx, processes, drops.clone(), limits);
    let reader = tokio::spawn(reader.run(decode, ring_stats.clone(), stop_rx.clone()));
    let kernel = Arc::new(maps.counters);
    let detection = super::run_detect::start(
        &args.detect,
        ev_rx,
        line_tx,
        loss_source(kernel.clone(), ring_stats.clone(), drops.clone()),
        plan.sampler(),
        publisher
            .as_ref()
            .map(|(p, _)| p.clone() as Arc<dyn crate::detect::clean::CleanExchanges>),
    )?;
    let scanner = fast_on.then(|| {
        tokio::spawn(scan_fast_path(
            Scanner::new(fast_maps.clone(), fast_stats.clone()),
            detection.handle.health.clone(),
            expired_tx,
            stop_rx.clone(),
        ))
    });
    let output = plan.start(line_rx, Some(detection.verdicts.engine().clone()))?;
    let metrics = super::run_ops::start(
        &args.ops,
        &args.detect,
        kernel.clone(),
        ring_stats.clone(),
        &detection.handle,
    )
    .await?;
    if let Some((m, _)) = &metrics {
        super::run_metrics::register(m, output.stats(), &detection.verdicts);
        let d = drops.clone();
        m.add_collector(move || super::run_loss::decode_samples(&d.decoder.snapshot()));
        let f = fast_stats.clone();
        m.add_collector(move || super::run_ops::fast_path_samples(&f.named()));
    }

    signals.wait().await;
    let _ = stop_tx.send(true);
    if let Some(s) = scanner {
        let _ = s.await;
    }
    let decoded = reader.await.context("reader task")??.finish();
    let _ = link_task.await;
    let detect_report = detection.handle.clone();
    tracing::info!("stopping: capture stopped, draining detection");
    if !detection.finish_within(DETECT_DRAIN).await {
        tracing::warn!(
            "stopping: answers still waiting for a verdict after {DETECT_DRAIN:?} were not evaluated"
        );
    }
    tracing::info!("stopping: detection drained, flushing the outputs");
    let sunk = tokio::time::timeout(DRAIN_LIMIT, output.finish(SINK_GRACE)).await;
    let progs = Arc::try_unwrap(progs)
        .map_err(|_| anyhow::anyhow!("programs still shared at exit"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("program lock poisoned"))?;
    report(&kernel, &ring_stats, &drops, &decoded);
    if fast_on {
        let f: Vec<String> = fast_stats
            .named()
            .into_iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        eprintln!("dnssec-monitor: fast path: {}", f.join(" "));
    }
    if let Some((_, w)) = publisher {
        w.abort();
    }
    eprintln!(
        "dnssec-monitor: {}",
        super::run_detect::report(&detect_report)
    );
    drop(progs);
    match sunk {
        Ok(r) => eprintln!("dnssec-monitor: {}", r.context("writing the JSON lines")?),
        Err(_) => anyhow::bail!("the outputs did not drain within {DRAIN_LIMIT:?}"),
    }
    Ok(0)
}

/// The fast path's user-space side while the daemon runs: every
/// [`SCAN_EVERY`], unanswered held-back queries go to the ring reader and
/// the kernel's per-server counts into resolver health.
async fn scan_fast_path(
    mut scanner: Scanner,
    health: crate::detect::detector::SharedHealth,
    expired: std::sync::mpsc::Sender<Vec<u8>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(SCAN_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        for pq in scanner.take_expired(monotonic_ns()) {
            if expired.send(deferred_record(&pq)).is_err() {
                return;
            }
        }
        scanner.feed_health(&health, std::time::SystemTime::now());
    }
}

/// The stop signals, registered once at start.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("handling SIGINT")?,
            term: signal(SignalKind::terminate()).context("handling SIGTERM")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

fn apply_link_event(
    progs: &mut KernelPrograms,
    names: &InterfaceNames,
    wanted: &HashSet<String>,
    ev: LinkEvent,
) {
    match ev {
        LinkEvent::New {
            index,
            name,
            arphrd,
            kind,
        } => {
            if let Ok(mut m) = names.write() {
                let side = crate::capture::Side::of(arphrd, kind.as_deref());
                m.insert(index, (name.as_str().into(), side));
            }
            if !wanted.is_empty() && !wanted.contains(&name) {
                return;
            }
            match progs.attach_interface(index, &name, arphrd) {
                Ok(true) => tracing::info!(iface = %name, index, "attached"),
                Ok(false) => {}
                // Veths often move to another namespace right after
                // creation: the device is gone before we get to it.
                Err(e) => tracing::debug!("{e:#}"),
            }
        }
        LinkEvent::Gone { index, name } => {
            if progs.detach_interface(index).is_some() {
                tracing::info!(iface = %name, index, "detached (interface gone)");
            }
        }
    }
}

async fn watch_links(
    links: LinkSocket,
    progs: Arc<Mutex<KernelPrograms>>,
    names: InterfaceNames,
    wanted: HashSet<String>,
    mut stop: watch::Receiver<bool>,
) {
    // SAFETY: `links` owns its fd and lives inside the AsyncFd.
    let fd = match unsafe { AsyncFd::register(links) } {
        Ok(fd) => fd,
        Err(e) => {
            tracing::error!("cannot watch interfaces: {}", std::io::Error::from(e));
            return;
        }
    };
    let mut buf = vec![0u8; 65536];
    // Consecutive socket errors; a socket that only fails is given up on
    // (already attached interfaces stay attached).
    let mut errors = 0u32;
    loop {
        tokio::select! {
            r = fd.readable() => {
                let Ok(mut guard) = r else { return };
                loop {
                    match guard.get_inner().recv(&mut buf) {
                        Ok(n) => {
                            errors = 0;
                            let Ok(mut p) = progs.lock() else { return };
                            for ev in parse_messages(&buf[..n]) {
                                apply_link_event(&mut p, &names, &wanted, ev);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            guard.clear_ready();
                            break;
                        }
                        Err(e) => {
                            errors += 1;
                            if errors > 100 {
                                tracing::error!("rtnetlink keeps failing ({e}): new interfaces are no longer attached");
                                return;
                            }
                            // ENOBUFS: events were lost; a fresh dump catches up.
                            tracing::warn!("rtnetlink: {e}; re-listing interfaces");
                            let _ = guard.get_inner().request_dump();
                            break;
                        }
                    }
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// What the decode stage did, for the exit report.
struct Decoded {
    packets: u64,
    messages: u64,
    counters: Vec<(&'static str, u64)>,
    memo: crate::decode::memo::MemoStats,
    process: crate::correlate::process::ProcessStats,
}

/// The decode stage, run inside the ring reader: each packet is decoded
/// and its messages joined with their process as they come out of the
/// ring; a drained batch then goes to detection in one go (one wake-up of
/// the next stage per batch; it takes them with `recv_many`).
struct DecodeSink {
    decoder: Decoder,
    processes: ProcessTable<ProcessMaps>,
    out: Vec<DnsMessage>,
    batch: Vec<DnsEvent>,
    tx: BatchSender,
    drops: Arc<StageDrops>,
    packets: u64,
    messages: u64,
    last_expire: Instant,
    /// The process join's clock, read once per batch, not per message
    /// (its intervals are a second and more).
    now: Instant,
}

impl DecodeSink {
    fn new(
        tx: BatchSender,
        processes: ProcessTable<ProcessMaps>,
        drops: Arc<StageDrops>,
        limits: DecodeLimits,
    ) -> Self {
        DecodeSink {
            decoder: Decoder::new(limits),
            processes,
            out: Vec::new(),
            batch: Vec::new(),
            tx,
            drops,
            packets: 0,
            messages: 0,
            last_expire: Instant::now(),
            now: Instant::now(),
        }
    }

    fn finish(mut self) -> Decoded {
        self.flush();
        Decoded {
            packets: self.packets,
            messages: self.messages,
            counters: self.decoder.counters().fields().to_vec(),
            memo: self.decoder.memo_stats(),
            process: self.processes.stats(),
        }
    }
}

impl PacketSink for DecodeSink {
    fn room(&self) -> usize {
        // A UDP packet makes at most one message; a TCP segment that
        // completes several may still find the channel full (counted).
        self.tx.room().saturating_sub(self.batch.len())
    }

    fn packet(&mut self, pkt: &CapturedPacket) {
        self.packets += 1;
        self.decoder.push(pkt, &mut self.out);
        for msg in self.out.drain(..) {
            self.messages += 1;
            self.batch.push(render(msg, &mut self.processes, self.now));
        }
    }

    fn flush(&mut self) -> bool {
        self.now = Instant::now();
        self.drops.decoder.publish(self.decoder.counters());
        if self.batch.is_empty() {
            return !self.tx.is_closed();
        }
        // The whole batch in one channel operation; a batch that finds no
        // room (the reader reads only what `room` allows, so only a TCP
        // segment completing several messages can overshoot) is dropped
        // and counted.
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_HINT));
        match self.tx.try_send(batch) {
            Ok(()) => true,
            Err(TrySendError::Full(b)) => {
                self.drops
                    .lines_channel_full
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }

    fn tick(&mut self) {
        self.now = Instant::now();
        // Age reassembly state (fragments, TCP flows) even when idle.
        if self.now.saturating_duration_since(self.last_expire) >= EXPIRE_EVERY {
            self.decoder.expire(SystemTime::now());
            self.last_expire = self.now;
        }
    }
}

/// One message → one event (with the process joined in: by the sender's
/// socket cookie for a query, else by 4-tuple; see correlate/process.rs).
/// The monitor's own lookups are recognised downstream by pid
/// (run_detect.rs). `now` is the join's clock (see `DecodeSink`).
pub fn render<K: KernelSource>(
    msg: DnsMessage,
    processes: &mut ProcessTable<K>,
    now: Instant,
) -> DnsEvent {
    let mut ev = DnsEvent::from_message(msg, None);
    let proto = match ev.transport {
        Transport::Udp => Proto::Udp,
        Transport::Tcp => Proto::Tcp,
    };
    let is_query = ev.kind == DnsKind::Query;
    ev.process = processes.lookup(proto, ev.client, ev.server, is_query, ev.socket_cookie, now);
    ev
}

/// The drop counters of the stages before detection, for `capture_loss`.
fn loss_source(
    kernel: Arc<KernelCounters>,
    ring: Arc<RingStats>,
    drops: Arc<StageDrops>,
) -> crate::detect::stage::LossSource {
    Box::new(move || {
        let mut v: Vec<(String, u64)> = kernel
            .named()
            .into_iter()
            .filter(|(n, _)| matches!(*n, "ring_full" | "load_failed"))
            .map(|(n, c)| (format!("kernel_{n}"), c))
            .collect();
        v.push((
            "ring_channel_full".into(),
            ring.channel_full.load(Ordering::Relaxed),
        ));
        v.push((
            "ring_malformed".into(),
            ring.malformed.load(Ordering::Relaxed),
        ));
        v.push((
            "decode_channel_full".into(),
            drops.lines_channel_full.load(Ordering::Relaxed),
        ));
        v.extend(super::run_loss::decoder_losses(&drops.decoder.snapshot()));
        v
    })
}

fn report(kernel: &KernelCounters, ring: &RingStats, drops: &StageDrops, d: &Decoded) {
    let k: Vec<String> = kernel
        .named()
        .into_iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    eprintln!("dnssec-monitor: kernel: {}", k.join(" "));
    eprintln!(
        "dnssec-monitor: ring: records={} malformed={} channel_full={}; decode: packets={} messages={} memo_hits={} memo_stored={}; lines_channel_full={}",
        ring.records.load(Ordering::Relaxed),
        ring.malformed.load(Ordering::Relaxed),
        ring.channel_full.load(Ordering::Relaxed),
        d.packets,
        d.messages,
        d.memo.hits,
        d.memo.stored,
        drops.lines_channel_full.load(Ordering::Relaxed),
    );
    let nz: Vec<String> = d
        .counters
        .iter()
        .filter(|(_, v)| *v != 0)
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    eprintln!("dnssec-monitor: decoder: {}", nz.join(" "));
    let p = &d.process;
    eprintln!(
        "dnssec-monitor: process join: cookie={} kernel={} cache={} not_found={} map_lookups={}",
        p.found_cookie, p.found_kernel, p.found_cache, p.not_found, p.map_lookups
    );
}
