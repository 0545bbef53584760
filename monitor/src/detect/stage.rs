//! The detection stage of the pipeline: DNS events in, alerts out.
//!
//! Correlation runs inline (it is a table lookup); a verdict evaluation
//! that can complete at once (a cached verdict, nothing to ask the engine)
//! runs inline too, any other as its own task so a cold lookup never holds
//! up the events behind it. At most `max_pending` evaluations are outstanding; beyond that the
//! answer is dropped from checking and counted (`detect_pending_full`,
//! reported as `capture_loss`). Every `loss_interval` the drop counters
//! are sampled and a `capture_loss` alert raised if any grew. Alerts are
//! sent with back-pressure: they are never dropped here. Every
//! `health_interval` the queries past their timeout are expired and each
//! resolver's window judged (`resolver_failure`), so an outage is seen even
//! when no answer arrives at all. The store's sample of answers is taken
//! by the detector (see [`super::sample`]): the stage only drives it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::alert::Alert;
use super::batches::BatchReceiver;
use super::detector::{DetectCounters, Detector, SharedHealth};
use crate::correlate::outstanding::OutstandingStats;

/// Named drop counters of the stages before this one (kernel, ring, channels).
pub type LossSource = Box<dyn Fn() -> Vec<(String, u64)> + Send + Sync>;

/// Where each interval's posture goes (the store, for `report`).
pub type PostureSink = Box<dyn Fn(crate::store::Posture) + Send + Sync>;

pub struct StageOptions {
    pub max_pending: usize,
    pub loss_interval: Duration,
    pub loss_source: Option<LossSource>,
    /// How often resolver health is judged (and unanswered queries
    /// expired) when no event arrives to do it.
    pub health_interval: Duration,
    /// Posture (resolver aggregates, name observations) is handed to
    /// `posture_sink` every `posture_interval`, and once more at the end.
    pub posture_interval: Duration,
    pub posture_sink: Option<PostureSink>,
}

impl Default for StageOptions {
    fn default() -> Self {
        Self {
            max_pending: 8_192,
            loss_interval: Duration::from_secs(10),
            loss_source: None,
            health_interval: Duration::from_secs(1),
            posture_interval: Duration::from_secs(60),
            posture_sink: None,
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
    /// Resolver health (metrics read it at scrape time).
    pub health: SharedHealth,
    /// The outstanding-query table's counters, published by the stage
    /// every `health_interval` and when it ends (the table itself is the
    /// stage's alone; a scrape must not wait for it).
    pub outstanding: Arc<Mutex<OutstandingStats>>,
    /// `--events`: the transaction lines' counters.
    pub transactions: Option<Arc<super::transactions::TransactionStats>>,
}

/// Runs the stage until `rx` closes, then finishes pending evaluations.
pub fn spawn_detect_stage(
    detector: Detector,
    rx: BatchReceiver,
    tx: mpsc::Sender<Alert>,
    opts: StageOptions,
) -> (StageHandle, JoinHandle<()>) {
    let handle = StageHandle {
        stage: Arc::default(),
        detect: detector.counters().clone(),
        health: detector.health().clone(),
        outstanding: Arc::default(),
        transactions: detector.transaction_stats(),
    };
    let counters = handle.stage.clone();
    let task = tokio::spawn(run(
        detector,
        rx,
        tx,
        opts,
        counters,
        handle.outstanding.clone(),
    ));
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
    mut rx: BatchReceiver,
    tx: mpsc::Sender<Alert>,
    opts: StageOptions,
    c: Arc<StageCounters>,
    outstanding: Arc<Mutex<OutstandingStats>>,
) {
    let publish = |d: &Detector| {
        *outstanding.lock().unwrap_or_else(|p| p.into_inner()) = d.outstanding();
    };
    let mut pending: JoinSet<()> = JoinSet::new();
    let mut tick = tokio::time::interval(opts.loss_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut health_tick = tokio::time::interval(opts.health_interval);
    health_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut posture_tick = tokio::time::interval(opts.posture_interval);
    posture_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let flush_posture = |d: &mut Detector| {
        if let Some(sink) = &opts.posture_sink {
            let now = d.capture_now().unwrap_or_else(std::time::SystemTime::now);
            let p = d.take_posture(now);
            if !p.is_empty() {
                sink(p);
            }
        }
    };
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
        if let Some(t) = d.transaction_stats() {
            counters.push((
                "transaction_lines_full".into(),
                t.full.load(Ordering::Relaxed),
            ));
        }
        d.check_loss(&counters)
    };
    loop {
        tokio::select! {
            batch = rx.recv() => {
                let Some(batch) = batch else {
                    break;
                };
                c.received.fetch_add(batch.len() as u64, Ordering::Relaxed);
                while pending.try_join_next().is_some() {}
                for ev in batch {
                    let obs = detector.observe(ev);
                    send(&tx, &c, obs.alerts).await;
                    let Some(p) = obs.pending else { continue };
                    // A cached verdict that nothing needs to re-check (the
                    // common case) is judged here, with no future at all.
                    let p = match p.try_now() {
                        Ok(alerts) => {
                            send(&tx, &c, alerts).await;
                            continue;
                        }
                        Err(p) => p,
                    };
                    // Otherwise it may still complete on the first poll
                    // (an engine answer from cache): run it here instead
                    // of spawning a task per answer.
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
            _ = health_tick.tick() => {
                let alerts = detector.health_tick();
                publish(&detector);
                send(&tx, &c, alerts).await;
            }
            _ = posture_tick.tick() => flush_posture(&mut detector),
        }
    }
    while pending.join_next().await.is_some() {}
    publish(&detector);
    flush_posture(&mut detector);
    // The last gathered transaction lines, before the last loss check
    // counts what the output could not take.
    detector.flush_transactions();
    if let Some(a) = check_loss(&mut detector, &c) {
        send(&tx, &c, vec![a]).await;
    }
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
