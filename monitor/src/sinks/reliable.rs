//! A network sink that does not lose alerts while its collector is down.
//!
//! Every message goes through the [`Spool`] first, and the oldest spooled
//! message is sent and then acknowledged once the transport has written and
//! flushed it; so messages leave in order, survive a restart, and a
//! delivered one is never sent again. While the collector is unreachable,
//! connection attempts back off exponentially (with jitter, so a fleet does
//! not reconnect in lockstep).
//!
//! The sink runs on its own thread with a current-thread tokio runtime:
//! the spool's `fdatasync` calls block only that thread, never the capture
//! or detection tasks. Producers hand messages over with
//! [`ReliableSink::try_send`], which never blocks; a full hand-over queue is
//! counted as a drop.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use rand::Rng;
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};

use super::{
    spool::{Spool, SpoolError, SpoolOptions},
    syslog::{SyslogConnection, SyslogTransport, transport::SendError},
};

#[derive(Clone, Debug)]
pub struct ReliableSinkOptions {
    pub spool_dir: PathBuf,
    pub spool: SpoolOptions,
    /// Capacity of the in-memory hand-over queue in messages.
    pub queue: usize,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Longest wait for one message to be written; past it the collector is
    /// taken as stuck (not reading), and the connection is replaced.
    pub send_timeout: Duration,
}

impl ReliableSinkOptions {
    pub fn new(spool_dir: impl Into<PathBuf>) -> Self {
        Self {
            spool_dir: spool_dir.into(),
            spool: SpoolOptions::default(),
            queue: 4096,
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// Live counters, shared with the sink thread.
#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    sent: AtomicU64,
    spooled: AtomicU64,
    spool_depth: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_spool_full: AtomicU64,
    dropped_rejected: AtomicU64,
    dropped_corrupt: AtomicU64,
    dropped_spool_error: AtomicU64,
    reconnects: AtomicU64,
    connect_failures: AtomicU64,
    send_timeouts: AtomicU64,
    connected: AtomicBool,
}

/// A snapshot of the sink's counters, for the metrics endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Messages handed over by producers and accepted into the queue.
    pub received: u64,
    /// Messages written and flushed to the collector.
    pub sent: u64,
    /// Messages that arrived while there was no connection (held on disk).
    pub spooled: u64,
    /// Messages on disk waiting to be sent (gauge).
    pub spool_depth: u64,
    /// Hand-over queue full: the message never reached the spool.
    pub dropped_queue_full: u64,
    /// Oldest spooled messages dropped to keep the spool within its bound.
    pub dropped_spool_full: u64,
    /// Messages the transport can never carry (too large for UDP, or
    /// larger than the whole spool).
    pub dropped_rejected: u64,
    /// Spooled messages lost to on-disk corruption.
    pub dropped_corrupt: u64,
    /// Messages lost because the spool could not be written (disk full).
    pub dropped_spool_error: u64,
    /// Connections established after the first one.
    pub reconnects: u64,
    pub connect_failures: u64,
    /// Connections given up because the collector stopped reading.
    pub send_timeouts: u64,
    pub connected: bool,
}

impl Counters {
    fn snapshot(&self) -> SinkStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SinkStats {
            received: l(&self.received),
            sent: l(&self.sent),
            spooled: l(&self.spooled),
            spool_depth: l(&self.spool_depth),
            dropped_queue_full: l(&self.dropped_queue_full),
            dropped_spool_full: l(&self.dropped_spool_full),
            dropped_rejected: l(&self.dropped_rejected),
            dropped_corrupt: l(&self.dropped_corrupt),
            dropped_spool_error: l(&self.dropped_spool_error),
            reconnects: l(&self.reconnects),
            connect_failures: l(&self.connect_failures),
            send_timeouts: l(&self.send_timeouts),
            connected: self.connected.load(Ordering::Relaxed),
        }
    }
}

/// Reads a sink's counters; cheap to clone.
#[derive(Clone, Debug)]
pub struct SinkStatsReader(Arc<Counters>);

impl SinkStatsReader {
    pub fn get(&self) -> SinkStats {
        self.0.snapshot()
    }
}

/// Handle to a running reliable sink.
pub struct ReliableSink {
    name: String,
    tx: Option<mpsc::Sender<Vec<u8>>>,
    stop: Option<oneshot::Sender<Duration>>,
    done: Option<oneshot::Receiver<()>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl ReliableSink {
    /// Open the spool (so a bad spool directory fails at start-up, not
    /// later) and start the sink thread. `name` names the thread and the
    /// log lines (e.g. the collector address).
    pub fn start(
        name: &str,
        transport: SyslogTransport,
        opts: ReliableSinkOptions,
    ) -> Result<ReliableSink, SpoolError> {
        let spool = Spool::open(&opts.spool_dir, opts.spool)?;
        let counters = Arc::new(Counters::default());
        counters
            .spool_depth
            .store(spool.len() as u64, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(opts.queue.max(1));
        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let worker = Worker {
            name: name.to_owned(),
            transport,
            spool,
            opts,
            counters: counters.clone(),
            conn: None,
            ever_connected: false,
        };
        let thread = std::thread::Builder::new()
            .name(format!(
                "sink-{}",
                name.chars().take(10).collect::<String>()
            ))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(sink = %worker.name, "cannot start sink runtime: {e}");
                        return;
                    }
                };
                rt.block_on(worker.run(rx, stop_rx));
                let _ = done_tx.send(());
            })
            .map_err(|e| SpoolError::Io {
                path: PathBuf::from(name),
                cause: e,
            })?;
        Ok(ReliableSink {
            name: name.to_owned(),
            tx: Some(tx),
            stop: Some(stop_tx),
            done: Some(done_rx),
            thread: Some(thread),
            counters,
        })
    }

    /// Hand one formatted message over. Never blocks; `false` when the
    /// queue is full (counted in `dropped_queue_full`) or the sink stopped.
    pub fn try_send(&self, msg: Vec<u8>) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(msg) {
            Ok(()) => {
                self.counters.received.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                self.counters
                    .dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    pub fn stats(&self) -> SinkStats {
        self.counters.snapshot()
    }

    /// A reader of the counters that outlives the sink (metrics collectors
    /// are registered once; the sink itself is shut down at exit).
    pub fn stats_reader(&self) -> SinkStatsReader {
        SinkStatsReader(self.counters.clone())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stop accepting, spool what is queued, try to deliver for up to
    /// `grace`, then close. What is left stays on disk for the next start.
    pub async fn shutdown(mut self, grace: Duration) {
        self.tx = None;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(grace);
        }
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ReliableSink {
    fn drop(&mut self) {
        // Without an explicit shutdown: stop at once, keep the spool as is.
        self.tx = None;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Duration::ZERO);
        }
    }
}

struct Worker {
    name: String,
    transport: SyslogTransport,
    spool: Spool,
    opts: ReliableSinkOptions,
    counters: Arc<Counters>,
    conn: Option<SyslogConnection>,
    ever_connected: bool,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Vec<u8>>, mut stop: oneshot::Receiver<Duration>) {
        let mut backoff = self.opts.backoff_initial;
        let mut next_attempt = Instant::now();
        let mut deadline: Option<Instant> = None;
        let mut input_open = true;
        // Connect at once: the first alerts need not wait for a handshake,
        // and `spooled` then counts only what arrived while the collector
        // was away.
        self.connect(&mut backoff, &mut next_attempt).await;
        loop {
            // Take in everything already queued, so the spool (and its
            // bound) sees the real backlog.
            self.take_input(None, &mut rx);
            if deadline.is_some_and(|d| Instant::now() >= d)
                || (deadline.is_some() && self.spool.is_empty())
            {
                break;
            }
            let can_try =
                !self.spool.is_empty() && (self.conn.is_some() || Instant::now() >= next_attempt);
            if can_try {
                if self.conn.is_none() && !self.connect(&mut backoff, &mut next_attempt).await {
                    continue;
                }
                self.send_batch().await;
                if self.conn.is_none() {
                    next_attempt = Instant::now() + jittered(backoff);
                }
                continue;
            }
            // Nothing to do now: wait for input, the next retry, or stop.
            let retry = (!self.spool.is_empty()).then_some(next_attempt);
            let limit = match (retry, deadline) {
                (Some(r), Some(d)) => Some(r.min(d)),
                (r, d) => r.or(d),
            };
            tokio::select! {
                msg = rx.recv(), if input_open => match msg {
                    Some(m) => self.take_input(Some(m), &mut rx),
                    None => {
                        input_open = false;
                        deadline.get_or_insert(Instant::now());
                    }
                },
                grace = &mut stop, if deadline.is_none() => {
                    deadline = Some(Instant::now() + grace.unwrap_or(Duration::ZERO));
                    rx.close();
                }
                _ = tokio::time::sleep_until(limit.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))) => {}
            }
        }
        if let Some(c) = self.conn.take() {
            let _ = c.close().await;
        }
        self.counters.connected.store(false, Ordering::Relaxed);
    }

    /// One connection attempt; on failure, schedule the next with backoff.
    async fn connect(&mut self, backoff: &mut Duration, next_attempt: &mut Instant) -> bool {
        match self.transport.connect().await {
            Ok(c) => {
                if self.ever_connected {
                    self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                self.ever_connected = true;
                self.conn = Some(c);
                self.counters.connected.store(true, Ordering::Relaxed);
                *backoff = self.opts.backoff_initial;
                tracing::info!(sink = %self.name, "connected to {:?}", self.transport);
                true
            }
            Err(e) => {
                self.counters
                    .connect_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(sink = %self.name, "connect to {:?} failed, retry in {backoff:?}: {e}", self.transport);
                *next_attempt = Instant::now() + jittered(*backoff);
                *backoff = (*backoff * 2).min(self.opts.backoff_max);
                false
            }
        }
    }

    /// Spool `first` and everything already queued behind it, then make
    /// the group durable with one `fdatasync` (group commit: an alert storm
    /// costs one disk flush per group, not per alert).
    fn take_input(&mut self, first: Option<Vec<u8>>, rx: &mut mpsc::Receiver<Vec<u8>>) {
        let mut any = false;
        if let Some(m) = first {
            self.push(&m);
            any = true;
        }
        while let Ok(m) = rx.try_recv() {
            self.push(&m);
            any = true;
        }
        if any && let Err(e) = self.spool.sync() {
            tracing::error!(sink = %self.name, "spool sync failed, alerts may not survive a crash: {e}");
        }
    }

    fn push(&mut self, msg: &[u8]) {
        let before = self.spool.stats();
        match self.spool.push_unsynced(msg) {
            Ok(_) => {
                if self.conn.is_none() {
                    self.counters.spooled.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(SpoolError::TooLarge { .. }) => {
                self.counters
                    .dropped_rejected
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.counters
                    .dropped_spool_error
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(sink = %self.name, "alert lost, spool write failed: {e}");
            }
        }
        let after = self.spool.stats();
        self.counters
            .dropped_spool_full
            .fetch_add(after.dropped_full - before.dropped_full, Ordering::Relaxed);
        self.sync_depth();
    }

    fn sync_depth(&self) {
        self.counters
            .spool_depth
            .store(self.spool.len() as u64, Ordering::Relaxed);
    }

    /// Send up to [`SEND_BATCH`] of the oldest spooled messages on the open
    /// connection, then acknowledge those delivered with one ack write.
    /// A daemon crash between the two resends at most this batch.
    async fn send_batch(&mut self) {
        let before = self.spool.stats().dropped_corrupt;
        let batch = match self.spool.peek_batch(SEND_BATCH) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(sink = %self.name, "spool read failed: {e}");
                // Do not spin on a persistent disk error.
                tokio::time::sleep(self.opts.backoff_initial).await;
                Vec::new()
            }
        };
        self.counters.dropped_corrupt.fetch_add(
            self.spool.stats().dropped_corrupt - before,
            Ordering::Relaxed,
        );
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let mut delivered = None;
        for record in &batch {
            // A collector that stops reading would otherwise stall the
            // sink forever once the socket buffer is full.
            let sent = tokio::time::timeout(self.opts.send_timeout, conn.send(&record.payload))
                .await
                .unwrap_or_else(|_| {
                    self.counters.send_timeouts.fetch_add(1, Ordering::Relaxed);
                    Err(SendError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "collector stopped reading",
                    )))
                });
            match sent {
                Ok(()) => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(SendError::Rejected(why)) => {
                    self.counters
                        .dropped_rejected
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(sink = %self.name, "message dropped: {why}");
                }
                Err(SendError::Io(e)) => {
                    tracing::warn!(sink = %self.name, "send failed, message kept in spool: {e}");
                    self.conn = None;
                    self.counters.connected.store(false, Ordering::Relaxed);
                    break;
                }
            }
            delivered = Some(record.seq);
        }
        if let Some(seq) = delivered
            && let Err(e) = self.spool.ack_through(seq)
        {
            tracing::error!(sink = %self.name, "spool ack failed: {e}");
        }
        self.sync_depth();
    }
}

/// Messages sent between two acknowledgements.
const SEND_BATCH: usize = 64;

/// `base` plus up to 25% random jitter.
fn jittered(base: Duration) -> Duration {
    let extra = rand::thread_rng().gen_range(0..=base.as_millis() as u64 / 4);
    base + Duration::from_millis(extra)
}

#[cfg(test)]
#[path = "reliable_tests.rs"]
mod tests;
