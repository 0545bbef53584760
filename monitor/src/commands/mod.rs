//! One module per subcommand: its options (clap `Args`) and its body.
//! Each returns the process exit code.

pub mod check_config;
pub mod export;
pub mod replay;
pub mod replay_lines;
pub mod report;
pub mod run;
pub mod run_detect;
pub mod run_evidence;
pub mod run_loss;
pub mod run_metrics;
pub mod run_ops;
pub mod run_output;
pub mod run_store;
pub mod search;
pub mod validate;
pub mod verify_evidence;
