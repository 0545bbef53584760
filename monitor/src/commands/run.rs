//! `dnssec-monitor run`.

#[derive(clap::Args, Debug)]
pub struct RunArgs {}

pub fn main(_args: RunArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`run` is not implemented yet")
}
