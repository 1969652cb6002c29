//! `indomain job submit | list | status | cancel | result | budget`: talk
//! to the local node over its control socket.
//!
//! Output goes through [`Out`]: when the reader of stdout goes away
//! (`job list | head -1`) the command stops quietly instead of failing.

use super::CliResult;
use indomain_node::config::NodeConfig;
use indomain_node::control::{self, JobSummary, Request, Response};
use indomain_node::jobspec::JobSpec;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `indomain job`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// Where the node's control socket is.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct Target {
    /// The node's configuration (its `control_socket` is used).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The node's control socket.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Submit a job spec (TOML): the node checks it and proposes it to the
    /// other parties at once, each of which accepts or refuses under its
    /// policy. Waits until every party answered (up to --timeout) and says
    /// whether the job is running, refused (exit status 1; a refusal by
    /// any party withdraws the job everywhere) or still pending (the
    /// parties named have not answered yet; the job runs if they accept).
    Submit {
        #[command(flatten)]
        target: Target,
        /// The job spec.
        spec: PathBuf,
        /// Seconds to wait for every party's answer.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
    },
    /// List the jobs the node knows (those of earlier runs too).
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Show one job, with its phase and progress while it runs. JOB is
    /// the job id, or PROPOSER/ID when several proposers used the id.
    Status {
        #[command(flatten)]
        target: Target,
        /// The job id (or PROPOSER/ID).
        job_id: String,
    },
    /// Cancel a job that has not finished, at every party: a running job
    /// stops at its next message, each party records who cancelled it, and
    /// nothing is released.
    Cancel {
        #[command(flatten)]
        target: Target,
        /// The job id (or PROPOSER/ID).
        job_id: String,
    },
    /// Show a finished job's outputs: on stderr each output's commitment
    /// and the absolute paths of its file and salt file (give both to a
    /// third party to let it check the output against the signed
    /// receipts), on stdout the outputs' contents.
    Result {
        #[command(flatten)]
        target: Target,
        /// The job id (or PROPOSER/ID).
        job_id: String,
    },
    /// Show the differential-privacy budgets of the node's policy: per
    /// rule with `dp = { … }`, dataset and receiver, the month's (ε, δ)
    /// and what remains of it this UTC month (jobs still running count as
    /// spent). A job that would overspend is refused before any data is
    /// read.
    Budget {
        #[command(flatten)]
        target: Target,
    },
}

impl Target {
    fn socket(&self) -> Result<PathBuf, Box<dyn std::error::Error + Send + Sync>> {
        match (&self.socket, &self.config) {
            (Some(s), _) => Ok(s.clone()),
            (None, Some(c)) => Ok(NodeConfig::load(c)?.control_socket),
            (None, None) => Err("give --config or --socket".into()),
        }
    }
}

/// Standard output that treats a reader gone away as the end of the
/// command, not an error.
pub struct Out(std::io::Stdout);

impl Out {
    pub fn new() -> Out {
        Out(std::io::stdout())
    }

    /// Writes `bytes`; a closed pipe ends the process quietly (status 0:
    /// the reader took what it wanted).
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut lock = self.0.lock();
        match lock.write_all(bytes).and_then(|()| lock.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            other => other,
        }
    }

    /// Writes `line` and a newline.
    pub fn line(&mut self, line: &str) -> std::io::Result<()> {
        self.write(format!("{line}\n").as_bytes())
    }
}

fn print(out: &mut Out, job: &JobSummary) -> std::io::Result<()> {
    out.line(&format!(
        "{}  {}  {}  proposed by {}  spec {}",
        job.job_id, job.protocol, job.state, job.proposer, job.spec_hash
    ))?;
    if !job.detail.is_empty() {
        out.line(&format!("    {}", job.detail))?;
    }
    if !job.phase.is_empty() {
        let progress = if job.progress.is_empty() {
            String::new()
        } else {
            format!(" ({})", job.progress)
        };
        out.line(&format!("    now: {}{progress}", job.phase))?;
    }
    Ok(())
}

pub fn run(args: Args) -> CliResult {
    let (target, request) = match args.command {
        Command::Submit {
            target,
            spec,
            timeout,
        } => {
            // With the configuration at hand, check the spec against it here,
            // so that problems are named by the spec's file and line.
            let config = target.config.as_deref().map(NodeConfig::load).transpose()?;
            let spec = JobSpec::load(&spec, config.as_ref().map(NodeConfig::known).as_ref())?;
            let wait_secs = Some(timeout);
            (target, Request::Submit { spec, wait_secs })
        }
        Command::List { target } => (target, Request::List),
        Command::Status { target, job_id } => (target, Request::Status { job_id }),
        Command::Cancel { target, job_id } => (target, Request::Cancel { job_id }),
        Command::Result { target, job_id } => (target, Request::Result { job_id }),
        Command::Budget { target } => (target, Request::Budget),
    };
    let submitted = match &request {
        Request::Submit { wait_secs, .. } => Some(wait_secs.unwrap_or(0)),
        _ => None,
    };
    let mut out = Out::new();
    match control::call(&target.socket()?, &request)? {
        Response::Job(job) => {
            print(&mut out, &job)?;
            match (submitted, job.state.as_str()) {
                (Some(_), "refused") => {
                    return Err(format!("job {} refused: {}", job.job_id, job.detail).into());
                }
                (Some(waited), "proposed") => eprintln!(
                    "job {} is pending: not every party answered within {waited} s ({}); it \
                     runs if they accept — see `indomain job status {}`",
                    job.job_id, job.phase, job.job_id
                ),
                (Some(_), "running") => {
                    eprintln!("job {} is running: every party accepted", job.job_id)
                }
                _ => {}
            }
        }
        Response::Jobs { jobs } => {
            for job in &jobs {
                print(&mut out, job)?;
            }
        }
        Response::Outputs {
            job_id,
            outputs,
            files,
            salts,
        } => {
            // The commitments and files on stderr, the outputs this node
            // received on stdout, so that `job result` can be piped.
            for o in outputs {
                let c = o.hash.as_deref().unwrap_or("not released");
                eprintln!("{job_id}  {} -> {}  commitment {c}", o.name, o.receiver);
            }
            for (file, salt) in files.iter().zip(&salts) {
                eprintln!("{job_id}  file {}  salt {}", file.display(), salt.display());
            }
            for file in files {
                let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                out.write(&bytes)?;
            }
        }
        Response::Budget { budgets } => {
            if budgets.is_empty() {
                eprintln!("no rule of the node's policy sets a DP budget");
            }
            for b in &budgets {
                out.line(&format!(
                    "{}  dataset {} for {}  {}: ε = {}, δ = {} (ρ = {:.6}); remaining ρ = {:.6} (ε = {:.4} at δ = {})",
                    b.rule,
                    b.dataset,
                    b.receiver,
                    b.month,
                    b.epsilon,
                    b.delta,
                    b.rho,
                    b.remaining_rho,
                    b.remaining_epsilon,
                    b.delta
                ))?;
            }
        }
        Response::Error { message } => return Err(message.into()),
    }
    Ok(())
}
