//! ECDH-PSI over QUIC on loopback (mutual TLS, pinned certificates), every
//! mode against the plaintext; and 2^16 keys a side with both parties
//! streaming, which would deadlock if both could block on a full
//! flow-control window at once.

mod common;

use common::{all_jobs, check, items, sets};
use indomain_net::Limits;
use indomain_net::quic::{Endpoint, Identity, QuicChannel};
use indomain_psi::{Construction, Job, Mode, Outcome, ecdh};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// A connected pair of channels: (receiver's, sender's), and the endpoints
/// that keep them alive.
fn quic_pair() -> ((Endpoint, QuicChannel), (Endpoint, QuicChannel)) {
    let r_id = Identity::generate("receiver").unwrap();
    let s_id = Identity::generate("sender").unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let s_end = Endpoint::bind(&s_id, any, vec![r_id.trusted_entry()], Limits::default()).unwrap();
    let r_end = Endpoint::bind(&r_id, any, vec![s_id.trusted_entry()], Limits::default()).unwrap();
    let addr = s_end.local_addr();
    let (r_ch, s_ch) = std::thread::scope(|sc| {
        let accepted = sc.spawn(|| s_end.accept().unwrap());
        let r_ch = r_end.connect(addr, "sender").unwrap();
        (r_ch, accepted.join().unwrap())
    });
    ((r_end, r_ch), (s_end, s_ch))
}

fn run_quic(job: &Job, x: &[String], y: &[String], values: &[u64]) -> (Outcome, Outcome) {
    let ((_re, mut r_ch), (_se, mut s_ch)) = quic_pair();
    let (xi, yi) = (items(x), items(y));
    let vals = (job.mode == Mode::IntersectionSum).then_some(values);
    std::thread::scope(|sc| {
        let r = sc.spawn(|| {
            let mut rng = StdRng::seed_from_u64(1);
            ecdh::receiver(&mut r_ch, job, &xi, &mut rng, &mut |_| {})
        });
        let s = sc.spawn(|| {
            let mut rng = StdRng::seed_from_u64(2);
            ecdh::sender(&mut s_ch, job, &yi, vals, &mut rng, &mut |_| {})
        });
        (r.join().unwrap().unwrap(), s.join().unwrap().unwrap())
    })
}

#[test]
fn every_mode_matches_the_plaintext_over_quic() {
    for job in all_jobs(64) {
        for (seed, (ox, oy, c)) in [
            (0, 0, 0),
            (100, 0, 0),
            (50, 70, 0),
            (0, 0, 150),
            (90, 30, 200),
        ]
        .into_iter()
        .enumerate()
        {
            let (x, y, v) = sets(seed as u64, ox, oy, c);
            let (r, s) = run_quic(&job, &x, &y, &v);
            check(&job, &x, &y, &v, &r, &s);
        }
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "2^16 keys a side: run with --release")]
fn two_to_the_sixteen_keys_stream_without_deadlock_over_quic() {
    let (x, y, v) = sets(11, 1 << 15, 1 << 15, 1 << 15);
    for mode in [Mode::Join, Mode::IntersectionSum] {
        let mut job = Job::new(mode).with_construction(Construction::Ecdh);
        job.batch = 8192;
        let (r, s) = run_quic(&job, &x, &y, &v);
        check(&job, &x, &y, &v, &r, &s);
    }
}
