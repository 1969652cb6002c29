//! Every capability run in memory through the facade alone
//! (`default-features = false`), each checked against the plaintext
//! computation on the same data.

use indomain::aggregate::secagg::sim::{Dropout, simulate_round};
use indomain::aggregate::secagg::{Params, RoundSpec};
use indomain::aggregate::stats::{
    ColumnResult, GroupOutcome, LocalData, Statistic, StatsJob, run_statistics,
};
use indomain::aggregate::sum::{RealEncoding, secure_sum_real};
use indomain::core::FixedPoint;
use indomain::learn::align::Roles;
use indomain::learn::data::Table;
use indomain::learn::metrics::Evaluation;
use indomain::learn::model::{JobParty, JobSpec, PartyRole};
use indomain::learn::pipeline::{self, VerticalJob};
use indomain::learn::{TrainParams, reference, secure};
use indomain::mpc::dealer::{self, DealerClient, DealerLimits};
use indomain::mpc::{Roster, Session};
use indomain::ndarray::Array2;
use indomain::net::Limits;
use indomain::prelude::*;
use indomain::psi::{Items, Job, Mode, Reveal};
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};

#[test]
fn psi_gives_the_intersection_to_the_receiver_only() -> Result<(), Error> {
    let ours: Vec<String> = (0..300).map(|i| format!("id-{i}")).collect();
    let theirs: Vec<String> = (200..500).map(|i| format!("id-{i}")).collect();
    let (mut a, mut b) = (Items::new(), Items::new());
    ours.iter().for_each(|k| a.push_columns(&[k]));
    theirs.iter().for_each(|k| b.push_columns(&[k]));
    // The default reveals the result to the receiver only.
    let job = Job::new(Mode::Intersection).with_key_spec("id");
    assert_eq!(job.reveal, Reveal::Receiver);
    let outcomes = local::run(&["receiver", "sender"], |me, mut links| {
        let ch = links.channel(1 - me)?;
        let mut rng = rand::rng();
        Ok::<_, Error>(if me == 0 {
            job.receive(ch, &a, &mut rng)?
        } else {
            job.send(ch, &b, None, &mut rng)?
        })
    })?;
    let mut got: Vec<&str> = outcomes[0]
        .matched
        .as_deref()
        .ok_or("the receiver learns the rows")?
        .iter()
        .map(|&i| ours[i].as_str())
        .collect();
    got.sort_unstable();
    let mut want: Vec<&str> = ours
        .iter()
        .filter(|k| theirs.contains(k))
        .map(String::as_str)
        .collect();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(outcomes[1].matched, None, "the sender learns no rows");
    Ok(())
}

#[test]
fn secure_sum_of_reals_matches_the_plaintext() -> Result<(), Error> {
    let inputs = [[1.25, -7.5], [1e3, 0.125], [-2.0, 3.0], [0.5, 0.5]];
    let encoding = RealEncoding {
        frac_bits: 20,
        max_abs: 1e4,
    };
    let sums = local::run(&["a", "b", "c", "d"], |me, mut links| {
        secure_sum_real(&mut links, &inputs[me], encoding, &[3], &mut rand::rng())
    })?;
    let got = sums[3].as_ref().ok_or("d receives")?;
    for (i, g) in got.iter().enumerate() {
        let want: f64 = inputs.iter().map(|v| v[i]).sum();
        assert!((g - want).abs() < 1e-5, "{g} vs {want}");
    }
    assert!(sums[..3].iter().all(Option::is_none));
    Ok(())
}

#[test]
fn statistics_give_the_plaintext_mean_per_group() -> Result<(), Error> {
    let data: Vec<LocalData> = (0..3u64)
        .map(|p| {
            let mut rng = StdRng::seed_from_u64(p);
            let groups: Vec<usize> = (0..60).map(|r| r % 2).collect();
            let values = groups
                .iter()
                .map(|&g| 10.0 * g as f64 + rng.random_range(-1.0..1.0))
                .collect();
            LocalData {
                groups,
                columns: vec![values],
            }
        })
        .collect();
    let job = StatsJob {
        statistic: Statistic::Mean,
        columns: vec!["x".into()],
        categories: Some(vec!["g0".into(), "g1".into()]),
        receivers: vec![0],
        min_group_size: 5,
        frac_bits: 16,
        max_abs: 100.0,
    };
    let results = local::run(&["a", "b", "c"], |me, mut links| {
        run_statistics(&mut links, &job, &data[me], &mut rand::rng(), &mut |_| {})
    })?;
    let result = results[0].as_ref().ok_or("a receives")?;
    for (g, group) in result.groups.iter().enumerate() {
        let rows: Vec<f64> = data
            .iter()
            .flat_map(|d| d.groups.iter().zip(&d.columns[0]))
            .filter(|(gr, _)| **gr == g)
            .map(|(_, v)| *v)
            .collect();
        let want = rows.iter().sum::<f64>() / rows.len() as f64;
        let GroupOutcome::Released { count, columns } = &group.outcome else {
            panic!("group {g} suppressed");
        };
        assert_eq!(*count as usize, rows.len());
        let Some(ColumnResult::Mean { mean, .. }) = columns.first() else {
            panic!("no mean");
        };
        assert!((mean.to_f64() - want).abs() < 1e-3, "{mean} vs {want}");
    }
    assert!(results[1].is_none() && results[2].is_none());
    Ok(())
}

#[test]
fn secagg_round_survives_named_dropouts() -> Result<(), Error> {
    let params = Params::from_spec(RoundSpec {
        clients: 6,
        len: 8,
        encoding: RealEncoding {
            frac_bits: 16,
            max_abs: 10.0,
        },
    })?;
    let inputs: Vec<Vec<f64>> = (0..6)
        .map(|c| (0..8).map(|i| (c * 8 + i) as f64 / 10.0).collect())
        .collect();
    let mut plan = vec![Dropout::Never; 6];
    plan[1] = Dropout::BeforeMaskedInput;
    plan[4] = Dropout::BeforeShares;
    let round = simulate_round(&params, &inputs, &plan, Limits::default())?;
    let survivors = &round.output.survivors;
    assert!(!survivors.contains(&1) && !survivors.contains(&4));
    for (i, got) in round.output.sum.iter().enumerate() {
        let want: f64 = survivors.iter().map(|&c| inputs[c][i]).sum();
        assert!((got - want).abs() < 1e-3, "{got} vs {want}");
    }
    Ok(())
}

#[test]
fn beaver_product_matches_the_plaintext() -> Result<(), Error> {
    let x = [1.5, -2.0, 0.25];
    let y = [4.0, 3.5, -8.0];
    let fp = FixedPoint::new(16)?;
    let results = local::run(&["alice", "bob", "dealer"], |me, mut links| {
        if me == 2 {
            dealer::serve(&mut links, DealerLimits::default(), &mut rand::rng())?;
            return Ok::<_, Error>(None);
        }
        let roster = Roster::new(&links, Some(2))?;
        let client = DealerClient::new(&roster)?;
        let mut session = Session::new(&mut links, roster, fp, client);
        let mut input = |owner: usize, values: &[f64]| -> Result<_, Error> {
            let own = (me == owner)
                .then(|| fp.encode_slice(values))
                .transpose()?;
            Ok(session.share_input(owner, own.as_deref(), 3, &mut rand::rng())?)
        };
        let sx = input(0, &x)?;
        let sy = input(1, &y)?;
        let product = session.mul_fixed(&sx, &sy)?;
        let opened = session.open_to(&product, 0)?;
        session.finish()?;
        Ok(opened.map(|v| fp.decode_slice(&v)))
    })?;
    let got = results[0].as_ref().ok_or("alice receives")?;
    for ((a, b), g) in x.iter().zip(&y).zip(got) {
        assert!((g - a * b).abs() < 1e-3, "{g} vs {}", a * b);
    }
    assert!(results[1].is_none());
    Ok(())
}

/// A table of `rows` ids with `cols` features drawn from `seed`.
fn table(rows: usize, cols: usize, seed: u64, label: Option<&Array2<f64>>) -> Table {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((rows, cols), |_| rng.random_range(-1.0..1.0));
    Table {
        source: format!("table-{seed}"),
        ids: (0..rows).map(|i| format!("id-{i}")).collect(),
        lines: (0..rows as u64).collect(),
        feature_names: (0..cols).map(|c| format!("f{seed}-{c}")).collect(),
        y: label.map(|host| {
            (0..rows)
                .map(|r| f64::from(x[[r, 0]] + host[[r, 0]] > 0.0))
                .collect()
        }),
        x,
    }
}

#[test]
fn vertical_training_matches_the_plaintext_model() -> Result<(), Error> {
    let host = table(200, 2, 2, None);
    let guest = table(200, 2, 1, Some(&host.x));
    // The converging defaults.
    let params = TrainParams {
        seed: 0,
        ..TrainParams::default()
    };
    let names = ["guest", "host", "dealer"];
    let job = VerticalJob {
        spec: JobSpec {
            mode: "vertical".into(),
            parties: names
                .iter()
                .zip([PartyRole::Label, PartyRole::Feature, PartyRole::Dealer])
                .map(|(n, role)| JobParty {
                    name: n.to_string(),
                    role,
                })
                .collect(),
            id_column: "id".into(),
            test_fraction: 0.25,
            params: params.clone(),
            horizontal: None,
            nonce: String::new(),
        },
        roles: Roles::new(3, 0, Some(2))?,
        min_rows: 20,
        contribution: false,
    };
    let tables = [Some(&guest), Some(&host), None];
    let outcomes = local::run(&names, |me, mut links| {
        let mut trainer = secure::Trainer::new(job.spec.params.frac_bits);
        pipeline::run(
            &mut links,
            &job,
            Ok(tables[me]),
            &mut trainer,
            &mut rand::rng(),
            &mut |_| {},
        )
    })?;
    let model = outcomes[0].model.as_ref().ok_or("the guest has the model")?;
    let plain = reference::vertical(&[&guest, &host], 0.25, &params, None)?;
    let auc = |e: &Evaluation| match e {
        Evaluation::Classification(c) => c.auc,
        Evaluation::Regression(_) => f64::NAN,
    };
    let secure_auc = auc(model.evaluation.as_ref().ok_or("metrics")?);
    let plain_auc = auc(&plain.evaluation);
    // The label is a function of both parties' features: both models
    // separate well, and the secure one is the converged plaintext one up
    // to rounding.
    assert!(plain_auc > 0.8, "plaintext AUC {plain_auc}");
    assert!((secure_auc - plain_auc).abs() < 0.02, "{secure_auc} vs {plain_auc}");
    assert!(model.training.is_some_and(|t| t.converged));
    Ok(())
}
