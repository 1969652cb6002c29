//! RR22 (VOLE/OKVS) PSI over QUIC on loopback (mutual TLS, pinned
//! certificates): intersection and join against the plaintext on empty,
//! one-sided, disjoint, identical and overlapping sets; and 2^17 keys a
//! side, whose OKVS table and outputs span several frames.

mod common;

use common::{check, items, sets};
use indomain_net::Limits;
use indomain_net::quic::{Endpoint, Identity, QuicChannel};
use indomain_psi::{Construction, Job, Mode, Outcome, Reveal, session};
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

fn run_quic(job: &Job, x: &[String], y: &[String]) -> (Outcome, Outcome) {
    let ((_re, mut r_ch), (_se, mut s_ch)) = quic_pair();
    let (xi, yi) = (items(x), items(y));
    std::thread::scope(|sc| {
        let r = sc.spawn(|| {
            let mut rng = StdRng::seed_from_u64(1);
            session::receiver(&mut r_ch, job, &xi, &mut rng, &mut |_| {})
        });
        let s = sc.spawn(|| {
            let mut rng = StdRng::seed_from_u64(2);
            session::sender(&mut s_ch, job, &yi, None, &mut rng, &mut |_| {})
        });
        (r.join().unwrap().unwrap(), s.join().unwrap().unwrap())
    })
}

fn job(mode: Mode, reveal: Reveal) -> Job {
    let mut job = Job::new(mode).with_construction(Construction::Rr22);
    job.reveal = reveal;
    job
}

#[test]
fn intersection_and_join_match_the_plaintext_over_quic() {
    for job in [
        job(Mode::Intersection, Reveal::Receiver),
        job(Mode::Intersection, Reveal::Both),
        job(Mode::Join, Reveal::Both),
    ] {
        for (seed, (ox, oy, c)) in [
            (0, 0, 0),
            (100, 0, 0),
            (0, 80, 0),
            (50, 70, 0),
            (0, 0, 150),
            (90, 30, 200),
        ]
        .into_iter()
        .enumerate()
        {
            let (x, y, v) = sets(seed as u64, ox, oy, c);
            let (r, s) = run_quic(&job, &x, &y);
            check(&job, &x, &y, &v, &r, &s);
        }
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "2^17 keys a side: run with --release")]
fn two_to_the_seventeen_keys_over_quic() {
    let (x, y, v) = sets(11, 1 << 16, 1 << 16, 1 << 16);
    let job = job(Mode::Join, Reveal::Both);
    let (r, s) = run_quic(&job, &x, &y);
    check(&job, &x, &y, &v, &r, &s);
}
