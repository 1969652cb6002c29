//! What the flags of `indomain train` mean for the trainers: the
//! parameters of vertical, scorecard and FedAvg training, the DP
//! parameters of a horizontal job, the CSV layout, time limits and the
//! progress display, with combinations that make no sense refused.
//!
//! What each party learns: nothing from this file — it reads one party's
//! own flags and adds nothing to what the protocols reveal.

use super::args::{Args, OptimizerArg, RecalibrateArg, SigmoidArg, TaskArg};
use crate::cli::arg_error::ArgError;
use indicatif::ProgressBar;
use indomain_learn::calibration::Method;
use indomain_learn::data::CsvSpec;
use indomain_learn::fed_dp::FedDp;
use indomain_learn::{Convergence, EarlyStopping, Optimizer, Sigmoid, Task, TrainParams};
use indomain_net::Limits;

impl Args {
    /// The vertical training parameters.
    pub(super) fn params(&self) -> TrainParams {
        let defaults = TrainParams::default();
        let early_stopping = self.early_stopping.map(|patience| EarlyStopping {
            validation_fraction: self.validation_fraction,
            patience,
        });
        TrainParams {
            task: self.task(),
            epochs: self.epochs.unwrap_or(defaults.epochs),
            learning_rate: self.learning_rate.unwrap_or(defaults.learning_rate),
            l2: self.l2,
            batch_size: self.batch_size,
            early_stopping,
            frac_bits: self.frac_bits,
            seed: self.seed,
            sigmoid: match self.sigmoid {
                SigmoidArg::Fourier => Sigmoid::Fourier,
                SigmoidArg::Linear => Sigmoid::Linear,
                SigmoidArg::Clamped => Sigmoid::Clamped,
            },
            optimizer: match self.optimizer {
                OptimizerArg::BoundNewton => Optimizer::DEFAULT,
                OptimizerArg::GradientDescent => Optimizer::GradientDescent,
            },
            convergence: (!self.fixed_epochs && early_stopping.is_none()).then_some(Convergence {
                validation_fraction: self.validation_fraction,
                tolerance: self.tolerance,
                ..Convergence::default()
            }),
            recalibration: match self.recalibrate {
                RecalibrateArg::None => None,
                RecalibrateArg::Platt => Some(Method::Platt),
                RecalibrateArg::Isotonic => Some(Method::Isotonic),
            },
        }
    }

    /// A WOE scorecard's training: plain gradient descent for exactly
    /// --epochs epochs (20 by default) with --learning-rate (0.5 by
    /// default) and the linear sigmoid (`--sigmoid clamped` is honoured,
    /// the Fourier default is not); no bound-Newton optimizer, convergence
    /// test or recalibration.
    pub(super) fn scorecard_params(&self) -> Result<TrainParams, ArgError> {
        if self.recalibrate != RecalibrateArg::None {
            return Err(ArgError::Combination(
                "a WOE scorecard is not recalibrated: drop --recalibrate",
            ));
        }
        Ok(TrainParams {
            task: self.task(),
            l2: self.l2,
            batch_size: self.batch_size,
            frac_bits: self.frac_bits,
            seed: self.seed,
            sigmoid: match self.sigmoid {
                SigmoidArg::Clamped => Sigmoid::Clamped,
                SigmoidArg::Fourier | SigmoidArg::Linear => Sigmoid::Linear,
            },
            ..TrainParams::gradient_descent(
                self.epochs.unwrap_or(20),
                self.learning_rate.unwrap_or(0.5),
            )
        })
    }

    /// FedAvg's local training: plain gradient descent, --epochs local
    /// epochs (20 by default) with --learning-rate (0.5 by default).
    pub(super) fn local_params(&self) -> TrainParams {
        TrainParams {
            task: self.task(),
            l2: self.l2,
            batch_size: self.batch_size,
            frac_bits: self.frac_bits,
            seed: self.seed,
            sigmoid: Sigmoid::Linear,
            ..TrainParams::gradient_descent(
                self.epochs.unwrap_or(20),
                self.learning_rate.unwrap_or(0.5),
            )
        }
    }

    /// The DP parameters of a horizontal job, checked; `None` without
    /// --dp-epsilon.
    pub(super) fn fed_dp(&self) -> Result<Option<FedDp>, ArgError> {
        let Some(epsilon) = self.dp_epsilon else {
            return Ok(None);
        };
        let clip_norm = self.clip_norm.ok_or(ArgError::Combination(
            "--dp-epsilon needs --clip-norm C: the L2 norm each client's update is clipped to",
        ))?;
        let dp = FedDp {
            epsilon,
            delta: self.dp_delta,
            clip_norm,
            coalition: self.dp_coalition,
        };
        dp.check()?;
        Ok(Some(dp))
    }

    pub(super) fn task(&self) -> Task {
        match self.task {
            TaskArg::Logistic => Task::Logistic,
            TaskArg::Linear => Task::Linear,
        }
    }

    pub(super) fn csv_spec(&self, label: bool) -> CsvSpec {
        CsvSpec {
            id_column: self.id.clone(),
            label_column: if label {
                self.label_column.clone()
            } else {
                None
            },
            features: self.features.clone(),
            task: self.task(),
        }
    }

    pub(super) fn limits(&self) -> Result<Limits, ArgError> {
        crate::cli::net_args::timeout_limits(self.timeout)
    }

    pub(super) fn progress_bar(&self) -> Result<ProgressBar, ArgError> {
        crate::cli::net_args::spinner(self.quiet)
    }
}
