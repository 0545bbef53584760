//! The channel that carries DNS events from decode to detection, in
//! batches: the reader drains the kernel ring in batches, so one channel
//! operation per batch replaces one per event (under load, the per-event
//! send and receive — a 160-byte copy in and out of the channel's blocks
//! plus their atomics — cost ~5% of the agent). The bound is kept in
//! events, not batches, so a slow detector still pushes back on the
//! reader exactly as before ([`BatchSender::room`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::event::DnsEvent;

/// Most batches in flight; the event bound is what limits in practice.
const MAX_BATCHES: usize = 4_096;

/// Why [`BatchSender::try_send`] took nothing.
#[derive(Debug)]
pub enum TrySendError {
    /// Not enough room for the batch (its events are the caller's to count).
    Full(Vec<DnsEvent>),
    Closed(Vec<DnsEvent>),
}

#[derive(Clone)]
pub struct BatchSender {
    tx: mpsc::Sender<Vec<DnsEvent>>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

pub struct BatchReceiver {
    rx: mpsc::Receiver<Vec<DnsEvent>>,
    queued: Arc<AtomicUsize>,
}

/// A channel holding at most `capacity` events.
pub fn batch_channel(capacity: usize) -> (BatchSender, BatchReceiver) {
    let (tx, rx) = mpsc::channel(MAX_BATCHES);
    let queued = Arc::new(AtomicUsize::new(0));
    (
        BatchSender {
            tx,
            queued: queued.clone(),
            capacity,
        },
        BatchReceiver { rx, queued },
    )
}

impl BatchSender {
    /// Events that can be sent now without waiting.
    pub fn room(&self) -> usize {
        if self.tx.capacity() == 0 {
            return 0;
        }
        self.capacity
            .saturating_sub(self.queued.load(Ordering::Acquire))
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Sends `batch` whole if it fits, else hands it back.
    pub fn try_send(&self, batch: Vec<DnsEvent>) -> Result<(), TrySendError> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.tx.is_closed() {
            return Err(TrySendError::Closed(batch));
        }
        if batch.len() > self.room() {
            return Err(TrySendError::Full(batch));
        }
        let n = batch.len();
        self.queued.fetch_add(n, Ordering::AcqRel);
        match self.tx.try_send(batch) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.queued.fetch_sub(n, Ordering::AcqRel);
                Err(match e {
                    mpsc::error::TrySendError::Full(b) => TrySendError::Full(b),
                    mpsc::error::TrySendError::Closed(b) => TrySendError::Closed(b),
                })
            }
        }
    }

    /// Sends `batch`, waiting while the channel holds `capacity` events or
    /// more (a batch larger than the whole capacity goes once it is empty).
    /// Err: the receiver is gone.
    pub async fn send(&self, batch: Vec<DnsEvent>) -> Result<(), Vec<DnsEvent>> {
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len();
        loop {
            let queued = self.queued.load(Ordering::Acquire);
            if queued == 0 || queued + n <= self.capacity {
                break;
            }
            if self.tx.is_closed() {
                return Err(batch);
            }
            // The receiver takes batches one by one; a short pause is
            // enough (this path is the back-pressure of a stalled detector).
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        self.queued.fetch_add(n, Ordering::AcqRel);
        self.tx.send(batch).await.map_err(|e| {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            e.0
        })
    }
}

impl BatchReceiver {
    /// The next batch; None once every sender is gone and all was taken.
    pub async fn recv(&mut self) -> Option<Vec<DnsEvent>> {
        let b = self.rx.recv().await?;
        self.queued.fetch_sub(b.len(), Ordering::AcqRel);
        Some(b)
    }
}

#[cfg(test)]
#[path = "batches_tests.rs"]
mod tests;
