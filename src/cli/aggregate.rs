//! `indomain aggregate`: one party of an N-party secure statistics job.

use super::CliResult;
use super::arg_error::ArgError;
use super::net_args::{bind_among, party_addrs, spinner, timeout_limits};
use super::stop;
use indomain_aggregate::dp::{Clip, DEFAULT_DELTA, DpSpec};
use indomain_aggregate::stats::job::{DEFAULT_FRAC_BITS, DEFAULT_MAX_ABS};
use indomain_aggregate::stats::{CountDecision, DpCalibration, Statistic, StatsJob, serve_dealer};
use indomain_net::quic::{Endpoint, Identity, TrustedPeer, mesh};
use indomain_node::aggregate_job::{self, AggregateJob};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Instant;

const AFTER_HELP: &str = "\
Run one process per party (2 to 16). Every party gives the same --party
list in the same order (its own entry included), and the same --stat,
--columns, --group-by categories, --bins, --receivers, --min-group-size,
--frac-bits and --max-abs; the parties check this before anything else.
Each party listens on the address of its own --party entry; start them
in any order within --timeout.

Only the --receivers learn the result, and they write it to --output
(required for them, refused for the others). A group is released only if,
for every receiver, the other parties hold at least --min-group-size of
its rows; otherwise it is suppressed for everyone: its statistics are
never opened, and the output marks it `suppressed`. Histogram cells
follow the same rule.

--dealer NAME names a party of the --party list that holds no data (no
--input, no --output) and deals correlated randomness: suppression is
then decided by a secure comparison of the shared counts, and no party
learns the count of a suppressed group or cell (a histogram column with
one suppressed cell has a second one suppressed, since the group count
would give it away). The dealer learns only how many groups and cells
there are. Two data parties need no dealer: without --dealer they run the
same comparison on correlated randomness they generate themselves
(two-party: oblivious transfer between them; no third organisation is
trusted). With more parties and no --dealer the job is refused, unless
--open-counts-to-decider accepts that the first receiver learns every
group's count, suppressed ones included, and every receiver the counts
of small histogram cells. The summary line names how the comparison's
randomness was produced (\"correlations: dealer NAME\" or \"two-party\").

Receivers learn, for released groups, the count and the sums (sum,
mean), sums and sums of squares (variance) or bin counts (histogram)
behind the statistic; other parties learn only which groups were
released.

--dp-epsilon E releases the result with differential privacy: every data
party clips its values to --clip LO,HI (values outside are clipped, not
refused; required for sum, mean and variance, within the --max-abs range)
and adds its share of discrete Gaussian noise to its secret share before
anything is opened, so every count and statistic the receivers see is
noisy, and the whole release is (E, --dp-delta)-DP in any one row of any
party. By default each party's share alone carries the full noise, so the
guarantee holds even if every data party but one pools its noise with a
receiver; --dp-coalition K calibrates for at most K such parties instead
(less noise each). Suppression is then decided on the noisy counts: by
the --dealer's secure comparison, or, without a dealer, by opening the
noisy counts to the first receiver (no --open-counts-to-decider needed).
Groups pass if their noisy count reaches --min-group-size. Mean and
variance are computed from the noisy sums and counts. The summary line
gives the achieved epsilon and the noise's standard deviation.

OUT.csv (long format, one row per group and column):
  count:     group,status,count
  sum:       group,status,column,count,sum
  mean:      group,status,column,count,sum,mean
  variance:  group,status,column,count,sum,sum_squares,mean,variance
  histogram: group,status,column,bin_lower,bin_upper,count";

/// Arguments of `indomain aggregate`; the text after the options in
/// `--help` explains the party list, who learns what and the output.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Directory with this node's node.crt and node.key (made by `indomain
    /// keygen`).
    #[arg(long, value_name = "DIR")]
    identity: PathBuf,

    /// This party's name (its entry in the --party list).
    #[arg(long, value_name = "NAME")]
    me: String,

    /// Every party of the job, in the agreed order, as
    /// NAME=sha256:<fingerprint>@HOST:PORT (the fingerprint as `indomain
    /// keygen` printed it). Repeat once per party, this one included.
    #[arg(long = "party", value_name = "NAME=FINGERPRINT@ADDR", required = true)]
    parties: Vec<String>,

    /// The CSV file with this party's rows (with a header row); not for
    /// the dealer.
    #[arg(long, value_name = "FILE.csv")]
    input: Option<PathBuf>,

    /// The party that deals correlated randomness for the secure
    /// comparison of counts with --min-group-size; it holds no data.
    #[arg(long, value_name = "NAME")]
    dealer: Option<String>,

    /// Without a --dealer: decide suppression by opening every group's
    /// count to the first receiver, which then learns the counts of
    /// suppressed groups.
    #[arg(long, conflicts_with = "dealer")]
    open_counts_to_decider: bool,

    /// The statistic to compute.
    #[arg(long, value_enum)]
    stat: StatArg,

    /// The numeric columns, by header name (not needed for count).
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    columns: Vec<String>,

    /// The category column to group by (needs --categories).
    #[arg(long, value_name = "COL", requires = "categories")]
    group_by: Option<String>,

    /// The agreed, public categories of --group-by; a row with any other
    /// category is an error.
    #[arg(
        long,
        value_name = "CAT[,CAT]",
        value_delimiter = ',',
        requires = "group_by"
    )]
    categories: Vec<String>,

    /// Histogram bin edges, increasing: e0,e1,...,ek makes k bins [e_i,
    /// e_i+1) (the last one closed), plus counts below e0 and above ek.
    #[arg(
        long,
        value_name = "E0,E1,...",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    bins: Vec<f64>,

    /// The parties that learn the result, by name.
    #[arg(
        long,
        value_name = "NAME[,NAME]",
        value_delimiter = ',',
        required = true
    )]
    receivers: Vec<String>,

    /// A group is released only if, for every receiver, the other parties
    /// hold at least K of its rows (K ≥ 3); histogram cells follow the
    /// same rule (see below for who learns what).
    #[arg(long, value_name = "K")]
    min_group_size: u64,

    /// Fractional bits of the fixed-point encoding (statistics are computed
    /// in a 128-bit ring; the default holds 9 decimal digits).
    #[arg(long, value_name = "F", default_value_t = DEFAULT_FRAC_BITS)]
    frac_bits: u32,

    /// The bound on |x| for every input value; a larger value is an error
    /// naming its file, line and column. Totals are checked not to overflow
    /// 2^127 for this bound before they are opened (with the defaults: more
    /// than 10^10 rows).
    #[arg(long, value_name = "X", default_value_t = DEFAULT_MAX_ABS)]
    max_abs: f64,

    /// Release with differential privacy: ε of the whole result (> 0).
    #[arg(long, value_name = "E", allow_hyphen_values = true)]
    dp_epsilon: Option<f64>,

    /// With --dp-epsilon: δ of the whole result.
    #[arg(long, value_name = "D", default_value_t = DEFAULT_DELTA, requires = "dp_epsilon")]
    dp_delta: f64,

    /// With --dp-epsilon: the bounds every value is clipped to (required
    /// for sum, mean and variance).
    #[arg(
        long,
        value_name = "LO,HI",
        value_delimiter = ',',
        num_args = 1,
        allow_hyphen_values = true,
        requires = "dp_epsilon"
    )]
    clip: Vec<f64>,

    /// With --dp-epsilon: the most data parties that may pool their noise
    /// with a receiver (default: all but one).
    #[arg(long, value_name = "K", requires = "dp_epsilon")]
    dp_coalition: Option<usize>,

    /// Where a receiver writes the result, in the format described
    /// below (OUT.csv).
    #[arg(long, value_name = "OUT.csv")]
    output: Option<PathBuf>,

    /// Replace --output if it exists (it may never be the input).
    #[arg(long)]
    force: bool,

    /// Seconds to wait for a peer's next message before giving up, and for
    /// the other parties to come (connecting ones are tried again while
    /// they do not answer, so parties may start in any order).
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    timeout: f64,

    /// No progress display.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum StatArg {
    /// Rows per group.
    Count,
    /// Column totals.
    Sum,
    /// Column means.
    Mean,
    /// Column sample variances.
    Variance,
    /// Column histograms over --bins.
    Histogram,
}

/// One `--party` entry: NAME=sha256:<hex>@HOST:PORT.
pub(super) fn parse_party(entry: &str) -> Result<(TrustedPeer, SocketAddr), ArgError> {
    let (peer, addr) = entry.rsplit_once('@').ok_or_else(|| ArgError::PartyForm {
        entry: entry.to_string(),
    })?;
    let trusted: TrustedPeer = peer.parse().map_err(|source| ArgError::PartyPeer {
        entry: entry.to_string(),
        source,
    })?;
    let addr = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ArgError::PartyAddr {
            entry: entry.to_string(),
            addr: addr.to_string(),
        })?;
    Ok((trusted, addr))
}

pub fn run(args: Args) -> CliResult {
    let parties = args
        .parties
        .iter()
        .map(|p| parse_party(p))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<&str> = parties.iter().map(|(p, _)| p.name.as_str()).collect();
    let index = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| format!("{name} is not in the --party list ({})", names.join(", ")))
    };
    let me = index(&args.me)?;
    let receivers = args
        .receivers
        .iter()
        .map(|r| index(r))
        .collect::<Result<Vec<_>, _>>()?;
    let statistic = match args.stat {
        StatArg::Count => Statistic::Count,
        StatArg::Sum => Statistic::Sum,
        StatArg::Mean => Statistic::Mean,
        StatArg::Variance => Statistic::Variance,
        StatArg::Histogram if args.bins.is_empty() => {
            return Err("--stat histogram needs --bins E0,E1,...".into());
        }
        StatArg::Histogram => Statistic::Histogram {
            edges: args.bins.clone(),
        },
    };
    if !args.bins.is_empty() && !matches!(statistic, Statistic::Histogram { .. }) {
        return Err("--bins is only used with --stat histogram".into());
    }
    let job = StatsJob {
        statistic,
        columns: args.columns.iter().map(|c| c.trim().to_string()).collect(),
        categories: args.group_by.as_ref().map(|_| args.categories.clone()),
        receivers,
        min_group_size: args.min_group_size,
        frac_bits: args.frac_bits,
        max_abs: args.max_abs,
    };
    // Refuse a bad job before waiting for peers.
    job.validate(parties.len())?;
    let dp = dp_spec(&args, &job.statistic)?;
    let decision = match &args.dealer {
        Some(name) => CountDecision::Compared {
            dealer: index(name)?,
        },
        None if dp.is_some() && args.open_counts_to_decider => {
            return Err("with --dp-epsilon the counts are opened noisy to the first receiver without --open-counts-to-decider: drop it".into());
        }
        None if dp.is_some() => CountDecision::NoisyCounts,
        None if args.open_counts_to_decider => CountDecision::OpenedToDecider,
        // Two data parties and no dealer: they generate the comparison's
        // correlated randomness themselves.
        None if parties.len() == 2 => CountDecision::ComparedTwoParty,
        None => {
            return Err(format!(
                "give --dealer NAME (a party that holds no data) so that suppression is decided without opening any count (two parties alone need none), or --open-counts-to-decider to let {} see every group's count",
                names[job.receivers[0]]
            )
            .into());
        }
    };
    if let Some(spec) = &dp {
        // The whole DP check (bounds against the range, noise against the
        // ring), before any data is read or any peer is waited for.
        DpCalibration::new(&job, spec, decision.data_parties(parties.len()))?;
    }
    if let CountDecision::Compared { dealer } = decision {
        if job.receivers.contains(&dealer) {
            return Err(format!(
                "the dealer {} holds no data and cannot be a receiver",
                names[dealer]
            )
            .into());
        }
        if me == dealer {
            return run_dealer(&args, &parties, me);
        }
    }
    let Some(input) = args.input.clone() else {
        return Err(format!("{} holds data: give --input FILE.csv", args.me).into());
    };
    let job = AggregateJob {
        job,
        group_by: args.group_by.clone(),
        input,
        output: args.output.clone(),
        replace_output: args.force,
        dp,
    };
    if job.job.receivers.contains(&me) != args.output.is_some() {
        return Err(match args.output {
            None => format!("{} is a result receiver: give --output OUT.csv", args.me),
            Some(_) => format!(
                "{} is not a result receiver and learns no result: drop --output",
                args.me
            ),
        }
        .into());
    }
    let limits = timeout_limits(args.timeout)?;
    let identity = Identity::load(&args.identity)?;
    let prepared = job.prepare(me, parties.len(), decision.data_parties(parties.len()))?;
    let trusted = parties
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != me)
        .map(|(_, (p, _))| p.clone())
        .collect();
    let endpoint = Endpoint::bind(&identity, parties[me].1, trusted, limits)?;
    let stop = stop::Guard::new(endpoint.stop_handle());
    let addrs = party_addrs(&parties);
    let bar = spinner(args.quiet)?;
    bar.set_message(format!("connecting to {} parties", addrs.len() - 1));
    let mut party_set = mesh(&endpoint, me, &addrs)?;
    let summary = aggregate_job::run_with(&mut party_set, &job, prepared, decision, &mut |phase| {
        bar.set_message(phase.to_string())
    });
    bar.finish_and_clear();
    if summary.is_err() {
        // Before the links are dropped, so that they close as stopped.
        stop.failed();
    }
    let summary = summary?;
    stop.done();
    eprintln!("aggregate {}: {summary}", args.me);
    if let Some(trust) = decision.trust(&names) {
        eprintln!("aggregate {}: correlations: {trust}", args.me);
    }
    drop(party_set);
    drop(endpoint);
    Ok(())
}

/// The DP spec of the command line, checked on its own (`None` without
/// --dp-epsilon).
fn dp_spec(args: &Args, statistic: &Statistic) -> Result<Option<DpSpec>, ArgError> {
    let Some(epsilon) = args.dp_epsilon else {
        return Ok(None);
    };
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(ArgError::Value {
            flag: "--dp-epsilon",
            value: epsilon.to_string(),
            expected: "give a finite number above 0",
        });
    }
    let clip = match args.clip.as_slice() {
        [] => None,
        [lo, hi] => Some(Clip::new(*lo, *hi).map_err(|_| ArgError::Value {
            flag: "--clip",
            value: format!("{lo},{hi}"),
            expected: "give finite bounds LO < HI",
        })?),
        other => {
            return Err(ArgError::Count {
                flag: "--clip",
                expected: "two bounds LO,HI",
                given: other.len(),
            });
        }
    };
    match (statistic, clip) {
        (Statistic::Count, Some(_)) => {
            return Err(ArgError::Combination(
                "--stat count reads no values: drop --clip",
            ));
        }
        (Statistic::Sum | Statistic::Mean | Statistic::Variance, None) => {
            return Err(ArgError::Combination(
                "--dp-epsilon with a sum, mean or variance needs --clip LO,HI: the bounds every value is clipped to, which set how much one row can change the result",
            ));
        }
        _ => {}
    }
    let spec = DpSpec {
        epsilon,
        delta: args.dp_delta,
        clip,
        coalition: args.dp_coalition,
    };
    spec.check()?;
    Ok(Some(spec))
}

/// The dealer of a job decided by comparison: deals masks, their bits and
/// Beaver triples to the data parties until their leader is done. It holds
/// no data and learns only the sizes of the requests.
fn run_dealer(args: &Args, parties: &[(TrustedPeer, SocketAddr)], me: usize) -> CliResult {
    if args.input.is_some() {
        return Err(format!("{} is the dealer and holds no data: drop --input", args.me).into());
    }
    if args.output.is_some() {
        return Err(format!(
            "{} is the dealer and learns no result: drop --output",
            args.me
        )
        .into());
    }
    let (endpoint, stop, addrs) =
        bind_among(&args.identity, parties, me, timeout_limits(args.timeout)?)?;
    let bar = spinner(args.quiet)?;
    bar.set_message(format!("connecting to {} parties", addrs.len() - 1));
    let started = Instant::now();
    let mut party_set = mesh(&endpoint, me, &addrs)?;
    bar.set_message("dealing correlated randomness");
    let dealt = serve_dealer(&mut party_set, &mut rand::rng());
    bar.finish_and_clear();
    if dealt.is_err() {
        stop.failed();
    }
    dealt?;
    stop.done();
    let bytes = party_set.counters();
    eprintln!(
        "aggregate {} (dealer): {:.2} s; {} bytes sent, {} received; this party holds no data and learns no result",
        args.me,
        started.elapsed().as_secs_f64(),
        bytes.sent,
        bytes.received
    );
    drop(party_set);
    drop(endpoint);
    Ok(())
}
