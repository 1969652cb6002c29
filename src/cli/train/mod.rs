//! `indomain train`: one party of a joint training job — vertical
//! (label holder, feature holders, dealer; rows aligned by PSI join) or
//! horizontal (FedAvg clients and their server, over secure aggregation).

mod horizontal;
mod scorecard;
mod secagg_keys;
mod trees;
mod vertical;

use super::CliResult;
use indicatif::ProgressBar;
use indomain_learn::data::CsvSpec;
use indomain_learn::fed_dp::FedDp;
use indomain_learn::metrics::Evaluation;
use indomain_learn::{EarlyStopping, Sigmoid, Task, TrainParams};
use indomain_net::quic::TrustedPeer;
use indomain_net::{Counters, Limits};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
on the training rows, and the model is trained on secret-shared values.
Each data party writes --model with only its own weights; the label holder
also writes an SVG of the ROC and KS curves and the loss per epoch beside
it. Unless --no-contribution, the training is re-run on the label holder's
columns alone and, with two or more feature holders, without each one,
and the held-out AUC and KS of each run go into every model file.

vertical with --algorithm gbdt: gradient-boosted trees (XGBoost's hist
method) on the same roles and rows. Each data party bins its own columns
on the training rows: --bins quantile bins per numeric column, empty cells
in a bin of their own (a learned direction at every split), text columns
(or those given with --categorical) one bin per category. Node membership
stays secret: per split only the winning party, feature and bin are
opened, the threshold only to its owner, and the leaf weights only to the
label holder. Progress is printed per tree. The model files (format 2,
kind gbdt) are read by `indomain predict`, which then needs the dealer
too. Trees always need --dealer (the two-party correlations do not yet
provide their packed comparisons and bin-sum masks).

horizontal: --server names the aggregator; every other party is a client
with the same columns. Each round the clients train locally for --epochs
epochs from the global model, and the server learns only the row-weighted
sum of their models (SecAgg+); clients may drop out. Each client
evaluates the final model on its own held-out rows.

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

    /// gbdt: columns to read as categorical (text columns always are).
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    categorical: Vec<String>,

    /// The sigmoid approximation of secure logistic training: `linear`
    /// (1/2 + z/4, no communication) or `clamped` (the same clamped to
    /// [0, 1] by two secure comparisons a batch; more rounds and bytes).
    #[arg(long, value_enum, default_value_t = SigmoidArg::Linear)]
    sigmoid: SigmoidArg,

    /// Epochs (vertical); local epochs per round (horizontal).
    #[arg(long, default_value_t = 20)]
    epochs: usize,

    /// Rounds of FedAvg (horizontal).
    #[arg(long, default_value_t = 10)]
    rounds: usize,

    /// Gradient-descent step size (default 0.5); with gbdt the shrinkage
    /// of every leaf weight (XGBoost's eta, default 0.3).
    #[arg(long)]
    learning_rate: Option<f64>,

    /// L2 regularisation strength (the intercept is not regularised).
    #[arg(long, default_value_t = 0.0)]
    l2: f64,

    /// Rows per mini-batch (default: full batch).
    #[arg(long, value_name = "ROWS")]
    batch_size: Option<usize>,

    /// Stop after this many epochs (gbdt: trees) without a better
    /// validation loss (vertical; the label holder keeps
    /// --validation-fraction of the training rows for it).
    #[arg(long, value_name = "EPOCHS")]
    early_stopping: Option<usize>,

    /// Share of the training rows kept for early stopping's validation.
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
    /// the binning files; full-batch gradient descent (--epochs,
    /// --learning-rate, --l2).
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
    /// 1/2 + z/4, unclamped.
    Linear,
    /// 1/2 + z/4 clamped to [0, 1].
    Clamped,
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
    fn parse(args: &Args) -> Result<Self, String> {
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

    fn index(&self, name: &str) -> Result<usize, String> {
        self.entries
            .iter()
            .position(|(p, _)| p.name == name)
            .ok_or_else(|| {
                format!(
                    "{name} is not in the --party list ({})",
                    self.names().join(", ")
                )
            })
    }
}

impl Args {
    fn params(&self) -> TrainParams {
        TrainParams {
            task: self.task(),
            epochs: self.epochs,
            learning_rate: self.learning_rate.unwrap_or(0.5),
            l2: self.l2,
            batch_size: self.batch_size,
            early_stopping: self.early_stopping.map(|patience| EarlyStopping {
                validation_fraction: self.validation_fraction,
                patience,
            }),
            frac_bits: self.frac_bits,
            seed: self.seed,
            sigmoid: match self.sigmoid {
                SigmoidArg::Linear => Sigmoid::Linear,
                SigmoidArg::Clamped => Sigmoid::Clamped,
            },
        }
    }

    /// The DP parameters of a horizontal job, checked; `None` without
    /// --dp-epsilon.
    fn fed_dp(&self) -> Result<Option<FedDp>, String> {
        let Some(epsilon) = self.dp_epsilon else {
            return Ok(None);
        };
        let clip_norm = self.clip_norm.ok_or(
            "--dp-epsilon needs --clip-norm C: the L2 norm each client's update is clipped to",
        )?;
        let dp = FedDp {
            epsilon,
            delta: self.dp_delta,
            clip_norm,
            coalition: self.dp_coalition,
        };
        dp.check().map_err(|e| e.to_string())?;
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

    fn limits(&self) -> Result<Limits, String> {
        let recv_timeout = Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or("--timeout: give a positive number of seconds")?;
        Ok(Limits {
            recv_timeout,
            ..Limits::default()
        })
    }

    fn progress_bar(&self) -> Result<ProgressBar, String> {
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
