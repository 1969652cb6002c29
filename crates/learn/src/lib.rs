//! indomain-learn: joint model training where only models leave a node.
//!
//! - [`vertical`]: logistic and linear regression between one label holder
//!   and 1 to 4 feature holders on secret-shared values, with a dealer of
//!   correlated randomness; each party ends with the weights of its own
//!   features, and joint inference where only the named receiver learns the
//!   scores.
//! - [`params`]: the hyper-parameters every party of a training job agrees
//!   on.
//! - [`agree`]: every party checks it runs the same job and that every
//!   party's input was accepted; [`align`]: rows aligned by PSI join.
//! - [`data`]: one party's CSV rows, checked before any training;
//!   standardisation; the train/test split every party derives alike.
//! - [`plain`]: the plaintext reference training (the tests' oracle), and
//!   the converged optimum by Newton's method; [`linalg`]: the small
//!   Cholesky solves both it and the bound-Newton optimizer need;
//!   [`reference`](mod@reference): a vertical job's plaintext reference on joined files.
//! - [`metrics`]: AUC, KS, accuracy, log-loss on held-out rows;
//!   [`calibration`]: the reliability table, expected calibration error,
//!   and Platt or isotonic recalibration;
//!   [`report`]: the ROC/KS/loss figure as SVG.
//! - [`binning`]: a party's local binning of its own columns (quantile,
//!   equal width, given edges, categories, missing values), shared by
//!   WOE/IV scorecards and gradient-boosted trees.
//! - [`woe`]: WOE and IV of binned features against the labels;
//!   [`scorecard`]: logistic regression on WOE columns, points tables and
//!   joint scoring; [`stability`]: the population stability index.
//! - [`tree`]: vertical gradient-boosted trees (XGBoost `hist`) with the
//!   instance space hidden, joint scoring, and the plaintext reference.
//! - [`horizontal`]: FedAvg over SecAgg+: the server learns only the sum
//!   of the clients' row-weighted models; [`fed_dp`]: with distributed
//!   differential privacy, only a noisy sum of clipped updates.
//! - [`contribution`]: the contribution report (joint vs label holder
//!   alone vs leave-one-party-out).
//! - [`pipeline`]: a whole vertical job at one party, from checked rows to
//!   its model file.
//! - [`model`]: one versioned JSON model file per party, tied to its job
//!   by a SHA-256 hash.
#![warn(missing_docs)]

pub mod agree;
pub mod align;
pub mod binning;
pub mod calibration;
pub mod contribution;
pub mod data;
pub mod error;
pub mod fed_dp;
pub mod horizontal;
pub mod horizontal_job;
pub mod linalg;
pub mod metrics;
pub mod model;
pub mod params;
pub mod pipeline;
pub mod plain;
pub mod reference;
pub mod report;
pub mod scorecard;
pub mod secure;
pub mod stability;
pub mod tree;
pub mod vertical;
pub mod woe;

pub use error::LearnError;
pub use params::{Convergence, EarlyStopping, Optimizer, Sigmoid, Task, TrainParams};
