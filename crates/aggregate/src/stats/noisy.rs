//! Statistics with differential privacy: the protocol of
//! [`super::protocol`] with each party's values clipped to the job's bounds
//! and its share of discrete Gaussian noise ([`super::noise`]) added to its
//! share of the totals before anything is opened or compared.
//!
//! What each party learns, beyond [`super`]'s description:
//! - every **receiver** learns, for each released group, the noisy count
//!   and the noisy column sums (sum, mean), sums and sums of squares
//!   (variance) or noisy bin counts (histogram); mean and variance are
//!   computed from these. With [`CountDecision::NoisyCounts`] the first
//!   receiver also learns the noisy counts of suppressed groups, and the
//!   other receivers those of the candidates;
//! - **every data party** learns which groups and cells were released —
//!   decided on noisy counts, so the decision is covered too;
//! - what is opened is ρ-zCDP ([`DpCalibration::rho`]) in any one row of
//!   any party, even to a receiver that knows the noise of every data
//!   party of the spec's coalition (by default all but one), so two
//!   overlapping jobs cannot be subtracted to single a row out beyond what
//!   their two ρ allow together;
//! - not covered: that the job ran and which groups exist (public
//!   categories), and an abort for a reason local to a party (a value that
//!   is not a number, a row beyond the comparison's limit).

use super::StatsResult;
use super::job::{LocalData, StatsJob};
use super::noise::{DpCalibration, NoiseShare};
use super::protocol::{CountDecision, Phase, run_job};
use crate::AggregateError;
use crate::dp::DpSpec;
use indomain_net::PartySet;
use rand::{CryptoRng, Rng};

/// Runs a statistics job with differential privacy as data party
/// `parties.me()`: calibrates the noise for the job's data parties
/// ([`DpCalibration::new`], which refuses a bad spec before anything is
/// read or sent), draws this party's share and runs
/// [`run_statistics_noised`]. `decision` is [`CountDecision::NoisyCounts`]
/// or [`CountDecision::Compared`] (on the noisy counts).
///
/// Returns the noisy result at the receivers and `None` at every other
/// party; `progress` is called as each phase starts.
pub fn run_statistics_dp<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    job: &StatsJob,
    data: &LocalData,
    decision: CountDecision,
    spec: &DpSpec,
    rng: &mut R,
    progress: &mut dyn FnMut(Phase),
) -> Result<Option<StatsResult>, AggregateError> {
    let data_parties = decision.data_parties(parties.len());
    let calibration = DpCalibration::new(job, spec, data_parties)?;
    let noise = NoiseShare::draw(calibration, rng);
    run_statistics_noised(parties, job, data, decision, &noise, rng, progress)
}

/// [`run_statistics_dp`] with this party's noise share drawn by the caller
/// ([`NoiseShare::draw`]), so that the caller knows it: what tests and
/// audits use to check that the opened result is the exact one plus the
/// parties' noise. A party that adds less noise than drawn weakens only
/// the guarantee of the coalition it belongs to.
pub fn run_statistics_noised<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    job: &StatsJob,
    data: &LocalData,
    decision: CountDecision,
    noise: &NoiseShare,
    rng: &mut R,
    progress: &mut dyn FnMut(Phase),
) -> Result<Option<StatsResult>, AggregateError> {
    run_job(parties, job, data, decision, Some(noise), rng, progress)
}

/// Each party's σ on counts, at most, in a job decided by comparison: 16
/// parties' noise stays below 2^37 (over 30 σ of the total) so that counts
/// stay within the comparison's 40 bits.
const MAX_COMPARED_COUNT_SIGMA: u128 = 1 << 30;

/// Checks that the decision suits the job's DP (or its absence) and that
/// the noise was drawn for `data_parties` parties.
pub(super) fn check_noise(
    decision: CountDecision,
    noise: Option<&NoiseShare>,
    data_parties: usize,
) -> Result<(), AggregateError> {
    let bad = |m: &str| Err(AggregateError::BadParameters(m.to_string()));
    match (decision, noise) {
        (CountDecision::NoisyCounts, None) => {
            bad("the noisy-count decision needs differential privacy (a DP spec)")
        }
        (CountDecision::OpenedToDecider, Some(_)) => bad(
            "with differential privacy, decide on the noisy counts (CountDecision::NoisyCounts) or by comparison with a dealer: opening exact counts would bypass the noise",
        ),
        (_, Some(n)) if n.parties() != data_parties => Err(AggregateError::BadParameters(format!(
            "the noise was calibrated for {} data parties, the job has {data_parties}",
            n.parties()
        ))),
        (CountDecision::Compared { .. }, Some(n))
            if n.calibration().count_sigma() > MAX_COMPARED_COUNT_SIGMA =>
        {
            bad(
                "the count noise this epsilon needs is too large for the secure comparison (40-bit counts): use a larger epsilon or the noisy-count decision",
            )
        }
        _ => Ok(()),
    }
}
