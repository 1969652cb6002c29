//! The candidate splits of a node, in the one order every party and the
//! plaintext reference use: parties by rank, features in order, and for
//! each feature with value bins 0..V: thresholds t = 0 … V − 2 with the
//! missing-value bin right then (if the feature has one) left, and finally
//! (if it has one) all value bins left and the missing bin right.
//! Ties between equal gains go to the first candidate in this order.

use super::forest::{FeatureShape, Threshold};

/// Every candidate split of one party's features, in order.
pub fn candidates(shapes: &[FeatureShape]) -> Vec<Threshold> {
    let mut out = Vec::new();
    for (feature, s) in shapes.iter().enumerate() {
        let v = s.value_bins();
        for bin in 0..v.saturating_sub(1) {
            out.push(Threshold {
                feature,
                bin,
                missing_left: false,
            });
            if s.missing {
                out.push(Threshold {
                    feature,
                    bin,
                    missing_left: true,
                });
            }
        }
        if s.missing && v >= 1 {
            out.push(Threshold {
                feature,
                bin: v - 1,
                missing_left: false,
            });
        }
    }
    out
}

/// Every candidate of the job, in the global order: (rank, split).
pub fn all_candidates(shapes: &[Vec<FeatureShape>]) -> Vec<(usize, Threshold)> {
    shapes
        .iter()
        .enumerate()
        .flat_map(|(rank, s)| candidates(s).into_iter().map(move |c| (rank, c)))
        .collect()
}

/// The left child's sum of each candidate, from per-bin sums `hist` of one
/// party's features (features side by side), with the ring's wrapping
/// addition (`add`) or real addition.
pub fn left_sums<T: Copy>(
    shapes: &[FeatureShape],
    hist: &[T],
    zero: T,
    add: impl Fn(T, T) -> T,
) -> Vec<T> {
    let mut out = Vec::new();
    let mut offset = 0;
    for s in shapes {
        let v = s.value_bins() as usize;
        let bins = &hist[offset..offset + s.bins as usize];
        let missing = s.missing.then(|| bins[v]);
        let mut prefix = zero;
        for (t, &b) in bins.iter().enumerate().take(v) {
            prefix = add(prefix, b);
            if t + 1 < v {
                out.push(prefix);
                if let Some(m) = missing {
                    out.push(add(prefix, m));
                }
            } else if missing.is_some() {
                out.push(prefix);
            }
        }
        offset += s.bins as usize;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_and_their_left_sums_line_up() {
        let shapes = [
            FeatureShape {
                bins: 4,
                missing: false,
            },
            FeatureShape {
                bins: 3,
                missing: true,
            },
            FeatureShape {
                bins: 1,
                missing: false,
            },
        ];
        let c = candidates(&shapes);
        // Feature 0: t = 0, 1, 2. Feature 1 (value bins 0, 1; missing 2):
        // (0, right), (0, left), (1, right). Feature 2: none.
        assert_eq!(c.len(), 3 + 3);
        let hist = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];
        let sums = left_sums(&shapes, &hist, 0.0, |a, b| a + b);
        assert_eq!(sums, vec![1.0, 3.0, 7.0, 16.0, 80.0, 48.0]);
        // Every candidate's left sum is the sum over the bins it sends left.
        let offsets = [0usize, 4, 7];
        for (cand, sum) in c.iter().zip(&sums) {
            let s = shapes[cand.feature];
            let direct: f64 = (0..s.bins)
                .filter(|&b| cand.goes_left(b, s))
                .map(|b| hist[offsets[cand.feature] + b as usize])
                .sum();
            assert_eq!(direct, *sum, "{cand:?}");
        }
    }
}
