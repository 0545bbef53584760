//! `replay --events`: the detector's transaction lines
//! (detect/transactions.rs), kept with the message they belong to so the
//! output stays in capture order.
//!
//! The detector writes an answer's line when it is done with it: inside
//! `observe` or `Pending::try_now` (on the replay loop itself), or at the
//! end of `Pending::evaluate`, which runs as its own task while later
//! messages are observed. A line written in such a task goes to that
//! task's own list ([`ReplayLines::scoped`]); any other to the shared
//! list, which the loop takes after each message.

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::detect::transactions::TransactionLog;

tokio::task_local! {
    /// The lines of the evaluation task running now.
    static TASK_LINES: RefCell<Vec<Vec<u8>>>;
}

/// Collects the transaction lines of one replay.
#[derive(Clone, Default)]
pub struct ReplayLines {
    /// Lines written outside an evaluation task (the replay loop).
    shared: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl ReplayLines {
    /// The detector's transaction log, writing here (never full).
    pub fn log(&self) -> TransactionLog {
        let shared = self.shared.clone();
        TransactionLog::per_line(Arc::new(move |line, _| {
            let mut line = Some(line);
            let _ = TASK_LINES.try_with(|c| {
                if let Some(l) = line.take() {
                    c.borrow_mut().push(l);
                }
            });
            if let Some(l) = line {
                shared.lock().unwrap_or_else(|p| p.into_inner()).push(l);
            }
            true
        }))
    }

    /// The lines written on the replay loop since the last call.
    pub fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.shared.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs `f` (an evaluation) with its own list: its output and the
    /// lines it wrote.
    pub async fn scoped<T>(f: impl Future<Output = T>) -> (T, Vec<Vec<u8>>) {
        TASK_LINES
            .scope(RefCell::new(Vec::new()), async move {
                let out = f.await;
                let lines = TASK_LINES.with(|c| c.take());
                (out, lines)
            })
            .await
    }
}
