//! `indomain psi`: one party of a private set intersection with one peer.

use super::CliResult;
use super::net_args::PeerArgs;
use super::stop;
use indicatif::{ProgressBar, ProgressStyle};
use indomain_net::Channel;
use indomain_node::keys_csv::{Duplicates, KeySpec};
use indomain_node::psi_job::{self, PsiJob};
use indomain_node::psi_resume;
use indomain_psi::{Construction, Job, Mode, Reveal, Role};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Run one process per party, with the same --mode, --protocol, --reveal,
--case-fold, --batch and --sum-bound on both sides; one side gives --listen ADDR, the
other --connect ADDR. By default the connecting side is the receiver (it
computes the matches); in intersection-sum mode the side with --value is
the sender. Each party learns the other's number of keys.

OUT.csv is written only if the run completes:
  intersection      the key columns (normalised) of the matching rows, in
                    input order
  join              the matching input rows, whole, in an order both
                    parties share (row i at one party is the same key as
                    row i at the other)
  cardinality,      one row: items,peer_items,intersection_size,
  intersection-sum  intersection_sum; a cell is empty where this party
                    does not learn it

Keys are trimmed and, with --case-fold, lowercased; the summary on stderr
states the normalisation, the repeated keys dropped, the matches, the time
and the bytes sent and received.";

/// Arguments of `indomain psi`; the text after the options in `--help`
/// explains roles and output columns.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    net: PeerArgs,

    /// The CSV file with this party's keys (with a header row).
    #[arg(long, value_name = "FILE.csv")]
    input: PathBuf,

    /// The key column(s), by header name; several make one key.
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',', required = true)]
    key: Vec<String>,

    /// Where to write what this party learns (see below). Refused for the
    /// sender of intersection or cardinality with --reveal receiver (the
    /// default), which learns nothing to write.
    #[arg(long, value_name = "OUT.csv")]
    output: Option<PathBuf>,

    /// What to compute.
    #[arg(long, value_enum, default_value_t = ModeArg::Intersection)]
    mode: ModeArg,

    /// The construction (both parties must agree): rr22 (VOLE and OKVS,
    /// fast) for intersection and join, ecdh for every mode. Default: rr22
    /// where the mode allows it, else ecdh.
    #[arg(long, value_enum)]
    protocol: Option<ProtocolArg>,

    /// Who learns the result in intersection and cardinality modes: by
    /// default the receiver only; `both` gives it to the sender too (join
    /// always reveals to both; intersection-sum has fixed outputs).
    #[arg(long, value_enum, default_value_t = RevealArg::Receiver)]
    reveal: RevealArg,

    /// This party's role; by default the --connect side is the receiver
    /// (in intersection-sum mode: the side with --value is the sender).
    #[arg(long, value_enum)]
    role: Option<RoleArg>,

    /// Lowercase keys after trimming.
    #[arg(long)]
    case_fold: bool,

    /// What to do with a key that appears on several rows.
    #[arg(long, value_enum, default_value_t = DuplicatesArg::Error)]
    duplicates: DuplicatesArg,

    /// intersection-sum: the column of non-negative integers to sum (the
    /// party that gives it is the sender and learns the sum).
    #[arg(long, value_name = "COL")]
    value: Option<String>,

    /// intersection-sum: the largest total that may be recovered (at most
    /// 2^44); the value holder refuses to run if its values total more.
    #[arg(long, value_name = "N", default_value_t = (1u64 << 40) - 1)]
    sum_bound: u64,

    /// Keys a batch (both parties must agree).
    #[arg(long, value_name = "N", default_value_t = 4096)]
    batch: usize,

    /// The most keys accepted from the peer.
    #[arg(long, value_name = "N", default_value_t = 1 << 26)]
    max_peer_items: usize,

    /// Run in N buckets by a keyed hash (intersection and join only; both
    /// parties must agree). The input is spooled to OUT.csv.indomain-spool
    /// (a private file, removed at the end; a party without --output spools
    /// to INPUT.indomain-spool in --spool-dir) and read back one bucket at a
    /// time, so memory
    /// follows the largest bucket, not the input: take about one bucket per
    /// 2^18 keys of the larger side (2^26 keys: --buckets 256). A line per
    /// completed bucket is appended to OUT.csv.indomain-resume: the same
    /// command run again resumes after the last bucket both parties
    /// completed.
    #[arg(long, value_name = "N")]
    buckets: Option<usize>,

    /// With --buckets, for a party without --output: the directory its
    /// spool goes into (created private if missing; default: the input's
    /// directory). A spool a killed run left there is removed by the next
    /// run of the same command before anything else.
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,

    /// Replace --output if it exists (it may never be the input).
    #[arg(long)]
    force: bool,

    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum ModeArg {
    /// The matching keys.
    Intersection,
    /// Only how many keys match.
    Cardinality,
    /// Count and sum of the sender's --value over the matching keys.
    IntersectionSum,
    /// Both parties' matching rows, aligned.
    Join,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum ProtocolArg {
    /// VOLE and OKVS (Raghuraman–Rindal 2022): intersection and join.
    Rr22,
    /// ECDH on ristretto255: every mode.
    Ecdh,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum RevealArg {
    /// Only the receiver learns the result.
    Receiver,
    /// Both parties learn it.
    Both,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum RoleArg {
    /// Computes the matches.
    Receiver,
    /// Sends its keys blinded; holds the values in intersection-sum mode.
    Sender,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum DuplicatesArg {
    /// Refuse the input, naming the lines of the first repeat.
    Error,
    /// Keep each key's first row and drop the rest.
    First,
}

pub fn run(args: Args) -> CliResult {
    let mode = match args.mode {
        ModeArg::Intersection => Mode::Intersection,
        ModeArg::Cardinality => Mode::Cardinality,
        ModeArg::IntersectionSum => Mode::IntersectionSum,
        ModeArg::Join => Mode::Join,
    };
    let role = match (mode, args.role, &args.value) {
        (Mode::IntersectionSum, Some(RoleArg::Receiver), Some(_)) => {
            return Err("in intersection-sum mode the party with --value is the sender".into());
        }
        (Mode::IntersectionSum, Some(RoleArg::Sender), None) => {
            return Err(
                "in intersection-sum mode the sender holds the values: give --value COL".into(),
            );
        }
        (Mode::IntersectionSum, _, Some(_)) => Role::Sender,
        (Mode::IntersectionSum, _, None) => Role::Receiver,
        (_, _, Some(_)) => return Err("--value is only used in intersection-sum mode".into()),
        (_, Some(RoleArg::Receiver), None) => Role::Receiver,
        (_, Some(RoleArg::Sender), None) => Role::Sender,
        (_, None, None) if args.net.connect.is_some() => Role::Receiver,
        (_, None, None) => Role::Sender,
    };
    let construction = match args.protocol {
        None => Construction::fastest(mode),
        Some(ProtocolArg::Ecdh) => Construction::Ecdh,
        Some(ProtocolArg::Rr22) if Construction::Rr22.supports(mode) => Construction::Rr22,
        Some(ProtocolArg::Rr22) => {
            return Err(
                format!("--protocol rr22 cannot compute {mode}: use --protocol ecdh").into(),
            );
        }
    };
    let mut job = Job::new(mode).with_construction(construction);
    job.reveal = match args.reveal {
        RevealArg::Receiver => Reveal::Receiver,
        RevealArg::Both => Reveal::Both,
    };
    job.batch = args.batch;
    job.sum_bound = args.sum_bound;
    job.max_peer_items = args.max_peer_items;
    let psi = PsiJob {
        job,
        role,
        keys: KeySpec {
            columns: args.key.iter().map(|k| k.trim().to_string()).collect(),
            case_fold: args.case_fold,
            duplicates: match args.duplicates {
                DuplicatesArg::Error => Duplicates::Error,
                DuplicatesArg::First => Duplicates::KeepFirst,
            },
            value_column: args.value.clone(),
        },
        input: args.input.clone(),
        output: args.output.clone(),
        replace_output: args.force,
        buckets: args.buckets,
        spool_dir: args.spool_dir.clone(),
    };
    if let Some(dir) = &args.spool_dir {
        if psi.output.is_some() {
            return Err("with --output the spool goes beside the output: drop --spool-dir".into());
        }
        indomain_node::private::dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // Refuse a wrong --output before waiting for the peer.
    if psi.learns_output() != psi.output.is_some() {
        return Err(match psi.output {
            None => format!(
                "this party ({role}) learns the result of {mode} mode: give --output OUT.csv"
            ),
            Some(_) => format!(
                "the {role} learns no result with --reveal receiver (the default): drop --output, or give --reveal both to both parties"
            ),
        }
        .into());
    }
    let prepared = psi.prepare()?;
    if let (Some(_), Some(out)) = (psi.buckets, &psi.output) {
        let state = psi_resume::path_for(out);
        if state.exists() {
            eprintln!("psi: resuming from {}", state.display());
        }
    }
    let (endpoint, mut channel) = args.net.open_peer()?;
    let stop = stop::Guard::new(endpoint.stop_handle());
    eprintln!(
        "psi {mode} by {construction}: connected to {} as {role}",
        channel.peer()
    );
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} keys ({per_sec}, eta {eta})",
            )
            .map_err(|e| e.to_string())?,
        )
    };
    let summary = psi_job::run(&mut channel, &psi, prepared, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    });
    bar.finish_and_clear();
    let summary = summary?;
    stop.done();
    eprintln!("{summary}");
    Ok(())
}
