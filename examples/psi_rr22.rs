//! RR22 (VOLE/OKVS) PSI between two parties in this process (one thread
//! each, in-memory channel): the aligned join of two sets of N keys each,
//! half shared, optionally in B buckets, with the time, the bytes each way
//! and the bytes per key.
//!
//! `cargo run --release --example psi_rr22 -- [N] [B]` (default 2^16, 1)

use indomain::net::Channel;
use indomain::net::memory::pair;
use indomain::psi::{Construction, Items, Job, Mode, PsiError, buckets};
use indomain::rand;
use std::time::Instant;

fn main() -> Result<(), PsiError> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1 << 16);
    let b: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let bank = Items::from_raw((0..n).map(|i| format!("cust-{i:09}")));
    let bureau = Items::from_raw((n / 2..n + n / 2).map(|i| format!("cust-{i:09}")));
    let job = Job::new(Mode::Join).with_construction(Construction::Rr22);

    let (mut to_bureau, mut to_bank) = pair("bank", "tax-bureau");
    let start = Instant::now();
    let (r, s) = std::thread::scope(|sc| {
        let r = sc.spawn(|| {
            buckets::receiver(
                &mut to_bureau,
                &job,
                &bank,
                b,
                &mut rand::rng(),
                &mut |_| {},
            )
        });
        let s = sc.spawn(|| {
            buckets::sender(
                &mut to_bank,
                &job,
                &bureau,
                b,
                &mut rand::rng(),
                &mut |_| {},
            )
        });
        (
            r.join().expect("receiver thread"),
            s.join().expect("sender thread"),
        )
    });
    let (r, s) = (r?, s?);
    let secs = start.elapsed().as_secs_f64();
    let bytes = to_bureau.counters();
    let total = bytes.sent + bytes.received;
    println!(
        "rr22 join, {n} keys a side, {b} bucket(s): {} shared, both sides in the same order: {}",
        r.intersection_size.unwrap_or(0),
        r.matched.as_ref().map(|m| m.len()) == s.matched.as_ref().map(|m| m.len())
    );
    println!(
        "  {secs:.3} s; bank sent {} bytes, received {} bytes; {:.1} bytes per key (both ways, per key of one side)",
        bytes.sent,
        bytes.received,
        total as f64 / n as f64
    );
    Ok(())
}
