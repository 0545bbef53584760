//! The detection stage of the pipeline: DNS events in, alerts out.
//!
//! Correlation runs inline (it is a table lookup); each verdict evaluation
//! runs as its own task so a cold lookup never holds up the events behind
//! it. At most `max_pending` evaluations are outstanding; beyond that the
//! answer is dropped from checking and counted (`detect_pending_full`,
//! reported as `capture_loss`). Every `loss_interval` the drop counters
//! are sampled and a `capture_loss` alert raised if any grew. Alerts are
//! sent with back-pressure: they are never dropped here.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Waker};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::alert::Alert;
use super::detector::{DetectCounters, Detector};
use crate::event::DnsEvent;

/// Most events taken from the input channel at once.
const BATCH: usize = 1_024;

/// Named drop counters of the stages before this one (kernel, ring, channels).
pub type LossSource = Box<dyn Fn() -> Vec<(String, u64)> + Send + Sync>;

pub struct StageOptions {
    pub max_pending: usize,
    pub loss_interval: Duration,
    pub loss_source: Option<LossSource>,
}

impl Default for StageOptions {
    fn default() -> Self {
        Self {
            max_pending: 8_192,
            loss_interval: Duration::from_secs(10),
            loss_source: None,
        }
    }
}

/// Counters of the stage itself (the detector's are in [`DetectCounters`]).
#[derive(Default, Debug)]
pub struct StageCounters {
    pub received: AtomicU64,
    pub emitted: AtomicU64,
    /// Events not taken because this stage's input channel was full.
    pub input_full: AtomicU64,
    pub pending_full: AtomicU64,
    pub output_closed: AtomicU64,
    /// Batches of event lines (`--events`) not taken by the full output
    /// channel, counted per event.
    pub event_lines_full: AtomicU64,
}

/// Handles for metrics while the stage runs.
#[derive(Clone)]
pub struct StageHandle {
    pub stage: Arc<StageCounters>,
    pub detect: Arc<DetectCounters>,
}

/// Runs the stage until `rx` closes, then finishes pending evaluations.
pub fn spawn_detect_stage(
    detector: Detector,
    rx: mpsc::Receiver<DnsEvent>,
    tx: mpsc::Sender<Alert>,
    opts: StageOptions,
) -> (StageHandle, JoinHandle<()>) {
    let handle = StageHandle {
        stage: Arc::default(),
        detect: detector.counters().clone(),
    };
    let counters = handle.stage.clone();
    let task = tokio::spawn(run(detector, rx, tx, opts, counters));
    (handle, task)
}

async fn send(tx: &mpsc::Sender<Alert>, c: &StageCounters, alerts: Vec<Alert>) {
    for a in alerts {
        if tx.send(a).await.is_ok() {
            c.emitted.fetch_add(1, Ordering::Relaxed);
        } else {
            c.output_closed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn run(
    mut detector: Detector,
    mut rx: mpsc::Receiver<DnsEvent>,
    tx: mpsc::Sender<Alert>,
    opts: StageOptions,
    c: Arc<StageCounters>,
) {
    let mut pending: JoinSet<()> = JoinSet::new();
    let mut tick = tokio::time::interval(opts.loss_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let check_loss = |d: &mut Detector, c: &StageCounters| {
        let mut counters = opts.loss_source.as_ref().map(|f| f()).unwrap_or_default();
        counters.push((
            "detect_pending_full".into(),
            c.pending_full.load(Ordering::Relaxed),
        ));
        counters.push((
            "detect_input_full".into(),
            c.input_full.load(Ordering::Relaxed),
        ));
        counters.push((
            "event_lines_full".into(),
            c.event_lines_full.load(Ordering::Relaxed),
        ));
        d.check_loss(&counters)
    };
    let mut batch: Vec<DnsEvent> = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                c.received.fetch_add(n as u64, Ordering::Relaxed);
                while pending.try_join_next().is_some() {}
                for ev in batch.drain(..) {
                    let obs = detector.observe(ev);
                    send(&tx, &c, obs.alerts).await;
                    let Some(p) = obs.pending else { continue };
                    // A cached verdict usually completes on the first poll:
                    // run it here instead of spawning a task per answer.
                    let tx2 = tx.clone();
                    let c2 = c.clone();
                    let mut eval: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
                        let alerts = p.evaluate().await;
                        send(&tx2, &c2, alerts).await;
                    });
                    let mut cx = Context::from_waker(Waker::noop());
                    if eval.as_mut().poll(&mut cx).is_ready() {
                        continue;
                    }
                    if pending.len() >= opts.max_pending {
                        c.pending_full.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    // Not ready: the spawned task polls it again with a
                    // real waker (a future may be moved once polled, as
                    // it is pinned in its box).
                    pending.spawn(eval);
                }
            }
            _ = tick.tick() => {
                if let Some(a) = check_loss(&mut detector, &c) {
                    send(&tx, &c, vec![a]).await;
                }
            }
        }
    }
    while pending.join_next().await.is_some() {}
    if let Some(a) = check_loss(&mut detector, &c) {
        send(&tx, &c, vec![a]).await;
    }
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
