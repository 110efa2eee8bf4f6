#![no_main]
//! Any bytes: the envelope decoder (split, authentication wrapper, manifest) never panics,
//! and whatever decodes re-encodes to a manifest that decodes to the same model.
use libfuzzer_sys::fuzz_target;
use teep_suit::{decode_envelope_lenient, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok((env, _)) = decode_envelope_lenient(bytes::Bytes::copy_from_slice(data), &limits) {
        let enc = teep_suit::codec::encode_manifest(&env.manifest);
        let root = bytes::Bytes::from(enc.clone());
        let again = teep_suit::codec::decode_manifest(&root, &root, &env.severed, &limits);
        assert!(
            again.is_ok(),
            "re-encoded manifest must decode: {:?}",
            again.err()
        );
    }
    let _ = teep_suit::SuitReport::decode(data);
});
