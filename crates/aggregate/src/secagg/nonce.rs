//! Agreeing on a job nonce ([`super::Params::job`]) before a job's rounds,
//! so that nothing signed or derived in one job's rounds is accepted in
//! another's, although round numbers restart at 0 in every job.
//!
//! Each client draws 32 fresh random bytes and sends them to the server;
//! the server sends every client the list of (client id, contribution)
//! of the clients that sent one; the nonce is SHA-256 over a domain tag
//! and that list. A client checks that its own fresh contribution is in
//! the list under its id before it uses the nonce. The nonce therefore
//! differs from every earlier job's at each honest client (its
//! contribution is new), so a server that replays a client's signed keys
//! or survivor-list signature from an earlier job is caught by the
//! signature check; a server that sends clients different lists gives
//! them different nonces, and their signatures on each other's messages
//! fail — the round aborts, naming the client. The server cannot choose
//! the nonce.
//!
//! What each party learns: the random contributions, nothing else.

use crate::AggregateError;
use indomain_net::Channel;
use indomain_net::wire::{recv_msg, send_msg};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const NONCE_LABEL: &[u8] = b"indomain/secagg/v2/job-nonce";

/// Bytes of a client's contribution.
pub const CONTRIBUTION: usize = 32;

/// Server → clients: every contribution received, by increasing client id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contributions {
    /// (client id, contribution), ids strictly increasing.
    pub clients: Vec<(u32, [u8; CONTRIBUTION])>,
}

/// The job nonce of a list of contributions.
pub fn job_nonce(list: &Contributions) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((NONCE_LABEL.len() as u64).to_le_bytes());
    h.update(NONCE_LABEL);
    h.update((list.clients.len() as u64).to_le_bytes());
    for (id, c) in &list.clients {
        h.update(u64::from(*id).to_le_bytes());
        h.update(c);
    }
    h.finalize().into()
}

/// The client side: sends a fresh contribution for client `id` (of
/// `clients`) to `server`, receives the list and returns the job nonce,
/// after checking that the list is well formed and holds its contribution.
pub fn client_agree<C: Channel + ?Sized, R: CryptoRng + ?Sized>(
    server: &mut C,
    id: usize,
    clients: usize,
    rng: &mut R,
) -> Result<[u8; 32], AggregateError> {
    let phase = "agreeing on the job nonce";
    let mut mine = [0u8; CONTRIBUTION];
    rng.fill_bytes(&mut mine);
    server.send(&mine).map_err(AggregateError::net(phase))?;
    let list: Contributions = recv_msg(server).map_err(AggregateError::net(phase))?;
    let increasing = list.clients.windows(2).all(|w| w[0].0 < w[1].0);
    let in_range = list.clients.iter().all(|(c, _)| (*c as usize) < clients);
    let ours = list
        .clients
        .iter()
        .any(|(c, bytes)| *c as usize == id && *bytes == mine);
    if !(increasing && in_range && ours) {
        return Err(AggregateError::Protocol {
            peer: server.peer().to_string(),
            phase,
            reason: "sent a list of contributions without this client's fresh one (a replay of \
                     another job's?) or out of order"
                .into(),
        });
    }
    Ok(job_nonce(&list))
}

/// The server side: receives a contribution from each client link and
/// sends every client the list. Returns the job nonce and the clients
/// that sent no well-formed contribution (they are out of the job).
pub fn server_agree<C: Channel>(clients: &mut [C]) -> ([u8; 32], Vec<usize>) {
    let mut list = Contributions {
        clients: Vec::with_capacity(clients.len()),
    };
    let mut failed = Vec::new();
    for (i, ch) in clients.iter_mut().enumerate() {
        match ch.recv() {
            Ok(bytes) if bytes.len() == CONTRIBUTION => {
                let mut c = [0u8; CONTRIBUTION];
                c.copy_from_slice(&bytes);
                list.clients.push((i as u32, c));
            }
            _ => failed.push(i),
        }
    }
    for (i, ch) in clients.iter_mut().enumerate() {
        if !failed.contains(&i) && send_msg(ch, &list).is_err() {
            failed.push(i);
        }
    }
    failed.sort_unstable();
    (job_nonce(&list), failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_net::memory::pair;

    #[test]
    fn every_client_gets_the_servers_nonce_and_a_replayed_list_is_refused() {
        let n = 3;
        let (mut server, ends): (Vec<_>, Vec<_>) =
            (0..n).map(|i| pair("server", &format!("c{i}"))).unzip();
        let (nonces, (job, failed)) = std::thread::scope(|s| {
            let hs: Vec<_> = ends
                .into_iter()
                .enumerate()
                .map(|(id, mut ch)| {
                    s.spawn(move || client_agree(&mut ch, id, n, &mut rand::rng()).unwrap())
                })
                .collect();
            let agreed = server_agree(&mut server);
            (
                hs.into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>(),
                agreed,
            )
        });
        assert!(failed.is_empty());
        assert!(nonces.iter().all(|n| *n == job));

        // A server replaying the list of that job to a client of a new one.
        let old = Contributions {
            clients: (0..n as u32)
                .map(|i| (i, [i as u8; CONTRIBUTION]))
                .collect(),
        };
        let (mut s, mut c) = pair("server", "c0");
        let replay = std::thread::spawn(move || {
            let _ = s.recv();
            send_msg(&mut s, &old).unwrap();
        });
        let e = client_agree(&mut c, 0, n, &mut rand::rng()).unwrap_err();
        replay.join().unwrap();
        assert!(e.to_string().contains("fresh one"), "{e}");
    }
}
