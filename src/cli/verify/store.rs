//! The operator's store directory, and reading datasets from CSV (SQLite
//! sources are read by [`super::sqlite`]).
//!
//! ```text
//! DIR/signing.key            ed25519 seed (hex, owner-only)
//! DIR/signing.pub            the public key clients pin (hex)
//! DIR/current                "VERSION.REVISION" being served
//! DIR/usage.recorded         the usage log that last recorded usage (so a
//!                            lost log is not a silent quota reset)
//! DIR/v<V>/oprf.key          the version's OPRF key (hex, owner-only)
//! DIR/v<V>/snapshot.csv      the records of the latest revision (for --update)
//! DIR/v<V>/table-<R>.bin     the published table of revision R
//! DIR/v<V>/commitment-<R>.bin  its signed commitment (bincode)
//! DIR/v<V>/delta-<R>.bin     the change from revision R-1 (R >= 1)
//! ```
//!
//! The store is private: the directory and each `v<V>` are 0700, and every
//! file (the snapshot holds the whole registry in plaintext) is 0600,
//! written to a new file and renamed into place ([`indomain_node::private`]).

use ed25519_dalek::SigningKey;
use indomain_verify::VerifyError;
use indomain_verify::commit::{SignedCommitment, parse_hex};
use indomain_verify::oprf::OprfKey;
use indomain_verify::publish::{Dataset, Published};
use indomain_verify::record::Record;
use indomain_verify::service::ServedDelta;
use indomain_verify::table::Table;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The operator's store.
pub struct Store {
    pub dir: PathBuf,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> VerifyError {
    move |source| VerifyError::Io { context, source }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `text` as the whole of `path`: a private file (0600), replaced
/// atomically.
fn write(path: &Path, text: &[u8]) -> Result<(), VerifyError> {
    indomain_node::private::write(path, text).map_err(io(format!("writing {}", path.display())))
}

/// Creates (or narrows) a private directory of the store.
fn private_dir(dir: &Path) -> Result<(), VerifyError> {
    indomain_node::private::dir(dir).map_err(io(format!("creating {}", dir.display())))
}

fn read(path: &Path) -> Result<Vec<u8>, VerifyError> {
    std::fs::read(path).map_err(io(format!("reading {}", path.display())))
}

fn read_hex<const N: usize>(path: &Path) -> Result<[u8; N], VerifyError> {
    let text = String::from_utf8(read(path)?).unwrap_or_default();
    parse_hex::<N>(text.trim()).ok_or_else(|| {
        VerifyError::Input(format!("{} does not hold {N} bytes of hex", path.display()))
    })
}

impl Store {
    /// The store at `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Store, VerifyError> {
        private_dir(dir)?;
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    fn version_dir(&self, version: u64) -> PathBuf {
        self.dir.join(format!("v{version}"))
    }

    /// The signing key, created on first use.
    pub fn signing_key(&self) -> Result<SigningKey, VerifyError> {
        let path = self.dir.join("signing.key");
        if path.exists() {
            return Ok(SigningKey::from_bytes(&read_hex::<32>(&path)?));
        }
        let mut seed = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
        let key = SigningKey::from_bytes(&seed);
        write(&path, hex(&seed).as_bytes())?;
        let public = hex(&key.verifying_key().to_bytes());
        write(&self.dir.join("signing.pub"), public.as_bytes())?;
        Ok(key)
    }

    /// The (version, revision) being served, if any.
    pub fn current(&self) -> Result<Option<(u64, u64)>, VerifyError> {
        let path = self.dir.join("current");
        if !path.exists() {
            return Ok(None);
        }
        let text = String::from_utf8(read(&path)?).unwrap_or_default();
        let parsed = text
            .trim()
            .split_once('.')
            .and_then(|(v, r)| Some((v.parse().ok()?, r.parse().ok()?)));
        parsed.map(Some).ok_or_else(|| {
            VerifyError::Input(format!("{} should read VERSION.REVISION", path.display()))
        })
    }

    /// The usage log that last recorded client usage, if any has.
    pub fn usage_recorded(&self) -> Result<Option<String>, VerifyError> {
        let path = self.dir.join("usage.recorded");
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(
            String::from_utf8_lossy(&read(&path)?).trim().to_string(),
        ))
    }

    /// Remembers that `log` has recorded client usage.
    pub fn mark_usage_recorded(&self, log: &Path) -> Result<(), VerifyError> {
        let path = self.dir.join("usage.recorded");
        write(&path, log.display().to_string().as_bytes())
    }

    /// The OPRF key of `version`.
    pub fn oprf_key(&self, version: u64) -> Result<OprfKey, VerifyError> {
        let path = self.version_dir(version).join("oprf.key");
        OprfKey::from_bytes(read_hex::<32>(&path)?)
            .ok_or_else(|| VerifyError::Input(format!("{} is not an OPRF key", path.display())))
    }

    /// Loads a published revision.
    pub fn load(&self, version: u64, revision: u64) -> Result<Published, VerifyError> {
        let dir = self.version_dir(version);
        let bytes = read(&dir.join(format!("table-{revision}.bin")))?;
        let c = read(&dir.join(format!("commitment-{revision}.bin")))?;
        let commitment: SignedCommitment = indomain_net::wire::decode_msg("the store", &c)
            .map_err(|e| VerifyError::Input(format!("commitment-{revision}.bin: {e}")))?;
        Ok(Published {
            table: Table::decode(&bytes)?,
            bytes,
            commitment,
        })
    }

    /// The deltas giving revisions 1..=`revision` of `version`, each with
    /// its revision's signed commitment.
    pub fn deltas(&self, version: u64, revision: u64) -> Result<Vec<ServedDelta>, VerifyError> {
        let dir = self.version_dir(version);
        (1..=revision)
            .map(|r| {
                let c = read(&dir.join(format!("commitment-{r}.bin")))?;
                let commitment: SignedCommitment = indomain_net::wire::decode_msg("the store", &c)
                    .map_err(|e| VerifyError::Input(format!("commitment-{r}.bin: {e}")))?;
                let delta = read(&dir.join(format!("delta-{r}.bin")))?;
                Ok((commitment, std::sync::Arc::new(delta)))
            })
            .collect()
    }

    /// Saves a new version's key (before anything is published with it).
    pub fn save_key(&self, version: u64, key: &OprfKey) -> Result<(), VerifyError> {
        let dir = self.version_dir(version);
        private_dir(&dir)?;
        write(&dir.join("oprf.key"), hex(&key.to_bytes()).as_bytes())
    }

    /// Saves a published revision, its delta and snapshot, then makes it
    /// current.
    pub fn save(
        &self,
        p: &Published,
        delta: Option<&[u8]>,
        snapshot: &Dataset,
    ) -> Result<(), VerifyError> {
        let (v, r) = (p.table.version, p.table.revision);
        let dir = self.version_dir(v);
        private_dir(&dir)?;
        write(&dir.join(format!("table-{r}.bin")), &p.bytes)?;
        let c = bincode::serde::encode_to_vec(&p.commitment, bincode::config::standard())
            .map_err(|e| VerifyError::Input(format!("encoding the commitment: {e}")))?;
        write(&dir.join(format!("commitment-{r}.bin")), &c)?;
        if let Some(d) = delta {
            write(&dir.join(format!("delta-{r}.bin")), d)?;
        }
        write_snapshot(&dir.join("snapshot.csv"), snapshot)?;
        write(&self.dir.join("current"), format!("{v}.{r}").as_bytes())
    }

    /// The records of the current revision of `version`.
    pub fn snapshot(&self, version: u64) -> Result<Dataset, VerifyError> {
        let path = self.version_dir(version).join("snapshot.csv");
        let mut reader = csv::Reader::from_path(&path)
            .map_err(|e| VerifyError::Input(format!("{}: {e}", path.display())))?;
        let headers = reader
            .headers()
            .map_err(|e| VerifyError::Input(format!("{}: {e}", path.display())))?
            .clone();
        let names: Vec<&str> = headers.iter().collect();
        let (attributes, labels): (Vec<&str>, Vec<&str>) =
            names.iter().skip(1).partition(|n| n.starts_with("attr:"));
        let spec = DatasetSpec {
            key: names.first().copied().unwrap_or("key").to_string(),
            attributes: attributes.iter().map(|a| a.to_string()).collect(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
        };
        let mut d = read_dataset(&path, &spec)?;
        let strip = |v: &mut Vec<String>, prefix: &str| {
            for n in v.iter_mut() {
                *n = n.strip_prefix(prefix).unwrap_or(n).to_string();
            }
        };
        strip(&mut d.attributes, "attr:");
        strip(&mut d.label_columns, "label:");
        Ok(d)
    }
}

/// Writes the records of `d` to `path`, a private file.
fn write_snapshot(path: &Path, d: &Dataset) -> Result<(), VerifyError> {
    let err = |e: csv::Error| VerifyError::Input(format!("writing {}: {e}", path.display()));
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = std::iter::once("key".to_string())
        .chain(d.attributes.iter().map(|a| format!("attr:{a}")))
        .chain(d.label_columns.iter().map(|l| format!("label:{l}")));
    w.write_record(header).map_err(err)?;
    for r in &d.records {
        let row = std::iter::once(&r.key).chain(&r.values).chain(&r.labels);
        w.write_record(row).map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| VerifyError::Input(format!("writing {}: {e}", path.display())))?;
    write(path, &bytes)
}

/// Which columns (of a CSV file or an SQLite table or query) make a
/// dataset.
pub struct DatasetSpec {
    pub key: String,
    pub attributes: Vec<String>,
    pub labels: Vec<String>,
}

/// Checks a record's key: not empty, and not seen before in `keys`.
pub fn check_key(keys: &mut HashSet<String>, key: &str, column: &str) -> Result<(), KeyProblem> {
    if key.is_empty() {
        return Err(KeyProblem::Empty(column.to_string()));
    }
    if !keys.insert(key.to_string()) {
        return Err(KeyProblem::Repeated(key.to_string()));
    }
    Ok(())
}

/// Why a record's key is refused (the caller names the file and row).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProblem {
    /// The key cell is empty.
    #[error("the key column {0} is empty")]
    Empty(String),
    /// The key is that of an earlier row.
    #[error("key {0} repeats an earlier row")]
    Repeated(String),
}

/// Reads a dataset from a CSV file with a header row. Cells are trimmed;
/// errors name the file and line.
pub fn read_dataset(path: &Path, spec: &DatasetSpec) -> Result<Dataset, VerifyError> {
    let file = path.display().to_string();
    let line_err = |line: usize, reason: String| VerifyError::Line {
        file: file.clone(),
        line,
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| VerifyError::Input(format!("{file}: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| line_err(1, e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| line_err(1, format!("no column named {name}")))
    };
    let key = column(&spec.key)?;
    let attrs = spec
        .attributes
        .iter()
        .map(|a| column(a))
        .collect::<Result<Vec<_>, _>>()?;
    let labels = spec
        .labels
        .iter()
        .map(|l| column(l))
        .collect::<Result<Vec<_>, _>>()?;
    let mut records = Vec::new();
    let mut keys = HashSet::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            line_err(line, e.to_string())
        })?;
        let line = row.position().map_or(0, |p| p.line() as usize);
        let cell = |i: usize| row.get(i).unwrap_or("").to_string();
        let r = Record {
            key: cell(key),
            values: attrs.iter().map(|&i| cell(i)).collect(),
            labels: labels.iter().map(|&i| cell(i)).collect(),
        };
        check_key(&mut keys, &r.key, &spec.key)
            .map_err(|reason| line_err(line, reason.to_string()))?;
        records.push(r);
    }
    Ok(Dataset {
        attributes: spec.attributes.clone(),
        label_columns: spec.labels.clone(),
        records,
    })
}
