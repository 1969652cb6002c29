//! Typed messages on top of frames.
//!
//! Bulk arrays travel as raw little-endian bytes and are checked against the
//! length the protocol expects before use. Control messages are bincode 2,
//! always decoded with an explicit size limit, so nothing a peer sends can
//! make this end allocate more than the limit.

use crate::{Channel, NetError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest control message any protocol decodes.
pub const CONTROL_LIMIT: usize = 1 << 20;

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<CONTROL_LIMIT>()
}

/// Sends a ring vector as raw little-endian bytes.
pub fn send_u64s(ch: &mut (impl Channel + ?Sized), values: &[u64]) -> Result<(), NetError> {
    if cfg!(target_endian = "little") {
        ch.send(bytemuck::cast_slice(values))
    } else {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        ch.send(&bytes)
    }
}

/// Receives a ring vector of exactly `expected` elements.
pub fn recv_u64s(ch: &mut (impl Channel + ?Sized), expected: usize) -> Result<Vec<u64>, NetError> {
    let frame = ch.recv()?;
    decode_u64s(ch.peer(), &frame, expected)
}

/// Decodes a frame of raw little-endian u64s, checking the element count.
pub fn decode_u64s(peer: &str, frame: &[u8], expected: usize) -> Result<Vec<u64>, NetError> {
    if frame.len() != expected * 8 {
        return Err(NetError::UnexpectedLength {
            peer: peer.to_string(),
            expected: expected * 8,
            got: frame.len(),
        });
    }
    Ok(frame
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("chunks_exact yields 8 bytes")))
        .collect())
}

/// Sends a control message.
pub fn send_msg<T: Serialize>(ch: &mut (impl Channel + ?Sized), msg: &T) -> Result<(), NetError> {
    let bytes =
        bincode::serde::encode_to_vec(msg, bincode_config()).map_err(|e| NetError::Encode {
            peer: ch.peer().to_string(),
            reason: e.to_string(),
        })?;
    ch.send(&bytes)
}

/// Receives a control message, decoded with [`CONTROL_LIMIT`].
pub fn recv_msg<T: DeserializeOwned>(ch: &mut (impl Channel + ?Sized)) -> Result<T, NetError> {
    let frame = ch.recv()?;
    decode_msg(ch.peer(), &frame)
}

/// Decodes a control message with [`CONTROL_LIMIT`]; trailing bytes are an error.
pub fn decode_msg<T: DeserializeOwned>(peer: &str, frame: &[u8]) -> Result<T, NetError> {
    let decode_err = |reason: String| NetError::Decode {
        peer: peer.to_string(),
        reason,
    };
    let (msg, used) = bincode::serde::decode_from_slice(frame, bincode_config())
        .map_err(|e| decode_err(e.to_string()))?;
    if used != frame.len() {
        return Err(decode_err(format!(
            "{} trailing bytes after the message",
            frame.len() - used
        )));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::pair;
    use proptest::prelude::*;

    #[test]
    fn vectors_round_trip_and_lengths_are_checked() {
        let (mut a, mut b) = pair("a", "b");
        send_u64s(&mut a, &[1, u64::MAX, 3]).unwrap();
        assert_eq!(recv_u64s(&mut b, 3).unwrap(), vec![1, u64::MAX, 3]);
        send_u64s(&mut a, &[1, 2]).unwrap();
        assert!(matches!(
            recv_u64s(&mut b, 3),
            Err(NetError::UnexpectedLength {
                expected: 24,
                got: 16,
                ..
            })
        ));
    }

    #[test]
    fn messages_round_trip_and_garbage_is_an_error() {
        let (mut a, mut b) = pair("a", "b");
        send_msg(&mut a, &("job", 42u32)).unwrap();
        let got: (String, u32) = recv_msg(&mut b).unwrap();
        assert_eq!(got, ("job".to_string(), 42));
        a.send(&[0xff; 9]).unwrap();
        assert!(matches!(
            recv_msg::<(String, u32)>(&mut b),
            Err(NetError::Decode { .. })
        ));
        // A length prefix claiming a huge string must not allocate it.
        a.send(&[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
            .unwrap();
        assert!(recv_msg::<String>(&mut b).is_err());
    }

    #[test]
    fn encodings_are_pinned() {
        let (mut a, mut b) = pair("a", "b");
        send_msg(&mut a, &("job", 42u32, 300u64)).unwrap();
        // bincode 2, standard configuration: varint lengths and integers.
        assert_eq!(b.recv().unwrap(), [3, b'j', b'o', b'b', 42, 251, 44, 1]);
        send_u64s(&mut a, &[1, u64::MAX]).unwrap();
        let mut expected = vec![1, 0, 0, 0, 0, 0, 0, 0];
        expected.extend([0xff; 8]);
        assert_eq!(b.recv().unwrap(), expected);
    }

    type Sample = (String, u32, Vec<u64>, Option<Vec<String>>);

    fn sample() -> impl Strategy<Value = Sample> {
        (
            ".{0,20}",
            any::<u32>(),
            prop::collection::vec(any::<u64>(), 0..20),
            prop::option::of(prop::collection::vec(".{0,8}", 0..5)),
        )
    }

    proptest! {
        #[cfg(feature = "quic")]
        #[test]
        fn random_bytes_are_an_error_or_a_message_never_a_panic_or_a_big_allocation(
            bytes in prop::collection::vec(any::<u8>(), 0..256),
        ) {
            let (result, largest) = crate::quic::tests::largest_allocation(|| {
                decode_msg::<Sample>("p", &bytes).map(drop)
            });
            if let Err(e) = result {
                prop_assert!(matches!(e, NetError::Decode { .. }), "{e}");
            }
            prop_assert!(largest <= CONTROL_LIMIT, "{largest} bytes");
        }

        #[test]
        fn every_truncation_of_a_message_is_an_error(msg in sample(), cut in any::<prop::sample::Index>()) {
            let bytes = bincode::serde::encode_to_vec(&msg, bincode_config()).unwrap();
            prop_assert_eq!(decode_msg::<Sample>("p", &bytes).unwrap(), msg);
            let cut = cut.index(bytes.len());
            prop_assert!(decode_msg::<Sample>("p", &bytes[..cut]).is_err());
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(decode_msg::<Sample>("p", &longer).is_err());
        }
    }
}
