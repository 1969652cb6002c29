//! The secure vector sum under malformed input from a peer.

mod common;

use common::{contains_u64, recording_mesh};
use indomain_aggregate::AggregateError;
use indomain_aggregate::sum::secure_sum;
use indomain_net::NetError;
use indomain_net::memory::mesh;

#[test]
fn a_wrong_length_seed_or_share_is_an_error_not_a_panic() {
    for bad_share in [false, true] {
        let mut sets = mesh(&["a", "b"]);
        let mut b = sets.pop().unwrap();
        let mut a = sets.pop().unwrap();
        let outcome = std::thread::scope(|s| {
            let h = s.spawn(move || secure_sum(&mut a, &[1u64, 2, 3], &[0], &mut rand::rng()));
            let ch = b.channel(0).unwrap();
            if bad_share {
                ch.send(&[7u8; 16]).unwrap();
                let _seed = ch.recv().unwrap();
                ch.send(&[1u8; 17]).unwrap();
            } else {
                ch.send(&[7u8; 15]).unwrap();
            }
            h.join().unwrap()
        });
        match outcome {
            Err(AggregateError::Net {
                source: NetError::UnexpectedLength { peer, .. },
                ..
            }) => {
                assert_eq!(peer, "b")
            }
            other => panic!("{other:?}"),
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Any number of parties, any length (empty included), any receivers:
    /// the receivers get the wrapping sum, the others nothing.
    #[test]
    fn secure_sum_is_the_plaintext_sum(
        n in 2usize..6,
        len in 0usize..3000,
        receiver_mask in 1u32..64,
        seed in proptest::prelude::any::<u64>(),
    ) {
        let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let receivers: Vec<usize> = (0..n).filter(|i| receiver_mask >> i & 1 == 1).collect();
        proptest::prop_assume!(!receivers.is_empty());
        let inputs: Vec<Vec<u64>> = (0..n as u64)
            .map(|p| (0..len as u64).map(|i| (seed ^ p).wrapping_mul(i + 1).rotate_left(p as u32)).collect())
            .collect();
        let expected: Vec<u64> = (0..len)
            .map(|i| inputs.iter().fold(0u64, |a, v| a.wrapping_add(v[i])))
            .collect();
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = mesh(&names)
                .into_iter()
                .zip(&inputs)
                .map(|(mut ps, input)| {
                    let receivers = &receivers;
                    s.spawn(move || secure_sum(&mut ps, input, receivers, &mut rand::rng()).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (p, result) in results.into_iter().enumerate() {
            if receivers.contains(&p) {
                proptest::prop_assert_eq!(result.as_deref(), Some(&expected[..]));
            } else {
                proptest::prop_assert_eq!(result, None);
            }
        }
    }
}

#[test]
fn the_receiver_of_a_streamed_sum_sees_no_raw_input() {
    let len = 5000u64;
    let inputs: Vec<Vec<u64>> = (1..=3u64)
        .map(|p| {
            (0..len)
                .map(|i| (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15 ^ p))
                .collect()
        })
        .collect();
    for receiver in 0..3 {
        let (sets, transcripts) = recording_mesh(&["a", "b", "c"], &[usize::MAX; 3]);
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = sets
                .into_iter()
                .zip(&inputs)
                .map(|(mut ps, input)| {
                    s.spawn(move || {
                        secure_sum(&mut ps, input, &[receiver], &mut rand::rng()).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let expected: Vec<u64> = (0..len as usize)
            .map(|i| inputs.iter().fold(0u64, |a, v| a.wrapping_add(v[i])))
            .collect();
        assert_eq!(results[receiver].as_deref(), Some(&expected[..]));
        for (p, transcript) in transcripts.iter().enumerate() {
            let frames = transcript.lock().unwrap();
            for (q, input) in inputs.iter().enumerate().filter(|(q, _)| *q != p) {
                assert!(
                    !input.iter().any(|&v| contains_u64(&frames, v)),
                    "party {p} saw a value of party {q}"
                );
            }
        }
    }
}
