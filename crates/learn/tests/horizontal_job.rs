//! A whole horizontal job over an in-memory party set
//! ([`indomain_learn::horizontal_job::run_horizontal`]), the entry point a
//! node runs: without DP the model equals plaintext FedAvg on the clients'
//! training splits; with DP every party's model file records ε, δ and the
//! clipping norm; a client with too few rows stops every party before any
//! round.

use indomain_learn::data::{Table, split};
use indomain_learn::fed_dp::FedDp;
use indomain_learn::horizontal::{FedAvgParams, plain_fedavg};
use indomain_learn::horizontal_job::{HorizontalJob, HorizontalOutcome, run_horizontal};
use indomain_learn::model::{HorizontalSpec, JobParty, JobSpec, PartyRole};
use indomain_learn::{LearnError, TrainParams};
use indomain_net::memory::mesh;
use ndarray::Array2;

const NAMES: [&str; 3] = ["hub", "north", "south"];

/// Client c's rows: two features, a noisy linear rule.
fn table(c: usize, n: usize) -> Table {
    let x = Array2::from_shape_fn((n, 2), |(i, j)| {
        (((i * 31 + j * 17 + c * 7) % 23) as f64) / 11.0 - 1.0
    });
    let y = (0..n)
        .map(|i| f64::from((x[[i, 0]] - 0.7 * x[[i, 1]] > 0.0) != (i % 9 == c)))
        .collect();
    Table {
        source: format!("client {c}"),
        ids: (0..n).map(|i| format!("r{i}")).collect(),
        lines: (1..=n as u64).collect(),
        feature_names: vec!["a".into(), "b".into()],
        x,
        y: Some(y),
    }
}

fn job(dp: Option<FedDp>) -> HorizontalJob {
    let local = TrainParams::gradient_descent(3, 0.5);
    let fedavg = FedAvgParams {
        clients: 2,
        features: 2,
        rounds: 4,
        local: local.clone(),
        frac_bits: 20,
        max_abs: 1e9,
        dp,
    };
    HorizontalJob {
        spec: JobSpec {
            mode: "horizontal".into(),
            parties: NAMES
                .iter()
                .enumerate()
                .map(|(i, n)| JobParty {
                    name: n.to_string(),
                    role: if i == 0 {
                        PartyRole::Server
                    } else {
                        PartyRole::Client
                    },
                })
                .collect(),
            id_column: String::new(),
            test_fraction: 0.25,
            params: local,
            horizontal: Some(HorizontalSpec {
                columns: vec!["a".into(), "b".into()],
                rounds: 4,
                max_abs: 1e9,
                dp,
            }),
            nonce: String::new(),
        },
        server: 0,
        fedavg,
        min_rows: 10,
    }
}

fn run_all(job: &HorizontalJob, tables: &[Table]) -> Vec<Result<HorizontalOutcome, LearnError>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = mesh(&NAMES)
            .into_iter()
            .enumerate()
            .map(|(i, mut parties)| {
                let table = (i > 0).then(|| &tables[i - 1]);
                s.spawn(move || {
                    run_horizontal(&mut parties, job, Ok(table), &mut rand::rng(), &mut || {})
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn without_dp_the_job_equals_plain_fedavg_on_the_training_splits() {
    let job = job(None);
    let tables = [table(1, 80), table(2, 60)];
    let outcomes: Vec<HorizontalOutcome> = run_all(&job, &tables)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let trains: Vec<Table> = tables
        .iter()
        .map(|t| t.select(&split(t.rows(), 0.25, 0).train))
        .collect();
    let data: Vec<_> = trains
        .iter()
        .map(|t| (t.x.view(), t.y.as_deref().unwrap()))
        .collect();
    let expected = plain_fedavg(&data, &job.fedavg, &vec![vec![0, 1]; 4]).unwrap();
    for o in &outcomes {
        for (w, e) in o.model.weights.iter().zip(&expected.weights) {
            assert!((w - e).abs() < 1e-4, "{w} vs {e}");
        }
        assert!((o.model.intercept.unwrap() - expected.intercept).abs() < 1e-4);
        assert_eq!(o.model.job.nonce, outcomes[0].model.job.nonce);
        assert!(!o.model.job.nonce.is_empty());
    }
    assert_eq!(outcomes[0].model.role, PartyRole::Server);
    assert_eq!(outcomes[0].rounds.len(), 4);
    assert_eq!(outcomes[1].model.rows.train, 60);
    assert!(outcomes[1].model.evaluation.is_some());
}

#[test]
fn with_dp_every_model_file_records_epsilon_delta_and_the_clipping_norm() {
    let dp = FedDp {
        epsilon: 2.0,
        delta: 1e-6,
        clip_norm: 0.5,
        coalition: 0,
    };
    let job = job(Some(dp));
    let tables = [table(1, 80), table(2, 60)];
    for o in run_all(&job, &tables) {
        let o = o.unwrap();
        let recorded = o.model.job.horizontal.as_ref().unwrap().dp.unwrap();
        assert_eq!(recorded, dp);
        assert!(o.model.weights.iter().all(|w| w.is_finite()));
    }
}

#[test]
fn a_client_with_too_few_rows_stops_every_party_before_any_round() {
    let job = job(None);
    let tables = [table(1, 80), table(2, 8)];
    for o in run_all(&job, &tables) {
        let e = o.unwrap_err().to_string();
        assert!(e.contains("south") || e.contains("client 2"), "{e}");
    }
}
