//! `indomain job submit | list | status | cancel | result`: talk to the
//! local node over its control socket.

use super::CliResult;
use indomain_node::config::NodeConfig;
use indomain_node::control::{self, JobSummary, Request, Response};
use indomain_node::jobspec::JobSpec;
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
    /// other parties, each of which accepts or refuses under its policy.
    Submit {
        #[command(flatten)]
        target: Target,
        /// The job spec.
        spec: PathBuf,
    },
    /// List the jobs the node knows.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Show one job.
    Status {
        #[command(flatten)]
        target: Target,
        /// The job id.
        job_id: String,
    },
    /// Cancel a job that has not finished, at every party: a running job
    /// stops at its next message, each party records who cancelled it, and
    /// nothing is released.
    Cancel {
        #[command(flatten)]
        target: Target,
        /// The job id.
        job_id: String,
    },
    /// Show a finished job's outputs.
    Result {
        #[command(flatten)]
        target: Target,
        /// The job id.
        job_id: String,
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

fn print(job: &JobSummary) {
    println!(
        "{}  {}  {}  proposed by {}  spec {}",
        job.job_id, job.protocol, job.state, job.proposer, job.spec_hash
    );
    if !job.detail.is_empty() {
        println!("    {}", job.detail);
    }
}

pub fn run(args: Args) -> CliResult {
    let (target, request) = match args.command {
        Command::Submit { target, spec } => {
            // With the configuration at hand, check the spec against it here,
            // so that problems are named by the spec's file and line.
            let config = target.config.as_deref().map(NodeConfig::load).transpose()?;
            let spec = JobSpec::load(&spec, config.as_ref().map(NodeConfig::known).as_ref())?;
            (target, Request::Submit { spec })
        }
        Command::List { target } => (target, Request::List),
        Command::Status { target, job_id } => (target, Request::Status { job_id }),
        Command::Cancel { target, job_id } => (target, Request::Cancel { job_id }),
        Command::Result { target, job_id } => (target, Request::Result { job_id }),
    };
    let submitted = matches!(request, Request::Submit { .. });
    match control::call(&target.socket()?, &request)? {
        Response::Job(job) => {
            print(&job);
            if submitted && job.state == "refused" {
                return Err(format!("job {} refused: {}", job.job_id, job.detail).into());
            }
        }
        Response::Jobs { jobs } => jobs.iter().for_each(print),
        Response::Outputs {
            job_id,
            outputs,
            files,
        } => {
            // The hashes on stderr, the outputs this node received on
            // stdout, so that `job result` can be piped.
            for o in outputs {
                let hash = o.hash.as_deref().unwrap_or("not released");
                eprintln!("{job_id}  {} -> {}  sha256 {hash}", o.name, o.receiver);
            }
            let mut out = std::io::stdout().lock();
            for file in files {
                let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                std::io::Write::write_all(&mut out, &bytes)?;
            }
        }
        Response::Error { message } => return Err(message.into()),
    }
    Ok(())
}
