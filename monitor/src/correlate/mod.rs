//! Joins queries with answers and both with the process that asked.

pub mod outstanding;
pub mod process;
