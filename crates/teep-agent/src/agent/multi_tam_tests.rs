//! Several TAMs on one device (RFC 9397 §4.3), SUIT reports in Success and QueryResponse
//! (-26 §4.3, §4.5, §4.6) and the unsolicited QueryResponse (-26 §7.2), in both numberings,
//! over a device that keeps manifests in memory.

use alloc::{collections::BTreeMap, string::String, vec, vec::Vec};

use teep_cose::{PublicKey, Signer, SoftwareSigner};
use teep_proto::{
    CipherSuite, ComponentId, DataItems, ErrorCode, ErrorMessage, Numbering, QueryRequest,
    QueryResponse, Success, SuitCoseProfile, TeepMessage, Update,
};

use super::device::{
    AgentDevice, DeviceError, DeviceIdentity, InstalledManifest, InstalledTc, ManifestFailure,
    ManifestResult,
};
use super::test_device::signer;
use super::{Agent, AgentConfig, AgentEvent, Outcome};
use crate::state::AgentState;
use crate::tc_id::TcId;

pub(super) const NUMBERINGS: [Numbering; 2] = [Numbering::Draft26, Numbering::Legacy];
pub(super) const TAM_A: &str = "https://a.example/tam";
pub(super) const TAM_B: &str = "https://b.example/tam";
/// Seeds of the TAM keys and of the two TC Signers.
const SEED_A: u8 = 0x11;
const SEED_B: u8 = 0x12;
pub(super) const SIGNER_1: u8 = 0x31;
pub(super) const SIGNER_2: u8 = 0x32;

#[derive(Debug, thiserror::Error)]
#[error("manifest not signed by a trusted TC Signer")]
struct Untrusted;

/// A device whose envelopes are `{0: h'<id><signer seed>'}`: one installs as manifest `['m', id,
/// 'suit']` when that signer is among the trust anchors the Agent hands over.
pub(super) struct Shelf {
    pub signer: SoftwareSigner,
    pub manifests: BTreeMap<ComponentId, u64>,
}

impl Shelf {
    pub fn new() -> Shelf {
        Shelf {
            signer: signer(0x22),
            manifests: BTreeMap::new(),
        }
    }
}

pub(super) fn manifest(id: u8) -> ComponentId {
    ComponentId::new(vec![b"m".to_vec(), vec![id], b"suit".to_vec()])
}

/// `{3: [], 4: true}` with `2: nonce` first when there is one.
fn report(nonce: Option<&[u8]>) -> Vec<u8> {
    match nonce {
        None => vec![0xa2, 0x03, 0x80, 0x04, 0xf5],
        Some(n) => {
            let mut r = vec![0xa3, 0x02, 0x40 | n.len() as u8];
            r.extend_from_slice(n);
            r.extend([0x03, 0x80, 0x04, 0xf5]);
            r
        }
    }
}

impl AgentDevice for Shelf {
    fn teep_signer(&self) -> &dyn Signer {
        &self.signer
    }
    fn identity(&self) -> DeviceIdentity {
        DeviceIdentity {
            ueid: vec![1; 17],
            oemid: vec![2; 3],
            hwmodel: b"test".to_vec(),
            hwversion: "1".into(),
        }
    }
    fn installed(&self) -> Result<Vec<InstalledTc>, DeviceError> {
        Ok(self
            .manifests
            .keys()
            .map(|m| InstalledTc {
                component_id: TcId(m.clone()).component_of_manifest().0,
                digest: [0; 32],
                size: 0,
            })
            .collect())
    }
    fn installed_manifests(&self) -> Result<Vec<InstalledManifest>, DeviceError> {
        Ok(self
            .manifests
            .iter()
            .map(|(k, v)| InstalledManifest {
                component_id: k.clone(),
                sequence_number: *v,
                digest: None,
                reference_uri: None,
            })
            .collect())
    }
    fn apply_manifest(
        &mut self,
        envelope: &[u8],
        tc_signers: &[PublicKey],
        nonce: Option<&[u8]>,
    ) -> Result<ManifestResult, ManifestFailure> {
        let (id, seed) = (envelope[3], envelope[4]);
        let want = signer(seed).public_key().thumbprint();
        if !tc_signers.iter().any(|k| k.thumbprint() == want) {
            return Err(ManifestFailure {
                error: DeviceError::suit(Untrusted),
                report: report(nonce),
            });
        }
        let id = manifest(id);
        self.manifests.insert(id.clone(), 1);
        Ok(ManifestResult {
            manifest_id: id,
            sequence_number: 1,
            report: report(nonce),
        })
    }
    fn unlink_manifest(&mut self, manifest_id: &ComponentId) -> Result<bool, DeviceError> {
        Ok(self.manifests.remove(manifest_id).is_some())
    }
}

/// A device trusting TAMs A and B and both TC Signers.
pub(super) struct Bench {
    pub config: AgentConfig,
    pub state: AgentState,
    pub device: Shelf,
}

impl Bench {
    pub fn new() -> Bench {
        Bench {
            config: AgentConfig {
                tam_trust_anchors: vec![tam_key(TAM_A), tam_key(TAM_B)],
                tc_signer_trust_anchors: vec![
                    signer(SIGNER_1).public_key(),
                    signer(SIGNER_2).public_key(),
                ],
                ..Default::default()
            },
            state: AgentState::default(),
            device: Shelf::new(),
        }
    }

    /// `msg` from the TAM at `uri`, signed with its key in numbering `n`.
    pub fn receive(&mut self, uri: &str, n: Numbering, msg: TeepMessage) -> Outcome {
        let bytes = teep_cose::sign1(&msg.encode(n), &tam_signer(uri)).unwrap();
        Agent::new(&self.config, &mut self.state, &mut self.device).handle_message(
            uri,
            &bytes,
            &mut |b| b.fill(5),
        )
    }

    /// A QueryRequest with `token` and `bits`, answered.
    pub fn query(
        &mut self,
        uri: &str,
        n: Numbering,
        token: Option<Vec<u8>>,
        bits: u64,
    ) -> TeepMessage {
        let qr = QueryRequest {
            token,
            supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
            supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
            data_item_requested: DataItems(bits),
            ..Default::default()
        };
        let out = self.receive(uri, n, TeepMessage::QueryRequest(qr));
        reply(&out, n)
    }

    /// An Update with `install` (`[id, signer seed]` each) and `unlink`, answered.
    pub fn update(
        &mut self,
        uri: &str,
        n: Numbering,
        install: &[[u8; 2]],
        unlink: &[u8],
    ) -> TeepMessage {
        let upd = Update {
            token: Some(vec![8; 16]),
            // Each `{0: h'<id><seed>'}`: a map, which is all the codec checks of an envelope.
            manifest_list: install
                .iter()
                .map(|e| vec![0xa1, 0x00, 0x42, e[0], e[1]])
                .collect(),
            unneeded_manifest_list: unlink.iter().map(|&i| manifest(i)).collect(),
            ..Default::default()
        };
        let out = self.receive(uri, n, TeepMessage::Update(upd));
        reply(&out, n)
    }

    pub fn installer(&self, id: u8) -> Option<&String> {
        self.state.installed_by.get(&TcId(manifest(id)))
    }
}

/// A SUIT report or EAT the Agent encrypted to the TAM at `uri` (-26 §8.2), opened with that
/// TAM's key.
pub(super) fn open_for_tam(
    uri: &str,
    bytes: &[u8],
    purpose: teep_cose::encrypt::Purpose,
) -> Vec<u8> {
    let enc = teep_cose::encrypt::open_encrypted(bytes).expect("encrypted to the TAM");
    enc.decrypt(&tam_signer(uri), purpose)
        .expect("the TAM's key opens it")
}

pub(super) fn tam_signer(uri: &str) -> SoftwareSigner {
    signer(if uri == TAM_A { SEED_A } else { SEED_B })
}

pub(super) fn tam_key(uri: &str) -> PublicKey {
    tam_signer(uri).public_key()
}

pub(super) fn tam_kid(uri: &str) -> String {
    hex::encode(tam_key(uri).thumbprint())
}

/// The Agent's reply, decoded in `n`.
pub(super) fn reply(out: &Outcome, n: Numbering) -> TeepMessage {
    let bytes = out.reply.as_ref().expect("a reply");
    decode(bytes, n)
}

/// Decoded in `n`, or else in the other numbering: an Agent that has only seen messages
/// valid in both (a QueryRequest without token) answers in its guess, draft-26.
pub(super) fn decode(bytes: &[u8], n: Numbering) -> TeepMessage {
    let opened = teep_cose::open(bytes).unwrap();
    let payload = opened.payload.as_deref().unwrap();
    let read =
        |n| teep_proto::decode_message(payload, Some(n), teep_cbor::deviation::Tolerance::Tolerant);
    read(n).or_else(|_| read(n.other())).unwrap().message
}

pub(super) fn success(m: TeepMessage) -> Success {
    match m {
        TeepMessage::Success(s) => s,
        m => panic!("expected Success, got {m:?}"),
    }
}

pub(super) fn error(m: TeepMessage) -> ErrorMessage {
    match m {
        TeepMessage::Error(e) => e,
        m => panic!("expected Error, got {m:?}"),
    }
}

pub(super) fn query_response(m: TeepMessage) -> QueryResponse {
    match m {
        TeepMessage::QueryResponse(q) => q,
        m => panic!("expected QueryResponse, got {m:?}"),
    }
}

/// RFC 9397 §4.3: the TAM that installed a manifest is recorded, by its trust anchor's kid.
#[test]
fn rfc9397_4_3_the_installing_tam_is_recorded() {
    for n in NUMBERINGS {
        let mut b = Bench::new();
        success(b.update(TAM_A, n, &[[1, SIGNER_1]], &[]));
        success(b.update(TAM_B, n, &[[2, SIGNER_1]], &[]));
        assert_eq!(b.installer(1), Some(&tam_kid(TAM_A)), "{n:?}");
        assert_eq!(b.installer(2), Some(&tam_kid(TAM_B)), "{n:?}");
        // Unlinked by its TAM: forgotten.
        success(b.update(TAM_A, n, &[], &[1]));
        assert_eq!(b.installer(1), None, "{n:?}");
        assert!(!b.device.manifests.contains_key(&manifest(1)), "{n:?}");
    }
}

/// RFC 9397 §4.3 with -26 §4.4 (unneeded-manifest-list): a TAM asking to unlink what another
/// TAM installed is refused with ERR_MANIFEST_PROCESSING_FAILED (11, legacy 17) naming the
/// manifest and the rule; nothing is unlinked, not even its own manifests listed with it.
#[test]
fn rfc9397_4_3_update_unneeded_manifest_of_another_tam_refused_nothing_deleted() {
    for n in NUMBERINGS {
        let mut b = Bench::new();
        success(b.update(TAM_A, n, &[[1, SIGNER_1]], &[]));
        success(b.update(TAM_B, n, &[[2, SIGNER_1]], &[]));
        let err = error(b.update(TAM_B, n, &[[3, SIGNER_1]], &[2, 1]));
        assert_eq!(err.err_code, ErrorCode::ManifestProcessingFailed, "{n:?}");
        let msg = err.err_msg.unwrap();
        assert!(msg.starts_with("unneeded-manifest-list: "), "{msg}");
        assert!(msg.contains("installed by another TAM"), "{msg}");
        assert_eq!(err.token, Some(vec![8; 16]), "{n:?}");
        assert_eq!(b.device.manifests.len(), 2, "{n:?}: nothing unlinked");
        assert!(!b.device.manifests.contains_key(&manifest(3)), "{n:?}");
        assert_eq!(b.installer(1), Some(&tam_kid(TAM_A)), "{n:?}");
        assert_eq!(b.installer(2), Some(&tam_kid(TAM_B)), "{n:?}");
    }
}

/// RFC 9397 §4.3 leaves the policy to the device: with `allow_cross_tam_unlink` any trusted
/// TAM may unlink; a manifest whose installer was never recorded may be unlinked by any.
#[test]
fn rfc9397_4_3_device_policy_lets_any_tam_unlink() {
    for n in NUMBERINGS {
        let mut b = Bench::new();
        success(b.update(TAM_A, n, &[[1, SIGNER_1]], &[]));
        b.state.allow_cross_tam_unlink = true;
        success(b.update(TAM_B, n, &[], &[1]));
        assert!(b.device.manifests.is_empty(), "{n:?}");

        let mut b = Bench::new();
        b.device.manifests.insert(manifest(4), 1);
        success(b.update(TAM_B, n, &[], &[4]));
        assert!(
            b.device.manifests.is_empty(),
            "{n:?}: unrecorded, so anyone's"
        );
    }
}

/// RFC 9397 §4.3: a TC Signer scoped to TAM A signs for A only; B's Update of a manifest it
/// signed fails SUIT processing (ERR_MANIFEST_PROCESSING_FAILED with the report), A's installs.
#[test]
fn rfc9397_4_3_tc_signer_trust_anchor_scoped_per_tam() {
    for n in NUMBERINGS {
        let mut b = Bench::new();
        let s1 = hex::encode(signer(SIGNER_1).public_key().thumbprint());
        b.state.tc_signer_scopes.insert(s1, vec![tam_kid(TAM_A)]);
        let err = error(b.update(TAM_B, n, &[[1, SIGNER_1]], &[]));
        assert_eq!(err.err_code, ErrorCode::ManifestProcessingFailed, "{n:?}");
        assert_eq!(err.suit_reports.len(), 1, "{n:?}");
        assert!(b.device.manifests.is_empty(), "{n:?}");
        // An unscoped signer is trusted for every TAM.
        success(b.update(TAM_B, n, &[[2, SIGNER_2]], &[]));
        success(b.update(TAM_A, n, &[[1, SIGNER_1]], &[]));
        assert_eq!(b.device.manifests.len(), 2, "{n:?}");
    }
}

/// RFC 9397 §4.3 with -26 §4.3 (unneeded-manifest-list, UnrequestTA): a TC no longer wanted
/// is listed to the TAM that installed it, not to another.
#[test]
fn rfc9397_4_3_query_response_unneeded_manifest_listed_to_its_tam_only() {
    for n in NUMBERINGS {
        let mut b = Bench::new();
        success(b.update(TAM_A, n, &[[1, SIGNER_1]], &[]));
        b.state
            .unrequest(&TcId(manifest(1)).component_of_manifest());
        let tc = DataItems::TRUSTED_COMPONENTS;
        let to_b = query_response(b.query(TAM_B, n, Some(vec![4; 16]), tc));
        assert!(to_b.unneeded_manifest_list.is_empty(), "{n:?}");
        let to_a = query_response(b.query(TAM_A, n, Some(vec![4; 16]), tc));
        assert_eq!(to_a.unneeded_manifest_list, vec![manifest(1)], "{n:?}");
    }
}

/// -26 §4.4 (err-lang): an Update carrying only the TAM's err-code is processed (nothing to
/// apply, no answer) and its err-msg reaches the operator together with the language the TAM
/// named for it.
#[test]
fn teep_4_4_update_err_lang_is_shown_with_err_msg_and_err_code_is_processed() {
    for n in NUMBERINGS {
        let mut b = Bench::new();
        let upd = Update {
            token: Some(vec![8; 16]),
            err_code: Some(ErrorCode::AttestationRequired),
            err_msg: Some("Attestierung fehlgeschlagen".into()),
            err_lang: Some("de".into()),
            ..Default::default()
        };
        let out = b.receive(TAM_A, n, TeepMessage::Update(upd));
        assert!(
            out.reply.is_none(),
            "{n:?}: the error channel is not answered"
        );
        let shown = out.events.iter().any(|e| {
            matches!(e, AgentEvent::TamReportedError { code: ErrorCode::AttestationRequired, message: Some(m), lang: Some(l) }
                if m == "Attestierung fehlgeschlagen" && l == "de")
        });
        assert!(shown, "{n:?}: {:?}", out.events);
    }
}
