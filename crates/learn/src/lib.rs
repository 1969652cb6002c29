//! indomain-learn: joint model training where only models leave a node.
//!
//! - [`vertical`]: logistic and linear regression between one label holder
//!   and 1 to 4 feature holders on secret-shared values, with a dealer of
//!   correlated randomness; each party ends with the weights of its own
//!   features, and joint inference where only the named receiver learns the
//!   scores.
//! - [`params`]: the hyper-parameters every party of a training job agrees
//!   on.
#![warn(missing_docs)]

pub mod error;
pub mod params;
pub mod vertical;

pub use error::LearnError;
pub use params::{EarlyStopping, Sigmoid, Task, TrainParams};
