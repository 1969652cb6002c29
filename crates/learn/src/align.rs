//! Row alignment for vertical training and scoring: a PSI join
//! ([`indomain_psi::Mode::Join`], by the fastest construction that joins:
//! RR22's VOLE and OKVS) between the label
//! holder and each feature holder, then one common order over the rows
//! every data party shares.
//!
//! The label holder runs a join with each feature holder j (it is the PSI
//! receiver), which gives both the rows they share in an order common to
//! the two of them. The label holder keeps the rows present in every join,
//! in the order of the join with the first feature holder (an order set by
//! the PSI's outputs, unrelated to either file's order), and sends
//! each feature holder the positions of those rows in their own join
//! order; it sends every other party (the dealer) only the row count.
//!
//! What each party learns: the label holder learns which of its rows each
//! feature holder has (a join reveals the matches to both sides) and each
//! feature holder's row count; feature holder j learns the label holder's
//! row count, which of its rows it shares with the label holder, and which
//! of those are in the rows every party shares (the rows the model is
//! trained on); the dealer learns the number of shared rows.

use crate::LearnError;
use indomain_mpc::{Correlations, DealerClient, Roster, TwoParty};
use indomain_net::PartySet;
use indomain_net::wire::{recv_msg, recv_u64s, send_msg, send_u64s};
use indomain_psi::{Construction, Items, Job, Mode};
use rand::CryptoRng;
use std::collections::HashSet;

/// The most feature holders a vertical job takes (with the label holder
/// and the dealer, at most 6 parties).
pub const MAX_FEATURE_HOLDERS: usize = 4;

/// Who does what in a vertical job: parties named by set index, as
/// everywhere in the engine. Alignment, training
/// ([`crate::vertical::train`]) and scoring ([`crate::vertical::predict`])
/// take the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    /// The label holder.
    pub label: usize,
    /// The feature holders, in party order.
    pub features: Vec<usize>,
    /// The dealer of correlated randomness, if any.
    pub dealer: Option<usize>,
}

impl Roles {
    /// Roles from the label holder and the dealer; every other party holds
    /// features.
    pub fn new(parties: usize, label: usize, dealer: Option<usize>) -> Result<Self, LearnError> {
        if label >= parties || dealer.is_some_and(|d| d >= parties || d == label) {
            return Err(LearnError::Params(
                "the label holder and the dealer must be two different parties of the list".into(),
            ));
        }
        let features: Vec<usize> = (0..parties)
            .filter(|&p| p != label && Some(p) != dealer)
            .collect();
        if features.is_empty() || features.len() > MAX_FEATURE_HOLDERS {
            return Err(LearnError::Params(format!(
                "vertical training takes 1 to {MAX_FEATURE_HOLDERS} feature holders, not {}",
                features.len()
            )));
        }
        Ok(Self {
            label,
            features,
            dealer,
        })
    }

    /// Where the job's correlated randomness comes from: the dealer the
    /// roles name, or else the two computing parties themselves
    /// ([`TwoParty`]: exactly one feature holder). `what` names the job
    /// in the error for more data parties without a dealer.
    pub fn correlations(
        &self,
        roster: &Roster,
        what: &str,
    ) -> Result<Box<dyn Correlations>, LearnError> {
        match self.dealer {
            Some(_) => Ok(Box::new(DealerClient::new(roster)?)),
            None => self
                .two_party(what)
                .and(Ok(Box::new(TwoParty::new(roster)?))),
        }
    }

    /// Refuses a job without a dealer unless it has exactly one feature
    /// holder (two-party correlations take two computing parties).
    pub fn two_party(&self, what: &str) -> Result<(), LearnError> {
        if self.dealer.is_none() && self.features.len() != 1 {
            return Err(LearnError::Params(format!(
                "without a dealer, {what} takes one feature holder (two-party correlations), \
                 not {}; more data parties need a dealer",
                self.features.len()
            )));
        }
        Ok(())
    }

    /// Checks that every party of a set of `parties` has exactly one role
    /// and that there are 1 to [`MAX_FEATURE_HOLDERS`] feature holders.
    pub fn check(&self, parties: usize) -> Result<(), LearnError> {
        let mut seen = vec![false; parties];
        let everyone = std::iter::once(self.label)
            .chain(self.features.iter().copied())
            .chain(self.dealer);
        for p in everyone {
            if p >= parties || std::mem::replace(&mut seen[p], true) {
                return Err(LearnError::Params(format!(
                    "party {p} is outside a set of {parties} parties or has two roles"
                )));
            }
        }
        if let Some(p) = seen.iter().position(|s| !s) {
            return Err(LearnError::Params(format!("party {p} has no role")));
        }
        if self.features.is_empty() || self.features.len() > MAX_FEATURE_HOLDERS {
            return Err(LearnError::Params(format!(
                "vertical training takes 1 to {MAX_FEATURE_HOLDERS} feature holders, not {}",
                self.features.len()
            )));
        }
        Ok(())
    }
}

/// The PSI job of the alignment: the id column, trimmed, case kept; a join
/// of fewer than `min_rows` rows reveals nothing to the feature holder.
fn psi_job(min_rows: usize) -> Job {
    let mut job = Job::new(Mode::Join)
        .with_construction(Construction::fastest(Mode::Join))
        .with_min_intersection(min_rows);
    job.key_spec = "1 key column, trimmed, case kept".into();
    job
}

/// Aligns this party's rows with every other data party's. `ids` are this
/// party's row ids (empty at the dealer). Returns the number of shared
/// rows and, at a data party, the indices of its rows in the common order.
///
/// Fewer than `min_rows` shared rows stop every party before anything is
/// revealed beyond the set sizes: each join carries the minimum into the
/// PSI (a join below it reveals no row to the feature holder), and when
/// the rows every party shares are fewer, the label holder sends neither
/// the count nor any position, only a notice.
pub fn align<R: CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    ids: &[String],
    min_rows: usize,
    rng: &mut R,
) -> Result<(usize, Option<Vec<usize>>), LearnError> {
    let me = parties.me();
    let items = || {
        let mut items = Items::new();
        for id in ids {
            items.push_columns(&[id.trim()]);
        }
        items
    };
    let psi_err = |e: indomain_psi::PsiError| LearnError::Data(format!("aligning rows: {e}"));
    let job = psi_job(min_rows);
    if me == roles.label {
        let items = items();
        let mut positions: Vec<Vec<Option<u64>>> = Vec::new();
        // Feature holders whose join stopped below the minimum: they have
        // left the job, the others wait for the notice.
        let mut stopped = Vec::new();
        for &f in &roles.features {
            let mut pos = vec![None; ids.len()];
            match indomain_psi::session::receiver(
                parties.channel(f)?,
                &job,
                &items,
                rng,
                &mut |_| {},
            ) {
                Ok(outcome) => {
                    for (p, &row) in outcome.matched.unwrap_or_default().iter().enumerate() {
                        if let Some(slot) = pos.get_mut(row) {
                            *slot = Some(p as u64);
                        }
                    }
                }
                Err(indomain_psi::PsiError::BelowMinimum { .. }) => stopped.push(f),
                Err(e) => return Err(psi_err(e)),
            }
            positions.push(pos);
        }
        let mut rows: Vec<usize> = (0..ids.len())
            .filter(|&r| positions.iter().all(|p| p[r].is_some()))
            .collect();
        rows.sort_by(|&a, &b| ids[a].trim().cmp(ids[b].trim()));
        let n = rows.len();
        let shared = (n >= min_rows).then_some(n as u64);
        for i in parties.others().collect::<Vec<_>>() {
            if !stopped.contains(&i) {
                send_msg(parties.channel(i)?, &shared)?;
            }
        }
        if !stopped.is_empty() {
            let names: Vec<&str> = stopped.iter().map(|&f| parties.name(f)).collect();
            return Err(LearnError::Data(format!(
                "aligning rows: fewer than {min_rows} rows are shared with {}; training needs at least {min_rows}, nothing revealed",
                names.join(", ")
            )));
        }
        check_rows(n, min_rows, "every feature holder")?;
        for (j, &f) in roles.features.iter().enumerate() {
            let mine: Vec<u64> = rows.iter().filter_map(|&r| positions[j][r]).collect();
            send_u64s(parties.channel(f)?, &mine)?;
        }
        Ok((n, Some(rows)))
    } else {
        let label_name = parties.name(roles.label).to_string();
        let below = || {
            LearnError::Data(format!(
                "aligning rows: fewer than {min_rows} rows are shared by every data party \
                 (told by {label_name}); training needs at least {min_rows}, nothing revealed"
            ))
        };
        let matched = if roles.features.contains(&me) {
            let outcome = indomain_psi::session::sender(
                parties.channel(roles.label)?,
                &job,
                &items(),
                None,
                rng,
                &mut |_| {},
            )
            .map_err(psi_err)?;
            Some(outcome.matched.unwrap_or_default())
        } else {
            None
        };
        let ch = parties.channel(roles.label)?;
        let n: Option<u64> = recv_msg(ch)?;
        let n = n.ok_or_else(below)?;
        let limit = matched.as_ref().map_or(u32::MAX as usize, Vec::len);
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= limit)
            .ok_or_else(|| LearnError::Protocol {
                peer: label_name.clone(),
                phase: "aligning rows",
                reason: format!("announced {n} shared rows, more than the join gave"),
            })?;
        check_rows(n, min_rows, &label_name)?;
        let Some(matched) = matched else {
            return Ok((n, None));
        };
        let positions = recv_u64s(parties.channel(roles.label)?, n)?;
        let mut seen = HashSet::with_capacity(n);
        let rows = positions
            .iter()
            .map(|&p| {
                usize::try_from(p)
                    .ok()
                    .and_then(|p| matched.get(p).copied())
                    .filter(|_| seen.insert(p))
                    .ok_or_else(|| LearnError::Protocol {
                        peer: label_name.clone(),
                        phase: "aligning rows",
                        reason: format!("sent position {p}, out of range or repeated"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((n, Some(rows)))
    }
}

fn check_rows(n: usize, min: usize, with: &str) -> Result<(), LearnError> {
    crate::data::check_shared_rows(n, min, with)
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_net::memory::mesh;

    fn ids(v: &[u32]) -> Vec<String> {
        v.iter().map(|i| format!("C{i}")).collect()
    }

    #[test]
    fn every_party_gets_the_shared_rows_in_one_order() {
        let bank = ids(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let tax = ids(&[8, 7, 6, 5, 4, 3, 20, 21]);
        let telco = ids(&[30, 2, 3, 4, 5, 6, 7]);
        let roles = Roles::new(4, 0, Some(3)).unwrap();
        assert_eq!(roles.features, vec![1, 2]);
        let inputs = [bank.clone(), tax.clone(), telco.clone(), Vec::new()];
        let sets = mesh(&["bank", "tax", "telco", "dealer"]);
        let out: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = sets
                .into_iter()
                .zip(&inputs)
                .map(|(mut p, ids)| {
                    let roles = roles.clone();
                    s.spawn(move || align(&mut p, &roles, ids, 2, &mut rand::rng()).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(out.iter().all(|(n, _)| *n == 5));
        assert_eq!(out[3].1, None);
        let keys = |i: usize, table: &[String]| -> Vec<String> {
            out[i]
                .1
                .as_ref()
                .unwrap()
                .iter()
                .map(|&r| table[r].clone())
                .collect()
        };
        let order = keys(0, &bank);
        assert_eq!(order, keys(1, &tax));
        assert_eq!(order, keys(2, &telco));
        assert_eq!(order, ids(&[3, 4, 5, 6, 7]));
    }

    #[test]
    fn roles_take_one_to_four_feature_holders() {
        assert!(Roles::new(3, 0, Some(2)).is_ok());
        assert!(Roles::new(6, 5, Some(0)).is_ok());
        assert!(Roles::new(2, 0, Some(1)).is_err());
        assert!(Roles::new(7, 0, Some(1)).is_err());
        assert!(Roles::new(3, 1, Some(1)).is_err());
        assert!(Roles::new(3, 3, None).is_err());
        assert_eq!(Roles::new(4, 2, Some(0)).unwrap().features, vec![1, 3]);
    }

    fn run_align(names: &[&str], inputs: &[Vec<String>], roles: &Roles, min: usize) -> Vec<String> {
        let sets = mesh(names);
        std::thread::scope(|s| {
            let hs: Vec<_> = sets
                .into_iter()
                .zip(inputs)
                .map(|(mut p, ids)| {
                    let roles = roles.clone();
                    s.spawn(move || align(&mut p, &roles, ids, min, &mut rand::rng()))
                })
                .collect();
            hs.into_iter()
                .map(|h| match h.join().unwrap() {
                    Ok((n, _)) => format!("ok: {n} rows"),
                    Err(e) => e.to_string(),
                })
                .collect()
        })
    }

    #[test]
    fn too_few_shared_rows_stop_every_party_before_the_join_is_revealed() {
        let roles = Roles::new(3, 0, Some(2)).unwrap();
        // Sets smaller than the minimum: the join stops at its hello.
        let small = [ids(&[1, 2, 3]), ids(&[3, 4, 5]), Vec::new()];
        // Sets large enough, one shared row: the join stops before the
        // label holder reveals any position to the feature holder.
        let large = [
            ids(&(1..=12).collect::<Vec<_>>()),
            ids(&(12..=30).collect::<Vec<_>>()),
            Vec::new(),
        ];
        for inputs in [small, large] {
            let out = run_align(&["bank", "tax", "dealer"], &inputs, &roles, 10);
            assert!(
                out[0].contains("fewer than 10 rows are shared with tax"),
                "{}",
                out[0]
            );
            assert!(
                out[1].contains("fewer than the job's minimum of 10 keys match; nothing revealed"),
                "{}",
                out[1]
            );
            assert!(out[2].contains("nothing revealed"), "{}", out[2]);
        }
    }

    #[test]
    fn too_few_rows_shared_by_all_reveal_no_position() {
        // Each join has 6 rows, the three parties share 2.
        let bank = ids(&(1..=10).collect::<Vec<_>>());
        let tax = ids(&[1, 2, 3, 4, 5, 6, 40]);
        let telco = ids(&[1, 2, 7, 8, 9, 10, 50]);
        let roles = Roles::new(4, 0, Some(3)).unwrap();
        let inputs = [bank, tax, telco, Vec::new()];
        let out = run_align(&["bank", "tax", "telco", "dealer"], &inputs, &roles, 5);
        assert!(out[0].contains("only 2 rows are shared"), "{}", out[0]);
        for o in &out[1..] {
            assert!(
                o.contains("fewer than 5 rows are shared by every data party"),
                "{o}"
            );
            assert!(!o.contains('2'), "the count travelled: {o}");
        }
        let out = run_align(&["bank", "tax", "telco", "dealer"], &inputs, &roles, 2);
        assert!(out.iter().all(|o| o == "ok: 2 rows"), "{out:?}");
    }
}
