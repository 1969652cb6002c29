//! Helpers of the `indomain train` / `indomain predict` end-to-end tests:
//! party identities, generated vertical files, process handling, model
//! files of a made-up job.
// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use indomain_learn::TrainParams;
use indomain_learn::model::ModelFile;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::common::{self, BIN, free_port};

pub struct Party {
    pub name: &'static str,
    pub identity: PathBuf,
    pub entry: String,
}

pub fn parties(dir: &Path, names: &[&'static str]) -> Vec<Party> {
    names
        .iter()
        .map(|&name| {
            let identity = dir.join(format!("{name}-id"));
            let trusted = common::keygen(name, &identity);
            Party {
                name,
                identity,
                entry: format!("{trusted}@127.0.0.1:{}", free_port()),
            }
        })
        .collect()
}

/// A deterministic pseudo-random value in [0, 1) from two integers.
pub fn noise(i: u64, salt: u64) -> f64 {
    let mut z = i
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(salt.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z ^= z >> 31;
    z = z.wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 29;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Bank rows `id,y,age,balance` for ids 0..n and tax rows
/// `id,income,tax_paid,assets` for ids `shift..n + shift`, in a shuffled
/// order; the label depends on columns of both.
pub fn vertical_files(dir: &Path, n: u64, shift: u64) -> (PathBuf, PathBuf) {
    let feat = |i: u64, k: u64| noise(i, k) * 4.0 - 2.0;
    let mut bank = String::from("id,y,age,balance\n");
    let mut tax = String::from("id,income,tax_paid,assets\n");
    for i in 0..n {
        let s = 1.2 * feat(i, 1) - 0.8 * feat(i, 2) + 1.5 * feat(i, 3) + 0.5 * feat(i, 5);
        let y = u8::from(s + (noise(i, 9) - 0.5) * 3.0 > 0.0);
        bank.push_str(&format!(
            "C{i:05},{y},{:.4},{:.4}\n",
            30.0 + 10.0 * feat(i, 1),
            1000.0 * feat(i, 2)
        ));
    }
    for k in 0..n {
        // Reverse order, so the files' row orders differ.
        let i = n + shift - 1 - k;
        tax.push_str(&format!(
            "C{i:05},{:.4},{:.4},{:.4}\n",
            feat(i, 3),
            feat(i, 4),
            50.0 + 5.0 * feat(i, 5)
        ));
    }
    let (b, t) = (dir.join("bank.csv"), dir.join("tax.csv"));
    std::fs::write(&b, bank).unwrap();
    std::fs::write(&t, tax).unwrap();
    (b, t)
}

pub fn spawn(args: &[String]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn base(cmd: &str, parties: &[Party], me: usize) -> Vec<String> {
    let mut a: Vec<String> = vec![
        cmd.into(),
        "--identity".into(),
        parties[me].identity.display().to_string(),
        "--me".into(),
        parties[me].name.into(),
        "--timeout".into(),
        "30".into(),
        "--quiet".into(),
    ];
    for p in parties {
        a.push("--party".into());
        a.push(p.entry.clone());
    }
    a
}

pub fn args(extra: &[&str]) -> Vec<String> {
    extra.iter().map(|s| s.to_string()).collect()
}

pub fn wait_all(children: Vec<Child>) -> Vec<Output> {
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn assert_ok(outs: &[Output]) {
    for (i, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "party {i}: {}", stderr(o));
    }
}

/// One process alone, failing before it connects to anyone.
pub fn refused(cmd: Vec<String>) -> String {
    let out = Command::new(BIN).args(&cmd).output().unwrap();
    assert!(!out.status.success(), "{cmd:?} succeeded");
    stderr(&out)
}

pub fn vertical_args(
    parties: &[Party],
    me: usize,
    input: Option<&Path>,
    model: Option<&Path>,
) -> Vec<String> {
    let mut a = base("train", parties, me);
    a.extend(args(&[
        "--label-holder",
        "bank",
        "--dealer",
        "stats",
        "--id",
        "id",
        "--seed",
        "3",
    ]));
    if me == 0 {
        a.extend(args(&["--label-column", "y"]));
    }
    if let Some(i) = input {
        a.extend(["--input".into(), i.display().to_string()]);
    }
    if let Some(m) = model {
        a.extend(["--model".into(), m.display().to_string()]);
    }
    a
}

/// Model files of one made-up vertical job: bank (label holder) with
/// weights on age and balance, tax with weights on its three columns.
pub fn model_pair(dir: &Path, nonce: &str) -> (PathBuf, PathBuf, ModelFile, ModelFile) {
    use indomain_learn::data::Standardizer;
    use indomain_learn::model::{FORMAT_VERSION, JobParty, JobSpec, PartyRole, Rows};
    let job = JobSpec {
        mode: "vertical".into(),
        parties: vec![
            JobParty {
                name: "bank".into(),
                role: PartyRole::Label,
            },
            JobParty {
                name: "tax".into(),
                role: PartyRole::Feature,
            },
            JobParty {
                name: "stats".into(),
                role: PartyRole::Dealer,
            },
        ],
        id_column: "id".into(),
        test_fraction: 0.25,
        params: TrainParams::default(),
        horizontal: None,
        nonce: nonce.into(),
    };
    let file =
        |party: &str, role, features: &[&str], weights: Vec<f64>, intercept, std: Standardizer| {
            ModelFile {
                format: FORMAT_VERSION,
                job_hash: job.hash(),
                job: job.clone(),
                party: party.into(),
                role,
                features: features.iter().map(|s| s.to_string()).collect(),
                standardizer: Some(std),
                weights,
                intercept,
                roc: Vec::new(),
                rows: Rows { train: 1, test: 1 },
                evaluation: None,
                loss_per_epoch: Vec::new(),
                validation_loss_per_epoch: Vec::new(),
                contribution: None,
                correlations: None,
                written_by: "test".into(),
                training: None,
                calibration: None,
                recalibration: None,
            }
        };
    let bank = file(
        "bank",
        PartyRole::Label,
        &["age", "balance"],
        vec![0.8, -0.5],
        Some(0.1),
        Standardizer {
            mean: vec![30.0, 0.0],
            std: vec![10.0, 1000.0],
            clip: 63.0,
        },
    );
    let tax = file(
        "tax",
        PartyRole::Feature,
        &["income", "tax_paid", "assets"],
        vec![1.1, 0.0, 0.3],
        None,
        Standardizer {
            mean: vec![0.0; 3],
            std: vec![1.0, 1.0, 5.0],
            clip: 63.0,
        },
    );
    let (bp, tp) = (
        dir.join(format!("bank-{nonce}.json")),
        dir.join(format!("tax-{nonce}.json")),
    );
    bank.save(&bp).unwrap();
    tax.save(&tp).unwrap();
    (bp, tp, bank, tax)
}

pub fn predict_args(
    ps: &[Party],
    me: usize,
    model: &Path,
    input: &Path,
    output: Option<&Path>,
) -> Vec<String> {
    let mut a = base("predict", ps, me);
    a.extend([
        "--model".into(),
        model.display().to_string(),
        "--input".into(),
        input.display().to_string(),
    ]);
    if me == 0 {
        a.extend(args(&["--label-column", "y"]));
    }
    if let Some(o) = output {
        a.extend(["--output".into(), o.display().to_string()]);
    }
    a
}

pub trait Mkdir {
    fn tap_mkdir(self) -> Self;
}

impl Mkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
