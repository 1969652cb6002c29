//! The operator's console: web pages served by the node itself (when
//! `console = "ADDR"` is set in `node.toml`) that show what the node holds
//! — its identity, peers (and whether each answers a handshake now),
//! datasets (columns and grades, never rows), policy, jobs live, each
//! job's decisions, phases with their bytes, outputs, receipts and what
//! each party learns, the audit log with its verdict, the models, binning
//! reports and scorecards it holds with their plots, the DP budgets of its
//! data, and the verification service's usage — and that submit and
//! cancel jobs through the control socket's own request path.
//!
//! What each party learns: nothing new. The console shows the operator
//! what this node already holds (its configuration, its audit log, the
//! state rebuilt from it, its own result files); peers see only the
//! console's reachability probes (a handshake closed at once, at most one
//! a peer every few seconds while a page asks, [`reach`]), and nothing of
//! a peer's data is ever shown — a peer appears only by
//! what it signed or sent this node (its decisions, rules and receipts).
//! Who may look is decided by [`access`]: loopback only unless TLS is
//! configured, an operator token exchanged for a session cookie, a CSRF
//! token in every form that acts, and a strict Content-Security-Policy
//! ([`http::CSP`]): no inline script runs, whatever a page shows.
//!
//! Layout: [`view`] (the narrow read interface the node implements),
//! [`reach`] (probes of the peers, cached, never awaited by a page),
//! [`feed`] (the audit log's index and verdict, kept current by the node),
//! [`access`] (token, sessions, CSRF), [`routes`] (every page and action
//! with the access it needs), [`server`] (listener, TLS, hyper), and one
//! file per page under `pages/`.

pub mod access;
pub mod feed;
pub mod http;
mod pages;
pub mod reach;
pub mod routes;
pub mod server;
pub mod view;

pub use feed::{AuditFeed, Verdict};
pub use view::{LiveNode, NodeView};

use crate::error::NodeError;
use access::Access;
use std::path::Path;
use std::sync::Arc;

/// A console: what it shows, and who may see it.
pub struct Console {
    view: Arc<dyn NodeView>,
    feed: Arc<AuditFeed>,
    access: Access,
    /// The session cookie's name: `indomain-<node>`, so two nodes'
    /// consoles on one host do not log each other out.
    cookie: String,
    /// Whether it is served over TLS (cookies are then `Secure`).
    secure: bool,
}

impl Console {
    /// A console of `view`, with the audit log's `feed` and the operator
    /// token in `token_file` (created if missing).
    pub fn new(
        view: Arc<dyn NodeView>,
        feed: Arc<AuditFeed>,
        token_file: &Path,
        secure: bool,
    ) -> Result<Console, NodeError> {
        let access = Access::open(token_file).map_err(|e| crate::error::io_error(token_file, e))?;
        let cookie = format!("indomain-{}", view.config().name);
        Ok(Console {
            view,
            feed,
            access,
            cookie,
            secure,
        })
    }

    /// The node it shows.
    pub fn view(&self) -> &dyn NodeView {
        self.view.as_ref()
    }
}

/// A console that is serving.
#[derive(Debug, Clone)]
pub struct Started {
    /// Its address, e.g. `http://127.0.0.1:8443/`.
    pub url: String,
    /// The file holding the operator token.
    pub token_file: std::path::PathBuf,
}

/// Starts the console `node.toml` asks for, if it asks for one: checks
/// its TLS files, opens (or creates) the operator token, binds the
/// address, and serves on a thread of its own. `None` when the console is
/// off.
pub fn start(node: &Arc<crate::daemon::Node>) -> Result<Option<Started>, NodeError> {
    let Some(settings) = node.config().console.clone() else {
        return Ok(None);
    };
    let feed = node
        .console_feed()
        .ok_or_else(|| NodeError::Control("console: the node keeps no audit feed".into()))?;
    let view: Arc<dyn NodeView> = Arc::new(LiveNode::new(Arc::clone(node))?);
    start_with(view, feed, &settings).map(Some)
}

/// Starts a console of `view` as `settings` say.
pub fn start_with(
    view: Arc<dyn NodeView>,
    feed: Arc<AuditFeed>,
    settings: &crate::config::ConsoleSettings,
) -> Result<Started, NodeError> {
    let tls = match &settings.tls {
        Some(t) => Some(server::tls_config(&t.cert, &t.key)?),
        None if !settings.listen.ip().is_loopback() => {
            return Err(NodeError::Control(format!(
                "console: {} is not a loopback address and no TLS is configured for it",
                settings.listen
            )));
        }
        None => None,
    };
    let console = Arc::new(Console::new(
        view,
        feed,
        &settings.token_file,
        tls.is_some(),
    )?);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let bound = server::serve(console, settings.listen, tls)?;
    Ok(Started {
        url: format!("{scheme}://{bound}/"),
        token_file: settings.token_file.clone(),
    })
}

#[cfg(test)]
mod page_tests;
#[cfg(test)]
mod tests;
