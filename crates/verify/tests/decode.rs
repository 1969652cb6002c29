//! Decoders fed random and truncated bytes return errors, never panic or
//! allocate what the input claims.

mod common;

use common::*;
use indomain_verify::messages::{Refusal, Reply, Request};
use indomain_verify::oprf::OprfKey;
use indomain_verify::service::Limits;
use indomain_verify::table::{Delta, Table};
use proptest::prelude::*;
use std::time::Instant;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_decode_to_a_table_or_delta(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Table::decode(&bytes);
        let _ = Delta::decode(&bytes, 40);
        let mut framed = b"IDVTBL01".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = Table::decode(&framed);
    }

    #[test]
    fn random_frames_get_a_refusal(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let d = dataset(5, 1);
        let key = OprfKey::derive(&[1; 32], b"k").unwrap();
        let mut s = service(&publish(&d, 1, &key), &key, Limits::default());
        let h = s.handle("fuzzer", &bytes, Instant::now());
        let reply: Reply = indomain_net::wire::decode_msg("operator", &h.reply).unwrap();
        let decodes = indomain_net::wire::decode_msg::<Request>("fuzzer", &bytes).is_ok();
        let malformed = matches!(reply, Reply::Refused(Refusal::Malformed { .. }));
        // Random bytes may happen to be a valid request; anything else is refused.
        prop_assert!(decodes || malformed, "reply {:?}", reply);
    }
}

#[test]
fn every_truncation_of_a_real_table_and_delta_is_an_error() {
    let d = dataset(20, 2);
    let key = OprfKey::random(&mut rand::rng());
    let p = publish(&d, 1, &key);
    for cut in 0..p.bytes.len() {
        assert!(
            Table::decode(&p.bytes[..cut]).is_err(),
            "table cut at {cut}"
        );
    }
    let signer = signer();
    let publisher = indomain_verify::publish::Publisher {
        service: "operator",
        key: &key,
        signer: &signer,
        now: 0,
    };
    let (delta, _) = publisher
        .update(&p, &d.records[..2], &dataset(3, 9).records)
        .unwrap();
    let bytes = delta.encode();
    let stride = p.table.stride();
    assert_eq!(Delta::decode(&bytes, stride).unwrap(), delta);
    for cut in 0..bytes.len() {
        assert!(
            Delta::decode(&bytes[..cut], stride).is_err(),
            "delta cut at {cut}"
        );
    }
}
