//! Joint scoring with a trained forest: only the label holder learns the
//! scores, and no party learns another's path bits.
//!
//! Each party evaluates its own splits on its own rows: for every leaf ℓ
//! of every tree, c_r(i)[ℓ] = 1 if row i goes the way of ℓ's path at every
//! split party r owns on that path (1 if r owns none). The leaf row i
//! reaches is the one leaf where every party's c is 1, so the row's score
//! is Σ_ℓ w_ℓ·Π_r c_r(i)[ℓ]. The label holder folds its leaf weights into
//! its own vector (c_0 ∘ w), every party secret-shares its vector (seed
//! compression), the vectors are multiplied together with Beaver products
//! (one per further party), each row's products are summed locally and the
//! sums opened to the label holder only, which adds the base margin.
//!
//! What each party learns: the label holder, the scores; everybody,
//! masked Beaver openings (uniform); nothing of another party's c.
//! Every party checks first that all hold the same forest structure and
//! the same number of rows. Products come from the dealer or, for two
//! data parties without one, from the two-party generator; cost per row and
//! further party: one Beaver product per leaf of the forest.

use super::BinnedFeatures;
use super::forest::{Node, Tree};
use crate::LearnError;
use crate::align::Roles;
use indomain_core::FixedPoint;
use indomain_mpc::dealer::{self, DealerLimits};
use indomain_mpc::{Roster, Session, Shared};
use indomain_net::PartySet;
use rand::{CryptoRng, Rng};

/// The label holder's rank (the mpc layer's leader).
const LEADER: usize = 0;
use sha2::{Digest, Sha256};

/// For every leaf of a tree, the (node, goes left) steps of its path.
fn paths(tree: &Tree) -> Vec<Vec<(usize, bool)>> {
    let mut out = vec![Vec::new(); tree.leaves()];
    let mut stack = vec![(0usize, Vec::new())];
    while let Some((at, path)) = stack.pop() {
        match tree.nodes[at] {
            Node::Leaf { leaf } => out[leaf] = path,
            Node::Split { left, right, .. } => {
                let mut l = path.clone();
                l.push((at, true));
                let mut r = path;
                r.push((at, false));
                stack.push((left, l));
                stack.push((right, r));
            }
        }
    }
    out
}

/// A hash of the forest's public structure — which party splits each
/// node, the children, the leaves; not the thresholds, which only their
/// owners know — that every party compares.
fn structure_hash(trees: &[Tree]) -> [u64; 4] {
    let mut h = Sha256::new();
    for tree in trees {
        h.update((tree.nodes.len() as u64).to_le_bytes());
        for node in &tree.nodes {
            let words = match *node {
                Node::Split {
                    party, left, right, ..
                } => [0, party as u64, left as u64, right as u64],
                Node::Leaf { leaf } => [1, leaf as u64, 0, 0],
            };
            for w in words {
                h.update(w.to_le_bytes());
            }
        }
    }
    let d = h.finalize();
    let mut out = [0u64; 4];
    for (o, c) in out.iter_mut().zip(d.chunks_exact(8)) {
        *o = u64::from_le_bytes(c.try_into().expect("8 bytes"));
    }
    out
}

/// Scores rows jointly: the margins at the label holder, `None` elsewhere
/// (and at the dealer, which serves the products and returns). Every data
/// party passes its bins of the same rows (possibly without features) and
/// the forest's structure; the label holder also its leaf weights and base
/// margin.
#[allow(clippy::too_many_arguments)]
pub fn score<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    own: Option<&BinnedFeatures>,
    trees: &[Tree],
    weights: Option<(&[Vec<f64>], f64)>,
    frac_bits: u32,
    rng: &mut R,
) -> Result<Option<Vec<f64>>, LearnError> {
    roles.two_party("scoring with trees")?;
    let mut group = vec![roles.label];
    let mut features = roles.features.clone();
    features.sort_unstable();
    group.extend(features);
    if roles.dealer == Some(parties.me()) {
        dealer::serve_ordered(parties, &group, DealerLimits::default(), rng)?;
        return Ok(None);
    }
    for t in trees {
        t.check().map_err(|e| LearnError::Input(e.to_string()))?;
    }
    let own = own.ok_or_else(|| LearnError::Input("a data party needs its bins".into()))?;
    let roster = Roster::ordered(parties, group.clone(), roles.dealer)?;
    let rank = roster.rank();
    if roster.is_leader() != weights.is_some() {
        return Err(LearnError::Input(
            "the label holder, and only it, passes the leaf weights".into(),
        ));
    }
    let n = own.rows();
    // Agreement: rows and structure.
    let mut mine = vec![n as u64];
    mine.extend(structure_hash(trees));
    let lens = vec![mine.len(); group.len()];
    let all = indomain_mpc::open::exchange(parties, &group, mine.clone(), &lens)?;
    for (theirs, &index) in all.iter().zip(&group) {
        if theirs[0] != mine[0] {
            return Err(LearnError::Disagreement {
                peer: parties.name(index).to_string(),
                what: format!("it scores {} rows, this party {}", theirs[0], mine[0]),
            });
        }
        if theirs[1..] != mine[1..] {
            return Err(LearnError::Disagreement {
                peer: parties.name(index).to_string(),
                what: "its model has another tree structure (give every party the model file of the same job)".into(),
            });
        }
    }
    for tree in trees {
        for node in &tree.nodes {
            if let Node::Split {
                party, threshold, ..
            } = node
                && *party == rank
                && (threshold.feature >= own.features()
                    || threshold.bin >= own.shapes[threshold.feature].bins)
            {
                return Err(LearnError::Input(format!(
                    "the model splits on feature {} bin {} of this party, which has {} features",
                    threshold.feature,
                    threshold.bin,
                    own.features()
                )));
            }
        }
    }
    let fp = FixedPoint::new(frac_bits)?;
    let leaf_paths: Vec<Vec<Vec<(usize, bool)>>> = trees.iter().map(paths).collect();
    let total: usize = leaf_paths.iter().map(Vec::len).sum();
    if let Some((w, _)) = weights
        && (w.len() != trees.len() || w.iter().zip(trees).any(|(w, t)| w.len() != t.leaves()))
    {
        return Err(LearnError::Input(
            "the leaf weights do not match the trees".into(),
        ));
    }
    // c_r(i)[ℓ], rows outer, with the label holder's weights folded in.
    let mut c = Vec::with_capacity(n * total);
    for i in 0..n {
        for (t, tree) in trees.iter().enumerate() {
            for (leaf, path) in leaf_paths[t].iter().enumerate() {
                let consistent = path.iter().all(|&(node, left)| match tree.nodes[node] {
                    Node::Split {
                        party, threshold, ..
                    } if party == rank => own.goes_left(i, &threshold) == left,
                    _ => true,
                });
                let v = match weights {
                    Some((w, _)) if consistent => fp.encode(w[t][leaf])?,
                    None if consistent => 1,
                    _ => 0,
                };
                c.push(v);
            }
        }
    }
    let client = roles.correlations(&roster, "scoring with trees")?;
    let mut s = Session::new(parties, roster, fp, client);
    let len = n * total;
    let mut product = s.share_input(LEADER, (rank == LEADER).then_some(&c[..]), len, rng)?;
    for r in 1..group.len() {
        let theirs = s.share_input(r, (rank == r).then_some(&c[..]), len, rng)?;
        product = s.mul(&product, &theirs)?;
    }
    let sums = if total == 0 {
        Shared::zeros(n)
    } else {
        Shared(
            product
                .0
                .chunks_exact(total)
                .map(|row| row.iter().fold(0u64, |a, v| a.wrapping_add(*v)))
                .collect(),
        )
    };
    let opened = s.open_to(&sums, LEADER)?;
    s.finish()?;
    Ok(opened.map(|v| {
        let base = weights.map_or(0.0, |(_, b)| b);
        fp.decode_slice(&v).into_iter().map(|z| z + base).collect()
    }))
}
