//! The TAM's view of teep-proto messages: builds what the TAM sends and reduces what it
//! receives to the fields the session core and policy use. Keeping every teep-proto field
//! access here keeps the core readable.

use alloc::{string::String, string::ToString, vec, vec::Vec};

use teep_proto::{
    CipherSuite, DataItems, ErrorCode, FreshnessMechanism, QueryRequest, SuitCoseProfile,
    TeepMessage, Update,
};

use crate::model::ComponentId;
use crate::policy::{Reported, Requested};

/// SUIT parameter label of the image digest in a tc-list entry.
const SUIT_PARAMETER_IMAGE_DIGEST: i64 = 3;

/// A QueryResponse, reduced.
#[derive(Debug, Clone, Default)]
pub struct QueryResponseIn {
    pub token: Option<Vec<u8>>,
    pub attestation_payload_format: Option<String>,
    pub attestation_payload: Option<Vec<u8>>,
    /// `None` when absent: not "holds nothing", and storage's record stands.
    pub tc_list: Option<Vec<Reported>>,
    /// `None` when absent; the extensions the agent names (none is defined yet).
    pub ext_list: Option<Vec<u32>>,
    /// The SUIT reports, each `bstr .cbor (SUIT_Report_Protected / SUIT_Report_Unprotected)`.
    pub suit_reports: Vec<Vec<u8>>,
    pub requested: Vec<Requested>,
    /// Encoded manifest component ids.
    pub unneeded: Vec<Vec<u8>>,
}

/// What the TAM can receive.
#[derive(Debug, Clone)]
pub enum Incoming {
    QueryResponse(QueryResponseIn),
    Success {
        token: Option<Vec<u8>>,
        suit_reports: Vec<Vec<u8>>,
    },
    Error {
        token: Option<Vec<u8>>,
        suit_reports: Vec<Vec<u8>>,
        code: u64,
        name: String,
        err_msg: Option<String>,
        /// The language tag of `err_msg` (-26 §4.6: shown to aid operators).
        err_lang: Option<String>,
        /// The err-code as sent when it is none of the defined codes (deviation
        /// `teep.err-code-undefined`): `code` and `name` are then ERR_PERMANENT_ERROR's.
        undefined: Option<u64>,
        /// The freshness input for the TAM's own attestation (with ERR_ATTESTATION_REQUIRED,
        /// -26 §4.6).
        challenge: Option<Vec<u8>>,
    },
    /// QueryRequest or Update: only a TAM sends those.
    Other(&'static str),
}

impl Incoming {
    /// The SUIT reports the message carries.
    pub fn suit_reports(&self) -> &[Vec<u8>] {
        match self {
            Incoming::QueryResponse(q) => &q.suit_reports,
            Incoming::Success { suit_reports, .. } | Incoming::Error { suit_reports, .. } => {
                suit_reports
            }
            Incoming::Other(_) => &[],
        }
    }

    pub fn token(&self) -> Option<&[u8]> {
        match self {
            Incoming::QueryResponse(q) => q.token.as_deref(),
            Incoming::Success { token, .. } | Incoming::Error { token, .. } => token.as_deref(),
            Incoming::Other(_) => None,
        }
    }
}

pub fn incoming(m: TeepMessage) -> Incoming {
    match m {
        TeepMessage::QueryResponse(q) => Incoming::QueryResponse(QueryResponseIn {
            token: q.token,
            attestation_payload_format: q.attestation_payload_format,
            attestation_payload: q.attestation_payload,
            // Absent stays `None`: only a list that is there (even `[]`) says what is held.
            tc_list: q.tc_list.map(|list| {
                list.iter()
                    .map(|c| Reported {
                        component_id: c.component_id.encode(),
                        digest: match c.parameters.get(&SUIT_PARAMETER_IMAGE_DIGEST) {
                            Some(teep_proto::Value::Bytes(b)) => Some(b.clone()),
                            _ => None,
                        },
                    })
                    .collect()
            }),
            ext_list: q.ext_list,
            suit_reports: q.suit_reports,
            requested: q
                .requested_tc_list
                .iter()
                .map(|r| Requested {
                    component_id: r.component_id.encode(),
                    min_sequence: r.tc_manifest_sequence_number,
                    have_binary: r.have_binary.unwrap_or(false),
                })
                .collect(),
            unneeded: q
                .unneeded_manifest_list
                .iter()
                .map(|c| c.encode())
                .collect(),
        }),
        TeepMessage::Success(s) => Incoming::Success {
            token: s.token,
            suit_reports: s.suit_reports,
        },
        TeepMessage::Error(e) => {
            // An undefined code (libteep sends uninitialised memory) reads as
            // ERR_PERMANENT_ERROR, keeping the value sent (-26 §4.6: err-code uint (1..23)).
            let (err_code, undefined) = match e.err_code {
                ErrorCode::Unknown(raw) => (ErrorCode::PermanentError, Some(raw)),
                c => (c, None),
            };
            Incoming::Error {
                token: e.token,
                suit_reports: e.suit_reports,
                // The numbering does not matter for the name: only code 11/17 differs, and
                // from_value already resolved it in the right numbering.
                code: err_code.value(teep_proto::Numbering::Draft26),
                name: err_code.to_string(),
                err_msg: e.err_msg,
                err_lang: e.err_lang,
                undefined,
                challenge: e.challenge,
            }
        }
        other => Incoming::Other(other.type_name()),
    }
}

/// Whether a message decoded in some numbering looks like something an agent would send
/// (used to recognise a message sent to the path of the other numbering).
pub fn plausible_in(m: &TeepMessage) -> bool {
    matches!(
        m,
        TeepMessage::QueryResponse(_) | TeepMessage::Success(_) | TeepMessage::Error(_)
    )
}

/// Whether an attestation-payload-format names a type the TAM appraises (an EAT as CWT or
/// COSE, Evidence or Attestation Result): see [`crate::attest::classify`].
pub fn is_eat_format(f: &str) -> bool {
    crate::attest::classify(Some(f)).is_ok()
}

/// A QueryRequest with a token; with `challenge`, token and challenge go together (DIGEST
/// §9.2): the token correlates the session and protects the response against replay, the
/// challenge is the evidence nonce.
pub fn query_request(token: &[u8], challenge: Option<&[u8]>, attestation: bool) -> TeepMessage {
    query_request_with(Some(token), challenge, attestation)
}

/// [`query_request`] whose token may be left out, as -26 §4.2 has it when the attestation
/// bit is set (the TAM's `token_with_attestation` off).
pub fn query_request_with(
    token: Option<&[u8]>,
    challenge: Option<&[u8]>,
    attestation: bool,
) -> TeepMessage {
    TeepMessage::QueryRequest(QueryRequest {
        token: token.map(<[u8]>::to_vec),
        challenge: challenge.map(<[u8]>::to_vec),
        supported_freshness_mechanisms: if attestation {
            vec![FreshnessMechanism::Nonce]
        } else {
            Vec::new()
        },
        supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256, CipherSuite::SIGN1_ED25519],
        // -26 §8.2 makes all four MTI profiles mandatory for a TAM, and it implements all
        // four: ECDH-ES+A128KW on P-256 (A128CTR, A128GCM) to its P-256 keys and on X25519
        // (A128CTR, ChaCha20/Poly1305) to its Ed25519 keys read as X25519 keys
        // (teep_cose::encrypt::x25519; docs/attestation/enc.md).
        supported_suit_cose_profiles: vec![
            SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR,
            SuitCoseProfile::SHA256_ED25519_ECDH_A128CTR,
            SuitCoseProfile::SHA256_ESP256_ECDH_A128GCM,
            SuitCoseProfile::SHA256_ED25519_ECDH_CHACHA_POLY,
        ],
        data_item_requested: query_data_items(attestation),
        ..Default::default()
    })
}

/// The data items the TAM's QueryRequest asks for: always the trusted components (policy
/// works from them), and attestation when it is required.
pub fn query_data_items(attestation: bool) -> DataItems {
    let mut bits = DataItems::TRUSTED_COMPONENTS;
    if attestation {
        bits |= DataItems::ATTESTATION;
    }
    DataItems(bits)
}

pub fn update(
    token: &[u8],
    manifest_list: Vec<Vec<u8>>,
    unneeded: Vec<ComponentId>,
) -> TeepMessage {
    TeepMessage::Update(Update {
        token: Some(token.to_vec()),
        manifest_list,
        unneeded_manifest_list: unneeded,
        ..Default::default()
    })
}

/// An Update that carries only an error: the TAM's way to say what was wrong (DIGEST §9.15).
pub fn error_update(token: &[u8], code: ErrorCode, msg: &str) -> TeepMessage {
    TeepMessage::Update(Update {
        token: Some(token.to_vec()),
        err_code: Some(code),
        // -26 §4.4: err-msg in Net-Unicode form, at most 128 bytes.
        err_msg: if msg.is_empty() {
            None
        } else {
            Some(teep_proto::text::err_msg(msg))
        },
        ..Default::default()
    })
}

/// TEEP messages inside COSE: teep-proto's signed wrapper.
pub use teep_proto::signed;
