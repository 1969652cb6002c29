//! `indomain bin`: one party of a WOE/IV binning job — the label holder,
//! a feature owner or the dealer. Rows are aligned by PSI join, split as a
//! scorecard's training will split them, binned locally by each party,
//! and every feature's WOE and IV computed as --mode allows.

use super::CliResult;
use super::aggregate::parse_party;
use super::arg_error::ArgError;
use super::net_args::{bind_among, spinner, timeout_limits};
use indomain_learn::align::Roles;
use indomain_learn::binning::{BinParams, Method};
use indomain_learn::data::{CsvSpec, load_raw_csv};
use indomain_learn::model::{JobParty, PartyRole, write_private};
use indomain_learn::woe::Mode;
use indomain_learn::woe::chart::feature_svg;
use indomain_learn::woe::file::{BinningFile, BinningJob, strength};
use indomain_learn::woe::pipeline::{self, BinningRun, Event};
use indomain_learn::woe::protocol::Settings;
use indomain_learn::{LearnError, Task};
use indomain_net::quic::mesh;
use indomain_node::output::check_destination;
use std::path::{Path, PathBuf};
use std::time::Instant;

const AFTER_HELP: &str = "\
Run one process per party, each with the same --party list (in the same
order), --label-holder, --dealer (if any), --mode and binning options; the parties
check this before anything else.

The label holder has the labels (--label-column) and some features; every
other party but the dealer owns features; the dealer deals correlated
randomness and holds no data. Without --dealer, exactly two parties (the
label holder and one feature owner) generate the correlated randomness
themselves (two-party correlations: oblivious transfer, no third
organisation trusted). Rows are aligned by a PSI join on --id and
split like `indomain train` splits them (--test-fraction, --seed): only
the training part is binned. Each party bins its own columns: numeric
columns in --bins quantile bins (or --method equal-width, or --edges),
text columns one bin per category (rare ones merged; more than
--max-categories refused), empty cells in a bin of their own; bins under
--min-share of the rows are merged with a neighbour.

--mode default: the label holder learns each of the owners' bins' events
and non-events (so their WOE), under anonymous bin ids, never their edges
or rows; each owner learns its features' IV. --mode strict: nobody learns
any bin's WOE or counts; only IVs are opened (WOE stays secret-shared in
the binning files for training). --mode owner-transform: as default, and
each owner also learns its bins' WOE. --min-events merges bins with fewer
events or non-events (by secure comparison in strict mode); --monotone
merges adjacent numeric bins until the WOE is monotone (not in strict
mode).

Each data party writes --output (its binning file: its own edges or
categories, counts and WOE only where the mode allows, IVs), beside it
OUTPUT.iv.csv (every feature whose IV it learned, ranked) and, where it
may see a feature's WOE, one OUTPUT.FEATURE.svg chart per feature.";

/// Arguments of `indomain bin`.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Directory with this node's node.crt and node.key.
    #[arg(long, value_name = "DIR")]
    identity: PathBuf,

    /// This party's name (its entry in the --party list).
    #[arg(long, value_name = "NAME")]
    me: String,

    /// Every party of the job, in the agreed order, as
    /// NAME=sha256:<fingerprint>@HOST:PORT. Repeat once per party.
    #[arg(long = "party", value_name = "NAME=FINGERPRINT@ADDR", required = true)]
    parties: Vec<String>,

    /// The party holding the labels.
    #[arg(long, value_name = "NAME")]
    label_holder: String,

    /// The dealer of correlated randomness (holds no data). Without it,
    /// the label holder and the one feature owner generate the correlated
    /// randomness themselves (two-party correlations).
    #[arg(long, value_name = "NAME")]
    dealer: Option<String>,

    /// Who learns the owners' WOE: default (the label holder), strict
    /// (nobody), owner-transform (the label holder and the owner).
    #[arg(long, value_enum, default_value_t = ModeArg::Default)]
    mode: ModeArg,

    /// This party's CSV file (not for the dealer).
    #[arg(long, value_name = "FILE.csv")]
    input: Option<PathBuf>,

    /// The id column rows are aligned on.
    #[arg(long, value_name = "COL", default_value = "id")]
    id: String,

    /// The label column (label holder only; 0/1).
    #[arg(long, value_name = "COL")]
    label_column: Option<String>,

    /// The feature columns (default: every column but the id and label).
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    features: Option<Vec<String>>,

    /// Columns to read as categories even if they hold numbers.
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    categorical: Vec<String>,

    /// Bins of a numeric column.
    #[arg(long, default_value_t = 10)]
    bins: usize,

    /// How numeric columns are cut.
    #[arg(long, value_enum, default_value_t = MethodArg::Quantile)]
    method: MethodArg,

    /// Given edges for one of this party's numeric columns, as
    /// COL=E1,E2,… (strictly increasing). Repeatable.
    #[arg(long, value_name = "COL=E1,E2,…")]
    edges: Vec<String>,

    /// The smallest share of the rows a bin may hold.
    #[arg(long, default_value_t = 0.05)]
    min_share: f64,

    /// The most categories a categorical column may have.
    #[arg(long, default_value_t = 256)]
    max_categories: usize,

    /// Merge bins with fewer events or non-events than this (0: no
    /// minimum).
    #[arg(long, default_value_t = 0)]
    min_events: u64,

    /// Merge adjacent numeric bins until the WOE is monotone.
    #[arg(long)]
    monotone: bool,

    /// One dealer permutation for all of an owner's features in the
    /// histogram kernel: far fewer dealer bytes, but the label holder
    /// learns how each owner's bins co-occur across its features (rows and
    /// bin labels hidden). Recorded in the binning files.
    #[arg(long)]
    shared_permutation: bool,

    /// Share of the aligned rows held out (binning uses the rest; give
    /// `indomain train` the same split through the binning file).
    #[arg(long, default_value_t = 0.25)]
    test_fraction: f64,

    /// Seed of the split.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Fractional bits of the shared arithmetic.
    #[arg(long, default_value_t = 16)]
    frac_bits: u32,

    /// The fewest shared rows to bin.
    #[arg(long, default_value_t = 20)]
    min_rows: usize,

    /// Where to write this party's binning file (data parties).
    #[arg(long, value_name = "BINNING.json")]
    output: Option<PathBuf>,

    /// Replace --output (and its report and charts) if they exist.
    #[arg(long)]
    force: bool,

    /// Seconds to wait for a peer's next message.
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    timeout: f64,

    /// No progress display.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum ModeArg {
    /// The label holder learns the owners' bins' WOE (FATE's leakage).
    Default,
    /// Nobody learns a bin's WOE or counts; only IVs.
    Strict,
    /// The owner learns its bins' WOE too (SecretFlow's leakage).
    OwnerTransform,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum MethodArg {
    /// Bins of equal row counts.
    Quantile,
    /// Bins of equal width.
    EqualWidth,
}

/// Parses --edges COL=E1,E2,….
fn parse_edges(entries: &[String]) -> Result<Vec<(String, Vec<f64>)>, ArgError> {
    entries
        .iter()
        .map(|e| {
            let bad = |expected| ArgError::Value {
                flag: "--edges",
                value: format!("{e:?}"),
                expected,
            };
            let (col, values) = e
                .split_once('=')
                .ok_or_else(|| bad("expected COL=E1,E2,…"))?;
            let edges = values
                .split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<Result<Vec<f64>, _>>()
                .map_err(|_| bad("every edge must be a number"))?;
            Ok((col.trim().to_string(), edges))
        })
        .collect()
}

/// The files a data party writes beside its binning file.
fn report_paths(output: &Path) -> PathBuf {
    output.with_extension("iv.csv")
}

fn chart_path(output: &Path, feature: &str) -> PathBuf {
    let safe: String = feature
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    output.with_extension(format!("{safe}.svg"))
}

pub fn run(args: Args) -> CliResult {
    let parties = args
        .parties
        .iter()
        .map(|p| parse_party(p))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = parties.iter().map(|(p, _)| p.name.clone()).collect();
    let index = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| format!("{name} is not in the --party list ({})", names.join(", ")))
    };
    let me = index(&args.me)?;
    let label = index(&args.label_holder)?;
    let dealer = args.dealer.as_deref().map(index).transpose()?;
    if dealer.is_none() && names.len() != 2 {
        return Err(format!(
            "without --dealer, a binning job takes exactly two parties (two-party \
             correlations), not {}; name a --dealer for more",
            names.len()
        )
        .into());
    }
    let roles = Roles::new(names.len(), label, dealer)?;
    let role = if me == label {
        PartyRole::Label
    } else if Some(me) == dealer {
        PartyRole::Dealer
    } else {
        PartyRole::Feature
    };
    let settings = Settings {
        mode: match args.mode {
            ModeArg::Default => Mode::Default,
            ModeArg::Strict => Mode::Strict,
            ModeArg::OwnerTransform => Mode::OwnerTransform,
        },
        min_events: args.min_events,
        monotone: args.monotone,
        frac_bits: args.frac_bits,
        shared_permutation: args.shared_permutation,
    };
    settings.check()?;
    let params = BinParams {
        method: match args.method {
            MethodArg::Quantile => Method::Quantile { bins: args.bins },
            MethodArg::EqualWidth => Method::EqualWidth { bins: args.bins },
        },
        edges: parse_edges(&args.edges)?,
        min_share: args.min_share,
        max_categories: args.max_categories,
    };
    params.check()?;
    if !(args.test_fraction >= 0.0 && args.test_fraction < 1.0) {
        return Err("--test-fraction must be in [0, 1)".into());
    }
    // Flags are checked before connecting to anyone.
    match (role, &args.input, &args.output) {
        (PartyRole::Dealer, None, None) => {}
        (PartyRole::Dealer, _, _) => {
            return Err(format!(
                "{} is the dealer and holds no data: drop --input and --output",
                args.me
            )
            .into());
        }
        (_, None, _) => return Err(format!("{} holds data: give --input FILE.csv", args.me).into()),
        (_, _, None) => {
            return Err(
                "give --output BINNING.json: where this party writes its binning file".into(),
            );
        }
        (_, Some(input), Some(output)) => {
            check_destination(output, &[input], args.force)
                .map_err(|e| format!("{}: {e}", output.display()))?;
            let report = report_paths(output);
            check_destination(&report, &[input], args.force)
                .map_err(|e| format!("{}: {e}", report.display()))?;
        }
    }
    if role == PartyRole::Label && args.label_column.is_none() {
        return Err("the label holder needs --label-column".into());
    }
    if role == PartyRole::Feature && args.label_column.is_some() {
        return Err(format!(
            "{} owns features: only the label holder gives --label-column",
            args.me
        )
        .into());
    }
    let table = match &args.input {
        None => Ok(None),
        Some(path) => load_raw_csv(
            path,
            &CsvSpec {
                id_column: args.id.clone(),
                label_column: args.label_column.clone(),
                features: args.features.clone(),
                task: Task::Logistic,
            },
            &args.categorical,
        )
        .map(Some),
    };
    let (table, refusal) = match table {
        Ok(t) => (t, None),
        Err(e) => (None, Some(e)),
    };
    let job = BinningJob {
        parties: names
            .iter()
            .enumerate()
            .map(|(i, n)| JobParty {
                name: n.clone(),
                role: if i == label {
                    PartyRole::Label
                } else if Some(i) == dealer {
                    PartyRole::Dealer
                } else {
                    PartyRole::Feature
                },
            })
            .collect(),
        id_column: args.id.clone(),
        test_fraction: args.test_fraction,
        seed: args.seed,
        method: params.method,
        min_share: params.min_share,
        max_categories: params.max_categories,
        settings,
        nonce: String::new(),
    };
    let run = BinningRun {
        job,
        roles,
        min_rows: args.min_rows,
        edges: params.edges.clone(),
    };

    let limits = timeout_limits(args.timeout)?;
    let (endpoint, stop, addrs) = bind_among(&args.identity, &parties, me, limits)?;
    let bar = spinner(args.quiet)?;
    bar.set_message(format!("connecting to {} parties", addrs.len() - 1));
    let started = Instant::now();
    let mut party_set = mesh(&endpoint, me, &addrs)?;
    let finished = pipeline::run(
        &mut party_set,
        &run,
        match refusal {
            Some(e) => Err(e),
            None => Ok(table.as_ref()),
        },
        &mut settings.kernel(),
        &mut rand::rng(),
        &mut |event| match event {
            Event::Aligned(n) => bar.set_message(format!("{n} rows shared; binning")),
            Event::Binned(f) => bar.set_message(format!("{f} features binned; WOE and IV")),
        },
    );
    bar.finish_and_clear();
    let finished = finished?;
    let counters = party_set.counters();
    stop.done();
    drop(party_set);
    drop(endpoint);
    let [align, local, protocol] = finished.seconds;
    eprintln!(
        "bin {}: {} shared rows; align {align:.2} s, bin {local:.2} s, WOE/IV {protocol:.2} s; total {:.2} s; sent {:.2} MB, received {:.2} MB",
        args.me,
        finished.shared_rows,
        started.elapsed().as_secs_f64(),
        counters.sent as f64 / 1e6,
        counters.received as f64 / 1e6
    );
    if let (Some(file), Some(output)) = (finished.file, &args.output) {
        write_outputs(&args.me, &file, output)?;
    }
    Ok(())
}

/// The binning file, the IV report and the charts this party may draw.
fn write_outputs(me: &str, file: &BinningFile, output: &Path) -> Result<(), LearnError> {
    file.save(output)?;
    let report = report_paths(output);
    write_private(&report, file.iv_report_csv().as_bytes())?;
    let mut charts = 0;
    for f in &file.features {
        if let Some(woe) = &f.woe {
            let rate = f.events.as_ref().map(|e| {
                e.iter()
                    .zip(&f.rows)
                    .map(|(&e, &r)| if r == 0 { 0.0 } else { e as f64 / r as f64 })
                    .collect::<Vec<f64>>()
            });
            let svg = feature_svg(&f.bins.name, &f.labels, &f.rows, rate.as_deref(), woe, f.iv);
            write_private(&chart_path(output, &f.bins.name), svg.as_bytes())?;
            charts += 1;
        }
    }
    for f in &file.foreign {
        if let (Some(woe), Some(e), Some(n)) = (&f.woe, &f.events, &f.non_events) {
            let rows: Vec<u64> = e.iter().zip(n).map(|(a, b)| a + b).collect();
            let rate: Vec<f64> = e
                .iter()
                .zip(&rows)
                .map(|(&e, &r)| if r == 0 { 0.0 } else { e as f64 / r as f64 })
                .collect();
            let labels: Vec<String> = (1..=f.bins).map(|i| format!("bin {i}")).collect();
            let title = format!("{}: {}", f.party, f.name);
            let svg = feature_svg(&title, &labels, &rows, Some(&rate), woe, f.iv);
            write_private(
                &chart_path(output, &format!("{}.{}", f.party, f.name)),
                svg.as_bytes(),
            )?;
            charts += 1;
        }
    }
    eprintln!("bin {me}: IV ranking ({} mode):", file.mode().name());
    for (i, l) in file.iv_ranking().iter().enumerate() {
        eprintln!(
            "  {:>3}. {:<12} {:<24} IV {:.4}  {}",
            i + 1,
            l.party,
            l.feature,
            l.iv,
            strength(l.iv)
        );
    }
    eprintln!(
        "bin {me}: binning file written to {}, IV report to {}, {charts} charts beside them",
        output.display(),
        report.display()
    );
    Ok(())
}
