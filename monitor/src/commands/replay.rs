//! `dnssec-monitor replay`.

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {}

pub fn main(_args: ReplayArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`replay` is not implemented yet")
}
