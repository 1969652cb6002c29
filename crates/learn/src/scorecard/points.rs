//! The points table of a scorecard, in the clear: from logistic-regression
//! weights on WOE columns to points per bin.
//!
//! With z = b + Σ_j w_j·WOE_j the model's log-odds of an event (label 1,
//! "bad"), the odds of a non-event are e^(−z) and the score is
//! offset + factor · ln(odds) = offset − factor · z, where
//! factor = PDO / ln 2 (the points that double the odds) and
//! offset = base − factor · ln(base odds) (the score at the base odds).
//! Spread over the m features of the card, the points of bin i of feature
//! j are −(w_j · WOE_ij + b/m) · factor + offset/m, so that a row's score
//! is the sum of its bins' points.

use crate::LearnError;
use serde::{Deserialize, Serialize};

/// The scale of a scorecard.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    /// The score at the base odds (600).
    pub base_score: f64,
    /// Points to double the odds (20).
    pub pdo: f64,
    /// Odds of a non-event to an event at the base score (50, i.e. 50:1).
    pub base_odds: f64,
}

impl Default for Scale {
    fn default() -> Self {
        Self {
            base_score: 600.0,
            pdo: 20.0,
            base_odds: 50.0,
        }
    }
}

impl Scale {
    /// Refuses a scale that is not finite or has PDO or odds ≤ 0.
    pub fn check(&self) -> Result<(), LearnError> {
        if !(self.base_score.is_finite()
            && self.base_score.abs() <= 1e6
            && self.pdo.is_finite()
            && self.pdo > 0.0
            && self.pdo <= 1e4
            && self.base_odds.is_finite()
            && self.base_odds > 0.0)
        {
            return Err(LearnError::Params(format!(
                "scorecard scale: base score {}, PDO {}, odds {}: give a finite base score, PDO > 0 and odds > 0",
                self.base_score, self.pdo, self.base_odds
            )));
        }
        Ok(())
    }

    /// PDO / ln 2.
    pub fn factor(&self) -> f64 {
        self.pdo / std::f64::consts::LN_2
    }

    /// base − factor · ln(base odds).
    pub fn offset(&self) -> f64 {
        self.base_score - self.factor() * self.base_odds.ln()
    }

    /// The score of a row with log-odds of an event `z`.
    pub fn score(&self, z: f64) -> f64 {
        self.offset() - self.factor() * z
    }

    /// The points of each bin of a feature with weight `weight` and bins'
    /// WOE `woe`, on a card of `features` features with intercept
    /// `intercept`.
    pub fn points(&self, weight: f64, woe: &[f64], intercept: f64, features: usize) -> Vec<f64> {
        let m = features.max(1) as f64;
        woe.iter()
            .map(|w| -(weight * w + intercept / m) * self.factor() + self.offset() / m)
            .collect()
    }
}

/// One line of the readable points table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointsRow {
    /// The party that holds the feature.
    pub party: String,
    /// The feature.
    pub feature: String,
    /// The bin: its label at the owner (`[1.5, 3)`), an anonymous id
    /// (`bin 3`) elsewhere.
    pub bin: String,
    /// The bin's WOE.
    pub woe: f64,
    /// The bin's points.
    pub points: f64,
}

/// The points table as CSV text: a header, one line per bin, then the
/// scale in comment-free trailing lines a spreadsheet reads as data.
pub fn points_csv(rows: &[PointsRow], scale: &Scale) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from("party,feature,bin,woe,points\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{:.6},{:.2}\n",
            quote(&r.party),
            quote(&r.feature),
            quote(&r.bin),
            r.woe,
            r.points
        ));
    }
    out.push_str(&format!(
        "scale,base score,{},odds {}:1,PDO {}\n",
        scale.base_score, scale.base_odds, scale.pdo
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_add_up_to_the_score() {
        let scale = Scale::default();
        assert!((scale.factor() - 28.853_900_817_779_27).abs() < 1e-9);
        assert!((scale.offset() - (600.0 - 28.853_900_817_779_27 * 50f64.ln())).abs() < 1e-9);
        // At the base odds the score is the base score; doubling the odds
        // adds PDO.
        assert!((scale.score(-(50f64.ln())) - 600.0).abs() < 1e-9);
        assert!((scale.score(-(100f64.ln())) - 620.0).abs() < 1e-9);
        let (w, b) = ([0.8, 1.1], -1.3);
        let woe = [vec![-0.5, 0.1, 0.7], vec![0.3, -0.2]];
        let pts: Vec<Vec<f64>> = (0..2).map(|j| scale.points(w[j], &woe[j], b, 2)).collect();
        let z = b + w[0] * woe[0][2] + w[1] * woe[1][0];
        assert!((pts[0][2] + pts[1][0] - scale.score(z)).abs() < 1e-9);
        assert!(Scale { pdo: 0.0, ..scale }.check().is_err());
    }

    #[test]
    fn the_table_is_csv() {
        let csv = points_csv(
            &[PointsRow {
                party: "bank".into(),
                feature: "age".into(),
                bin: "[18, 25)".into(),
                woe: 0.25,
                points: 41.234,
            }],
            &Scale::default(),
        );
        assert!(
            csv.starts_with("party,feature,bin,woe,points\nbank,age,\"[18, 25)\",0.250000,41.23\n")
        );
    }
}
