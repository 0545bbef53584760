//! The store writer on its own thread, behind a handle that never blocks.
//!
//! SQLite calls block (commits fsync the WAL), so they run on a dedicated
//! thread; producers hand records over with [`StoreHandle::try_send`], and
//! a full queue is a counted drop, never back-pressure on capture. The
//! thread commits every `batch_rows` rows or `batch_delay`, and applies
//! retention every `retention_interval`.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc::{self, RecvTimeoutError, SyncSender, TrySendError},
    },
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime},
};

use super::{
    db::{Store, StoreError},
    record::Record,
    retention::Retention,
    writer::BatchWriter,
};

#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub path: PathBuf,
    pub batch_rows: usize,
    pub batch_delay: Duration,
    /// Records waiting for the writer thread.
    pub queue: usize,
    pub retention: Retention,
    pub retention_interval: Duration,
}

impl StoreOptions {
    /// Batches of 1,000 rows or 250 ms; a 16,384-record queue; retention
    /// every minute (no limits unless set).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            batch_rows: 1000,
            batch_delay: Duration::from_millis(250),
            queue: 16_384,
            retention: Retention::default(),
            retention_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    committed: AtomicU64,
    batches: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_write_error: AtomicU64,
    retention_deleted: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> StoreStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StoreStats {
            received: l(&self.received),
            committed: l(&self.committed),
            batches: l(&self.batches),
            dropped_queue_full: l(&self.dropped_queue_full),
            dropped_write_error: l(&self.dropped_write_error),
            retention_deleted: l(&self.retention_deleted),
        }
    }
}

/// Reads a store's counters; cheap to clone.
#[derive(Clone, Debug)]
pub struct StoreStatsReader(Arc<Counters>);

impl StoreStatsReader {
    pub fn get(&self) -> StoreStats {
        self.0.snapshot()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub received: u64,
    pub committed: u64,
    pub batches: u64,
    pub dropped_queue_full: u64,
    /// Records lost because their batch failed to commit.
    pub dropped_write_error: u64,
    /// Transactions and alerts removed by retention.
    pub retention_deleted: u64,
}

pub struct StoreHandle {
    tx: Option<SyncSender<Record>>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl StoreHandle {
    /// Open (create, migrate) the store now, so errors surface at start-up,
    /// and start the writer thread.
    pub fn start(opts: StoreOptions) -> Result<StoreHandle, StoreError> {
        let store = Store::open(&opts.path)?;
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::sync_channel(opts.queue.max(1));
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(store, opts, rx, c))
            .map_err(|e| StoreError::Integrity(format!("cannot start the store thread: {e}")))?;
        Ok(StoreHandle {
            tx: Some(tx),
            counters,
            thread: Some(thread),
        })
    }

    /// Hand one record over; `false` (and counted) when the queue is full.
    pub fn try_send(&self, record: Record) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(record) {
            Ok(()) => {
                self.counters.received.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters
                    .dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    pub fn stats(&self) -> StoreStats {
        self.counters.snapshot()
    }

    /// A reader of the counters that outlives the handle (for metrics
    /// collectors; the handle itself is closed at exit).
    pub fn stats_reader(&self) -> StoreStatsReader {
        StoreStatsReader(self.counters.clone())
    }

    /// Commit what is queued and stop the thread. Blocks until done: from
    /// async code call it inside `spawn_blocking`.
    pub fn close(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StoreHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(store: Store, opts: StoreOptions, rx: mpsc::Receiver<Record>, c: Arc<Counters>) {
    let mut w = BatchWriter::new(store, opts.batch_rows, opts.batch_delay);
    let mut next_retention = Instant::now() + opts.retention_interval;
    let record = |res: Result<bool, super::writer::CommitError>, w: &BatchWriter| match res {
        Ok(_) => {
            let (records, batches) = w.committed();
            c.committed.store(records, Ordering::Relaxed);
            c.batches.store(batches, Ordering::Relaxed);
        }
        Err(e) => {
            c.dropped_write_error
                .fetch_add(e.lost as u64, Ordering::Relaxed);
            tracing::error!("store: {e}");
        }
    };
    loop {
        let wake = w
            .deadline()
            .map_or(next_retention, |d| d.min(next_retention));
        match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(r) => {
                let res = w.push(r);
                record(res, &w);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        let res = w.commit_due(now);
        record(res, &w);
        if now >= next_retention {
            let res = w.commit().map(|n| n > 0);
            record(res, &w);
            match w
                .store_mut()
                .apply_retention(&opts.retention, SystemTime::now())
            {
                Ok(r) => {
                    c.retention_deleted
                        .fetch_add(r.deleted_by_age + r.deleted_by_size, Ordering::Relaxed);
                }
                Err(e) => tracing::error!("store retention: {e}"),
            }
            next_retention = now + opts.retention_interval;
        }
    }
    let res = w.commit().map(|n| n > 0);
    record(res, &w);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{Alert, Transaction};

    fn rec(i: u64) -> Record {
        Record {
            transaction: Some(Transaction {
                qname: format!("n{i}.test"),
                qtype: 1,
                ..Transaction::default()
            }),
            verdict: None,
            alerts: vec![Alert {
                rule: "r".into(),
                json: "{}".into(),
                ..Alert::default()
            }],
        }
    }

    #[test]
    fn records_are_committed_by_time_and_on_close() {
        let d = tempfile::tempdir().unwrap();
        let mut o = StoreOptions::new(d.path().join("s.db"));
        o.batch_delay = Duration::from_millis(20);
        let h = StoreHandle::start(o).unwrap();
        for i in 0..10 {
            assert!(h.try_send(rec(i)));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while h.stats().committed < 10 {
            assert!(
                Instant::now() < deadline,
                "time-based commit never came: {:?}",
                h.stats()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(h.try_send(rec(10)));
        h.close();
        let s = Store::open_read_only(&d.path().join("s.db")).unwrap();
        assert_eq!(s.counts().unwrap().0, 11, "close commits the tail");
    }

    #[test]
    fn a_full_queue_is_counted_not_blocking() {
        let d = tempfile::tempdir().unwrap();
        let mut o = StoreOptions::new(d.path().join("s.db"));
        o.queue = 1;
        let h = StoreHandle::start(o).unwrap();
        let sent = (0..5000).filter(|&i| h.try_send(rec(i))).count() as u64;
        let s = h.stats();
        assert_eq!(s.received, sent);
        assert_eq!(s.received + s.dropped_queue_full, 5000);
        h.close();
        let st = Store::open_read_only(&d.path().join("s.db")).unwrap();
        assert_eq!(
            st.counts().unwrap().0 as u64,
            sent,
            "every accepted record is stored"
        );
    }

    #[test]
    fn bad_path_fails_at_start() {
        assert!(StoreHandle::start(StoreOptions::new("/nonexistent-dir/s.db")).is_err());
    }
}
