//! Two agencies find the customers they share, without revealing anyone
//! else: every PSI mode, both parties in this process (one thread each,
//! in-memory channel), each by the construction a `Job` picks by default
//! (RR22 for intersection and join, ECDH for the others).
//!
//! `cargo run --release --example psi`

use indomain::net::Channel;
use indomain::net::memory::pair;
use indomain::psi::{Items, Job, Mode, Outcome, PsiError, Reveal, session};
use indomain::rand;

/// Runs `job` between a bank (receiver) and a tax bureau (sender).
fn run(
    job: &Job,
    bank: &Items,
    bureau: &Items,
    incomes: Option<&[u64]>,
) -> Result<(Outcome, Outcome), PsiError> {
    let (mut to_bureau, mut to_bank) = pair("bank", "tax-bureau");
    let (r, t) = std::thread::scope(|s| {
        let r =
            s.spawn(|| session::receiver(&mut to_bureau, job, bank, &mut rand::rng(), &mut |_| {}));
        let t = s.spawn(|| {
            session::sender(
                &mut to_bank,
                job,
                bureau,
                incomes,
                &mut rand::rng(),
                &mut |_| {},
            )
        });
        (
            r.join().expect("receiver thread"),
            t.join().expect("sender thread"),
        )
    });
    let bytes = to_bureau.counters();
    println!(
        "  {} mode: bank sent {} bytes, received {} bytes",
        job.mode, bytes.sent, bytes.received
    );
    Ok((r?, t?))
}

fn main() -> Result<(), PsiError> {
    // The bank's customers 0..3000, the bureau's taxpayers 2000..6000 with
    // an income each: 1000 shared.
    let bank_ids: Vec<String> = (0..3000).map(|i| format!("cust-{i:06}")).collect();
    let bureau_ids: Vec<String> = (2000..6000).map(|i| format!("cust-{i:06}")).collect();
    let incomes: Vec<u64> = (2000..6000u64).map(|i| 30_000 + i % 977).collect();
    let mut bank = Items::new();
    bank_ids.iter().for_each(|k| bank.push_columns(&[k]));
    let mut bureau = Items::new();
    bureau_ids.iter().for_each(|k| bureau.push_columns(&[k]));

    let mut job = Job::new(Mode::Intersection);
    job.reveal = Reveal::Receiver;
    let (r, s) = run(&job, &bank, &bureau, None)?;
    let shared = r.matched.as_deref().unwrap_or_default();
    println!(
        "intersection: the bank learns {} shared customers (first: {}); the bureau learns only that the bank has {} customers ({:?} matches known to it)",
        shared.len(),
        shared
            .iter()
            .map(|&i| bank_ids[i].as_str())
            .min()
            .unwrap_or("-"),
        s.peer_items,
        s.intersection_size
    );

    let (r, _) = run(&Job::new(Mode::Cardinality), &bank, &bureau, None)?;
    println!(
        "cardinality: {:?} shared, and no one learns which",
        r.intersection_size
    );

    let (r, s) = run(
        &Job::new(Mode::IntersectionSum),
        &bank,
        &bureau,
        Some(&incomes),
    )?;
    let want: u64 = (2000..3000u64).map(|i| 30_000 + i % 977).sum();
    println!(
        "intersection-sum: the bureau learns the income total {:?} (plaintext {want}) over {:?} shared; the bank learns only the count {:?}",
        s.sum, s.intersection_size, r.intersection_size
    );

    let (r, s) = run(&Job::new(Mode::Join), &bank, &bureau, None)?;
    let (rm, sm) = (r.matched.unwrap_or_default(), s.matched.unwrap_or_default());
    let aligned = rm
        .iter()
        .zip(&sm)
        .all(|(&a, &b)| bank_ids[a] == bureau_ids[b]);
    println!(
        "join: {} rows at each side, row i the same customer at both: {aligned}",
        rm.len()
    );
    Ok(())
}
