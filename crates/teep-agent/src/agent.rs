//! The TEEP Agent (draft-ietf-teep-protocol-26 §4.2, §5), sans-IO.
//!
//! [`Agent::handle_message`] takes the bytes a TAM sent and returns the bytes to send back (or
//! nothing), with events that say what happened. It does no I/O itself: keys, the component
//! store and the SUIT processor come through [`AgentDevice`], the Agent's bookkeeping through
//! [`AgentState`], and randomness and time are passed in.
//!
//! Each TAM is answered in kind: the numbering profile (draft-26 or legacy) and the algorithm
//! id (ESP256 vs ES256, Ed25519 vs EdDSA) are taken from its QueryRequest and remembered for the
//! Update that follows.

use teep_cose::eat::EAT_NONCE_MAX;
use teep_cose::{Algorithm, KeyType, PublicKey, Signer};
use teep_proto::{
    CipherSuite, ComponentId, DataItems, ErrorCode, ErrorMessage, FreshnessMechanism, Numbering,
    QueryRequest, QueryResponse, RequestedTcInfo, Success, SystemPropertyClaims, TeepMessage,
    Update, Value,
};

use crate::state::{AgentState, TamProfile};
use crate::tc_id::TcId;

/// Media type of our Evidence: an EAT in a CWT under the TEEP EAT profile.
pub const EAT_MEDIA_TYPE: &str = "application/eat+cwt; eat_profile=urn:ietf:rfc:rfcXXXX";

/// Largest TEEP message accepted from a TAM (an Update may carry integrated TA binaries).
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// SUIT parameter labels used in tc-list entries.
const SUIT_PARAMETER_IMAGE_DIGEST: i64 = 3;
const SUIT_PARAMETER_IMAGE_SIZE: i64 = 14;

/// Who the device says it is in its Evidence (EAT claims of §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// Universal Entity ID (EAT `ueid`, first byte 0x01 = random type).
    pub ueid: Vec<u8>,
    pub oemid: Vec<u8>,
    pub hwmodel: Vec<u8>,
    pub hwversion: String,
}

/// An installed Trusted Component as reported in tc-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledTc {
    pub component_id: ComponentId,
    pub digest: [u8; 32],
    pub size: u64,
}

/// What the SUIT processor reported for one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestResult {
    /// Manifest component id (or, lacking one, the first component id) for the narration.
    pub manifest_id: ComponentId,
    pub sequence_number: u64,
    /// The encoded SUIT_Report (nonce = the Update's token).
    pub report: Vec<u8>,
}

/// A failed manifest: why, and the SUIT_Report for the TAM.
#[derive(Debug)]
pub struct ManifestFailure {
    pub error: DeviceError,
    pub report: Vec<u8>,
}

/// The cause a [`DeviceError`] carries: the device's own error, kept whole so callers can
/// inspect it (e.g. downcast to the TEE's error type) while the Agent stays independent of it.
pub type DeviceErrorCause = Box<dyn core::error::Error + Send + Sync + 'static>;

/// Why the device could not do what the Agent asked. Its text is the cause's text, which the
/// Agent passes on to the TAM in err-msg.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The TEE failed to read or change its state (component store, sealed storage, keys).
    #[error(transparent)]
    Tee(DeviceErrorCause),
    /// The SUIT processor stopped a manifest's procedure; nothing was committed.
    #[error(transparent)]
    Suit(DeviceErrorCause),
}

impl DeviceError {
    pub fn tee(cause: impl core::error::Error + Send + Sync + 'static) -> Self {
        DeviceError::Tee(Box::new(cause))
    }

    pub fn suit(cause: impl core::error::Error + Send + Sync + 'static) -> Self {
        DeviceError::Suit(Box::new(cause))
    }

    /// The device's own error.
    pub fn cause(&self) -> &(dyn core::error::Error + Send + Sync + 'static) {
        match self {
            DeviceError::Tee(c) | DeviceError::Suit(c) => c.as_ref(),
        }
    }
}

/// What the Agent needs from the TEE it runs in.
pub trait AgentDevice {
    /// The TEEP key: signs what the Agent sends; its public half goes into `cnf`.
    fn teep_signer(&self) -> &dyn Signer;
    /// The key that signs Evidence; in the software TEE this is the TEEP key itself.
    fn attestation_signer(&self) -> &dyn Signer {
        self.teep_signer()
    }
    fn identity(&self) -> DeviceIdentity;
    /// Installed Trusted Components (TC ids, not manifest ids).
    fn installed(&self) -> Result<Vec<InstalledTc>, DeviceError>;
    /// Manifest component ids of the installed manifests, with their sequence numbers.
    fn installed_manifests(&self) -> Result<Vec<(ComponentId, u64)>, DeviceError>;
    /// Runs the SUIT Update Procedure on one envelope against the TC Signer trust anchors and
    /// commits it atomically, or changes nothing.
    fn apply_manifest(
        &mut self,
        envelope: &[u8],
        tc_signers: &[PublicKey],
        nonce: Option<&[u8]>,
    ) -> Result<ManifestResult, ManifestFailure>;
    /// Unlinks a manifest (its uninstall sequence runs when nothing else holds it).
    /// `Ok(false)`: no such manifest.
    fn unlink_manifest(&mut self, manifest_id: &ComponentId) -> Result<bool, DeviceError>;
}

/// What the Agent is set up with.
#[derive(Debug, Clone, Default)]
pub struct AgentConfig {
    /// Keys that may sign TAM messages.
    pub tam_trust_anchors: Vec<PublicKey>,
    /// Keys that may sign SUIT manifests.
    pub tc_signer_trust_anchors: Vec<PublicKey>,
    /// Answer QueryRequests without TAM attestation with ERR_ATTESTATION_REQUIRED.
    pub require_tam_attestation: bool,
}

/// What happened while handling one message, for logs and the demo's narration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// The TAM's signature verified with this trust anchor.
    TamVerified {
        kid: Vec<u8>,
        algorithm: i64,
        numbering: Numbering,
    },
    /// A message arrived.
    Received {
        message: &'static str,
    },
    /// Evidence was produced for this challenge.
    EvidenceProduced {
        nonce: Vec<u8>,
    },
    /// Manifests of an Update were unlinked or installed.
    Unlinked {
        manifest_id: ComponentId,
        found: bool,
    },
    Installed {
        manifest_id: ComponentId,
        sequence_number: u64,
    },
    ManifestFailed {
        reason: String,
    },
    /// The TAM reported a problem in its Update.
    TamReportedError {
        code: ErrorCode,
        message: Option<String>,
    },
    /// The Agent answered with an Error.
    Refused {
        code: ErrorCode,
        reason: String,
    },
    /// The Agent sent this message.
    Sent {
        message: &'static str,
    },
}

/// The answer to one TAM message.
#[derive(Debug, Default)]
pub struct Outcome {
    /// COSE-signed TEEP message to POST back, if any.
    pub reply: Option<Vec<u8>>,
    pub events: Vec<AgentEvent>,
    /// Set when an answer was due but could not be produced, so that `reply: None` is not
    /// mistaken for "nothing to send" (RFC 9397 calls this a local failure).
    pub error: Option<ReplyError>,
}

/// Why an answer that was due could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("signing: {0}")]
    Sign(teep_cose::CoseError),
}

/// The TEEP Agent: protocol logic over a device, a configuration and persisted state.
pub struct Agent<'a> {
    pub config: &'a AgentConfig,
    pub state: &'a mut AgentState,
    pub device: &'a mut dyn AgentDevice,
}

/// A TAM message that passed validation: the message, its numbering, the kid of the trust
/// anchor that verified it and the algorithm id it was signed with.
type Verified = (TeepMessage, Numbering, Vec<u8>, Algorithm);

/// Why a TAM message was not accepted (§4.1.2); the text goes back in err-msg.
#[derive(Debug, thiserror::Error)]
enum TamMessageError {
    #[error("message of {len} bytes exceeds {MAX_MESSAGE}")]
    TooLarge { len: usize },
    #[error("not a COSE message: {0}")]
    NotCose(teep_cose::CoseError),
    #[error("no TAM trust anchor verifies the signature: {0}")]
    Untrusted(teep_cose::CoseError),
    #[error("not a valid TEEP message: {0}")]
    NotTeep(teep_proto::DecodeError),
}

impl TamMessageError {
    /// ERR_BAD_CERTIFICATE when no trust anchor vouches for the TAM, else ERR_PERMANENT_ERROR.
    fn code(&self) -> ErrorCode {
        match self {
            TamMessageError::Untrusted(_) => ErrorCode::BadCertificate,
            _ => ErrorCode::PermanentError,
        }
    }
}

/// How a reply is signed: the TAM's numbering and the algorithm id it understands.
#[derive(Debug, Clone, Copy)]
struct Answering {
    numbering: Numbering,
    algorithm: Algorithm,
}

impl<'a> Agent<'a> {
    pub fn new(
        config: &'a AgentConfig,
        state: &'a mut AgentState,
        device: &'a mut dyn AgentDevice,
    ) -> Self {
        Agent {
            config,
            state,
            device,
        }
    }

    /// ProcessTeepMessage: validates a TAM message and produces the answer.
    ///
    /// `random` fills buffers with fresh random bytes (challenges when demanding TAM attestation).
    pub fn handle_message(
        &mut self,
        tam_uri: &str,
        bytes: &[u8],
        random: &mut dyn FnMut(&mut [u8]),
    ) -> Outcome {
        let mut events = Vec::new();
        let answering = self.remembered_answering(tam_uri);
        let (message, numbering, kid, alg) = match self.open_and_verify(bytes) {
            Ok(v) => v,
            Err(e) => {
                return self.refuse(events, answering, None, e.code(), e.to_string());
            }
        };
        events.push(AgentEvent::TamVerified {
            kid: kid.clone(),
            algorithm: alg.to_cose(),
            numbering,
        });
        events.push(AgentEvent::Received {
            message: message.type_name(),
        });
        match message {
            TeepMessage::QueryRequest(qr) => {
                let our_alg = match self.pick_algorithm(&qr.supported_cipher_suites, alg) {
                    Some(a) => a,
                    None => {
                        let answering = Answering {
                            numbering,
                            algorithm: self.device.teep_signer().algorithm(),
                        };
                        let mut err = ErrorMessage::new(ErrorCode::UnsupportedCipherSuites);
                        err.supported_cipher_suites = self.our_cipher_suites();
                        err.token = qr.token.clone();
                        err.err_msg = Some("no cipher suite in common".into());
                        events.push(AgentEvent::Refused {
                            code: ErrorCode::UnsupportedCipherSuites,
                            reason: "no cipher suite in common".into(),
                        });
                        return self.send(events, answering, TeepMessage::Error(err));
                    }
                };
                let answering = Answering {
                    numbering,
                    algorithm: our_alg,
                };
                // Checked before anything is recorded, so a refused request changes no state.
                let nonce = if qr.data_item_requested.attestation() {
                    match evidence_nonce(&qr) {
                        Ok(n) => n,
                        Err(e) => {
                            return self.refuse(
                                events,
                                answering,
                                qr.token.as_deref(),
                                ErrorCode::PermanentError,
                                e.to_string(),
                            )
                        }
                    }
                } else {
                    None
                };
                self.state.tam_profiles.insert(
                    tam_uri.to_string(),
                    TamProfile {
                        numbering: numbering_name(numbering).into(),
                        algorithm: our_alg.to_cose(),
                        kid: hex::encode(&kid),
                    },
                );
                self.on_query_request(events, answering, qr, nonce, random)
            }
            TeepMessage::Update(update) => {
                let answering = Answering {
                    numbering,
                    ..answering
                };
                self.on_update(events, answering, update)
            }
            other => {
                let reason = format!("{} is not a message a TAM sends", other.type_name());
                self.refuse(
                    events,
                    Answering {
                        numbering,
                        ..answering
                    },
                    other.token(),
                    ErrorCode::PermanentError,
                    reason,
                )
            }
        }
    }

    fn remembered_answering(&self, tam_uri: &str) -> Answering {
        let signer_alg = self.device.teep_signer().algorithm();
        match self.state.tam_profiles.get(tam_uri) {
            Some(p) => Answering {
                numbering: if p.numbering == "legacy" {
                    Numbering::Legacy
                } else {
                    Numbering::Draft26
                },
                algorithm: compatible_alg(signer_alg, Algorithm::from_cose(p.algorithm))
                    .unwrap_or(signer_alg),
            },
            None => Answering {
                numbering: Numbering::Draft26,
                algorithm: signer_alg,
            },
        }
    }

    /// §4.1.2 validation: CBOR, COSE_Sign1 or COSE_Sign, a signature by a TAM trust anchor,
    /// then a valid TEEP message in either numbering.
    fn open_and_verify(&self, bytes: &[u8]) -> Result<Verified, TamMessageError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(TamMessageError::TooLarge { len: bytes.len() });
        }
        let opened = teep_cose::open(bytes).map_err(TamMessageError::NotCose)?;
        let (key, info) = opened
            .verify_any(&self.config.tam_trust_anchors)
            .map_err(TamMessageError::Untrusted)?;
        // A detached payload (nil) is no TEEP message: decoding nothing says so.
        let payload = opened.payload.as_deref().unwrap_or_default();
        let (message, numbering) =
            teep_proto::decode_auto(payload).map_err(TamMessageError::NotTeep)?;
        Ok((message, numbering, key.thumbprint().to_vec(), info.alg))
    }

    /// Our cipher suites, in the numbering of the algorithm family our key belongs to.
    fn our_cipher_suites(&self) -> Vec<CipherSuite> {
        match self.device.teep_signer().public_key().key_type() {
            KeyType::P256 => vec![CipherSuite::SIGN1_ESP256, CipherSuite::SIGN1_ES256],
            KeyType::Ed25519 => vec![CipherSuite::SIGN1_ED25519, CipherSuite::SIGN1_EDDSA],
        }
    }

    /// The first of the TAM's suites our key can sign, preferring the id the TAM signed with.
    fn pick_algorithm(&self, suites: &[CipherSuite], tam_alg: Algorithm) -> Option<Algorithm> {
        let ours = self.device.teep_signer().algorithm();
        if suites.is_empty() {
            // Nothing offered: answer with what the TAM itself used, if our key fits it.
            return compatible_alg(ours, tam_alg).or(Some(ours));
        }
        let offered: Vec<Algorithm> = suites
            .iter()
            .filter_map(|s| s.sign1_alg())
            .map(Algorithm::from_cose)
            .collect();
        if let Some(a) = compatible_alg(ours, tam_alg).filter(|a| offered.contains(a)) {
            return Some(a);
        }
        offered.into_iter().find_map(|a| compatible_alg(ours, a))
    }

    fn on_query_request(
        &mut self,
        mut events: Vec<AgentEvent>,
        answering: Answering,
        qr: QueryRequest,
        nonce: Option<Vec<u8>>,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> Outcome {
        let token = qr.token.clone();
        if !qr.versions.is_empty() && !qr.versions.contains(&0) {
            let mut err = ErrorMessage::new(ErrorCode::UnsupportedMsgVersion);
            err.versions = vec![0];
            err.token = token;
            return self.refuse_with(events, answering, err, "no TEEP version in common".into());
        }
        let attestation = qr.data_item_requested.attestation();
        if attestation
            && !qr.supported_freshness_mechanisms.is_empty()
            && !qr
                .supported_freshness_mechanisms
                .contains(&FreshnessMechanism::Nonce)
        {
            let mut err = ErrorMessage::new(ErrorCode::UnsupportedFreshnessMechanisms);
            err.supported_freshness_mechanisms = vec![FreshnessMechanism::Nonce];
            err.token = token;
            return self.refuse_with(
                events,
                answering,
                err,
                "only nonce freshness is supported".into(),
            );
        }
        if self.config.require_tam_attestation && qr.attestation_payload.is_none() {
            let mut challenge = vec![0u8; 32];
            random(&mut challenge);
            let mut err = ErrorMessage::new(ErrorCode::AttestationRequired);
            err.challenge = Some(challenge);
            err.supported_freshness_mechanisms = vec![FreshnessMechanism::Nonce];
            err.token = token;
            return self.refuse_with(
                events,
                answering,
                err,
                "this Agent requires TAM attestation".into(),
            );
        }
        let installed = match self.device.installed() {
            Ok(i) => i,
            Err(e) => {
                return self.refuse(
                    events,
                    answering,
                    token.as_deref(),
                    ErrorCode::TemporaryError,
                    e.to_string(),
                )
            }
        };
        let manifests = match self.device.installed_manifests() {
            Ok(m) => m,
            Err(e) => {
                return self.refuse(
                    events,
                    answering,
                    token.as_deref(),
                    ErrorCode::TemporaryError,
                    e.to_string(),
                )
            }
        };
        let mut resp = QueryResponse {
            token: token.clone(),
            ..Default::default()
        };
        if attestation {
            match self.evidence(nonce.clone(), &manifests) {
                Ok(eat) => {
                    events.push(AgentEvent::EvidenceProduced {
                        nonce: nonce.unwrap_or_default(),
                    });
                    resp.attestation_payload_format = Some(EAT_MEDIA_TYPE.into());
                    resp.attestation_payload = Some(eat);
                }
                Err(e) => {
                    return self.refuse(
                        events,
                        answering,
                        token.as_deref(),
                        ErrorCode::TemporaryError,
                        e.to_string(),
                    );
                }
            }
        }
        if qr.data_item_requested.trusted_components() {
            resp.tc_list = installed.iter().map(tc_list_entry).collect();
        }
        // No TEEP extensions are defined, so ext-list (bit 2) has nothing to name and stays absent.
        let installed_ids: Vec<&ComponentId> = installed.iter().map(|t| &t.component_id).collect();
        resp.requested_tc_list = self
            .state
            .requested
            .iter()
            .filter(|(tc, _)| !installed_ids.contains(&&tc.0))
            .map(|(tc, r)| RequestedTcInfo {
                component_id: tc.0.clone(),
                tc_manifest_sequence_number: r.min_sequence,
                have_binary: None,
            })
            .collect();
        let manifest_ids: Vec<&ComponentId> = manifests.iter().map(|(id, _)| id).collect();
        resp.unneeded_manifest_list = self
            .state
            .unrequested
            .iter()
            .filter(|m| manifest_ids.contains(&&m.0))
            .map(|m| m.0.clone())
            .collect();
        self.send(events, answering, TeepMessage::QueryResponse(resp))
    }

    /// Evidence: an EAT signed by the attestation key, `cnf` carrying the TEEP public key.
    fn evidence(
        &self,
        nonce: Option<Vec<u8>>,
        manifests: &[(ComponentId, u64)],
    ) -> Result<Vec<u8>, crate::evidence::EvidenceError> {
        let id = self.device.identity();
        let claims = crate::evidence::EvidenceClaims {
            nonce,
            ueid: id.ueid,
            oemid: id.oemid,
            hwmodel: id.hwmodel,
            hwversion: id.hwversion,
            manifests: manifests.to_vec(),
            teep_key: self.device.teep_signer().public_key(),
        };
        crate::evidence::sign_evidence(&claims, self.device.attestation_signer())
    }

    fn on_update(
        &mut self,
        mut events: Vec<AgentEvent>,
        answering: Answering,
        update: Update,
    ) -> Outcome {
        let token = update.token.clone();
        if let Some(code) = update.err_code {
            events.push(AgentEvent::TamReportedError {
                code,
                message: update.err_msg.clone(),
            });
            if update.manifest_list.is_empty() && update.unneeded_manifest_list.is_empty() {
                // The TAM's error channel: nothing to apply, nothing to acknowledge.
                return Outcome {
                    reply: None,
                    events,
                    error: None,
                };
            }
        }
        for manifest_id in &update.unneeded_manifest_list {
            match self.device.unlink_manifest(manifest_id) {
                Ok(found) => {
                    events.push(AgentEvent::Unlinked {
                        manifest_id: manifest_id.clone(),
                        found,
                    });
                    let tc = TcId(manifest_id.clone());
                    self.state.unrequested.remove(&tc);
                }
                Err(e) => {
                    let reason = format!("unlinking {}: {e}", TcId(manifest_id.clone()));
                    return self.refuse(
                        events,
                        answering,
                        token.as_deref(),
                        ErrorCode::ManifestProcessingFailed,
                        reason,
                    );
                }
            }
        }
        let mut reports = Vec::new();
        for (i, envelope) in update.manifest_list.iter().enumerate() {
            match self.device.apply_manifest(
                envelope,
                &self.config.tc_signer_trust_anchors,
                token.as_deref(),
            ) {
                Ok(result) => {
                    events.push(AgentEvent::Installed {
                        manifest_id: result.manifest_id.clone(),
                        sequence_number: result.sequence_number,
                    });
                    // Installed: no longer a pending request.
                    let tc = TcId(result.manifest_id.clone()).component_of_manifest();
                    self.state.requested.remove(&tc);
                    reports.push(result.report);
                }
                Err(failure) => {
                    let reason = format!("manifest-list[{i}]: {}", failure.error);
                    events.push(AgentEvent::ManifestFailed {
                        reason: reason.clone(),
                    });
                    let mut err = ErrorMessage::new(ErrorCode::ManifestProcessingFailed);
                    err.token = token;
                    err.err_msg = Some(truncate_text(&reason, 128));
                    err.suit_reports = vec![failure.report];
                    events.push(AgentEvent::Refused {
                        code: ErrorCode::ManifestProcessingFailed,
                        reason,
                    });
                    return self.send(events, answering, TeepMessage::Error(err));
                }
            }
        }
        let success = Success {
            token,
            msg: None,
            suit_reports: Vec::new(),
            ..Default::default()
        };
        // Successful runs produce reports without records; they are not sent unless asked.
        let _ = reports;
        self.send(events, answering, TeepMessage::Success(success))
    }

    fn refuse(
        &self,
        events: Vec<AgentEvent>,
        answering: Answering,
        token: Option<&[u8]>,
        code: ErrorCode,
        reason: String,
    ) -> Outcome {
        let mut err = ErrorMessage::new(code);
        err.token = token.map(|t| t.to_vec());
        err.err_msg = Some(truncate_text(&reason, 128));
        self.refuse_with(events, answering, err, reason)
    }

    fn refuse_with(
        &self,
        mut events: Vec<AgentEvent>,
        answering: Answering,
        err: ErrorMessage,
        reason: String,
    ) -> Outcome {
        tracing::warn!(code = ?err.err_code, %reason, "answering the TAM with an Error");
        events.push(AgentEvent::Refused {
            code: err.err_code,
            reason,
        });
        self.send(events, answering, TeepMessage::Error(err))
    }

    fn send(
        &self,
        mut events: Vec<AgentEvent>,
        answering: Answering,
        message: TeepMessage,
    ) -> Outcome {
        let name = message.type_name();
        let payload = message.encode(answering.numbering);
        let signer = AlgorithmLabel {
            inner: self.device.teep_signer(),
            algorithm: answering.algorithm,
        };
        match teep_cose::sign1(&payload, &signer) {
            Ok(bytes) => {
                events.push(AgentEvent::Sent { message: name });
                Outcome {
                    reply: Some(bytes),
                    events,
                    error: None,
                }
            }
            Err(e) => {
                let error = ReplyError::Sign(e);
                tracing::error!(%error, "cannot sign the answer");
                events.push(AgentEvent::Refused {
                    code: ErrorCode::TemporaryError,
                    reason: error.to_string(),
                });
                Outcome {
                    reply: None,
                    events,
                    error: Some(error),
                }
            }
        }
    }
}

/// The `eat_nonce` of the Evidence answering `qr`: the challenge (background-check model), else
/// the token (passport model), `None` when the TAM sent neither.
///
/// A challenge may be 8..512 bytes (draft-ietf-teep-protocol-26 §4.2), but `eat_nonce` takes at
/// most 64 (RFC 9711 §4.1) and the TAM compares it with its challenge byte for byte, so a hash or
/// a cut would only fail there. Such a request is refused with ERR_PERMANENT_ERROR: the draft
/// gives that code for fields that are incorrect or inconsistent with others (here the challenge
/// with the EAT attestation format), and the same request can never succeed, so it is not
/// temporary. ERR_UNSUPPORTED_FRESHNESS_MECHANISMS does not fit: the Agent does support nonce
/// freshness, and that Error would list just nonce, inviting the same request again. Tokens are
/// 8..64 bytes by the TEEP codec, so the passport model always fits.
fn evidence_nonce(qr: &QueryRequest) -> Result<Option<Vec<u8>>, ChallengeTooLong> {
    match &qr.challenge {
        Some(c) if c.len() > EAT_NONCE_MAX => Err(ChallengeTooLong { len: c.len() }),
        Some(c) => Ok(Some(c.clone())),
        None => Ok(qr.token.clone()),
    }
}

/// A challenge that cannot be an `eat_nonce` (see [`evidence_nonce`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("QueryRequest.challenge: {len} bytes; eat_nonce takes at most {EAT_NONCE_MAX}")]
struct ChallengeTooLong {
    len: usize,
}

fn numbering_name(n: Numbering) -> &'static str {
    match n {
        Numbering::Legacy => "legacy",
        _ => "draft26",
    }
}

/// The id under which a key of `ours` signs when the peer expects `wanted`: ES256 and ESP256
/// (and EdDSA and Ed25519) are the same computation under two ids.
pub fn compatible_alg(ours: Algorithm, wanted: Algorithm) -> Option<Algorithm> {
    match (ours.key_type(), wanted) {
        (Some(KeyType::P256), Algorithm::Esp256 | Algorithm::Es256) => Some(wanted),
        (Some(KeyType::Ed25519), Algorithm::Ed25519 | Algorithm::EdDsa) => Some(wanted),
        _ => None,
    }
}

fn tc_list_entry(tc: &InstalledTc) -> SystemPropertyClaims {
    let digest = Value::Array(vec![Value::Integer(-16), Value::Bytes(tc.digest.to_vec())]);
    let mut claims = SystemPropertyClaims {
        component_id: tc.component_id.clone(),
        ..Default::default()
    };
    claims
        .parameters
        .insert(SUIT_PARAMETER_IMAGE_DIGEST, Value::Bytes(digest.to_vec()));
    claims
        .parameters
        .insert(SUIT_PARAMETER_IMAGE_SIZE, Value::Integer(tc.size.into()));
    claims
}

/// Cuts text to at most `max` bytes on a character boundary (err-msg is `.size (1..128)`).
fn truncate_text(text: &str, max: usize) -> String {
    let text = if text.is_empty() { "error" } else { text };
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// A signer that labels its signatures with another id of the same algorithm.
struct AlgorithmLabel<'s> {
    inner: &'s dyn Signer,
    algorithm: Algorithm,
}

impl Signer for AlgorithmLabel<'_> {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    fn kid(&self) -> Vec<u8> {
        self.inner.kid()
    }
    fn public_key(&self) -> PublicKey {
        self.inner.public_key()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, teep_cose::CoseError> {
        self.inner.sign(tbs)
    }
}

/// Requested data items, for callers that build QueryRequests in tests.
pub fn all_data_items() -> DataItems {
    DataItems(DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use teep_cose::{CoseError, PrivateKey, SoftwareSigner};

    /// A signer whose key is gone: every signature fails.
    struct KeyGone(SoftwareSigner);

    impl Signer for KeyGone {
        fn algorithm(&self) -> Algorithm {
            self.0.algorithm()
        }
        fn kid(&self) -> Vec<u8> {
            self.0.kid()
        }
        fn public_key(&self) -> PublicKey {
            self.0.public_key()
        }
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, CoseError> {
            Err(CoseError::Crypto("key unavailable".into()))
        }
    }

    /// A device whose store cannot be read, or whose key cannot sign.
    struct Broken {
        signer: Box<dyn Signer>,
        store_readable: bool,
    }

    impl AgentDevice for Broken {
        fn teep_signer(&self) -> &dyn Signer {
            self.signer.as_ref()
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
            if self.store_readable {
                Ok(Vec::new())
            } else {
                Err(DeviceError::tee(std::io::Error::other(
                    "sealed store unreadable",
                )))
            }
        }
        fn installed_manifests(&self) -> Result<Vec<(ComponentId, u64)>, DeviceError> {
            Ok(Vec::new())
        }
        fn apply_manifest(
            &mut self,
            _: &[u8],
            _: &[PublicKey],
            _: Option<&[u8]>,
        ) -> Result<ManifestResult, ManifestFailure> {
            unreachable!("no Update in these tests")
        }
        fn unlink_manifest(&mut self, _: &ComponentId) -> Result<bool, DeviceError> {
            unreachable!("no Update in these tests")
        }
    }

    fn signer(seed: u8) -> SoftwareSigner {
        SoftwareSigner::new(PrivateKey::from_p256_scalar(&[seed; 32]).unwrap())
    }

    /// A QueryRequest from the TAM key of seed 0x11 to `device`.
    fn ask(device: &mut Broken) -> Outcome {
        let tam = signer(0x11);
        let config = AgentConfig {
            tam_trust_anchors: vec![tam.public_key()],
            ..Default::default()
        };
        let qr = TeepMessage::QueryRequest(QueryRequest {
            token: Some(vec![4; 16]),
            supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
            supported_suit_cose_profiles: vec![
                teep_proto::SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR,
            ],
            data_item_requested: DataItems(DataItems::TRUSTED_COMPONENTS),
            ..Default::default()
        });
        let bytes = teep_cose::sign1(&qr.encode(Numbering::Draft26), &tam).unwrap();
        let mut state = AgentState::default();
        Agent::new(&config, &mut state, device)
            .handle_message("http://tam", &bytes, &mut |b| b.fill(0))
    }

    #[test]
    fn device_failure_text_goes_to_the_tam_and_its_cause_stays_attached() {
        let mut device = Broken {
            signer: Box::new(signer(0x22)),
            store_readable: false,
        };
        let out = ask(&mut device);
        assert!(out.error.is_none());
        let opened = teep_cose::open(&out.reply.expect("an Error message")).unwrap();
        let (m, _) = teep_proto::decode_auto(opened.payload.as_deref().unwrap()).unwrap();
        let TeepMessage::Error(err) = m else {
            panic!("{m:?}")
        };
        assert_eq!(err.err_code, ErrorCode::TemporaryError);
        assert_eq!(err.err_msg.as_deref(), Some("sealed store unreadable"));

        let e = device.installed().unwrap_err();
        assert!(matches!(e, DeviceError::Tee(_)));
        assert!(e.cause().downcast_ref::<std::io::Error>().is_some());
    }

    #[test]
    fn an_answer_that_cannot_be_signed_is_an_error_not_silence() {
        let mut device = Broken {
            signer: Box::new(KeyGone(signer(0x22))),
            store_readable: true,
        };
        let out = ask(&mut device);
        assert!(out.reply.is_none());
        let error = out.error.expect("the failure is reported");
        assert!(matches!(error, ReplyError::Sign(_)));
        assert_eq!(
            error.to_string(),
            "signing: crypto provider: key unavailable"
        );
        assert!(out.events.contains(&AgentEvent::Refused {
            code: ErrorCode::TemporaryError,
            reason: error.to_string(),
        }));
    }

    fn with_challenge(challenge: Option<Vec<u8>>, token: Option<Vec<u8>>) -> QueryRequest {
        QueryRequest {
            token,
            challenge,
            data_item_requested: all_data_items(),
            ..Default::default()
        }
    }

    #[test]
    fn challenge_of_8_to_64_bytes_is_the_nonce() {
        for len in [8, 32, EAT_NONCE_MAX] {
            let qr = with_challenge(Some(vec![3; len]), Some(vec![9; 16]));
            assert_eq!(evidence_nonce(&qr), Ok(Some(vec![3; len])));
        }
    }

    #[test]
    fn challenge_longer_than_64_bytes_is_refused_with_field_and_rule() {
        for len in [EAT_NONCE_MAX + 1, 100, 512] {
            let qr = with_challenge(Some(vec![3; len]), Some(vec![9; 16]));
            assert_eq!(
                evidence_nonce(&qr).map_err(|e| e.to_string()),
                Err(format!(
                    "QueryRequest.challenge: {len} bytes; eat_nonce takes at most 64"
                ))
            );
        }
    }

    #[test]
    fn without_challenge_the_token_is_the_nonce_else_none() {
        let qr = with_challenge(None, Some(vec![9; 16]));
        assert_eq!(evidence_nonce(&qr), Ok(Some(vec![9; 16])));
        assert_eq!(evidence_nonce(&with_challenge(None, None)), Ok(None));
    }
}
