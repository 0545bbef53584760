//! Joins queries with answers and both with the process that asked.

mod digest_memo;
mod fingerprint;
pub mod outstanding;
pub mod process;
