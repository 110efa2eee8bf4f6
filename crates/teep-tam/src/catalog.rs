//! Catalog entries from SUIT envelopes, decoded and authenticated with teep-suit.
//!
//! The TAM delivers an envelope exactly as its TC Signer signed it, so it only reads metadata:
//! component id, manifest component id, sequence number, image digest and signer kid.
//!
//! Trust: an envelope enters the catalog only when its manifest digest matches and one of its
//! signatures verifies with a TC-signer trust anchor ([`TcSignerAnchors`]: the TAM's own
//! TC-signer key plus the `tc_signer_anchors` setting). "Signed by any TC signer" therefore
//! means any signer the operator has named; an envelope from another signer is refused with its
//! kid and the flag that trusts it, never stored unverified. Devices check the signature again
//! against their own anchors, so this check is about catching the wrong file or a forged upload
//! at the TAM rather than at thousands of devices.

use std::path::{Path, PathBuf};

use teep_cose::PublicKey;
use teep_suit::{AuthError, Authenticator, Envelope, Limits, Parameter, TrustAnchors};

use crate::model::{ComponentId, NewTc};

/// Largest envelope accepted into the catalog.
pub const MAX_ENVELOPE: usize = 16 * 1024 * 1024;

/// What the operator is told to do with a signer the catalog does not trust.
const HOW_TO_TRUST: &str = "to accept it, give the signer's public key (PEM, JWK or COSE_Key) \
     with --tc-signer-anchor FILE (or tc_signer_anchors in the TAM config file)";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("SUIT_Envelope: {len} bytes, limit {MAX_ENVELOPE}")]
    TooLarge { len: usize },
    /// Not a well-formed envelope; the error names the member and the rule.
    #[error(transparent)]
    Decode(#[from] teep_suit::DecodeError),
    #[error("SUIT_Envelope.manifest: {0}")]
    Manifest(String),
    #[error("SUIT_Envelope.authentication-wrapper: {0}")]
    Auth(String),
    #[error(
        "SUIT_Envelope.authentication-wrapper: no signature; the catalog takes envelopes signed \
         by a TC signer"
    )]
    Unsigned,
    /// Integrity check: the manifest is not the one the digest (and so the signature) covers.
    #[error(
        "SUIT_Envelope.authentication-wrapper.digest: integrity check failed: the manifest does \
         not match its signed digest (expected {expected}, computed {computed}); the envelope was \
         altered after signing"
    )]
    Tampered { expected: String, computed: String },
    /// The signature names a trusted signer but does not verify.
    #[error(
        "SUIT_Envelope.authentication-wrapper: signature check failed: the signature by trusted \
         TC signer kid {} does not verify; the envelope was altered after signing", hex::encode(.kid)
    )]
    BadSignature { kid: Vec<u8> },
    /// No signature verifies with a trust anchor.
    #[error(
        "SUIT_Envelope.authentication-wrapper: {}; {HOW_TO_TRUST}",
        untrusted_text(.kids, *.trusted)
    )]
    UntrustedSigner { kids: Vec<Vec<u8>>, trusted: usize },
}

fn untrusted_text(kids: &[Vec<u8>], trusted: usize) -> String {
    let trusted = match trusted {
        0 => "no TC-signer key is trusted".to_string(),
        1 => "1 trusted TC-signer key".to_string(),
        n => format!("{n} trusted TC-signer keys"),
    };
    match kids {
        // Without a kid an unknown signer and a broken signature look the same.
        [] => format!(
            "the signature names no kid and does not verify ({trusted}): signed by another TC \
             signer, or altered after signing"
        ),
        [k] => format!(
            "signer kid {} is not a trusted TC signer ({trusted})",
            hex::encode(k)
        ),
        ks => format!(
            "signer kids {} are not trusted TC signers ({trusted})",
            ks.iter().map(hex::encode).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// A TC-signer trust anchor file could not be loaded.
#[derive(Debug, thiserror::Error)]
// teep-cose's key errors from `load` already start with the path.
#[error("tc_signer_anchors: {message}")]
pub struct AnchorError {
    pub path: PathBuf,
    pub message: String,
}

/// Loads public keys (PEM, JWK or COSE_Key) from the `tc_signer_anchors` files.
pub fn load_anchor_files(files: &[PathBuf]) -> Result<Vec<PublicKey>, AnchorError> {
    files
        .iter()
        .map(|p| load_anchor(p))
        .collect::<Result<Vec<_>, _>>()
}

fn load_anchor(path: &Path) -> Result<PublicKey, AnchorError> {
    PublicKey::load(path).map_err(|e| AnchorError {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The TC signers whose envelopes the catalog accepts.
#[derive(Debug, Clone, Default)]
pub struct TcSignerAnchors {
    keys: Vec<PublicKey>,
}

impl TcSignerAnchors {
    pub fn new(keys: Vec<PublicKey>) -> Self {
        let mut a = TcSignerAnchors::default();
        for k in keys {
            a.push(k);
        }
        a
    }

    /// The TAM's own TC-signer key (if it has one yet) and the keys in `files`.
    pub fn load(own: Option<PublicKey>, files: &[PathBuf]) -> Result<Self, AnchorError> {
        let mut keys: Vec<PublicKey> = own.into_iter().collect();
        keys.extend(load_anchor_files(files)?);
        Ok(TcSignerAnchors::new(keys))
    }

    /// Adds a key unless it is already there.
    pub fn push(&mut self, key: PublicKey) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }
}

/// Metadata of one envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeInfo {
    pub component_id: ComponentId,
    pub manifest_component_id: Option<ComponentId>,
    pub sequence: u64,
    /// SUIT_Digest bytes (`[alg, digest]`, encoded) of the image, if the manifest sets one.
    pub image_digest: Option<Vec<u8>>,
    /// Kid of the signature that verified, or the RFC 9679 thumbprint of its anchor when the
    /// signature names none. Unverified reads take the first kid of any block.
    pub signer_kid: Option<Vec<u8>>,
    /// The envelope without tag 107, byte for byte as uploaded: what goes into an Update's
    /// manifest-list.
    pub untagged: Vec<u8>,
}

fn limits() -> Limits {
    Limits {
        max_envelope_len: MAX_ENVELOPE,
        ..Limits::default()
    }
}

/// The SUIT_Digest a catalog envelope's authentication wrapper signs: what a device attests
/// in its `manifests` claim (TEEP-26 §5, draft-ietf-suit-report SUIT_Reference). Only the
/// wrapper is read (the envelope was verified when it entered the catalog); `None` for one
/// that does not split, which attested digests then cannot identify. Called once per catalog
/// load, not per exchange.
pub fn manifest_digest(envelope: &[u8]) -> Option<teep_cbor::SuitDigest> {
    let raw = teep_suit::codec::split_envelope(&envelope.to_vec().into(), &limits()).ok()?;
    let auth = teep_suit::codec::decode_authentication(&raw.authentication).ok()?;
    Some((&auth.digest).into())
}

fn check_size(bytes: &[u8]) -> Result<(), EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE {
        return Err(EnvelopeError::TooLarge { len: bytes.len() });
    }
    Ok(())
}

/// Decodes an envelope (tagged 107 or untagged) and authenticates it against `anchors`:
/// the manifest digest, then a signature by one anchor. Nothing else of the manifest is read
/// before both pass.
pub fn verify(bytes: &[u8], anchors: &TcSignerAnchors) -> Result<EnvelopeInfo, EnvelopeError> {
    check_size(bytes)?;
    let trust = TrustAnchors::new(anchors.keys.clone());
    let verified = teep_suit::verify_envelope_with_limits(bytes.to_vec(), &trust, &limits())
        .map_err(|e| auth_error(e, bytes, anchors))?;
    let signer_kid = match &verified.authenticator {
        Authenticator::Signer { index, kid, .. } => kid
            .clone()
            .or_else(|| anchors.keys.get(*index).map(|k| k.thumbprint().to_vec())),
        Authenticator::Mac { .. } => None,
    };
    info(&verified.envelope, bytes, signer_kid)
}

/// Reads the metadata of an envelope without checking its signature (the manifest digest is
/// still checked). For envelopes that already passed [`verify`], e.g. ones the TAM delivers.
pub fn envelope_info(bytes: &[u8]) -> Result<EnvelopeInfo, EnvelopeError> {
    check_size(bytes)?;
    let env = teep_suit::decode_envelope_unverified(bytes.to_vec(), &limits())
        .map_err(|e| auth_error(e, bytes, &TcSignerAnchors::default()))?;
    let kid = env
        .authentication
        .blocks
        .iter()
        .enumerate()
        .find_map(|(i, b)| {
            teep_suit::auth::parse_cose_block(b, i)
                .ok()?
                .signatures
                .into_iter()
                .find_map(|s| s.kid)
        });
    info(&env, bytes, kid)
}

fn auth_error(e: AuthError, bytes: &[u8], anchors: &TcSignerAnchors) -> EnvelopeError {
    match e {
        AuthError::Decode(d) => EnvelopeError::Decode(d),
        AuthError::NoAuthenticationBlock => EnvelopeError::Unsigned,
        AuthError::DigestMismatch { expected, computed } => {
            EnvelopeError::Tampered { expected, computed }
        }
        AuthError::Untrusted(reasons) => untrusted(bytes, anchors, &reasons),
        AuthError::UnsupportedDigest(a) => {
            EnvelopeError::Auth(format!("digest algorithm {a} unsupported (SHA-256 only)"))
        }
        AuthError::UnsupportedCose(s) => EnvelopeError::Auth(format!("unsupported COSE: {s}")),
        AuthError::UnsupportedAlgorithm(a) => {
            EnvelopeError::Auth(format!("unsupported algorithm {a}"))
        }
    }
}

/// Tells apart "signed by a key we do not trust" (the usual case: name the kid and how to trust
/// it), "signed by a trusted key but the signature is wrong" and "MAC only".
fn untrusted(bytes: &[u8], anchors: &TcSignerAnchors, reasons: &str) -> EnvelopeError {
    let blocks = match teep_suit::codec::split_envelope(&bytes.to_vec().into(), &limits())
        .and_then(|raw| teep_suit::codec::decode_authentication(&raw.authentication))
    {
        Ok(auth) => auth.blocks,
        Err(e) => return EnvelopeError::Decode(e),
    };
    let mut kids = Vec::new();
    let mut signatures = 0;
    for (i, b) in blocks.iter().enumerate() {
        let Ok(cose) = teep_suit::auth::parse_cose_block(b, i) else {
            continue;
        };
        if cose.kind == teep_suit::auth::CoseKind::Mac0 {
            continue;
        }
        for s in cose.signatures {
            signatures += 1;
            if let Some(k) = s.kid {
                if !kids.contains(&k) {
                    kids.push(k);
                }
            }
        }
    }
    if signatures == 0 {
        return EnvelopeError::Auth(format!(
            "authenticated by COSE_Mac0 only; the catalog takes envelopes signed by a TC signer \
             (COSE_Sign1 or COSE_Sign) ({reasons})"
        ));
    }
    let trusted_kid = kids.iter().find(|k| {
        anchors
            .keys
            .iter()
            .any(|a| a.thumbprint().as_slice() == k.as_slice())
    });
    if let Some(kid) = trusted_kid {
        return EnvelopeError::BadSignature { kid: kid.clone() };
    }
    EnvelopeError::UntrustedSigner {
        kids,
        trusted: anchors.keys.len(),
    }
}

/// The bytes after tag 107's head (1 + 1, 2, 4 or 8 bytes); the decoder accepted the tag.
fn untagged(bytes: &[u8], tagged: bool) -> &[u8] {
    if !tagged {
        return bytes;
    }
    let head = match bytes.first().map(|b| b & 0x1f) {
        Some(24) => 2,
        Some(25) => 3,
        Some(26) => 5,
        Some(27) => 9,
        _ => 1,
    };
    bytes.get(head..).unwrap_or_default()
}

fn info(
    env: &Envelope,
    bytes: &[u8],
    signer_kid: Option<Vec<u8>>,
) -> Result<EnvelopeInfo, EnvelopeError> {
    let m = &env.manifest;
    // The TC is the first component that is not a dependency (trust-domains lists dependencies
    // by component index).
    let component_id = m
        .common
        .components
        .iter()
        .enumerate()
        .find(|(i, _)| !m.common.dependencies.iter().any(|d| d.index == *i as u64))
        .map(|(_, c)| c.clone())
        .ok_or_else(|| {
            EnvelopeError::Manifest(
                "common.components: no component that is not a dependency".into(),
            )
        })?;
    let image_digest = match m.shared_parameter(3) {
        Some(Parameter::ImageDigest(d)) => Some(teep_suit::codec::encode_digest(d)),
        _ => None,
    };
    Ok(EnvelopeInfo {
        component_id,
        manifest_component_id: env.manifest_component_id().cloned(),
        sequence: env.sequence_number(),
        image_digest,
        signer_kid,
        untagged: untagged(bytes, env.tagged).to_vec(),
    })
}

/// A catalog entry for an envelope that verifies with `anchors`: what every upload goes
/// through.
pub fn verified_tc(
    name: Option<&str>,
    bytes: &[u8],
    anchors: &TcSignerAnchors,
) -> Result<NewTc, EnvelopeError> {
    Ok(entry(name, verify(bytes, anchors)?))
}

/// A catalog entry for an envelope whose signature is not checked (its manifest digest is):
/// only for envelopes the caller built itself, e.g. benchmarks. Uploads use [`verified_tc`].
pub fn new_tc(name: Option<&str>, bytes: &[u8]) -> Result<NewTc, EnvelopeError> {
    Ok(entry(name, envelope_info(bytes)?))
}

fn entry(name: Option<&str>, info: EnvelopeInfo) -> NewTc {
    let name = match name {
        Some(n) => n.to_string(),
        None => info.component_id.to_string(),
    };
    NewTc {
        name,
        component_id: info.component_id.encode(),
        manifest_component_id: info.manifest_component_id.as_ref().map(ComponentId::encode),
        sequence: info.sequence,
        envelope: info.untagged,
        payload_digest: info.image_digest,
        signer_kid: info.signer_kid,
        // Resolved against the catalog when added (`crate::dependencies`).
        dependencies: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../../shared/spec/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn spec_anchor() -> TcSignerAnchors {
        TcSignerAnchors::new(vec![PublicKey::from_bytes_any(&spec(
            "keys/suit-examples-p256-public.pem",
        ))
        .unwrap()])
    }

    #[test]
    fn reads_teep_appendix_e_uri_manifest() {
        let b = spec("teep-protocol/common/derived/suit_uri.cbor");
        let info = verify(&b, &spec_anchor()).unwrap();
        assert_eq!(info.component_id[0], b"TEEP-Device");
        assert_eq!(info.component_id[3], b"ta");
        assert_eq!(
            info.manifest_component_id.as_ref().and_then(|m| m.last()),
            Some(&b"suit".to_vec())
        );
        // [-16, h'8CF71AC8...'] of the 20-byte TC.
        let digest = info.image_digest.unwrap();
        assert_eq!(&digest[..4], &[0x82, 0x2f, 0x58, 0x20]);
        assert_eq!(hex::encode(&digest[4..8]), "8cf71ac8");
        // No kid in the example: the anchor's thumbprint stands for it.
        assert_eq!(
            hex::encode(info.signer_kid.unwrap()),
            "ca9e35f23b2b525fb4fc83f512b0dcac4ac29e457e873a5d6a7313f71690b33c"
        );
        assert_eq!(info.untagged, b);
    }

    #[test]
    fn tagged_envelope_is_stored_without_the_tag_byte_for_byte() {
        let b = spec("suit-manifest/examples/derived/example1.signed.cbor");
        assert_eq!(&b[..2], &[0xd8, 0x6b]);
        let info = verify(&b, &spec_anchor()).unwrap();
        assert_eq!(info.untagged, &b[2..]);
    }

    #[test]
    fn rejects_garbage_with_the_member_named() {
        let e = envelope_info(&[0xa0]).unwrap_err().to_string();
        assert!(e.contains("authentication-wrapper"), "{e}");
        let e = envelope_info(&[0x01]).unwrap_err().to_string();
        assert!(e.starts_with("SUIT_Envelope"), "{e}");
        assert!(matches!(
            envelope_info(&[0xff, 0x00]),
            Err(EnvelopeError::Decode(_))
        ));
        assert!(matches!(
            envelope_info(&vec![0u8; MAX_ENVELOPE + 1]),
            Err(EnvelopeError::TooLarge { .. })
        ));
    }

    #[test]
    fn manifest_whose_only_component_is_a_dependency_has_no_tc() {
        let signer = teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::generate(
            teep_cose::KeyType::P256,
        ));
        let (mut m, _) = teep_suit::ManifestBuilder::new(
            vec![b"TEEP-Device".to_vec(), b"ta".to_vec()].into(),
            &b"x"[..],
        )
        .build_manifest(&[0; 64])
        .unwrap();
        m.common.dependencies = vec![teep_suit::Dependency {
            index: 0,
            prefix: None,
            unknown: vec![],
        }];
        let env = teep_suit::sign_manifest(&m, &[], &signer, false).unwrap();
        let anchors = TcSignerAnchors::new(vec![teep_cose::Signer::public_key(&signer)]);
        let e = verify(&env, &anchors).unwrap_err().to_string();
        assert_eq!(
            e,
            "SUIT_Envelope.manifest: common.components: no component that is not a dependency"
        );
    }

    /// TEEP-26 §5 / draft-ietf-suit-report: the digest a catalog TC is recognised by is the
    /// one its authentication wrapper signs, tagged (107) or not; garbage has none.
    #[test]
    fn teep_26_5_manifest_digest_is_the_authentication_wrapper_digest() {
        let signer = teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::generate(
            teep_cose::KeyType::P256,
        ));
        let (m, _) = teep_suit::ManifestBuilder::new(
            vec![b"TEEP-Device".to_vec(), b"ta".to_vec()].into(),
            &b"x"[..],
        )
        .build_manifest(&[0; 64])
        .unwrap();
        for tagged in [false, true] {
            let env = teep_suit::sign_manifest(&m, &[], &signer, tagged).unwrap();
            let want = teep_suit::decode_envelope_unverified_with(
                env.clone(),
                &limits(),
                &mut teep_cbor::Deviations::new(teep_cbor::Tolerance::Tolerant),
            )
            .unwrap();
            let got = manifest_digest(&env).unwrap();
            assert_eq!(got.algorithm, want.digest().algorithm.to_cose());
            assert_eq!(got.bytes, want.digest().bytes);
        }
        assert_eq!(manifest_digest(&[0xa0]), None);
        assert_eq!(manifest_digest(&[0xff]), None);
    }

    #[test]
    fn untagged_strips_every_head_length() {
        assert_eq!(untagged(&[0xd8, 0x6b, 0xa0], true), &[0xa0]);
        assert_eq!(untagged(&[0xd9, 0x00, 0x6b, 0xa0], true), &[0xa0]);
        assert_eq!(untagged(&[0xa0], false), &[0xa0]);
    }
}
