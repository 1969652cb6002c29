//! The full mesh of an n-party job over QUIC.
//!
//! Party `me` connects to every lower-indexed party and then accepts one
//! connection from every higher-indexed one, so no two parties wait on each
//! other. Each accepted link is placed by the name its certificate carries,
//! and must belong to a higher-indexed party of the agreed list.

use super::endpoint::Endpoint;
use crate::channel::Channel;
use crate::{NetError, PartySet};
use std::net::SocketAddr;

/// One party of a job: its name (as in the trusted list) and where it
/// listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyAddr {
    /// The party's name.
    pub name: String,
    /// The address its endpoint is bound to.
    pub addr: SocketAddr,
}

/// Full mesh for an n-party job: party `me` connects to every lower-indexed
/// party and accepts from every higher-indexed one. The result is ordered by
/// party index. Parties may start in any order: connecting retries, and
/// accepting waits, until the receive timeout; a party that never came is
/// named in the error.
pub fn mesh(endpoint: &Endpoint, me: usize, parties: &[PartyAddr]) -> Result<PartySet, NetError> {
    let names: Vec<String> = parties.iter().map(|p| p.name.clone()).collect();
    check_party_list(endpoint, me, &names)?;
    let mut links: Vec<Option<Box<dyn Channel>>> = (0..parties.len()).map(|_| None).collect();
    for (i, party) in parties.iter().enumerate().take(me) {
        links[i] = Some(Box::new(endpoint.connect(party.addr, &party.name)?));
    }
    let deadline = std::time::Instant::now() + endpoint.limits().recv_timeout;
    for _ in me + 1..parties.len() {
        let missing: Vec<String> = (me + 1..parties.len())
            .filter(|&i| links[i].is_none())
            .map(|i| names[i].clone())
            .collect();
        let channel = endpoint.accept_until(deadline, &missing)?;
        let slot = names
            .iter()
            .position(|n| n == channel.peer())
            .filter(|&i| i > me)
            .and_then(|i| links.get_mut(i))
            .filter(|slot| slot.is_none());
        let Some(slot) = slot else {
            return Err(NetError::Misbehaviour {
                peer: channel.peer().to_string(),
                reason: format!(
                    "it connected, but only {} connect to {} (it is not later in the \
                     party list, or it connected twice)",
                    missing.join(", "),
                    endpoint.name()
                ),
            });
        };
        *slot = Some(Box::new(channel));
    }
    Ok(PartySet::new(me, names, links))
}

fn check_party_list(endpoint: &Endpoint, me: usize, names: &[String]) -> Result<(), NetError> {
    let Some(my_name) = names.get(me) else {
        return Err(NetError::Config(format!(
            "party index {me} is outside a list of {}",
            names.len()
        )));
    };
    if my_name != endpoint.name() {
        return Err(NetError::Config(format!(
            "party {me} of the job is {my_name}, but this node is {}",
            endpoint.name()
        )));
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(NetError::Config(format!("party {name} is listed twice")));
        }
    }
    Ok(())
}
