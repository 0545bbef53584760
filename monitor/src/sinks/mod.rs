//! Where events and alerts go.
//!
//! * [`jsonl`] — JSON lines to stdout or a file.

pub mod jsonl;
