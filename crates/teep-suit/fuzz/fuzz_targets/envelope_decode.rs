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
    // The receive path of a manifest-list entry: a tag 107 is dropped as a deviation, or
    // refused under Strict; nothing else differs.
    let mut dev = teep_suit::deviation::Deviations::new(teep_suit::deviation::Tolerance::Strict);
    let strict = teep_suit::decode_envelope_unverified_with(data.to_vec(), &limits, &mut dev);
    if strict.is_ok() {
        assert!(dev.is_empty());
        assert!(teep_suit::decode_envelope_unverified(data.to_vec(), &limits).is_ok());
    }
    let _ = teep_suit::SuitReport::decode(data);
});
