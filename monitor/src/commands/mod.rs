//! One module per subcommand: its options (clap `Args`) and its body.
//! Each returns the process exit code.

pub mod check_config;
pub mod replay;
pub mod run;
pub mod run_detect;
pub mod search;
pub mod validate;
