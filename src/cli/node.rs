//! `indomain node --config node.toml`: run this organisation's party node.

use super::CliResult;
use indomain_node::daemon::Node;
use std::path::PathBuf;

/// Arguments of `indomain node`.
///
/// Loads the configuration, the identity and every dataset (each is opened
/// and its declared columns checked), opens and verifies the audit log,
/// then serves the operator on the control socket and peers on the QUIC
/// address until the process is stopped. A job that fails never stops the
/// node.
#[derive(clap::Args)]
pub struct Args {
    /// The node configuration (see docs/operations.md).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

pub fn run(args: Args) -> CliResult {
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
    let c = node.config();
    // One line on stdout when the node is ready, for scripts and tests.
    println!(
        "node {} ready: QUIC on {}, control socket {}, audit log {}",
        c.name,
        node.quic_addr(),
        c.control_socket.display(),
        c.audit_log.display()
    );
    node.serve()?;
    Ok(())
}
