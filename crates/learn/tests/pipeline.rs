//! A whole vertical job, every party on its own thread over in-memory
//! links: PSI alignment, split, standardisation, secure training, joint
//! scoring, evaluation, contribution report and model files — checked
//! against the plaintext reference on the joined files, for 2 and 3 data
//! parties, logistic and linear.

use indomain_learn::align::Roles;
use indomain_learn::calibration::{Calibration, Method};
use indomain_learn::data::{CsvSpec, Table, read_csv};
use indomain_learn::metrics::Evaluation;
use indomain_learn::model::{JobParty, JobSpec, ModelFile, PartyRole};
use indomain_learn::pipeline::{self, Releases, VerticalJob};
use indomain_learn::{EarlyStopping, Sigmoid, Task, TrainParams, plain, reference, secure};
use indomain_mpc::sigmoid::sigmoid_approx;
use indomain_net::memory::mesh;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn noise(i: u64, salt: u64) -> f64 {
    let mut z = i
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(salt.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z ^= z >> 31;
    z = z.wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 29;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Files for the label holder and `holders` feature holders: 2 columns
/// each; party p has ids p·7 .. p·7 + n (so the shared rows are fewer
/// than any file's), rows in reverse order at odd parties.
fn tables(holders: usize, n: u64, task: Task) -> Vec<Table> {
    let feat = |i: u64, k: u64| noise(i, k) * 4.0 - 2.0;
    let truth = |i: u64| -> f64 {
        (0..=holders as u64)
            .map(|p| 0.9 * feat(i, 2 * p) - 0.6 * feat(i, 2 * p + 1) * (p as f64 + 1.0) / 2.0)
            .sum::<f64>()
    };
    (0..=holders as u64)
        .map(|p| {
            let mut text = if p == 0 {
                String::from("id,y,a0,a1\n")
            } else {
                format!("id,b{p}0,b{p}1\n")
            };
            let ids: Vec<u64> = if p % 2 == 1 {
                (p * 7..p * 7 + n).rev().collect()
            } else {
                (p * 7..p * 7 + n).collect()
            };
            for i in ids {
                // Feature scales differ, so standardisation matters.
                let (u, v) = (feat(i, 2 * p) * 10.0 + 3.0, feat(i, 2 * p + 1) * 0.5);
                if p == 0 {
                    let y = match task {
                        Task::Logistic => f64::from(truth(i) + (noise(i, 99) - 0.5) * 2.0 > 0.0),
                        Task::Linear => truth(i) + (noise(i, 99) - 0.5) * 0.2,
                    };
                    text.push_str(&format!("id{i:04},{y},{u},{v}\n"));
                } else {
                    text.push_str(&format!("id{i:04},{u},{v}\n"));
                }
            }
            read_csv(
                text.as_bytes(),
                &format!("party{p}.csv"),
                &CsvSpec {
                    id_column: "id".into(),
                    label_column: (p == 0).then(|| "y".into()),
                    features: None,
                    task,
                },
            )
            .unwrap()
        })
        .collect()
}

/// Runs the job: parties label, feature holders…, dealer (last).
fn run(tables: &[Table], params: TrainParams, contribution: bool) -> Vec<Option<ModelFile>> {
    run_job(
        tables,
        params,
        contribution,
        Releases::every_data_party,
        None,
    )
    .into_iter()
    .map(Result::unwrap)
    .collect()
}

/// [`run`] with the releases `releases` gives for the roles, and each
/// party's generator seeded from `seed` (plus its index) when given.
fn run_job(
    tables: &[Table],
    params: TrainParams,
    contribution: bool,
    releases: impl Fn(&Roles) -> Releases,
    seed: Option<u64>,
) -> Vec<Result<Option<ModelFile>, String>> {
    let holders = tables.len() - 1;
    let mut names: Vec<String> = vec!["bank".into()];
    names.extend((1..=holders).map(|p| format!("holder{p}")));
    names.push("dealer".into());
    let dealer = names.len() - 1;
    let job = VerticalJob {
        spec: JobSpec {
            mode: "vertical".into(),
            parties: names
                .iter()
                .enumerate()
                .map(|(i, n)| JobParty {
                    name: n.clone(),
                    role: match i {
                        0 => PartyRole::Label,
                        d if d == dealer => PartyRole::Dealer,
                        _ => PartyRole::Feature,
                    },
                })
                .collect(),
            id_column: "id".into(),
            test_fraction: 0.25,
            params,
            horizontal: None,
            nonce: String::new(),
        },
        roles: Roles::new(names.len(), 0, Some(dealer)).unwrap(),
        min_rows: 20,
        contribution,
    };
    let releases = releases(&job.roles);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let sets = mesh(&refs);
    std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .enumerate()
            .map(|(i, mut set)| {
                let (job, releases) = (&job, &releases);
                let table = tables.get(i).filter(|_| i != dealer);
                s.spawn(move || {
                    let mut trainer = secure::Trainer::new(job.spec.params.frac_bits);
                    let mut rng = match seed {
                        Some(seed) => StdRng::seed_from_u64(seed + i as u64),
                        None => StdRng::from_rng(&mut rand::rng()),
                    };
                    pipeline::run_with(
                        &mut set,
                        job,
                        releases,
                        Ok(table),
                        &mut trainer,
                        &mut rng,
                        &mut |_| {},
                    )
                    .map(|o| o.model)
                    .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Checks every model file against the plaintext reference (the converged
/// optimum for the default optimizer, the same gradient descent
/// otherwise), each weight within `tol` + `relative`·|weight|; returns
/// the files and the reference.
fn check_against_plaintext(
    holders: usize,
    task: Task,
    params: TrainParams,
    (tol, relative): (f64, f64),
) -> (Vec<Option<ModelFile>>, reference::Reference) {
    let tables = tables(holders, 400, task);
    let models = run(&tables, params.clone(), false);
    assert!(models[holders + 1].is_none(), "the dealer got a model");
    let refs: Vec<&Table> = tables.iter().collect();
    let activation = match (task, params.sigmoid) {
        (Task::Logistic, Sigmoid::Linear) => Some(sigmoid_approx as fn(f64) -> f64),
        _ => None,
    };
    let want = reference::vertical(&refs, 0.25, &params, activation).unwrap();
    let hash = &models[0].as_ref().unwrap().job_hash;
    for (p, m) in models[..=holders].iter().enumerate() {
        let m = m.as_ref().unwrap();
        assert_eq!(&m.job_hash, hash);
        assert_eq!(m.weights.len(), want.weights[p].len());
        for (g, w) in m.weights.iter().zip(&want.weights[p]) {
            assert!(
                (g - w).abs() < tol + relative * w.abs(),
                "party {p}: {:?} vs {:?}",
                m.weights,
                want.weights[p]
            );
        }
        assert_eq!(m.intercept.is_some(), p == 0);
        assert_eq!(m.rows, models[0].as_ref().unwrap().rows);
    }
    let bank = models[0].as_ref().unwrap();
    let b = want.fit.intercept;
    assert!((bank.intercept.unwrap() - b).abs() < tol + relative * b.abs());
    // With early stopping, both stopped after the same epoch.
    if params.early_stopping.is_some() {
        assert_eq!(
            bank.validation_loss_per_epoch.len(),
            want.fit.validation_loss.len()
        );
        assert!(
            bank.validation_loss_per_epoch.len() < params.epochs,
            "did not stop early"
        );
    }
    let end = bank.training.unwrap();
    assert_eq!(end.converged, params.convergence.is_some());
    assert_eq!(end.epochs, bank.loss_per_epoch.len());
    assert_eq!(bank.rows.train + bank.rows.test, want.shared_rows);
    match (bank.evaluation.unwrap(), task) {
        (Evaluation::Classification(c), Task::Logistic) => assert!(c.auc > 0.8, "{c:?}"),
        (Evaluation::Regression(r), Task::Linear) => assert!(r.r2 > 0.8, "{r:?}"),
        (e, _) => panic!("{e:?}"),
    }
    (models, want)
}

/// The label holder's reliability table is the plaintext computation on
/// the held-out rows scored with the model files' weights (up to the
/// joint scoring's fixed point), and close to the plaintext optimum's;
/// the held-out probabilities are within 2·10^-3 of the optimum's.
fn check_calibration(models: &[Option<ModelFile>], want: &reference::Reference) {
    let bank = models[0].as_ref().unwrap();
    let report = bank
        .calibration
        .as_ref()
        .expect("the label holder's calibration report");
    let weights: Vec<f64> = models
        .iter()
        .flatten()
        .flat_map(|m| m.weights.clone())
        .collect();
    let p: Vec<f64> = plain::scores(want.test_x.view(), &weights, bank.intercept.unwrap())
        .into_iter()
        .map(plain::sigmoid)
        .collect();
    for (a, b) in p.iter().zip(&want.test_outputs) {
        assert!((a - b).abs() < 2e-3, "held-out probability {a} vs {b}");
    }
    let plaintext = Calibration::of(&p, &want.test_labels, 10);
    assert_eq!(report.held_out.bins.len(), 10);
    for (a, b) in report.held_out.bins.iter().zip(&plaintext.bins) {
        assert_eq!(a.rows, b.rows);
        assert!((a.predicted - b.predicted).abs() < 1e-4, "{a:?} vs {b:?}");
        assert!(
            (a.observed - b.observed).abs() <= 1.0 / a.rows as f64 + 1e-12,
            "{a:?} vs {b:?}"
        );
    }
    assert!((report.held_out.ece - plaintext.ece).abs() < 0.01);
    let optimum = Calibration::of(&want.test_outputs, &want.test_labels, 10);
    assert!((report.held_out.ece - optimum.ece).abs() < 0.01);
    // The feature holders' files carry no calibration report.
    assert!(
        models[1..]
            .iter()
            .flatten()
            .all(|m| m.calibration.is_none())
    );
}

// The data here are nearly separable (weights about 3): the convergence
// test stops when no validation probability moves by more than 10^-4,
// with the weights within 1 % of the optimum (converged.rs checks the
// weights within 10^-3 on better-conditioned data).
#[test]
fn two_parties_logistic_reaches_the_plaintext_optimum_with_its_calibration() {
    let params = TrainParams::default();
    let (models, want) = check_against_plaintext(1, Task::Logistic, params, (2e-3, 0.01));
    check_calibration(&models, &want);
}

#[test]
fn three_parties_logistic_reaches_the_plaintext_optimum_with_its_calibration() {
    let params = TrainParams::default();
    let (models, want) = check_against_plaintext(2, Task::Logistic, params, (2e-3, 0.01));
    check_calibration(&models, &want);
}

#[test]
fn two_parties_logistic_gradient_descent_equals_plaintext() {
    let params = TrainParams {
        l2: 0.01,
        ..TrainParams::gradient_descent(20, 0.5)
    };
    check_against_plaintext(1, Task::Logistic, params, (2e-3, 0.0));
}

#[test]
fn two_parties_linear_equals_plaintext() {
    let params = TrainParams {
        task: Task::Linear,
        l2: 0.01,
        ..TrainParams::gradient_descent(30, 0.2)
    };
    check_against_plaintext(1, Task::Linear, params, (2e-3, 0.0));
}

#[test]
fn three_parties_linear_with_mini_batches_and_early_stopping_equals_plaintext() {
    let params = TrainParams {
        task: Task::Linear,
        batch_size: Some(64),
        early_stopping: Some(EarlyStopping {
            validation_fraction: 0.2,
            patience: 1,
        }),
        seed: 11,
        ..TrainParams::gradient_descent(40, 0.3)
    };
    check_against_plaintext(2, Task::Linear, params, (3e-3, 0.0));
}

#[test]
fn recalibration_is_fitted_on_the_validation_split_and_recorded() {
    for method in [Method::Platt, Method::Isotonic] {
        let params = TrainParams {
            recalibration: Some(method),
            ..TrainParams::default()
        };
        let tables = tables(1, 400, Task::Logistic);
        let models = run(&tables, params, false);
        let bank = models[0].as_ref().unwrap();
        let map = bank.recalibration.as_ref().expect("a recalibration map");
        assert_eq!(map.method(), method);
        let report = bank.calibration.as_ref().unwrap();
        let recalibrated = report.recalibrated.as_ref().unwrap();
        assert_eq!(recalibrated.method, method);
        assert!(recalibrated.log_loss.is_finite() && recalibrated.log_loss < 0.7);
        assert!(models[1].as_ref().unwrap().recalibration.is_none());
    }
}

#[test]
fn contribution_report_is_in_every_model_file() {
    let tables = tables(2, 300, Task::Logistic);
    let models = run(&tables, TrainParams::default(), true);
    let reports: Vec<_> = models[..3]
        .iter()
        .map(|m| m.as_ref().unwrap().contribution.clone().unwrap())
        .collect();
    assert!(reports.iter().all(|r| *r == reports[0]));
    let r = &reports[0];
    assert_eq!(r.label_holder, "bank");
    assert_eq!(r.joint.feature_holders, ["holder1", "holder2"]);
    assert!(r.label_only.feature_holders.is_empty());
    assert_eq!(r.leave_one_out.len(), 2);
    assert_eq!(r.leave_one_out[0].left_out, "holder1");
    assert_eq!(r.leave_one_out[0].entry.feature_holders, ["holder2"]);
    // The joint model's AUC in the report is the model file's.
    let Some(Evaluation::Classification(c)) = models[0].as_ref().unwrap().evaluation else {
        panic!("no metrics");
    };
    assert!((r.joint.scores.auc - c.auc).abs() < 1e-12);
    // The label depends on every party's columns: each adds something.
    assert!(r.joint_gain() > 0.02, "{r:?}");
    for (who, gain) in r.marginal_gains() {
        assert!(gain > 0.0, "{who}: {gain}");
    }
    // The label-only run equals plaintext training on the bank's columns
    // of the rows every party shares.
    let shared: Vec<usize> = (0..tables[0].rows())
        .filter(|&r| {
            tables[1..]
                .iter()
                .all(|t| t.ids.contains(&tables[0].ids[r]))
        })
        .collect();
    let bank_shared = tables[0].select(&shared);
    let alone = reference::vertical(&[&bank_shared], 0.25, &TrainParams::default(), None).unwrap();
    let expected = indomain_learn::metrics::auc(&alone.test_outputs, &alone.test_labels);
    assert!(
        (r.label_only.scores.auc - expected).abs() < 0.01,
        "{} vs {expected}",
        r.label_only.scores.auc
    );
}

/// A link that records every frame it receives.
struct Recording {
    inner: indomain_net::memory::MemoryChannel,
    log: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl indomain_net::Channel for Recording {
    fn send(&mut self, frame: &[u8]) -> Result<(), indomain_net::NetError> {
        self.inner.send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, indomain_net::NetError> {
        let f = self.inner.recv()?;
        self.log.lock().unwrap().push(f.clone());
        Ok(f)
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> indomain_net::Counters {
        self.inner.counters()
    }
}

#[test]
fn no_party_receives_the_bank_s_rows_labels_or_other_ids() {
    use indomain_net::PartySet;
    use std::sync::{Arc, Mutex};
    let tables = tables(1, 200, Task::Logistic);
    let names = ["bank", "holder1", "dealer"];
    let logs: Vec<Arc<Mutex<Vec<Vec<u8>>>>> = (0..3).map(|_| Arc::default()).collect();
    let mut links: Vec<Vec<Option<Box<dyn indomain_net::Channel>>>> =
        (0..3).map(|_| (0..3).map(|_| None).collect()).collect();
    for i in 0..3 {
        for j in i + 1..3 {
            let (a, b) = indomain_net::memory::pair(names[i], names[j]);
            links[i][j] = Some(Box::new(Recording {
                inner: a,
                log: logs[i].clone(),
            }));
            links[j][i] = Some(Box::new(Recording {
                inner: b,
                log: logs[j].clone(),
            }));
        }
    }
    let owned: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let sets: Vec<PartySet> = links
        .into_iter()
        .enumerate()
        .map(|(me, row)| PartySet::new(me, owned.clone(), row))
        .collect();
    let params = TrainParams::default();
    let job = VerticalJob {
        spec: JobSpec {
            mode: "vertical".into(),
            parties: vec![],
            id_column: "id".into(),
            test_fraction: 0.25,
            params: params.clone(),
            horizontal: None,
            nonce: String::new(),
        },
        roles: Roles::new(3, 0, Some(2)).unwrap(),
        min_rows: 20,
        contribution: true,
    };
    std::thread::scope(|s| {
        for (i, mut set) in sets.into_iter().enumerate() {
            let (job, table) = (&job, tables.get(i).filter(|_| i != 2));
            s.spawn(move || {
                let mut t = secure::Trainer::new(16);
                pipeline::run(
                    &mut set,
                    job,
                    Ok(table),
                    &mut t,
                    &mut rand::rng(),
                    &mut |_| {},
                )
                .unwrap()
            });
        }
    });
    let bank = &tables[0];
    // The bank's raw cells (f64 bits) and its standardised cells as the
    // fixed-point values the secure training encodes (16 fractional bits).
    // Standardised as the pipeline does it: shared rows in id order, split,
    // fitted on the training rows.
    let mut shared: Vec<usize> = (0..bank.rows())
        .filter(|&r| tables[1].ids.contains(&bank.ids[r]))
        .collect();
    shared.sort_by(|&a, &b| bank.ids[a].cmp(&bank.ids[b]));
    let aligned = bank.select(&shared);
    let parts = indomain_learn::data::split(shared.len(), 0.25, params.seed);
    let train = aligned.select(&parts.train);
    let s =
        indomain_learn::data::Standardizer::fit(train.x.view(), &bank.feature_names, "b").unwrap();
    let z = s.apply(train.x.view());
    let mut secrets: Vec<u64> = bank.x.iter().map(|v| v.to_bits()).collect();
    secrets.extend(
        z.iter()
            .filter(|v| v.abs() > 0.5)
            .map(|v| ((v * 65536.0).round() as i64) as u64),
    );
    let secrets: std::collections::HashSet<u64> = secrets.into_iter().collect();
    // Labels as a run of 16 consecutive fixed-point values.
    let labels: Vec<u64> = train.y.as_ref().unwrap()[..16]
        .iter()
        .map(|&y| (y * 65536.0) as u64)
        .collect();
    for (who, log) in [("holder1", &logs[1]), ("dealer", &logs[2])] {
        let frames = log.lock().unwrap();
        assert!(!frames.is_empty());
        for f in frames.iter() {
            let words: Vec<u64> = f
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                .collect();
            assert!(
                !words.iter().any(|w| secrets.contains(w)),
                "{who} received one of the bank's cells"
            );
            assert!(
                !words.windows(labels.len()).any(|w| w == labels),
                "{who} received the bank's labels"
            );
            // Ids the bank alone holds never travel (the join sends only
            // blinded points).
            for only in ["id0000", "id0003", "id0006"] {
                assert!(
                    !f.windows(only.len()).any(|w| w == only.as_bytes()),
                    "{who} received {only}"
                );
            }
        }
    }
}

#[test]
fn the_same_seeds_give_the_same_model() {
    let tables = tables(1, 120, Task::Logistic);
    let params = TrainParams {
        epochs: 3,
        ..TrainParams::default()
    };
    let every = Releases::every_data_party;
    let a = run_job(&tables, params.clone(), false, every, Some(7));
    let b = run_job(&tables, params.clone(), false, every, Some(7));
    let c = run_job(&tables, params, false, every, Some(8));
    for ((a, b), c) in a.iter().zip(&b).zip(&c).take(2) {
        let (a, b, c) = (
            a.as_ref().unwrap(),
            b.as_ref().unwrap(),
            c.as_ref().unwrap(),
        );
        assert_eq!(a, b, "the same seeds gave two models");
        // Other seeds: another job nonce, the same model up to rounding.
        let (a, c) = (a.as_ref().unwrap(), c.as_ref().unwrap());
        assert_ne!(a.job_hash, c.job_hash);
        for (x, y) in a.weights.iter().zip(&c.weights) {
            assert!((x - y).abs() < 1e-3, "{x} vs {y}");
        }
    }
}

#[test]
fn only_the_receivers_of_the_metrics_get_them() {
    let tables = tables(2, 200, Task::Logistic);
    let params = TrainParams {
        epochs: 4,
        ..TrainParams::default()
    };
    let every = run_job(
        &tables,
        params.clone(),
        true,
        Releases::every_data_party,
        Some(3),
    );
    // The metrics and the report to the label holder and the second
    // feature holder only.
    let some = run_job(
        &tables,
        params.clone(),
        true,
        |_| Releases {
            metrics: vec![0, 2],
        },
        Some(3),
    );
    let model = |r: &Result<Option<ModelFile>, String>| r.as_ref().unwrap().clone().unwrap();
    for p in [0, 2] {
        let m = model(&some[p]);
        assert!(
            m.evaluation.is_some() && m.contribution.is_some(),
            "party {p}"
        );
        assert_eq!(m.loss_per_epoch.len(), 4);
        assert_eq!(m, model(&every[p]));
    }
    let left_out = model(&some[1]);
    assert_eq!(left_out.evaluation, None);
    assert_eq!(left_out.contribution, None);
    assert!(left_out.loss_per_epoch.is_empty());
    // Its own weights are what it would have had anyway.
    assert_eq!(left_out.weights, model(&every[1]).weights);

    // Weights only: the held-out rows are not scored; the label holder
    // keeps the training loss that training opened to it.
    let none = run_job(
        &tables,
        params.clone(),
        false,
        |_| Releases::weights_only(),
        Some(3),
    );
    let bank = model(&none[0]);
    assert_eq!(
        (bank.evaluation.as_ref(), bank.contribution.as_ref()),
        (None, None)
    );
    assert_eq!(bank.loss_per_epoch.len(), 4);
    for r in &none[1..=2] {
        let m = model(r);
        assert_eq!(m.evaluation, None);
        assert!(m.loss_per_epoch.is_empty());
    }

    // Metrics that skip the label holder, or a report without metrics,
    // are refused at every party before anything runs.
    for (releases, contribution) in [(vec![1], false), (vec![], true), (vec![0, 3], false)] {
        let out = run_job(
            &tables,
            params.clone(),
            contribution,
            |_| Releases {
                metrics: releases.clone(),
            },
            None,
        );
        for r in &out {
            assert!(r.is_err(), "{releases:?}, {contribution}");
        }
    }
}
