//! The noise of a statistics job with differential privacy: which noise
//! each released value gets ([`DpCalibration`]) and one party's draw of it
//! in the layout of the local aggregates ([`NoiseShare`]).
//!
//! Neighbouring inputs differ by one row added to or removed from one
//! party's data. A row falls in one group and changes, in ring units:
//! - that group's count by 1;
//! - per column, its sum by at most Δ_s = ⌈B·2^f⌉ + 1, where B is the
//!   largest |x| the clip bounds allow (the encoding rounds to nearest, and
//!   the + 1 covers encoding from the value's decimal digits);
//! - per column, its sum of squares by at most ⌊Δ_s²/2^f⌋ + 1 (each party
//!   shifts its exact Σ x² back to f fractional bits, rounding once);
//! - per column of a histogram, one cell by 1.
//!
//! Each of these blocks (the count, and each column's sum, sum of squares
//! or cells) is a component of [`crate::dp::calibrate`]: it gets an equal
//! share of the job's ρ, and ρ adds up over the components of the one
//! group a row can touch (the other groups' noise is independent of it).
//! Mean and variance are computed from the noisy count and sums: post-
//! processing, free of charge.

use super::job::{Statistic, StatsJob};
use crate::AggregateError;
use crate::dp::{self, Calibrated, Component, DpSpec, sampler};
use rand::{CryptoRng, Rng};

/// The largest per-party σ a statistics job takes, in ring units: the
/// overflow checks leave 2^127·10^−9 ≈ 2^97 of the ring for noise, and 16
/// parties' noise stays below 2^4·2^88·2^5 (more than 32 σ of the sum)
/// except with probability below 10^−200.
pub const MAX_STATS_SIGMA: u128 = 1 << 88;

/// What the noise of a statistics job is, at every party (it follows from
/// the job, the spec and the number of data parties).
#[derive(Debug, Clone, PartialEq)]
pub struct DpCalibration {
    spec: DpSpec,
    parties: usize,
    honest: usize,
    frac_bits: u32,
    groups: usize,
    /// Each party's σ on a group count.
    count_sigma: u128,
    /// Each party's σ per position of a group's segment.
    segment_sigmas: Vec<u128>,
    /// The ρ the release spends.
    rho: f64,
}

/// The standard deviation of the total noise on each kind of released
/// value, in the statistic's units (all data parties' shares together).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseScale {
    /// On a group's count (rows).
    pub count: f64,
    /// On a column's sum, if the statistic has one.
    pub sum: Option<f64>,
    /// On a column's sum of squares (variance).
    pub sum_squares: Option<f64>,
    /// On a histogram cell (rows).
    pub cell: Option<f64>,
}

impl DpCalibration {
    /// The noise for `job` with `spec` among `parties` data parties (a
    /// dealer adds none and is not counted). Refuses what DP cannot take:
    /// a bad ε or δ, a statistic over values without clip bounds, bounds
    /// beyond the job's declared range |x| ≤ max_abs, a coalition of all
    /// parties, or noise beyond the ring's room.
    pub fn new(job: &StatsJob, spec: &DpSpec, parties: usize) -> Result<Self, AggregateError> {
        spec.check()?;
        let bad = |m: String| Err(AggregateError::BadParameters(m));
        let honest = spec.honest(parties)?;
        let sums = matches!(
            job.statistic,
            Statistic::Sum | Statistic::Mean | Statistic::Variance
        );
        if sums && spec.clip.is_none() {
            return bad(
                "with DP, sums, means and variances need clip bounds (--clip LO,HI): they set how much one row can change a result".into(),
            );
        }
        if let Some(clip) = spec.clip
            && clip.bound() > job.max_abs
        {
            return bad(format!(
                "clip bounds {},{} reach beyond the job's declared range |x| ≤ {}: clip within it or raise the range",
                clip.lo, clip.hi, job.max_abs
            ));
        }
        let scale = 2f64.powi(job.frac_bits as i32);
        let bound = spec.clip.map_or(0.0, |c| c.bound());
        let sum_l2 = (bound * scale).ceil() + 1.0;
        let squares_l2 = (sum_l2 * sum_l2 / scale).floor() + 1.0;
        let one = Component { l2: 1.0, dims: 1 };
        let per_column: Vec<Component> = match &job.statistic {
            Statistic::Count => Vec::new(),
            Statistic::Sum | Statistic::Mean => vec![Component {
                l2: sum_l2,
                dims: 1,
            }],
            Statistic::Variance => vec![
                Component {
                    l2: sum_l2,
                    dims: 1,
                },
                Component {
                    l2: squares_l2,
                    dims: 1,
                },
            ],
            Statistic::Histogram { .. } => vec![one],
        };
        let mut components = vec![one];
        for _ in &job.columns {
            components.extend_from_slice(&per_column);
        }
        let Calibrated { sigmas, rho } =
            dp::calibrate(&components, spec.rho(), honest, MAX_STATS_SIGMA)?;
        // Every column has the same clip bounds, hence the same σ; a
        // histogram column's cells share one σ.
        let column_sigmas = &sigmas[1..];
        let mut segment_sigmas = Vec::with_capacity(job.group_width());
        for c in 0..job.columns.len() {
            match &job.statistic {
                Statistic::Count => {}
                Statistic::Histogram { .. } => segment_sigmas.extend(std::iter::repeat_n(
                    column_sigmas[c],
                    job.statistic.per_column(),
                )),
                _ => segment_sigmas.extend_from_slice(
                    &column_sigmas[c * per_column.len()..(c + 1) * per_column.len()],
                ),
            }
        }
        Ok(DpCalibration {
            spec: *spec,
            parties,
            honest,
            frac_bits: job.frac_bits,
            groups: job.groups(),
            count_sigma: sigmas[0],
            segment_sigmas,
            rho,
        })
    }

    /// The spec it was made for.
    pub fn spec(&self) -> &DpSpec {
        &self.spec
    }

    /// The ρ (zCDP) the release spends: at most the spec's budget.
    pub fn rho(&self) -> f64 {
        self.rho
    }

    /// The ε the release achieves at the spec's δ: at most the spec's ε.
    pub fn epsilon(&self) -> f64 {
        dp::accounting::epsilon_for(self.rho, self.spec.delta)
    }

    /// The parties whose noise the guarantee rests on.
    pub fn honest(&self) -> usize {
        self.honest
    }

    /// Each party's σ on a count, in rows.
    pub fn count_sigma(&self) -> u128 {
        self.count_sigma
    }

    /// The standard deviation of the total noise (every party's share) on
    /// each kind of released value, in its own units (an upper bound: a
    /// discrete Gaussian's variance is below σ²).
    pub fn noise_scale(&self, statistic: &Statistic) -> NoiseScale {
        let total = |sigma: u128| (self.parties as f64).sqrt() * sigma as f64;
        let unit = 2f64.powi(-(self.frac_bits as i32));
        let first = self.segment_sigmas.first().copied();
        let (sum, sum_squares, cell) = match statistic {
            Statistic::Count => (None, None, None),
            Statistic::Sum | Statistic::Mean => (first.map(|s| total(s) * unit), None, None),
            Statistic::Variance => (
                first.map(|s| total(s) * unit),
                self.segment_sigmas.get(1).map(|&s| total(s) * unit),
                None,
            ),
            Statistic::Histogram { .. } => (None, None, first.map(total)),
        };
        NoiseScale {
            count: total(self.count_sigma),
            sum,
            sum_squares,
            cell,
        }
    }

    /// Each party's σ at every position of the local aggregates.
    fn sigma_at(&self, i: usize) -> u128 {
        if i < self.groups {
            return self.count_sigma;
        }
        let width = self.segment_sigmas.len().max(1);
        self.segment_sigmas
            .get((i - self.groups) % width)
            .copied()
            .unwrap_or(self.count_sigma)
    }

    /// The length of the local aggregates.
    fn len(&self) -> usize {
        self.groups * (1 + self.segment_sigmas.len())
    }
}

/// One party's noise for a statistics job: an integer in ring units for
/// every element of its local aggregates (counts first, then the groups'
/// segments), each from N_Z(0, σ²) with its position's σ, with the
/// calibration it was drawn for.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseShare {
    calibration: DpCalibration,
    values: Vec<i128>,
}

impl NoiseShare {
    /// Draws the noise with exact integer sampling.
    pub fn draw<R: Rng + CryptoRng + ?Sized>(calibration: DpCalibration, rng: &mut R) -> Self {
        let values = (0..calibration.len())
            .map(|i| sampler::discrete_gaussian(rng, calibration.sigma_at(i)))
            .collect();
        NoiseShare {
            calibration,
            values,
        }
    }

    /// What the noise was drawn for.
    pub fn calibration(&self) -> &DpCalibration {
        &self.calibration
    }

    /// The noise, in the layout of the local aggregates.
    pub fn values(&self) -> &[i128] {
        &self.values
    }

    /// Adds the noise to a share of the totals (ring Z_2^128), checking
    /// that it was drawn for this layout.
    pub(crate) fn add_to(&self, share: &mut [u128]) -> Result<(), AggregateError> {
        if share.len() != self.values.len() {
            return Err(AggregateError::BadParameters(format!(
                "the noise has {} values for {} aggregates: draw it for this job",
                self.values.len(),
                share.len()
            )));
        }
        for (s, &n) in share.iter_mut().zip(&self.values) {
            *s = s.wrapping_add(n as u128);
        }
        Ok(())
    }

    /// Data parties the calibration counted.
    pub(crate) fn parties(&self) -> usize {
        self.calibration.parties
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dp::Clip;
    use crate::stats::job::{DEFAULT_FRAC_BITS, DEFAULT_MAX_ABS};

    fn job(statistic: Statistic, columns: usize) -> StatsJob {
        StatsJob {
            statistic,
            columns: (0..columns).map(|c| format!("c{c}")).collect(),
            categories: Some(vec!["a".into(), "b".into(), "c".into()]),
            receivers: vec![0],
            min_group_size: 3,
            frac_bits: DEFAULT_FRAC_BITS,
            max_abs: DEFAULT_MAX_ABS,
        }
    }

    #[test]
    fn sums_need_bounds_inside_the_declared_range() {
        let spec = DpSpec::new(1.0);
        let err = DpCalibration::new(&job(Statistic::Mean, 1), &spec, 3).unwrap_err();
        assert!(err.to_string().contains("clip bounds"), "{err}");
        let wide = spec.with_clip(Clip::new(0.0, 2e9).unwrap());
        let err = DpCalibration::new(&job(Statistic::Sum, 1), &wide, 3).unwrap_err();
        assert!(err.to_string().contains("declared range"), "{err}");
        // Counts and histograms need none.
        assert!(DpCalibration::new(&job(Statistic::Count, 0), &spec, 3).is_ok());
        let hist = Statistic::Histogram {
            edges: vec![0.0, 1.0, 2.0],
        };
        assert!(DpCalibration::new(&job(hist, 2), &spec, 3).is_ok());
    }

    #[test]
    fn the_layout_gets_each_components_sigma() {
        let clip = Clip::new(-10.0, 100.0).unwrap();
        let spec = DpSpec::new(1.0).with_clip(clip);
        let job = job(Statistic::Variance, 2);
        let cal = DpCalibration::new(&job, &spec, 3).unwrap();
        assert!(cal.rho() <= spec.rho() && cal.epsilon() <= 1.0 + 1e-9);
        // 5 components: ρ/5 each, one honest party.
        let share = spec.rho() / 5.0;
        let expect = |l2: f64| (l2 / (2.0 * share).sqrt()).ceil() as u128;
        let sum_l2 = 100.0 * 2f64.powi(32) + 1.0;
        let sq_l2 = (sum_l2 * sum_l2 / 2f64.powi(32)).floor() + 1.0;
        assert_eq!(cal.count_sigma(), expect(1.0));
        assert_eq!(
            cal.segment_sigmas,
            vec![expect(sum_l2), expect(sq_l2), expect(sum_l2), expect(sq_l2)]
        );
        assert_eq!(cal.len(), 3 * 5);
        assert_eq!(cal.sigma_at(2), expect(1.0));
        assert_eq!(cal.sigma_at(3), expect(sum_l2));
        assert_eq!(cal.sigma_at(4 + 4 * 2), expect(sq_l2));
        let scale = cal.noise_scale(&job.statistic);
        assert!((scale.count - 3f64.sqrt() * expect(1.0) as f64).abs() < 1e-9);
        assert!(scale.sum.unwrap() > 100.0 && scale.cell.is_none());
    }

    #[test]
    fn shares_of_the_wrong_length_are_refused() {
        let spec = DpSpec::new(2.0);
        let cal = DpCalibration::new(&job(Statistic::Count, 0), &spec, 2).unwrap();
        let noise = NoiseShare::draw(cal, &mut rand::rng());
        assert_eq!(noise.values().len(), 3);
        let mut share = vec![0u128; 4];
        assert!(noise.add_to(&mut share).is_err());
        let mut share = vec![5u128; 3];
        noise.add_to(&mut share).unwrap();
        assert_eq!(share[0] as i128, 5 + noise.values()[0]);
    }
}
