//! The command line of `indomain train`: every flag with its help text
//! and default (clap), the values a flag takes, and the long help that
//! explains the job modes and roles.
//!
//! What each party learns: nothing from this file — it declares what one
//! party types on its own machine and adds nothing to what the protocols
//! reveal.

use indomain_learn::TrainParams;
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
    pub(super) mode: ModeArg,

    /// Directory with this node's node.crt and node.key (made by `indomain
    /// keygen`).
    #[arg(long, value_name = "DIR")]
    pub(super) identity: PathBuf,

    /// This party's name (its entry in the --party list).
    #[arg(long, value_name = "NAME")]
    pub(super) me: String,

    /// Every party of the job, in the agreed order, as
    /// NAME=sha256:<fingerprint>@HOST:PORT. Repeat once per party.
    #[arg(long = "party", value_name = "NAME=FINGERPRINT@ADDR", required = true)]
    pub(super) parties: Vec<String>,

    /// vertical: the party holding the labels.
    #[arg(long, value_name = "NAME", required_if_eq("mode", "vertical"))]
    pub(super) label_holder: Option<String>,

    /// vertical: the dealer of correlated randomness (holds no data). Leave
    /// it out with exactly two parties: they then generate the correlated
    /// randomness themselves (two-party, correlated OT), trusting no third
    /// organisation.
    #[arg(long, value_name = "NAME")]
    pub(super) dealer: Option<String>,

    /// horizontal: the aggregation server (holds no data).
    #[arg(long, value_name = "NAME", required_if_eq("mode", "horizontal"))]
    pub(super) server: Option<String>,

    /// horizontal: every client's SecAgg identity key, one `NAME
    /// ed25519:<hex>` line per client (what `indomain audit key --identity
    /// DIR` prints for it). With it every round is signed: clients check
    /// each other's keys and the survivor list against a malicious server.
    /// Without it rounds trust the server to follow the protocol. Every
    /// party gives the same table.
    #[arg(long, value_name = "FILE")]
    pub(super) secagg_keys: Option<PathBuf>,

    /// This party's CSV file (with a header row); not for the dealer or
    /// the server.
    #[arg(long, value_name = "FILE.csv")]
    pub(super) input: Option<PathBuf>,

    /// The id column rows are aligned on.
    #[arg(long, value_name = "COL", default_value = "id")]
    pub(super) id: String,

    /// The label column (label holder; every horizontal client).
    #[arg(long, value_name = "COL")]
    pub(super) label_column: Option<String>,

    /// The feature columns (default: every column but the id and label).
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    pub(super) features: Option<Vec<String>>,

    /// Where to write this party's model file (every party with data; the
    /// horizontal server writes the global model).
    #[arg(long, value_name = "MODEL.json")]
    pub(super) model: Option<PathBuf>,

    /// vertical: logistic or linear regression (`lr`), or gradient-boosted
    /// trees (`gbdt`).
    #[arg(long, value_enum, default_value_t = AlgorithmArg::Lr)]
    pub(super) algorithm: AlgorithmArg,

    /// Logistic (labels 0/1) or linear regression; with gbdt, the logistic
    /// or squared loss.
    #[arg(long, value_enum, default_value_t = TaskArg::Logistic)]
    pub(super) task: TaskArg,

    /// gbdt: number of trees (the most, with --early-stopping).
    #[arg(long, default_value_t = 100)]
    pub(super) trees: usize,

    /// gbdt: depth of every tree (1 to 10).
    #[arg(long, default_value_t = 6)]
    pub(super) max_depth: usize,

    /// gbdt: quantile bins per numeric column (2 to 1024), before the bin
    /// for missing values.
    #[arg(long, default_value_t = 32)]
    pub(super) bins: usize,

    /// gbdt: the smallest hessian sum of a child.
    #[arg(long, default_value_t = 1.0)]
    pub(super) min_child_weight: f64,

    /// gbdt: L2 regularisation of the leaf weights (1/64 to 10^4).
    #[arg(long, default_value_t = 1.0)]
    pub(super) lambda: f64,

    /// gbdt: the smallest loss reduction a split must bring.
    #[arg(long, default_value_t = 0.0)]
    pub(super) gamma: f64,

    /// gbdt: share of the training rows each tree is grown on.
    #[arg(long, default_value_t = 1.0)]
    pub(super) subsample: f64,

    /// gbdt: SecureBoost's leakage, for speed: at every split its owner
    /// tells the other data parties which of the node's rows go left, so
    /// every data party learns the rows of every tree node (and the dealer
    /// the node sizes); gradients and histograms stay secret-shared, and a
    /// node's histograms cost its own rows only. Every party (the dealer
    /// too) must pass it; it is recorded in the model files.
    #[arg(long)]
    pub(super) leak_instance_space: bool,

    /// gbdt: columns to read as categorical (text columns always are).
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    pub(super) categorical: Vec<String>,

    /// The sigmoid of secure logistic training: `fourier` (error below
    /// 2·10^-4 on the whole line), `linear` (1/2 + z/4, no communication,
    /// not the logistic optimum) or `clamped` (the line clamped to [0, 1]).
    #[arg(long, value_enum, default_value_t = SigmoidArg::Fourier)]
    pub(super) sigmoid: SigmoidArg,

    /// How the weights move (vertical): `bound-newton` (Newton steps on
    /// each party's block of the quadratic bound, with momentum; no step
    /// size to tune) or `gradient-descent` (SecureML's step, with
    /// --learning-rate).
    #[arg(long, value_enum, default_value_t = OptimizerArg::BoundNewton)]
    pub(super) optimizer: OptimizerArg,

    /// vertical: the most epochs (training stops earlier once it has
    /// converged; with --fixed-epochs, exactly this many). horizontal:
    /// local epochs per round [default: 300 vertical, 20 horizontal].
    #[arg(long)]
    pub(super) epochs: Option<usize>,

    /// vertical: run exactly --epochs epochs, without the convergence test.
    #[arg(long)]
    pub(super) fixed_epochs: bool,

    /// vertical: converged when no validation probability (linear: no
    /// prediction, in standard deviations of the labels) moves by more
    /// than this in an epoch, two epochs in a row.
    #[arg(long, default_value_t = indomain_learn::Convergence::default().tolerance)]
    pub(super) tolerance: f64,

    /// vertical, logistic: recalibrate the probabilities on the validation
    /// split (`platt` or `isotonic`); the label holder records the map and
    /// `indomain predict` applies it.
    #[arg(long, value_enum, default_value_t = RecalibrateArg::None)]
    pub(super) recalibrate: RecalibrateArg,

    /// Rounds of FedAvg (horizontal).
    #[arg(long, default_value_t = 10)]
    pub(super) rounds: usize,

    /// Step size: of gradient descent, or the multiplier of the
    /// bound-Newton step (1 is the step the bound guarantees) [default: 1
    /// vertical, 0.5 horizontal]; with gbdt the shrinkage of every leaf
    /// weight (XGBoost's eta, default 0.3).
    #[arg(long)]
    pub(super) learning_rate: Option<f64>,

    /// L2 regularisation strength λ: mean loss + λ/2·‖w‖², the intercept
    /// not regularised (scikit-learn's C = 1/(λ·rows)).
    #[arg(long, default_value_t = TrainParams::default().l2)]
    pub(super) l2: f64,

    /// Rows per mini-batch (default: full batch).
    #[arg(long, value_name = "ROWS")]
    pub(super) batch_size: Option<usize>,

    /// Instead of the convergence test: stop after this many epochs
    /// (gbdt: trees) without a better validation loss and keep the best
    /// epoch's weights (vertical; early stopping as regularisation, not the
    /// optimum; the label holder keeps --validation-fraction of the
    /// training rows for it).
    #[arg(long, value_name = "EPOCHS")]
    pub(super) early_stopping: Option<usize>,

    /// Share of the training rows the label holder keeps for validation
    /// (the convergence test, early stopping, recalibration).
    #[arg(long, default_value_t = 0.2)]
    pub(super) validation_fraction: f64,

    /// Share of the aligned rows held out for evaluation.
    #[arg(long, default_value_t = 0.25)]
    pub(super) test_fraction: f64,

    /// Seed of the public randomness (split, mini-batch order).
    #[arg(long, default_value_t = 0)]
    pub(super) seed: u64,

    /// Fractional bits of the fixed-point encoding.
    #[arg(long, default_value_t = TrainParams::default().frac_bits)]
    pub(super) frac_bits: u32,

    /// The fewest shared rows to train on (vertical).
    #[arg(long, default_value_t = 20)]
    pub(super) min_rows: usize,

    /// horizontal: the bound on |weight × rows| and rows a client sends
    /// (without DP).
    #[arg(long, default_value_t = 1e9)]
    pub(super) max_abs: f64,

    /// horizontal: train with differential privacy, ε of the whole
    /// training (needs --clip-norm).
    #[arg(long, value_name = "E", allow_hyphen_values = true)]
    pub(super) dp_epsilon: Option<f64>,

    /// horizontal, with --dp-epsilon: δ of the whole training.
    #[arg(long, value_name = "D", default_value_t = indomain_aggregate::dp::DEFAULT_DELTA, requires = "dp_epsilon")]
    pub(super) dp_delta: f64,

    /// horizontal, with --dp-epsilon: the L2 norm each client's update is
    /// clipped to.
    #[arg(long, value_name = "C", requires = "dp_epsilon")]
    pub(super) clip_norm: Option<f64>,

    /// horizontal, with --dp-epsilon: clients that might pool their noise
    /// with the server (the guarantee still holds against them).
    #[arg(long, value_name = "K", default_value_t = 0, requires = "dp_epsilon")]
    pub(super) dp_coalition: usize,

    /// Skip the contribution report (vertical).
    #[arg(long)]
    pub(super) no_contribution: bool,

    /// vertical: train a WOE scorecard (every party, the dealer too):
    /// logistic regression on the WOE of a binning job's bins (`indomain
    /// bin`), turned into a points table. Rows, split and bins come from
    /// the binning files; full-batch gradient descent for exactly --epochs
    /// epochs (20; --learning-rate 0.5, --l2) with the linear sigmoid
    /// (or --sigmoid clamped).
    #[arg(long)]
    pub(super) scorecard: bool,

    /// --scorecard: this party's binning file (every data party; all from
    /// the same binning job).
    #[arg(long, value_name = "BINNING.json")]
    pub(super) woe: Option<PathBuf>,

    /// --scorecard: leave out features whose IV is below this.
    #[arg(long, default_value_t = 0.02)]
    pub(super) min_iv: f64,

    /// --scorecard: the score at the base odds.
    #[arg(long, default_value_t = 600.0)]
    pub(super) base_score: f64,

    /// --scorecard: points that double the odds.
    #[arg(long, default_value_t = 20.0)]
    pub(super) pdo: f64,

    /// --scorecard: the odds (non-event to event) at the base score, X
    /// for X:1.
    #[arg(long, default_value_t = 50.0)]
    pub(super) base_odds: f64,

    /// Seconds to wait for a peer's next message (and for peers to
    /// connect) before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    pub(super) timeout: f64,

    /// No progress display.
    #[arg(long)]
    pub(super) quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub(super) enum ModeArg {
    /// Different columns of the same rows.
    Vertical,
    /// Different rows with the same columns.
    Horizontal,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub(super) enum AlgorithmArg {
    /// Logistic or linear regression.
    Lr,
    /// Gradient-boosted decision trees.
    Gbdt,
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub(super) enum SigmoidArg {
    /// A Fourier series clamped by packed comparisons (error < 2·10^-4).
    Fourier,
    /// 1/2 + z/4, unclamped.
    Linear,
    /// 1/2 + z/4 clamped to [0, 1].
    Clamped,
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub(super) enum OptimizerArg {
    /// Newton steps on the quadratic bound, with momentum.
    BoundNewton,
    /// w ← w − lr·gradient.
    GradientDescent,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub(super) enum RecalibrateArg {
    /// Keep the model's probabilities.
    None,
    /// σ(a·score + b) fitted on the validation split.
    Platt,
    /// Isotonic regression on the validation split.
    Isotonic,
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub(super) enum TaskArg {
    /// Binary classification (labels 0/1).
    Logistic,
    /// Regression.
    Linear,
}
