//! `candor index build` and `candor match` (owned by the index work; placeholder until it lands).
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct BuildArgs {}

#[derive(clap::Args)]
pub struct MatchArgs {}

pub fn run_build(_args: BuildArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}

pub fn run_match(_args: MatchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
