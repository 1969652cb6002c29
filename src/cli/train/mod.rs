//! `indomain train`: one party of a joint training job — vertical
//! (label holder, feature holders, dealer; rows aligned by PSI join) or
//! horizontal (FedAvg clients and their server, over secure aggregation).

mod horizontal;
mod roles;
mod scorecard;
mod secagg_keys;
mod trees;
mod vertical;

use super::CliResult;
use super::arg_error::{self, ArgError};
use indicatif::ProgressBar;
use indomain_learn::calibration::{Calibration, Method};
use indomain_learn::data::CsvSpec;
use indomain_learn::fed_dp::FedDp;
use indomain_learn::metrics::Evaluation;
use indomain_learn::model::PartyRole;
use indomain_learn::model::TrainingEnd;
use indomain_learn::{Convergence, EarlyStopping, Optimizer, Sigmoid, Task, TrainParams};
use indomain_net::quic::TrustedPeer;
use indomain_net::{Counters, Limits};
use std::net::SocketAddr;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Run one process per party. Every party gives the same --mode, --party list
(in the same order, its own entry included), roles and training options;
the parties check this before anything else.

vertical: --label-holder names the party with the labels (and some
features), --dealer the party that deals correlated randomness and holds
no data; every other party is a feature holder (1 to 4). With exactly two
parties --dealer may be left out: the label holder and the feature holder
then generate the correlated randomness themselves (two-party: oblivious
transfer between them, slower, but no third organisation must be trusted
not to collude). The model file records which (\"correlations\"). Rows are aligned
by a PSI join on --id. The aligned rows are split 75/25 (--test-fraction)
by a shuffle seeded with --seed, each party standardises its own columns
on the training rows, and the model is trained on secret-shared values:
by default logistic regression with L2 = 0.001 (scikit-learn's C =
1/(l2·rows)), Newton steps on the quadratic bound with momentum and an
accurate sigmoid, until it converges — the label holder keeps
--validation-fraction of the training rows and training stops when no
validation probability moves by more than --tolerance for two epochs (at
most --epochs). There is no epoch count to tune; the summary says whether
training converged. Each data party writes --model with only its own
weights; the label holder's file also holds the held-out reliability
table by decile and the expected calibration error, and an SVG beside it
shows the ROC and KS curves, the loss per epoch and the reliability curve.
With --recalibrate platt|isotonic the label holder fits that map on the
validation split and records it; `indomain predict` applies it. Unless
--no-contribution, the training is re-run on the label holder's columns
alone and, with two or more feature holders, without each one, and the
held-out AUC and KS of each run go into every model file.

vertical with --algorithm gbdt: gradient-boosted trees (XGBoost's hist
method) on the same roles and rows. Each data party bins its own columns
on the training rows: --bins quantile bins per numeric column, empty cells
in a bin of their own (a learned direction at every split), text columns
(or those given with --categorical) one bin per category. Node membership
stays secret: per split only the winning party, feature and bin are
opened, the threshold only to its owner, and the leaf weights only to the
label holder. Progress is printed per tree. The model files (format 2,
kind gbdt) are read by `indomain predict`, with the same dealer (or none).
Without --dealer, trees take exactly two parties: the label holder and one
feature holder generate the correlated randomness themselves.

horizontal: --server names the aggregator; every other party is a client
with the same columns. Each round the clients train locally for --epochs
epochs from the global model, and the server learns only the row-weighted
sum of their models (SecAgg+); clients may drop out. Each client
evaluates the final model on its own held-out rows, with the same
calibration report (reliability by decile, ECE) in its model file and
SVG.

vertical --scorecard: every data party gives --woe, its binning file from
one `indomain bin` job (a file from another job is refused), and --input
with the columns it binned; rows are aligned and split as the binning job
did. Features with an IV below --min-iv are left out. In the default and
strict modes the WOE columns of the owners' features never exist in
anyone's clear (each owner's bins times the shared WOE); in the
owner-transform mode each party transforms its own columns. Each data
party writes --model (a scorecard file); the label holder also writes
MODEL.points.csv, the points table it may read (base score --base-score
at odds --base-odds:1, --pdo points to double the odds), and MODEL.svg.
Without --dealer (and a binning job without one), the label holder and
one feature owner generate the correlated randomness themselves; the
scorecard files record which (\"correlations\").

horizontal with --dp-epsilon E --clip-norm C: differential privacy for
what the server learns. Each round every client clips its update (local
model minus global model) to L2 norm C and adds its share of discrete
Gaussian noise before the secure aggregation; the server adds the mean of
the noisy sum to the global model (unweighted, no row counts). The noise
is calibrated so that the whole training (all --rounds) is (E, D)-DP in
any one client's data — hence in any row — with the noise of the fewest
clients a round accepts (the SecAgg threshold), less --dp-coalition
clients that might pool their noise with the server. Every model file
records E, D, C and the coalition.

Any bad input (a label not 0/1, an empty, non-numeric, NaN or infinite
cell, a constant column, too few shared rows) stops every party before
training, with an error naming the file, line, column or party.";

/// Arguments of `indomain train`.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Vertical (parties hold different columns of the same rows) or
    /// horizontal (parties hold different rows with the same columns).
    #[arg(long, value_enum, default_value_t = ModeArg::Vertical)]
    mode: ModeArg,

    /// Directory with this node's node.crt and node.key (made by `indomain
    /// keygen`).
    #[arg(long, value_name = "DIR")]
    identity: PathBuf,

    /// This party's name (its entry in the --party list).
    #[arg(long, value_name = "NAME")]
    me: String,

    /// Every party of the job, in the agreed order, as
    /// NAME=sha256:<fingerprint>@HOST:PORT. Repeat once per party.
    #[arg(long = "party", value_name = "NAME=FINGERPRINT@ADDR", required = true)]
    parties: Vec<String>,

    /// vertical: the party holding the labels.
    #[arg(long, value_name = "NAME", required_if_eq("mode", "vertical"))]
    label_holder: Option<String>,

    /// vertical: the dealer of correlated randomness (holds no data). Leave
    /// it out with exactly two parties: they then generate the correlated
    /// randomness themselves (two-party, correlated OT), trusting no third
    /// organisation.
    #[arg(long, value_name = "NAME")]
    dealer: Option<String>,

    /// horizontal: the aggregation server (holds no data).
    #[arg(long, value_name = "NAME", required_if_eq("mode", "horizontal"))]
    server: Option<String>,

    /// horizontal: every client's SecAgg identity key, one `NAME
    /// ed25519:<hex>` line per client (what `indomain audit key --identity
    /// DIR` prints for it). With it every round is signed: clients check
    /// each other's keys and the survivor list against a malicious server.
    /// Without it rounds trust the server to follow the protocol. Every
    /// party gives the same table.
    #[arg(long, value_name = "FILE")]
    secagg_keys: Option<PathBuf>,

    /// This party's CSV file (with a header row); not for the dealer or
    /// the server.
    #[arg(long, value_name = "FILE.csv")]
    input: Option<PathBuf>,

    /// The id column rows are aligned on.
    #[arg(long, value_name = "COL", default_value = "id")]
    id: String,

    /// The label column (label holder; every horizontal client).
    #[arg(long, value_name = "COL")]
    label_column: Option<String>,

    /// The feature columns (default: every column but the id and label).
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    features: Option<Vec<String>>,

    /// Where to write this party's model file (every party with data; the
    /// horizontal server writes the global model).
    #[arg(long, value_name = "MODEL.json")]
    model: Option<PathBuf>,

    /// vertical: logistic or linear regression (`lr`), or gradient-boosted
    /// trees (`gbdt`).
    #[arg(long, value_enum, default_value_t = AlgorithmArg::Lr)]
    algorithm: AlgorithmArg,

    /// Logistic (labels 0/1) or linear regression; with gbdt, the logistic
    /// or squared loss.
    #[arg(long, value_enum, default_value_t = TaskArg::Logistic)]
    task: TaskArg,

    /// gbdt: number of trees (the most, with --early-stopping).
    #[arg(long, default_value_t = 100)]
    trees: usize,

    /// gbdt: depth of every tree (1 to 10).
    #[arg(long, default_value_t = 6)]
    max_depth: usize,

    /// gbdt: quantile bins per numeric column (2 to 1024), before the bin
    /// for missing values.
    #[arg(long, default_value_t = 32)]
    bins: usize,

    /// gbdt: the smallest hessian sum of a child.
    #[arg(long, default_value_t = 1.0)]
    min_child_weight: f64,

    /// gbdt: L2 regularisation of the leaf weights (1/64 to 10^4).
    #[arg(long, default_value_t = 1.0)]
    lambda: f64,

    /// gbdt: the smallest loss reduction a split must bring.
    #[arg(long, default_value_t = 0.0)]
    gamma: f64,

    /// gbdt: share of the training rows each tree is grown on.
    #[arg(long, default_value_t = 1.0)]
    subsample: f64,

    /// gbdt: SecureBoost's leakage, for speed: at every split its owner
    /// tells the other data parties which of the node's rows go left, so
    /// every data party learns the rows of every tree node (and the dealer
    /// the node sizes); gradients and histograms stay secret-shared, and a
    /// node's histograms cost its own rows only. Every party (the dealer
    /// too) must pass it; it is recorded in the model files.
    #[arg(long)]
    leak_instance_space: bool,

    /// gbdt: columns to read as categorical (text columns always are).
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    categorical: Vec<String>,

    /// The sigmoid of secure logistic training: `fourier` (error below
    /// 2·10^-4 on the whole line), `linear` (1/2 + z/4, no communication,
    /// not the logistic optimum) or `clamped` (the line clamped to [0, 1]).
    #[arg(long, value_enum, default_value_t = SigmoidArg::Fourier)]
    sigmoid: SigmoidArg,

    /// How the weights move (vertical): `bound-newton` (Newton steps on
    /// each party's block of the quadratic bound, with momentum; no step
    /// size to tune) or `gradient-descent` (SecureML's step, with
    /// --learning-rate).
    #[arg(long, value_enum, default_value_t = OptimizerArg::BoundNewton)]
    optimizer: OptimizerArg,

    /// vertical: the most epochs (training stops earlier once it has
    /// converged; with --fixed-epochs, exactly this many). horizontal:
    /// local epochs per round [default: 300 vertical, 20 horizontal].
    #[arg(long)]
    epochs: Option<usize>,

    /// vertical: run exactly --epochs epochs, without the convergence test.
    #[arg(long)]
    fixed_epochs: bool,

    /// vertical: converged when no validation probability (linear: no
    /// prediction, in standard deviations of the labels) moves by more
    /// than this in an epoch, two epochs in a row.
    #[arg(long, default_value_t = indomain_learn::Convergence::default().tolerance)]
    tolerance: f64,

    /// vertical, logistic: recalibrate the probabilities on the validation
    /// split (`platt` or `isotonic`); the label holder records the map and
    /// `indomain predict` applies it.
    #[arg(long, value_enum, default_value_t = RecalibrateArg::None)]
    recalibrate: RecalibrateArg,

    /// Rounds of FedAvg (horizontal).
    #[arg(long, default_value_t = 10)]
    rounds: usize,

    /// Step size: of gradient descent, or the multiplier of the
    /// bound-Newton step (1 is the step the bound guarantees) [default: 1
    /// vertical, 0.5 horizontal]; with gbdt the shrinkage of every leaf
    /// weight (XGBoost's eta, default 0.3).
    #[arg(long)]
    learning_rate: Option<f64>,

    /// L2 regularisation strength λ: mean loss + λ/2·‖w‖², the intercept
    /// not regularised (scikit-learn's C = 1/(λ·rows)).
    #[arg(long, default_value_t = TrainParams::default().l2)]
    l2: f64,

    /// Rows per mini-batch (default: full batch).
    #[arg(long, value_name = "ROWS")]
    batch_size: Option<usize>,

    /// Instead of the convergence test: stop after this many epochs
    /// (gbdt: trees) without a better validation loss and keep the best
    /// epoch's weights (vertical; early stopping as regularisation, not the
    /// optimum; the label holder keeps --validation-fraction of the
    /// training rows for it).
    #[arg(long, value_name = "EPOCHS")]
    early_stopping: Option<usize>,

    /// Share of the training rows the label holder keeps for validation
    /// (the convergence test, early stopping, recalibration).
    #[arg(long, default_value_t = 0.2)]
    validation_fraction: f64,

    /// Share of the aligned rows held out for evaluation.
    #[arg(long, default_value_t = 0.25)]
    test_fraction: f64,

    /// Seed of the public randomness (split, mini-batch order).
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Fractional bits of the fixed-point encoding.
    #[arg(long, default_value_t = TrainParams::default().frac_bits)]
    frac_bits: u32,

    /// The fewest shared rows to train on (vertical).
    #[arg(long, default_value_t = 20)]
    min_rows: usize,

    /// horizontal: the bound on |weight × rows| and rows a client sends
    /// (without DP).
    #[arg(long, default_value_t = 1e9)]
    max_abs: f64,

    /// horizontal: train with differential privacy, ε of the whole
    /// training (needs --clip-norm).
    #[arg(long, value_name = "E", allow_hyphen_values = true)]
    dp_epsilon: Option<f64>,

    /// horizontal, with --dp-epsilon: δ of the whole training.
    #[arg(long, value_name = "D", default_value_t = indomain_aggregate::dp::DEFAULT_DELTA, requires = "dp_epsilon")]
    dp_delta: f64,

    /// horizontal, with --dp-epsilon: the L2 norm each client's update is
    /// clipped to.
    #[arg(long, value_name = "C", requires = "dp_epsilon")]
    clip_norm: Option<f64>,

    /// horizontal, with --dp-epsilon: clients that might pool their noise
    /// with the server (the guarantee still holds against them).
    #[arg(long, value_name = "K", default_value_t = 0, requires = "dp_epsilon")]
    dp_coalition: usize,

    /// Skip the contribution report (vertical).
    #[arg(long)]
    no_contribution: bool,

    /// vertical: train a WOE scorecard (every party, the dealer too):
    /// logistic regression on the WOE of a binning job's bins (`indomain
    /// bin`), turned into a points table. Rows, split and bins come from
    /// the binning files; full-batch gradient descent for exactly --epochs
    /// epochs (20; --learning-rate 0.5, --l2) with the linear sigmoid
    /// (or --sigmoid clamped).
    #[arg(long)]
    scorecard: bool,

    /// --scorecard: this party's binning file (every data party; all from
    /// the same binning job).
    #[arg(long, value_name = "BINNING.json")]
    woe: Option<PathBuf>,

    /// --scorecard: leave out features whose IV is below this.
    #[arg(long, default_value_t = 0.02)]
    min_iv: f64,

    /// --scorecard: the score at the base odds.
    #[arg(long, default_value_t = 600.0)]
    base_score: f64,

    /// --scorecard: points that double the odds.
    #[arg(long, default_value_t = 20.0)]
    pdo: f64,

    /// --scorecard: the odds (non-event to event) at the base score, X
    /// for X:1.
    #[arg(long, default_value_t = 50.0)]
    base_odds: f64,

    /// Seconds to wait for a peer's next message (and for peers to
    /// connect) before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    timeout: f64,

    /// No progress display.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum ModeArg {
    /// Different columns of the same rows.
    Vertical,
    /// Different rows with the same columns.
    Horizontal,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum AlgorithmArg {
    /// Logistic or linear regression.
    Lr,
    /// Gradient-boosted decision trees.
    Gbdt,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum SigmoidArg {
    /// A Fourier series clamped by packed comparisons (error < 2·10^-4).
    Fourier,
    /// 1/2 + z/4, unclamped.
    Linear,
    /// 1/2 + z/4 clamped to [0, 1].
    Clamped,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum OptimizerArg {
    /// Newton steps on the quadratic bound, with momentum.
    BoundNewton,
    /// w ← w − lr·gradient.
    GradientDescent,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum RecalibrateArg {
    /// Keep the model's probabilities.
    None,
    /// σ(a·score + b) fitted on the validation split.
    Platt,
    /// Isotonic regression on the validation split.
    Isotonic,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum TaskArg {
    /// Binary classification (labels 0/1).
    Logistic,
    /// Regression.
    Linear,
}

/// The parsed party list and this party's place in it.
struct Parties {
    entries: Vec<(TrustedPeer, SocketAddr)>,
    me: usize,
}

impl Parties {
    fn parse(args: &Args) -> Result<Self, ArgError> {
        let entries = args
            .parties
            .iter()
            .map(|p| super::aggregate::parse_party(p))
            .collect::<Result<Vec<_>, _>>()?;
        let parties = Self { entries, me: 0 };
        let me = parties.index(&args.me)?;
        Ok(Self { me, ..parties })
    }

    fn names(&self) -> Vec<String> {
        self.entries.iter().map(|(p, _)| p.name.clone()).collect()
    }

    fn index(&self, name: &str) -> Result<usize, ArgError> {
        arg_error::position(&self.names(), name, None)
    }
}

impl Args {
    /// The vertical training parameters.
    fn params(&self) -> TrainParams {
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
    fn scorecard_params(&self) -> Result<TrainParams, ArgError> {
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
    fn local_params(&self) -> TrainParams {
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
    fn fed_dp(&self) -> Result<Option<FedDp>, ArgError> {
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

    fn task(&self) -> Task {
        match self.task {
            TaskArg::Logistic => Task::Logistic,
            TaskArg::Linear => Task::Linear,
        }
    }

    fn csv_spec(&self, label: bool) -> CsvSpec {
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

    fn limits(&self) -> Result<Limits, ArgError> {
        super::net_args::timeout_limits(self.timeout)
    }

    fn progress_bar(&self) -> Result<ProgressBar, ArgError> {
        super::net_args::spinner(self.quiet)
    }
}

pub fn run(args: Args) -> CliResult {
    let parties = Parties::parse(&args)?;
    if args.scorecard || args.woe.is_some() {
        if args.mode != ModeArg::Vertical {
            return Err("--scorecard is a vertical job".into());
        }
        if matches!(args.algorithm, AlgorithmArg::Gbdt) {
            return Err(
                "--scorecard trains a logistic regression on WOE columns: drop --algorithm gbdt"
                    .into(),
            );
        }
        return scorecard::run(&args, &parties);
    }
    match (args.mode, args.algorithm) {
        (ModeArg::Vertical, AlgorithmArg::Gbdt) => trees::run(&args, &parties),
        (ModeArg::Vertical, AlgorithmArg::Lr) => vertical::run(&args, &parties),
        (ModeArg::Horizontal, AlgorithmArg::Lr) => horizontal::run(&args, &parties),
        (ModeArg::Horizontal, AlgorithmArg::Gbdt) => {
            Err("gradient-boosted trees are vertical: drop --mode horizontal".into())
        }
    }
}

/// The spinner's message for a contribution run among `with` (the
/// feature holders kept; none: the label holder alone).
fn contribution_message(with: &[String]) -> String {
    if with.is_empty() {
        "contribution run with the label holder alone".to_string()
    } else {
        format!("contribution run with {}", with.join(", "))
    }
}

/// How a vertical job's summary names a party's role.
fn role_name(role: PartyRole) -> &'static str {
    match role {
        PartyRole::Label => "label holder",
        PartyRole::Dealer => "dealer",
        _ => "feature holder",
    }
}

/// One line of metrics.
fn describe(e: &Evaluation) -> String {
    match e {
        Evaluation::Classification(c) => format!(
            "AUC {:.4}, KS {:.4}, accuracy {:.4}, log-loss {:.4}",
            c.auc, c.ks, c.accuracy, c.log_loss
        ),
        Evaluation::Regression(r) => format!("RMSE {:.4}, R² {:.4}", r.rmse, r.r2),
    }
}

/// The reliability table and ECE, one line per decile.
fn describe_calibration(what: &str, c: &Calibration) -> String {
    let mut out = format!(
        "{what}: expected calibration error {:.4}; by decile of predicted probability (rows: mean predicted / observed):",
        c.ece
    );
    for (k, b) in c.bins.iter().enumerate() {
        out.push_str(&format!(
            "\n  {:>2}. {:>6} rows: {:.4} / {:.4}",
            k + 1,
            b.rows,
            b.predicted,
            b.observed
        ));
    }
    out
}

/// How training ended, in words.
fn describe_end(end: &TrainingEnd, params: &TrainParams) -> String {
    match (params.convergence, params.early_stopping) {
        (Some(c), _) if end.converged => format!(
            "converged after {} epochs: no validation prediction moved by more than {} for {} epochs",
            end.epochs, c.tolerance, c.patience
        ),
        (Some(_), _) => format!(
            "did NOT converge: stopped at the cap of {} epochs (raise --epochs)",
            end.epochs
        ),
        (None, Some(_)) => format!(
            "early stopping after {} epochs, kept epoch {}",
            end.epochs, end.kept_epoch
        ),
        (None, None) => format!("{} epochs (fixed)", end.epochs),
    }
}

fn bytes(c: Counters) -> String {
    // Exact below a megabyte: a small job's traffic is not "0.00 MB".
    let amount = |n: u64| {
        if n < 1_000_000 {
            format!("{n} bytes")
        } else {
            format!("{:.2} MB", n as f64 / 1e6)
        }
    };
    format!("sent {}, received {}", amount(c.sent), amount(c.received))
}
