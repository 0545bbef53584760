//! Joins queries with answers and both with the process that asked.

mod fingerprint;
pub mod outstanding;
pub mod process;
