//! `indomain psi`.

use super::CliResult;

/// Arguments of `indomain psi`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> CliResult {
    Err("not built yet".into())
}
