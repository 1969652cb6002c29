//! `wan_lab gbdt`: gradient-boosted tree training (the protocol of
//! `indomain::learn::tree::train`, after alignment and local binning)
//! between a label holder and a feature holder of `--rows` generated rows
//! and `--features` features each (`--bins` bins, 32 by default), with a
//! dealer, `--trees` trees of depth `--depth`; the instance space hidden,
//! or leaked with `--leak-instance-space`. Prints each tree's time at the
//! label holder and every party's bytes.

use super::{Error, party_bytes, report, run_parties, wan_mesh};
use indomain::learn::align::Roles;
use indomain::learn::tree::{self, BinnedFeatures, FeatureShape, GbdtParams, InstanceSpace};
use indomain::ndarray::Array2;
use indomain::net::wanlab::Link;
use indomain::rand;
use std::time::Instant;

/// What `wan_lab gbdt` runs.
pub struct Setup {
    pub rows: usize,
    pub features: usize,
    pub bins: u16,
    pub trees: usize,
    pub depth: usize,
    pub leak: bool,
}

/// A generated bin index in 0..bins from a party, feature and row.
fn bin_of(party: u64, feature: u64, row: u64, bins: u16) -> u16 {
    let mut z = (party << 56) ^ (feature << 40) ^ row;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) % bins as u64) as u16
}

/// Both parties' bins and the labels (from each party's first two
/// features).
fn data(s: &Setup) -> Result<(Vec<BinnedFeatures>, Vec<f64>), Error> {
    let mut parts = Vec::new();
    for p in 0..2u64 {
        let idx = Array2::from_shape_fn((s.rows, s.features), |(r, f)| {
            bin_of(p, f as u64, r as u64, s.bins)
        });
        let shapes = vec![
            FeatureShape {
                bins: s.bins,
                missing: false,
            };
            s.features
        ];
        parts.push(BinnedFeatures::new(idx, shapes)?);
    }
    let half = s.bins as f64 / 2.0;
    let y = (0..s.rows)
        .map(|r| {
            let v = |p: usize, f: usize| parts[p].indices[[r, f]] as f64 - half;
            let z = v(0, 0) - 0.7 * v(1, 0) + 0.5 * v(0, 1) + 0.4 * v(1, 1);
            let noise = bin_of(9, 9, r as u64, 64) as f64 - 31.5;
            f64::from(z + 0.3 * noise > 0.0)
        })
        .collect();
    Ok((parts, y))
}

pub fn run(s: &Setup, link: Link) -> Result<(), Error> {
    let names = ["guest", "host", "dealer"];
    let (parts, y) = data(s)?;
    let params = GbdtParams {
        trees: s.trees,
        max_depth: s.depth,
        bins: s.bins as usize,
        instance_space: if s.leak {
            InstanceSpace::Leaked
        } else {
            InstanceSpace::Hidden
        },
        ..GbdtParams::default()
    };
    let roles = Roles::new(3, 0, Some(2))?;
    let (mut sets, relays) = wan_mesh(&names, link)?;
    let (outcomes, elapsed) = run_parties(&mut sets, |me, set| {
        let mut last = Instant::now();
        let mut per_tree = Vec::new();
        let out = tree::train(
            set,
            &roles,
            parts.get(me),
            (me == 0).then_some(&y[..]),
            &params,
            &mut |p| {
                if let tree::Progress::Tree { .. } = p {
                    per_tree.push(last.elapsed().as_secs_f64());
                    last = Instant::now();
                }
            },
            &mut rand::rng(),
        )?;
        Ok((out, per_tree))
    })?;
    let (guest, per_tree) = &outcomes[0];
    println!(
        "{} rows, {} + {} features of {} bins, {} trees of depth {}, instance space {}: seconds per tree at the label holder {:?}; {} splits in the first tree",
        s.rows,
        s.features,
        s.features,
        s.bins,
        s.trees,
        s.depth,
        params.instance_space.name(),
        per_tree
            .iter()
            .map(|t| (t * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
        guest.trees[0]
            .nodes
            .iter()
            .filter(|n| matches!(n, tree::Node::Split { .. }))
            .count()
    );
    let bytes = party_bytes(&names, &sets);
    println!("(bytes below: all three parties together)");
    report(
        &format!(
            "gradient-boosted trees, instance space {}",
            params.instance_space.name()
        ),
        s.rows,
        elapsed,
        bytes,
        &relays[0],
    );
    Ok(())
}
