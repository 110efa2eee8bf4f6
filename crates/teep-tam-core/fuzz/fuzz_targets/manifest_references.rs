//! Evidence `manifests` bodies (TEEP-26 §5, RFC 9711 §4.2.15): `attest::manifest_references`
//! on any `[60, bstr]` body (first byte 0) or any CBOR as an unwrapped body (first byte 1)
//! reads a SUIT_Reference or refuses with the entry's path, never panicking.
#![no_main]

use ciborium::Value;
use libfuzzer_sys::fuzz_target;
use teep_cbor::deviation::{Deviations, Tolerance};
use teep_cose::eat::{EatClaims, ManifestEntry};
use teep_cose::{PrivateKey, SoftwareSigner};
use teep_tam_core::attest::{manifest_references, ClaimsFault, Evidence};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let body = match mode {
        0 => Value::Bytes(rest.to_vec()),
        1 => match ciborium::from_reader::<Value, _>(rest) {
            Ok(v) => v,
            Err(_) => return,
        },
        _ => return,
    };
    let claims = EatClaims {
        manifests: Some(vec![ManifestEntry {
            content_type: Value::Integer(60.into()),
            format: body,
        }]),
        ..Default::default()
    };
    let signer = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[7; 32]).unwrap());
    let Ok(signed) = claims.sign(&signer) else {
        return;
    };
    let Ok(ev) = Evidence::parse(&signed) else {
        return;
    };
    for tolerance in [Tolerance::Tolerant, Tolerance::Strict] {
        let mut dev = Deviations::new(tolerance);
        match manifest_references(&ev, &mut dev, "fuzz") {
            Ok(refs) => {
                for r in refs {
                    assert!(!r.digest.bytes.is_empty() && r.digest.bytes.len() <= 64);
                }
            }
            Err(ClaimsFault::Attest(e)) => assert!(e.to_string().contains("fuzz.manifests[0]")),
            Err(ClaimsFault::Strict(d)) => assert_eq!(d.at, "fuzz.manifests[0]"),
        }
    }
});
