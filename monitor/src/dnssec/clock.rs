//! The validation clock. Signature windows (RFC 4034 §3.1.5) and cache
//! expiry both read it, so a test or a forensic re-check can fix "now"
//! (`--at`, Deckard `val-override-date`) and advance it (`TIME_PASSES`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A shared clock: the system's, or a fixed instant that can be advanced.
#[derive(Clone, Debug)]
pub struct Clock {
    /// Offset added to the system time, or a fixed time when `fixed` is set.
    inner: Arc<ClockInner>,
}

#[derive(Debug)]
struct ClockInner {
    fixed: bool,
    /// Unix seconds when fixed; seconds of offset otherwise.
    value: AtomicI64,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self {
            inner: Arc::new(ClockInner {
                fixed: false,
                value: AtomicI64::new(0),
            }),
        }
    }

    /// A clock standing at `unix_seconds` until advanced.
    pub fn fixed(unix_seconds: i64) -> Self {
        Self {
            inner: Arc::new(ClockInner {
                fixed: true,
                value: AtomicI64::new(unix_seconds),
            }),
        }
    }

    /// Moves the clock forward by `seconds` (also for a system clock).
    pub fn advance(&self, seconds: i64) {
        self.inner.value.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Now, in seconds since the Unix epoch.
    pub fn now_unix(&self) -> i64 {
        let v = self.inner.value.load(Ordering::SeqCst);
        if self.inner.fixed {
            v
        } else {
            let sys = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            sys + v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_advances() {
        let c = Clock::fixed(1_000);
        let c2 = c.clone();
        c.advance(30);
        assert_eq!(c2.now_unix(), 1_030);
    }
}
