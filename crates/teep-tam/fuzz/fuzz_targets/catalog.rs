//! Catalog uploads: `catalog::verify` and `catalog::envelope_info` on any bytes, on a valid
//! envelope changed in a few places, and on manifests of any bytes behind a valid digest and
//! signature by a trusted TC signer (so the manifest decoder runs, not only the COSE check).
//! Never a panic; whatever `verify` accepts, `envelope_info` reads the same way.
#![no_main]

#[path = "../../../teep-tam-core/fuzz/fuzz_targets/common/mod.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use teep_cose::{PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_tam::catalog::{envelope_info, verify, EnvelopeError, TcSignerAnchors};

struct Fixture {
    signer: SoftwareSigner,
    anchors: TcSignerAnchors,
    /// Encoded SUIT_Manifest of a TC.
    manifest: Vec<u8>,
    /// The same manifest, signed.
    envelope: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let signer = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x51; 32]).unwrap());
        let mut keys = vec![signer.public_key()];
        // The SUIT examples' key too, so the spec envelopes in the seed corpus verify.
        let spec = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../../shared/spec/keys/suit-examples-p256-public.pem"
        );
        if let Some(k) = std::fs::read(spec)
            .ok()
            .and_then(|b| PublicKey::from_bytes_any(&b).ok())
        {
            keys.push(k);
        }
        let (m, _) = common::ta_manifest().build_manifest(&[0; 64]).unwrap();
        let manifest = teep_suit::codec::encode_manifest(&m);
        let envelope = teep_suit::sign_manifest(&m, &[], &signer, false).unwrap();
        Fixture {
            signer,
            anchors: TcSignerAnchors::new(keys),
            manifest,
            envelope,
        }
    })
}

/// An envelope whose manifest member is `manifest` (any bytes), with the right digest and a
/// signature by `signer`: what a trusted TC signer could upload.
fn signed_envelope(manifest: &[u8], signer: &dyn Signer, tagged: bool) -> Vec<u8> {
    let manifest_bstr = common::bstr(manifest);
    let mut digest = vec![0x82, 0x2f];
    digest.extend(common::bstr(&teep_cose::sha256(&manifest_bstr)));
    let block = teep_cose::sign1_detached(&digest, signer).unwrap();
    let mut auth = vec![0x82];
    auth.extend(common::bstr(&digest));
    auth.extend(common::bstr(&block));
    let mut out = Vec::new();
    if tagged {
        out.extend_from_slice(&[0xd8, 0x6b]);
    }
    out.push(0xa2);
    out.push(0x02);
    out.extend(common::bstr(&auth));
    out.push(0x03);
    out.extend(manifest_bstr);
    out
}

fn check(bytes: &[u8], anchors: &TcSignerAnchors, must_verify: bool) {
    let unverified = envelope_info(bytes);
    match verify(bytes, anchors) {
        Ok(info) => {
            let again = unverified.expect("verify accepted what envelope_info refuses");
            assert_eq!(info.component_id, again.component_id);
            assert_eq!(info.manifest_component_id, again.manifest_component_id);
            assert_eq!(info.sequence, again.sequence);
            assert_eq!(info.image_digest, again.image_digest);
            assert_eq!(info.untagged, again.untagged);
            assert!(bytes.ends_with(&info.untagged));
            assert!(info.signer_kid.is_some());
            let _ = info.component_id.encode();
        }
        Err(e) => {
            // A manifest signed by a trusted key is refused only for what it says, never
            // as untrusted or tampered.
            if must_verify {
                assert!(
                    !matches!(
                        e,
                        EnvelopeError::UntrustedSigner { .. }
                            | EnvelopeError::BadSignature { .. }
                            | EnvelopeError::Tampered { .. }
                            | EnvelopeError::Unsigned
                    ),
                    "{e}"
                );
            }
            assert!(!e.to_string().is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    check(data, &f.anchors, false);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => check(&common::mutate(&f.envelope, rest), &f.anchors, false),
        1 => {
            let m = common::mutate(&f.manifest, rest);
            check(
                &signed_envelope(&m, &f.signer, mode & 0x80 != 0),
                &f.anchors,
                true,
            );
        }
        _ => check(
            &signed_envelope(rest, &f.signer, mode & 0x80 != 0),
            &f.anchors,
            true,
        ),
    }
});
