//! VOLE/OKVS PSI (Raghuraman–Rindal 2022).

use crate::{Items, Job, Outcome, Progress, PsiError};
use indomain_net::Channel;
use rand::CryptoRng;

/// Runs the receiver's side of `job` on `items` (distinct keys).
pub fn receiver<C, R>(
    _ch: &mut C,
    _job: &Job,
    _items: &Items,
    _rng: &mut R,
    _progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    Err(PsiError::Job("rr22 is not built yet".into()))
}

/// Runs the sender's side of `job` on `items` (distinct keys).
pub fn sender<C, R>(
    _ch: &mut C,
    _job: &Job,
    _items: &Items,
    _rng: &mut R,
    _progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    Err(PsiError::Job("rr22 is not built yet".into()))
}
