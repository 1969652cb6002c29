//! The `indomain` command: one party node's command line.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
