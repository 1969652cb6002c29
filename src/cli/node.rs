//! `indomain node --config node.toml`: run this organisation's party node;
//! `--new-console-token` replaces the operator console's token.

use super::CliResult;
use indomain_node::config::{NodeConfig, console_token_file};
use indomain_node::console::access;
use indomain_node::daemon::Node;
use std::path::PathBuf;

/// Arguments of `indomain node`.
///
/// Loads the configuration, the identity and every dataset (each is opened
/// and its declared columns checked), opens and verifies the audit log,
/// then serves the operator on the control socket (and, with `console =
/// "ADDR"` in node.toml, on the web console) and peers on the QUIC address
/// until the process is stopped. A job that fails never stops the node.
#[derive(clap::Args)]
pub struct Args {
    /// The node configuration (see docs/operations.md).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Write a new operator token for the web console (console.token,
    /// beside the control socket, mode 0600), print it, and exit. A
    /// running node honours only the new token from its next request on:
    /// every session opened with the old one is logged out.
    #[arg(long)]
    new_console_token: bool,
}

pub fn run(args: Args) -> CliResult {
    if args.new_console_token {
        let config = NodeConfig::load(&args.config)?;
        let path = config
            .console
            .as_ref()
            .map(|c| c.token_file.clone())
            .unwrap_or_else(|| console_token_file(&config.control_socket));
        let token = access::rotate(&path)
            .map_err(|e| format!("writing the console token {}: {e}", path.display()))?;
        println!("{token}");
        eprintln!(
            "new console token written to {}; sessions opened with the old one are logged out",
            path.display()
        );
        return Ok(());
    }
    let node = Node::start(&args.config)?;
    // On SIGINT or SIGTERM, every running job's peers hear at once.
    let stopping = std::sync::Arc::clone(&node);
    super::stop::on_signal(move |signal| {
        match stopping.stop_running(&format!("the node stopped ({signal})")) {
            0 => "the node was idle: no job was running".to_string(),
            n => {
                // Let the close frames leave before the process does.
                std::thread::sleep(std::time::Duration::from_millis(200));
                format!("{n} running job(s) stopped; their peers were told")
            }
        }
    });
    let console = indomain_node::console::start(&node)?;
    let c = node.config();
    // One line on stdout when the node is ready, for scripts and tests.
    println!(
        "node {} ready: QUIC on {}, control socket {}, audit log {}{}",
        c.name,
        node.quic_addr(),
        c.control_socket.display(),
        c.audit_log.display(),
        console
            .map(|s| format!(", console {} (token in {})", s.url, s.token_file.display()))
            .unwrap_or_default()
    );
    node.serve()?;
    Ok(())
}
