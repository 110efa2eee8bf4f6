//! The TEEP Agent (draft-ietf-teep-protocol-26 §4.2, §5), sans-IO.
//!
//! [`Agent::handle_message`] takes the bytes a TAM sent and returns the bytes to send back (or
//! nothing), with events that say what happened. It does no I/O itself: keys, the component
//! store and the SUIT processor come through [`AgentDevice`], the Agent's bookkeeping through
//! [`AgentState`], and randomness and time are passed in.
//!
//! Each TAM is answered in kind: the numbering profile (draft-26 or legacy), the algorithm id
//! (ESP256 vs ES256, Ed25519 vs EdDSA) and the kid placement (protected or unprotected header)
//! are taken from its messages and remembered for the Update that follows; a TAM's numbering,
//! once learnt, is how its later messages are read (see `tam_message`).
//!
//! One file per step: `tam_message` validates what arrives, `query_request` and `update`
//! handle the two messages a TAM sends, `reply` signs what leaves, `algorithm` picks the label
//! it is signed under, `device` is the contract with the TEE.

mod algorithm;
mod device;
mod encryption;
#[cfg(test)]
mod multi_tam_tests;
mod ownership;
#[cfg(test)]
mod passport_tests;
mod query_request;
mod reply;
mod suit_reports;
mod tam_attestation;
mod tam_message;
#[cfg(any(test, feature = "test-util"))]
pub mod test_device;
mod unsolicited;
mod update;

use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};

use teep_cbor::{Deviation, Deviations, Tolerance};
use teep_cose::PublicKey;
use teep_proto::{ComponentId, DataItems, ErrorCode, Numbering, TeepMessage};

use crate::state::AgentState;

pub use algorithm::compatible_alg;
pub use device::{
    AgentDevice, DeviceError, DeviceErrorCause, DeviceIdentity, InstalledManifest, InstalledTc,
    ManifestFailure, ManifestResult,
};
pub use encryption::{open_tam_attestation_payload, TamEncryption, TamPayloadError};
pub use reply::ReplyError;
pub use tam_attestation::{
    is_attestation_result_format, verify_tam_attestation, TamAttestationError,
};

/// Media type of our Evidence: an EAT as a CWT (RFC 9782 §4), without the `eat_profile`
/// parameter. -26 §4.3 gives the TEEP EAT media type ([`TEEP_RESULT_MEDIA_TYPE`], also what an
/// absent format means) to Attestation Results, which is how the Agent labels one a Verifier
/// gave it (passport model); a TAM hands anything else to a Verifier as Evidence.
pub use teep_cose::eat::media_type::{
    EVIDENCE_MEDIA_TYPE as EAT_MEDIA_TYPE, TEEP_RESULT_MEDIA_TYPE,
};

/// Largest TEEP message accepted from a TAM (an Update may carry integrated TA binaries).
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// What the Agent is set up with.
#[derive(Debug, Clone, Default)]
pub struct AgentConfig {
    /// Keys that may sign TAM messages.
    pub tam_trust_anchors: Vec<PublicKey>,
    /// Keys that may sign SUIT manifests.
    pub tc_signer_trust_anchors: Vec<PublicKey>,
    /// Answer QueryRequests without TAM attestation with ERR_ATTESTATION_REQUIRED, and
    /// answer those with one only when it verifies (-26 §7.2.1.1, `tam_attestation`).
    pub require_tam_attestation: bool,
    /// Keys of the Verifiers whose Attestation Results about a TAM the Agent trusts.
    pub tam_verifier_keys: Vec<PublicKey>,
    /// Whether a TAM message that departs from the drafts where its meaning is plain (an empty
    /// kid, a tagged SUIT envelope, ...) is accepted and its deviations reported, or refused
    /// with an Error (`--strict`).
    pub tolerance: Tolerance,
    /// Whether the EAT and SUIT reports are encrypted to the TAM when it offers a profile the
    /// Agent implements (-26 §8.2; on by default, see `encryption`).
    pub encrypt_to_tam: TamEncryption,
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
    /// The TAM's Attestation Result verified, signed by the Verifier key of this kid.
    TamAttested {
        verifier_kid: Vec<u8>,
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
    /// The TAM reported a problem in its Update. `lang` is the err-lang the TAM named for
    /// `message` (-26 §4.4: shown to aid operators; err-code is processed regardless).
    TamReportedError {
        code: ErrorCode,
        message: Option<String>,
        lang: Option<String>,
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
    /// What was tolerated in the TAM's message (empty when it conforms).
    pub deviations: Vec<Deviation>,
}

/// The TEEP Agent: protocol logic over a device, a configuration and persisted state.
pub struct Agent<'a> {
    pub config: &'a AgentConfig,
    pub state: &'a mut AgentState,
    pub device: &'a mut dyn AgentDevice,
    /// Where the answer being built encrypts its EAT and SUIT reports (-26 §8.2).
    encryption: Option<encryption::EncryptionTarget>,
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
            encryption: None,
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
        self.encryption = None;
        // Collected tolerantly: under --strict, `open_and_verify` refuses once the message is read.
        let mut deviations = Deviations::new(Tolerance::Tolerant);
        // What this TAM taught before, refined by what this message shows of it (its COSE form
        // even when the signature fails, its numbering even when the payload is refused), so
        // that an Error is in kind too.
        let mut answering = self.remembered_answering(tam_uri);
        let opened = self.open_and_verify(tam_uri, bytes, &mut answering, &mut deviations);
        // Under --strict nothing was tolerated: a deviation refused the message.
        let deviations = if self.config.tolerance.is_strict() {
            Vec::new()
        } else {
            deviations.into_vec()
        };
        for d in &deviations {
            tracing::info!(deviation = %d, "tolerated in the TAM's message");
        }
        let (message, signature) = match opened {
            Ok(v) => v,
            Err(e) => {
                let token = e.token().map(|t| t.to_vec());
                let out = self.refuse(events, answering, token.as_deref(), e.code(), e.to_string());
                return Outcome { deviations, ..out };
            }
        };
        events.push(AgentEvent::TamVerified {
            kid: signature.kid.clone(),
            algorithm: signature.algorithm.to_cose(),
            numbering: signature.numbering,
        });
        events.push(AgentEvent::Received {
            message: message.type_name(),
        });
        let out = match message {
            TeepMessage::QueryRequest(qr) => {
                let content = encryption::pick_content(
                    &qr.supported_suit_cose_profiles,
                    self.tam_key(&signature.kid).map(|k| k.key_type()),
                );
                self.set_encryption(&signature.kid, content, random);
                let out = self.on_query_request(events, tam_uri, signature, qr, random);
                // Remembered with the rest of what this TAM taught (a request refused on
                // first contact records nothing).
                if self.state.tam_profiles.contains_key(tam_uri) {
                    match content {
                        Some(c) => self
                            .state
                            .tam_encryption
                            .insert(tam_uri.into(), c.to_cose()),
                        None => self.state.tam_encryption.remove(tam_uri),
                    };
                }
                out
            }
            TeepMessage::Update(update) => {
                let content = self
                    .state
                    .tam_encryption
                    .get(tam_uri)
                    .and_then(|id| teep_cose::encrypt::ContentAlgorithm::from_cose(*id));
                self.set_encryption(&signature.kid, content, random);
                self.on_update(events, answering, (tam_uri, &signature.kid), update)
            }
            other => {
                let reason = format!("{} is not a message a TAM sends", other.type_name());
                self.refuse(
                    events,
                    answering,
                    other.token(),
                    ErrorCode::PermanentError,
                    reason,
                )
            }
        };
        Outcome { deviations, ..out }
    }
}

/// Requested data items, for callers that build QueryRequests in tests.
pub fn all_data_items() -> DataItems {
    DataItems(DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS)
}
