//! Scorecards: logistic regression on WOE columns turned into a points
//! table, trained and scored jointly.
//!
//! - [`points`]: the points table in the clear (base score, points to
//!   double the odds, odds at the base score; 600 / 20 / 50:1 by default)
//!   and its CSV.
//! - [`train`]: logistic regression on WOE columns that no party holds in
//!   the clear (one-hot bins times shared WOE), ending with shared points.
//! - [`score`]: joint scoring, the sum of a row's points opened to the
//!   label holder only.
//!
//! Each module says what each party learns.

pub mod points;
pub mod score;
pub mod train;

pub use points::{PointsRow, Scale, points_csv};
