//! Running a PSI job of this node: read the keys from CSV, run the protocol
//! with the one peer, and write what this party learns to its output file,
//! which appears only if the run completes.
//!
//! Outputs by mode (the party learns only what the protocol gives it):
//! - intersection: the normalised key columns of the matching rows, in
//!   input order;
//! - join: the matching rows, whole and as in the input, in the order the
//!   two parties share;
//! - cardinality and intersection-sum: one row
//!   `items,peer_items,intersection_size,intersection_sum`, a cell left
//!   empty where this party does not learn it.

use crate::keys_csv::{self, KeySpec, KeyTable, Layout, decode_columns, read_keys, read_layout};
use crate::output::AtomicOutput;
use crate::psi_spool;
use crate::psi_spooled::{self, Spooled};
use indomain_net::{Channel, Counters};
use indomain_psi::{Job, Mode, Outcome, Progress, PsiError, Reveal, Role};
use indomain_psi::{buckets, session};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Everything that can go wrong in a PSI job of this node.
#[derive(Debug, Error)]
pub enum PsiJobError {
    /// The input CSV is malformed or lacks what the job needs.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The line, when the problem is on one.
        line: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// The protocol failed (the error names the peer and phase).
    #[error(transparent)]
    Psi(#[from] PsiError),
    /// The output could not be written.
    #[error("output {}: {source}", path.display())]
    Output {
        /// The destination.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The job asks this party for something it cannot do.
    #[error("{0}")]
    Usage(String),
}

/// One party's PSI job.
#[derive(Debug, Clone)]
pub struct PsiJob {
    /// The protocol parameters, shared with the peer.
    pub job: Job,
    /// This party's role.
    pub role: Role,
    /// Which columns are the key and how they are normalised.
    pub keys: KeySpec,
    /// The input CSV.
    pub input: PathBuf,
    /// Where to write what this party learns (`None` only if it learns
    /// nothing to write).
    pub output: Option<PathBuf>,
    /// Replace an existing output file (`--force`).
    pub replace_output: bool,
    /// Run in this many buckets by a keyed hash (intersection and join
    /// only): the input is spooled to disk and read one bucket at a time
    /// (never whole into memory), and the run is resumable from
    /// `OUT.indomain-resume` beside the output.
    pub buckets: Option<usize>,
    /// Where a party without an output spools a bucketed run
    /// (`INPUT.indomain-spool` there; `None`: beside the input).
    pub spool_dir: Option<PathBuf>,
}

/// What a job checked and read locally before any peer is involved: the
/// keys (or, for a bucketed job, where they are in the file), and the
/// output file it will write (not yet visible).
pub struct Prepared {
    input: Input,
    out: Option<AtomicOutput>,
}

enum Input {
    /// The keys, in memory.
    Table(KeyTable),
    /// The file's columns: a bucketed job spools the keys to disk once the
    /// bucket key is agreed.
    Spooled(Layout),
}

impl PsiJob {
    /// The file a bucketed run of this job spools to: beside the output,
    /// or for a party without one in its spool directory.
    pub fn spool_path(&self) -> PathBuf {
        match &self.output {
            Some(out) => psi_spool::path_for(out),
            None => psi_spool::path_without_output(&self.input, self.spool_dir.as_deref()),
        }
    }

    /// Whether this party learns anything worth an output file.
    pub fn learns_output(&self) -> bool {
        self.role == Role::Receiver
            || !matches!(self.job.mode, Mode::Intersection | Mode::Cardinality)
            || self.job.reveal == Reveal::Both
    }
}

/// What a completed job reports.
#[derive(Debug, Clone)]
pub struct PsiSummary {
    /// The job's mode.
    pub mode: Mode,
    /// This party's role.
    pub role: Role,
    /// Data rows read.
    pub rows_read: usize,
    /// Distinct keys that took part.
    pub items: usize,
    /// Rows dropped as repeated keys.
    pub duplicates_dropped: usize,
    /// How repeats were handled.
    pub duplicates: keys_csv::Duplicates,
    /// The normalisation applied.
    pub normalisation: String,
    /// What the protocol told this party.
    pub outcome: Outcome,
    /// Wall time of the whole job.
    pub elapsed: Duration,
    /// Bytes moved with the peer.
    pub bytes: Counters,
    /// Where the output went.
    pub output: Option<PathBuf>,
}

impl fmt::Display for PsiSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.outcome;
        writeln!(
            f,
            "psi {} as {}: done in {:.2} s",
            self.mode,
            self.role,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "  keys: {} rows read, {} distinct keys used, {} repeated rows {} ({})",
            self.rows_read,
            self.items,
            self.duplicates_dropped,
            match self.duplicates {
                keys_csv::Duplicates::Error => "(refused if any)",
                keys_csv::Duplicates::KeepFirst => "dropped, first row kept",
            },
            self.normalisation
        )?;
        writeln!(f, "  peer items: {}", o.peer_items)?;
        match o.intersection_size {
            Some(m) => writeln!(f, "  matches: {m}")?,
            None => writeln!(f, "  matches: not revealed to this party")?,
        }
        if let Some(s) = o.sum {
            writeln!(f, "  intersection sum: {s}")?;
        }
        writeln!(
            f,
            "  bytes: {} sent, {} received",
            self.bytes.sent, self.bytes.received
        )?;
        match &self.output {
            Some(p) => write!(f, "  output: {}", p.display()),
            None => write!(f, "  output: none (this party learns no result)"),
        }
    }
}

impl PsiJob {
    /// Checks and reads everything local — the output flag against the
    /// role, the input file, the output's destination and directory — so
    /// that a local mistake fails before this node listens or connects.
    pub fn prepare(&self) -> Result<Prepared, PsiJobError> {
        match (self.learns_output(), &self.output) {
            (true, None) => {
                return Err(PsiJobError::Usage(format!(
                    "this party learns the result of {} mode: give an output file",
                    self.job.mode
                )));
            }
            (false, Some(_)) => {
                return Err(PsiJobError::Usage(format!(
                    "the {} learns no result in {} mode revealed to the receiver only: give no output file",
                    self.role, self.job.mode
                )));
            }
            _ => {}
        }
        if let Some(n) = self.buckets {
            if !matches!(self.job.mode, Mode::Intersection | Mode::Join) {
                return Err(PsiJobError::Usage(format!(
                    "{} mode cannot run in buckets (it would reveal a result per bucket): drop --buckets",
                    self.job.mode
                )));
            }
            if n == 0 || n > buckets::MAX_BUCKETS {
                return Err(PsiJobError::Usage(format!(
                    "{n} buckets: give 1 to {}",
                    buckets::MAX_BUCKETS
                )));
            }
        }
        let create = |path: &PathBuf| {
            AtomicOutput::create(path, &[&self.input], self.replace_output).map_err(|source| {
                PsiJobError::Output {
                    path: path.clone(),
                    source,
                }
            })
        };
        // A spool a killed run left behind holds every key: it goes before
        // anything else happens.
        let spool = self.spool_path();
        match std::fs::remove_file(&spool) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(PsiJobError::Output {
                    path: spool,
                    source: e,
                });
            }
            _ => {}
        }
        // The destination first: a mistake there costs no reading.
        let out = self.output.as_ref().map(create).transpose()?;
        let input = match self.buckets {
            Some(_) => Input::Spooled(read_layout(&self.input, &self.keys)?.0),
            None => Input::Table(read_keys(&self.input, &self.keys)?),
        };
        Ok(Prepared { input, out })
    }
}

/// Runs `job` with the peer at the other end of `ch`, on what
/// [`PsiJob::prepare`] read.
pub fn run<C: Channel + ?Sized>(
    ch: &mut C,
    job: &PsiJob,
    prepared: Prepared,
    progress: &mut dyn FnMut(Progress),
) -> Result<PsiSummary, PsiJobError> {
    let start = Instant::now();
    let Prepared { input, mut out } = prepared;
    let output_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PsiJobError::Output { path, source }
    };
    let mut psi_job = job.job.clone();
    psi_job.key_spec = job.keys.describe();
    let before = ch.counters();
    let mut rng = rand::rng();
    let table = match input {
        Input::Table(table) => table,
        Input::Spooled(layout) => {
            return run_spooled(ch, job, &psi_job, &layout, out, progress, start);
        }
    };
    let outcome = match job.role {
        Role::Receiver => session::receiver(ch, &psi_job, &table.items, &mut rng, progress)?,
        Role::Sender => session::sender(
            ch,
            &psi_job,
            &table.items,
            table.values.as_deref(),
            &mut rng,
            progress,
        )?,
    };
    let after = ch.counters();
    if let (Some(out), Some(path)) = (out.as_mut(), job.output.as_deref()) {
        write_output(out, job, &table, &outcome).map_err(|e| match e {
            WriteError::Io(source) => PsiJobError::Output {
                path: path.to_path_buf(),
                source,
            },
            WriteError::Job(e) => e,
        })?;
    }
    if let (Some(out), Some(path)) = (out, job.output.as_deref()) {
        out.commit().map_err(output_err(path))?;
    }
    Ok(PsiSummary {
        mode: job.job.mode,
        role: job.role,
        rows_read: table.rows_read,
        items: table.items.len(),
        duplicates_dropped: table.duplicates_dropped,
        duplicates: job.keys.duplicates,
        normalisation: job.keys.describe(),
        outcome,
        elapsed: start.elapsed(),
        bytes: Counters {
            sent: after.sent - before.sent,
            received: after.received - before.received,
        },
        output: job.output.clone(),
    })
}

/// A bucketed job: the keys spooled to bucket files beside the output and
/// read back one bucket at a time ([`psi_spooled`]), the resume file
/// appended to after every bucket and removed once the output is in place.
fn run_spooled<C: Channel + ?Sized>(
    ch: &mut C,
    job: &PsiJob,
    psi_job: &Job,
    layout: &Layout,
    mut out: Option<AtomicOutput>,
    progress: &mut dyn FnMut(Progress),
    start: Instant,
) -> Result<PsiSummary, PsiJobError> {
    let before = ch.counters();
    let buckets = job.buckets.unwrap_or(1);
    let output = job.output.as_deref();
    let (resume_path, found) = psi_spooled::resume_file(output)?;
    let resume = found.as_ref().map(|f| f.resume());
    let mut source = Spooled::new(
        job,
        layout,
        job.spool_path(),
        out.as_mut(),
        resume_path.clone(),
        found,
    );
    let ran = buckets::run_source(
        ch,
        psi_job,
        job.role,
        buckets,
        &mut source,
        resume,
        &mut rand::rng(),
        progress,
    );
    let totals = match (ran, source.failure.take()) {
        (Ok(t), _) => t,
        (Err(_), Some(e)) => return Err(e),
        (Err(e), None) => return Err(resume_hint(e, resume_path.as_deref())),
    };
    let after = ch.counters();
    source.write_intersection()?;
    let output_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PsiJobError::Output { path, source }
    };
    if let Some(path) = output {
        source.flush().map_err(output_err(path))?;
    }
    let (rows_read, duplicates_dropped) = (source.rows_read, source.duplicates_dropped);
    let intersection_size = source.intersection_size;
    // The bucket files go now, whatever follows.
    drop(source);
    if let (Some(out), Some(path)) = (out, output) {
        out.commit().map_err(output_err(path))?;
    }
    if let Some(path) = &resume_path {
        // The output is in place: the state has served.
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(output_err(path)(e));
            }
            _ => {}
        }
    }
    Ok(PsiSummary {
        mode: job.job.mode,
        role: job.role,
        rows_read: rows_read as usize,
        items: totals.items,
        duplicates_dropped: duplicates_dropped as usize,
        duplicates: job.keys.duplicates,
        normalisation: job.keys.describe(),
        outcome: Outcome {
            role: job.role,
            items: totals.items,
            peer_items: totals.peer_items,
            intersection_size: intersection_size.map(|s| s as usize),
            matched: None,
            sum: None,
        },
        elapsed: start.elapsed(),
        bytes: Counters {
            sent: after.sent - before.sent,
            received: after.received - before.received,
        },
        output: job.output.clone(),
    })
}

/// A refused resume names the state file and how to start afresh.
fn resume_hint(e: PsiError, path: Option<&Path>) -> PsiJobError {
    match (&e, path) {
        (PsiError::Job(why), Some(path)) if why.starts_with("cannot resume") => {
            PsiJobError::Usage(format!(
                "{why}; the state is {} (remove it on both sides to start afresh)",
                path.display()
            ))
        }
        _ => e.into(),
    }
}

enum WriteError {
    Io(std::io::Error),
    Job(PsiJobError),
}

impl From<std::io::Error> for WriteError {
    fn from(e: std::io::Error) -> Self {
        WriteError::Io(e)
    }
}

impl From<csv::Error> for WriteError {
    fn from(e: csv::Error) -> Self {
        WriteError::Io(e.into())
    }
}

fn write_output(
    out: &mut AtomicOutput,
    job: &PsiJob,
    table: &KeyTable,
    outcome: &Outcome,
) -> Result<(), WriteError> {
    let mut w = csv::Writer::from_writer(out);
    match (job.job.mode, &outcome.matched) {
        (Mode::Intersection, Some(matched)) => {
            w.write_record(table.key_columns.iter().map(|&c| &table.headers[c]))?;
            let mut own: Vec<usize> = matched.clone();
            own.sort_unstable();
            for i in own {
                w.write_record(decode_columns(
                    table.items.get(i).unwrap_or_default(),
                    table.key_columns.len(),
                ))?;
            }
        }
        (Mode::Join, Some(matched)) => {
            w.write_record(&table.headers)?;
            for record in matched_rows(job, table, matched).map_err(WriteError::Job)? {
                w.write_record(&record)?;
            }
        }
        _ => {
            let cell = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
            w.write_record([
                "items",
                "peer_items",
                "intersection_size",
                "intersection_sum",
            ])?;
            w.write_record([
                outcome.items.to_string(),
                outcome.peer_items.to_string(),
                cell(outcome.intersection_size.map(|m| m as u64)),
                cell(outcome.sum),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

/// The input rows of the matched items, in the order of `matched`, read in
/// a second pass over the file (only the matched rows are held). The file
/// must not have changed since the keys were read.
fn matched_rows(
    job: &PsiJob,
    table: &KeyTable,
    matched: &[usize],
) -> Result<Vec<csv::StringRecord>, PsiJobError> {
    const NONE: u32 = u32::MAX;
    let mut rank = vec![NONE; table.rows_read];
    for (r, &i) in matched.iter().enumerate() {
        rank[table.rows[i] as usize] = r as u32;
    }
    let mut rows = vec![csv::StringRecord::new(); matched.len()];
    let mut reader = keys_csv::open(&table.path)?;
    let mut record = csv::StringRecord::new();
    let mut row = 0usize;
    let changed = |line| PsiJobError::Csv {
        path: table.path.clone(),
        line,
        reason: "the file changed while the job ran".into(),
    };
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => return Err(changed(keys_csv::line_of(&table.path, &record))),
        }
        let r = *rank
            .get(row)
            .ok_or_else(|| changed(keys_csv::line_of(&table.path, &record)))?;
        if r != NONE {
            let i = matched[r as usize];
            let key = keys_csv::key_of(&job.keys, &table.key_columns, &record, &table.path)?;
            if key.get(0) != table.items.get(i) {
                return Err(changed(keys_csv::line_of(&table.path, &record)));
            }
            rows[r as usize] = record.clone();
        }
        row += 1;
    }
    if row != table.rows_read {
        return Err(changed(None));
    }
    Ok(rows)
}
