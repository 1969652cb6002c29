//! `indomain aggregate`.

use super::CliResult;

/// Arguments of `indomain aggregate`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> CliResult {
    Err("not built yet".into())
}
