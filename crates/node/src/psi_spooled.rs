//! A bucketed PSI job over a CSV file too large to hold: the library's
//! [`BucketSource`] over bucket files spooled to disk ([`Spool`]), with the
//! output written as buckets complete and the append-only resume file
//! ([`psi_resume`]).
//!
//! Once the bucket key is agreed, one pass over the input spools every row
//! (its key, and for a join the whole row) to its bucket; a second pass
//! over the bucket files, one at a time, drops repeated keys (a key's
//! repeats land in its bucket) and counts each bucket's distinct keys. Each
//! bucket's run then reads only that bucket back. A join writes each
//! bucket's matched rows as the bucket completes; an intersection marks the
//! matched rows (one bit a row) and writes their keys in input order in a
//! last pass over the input. So this party holds one bucket's rows at a
//! time, plus one bit per input row for an intersection.

use crate::keys_csv::{self, Duplicates, Layout, decode_columns, encode_key};
use crate::output::AtomicOutput;
use crate::psi_job::{PsiJob, PsiJobError};
use crate::psi_resume::{self, BucketLine, Found, Log};
use crate::psi_spool::{Record, Spool};
use indomain_psi::buckets::{
    BucketKey, BucketResult, BucketSource, Header, InputDigest, Split, bucket_of,
};
use indomain_psi::{Items, Mode, PsiError};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// One bucket read back: its records, and which of them are kept (the
/// first row of each key), in input order.
pub(crate) struct Loaded {
    bytes: Vec<u8>,
    /// Byte offsets in `bytes` of the kept records.
    kept: Vec<usize>,
    /// Rows dropped as repeats.
    dropped: u64,
    /// The earliest repeat: (its row, its offset, the offset of the key's
    /// first row).
    first_repeat: Option<(u64, u64, u64)>,
}

impl Loaded {
    fn record(&self, i: usize) -> Record<'_> {
        Spool::records(&self.bytes[self.kept[i]..])
            .next()
            .and_then(Result::ok)
            .map(|(_, r)| r)
            .unwrap_or(Record {
                row: 0,
                offset: 0,
                key: &[],
                payload: &[],
            })
    }

    /// The number of kept keys.
    pub(crate) fn len(&self) -> usize {
        self.kept.len()
    }
}

/// The CSV side of a bucketed run: spools, hands over buckets, writes the
/// output and the resume file.
pub(crate) struct Spooled<'a> {
    job: &'a PsiJob,
    layout: &'a Layout,
    /// The spool's path.
    spool_path: PathBuf,
    /// Whether the spool keeps whole rows (a join with an output).
    rows: bool,
    spool: Option<Spool>,
    /// The bucket handed over last.
    current: Option<(usize, Loaded)>,
    out: Option<csv::Writer<&'a mut AtomicOutput>>,
    log_path: Option<PathBuf>,
    found: Option<Found>,
    log: Option<Log>,
    /// Matched rows, one bit each (intersection).
    marked: Vec<u64>,
    /// The digest the spooling pass found.
    pub(crate) input: [u8; 32],
    /// Data rows read.
    pub(crate) rows_read: u64,
    /// Rows dropped as repeated keys.
    pub(crate) duplicates_dropped: u64,
    /// Matches this party learned, over all buckets.
    pub(crate) intersection_size: Option<u64>,
    /// The error behind a failure the library reports only as text.
    pub(crate) failure: Option<PsiJobError>,
}

impl<'a> Spooled<'a> {
    /// A source over `layout`'s file for `job`, spooling to `spool_path`, writing
    /// to `out` and keeping its resume state at `log_path` (where `found`
    /// is what an earlier run left).
    pub(crate) fn new(
        job: &'a PsiJob,
        layout: &'a Layout,
        spool_path: PathBuf,
        out: Option<&'a mut AtomicOutput>,
        log_path: Option<PathBuf>,
        found: Option<Found>,
    ) -> Self {
        Self {
            job,
            layout,
            spool_path,
            rows: job.job.mode == Mode::Join && out.is_some(),
            spool: None,
            current: None,
            out: out.map(csv::Writer::from_writer),
            log_path,
            found,
            log: None,
            marked: Vec::new(),
            input: [0; 32],
            rows_read: 0,
            duplicates_dropped: 0,
            intersection_size: None,
            failure: None,
        }
    }

    /// Keeps `e` and gives the library its text.
    fn fail(&mut self, e: PsiJobError) -> PsiError {
        let text = e.to_string();
        self.failure = Some(e);
        PsiError::Job(text)
    }

    fn io(&mut self, e: std::io::Error) -> PsiError {
        let path = match &self.spool {
            Some(s) => s.path().to_path_buf(),
            None => self.spool_path.clone(),
        };
        self.fail(PsiJobError::Output { path, source: e })
    }

    fn spool_input(&mut self, bucket_key: &BucketKey, buckets: usize) -> Result<(), PsiError> {
        let spool = Spool::create(&self.spool_path, buckets);
        let mut spool = spool.map_err(|e| self.io(e))?;
        let (layout, spec, path) = (self.layout, &self.job.keys, &self.layout.path);
        let (_, mut reader) = keys_csv::read_layout(path, spec).map_err(|e| self.fail(e))?;
        let mut record = csv::StringRecord::new();
        let mut key = Vec::new();
        let mut payload = Vec::new();
        let mut digest = InputDigest::new();
        let mut row = 0u64;
        loop {
            match keys_csv::next_record(&mut reader, &mut record, path) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(self.fail(e)),
            }
            encode_key(spec, &layout.key_columns, &record, path, &mut key)
                .map_err(|e| self.fail(e))?;
            digest.update(&key);
            payload.clear();
            if self.rows {
                for field in record.iter() {
                    payload.extend_from_slice(&(field.len() as u32).to_le_bytes());
                    payload.extend_from_slice(field.as_bytes());
                }
            }
            let r = Record {
                row,
                offset: record.position().map_or(0, |p| p.byte()),
                key: &key,
                payload: &payload,
            };
            spool
                .push(bucket_of(&key, bucket_key, buckets), &r)
                .map_err(|e| self.io(e))?;
            row += 1;
        }
        spool.finish().map_err(|e| self.io(e))?;
        self.rows_read = row;
        self.input = digest.finish();
        self.spool = Some(spool);
        Ok(())
    }

    /// Reads bucket `b` back and drops its repeated keys.
    fn load(&mut self, b: usize) -> Result<Loaded, PsiError> {
        let spool = self
            .spool
            .as_ref()
            .ok_or_else(|| PsiError::Job("a bucket asked for before spooling".into()))?;
        let bytes = spool.read(b).map_err(|e| self.io(e))?;
        let mut records = Vec::new();
        for r in Spool::records(&bytes) {
            let (at, r) = r.map_err(|e| self.io(e))?;
            records.push((at, r.row, r.offset, r.key));
        }
        // Sort by key then row: in each run of equal keys all but the
        // first row are repeats.
        let mut order: Vec<u32> = (0..records.len() as u32).collect();
        order.par_sort_unstable_by(|&a, &b| {
            let (a, b) = (&records[a as usize], &records[b as usize]);
            a.3.cmp(b.3).then(a.1.cmp(&b.1))
        });
        let mut repeat = vec![false; records.len()];
        let mut first_repeat: Option<(u64, u64, u64)> = None;
        let mut run = 0usize;
        for i in 1..order.len() {
            let (first, this) = (&records[order[run] as usize], &records[order[i] as usize]);
            if this.3 == first.3 {
                repeat[order[i] as usize] = true;
                if first_repeat.is_none_or(|f| this.1 < f.0) {
                    first_repeat = Some((this.1, this.2, first.2));
                }
            } else {
                run = i;
            }
        }
        let kept: Vec<usize> = records
            .iter()
            .zip(&repeat)
            .filter(|(_, r)| !**r)
            .map(|(r, _)| r.0)
            .collect();
        let dropped = (records.len() - kept.len()) as u64;
        drop(records);
        Ok(Loaded {
            bytes,
            kept,
            dropped,
            first_repeat,
        })
    }

    /// Takes in what this party learned in bucket `b` (now or, replayed
    /// from the resume file, in an earlier run).
    fn apply(
        &mut self,
        bucket: &Loaded,
        size: Option<u64>,
        matched: Option<&[u32]>,
    ) -> Result<(), PsiError> {
        if let Some(size) = size {
            *self.intersection_size.get_or_insert(0) += size;
        }
        let Some(matched) = matched else {
            return Ok(());
        };
        for &i in matched {
            if i as usize >= bucket.len() {
                return Err(PsiError::Job(format!(
                    "match {i} out of the bucket's {} keys",
                    bucket.len()
                )));
            }
        }
        match (self.job.job.mode, self.out.as_mut()) {
            (Mode::Join, Some(out)) => {
                let mut failed = None;
                for &i in matched {
                    let fields = fields(bucket.record(i as usize).payload);
                    if let Err(e) = out.write_record(fields) {
                        failed = Some(e);
                        break;
                    }
                }
                if let Some(e) = failed {
                    return Err(self.io(e.into()));
                }
            }
            (_, Some(_)) => {
                for &i in matched {
                    let row = bucket.record(i as usize).row as usize;
                    self.marked[row / 64] |= 1 << (row % 64);
                }
            }
            (_, None) => {}
        }
        Ok(())
    }

    /// Writes the intersection's keys in input order, reading the input a
    /// last time (and refusing it if it changed meanwhile).
    pub(crate) fn write_intersection(&mut self) -> Result<(), PsiJobError> {
        let (Some(out), Mode::Intersection) = (self.out.as_mut(), self.job.job.mode) else {
            return Ok(());
        };
        let (layout, spec, path) = (self.layout, &self.job.keys, &self.layout.path);
        let changed = || PsiJobError::Csv {
            path: path.clone(),
            line: None,
            reason: "the file changed while the job ran".into(),
        };
        let io = |e: csv::Error| PsiJobError::Output {
            path: path.clone(),
            source: e.into(),
        };
        out.write_record(layout.key_columns.iter().map(|&c| &layout.headers[c]))
            .map_err(io)?;
        let (_, mut reader) = keys_csv::read_layout(path, spec)?;
        let mut record = csv::StringRecord::new();
        let mut key = Vec::new();
        let mut digest = InputDigest::new();
        let mut row = 0usize;
        while keys_csv::next_record(&mut reader, &mut record, path)? {
            encode_key(spec, &layout.key_columns, &record, path, &mut key)?;
            digest.update(&key);
            let marked = self.marked.get(row / 64).ok_or_else(changed)?;
            if marked & (1 << (row % 64)) != 0 {
                out.write_record(decode_columns(&key, layout.key_columns.len()))
                    .map_err(io)?;
            }
            row += 1;
        }
        if row as u64 != self.rows_read || digest.finish() != self.input {
            return Err(changed());
        }
        Ok(())
    }

    /// Flushes the output's writer.
    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

/// The fields of a spooled row.
fn fields(mut payload: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((len, rest)) = payload.split_at_checked(4) {
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let Some((field, rest)) = rest.split_at_checked(len) else {
            break;
        };
        out.push(field);
        payload = rest;
    }
    out
}

impl BucketSource for Spooled<'_> {
    fn split(&mut self, bucket_key: &BucketKey, buckets: usize) -> Result<Split, PsiError> {
        self.spool_input(bucket_key, buckets)?;
        let mut sizes = Vec::with_capacity(buckets);
        let mut first_repeat: Option<(u64, u64, u64)> = None;
        for b in 0..buckets {
            let bucket = self.load(b)?;
            sizes.push(bucket.len() as u64);
            self.duplicates_dropped += bucket.dropped;
            if let Some(r) = bucket.first_repeat
                && first_repeat.is_none_or(|f| r.0 < f.0)
            {
                first_repeat = Some(r);
            }
        }
        if let (Duplicates::Error, Some((_, again, first))) =
            (self.job.keys.duplicates, first_repeat)
        {
            let e =
                keys_csv::repeat_error(&self.layout.path, again, first, self.duplicates_dropped);
            return Err(self.fail(e));
        }
        if self.job.job.mode == Mode::Intersection && self.out.is_some() {
            self.marked = vec![0; (self.rows_read as usize).div_ceil(64)];
        }
        Ok(Split {
            sizes,
            input: self.input,
        })
    }

    fn bucket(&mut self, b: usize) -> Result<Items, PsiError> {
        // The previous bucket goes before the next is read.
        self.current = None;
        let bucket = self.load(b)?;
        let items = Items::from_raw((0..bucket.len()).map(|i| bucket.record(i).key));
        self.current = Some((b, bucket));
        Ok(items)
    }

    fn start(&mut self, header: &Header, first: usize) -> Result<(), PsiError> {
        if let (Mode::Join, Some(out)) = (self.job.job.mode, self.out.as_mut()) {
            let headers = &self.layout.headers;
            if let Err(e) = out.write_record(headers) {
                return Err(self.io(e.into()));
            }
        }
        if let Some(path) = self.log_path.clone() {
            self.log = Some(Log::begin(&path, header, self.found.as_ref(), first)?);
        }
        let Some(found) = self.found.take() else {
            return Ok(());
        };
        for b in 0..first {
            let line = found.bucket(b)?;
            let bucket = self.load(b)?;
            self.apply(&bucket, line.intersection_size, line.matched.as_deref())?;
        }
        Ok(())
    }

    fn done(&mut self, b: usize, result: BucketResult) -> Result<(), PsiError> {
        let (at, bucket) = self
            .current
            .take()
            .ok_or_else(|| PsiError::Job(format!("bucket {b} completed but not handed over")))?;
        if at != b {
            return Err(PsiError::Job(format!(
                "bucket {b} completed, bucket {at} handed over"
            )));
        }
        let matched: Option<Vec<u32>> = result
            .matched
            .map(|m| m.into_iter().map(|i| i as u32).collect());
        self.apply(&bucket, result.intersection_size, matched.as_deref())?;
        drop(bucket);
        if let Some(log) = self.log.as_mut() {
            log.append(&BucketLine {
                bucket: b as u64,
                intersection_size: result.intersection_size,
                matched,
            })?;
        }
        Ok(())
    }
}

/// Where the resume file of `output` is, and what it holds.
pub(crate) fn resume_file(
    output: Option<&Path>,
) -> Result<(Option<PathBuf>, Option<Found>), PsiError> {
    let Some(path) = output.map(psi_resume::path_for) else {
        return Ok((None, None));
    };
    let found = psi_resume::load(&path)?;
    Ok((Some(path), found))
}
