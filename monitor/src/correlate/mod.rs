//! Joins queries with answers and both with the process that asked.

pub mod process;
