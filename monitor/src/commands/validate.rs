//! `dnssec-monitor validate`.

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {}

pub fn main(_args: ValidateArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`validate` is not implemented yet")
}
