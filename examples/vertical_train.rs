//! Vertical training between a label holder (guest) and a feature holder
//! (host), with a dealer, every party on its own thread in one process:
//! PSI join, split, secure training, joint scoring and the contribution
//! report — next to the same model trained in plaintext on the joined
//! files (exact sigmoid, and the secure training's σ̃).
//!
//!     cargo run --release --example vertical_train -- GUEST.csv HOST.csv [EPOCHS] [LR]
//!
//! GUEST.csv has columns id,y,features…; HOST.csv has id,features… (the
//! FATE vertical splits in this layout are what docs/benchmarks.md uses).

use indomain::learn::align::Roles;
use indomain::learn::data::{CsvSpec, load_csv};
use indomain::learn::metrics::Evaluation;
use indomain::learn::model::{JobParty, JobSpec, PartyRole};
use indomain::learn::pipeline::{self, VerticalJob};
use indomain::learn::{Task, TrainParams, reference, secure};
use indomain::mpc::sigmoid::sigmoid_approx;
use indomain::net::memory::mesh;
use indomain::rand;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [guest, host, rest @ ..] = &args[..] else {
        return Err("usage: vertical_train GUEST.csv HOST.csv [EPOCHS] [LR]".into());
    };
    let epochs = rest.first().map_or(Ok(20), |e| e.parse())?;
    let learning_rate = rest.get(1).map_or(Ok(0.5), |e| e.parse())?;
    let params = TrainParams {
        epochs,
        learning_rate,
        seed: 0,
        ..TrainParams::default()
    };
    let spec = |label: bool| CsvSpec {
        id_column: "id".into(),
        label_column: label.then(|| "y".into()),
        features: None,
        task: Task::Logistic,
    };
    let g = load_csv(guest.as_ref(), &spec(true))?;
    let h = load_csv(host.as_ref(), &spec(false))?;
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
        contribution: true,
    };
    let start = Instant::now();
    let sets = mesh(&names);
    let tables = [Some(&g), Some(&h), None];
    let outcomes = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .zip(tables)
            .map(|(mut set, table)| {
                let job = &job;
                s.spawn(move || {
                    let mut trainer = secure::Trainer::new(job.spec.params.frac_bits);
                    pipeline::run(
                        &mut set,
                        job,
                        Ok(table),
                        &mut trainer,
                        &mut rand::rng(),
                        &mut |_| {},
                    )
                    .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a party panicked".to_string())?)
            .collect::<Result<Vec<_>, _>>()
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let guest_out = &outcomes[0];
    let model = guest_out.model.as_ref().ok_or("the guest has no model")?;
    let Some(Evaluation::Classification(secure_eval)) = model.evaluation else {
        return Err("no metrics".into());
    };
    let exact = reference::vertical(&[&g, &h], 0.25, &params, None)?;
    let approx = reference::vertical(&[&g, &h], 0.25, &params, Some(sigmoid_approx))?;
    let auc = |e: &Evaluation| match e {
        Evaluation::Classification(c) => c.auc,
        Evaluation::Regression(_) => f64::NAN,
    };
    println!(
        "{} shared rows ({} train, {} test), {} + {} features, {epochs} full-batch epochs, lr {learning_rate}",
        guest_out.shared_rows,
        model.rows.train,
        model.rows.test,
        g.feature_names.len(),
        h.feature_names.len()
    );
    println!(
        "held-out AUC: secure {:.4} | plaintext, exact sigmoid {:.4} | plaintext, σ̃ {:.4}",
        secure_eval.auc,
        auc(&exact.evaluation),
        auc(&approx.evaluation)
    );
    println!(
        "secure − plaintext (exact): {:+.4}; KS {:.4}",
        secure_eval.auc - auc(&exact.evaluation),
        secure_eval.ks
    );
    if let Some(c) = &model.contribution {
        println!(
            "contribution: guest alone AUC {:.4}, joint {:.4} (+{:.4})",
            c.label_only.scores.auc,
            c.joint.scores.auc,
            c.joint_gain()
        );
    }
    println!("epochs run: {}", model.loss_per_epoch.len());
    let v = &model.validation_loss_per_epoch; println!("val {:?}", v.iter().step_by(10).map(|x| format!("{x:.7}")).collect::<Vec<_>>());
    let p = guest_out.seconds;
    println!(
        "one process, in-memory links: {seconds:.2} s (align {:.2}, train {:.2}, evaluate {:.2}, contribution {:.2})",
        p.align, p.train, p.evaluate, p.contribution
    );
    Ok(())
}
