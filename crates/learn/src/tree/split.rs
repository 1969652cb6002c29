//! The best split of every open node of a level, inside MPC.
//!
//! Per node, from the shared histograms of every party's features: each
//! candidate's left sums G_L, H_L (prefix sums: local), right sums
//! G_R = G − G_L, H_R = H − H_L. The XGBoost score of a candidate,
//! G_L²/(H_L + λ) + G_R²/(H_R + λ), needs a division and spans many orders
//! of magnitude (G² of a node of 10^5 rows is ~10^10), so:
//!
//! 1. **Normalisation per node.** With 4^j ≤ H + λ < 4^(j+1) (comparisons
//!    of H + λ with public powers of 4, turned into ring bits), every
//!    candidate's G is multiplied by 2^−j and H + λ by 4^−j (multipliers
//!    linear in the bits, exact truncation). The score is unchanged
//!    (Ĝ²/Â = G²/(H + λ)), Â ∈ (0, 4] and |Ĝ| is at most about
//!    2·|G|/√(H + λ).
//! 2. **Fractions compared by cross-multiplication.** Score = N/D with
//!    N = Ĝ_L²·Â_R + Ĝ_R²·Â_L and D = Â_L·Â_R > 0; candidate b beats a iff
//!    N_b·D_a > N_a·D_b, one comparison of a 2f-bit difference. Every
//!    product on the way is truncated exactly (`indomain_mpc::truncate_exact`)
//!    because its intermediates reach 2^56.
//! 3. **min_child_weight**: candidates with H_L or H_R below it get
//!    N = −2^40 (they lose to every valid candidate).
//! 4. **Argmax**: a tournament of groups of up to 32 candidates, every
//!    pair of a group compared at once, for all nodes at once
//!    ([`super::argmax`]; ties keep the earlier candidate, as the
//!    plaintext reference does).
//! 5. **Split or leaf**: split iff N*/D* − Ĝ²/Â > γ, i.e.
//!    N*·Â − D*·Ĝ² − γ·D*·Â > 0: the bit is opened to every party, then
//!    the winning index of every split node.
//!
//! Ranges (f fractional bits): exact while |G|/√(H + λ) < 2^11 for every
//! candidate, i.e. N < 2^(25 + f) and N·D < 2^62; gradients of the
//! logistic loss have |g| ≤ 1 and the label holder rescales squared-loss
//! labels by a power of two of its own.
//!
//! What each party learns: whether each node splits and the winning
//! candidate of each split (the tree structure); every other value it
//! receives is a masked opening.

use super::candidates::{all_candidates, left_sums};
use super::forest::{FeatureShape, Threshold};
use super::grow::Histograms;
use crate::LearnError;
use indomain_core::bits::{bit, pack, words};
use indomain_mpc::bits::SharedBits;
use indomain_mpc::compare::FULL_RANGE;
use indomain_mpc::{Correlations, Session, Shared};

/// N of an invalid candidate (ring units).
const INVALID: u64 = (1u64 << 40).wrapping_neg();

/// What the search needs besides the histograms.
pub(super) struct Ctx<'a> {
    /// Every rank's feature shapes.
    pub shapes: &'a [Vec<FeatureShape>],
    /// λ.
    pub lambda: f64,
    /// min_child_weight.
    pub min_child_weight: f64,
    /// This party's share of γ (as the label holder scaled it), if γ > 0.
    pub gamma: Option<u64>,
    /// The largest possible hessian sum of a node.
    pub max_hessian: f64,
}

/// One open node: its totals and, per rank, the shares of its G and H
/// histograms (`None` for a rank without features).
pub(super) struct NodeInput<'a> {
    /// Σ g over the node.
    pub g: u64,
    /// Σ h over the node.
    pub h: u64,
    /// Per rank: (G per bin, H per bin).
    pub hist: Vec<Option<(&'a Shared, &'a Shared)>>,
}

impl<'a> NodeInput<'a> {
    /// The input of a node of totals `g`, `h` (however the mode sums
    /// them) and histograms `hist`, borrowed per rank.
    pub fn new(g: u64, h: u64, hist: &'a Histograms) -> Self {
        Self {
            g,
            h,
            hist: hist
                .iter()
                .map(|x| x.as_ref().map(|(a, b)| (a, b)))
                .collect(),
        }
    }
}

/// A node's split, public to every party, with this party's shares of
/// its gain as a fraction (2f fractional bits each: truncate both, then
/// divide).
#[derive(Debug, Clone)]
pub(super) struct Decision {
    /// The owner's rank.
    pub party: usize,
    /// The split.
    pub threshold: Threshold,
    /// Share of the gain's numerator.
    pub gain_num: u64,
    /// Share of the gain's denominator (> 0).
    pub gain_den: u64,
}

/// Repeats each node's value `per` times.
fn spread(values: &[u64], per: usize) -> Vec<u64> {
    values
        .iter()
        .flat_map(|&v| std::iter::repeat_n(v, per))
        .collect()
}

fn cut(v: &Shared, at: &mut usize, len: usize) -> Shared {
    let out = Shared(v.0[*at..*at + len].to_vec());
    *at += len;
    out
}

/// The best split of every node (`None`: the node becomes a leaf): the
/// steps of the module doc, in the order their Session calls run.
pub(super) fn search<C: Correlations>(
    s: &mut Session<'_, C>,
    nodes: &[NodeInput<'_>],
    ctx: &Ctx<'_>,
) -> Result<Vec<Option<Decision>>, LearnError> {
    let cands = all_candidates(ctx.shapes);
    let (k, c) = (nodes.len(), cands.len());
    if k == 0 || c == 0 {
        return Ok(vec![None; k]);
    }
    let sums = Sums::of(nodes, ctx.shapes, c)?;
    let powers = Powers::new(ctx.lambda, ctx.max_hessian);
    let lam = s.fixed_point().encode(ctx.lambda)?;
    let below = compare(s, &sums, &powers, lam, ctx.min_child_weight)?;
    let check_weight = ctx.min_child_weight > 0.0;
    let bits = to_ring(s, below, powers.js.len() * k, k * c, check_weight)?;
    let (m_g, m_h) = multipliers(s.is_leader(), &powers, &bits.below, k);
    let norm = normalise(s, &sums, &powers, lam, &m_g, &m_h)?;
    let mut frac = fractions(s, &norm)?;
    if let Some(valid) = bits.valid {
        frac.num = mask_invalid(s, frac.num, valid)?;
    }
    let (nv, dv, iv) = tournament(s, k, c, frac.num, frac.den)?;
    let (gain, splits) = split_or_leaf(s, &nv, &dv, &norm.a_n, &frac.s_n, ctx.gamma)?;
    reveal_winners(s, &splits, &iv, &cands, &gain)
}

/// The sums the search starts from (shares, f fractional bits): per
/// candidate, nodes one after another, its left sums and right hessian
/// sum; per node, its totals.
struct Sums {
    /// Nodes.
    k: usize,
    /// Candidates per node.
    c: usize,
    /// G_L per candidate.
    gl: Vec<u64>,
    /// H_L per candidate.
    hl: Vec<u64>,
    /// H_R = H − H_L per candidate.
    hr: Vec<u64>,
    /// G per node.
    g_tot: Vec<u64>,
    /// H per node.
    h_tot: Vec<u64>,
}

impl Sums {
    /// The start of the search, local: every candidate's left sums are
    /// prefix sums of its owner's shared histograms, and its right sums
    /// the node's totals minus them.
    fn of(
        nodes: &[NodeInput<'_>],
        shapes: &[Vec<FeatureShape>],
        c: usize,
    ) -> Result<Self, LearnError> {
        let k = nodes.len();
        // Left sums of every candidate, nodes one after another.
        let mut gl = Vec::with_capacity(k * c);
        let mut hl = Vec::with_capacity(k * c);
        for node in nodes {
            for (r, shapes) in shapes.iter().enumerate() {
                if shapes.is_empty() {
                    continue;
                }
                let (hg, hh) = node.hist[r].ok_or_else(|| {
                    LearnError::Params(format!("no histogram for rank {r}, which has features"))
                })?;
                gl.extend(left_sums(shapes, hg.as_slice(), 0, u64::wrapping_add));
                hl.extend(left_sums(shapes, hh.as_slice(), 0, u64::wrapping_add));
            }
        }
        let g_tot: Vec<u64> = nodes.iter().map(|n| n.g).collect();
        let h_tot: Vec<u64> = nodes.iter().map(|n| n.h).collect();
        let hr: Vec<u64> = spread(&h_tot, c)
            .iter()
            .zip(&hl)
            .map(|(h, l)| h.wrapping_sub(*l))
            .collect();
        Ok(Self {
            k,
            c,
            gl,
            hl,
            hr,
            g_tot,
            h_tot,
        })
    }
}

/// The public powers of 4 of step 1: H + λ of every node lies in
/// [4^j_min, 4^j_max) and is compared with 4^j for every j of `js`.
struct Powers {
    /// ⌊log₄ λ⌋.
    j_min: i32,
    /// ⌊log₄(max H + λ)⌋ + 1 (at least j_min + 1).
    j_max: i32,
    /// j_min < j < j_max.
    js: Vec<i32>,
}

impl Powers {
    fn new(lambda: f64, max_hessian: f64) -> Self {
        let j_min = lambda.log(4.0).floor() as i32;
        let j_max = ((max_hessian + lambda).log(4.0).floor() as i32 + 1).max(j_min + 1);
        let js: Vec<i32> = (j_min + 1..j_max).collect();
        Self { j_min, j_max, js }
    }
}

/// Steps 1 and 3, the comparisons: [H + λ < 4^j] per j and node (j
/// first) and, with a minimum child weight w, [H_L < w] then [H_R < w]
/// per candidate, as packed bits. One call for both steps, so that they
/// share its rounds.
fn compare<C: Correlations>(
    s: &mut Session<'_, C>,
    sums: &Sums,
    powers: &Powers,
    lam: u64,
    min_child_weight: f64,
) -> Result<SharedBits, LearnError> {
    let fp = s.fixed_point();
    let f = fp.frac_bits();
    let leader = s.is_leader();
    let bound = ((2 * powers.j_max) as u32 + f + 2).min(FULL_RANGE);
    let mut probe = Vec::new();
    for &j in &powers.js {
        let t = 1u64 << (2 * j + f as i32);
        for &h in &sums.h_tot {
            probe.push(h.wrapping_add(if leader { lam.wrapping_sub(t) } else { 0 }));
        }
    }
    if min_child_weight > 0.0 {
        let w = fp.encode(min_child_weight)?;
        for v in sums.hl.iter().chain(&sums.hr) {
            probe.push(v.wrapping_sub(if leader { w } else { 0 }));
        }
    }
    Ok(s.less_than_zero_bits(&Shared(probe), bound)?)
}

/// [`compare`]'s bits as ring shares.
struct RingBits {
    /// [H + λ < 4^j] per j and node (j first).
    below: Vec<u64>,
    /// 1 − invalid per candidate, with a minimum child weight.
    valid: Option<Vec<u64>>,
}

/// Steps 1 and 3, the bits into the ring, in one conversion: the
/// `norm_len` normalisation bits and, with a minimum child weight
/// (`check_weight`), each of the `kc` candidates' validity.
fn to_ring<C: Correlations>(
    s: &mut Session<'_, C>,
    below: SharedBits,
    norm_len: usize,
    kc: usize,
    check_weight: bool,
) -> Result<RingBits, LearnError> {
    let leader = s.is_leader();
    let mut bits = below.words;
    // Validity: invalid = [H_L < w] ∨ [H_R < w] (a ∨ b = a ⊕ b ⊕ ab);
    // the packed bits of the two halves are realigned to words first.
    let ring_bits = if check_weight {
        let plane = |start: usize, len: usize| pack((0..len).map(|e| bit(&bits, start + e)));
        let norm = plane(0, norm_len);
        let lt_l = plane(norm_len, kc);
        let lt_r = plane(norm_len + kc, kc);
        let both = s.and_bits(&lt_l, &lt_r)?;
        let invalid: Vec<u64> = lt_l
            .iter()
            .zip(&lt_r)
            .zip(&both)
            .map(|((a, b), ab)| a ^ b ^ ab)
            .collect();
        let mut padded = norm;
        padded.resize(words(norm_len), 0);
        padded.extend(invalid);
        s.bits_to_ring(&SharedBits::new(
            padded,
            64 * words(norm_len) + 64 * words(kc),
        )?)?
    } else {
        bits.truncate(words(norm_len));
        s.bits_to_ring(&SharedBits::new(bits, 64 * words(norm_len))?)?
    };
    let valid: Option<Vec<u64>> = check_weight.then(|| {
        let inv = &ring_bits.0[64 * words(norm_len)..64 * words(norm_len) + kc];
        inv.iter()
            .map(|&x| (leader as u64).wrapping_sub(x))
            .collect()
    });
    let mut below = ring_bits.0;
    below.truncate(norm_len);
    Ok(RingBits { below, valid })
}

/// Step 1, the multipliers of every node, local: linear in the ring
/// bits `below` ([H + λ < 4^j], j first), so no multiplication.
fn multipliers(leader: bool, powers: &Powers, below: &[u64], k: usize) -> (Vec<u64>, Vec<u64>) {
    let (j_min, j_max) = (powers.j_min, powers.j_max);
    // M_G = 2^(J−j*), M_H = 4^(J−j*) with J = j_max − 1 … from the bits:
    // start at j* = j_min and lower the exponent once per c_j = 1.
    let top = (j_max - j_min - 1) as u32;
    let mut m_g: Vec<u64> = vec![if leader { 1u64 << top } else { 0 }; k];
    let mut m_h: Vec<u64> = vec![if leader { 1u64 << (2 * top) } else { 0 }; k];
    for (i, &j) in powers.js.iter().enumerate() {
        let e = (j_max - 1 - j) as u32;
        for node in 0..k {
            // c_j = 1 − below.
            let below = below[i * k + node];
            let cj = (leader as u64).wrapping_sub(below);
            m_g[node] = m_g[node].wrapping_sub(cj.wrapping_mul(1 << e));
            m_h[node] = m_h[node].wrapping_sub(cj.wrapping_mul(3u64 << (2 * e)));
        }
    }
    (m_g, m_h)
}

/// Step 1's normalised values (shares, f fractional bits).
struct Normalised {
    /// Ĝ_L per candidate.
    g_l: Shared,
    /// Ĝ_R per candidate.
    g_r: Shared,
    /// Â_L per candidate.
    a_l: Shared,
    /// Â_R per candidate.
    a_r: Shared,
    /// Ĝ per node.
    g_n: Shared,
    /// Â per node.
    a_n: Shared,
}

/// Step 1, the normalisation: every product by the multipliers in one
/// multiplication and one exact truncation; the right values follow
/// locally.
fn normalise<C: Correlations>(
    s: &mut Session<'_, C>,
    sums: &Sums,
    powers: &Powers,
    lam: u64,
    m_g: &[u64],
    m_h: &[u64],
) -> Result<Normalised, LearnError> {
    let (k, c) = (sums.k, sums.c);
    let leader = s.is_leader();
    // Normalised values: Ĝ = G·M_G/2^(J), Â = (H + λ)·M_H/4^(J), with
    // J = j_max − 1; every product truncated by 2J in one call (the G
    // products scaled up by 2^J first).
    let big_j = (powers.j_max - 1).max(0) as u32;
    let add_lam = |v: u64, times: u64| {
        if leader {
            v.wrapping_add(lam.wrapping_mul(times))
        } else {
            v
        }
    };
    let mut left = Vec::new();
    let mut right = Vec::new();
    left.extend_from_slice(&sums.gl);
    right.extend(spread(m_g, c));
    left.extend(sums.hl.iter().map(|&v| add_lam(v, 1)));
    right.extend(spread(m_h, c));
    left.extend_from_slice(&sums.g_tot);
    right.extend_from_slice(m_g);
    left.extend(sums.h_tot.iter().map(|&v| add_lam(v, 1)));
    right.extend_from_slice(m_h);
    left.extend(sums.h_tot.iter().map(|&v| add_lam(v, 2)));
    right.extend_from_slice(m_h);
    let mut prod = s.mul(&Shared(left), &Shared(right))?;
    let scale_g = 1u64 << big_j;
    for range in [0..k * c, 2 * k * c..2 * k * c + k] {
        for v in &mut prod.0[range] {
            *v = v.wrapping_mul(scale_g);
        }
    }
    let prod = if big_j == 0 {
        prod
    } else {
        s.truncate_exact(&prod, 2 * big_j)?
    };
    let mut at = 0;
    let g_l = cut(&prod, &mut at, k * c);
    let a_l = cut(&prod, &mut at, k * c);
    let g_n = cut(&prod, &mut at, k);
    let a_n = cut(&prod, &mut at, k);
    let a_2 = cut(&prod, &mut at, k);
    // Ĝ_R = Ĝ − Ĝ_L and Â_R = (H + 2λ)·M_H/4^J − Â_L.
    let g_r = Shared(spread(&g_n.0, c)).sub(&g_l)?;
    let a_r = Shared(spread(&a_2.0, c)).sub(&a_l)?;
    Ok(Normalised {
        g_l,
        g_r,
        a_l,
        a_r,
        g_n,
        a_n,
    })
}

/// Step 2's fractions (shares, f fractional bits).
struct Fractions {
    /// N per candidate.
    num: Shared,
    /// D per candidate.
    den: Shared,
    /// Ĝ² per node (for step 5).
    s_n: Shared,
}

/// Step 2, every candidate's score as a fraction N/D: the squares, then
/// the products, each batch one multiplication and one exact truncation.
fn fractions<C: Correlations>(
    s: &mut Session<'_, C>,
    norm: &Normalised,
) -> Result<Fractions, LearnError> {
    let f = s.fixed_point().frac_bits();
    let rank = s.rank();
    let kc = norm.g_l.len();
    let k = norm.g_n.len();
    // 2. Squares, then N and D.
    let mut sq_in = norm.g_l.0.clone();
    sq_in.extend_from_slice(norm.g_r.as_slice());
    sq_in.extend_from_slice(norm.g_n.as_slice());
    let sq = s.mul(&Shared(sq_in.clone()), &Shared(sq_in))?;
    let sq = s.truncate_exact(&sq, f)?;
    let mut at = 0;
    let s_l = cut(&sq, &mut at, kc);
    let s_r = cut(&sq, &mut at, kc);
    let s_n = cut(&sq, &mut at, k);
    // N = Ĝ_L²·Â_R + Ĝ_R²·Â_L, D = Â_L·Â_R.
    let mut x = s_l.0.clone();
    x.extend_from_slice(s_r.as_slice());
    x.extend_from_slice(norm.a_l.as_slice());
    let mut y = norm.a_r.0.clone();
    y.extend_from_slice(norm.a_l.as_slice());
    y.extend_from_slice(norm.a_r.as_slice());
    let nd = s.mul(&Shared(x), &Shared(y))?;
    let mut at = 0;
    let n1 = cut(&nd, &mut at, kc);
    let n2 = cut(&nd, &mut at, kc);
    let d = cut(&nd, &mut at, kc);
    let mut both = n1.add(&n2)?.0;
    both.extend(d.0);
    let both = s.truncate_exact(&Shared(both), f)?;
    let num = Shared(both.0[..kc].to_vec());
    let mut den = Shared(both.0[kc..].to_vec());
    den.add_public(&vec![1; kc], rank)?;
    Ok(Fractions { num, den, s_n })
}

/// Step 3, min_child_weight: one multiplication by the candidates'
/// validity bits (1 − invalid).
fn mask_invalid<C: Correlations>(
    s: &mut Session<'_, C>,
    num: Shared,
    valid: Vec<u64>,
) -> Result<Shared, LearnError> {
    let rank = s.rank();
    let kc = num.len();
    // Invalid candidates lose to every valid one:
    // N ← valid·(N + 2^40) − 2^40, which is N if valid, −2^40 if not.
    let offset = INVALID.wrapping_neg();
    let mut shifted = num;
    shifted.add_public(&vec![offset; kc], rank)?;
    let mut num = s.mul(&Shared(valid), &shifted)?;
    num.sub_public(&vec![offset; kc], rank)?;
    Ok(num)
}

/// Step 4, the argmax: every node's `c` candidates in a tournament
/// ([`super::argmax`]), each carrying its index (the leader's share) so
/// that the winner's can be opened in step 5.
fn tournament<C: Correlations>(
    s: &mut Session<'_, C>,
    k: usize,
    c: usize,
    num: Shared,
    den: Shared,
) -> Result<super::argmax::Best, LearnError> {
    let leader = s.is_leader();
    let idx: Vec<u64> = (0..k)
        .flat_map(|_| (0..c as u64).map(|i| if leader { i } else { 0 }))
        .collect();
    super::argmax::argmax(s, k, c, num.0, den.0, idx)
}

/// A node's gain over staying a leaf, N*/D* − Ĝ²/Â, as shares of a
/// fraction (2f fractional bits each).
struct Gain {
    /// N*·Â − D*·Ĝ² per node.
    num: Shared,
    /// D*·Â per node (> 0).
    den: Vec<u64>,
}

/// Step 5, split or leaf: the gain of every node's winner (`nv`/`dv`)
/// over the node as a leaf (Ĝ²/Â: `s_n`/`a_n`), and whether it beats γ,
/// the one bit per node every party learns.
fn split_or_leaf<C: Correlations>(
    s: &mut Session<'_, C>,
    nv: &[u64],
    dv: &[u64],
    a_n: &Shared,
    s_n: &Shared,
    gamma: Option<u64>,
) -> Result<(Gain, Vec<bool>), LearnError> {
    let f = s.fixed_point().frac_bits();
    let k = nv.len();
    // 5. Split or leaf: Z = N*·Â − D*·Ĝ² − γ·D*·Â > 0.
    let mut l = nv.to_vec();
    l.extend_from_slice(dv);
    l.extend_from_slice(dv);
    let mut r = a_n.0.clone();
    r.extend_from_slice(s_n.as_slice());
    r.extend_from_slice(a_n.as_slice());
    let t = s.mul(&Shared(l), &Shared(r))?;
    let (t1, rest) = t.0.split_at(k);
    let (t2, t3) = rest.split_at(k);
    let gain_num = Shared(t1.to_vec()).sub(&Shared(t2.to_vec()))?;
    let mut z = gain_num.clone();
    if let Some(gamma) = gamma {
        let t3f = s.truncate_exact(&Shared(t3.to_vec()), f)?;
        let gv = s.mul(&Shared(vec![gamma; k]), &t3f)?;
        z.sub_assign(&gv)?;
    }
    for v in z.0.iter_mut() {
        *v = v.wrapping_neg();
    }
    let split_bits = s.less_than_zero_bits(&z, FULL_RANGE)?;
    let opened = s.open_bits(&split_bits.words)?;
    let splits: Vec<bool> = (0..k)
        .map(|e| (opened[e / 64] >> (e % 64)) & 1 == 1)
        .collect();
    let gain = Gain {
        num: gain_num,
        den: t3.to_vec(),
    };
    Ok((gain, splits))
}

/// Step 5, the winners: the winning index of every split node (and only
/// of those), opened to every party, and each split's decision.
fn reveal_winners<C: Correlations>(
    s: &mut Session<'_, C>,
    splits: &[bool],
    iv: &[u64],
    cands: &[(usize, Threshold)],
    gain: &Gain,
) -> Result<Vec<Option<Decision>>, LearnError> {
    let (k, c) = (splits.len(), cands.len());
    let winners: Vec<u64> = (0..k).filter(|&e| splits[e]).map(|e| iv[e]).collect();
    let opened_idx = s.open(&Shared(winners))?;
    let mut out = Vec::with_capacity(k);
    let mut next = opened_idx.iter();
    for (e, &split) in splits.iter().enumerate() {
        if !split {
            out.push(None);
            continue;
        }
        let i = *next.next().expect("one index per split node") as usize;
        let &(party, threshold) = cands.get(i).ok_or_else(|| LearnError::Protocol {
            peer: "the computing parties".into(),
            phase: "split search",
            reason: format!("opened candidate {i} of {c}"),
        })?;
        out.push(Some(Decision {
            party,
            threshold,
            gain_num: gain.num.0[e],
            gain_den: gain.den[e],
        }));
    }
    Ok(out)
}
