//! The ECDH-PSI batch decoders fed random and truncated peer frames through
//! an in-memory channel: the party that receives them returns an error (or,
//! for random bytes of exactly the expected length, at worst an outcome),
//! never a panic.

mod common;

use common::{items, sets};
use indomain_net::memory::pair;
use indomain_net::{Channel, Counters, NetError};
use indomain_psi::{Construction, Job, Mode, Outcome, PsiError, ecdh};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// A channel that replaces the first sent frame of length `len` by `with`.
struct Swap<C> {
    inner: C,
    len: usize,
    with: Option<Vec<u8>>,
}

impl<C: Channel> Channel for Swap<C> {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        match self.with.take_if(|_| frame.len() == self.len) {
            Some(f) => self.inner.send(&f),
            None => self.inner.send(frame),
        }
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        self.inner.recv()
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> Counters {
        self.inner.counters()
    }
}

// With 5 receiver keys and 3 sender keys in one batch, the frames are told
// apart by length: the receiver's blinded keys are 5·32 = 160 bytes, the
// double-blinded ones 5·16 = 80, the sender's blinded keys 3·32 = 96.
const RECEIVER_BLINDED: usize = 160;
const DOUBLE_BLINDED: usize = 80;
const SENDER_BLINDED: usize = 96;

/// Runs an intersection where the frame of length `len` is replaced by
/// `with`; returns (receiver, sender) results. A panic in either party
/// fails the test through `join().unwrap()`.
fn run_swapped(
    len: usize,
    with: Vec<u8>,
) -> (Result<Outcome, PsiError>, Result<Outcome, PsiError>) {
    let job = Job::new(Mode::Intersection).with_construction(Construction::Ecdh);
    let (x, y, _) = sets(4, 5, 3, 0);
    let (x, y) = (items(&x), items(&y));
    let (a, b) = pair("receiver", "sender");
    // The receiver sends its blinded keys; the sender the rest.
    let by_receiver = len == RECEIVER_BLINDED;
    let (mut a, mut b) = (
        Swap {
            inner: a,
            len,
            with: by_receiver.then(|| with.clone()),
        },
        Swap {
            inner: b,
            len,
            with: (!by_receiver).then_some(with),
        },
    );
    // Each party owns its end, so an error drops it and the other side
    // sees the channel closed instead of waiting for its timeout.
    let (job, x, y) = (&job, &x, &y);
    std::thread::scope(|s| {
        let r = s.spawn(move || {
            let mut rng = StdRng::seed_from_u64(1);
            ecdh::receiver(&mut a, job, x, &mut rng, &mut |_| {})
        });
        let t = s.spawn(move || {
            let mut rng = StdRng::seed_from_u64(2);
            ecdh::sender(&mut b, job, y, None, &mut rng, &mut |_| {})
        });
        (r.join().unwrap(), t.join().unwrap())
    })
}

/// The result of the party that decodes a frame of length `len`.
fn victim(len: usize, with: Vec<u8>) -> Result<Outcome, PsiError> {
    let (r, s) = run_swapped(len, with);
    if len == RECEIVER_BLINDED { s } else { r }
}

#[test]
fn the_untouched_run_succeeds() {
    // The swap of a frame by itself changes nothing: the baseline works,
    // so the errors below come from the bytes.
    let (r, s) = run_swapped(usize::MAX, Vec::new());
    assert!(r.is_ok() && s.is_ok());
}

fn batch_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(RECEIVER_BLINDED),
        Just(DOUBLE_BLINDED),
        Just(SENDER_BLINDED)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A batch cut short is an error at the party that reads it.
    #[test]
    fn a_truncated_batch_is_an_error(len in batch_len(), cut in 0usize..160, byte in any::<u8>()) {
        let cut = cut % len;
        prop_assert!(victim(len, vec![byte; cut]).is_err());
    }

    /// Random bytes of any other length are an error; of exactly the
    /// expected length, points are checked (the blinded batches) and the
    /// comparison values are just values: no panic either way.
    #[test]
    fn a_random_batch_never_panics(
        len in batch_len(),
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let same = bytes.len() == len;
        let got = victim(len, bytes);
        if !same {
            prop_assert!(got.is_err());
        }
    }

    /// Random bytes of exactly the blinded batches' length are refused
    /// unless every 32-byte piece decodes to a point.
    #[test]
    fn random_points_of_the_right_length_are_checked(
        sender_side in any::<bool>(),
        bytes in proptest::collection::vec(any::<u8>(), 160),
    ) {
        let len = if sender_side { SENDER_BLINDED } else { RECEIVER_BLINDED };
        let bytes = bytes[..len].to_vec();
        let all_points = bytes
            .chunks_exact(32)
            .all(|p| indomain_psi::blind::decode_point(p).is_some());
        prop_assert_eq!(victim(len, bytes).is_ok(), all_points);
    }
}
