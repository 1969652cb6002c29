//! indomain-learn: joint model training where only models leave a node.
//!
//! - [`vertical`]: logistic and linear regression between one label holder
//!   and 1 to 4 feature holders on secret-shared values, with a dealer of
//!   correlated randomness; each party ends with the weights of its own
//!   features, and joint inference where only the named receiver learns the
//!   scores.
//! - [`params`]: the hyper-parameters every party of a training job agrees
//!   on.
//! - [`data`]: one party's CSV rows, checked before any training;
//!   standardisation; the train/test split every party derives alike.
//! - [`plain`]: the plaintext reference training (the tests' oracle).
//! - [`metrics`]: AUC, KS, accuracy, log-loss on held-out rows.
#![warn(missing_docs)]

pub mod data;
pub mod error;
pub mod metrics;
pub mod params;
pub mod plain;
pub mod vertical;

pub use error::LearnError;
pub use params::{EarlyStopping, Task, TrainParams};
