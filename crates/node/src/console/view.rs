//! What the console reads from the node, and the two things it asks of it
//! (submit and cancel, through the control socket's own request path):
//! one narrow trait, so pages can be rendered and tested without a running
//! node, and the daemon needs no console code of its own.

use crate::config::NodeConfig;
use crate::console::reach::Reach;
use crate::control::{PhaseBytes, Request, Response};
use crate::daemon::Node;
use crate::jobspec::JobSpec;
use crate::state::{JobKey, NodeState};
use ed25519_dalek::VerifyingKey;
use std::sync::Arc;

/// The node as the console sees it.
pub trait NodeView: Send + Sync + 'static {
    /// Its configuration: name, peers, datasets (columns and grades),
    /// policy, the verification store.
    fn config(&self) -> &NodeConfig;
    /// Its audit key (public half).
    fn audit_key(&self) -> VerifyingKey;
    /// Its certificate's fingerprint (`sha256:…`).
    fn fingerprint(&self) -> String;
    /// Calls `read` with the state rebuilt from the audit log (the job
    /// history). `read` must be quick: the node waits for it.
    fn read_state(&self, read: &mut dyn FnMut(&NodeState));
    /// Answers a control request exactly as the control socket does
    /// (list, status, submit, cancel, budget).
    fn control(&self, request: Request) -> Response;
    /// The spec of job `key`, if the node holds it (jobs of its current
    /// run: the audit log keeps the spec's hash, not the spec). None by
    /// default.
    fn spec(&self, _key: &JobKey) -> Option<JobSpec> {
        None
    }
    /// The phases of job `key` with their time and bytes (jobs of the
    /// node's current run). None by default.
    fn phases(&self, _key: &JobKey) -> Vec<PhaseBytes> {
        Vec::new()
    }
    /// The probes of the peers ("reachable now"); none by default (the
    /// overview then says they are not probed).
    fn reach(&self) -> Option<&Reach> {
        None
    }
}

/// A running node.
pub struct LiveNode {
    node: Arc<Node>,
    fingerprint: String,
    reach: Reach,
}

impl LiveNode {
    /// The view of `node`.
    pub fn new(node: Arc<Node>) -> Result<LiveNode, crate::NodeError> {
        let identity = indomain_net::quic::Identity::load(&node.config().identity)
            .map_err(|e| crate::NodeError::Key(e.to_string()))?;
        let reach = Reach::new(&identity, node.config());
        Ok(LiveNode {
            fingerprint: identity.fingerprint().to_string(),
            node,
            reach,
        })
    }
}

impl NodeView for LiveNode {
    fn config(&self) -> &NodeConfig {
        self.node.config()
    }

    fn audit_key(&self) -> VerifyingKey {
        self.node.audit_key()
    }

    fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    fn read_state(&self, read: &mut dyn FnMut(&NodeState)) {
        self.node.with_state(|s| read(s));
    }

    fn control(&self, request: Request) -> Response {
        self.node.handle(request)
    }

    fn spec(&self, key: &JobKey) -> Option<JobSpec> {
        self.node.job_spec(key)
    }

    fn phases(&self, key: &JobKey) -> Vec<PhaseBytes> {
        self.node.job_phases(key)
    }

    fn reach(&self) -> Option<&Reach> {
        Some(&self.reach)
    }
}
