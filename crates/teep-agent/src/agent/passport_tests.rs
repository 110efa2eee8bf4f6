//! The passport model on the device side (-26 §4.2, §5; RFC 9334 §5.1): asked for attestation
//! with a token and no challenge, the Agent hands its Evidence to the device's Verifier hook
//! and presents the Attestation Result it gets, labelled with the TEEP EAT media type.

use alloc::{boxed::Box, vec, vec::Vec};

use teep_cose::eat::EatClaims;
use teep_cose::{PublicKey, Signer, SoftwareSigner};
use teep_proto::{CipherSuite, ComponentId, DataItems, Numbering, QueryRequest, TeepMessage};

use super::device::{
    AgentDevice, DeviceError, DeviceIdentity, InstalledManifest, InstalledTc, ManifestFailure,
    ManifestResult,
};
use super::test_device::{signer, Broken};
use super::{Agent, AgentConfig, EAT_MEDIA_TYPE, TEEP_RESULT_MEDIA_TYPE};
use crate::state::AgentState;

/// A device whose Verifier (a test one) appraises any Evidence it verifies with the device's
/// key and signs its claims back as an Attestation Result.
struct WithVerifier {
    inner: Broken,
    verifier: Option<SoftwareSigner>,
    asked: Vec<Vec<u8>>,
}

impl AgentDevice for WithVerifier {
    fn teep_signer(&self) -> &dyn Signer {
        self.inner.teep_signer()
    }
    fn identity(&self) -> DeviceIdentity {
        self.inner.identity()
    }
    fn installed(&self) -> Result<Vec<InstalledTc>, DeviceError> {
        self.inner.installed()
    }
    fn installed_manifests(&self) -> Result<Vec<InstalledManifest>, DeviceError> {
        self.inner.installed_manifests()
    }
    fn apply_manifest(
        &mut self,
        e: &[u8],
        s: &[PublicKey],
        n: Option<&[u8]>,
    ) -> Result<ManifestResult, ManifestFailure> {
        self.inner.apply_manifest(e, s, n)
    }
    fn unlink_manifest(&mut self, m: &ComponentId) -> Result<bool, DeviceError> {
        self.inner.unlink_manifest(m)
    }
    fn attestation_result(
        &mut self,
        evidence: &[u8],
        nonce: &[u8],
    ) -> Result<Option<Vec<u8>>, DeviceError> {
        self.asked.push(nonce.to_vec());
        let Some(v) = &self.verifier else {
            return Ok(None);
        };
        let claims = EatClaims::verify(evidence, &self.inner.teep_signer().public_key()).unwrap();
        Ok(Some(claims.sign(v).unwrap()))
    }
}

/// The QueryResponse to a QueryRequest asking for attestation with `challenge`.
fn answer(device: &mut WithVerifier, challenge: Option<Vec<u8>>) -> teep_proto::QueryResponse {
    let tam = signer(0x11);
    // Plain payloads, to read them here (encryption to the TAM: `encryption` tests).
    let config = AgentConfig {
        tam_trust_anchors: vec![tam.public_key()],
        encrypt_to_tam: super::TamEncryption::Never,
        ..Default::default()
    };
    let qr = TeepMessage::QueryRequest(QueryRequest {
        token: Some(vec![4; 16]),
        challenge,
        supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
        supported_suit_cose_profiles: vec![teep_proto::SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
        data_item_requested: DataItems(DataItems::ATTESTATION),
        ..Default::default()
    });
    let n = Numbering::Draft26;
    let bytes = teep_cose::sign1(&qr.encode(n), &tam).unwrap();
    let mut state = AgentState::default();
    let out =
        Agent::new(&config, &mut state, device)
            .handle_message("http://tam", &bytes, &mut |b| b.fill(0));
    let opened = teep_cose::open(&out.reply.expect("a QueryResponse")).unwrap();
    match teep_proto::decode_message(
        opened.payload.as_deref().unwrap(),
        Some(n),
        teep_cbor::deviation::Tolerance::Tolerant,
    )
    .unwrap()
    .message
    {
        TeepMessage::QueryResponse(q) => q,
        m => panic!("{m:?}"),
    }
}

fn device(verifier: Option<SoftwareSigner>) -> WithVerifier {
    WithVerifier {
        inner: Broken {
            signer: Box::new(signer(0x22)),
            store_readable: true,
        },
        verifier,
        asked: Vec::new(),
    }
}

/// -26 §4.2, §5: with no challenge the token is the nonce, and the Verifier's Attestation
/// Result goes, labelled with the TEEP EAT media type, its eat_nonce the token.
#[test]
fn teep_26_5_passport_presents_the_verifiers_result_bound_to_the_token() {
    let verifier = signer(0x33);
    let mut dev = device(Some(signer(0x33)));
    let q = answer(&mut dev, None);
    assert_eq!(dev.asked, [vec![4; 16]]);
    assert_eq!(
        q.attestation_payload_format.as_deref(),
        Some(TEEP_RESULT_MEDIA_TYPE)
    );
    let ar = EatClaims::verify(
        q.attestation_payload.as_deref().unwrap(),
        &verifier.public_key(),
    )
    .unwrap();
    assert_eq!(ar.eat_nonce, Some(vec![4; 16]));
}

/// Without a Verifier, or in the background-check model (a challenge), the Evidence goes,
/// labelled `application/eat+cwt`, and the hook is not asked for a challenge.
#[test]
fn teep_26_4_3_without_a_result_the_evidence_goes_as_evidence() {
    let mut dev = device(None);
    let q = answer(&mut dev, None);
    assert_eq!(
        q.attestation_payload_format.as_deref(),
        Some(EAT_MEDIA_TYPE)
    );

    let mut dev = device(Some(signer(0x33)));
    let q = answer(&mut dev, Some(vec![8; 32]));
    assert!(
        dev.asked.is_empty(),
        "a challenge is the background-check model"
    );
    assert_eq!(
        q.attestation_payload_format.as_deref(),
        Some(EAT_MEDIA_TYPE)
    );
    let ev = EatClaims::verify(
        q.attestation_payload.as_deref().unwrap(),
        &signer(0x22).public_key(),
    )
    .unwrap();
    assert_eq!(ev.eat_nonce, Some(vec![8; 32]));
}
