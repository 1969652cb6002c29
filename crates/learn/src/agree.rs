//! Before a training or scoring job computes anything, every party checks
//! that every other party runs the same job, and each party's local
//! preparation (reading and checking its file) either succeeds everywhere
//! or the job stops everywhere, naming the party that refused.
//!
//! What each party learns: the others' job hashes (equal to its own when
//! the job goes on) and, on failure, the other party's error message
//! (which names its own file, line and column, never a cell's value beyond
//! what the message quotes).

use crate::LearnError;
use indomain_net::wire::{decode_msg, recv_msg, send_msg};
use indomain_net::{Channel, PartySet};
use sha2::{Digest, Sha256};

/// `sha256:<hex>` of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Sends `hash` (of the job as this party sees it) to every other party
/// and refuses unless every party sent the same.
pub fn same_job(parties: &mut PartySet, hash: &str) -> Result<(), LearnError> {
    for i in parties.others().collect::<Vec<_>>() {
        send_msg(parties.channel(i)?, &hash.to_string())?;
    }
    for i in parties.others().collect::<Vec<_>>() {
        let ch = parties.channel(i)?;
        let frame = ch.recv()?;
        let theirs: String = decode_msg(ch.peer(), &frame)?;
        if theirs != hash {
            return Err(LearnError::Protocol {
                peer: parties.name(i).to_string(),
                phase: "job agreement",
                reason: format!(
                    "runs a different job ({theirs}, ours is {hash}): check that every party got the same parameters, party list and roles"
                ),
            });
        }
    }
    Ok(())
}

/// [`same_job`] on one link (horizontal training's star): sends `hash`,
/// receives the peer's and refuses a different one.
pub fn same_job_with<C: Channel + ?Sized>(ch: &mut C, hash: &str) -> Result<(), LearnError> {
    send_msg(ch, &hash.to_string())?;
    let theirs: String = recv_msg(ch)?;
    if theirs != hash {
        return Err(LearnError::Protocol {
            peer: ch.peer().to_string(),
            phase: "job agreement",
            reason: format!(
                "runs a different job ({theirs}, ours is {hash}): check that every party got the same parameters, party list and roles"
            ),
        });
    }
    Ok(())
}

/// Tells every other party whether this party's preparation succeeded and
/// learns theirs; returns this party's own error first, else the first
/// other party's, named, else this party's prepared value.
pub fn all_ready<T>(parties: &mut PartySet, mine: Result<T, LearnError>) -> Result<T, LearnError> {
    let status: Option<String> = mine.as_ref().err().map(public_reason);
    // A party that stopped after seeing another's refusal may close its
    // link early: note failures and keep going, so the refusal itself is
    // what every party reports.
    let mut gone = None;
    for i in parties.others().collect::<Vec<_>>() {
        if let Err(e) = send_msg(parties.channel(i)?, &status) {
            gone.get_or_insert(e);
        }
    }
    let value = mine?;
    for i in parties.others().collect::<Vec<_>>() {
        let ch = parties.channel(i)?;
        let theirs = ch
            .recv()
            .and_then(|frame| decode_msg::<Option<String>>(ch.peer(), &frame));
        match theirs {
            Ok(None) => {}
            Ok(Some(reason)) => {
                return Err(LearnError::Data(format!(
                    "party {} refused the job: {reason}",
                    parties.name(i)
                )));
            }
            Err(e) => {
                gone.get_or_insert(e);
            }
        }
    }
    match gone {
        Some(e) => Err(e.into()),
        None => Ok(value),
    }
}

/// [`all_ready`] for a client of a star (horizontal training): tells the
/// server whether this client's input was accepted and learns whether
/// every client's was.
pub fn ready_to_server<T, C: Channel + ?Sized>(
    server: &mut C,
    mine: Result<T, LearnError>,
) -> Result<T, LearnError> {
    let status: Option<String> = mine.as_ref().err().map(public_reason);
    let sent = send_msg(server, &status);
    let value = mine?;
    sent?;
    let verdict: Option<String> = recv_msg(server)?;
    match verdict {
        Some(reason) => Err(LearnError::Data(reason)),
        None => Ok(value),
    }
}

/// [`all_ready`] for the server of a star: learns whether every client's
/// input was accepted and tells every client the first refusal, naming
/// the client.
pub fn ready_from_clients<C: Channel>(clients: &mut [C]) -> Result<(), LearnError> {
    let mut refusal: Option<String> = None;
    for ch in clients.iter_mut() {
        let status: Option<String> = recv_msg(ch)?;
        if let Some(reason) = status {
            refusal.get_or_insert(format!("party {} refused the job: {reason}", ch.peer()));
        }
    }
    for ch in clients.iter_mut() {
        // A client that refused may be gone already.
        let _ = send_msg(ch, &refusal);
    }
    match refusal {
        Some(reason) => Err(LearnError::Data(reason)),
        None => Ok(()),
    }
}

/// What the other parties are told of this party's refusal: the message,
/// except that a refused cell is named by file, line and column without
/// its value (which the local error quotes).
fn public_reason(e: &LearnError) -> String {
    match e {
        LearnError::Cell {
            file, line, column, ..
        } => format!("{file}, line {line}, column {column}: the cell was refused"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_net::memory::mesh;

    #[test]
    fn a_different_job_is_refused_naming_the_party() {
        let sets = mesh(&["bank", "tax"]);
        let results: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = sets
                .into_iter()
                .zip(["a", "b"])
                .map(|(mut p, h)| s.spawn(move || same_job(&mut p, h)))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let err = results[0].as_ref().unwrap_err().to_string();
        assert!(
            err.contains("tax") && err.contains("different job"),
            "{err}"
        );
    }

    #[test]
    fn one_partys_refusal_stops_every_party() {
        let sets = mesh(&["bank", "tax", "dealer"]);
        let results: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = sets
                .into_iter()
                .enumerate()
                .map(|(i, mut p)| {
                    s.spawn(move || {
                        let mine = if i == 1 {
                            Err(LearnError::Data("tax.csv: column \"x\" is constant".into()))
                        } else {
                            Ok(())
                        };
                        all_ready::<()>(&mut p, mine)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in [&results[0], &results[2]] {
            let err = r.as_ref().unwrap_err().to_string();
            assert!(
                err.contains("party tax refused") && err.contains("constant"),
                "{err}"
            );
        }
        assert!(results[1].is_err());
    }
}
