//! The SecAgg+ neighbourhood size k and threshold t for a stated threat,
//! following the parameter bounds of Bell et al. (CCS 2020, §4 and the
//! parameter finder of its reference implementation):
//!
//! - **security**: the honest clients that survive stay connected in the
//!   random Harary graph (cutting it needs k/2 consecutive bad clients in
//!   two places; union bound over the pairs of places), and no client has t
//!   or more corrupt neighbours (hypergeometric tail), each with
//!   probability at least 1 − 2^−41, so 1 − 2^−40 in all;
//! - **correctness**: every client keeps at least t surviving neighbours,
//!   except with probability 2^−20 over the round.
//!
//! Corrupt and dropped clients are counted as ⌊γn⌋ and ⌊δn⌋. The smallest
//! even k with a threshold in range is chosen, and t is the smallest
//! threshold above the corrupt bound. Against a semi-malicious server (one
//! that may send different survivor lists to different clients) t must
//! also keep 2t − k above the corrupt neighbours, as in the paper. Ours
//! adds one rule the paper leaves out: t > k/2 always (a server that lies
//! about survivors then never gets both secrets of a client from honest
//! neighbours alone).

use crate::AggregateError;

/// Bits of statistical security (privacy) of the chosen parameters.
pub const SECURITY_BITS: f64 = 40.0;
/// Bits of correctness: a round fails for lack of shares with probability
/// at most 2^−20.
pub const CORRECTNESS_BITS: f64 = 20.0;

/// What the server may do beyond following the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerModel {
    /// Follows the protocol, learns what it can (honest but curious).
    SemiHonest,
    /// May send different survivor lists to different clients.
    SemiMalicious,
}

/// The threat a round's parameters are chosen for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threat {
    /// Fraction γ of clients that may be corrupt and collude with the server.
    pub corrupt: f64,
    /// Fraction δ of clients that may drop out during the round.
    pub dropout: f64,
    /// The server's behaviour.
    pub server: ServerModel,
}

impl Threat {
    /// The default: a semi-honest server colluding with up to 10 % of the
    /// clients, and up to 10 % dropouts.
    pub const DEFAULT: Threat = Threat {
        corrupt: 0.1,
        dropout: 0.1,
        server: ServerModel::SemiHonest,
    };
}

impl std::fmt::Display for Threat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} server, up to {:.0} % corrupt clients, up to {:.0} % dropouts, 2^-{} security, 2^-{} failure",
            match self.server {
                ServerModel::SemiHonest => "semi-honest",
                ServerModel::SemiMalicious => "semi-malicious",
            },
            self.corrupt * 100.0,
            self.dropout * 100.0,
            SECURITY_BITS,
            CORRECTNESS_BITS
        )
    }
}

/// ln(i!) for i = 0..=n.
fn log_factorials(n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n + 1);
    let mut acc = 0.0;
    out.push(0.0);
    for i in 1..=n {
        acc += (i as f64).ln();
        out.push(acc);
    }
    out
}

/// The hypergeometric law of the number of marked clients among k drawn
/// from n of which m are marked.
struct Hypergeometric<'a> {
    lf: &'a [f64],
    n: usize,
    m: usize,
    k: usize,
}

impl Hypergeometric<'_> {
    fn ln_choose(&self, a: usize, b: usize) -> f64 {
        self.lf[a] - self.lf[b] - self.lf[a - b]
    }

    fn pmf(&self, x: usize) -> f64 {
        let (n, m, k) = (self.n, self.m, self.k);
        if x > m || x > k || k - x > n - m {
            return 0.0;
        }
        (self.ln_choose(m, x) + self.ln_choose(n - m, k - x) - self.ln_choose(n, k)).exp()
    }

    /// The smallest a with P[X > a] ≤ p.
    fn upper_quantile(&self, p: f64) -> usize {
        let mut tail = 0.0;
        for a in (0..=self.k).rev() {
            tail += self.pmf(a);
            if tail > p {
                return a;
            }
        }
        0
    }

    /// The largest s with P[X < s] ≤ p.
    fn lower_quantile(&self, p: f64) -> usize {
        let mut below = 0.0;
        for s in 0..=self.k {
            below += self.pmf(s);
            if below > p {
                return s;
            }
        }
        self.k
    }
}

/// ln of a bound on the probability that the survivors' graph falls apart.
fn ln_disconnected(lf: &[f64], n: usize, k: usize, bad: usize) -> f64 {
    if k > bad {
        return f64::NEG_INFINITY;
    }
    let pairs = (n as f64).ln() + ((n - k - 1) as f64).ln() - 2f64.ln();
    pairs + lf[bad] + lf[n - k] - lf[n] - lf[bad - k]
}

/// The neighbourhood size k and threshold t for `n` clients under
/// `threat`: the complete graph (k = n − 1) when no smaller k qualifies.
pub fn neighbourhood(n: usize, threat: &Threat) -> Result<(usize, usize), AggregateError> {
    let bad = |m: String| Err(AggregateError::BadParameters(m));
    let (gamma, delta) = (threat.corrupt, threat.dropout);
    if !((0.0..1.0).contains(&gamma) && (0.0..1.0).contains(&delta)) {
        return bad(format!(
            "the corrupt fraction {gamma} and dropout rate {delta} must be in [0, 1)"
        ));
    }
    let load = match threat.server {
        ServerModel::SemiHonest => gamma + delta,
        ServerModel::SemiMalicious => gamma + 2.0 * delta,
    };
    if load > 0.9 {
        return bad(format!(
            "no parameters protect against {threat}: the bad fraction must stay at most 0.9"
        ));
    }
    if n < 2 {
        return bad(format!("a round needs at least 2 clients, not {n}"));
    }
    let lf = log_factorials(n);
    // Slightly above the real fractions, so rounding never helps the adversary.
    let corrupt = ((gamma + 1e-14) * n as f64).floor() as usize;
    let dropped = ((delta + 1e-14) * n as f64).floor() as usize;
    let survivors = n - dropped;
    let security = 2f64.powf(-(SECURITY_BITS + 1.0));
    let correctness = 2f64.powf(-CORRECTNESS_BITS) / n as f64;
    let threshold_for = |k: usize| -> Option<usize> {
        let complete = k == n - 1;
        if !complete && ln_disconnected(&lf, n, k, corrupt + dropped) >= security.ln() {
            return None;
        }
        let adversarial = Hypergeometric {
            lf: &lf,
            n,
            m: corrupt,
            k,
        };
        let alive = Hypergeometric {
            lf: &lf,
            n,
            m: survivors,
            k,
        };
        let mut t1 = adversarial.upper_quantile(security / n as f64);
        let t2 = alive.lower_quantile(correctness);
        if threat.server == ServerModel::SemiMalicious {
            // 2t − k must exceed the corrupt neighbours: t > (t1 + k)/2.
            t1 = (t1 + k).div_ceil(2);
        }
        let t = (t1 + 1).max(k / 2 + 1).max(2);
        (t <= t2.max(if complete { survivors.min(k) } else { 0 }) && t <= k).then_some(t)
    };
    for k in (2..n.saturating_sub(1)).step_by(2) {
        if let Some(t) = threshold_for(k) {
            return Ok((k, t));
        }
    }
    match threshold_for(n - 1) {
        Some(t) => Ok((n - 1, t)),
        None => bad(format!(
            "{n} clients are too few to protect against {threat}: no threshold fits"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_grow_with_the_threat_and_respect_the_bounds() {
        let weak = Threat {
            corrupt: 0.05,
            dropout: 0.05,
            server: ServerModel::SemiHonest,
        };
        let (k_weak, t_weak) = neighbourhood(10_000, &weak).unwrap();
        let (k_def, t_def) = neighbourhood(10_000, &Threat::DEFAULT).unwrap();
        let strong = Threat {
            corrupt: 0.3,
            ..Threat::DEFAULT
        };
        let (k_strong, t_strong) = neighbourhood(10_000, &strong).unwrap();
        assert!(
            k_weak <= k_def && k_def < k_strong,
            "{k_weak} {k_def} {k_strong}"
        );
        for (k, t) in [(k_weak, t_weak), (k_def, t_def), (k_strong, t_strong)] {
            assert!(k % 2 == 0 && t > k / 2 && t <= k, "k {k} t {t}");
        }
        // The old default (k = 2⌈log2 n⌉ = 28, t = 15) is too small here.
        assert!(k_def > 28);
        let malicious = Threat {
            server: ServerModel::SemiMalicious,
            ..Threat::DEFAULT
        };
        let (k_mal, t_mal) = neighbourhood(10_000, &malicious).unwrap();
        assert!(k_mal >= k_def && t_mal > t_def / 2);
        assert!(
            neighbourhood(
                1000,
                &Threat {
                    corrupt: 0.5,
                    dropout: 0.5,
                    ..weak
                }
            )
            .is_err()
        );
    }

    #[test]
    fn tiny_rounds_fall_back_to_the_complete_graph() {
        let (k, t) = neighbourhood(10, &Threat::DEFAULT).unwrap();
        assert!(k % 2 == 0 && t > k / 2 && t <= k);
        // 4 clients, one corrupt and one dropping: only the complete graph.
        let threat = Threat {
            corrupt: 0.25,
            dropout: 0.25,
            server: ServerModel::SemiHonest,
        };
        assert_eq!(neighbourhood(4, &threat).unwrap(), (3, 2));
    }

    #[test]
    fn the_default_threat_has_parameters_for_every_round_size() {
        for n in (17..=700).chain([1000, 4096, 9999, 10_000]) {
            let (k, t) = neighbourhood(n, &Threat::DEFAULT).unwrap();
            assert!(k < n && t > k / 2 && t <= k, "n {n}: k {k} t {t}");
        }
    }

    #[test]
    fn hypergeometric_quantiles_match_hand_computation() {
        let lf = log_factorials(40);
        // 4 marked among 40, 8 drawn: at most 4 marked.
        let h = Hypergeometric {
            lf: &lf,
            n: 40,
            m: 4,
            k: 8,
        };
        assert_eq!(h.upper_quantile(0.0), 4);
        let total: f64 = (0..=8).map(|x| h.pmf(x)).sum();
        assert!((total - 1.0).abs() < 1e-12);
        // 36 alive among 40, 8 drawn: at least 4 alive; P[X = 4] ≈ 7.7e-4.
        let a = Hypergeometric {
            lf: &lf,
            n: 40,
            m: 36,
            k: 8,
        };
        assert_eq!(a.lower_quantile(1e-6), 4);
        assert_eq!(a.lower_quantile(1e-3), 5);
    }
}
