//! Forensic store: an embedded SQLite database (WAL) of DNS transactions,
//! verdicts, alerts, raw messages and the DNSSEC evidence each verdict
//! rested on, kept by age and size, searchable for incident response.
//!
//! - [`db`]: opening, pragmas (WAL, incremental auto-vacuum), integrity.
//! - [`schema`]: the versioned schema (`user_version`) and its migrations.
//! - [`record`]: what the daemon hands over (one answer's bundle).
//! - [`writer`]: batched inserts, a commit every N rows or T ms.
//! - [`service`]: the writer on its own thread behind a non-blocking handle.
//! - [`retention`]: delete the oldest by age and by size, then vacuum.
//! - [`search`]: queries by name suffix, process, rule and time range.

pub mod db;
pub mod record;
pub mod retention;
pub mod schema;
pub mod search;
pub mod service;
pub mod writer;

pub use db::{Store, StoreError};
pub use record::{Alert, Evidence, Record, Transaction, Verdict};
pub use retention::{Retention, RetentionReport};
pub use search::{AlertDetail, AlertHit, SearchQuery, TransactionHit};
pub use service::{StoreHandle, StoreOptions, StoreStats, StoreStatsReader};

pub use writer::BatchWriter;

#[cfg(test)]
mod crash_tests;
