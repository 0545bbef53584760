//! What the detection side hands to the output side of `dnssec-monitor run`.
//!
//! Events are rendered to JSON-lines bytes where they are produced (many
//! per item, so the channel is not crossed once per message); alerts stay
//! structured, because every sink (JSON lines, syslog, store) renders them
//! its own way.

use std::sync::Arc;

use crate::detect::alert::Alert;

/// One item on the output channel.
#[derive(Debug)]
pub enum Output {
    /// One or more complete JSON lines (each ends with `\n`), DNS events.
    Events(Vec<u8>),
    /// One alert, for every sink.
    Alert(Arc<Alert>),
}
