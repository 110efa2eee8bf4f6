//! Typed model of the five TEEP messages (draft-ietf-teep-protocol-26 §4, Appendix C).
//!
//! Field names follow the CDDL. List options (`[+ x]` in the CDDL, so never empty on the wire)
//! are plain `Vec`s: empty means absent. Options whose label we do not know are kept in
//! `unknown_options` and re-encoded unchanged.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::cbor::Value;
use crate::registry::{
    CipherSuite, DataItems, ErrorCode, FreshnessMechanism, MessageType, SuitCoseProfile,
};

/// `SUIT_Component_Identifier = [* bstr]`: teep-cbor's one type, with its encoding and text.
pub use teep_cbor::ComponentId;

/// Option labels we do not know, with their values (ignored, but kept for re-encoding).
pub type UnknownOptions = BTreeMap<u64, Value>;

/// Any TEEP message.
#[derive(Debug, Clone, PartialEq)]
pub enum TeepMessage {
    QueryRequest(QueryRequest),
    QueryResponse(QueryResponse),
    Update(Update),
    Success(Success),
    Error(ErrorMessage),
}

impl TeepMessage {
    pub fn message_type(&self) -> MessageType {
        match self {
            TeepMessage::QueryRequest(_) => MessageType::QueryRequest,
            TeepMessage::QueryResponse(_) => MessageType::QueryResponse,
            TeepMessage::Update(_) => MessageType::Update,
            TeepMessage::Success(_) => MessageType::Success,
            TeepMessage::Error(_) => MessageType::Error,
        }
    }

    /// `QueryRequest`, `QueryResponse`, `Update`, `Success` or `Error`.
    pub fn type_name(&self) -> &'static str {
        self.message_type().name()
    }

    /// The token of any message type.
    pub fn token(&self) -> Option<&[u8]> {
        match self {
            TeepMessage::QueryRequest(m) => m.token.as_deref(),
            TeepMessage::QueryResponse(m) => m.token.as_deref(),
            TeepMessage::Update(m) => m.token.as_deref(),
            TeepMessage::Success(m) => m.token.as_deref(),
            TeepMessage::Error(m) => m.token.as_deref(),
        }
    }

    pub fn unknown_options(&self) -> &UnknownOptions {
        match self {
            TeepMessage::QueryRequest(m) => &m.unknown_options,
            TeepMessage::QueryResponse(m) => &m.unknown_options,
            TeepMessage::Update(m) => &m.unknown_options,
            TeepMessage::Success(m) => &m.unknown_options,
            TeepMessage::Error(m) => &m.unknown_options,
        }
    }
}

macro_rules! from_variant {
    ($t:ident, $v:ident) => {
        impl From<$t> for TeepMessage {
            fn from(m: $t) -> Self {
                TeepMessage::$v(m)
            }
        }
    };
}
from_variant!(QueryRequest, QueryRequest);
from_variant!(QueryResponse, QueryResponse);
from_variant!(Update, Update);
from_variant!(Success, Success);
from_variant!(ErrorMessage, Error);

/// QueryRequest (TAM → Agent), §4.2.
///
/// Token vs. attestation bit (DIGEST §9 item 2): §4.2 says the token is present if and only if
/// the attestation bit is clear, while the example, the Passport model and replay protection
/// use a token with the bit set. Decoding accepts both; [`QueryRequest::new`] follows §4.2.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryRequest {
    pub token: Option<Vec<u8>>,
    pub supported_freshness_mechanisms: Vec<FreshnessMechanism>,
    pub challenge: Option<Vec<u8>>,
    pub versions: Vec<u32>,
    pub attestation_payload_format: Option<String>,
    pub attestation_payload: Option<Vec<u8>>,
    /// Each entry is `bstr .cbor (SUIT_Report_Protected / SUIT_Report_Unprotected)`.
    pub suit_reports: Vec<Vec<u8>>,
    /// Positional: the TAM's cipher suites.
    pub supported_cipher_suites: Vec<CipherSuite>,
    /// Positional: SUIT COSE profiles the TAM can parse reports with.
    pub supported_suit_cose_profiles: Vec<SuitCoseProfile>,
    /// Positional: `uint .bits data-item-requested`.
    pub data_item_requested: DataItems,
    pub unknown_options: UnknownOptions,
}

impl QueryRequest {
    /// A QueryRequest following §4.2 literally: `token` is kept only when the attestation bit
    /// is clear (with the bit set, freshness comes from `challenge` or the passport flow).
    pub fn new(
        supported_cipher_suites: Vec<CipherSuite>,
        supported_suit_cose_profiles: Vec<SuitCoseProfile>,
        data_item_requested: DataItems,
        token: Option<Vec<u8>>,
    ) -> Self {
        let token = if data_item_requested.attestation() {
            None
        } else {
            token
        };
        QueryRequest {
            token,
            supported_cipher_suites,
            supported_suit_cose_profiles,
            data_item_requested,
            ..Default::default()
        }
    }
}

/// One `tc-list` entry: SUIT `system-property-claims` = `{0: component-id, + parameter => value}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SystemPropertyClaims {
    pub component_id: ComponentId,
    /// SUIT parameter label (3 image-digest, 14 image-size, 28 version, ...) → value.
    pub parameters: BTreeMap<i64, Value>,
}

/// `requested-tc-info`: a TC the Agent wants but does not have (§4.3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestedTcInfo {
    pub component_id: ComponentId,
    /// Minimum acceptable suit-manifest-sequence-number; MUST be present if `have_binary`.
    pub tc_manifest_sequence_number: Option<u64>,
    pub have_binary: Option<bool>,
}

/// QueryResponse (Agent → TAM), §4.3.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResponse {
    pub token: Option<Vec<u8>>,
    pub selected_version: Option<u32>,
    pub attestation_payload_format: Option<String>,
    pub attestation_payload: Option<Vec<u8>>,
    pub suit_reports: Vec<Vec<u8>>,
    /// `None` when absent, which is not "holds nothing": -26 §4.3 has tc-list present when the
    /// trusted-components bit is set, so an agent holding nothing sends `Some(vec![])`, written
    /// `[]` against the CDDL's `[+ …]` (the only way to answer; read as deviation
    /// `teep.tc-list-empty`).
    pub tc_list: Option<Vec<SystemPropertyClaims>>,
    pub requested_tc_list: Vec<RequestedTcInfo>,
    /// SUIT Manifest Component IDs (`[..., 'suit']`), not payload component IDs.
    pub unneeded_manifest_list: Vec<ComponentId>,
    /// `None` when absent. Present (when the extensions bit is set) but naming no extension
    /// is `Some(vec![])`, written `[]` against the CDDL's `[+ uint]`: no extension is defined
    /// yet, so that is every agent's answer (read as deviation `teep.ext-list-empty`).
    pub ext_list: Option<Vec<u32>>,
    pub unknown_options: UnknownOptions,
}

/// Update (TAM → Agent), §4.4. Also the TAM's error channel (err-code in options).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    pub token: Option<Vec<u8>>,
    pub unneeded_manifest_list: Vec<ComponentId>,
    /// Untagged SUIT_Envelopes, each as its encoded bytes (`bstr .cbor SUIT_Envelope`).
    pub manifest_list: Vec<Vec<u8>>,
    pub attestation_payload_format: Option<String>,
    pub attestation_payload: Option<Vec<u8>>,
    pub err_code: Option<ErrorCode>,
    pub err_msg: Option<String>,
    pub err_lang: Option<String>,
    pub unknown_options: UnknownOptions,
}

/// Success (Agent → TAM), §4.5.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Success {
    pub token: Option<Vec<u8>>,
    pub msg: Option<String>,
    pub suit_reports: Vec<Vec<u8>>,
    pub unknown_options: UnknownOptions,
}

/// Error (Agent → TAM), §4.6. `err_code` is positional.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorMessage {
    pub token: Option<Vec<u8>>,
    pub err_msg: Option<String>,
    pub err_lang: Option<String>,
    pub supported_cipher_suites: Vec<CipherSuite>,
    pub supported_freshness_mechanisms: Vec<FreshnessMechanism>,
    pub supported_suit_cose_profiles: Vec<SuitCoseProfile>,
    pub challenge: Option<Vec<u8>>,
    pub versions: Vec<u32>,
    pub suit_reports: Vec<Vec<u8>>,
    pub err_code: ErrorCode,
    pub unknown_options: UnknownOptions,
}

impl ErrorMessage {
    pub fn new(err_code: ErrorCode) -> Self {
        ErrorMessage {
            token: None,
            err_msg: None,
            err_lang: None,
            supported_cipher_suites: Vec::new(),
            supported_freshness_mechanisms: Vec::new(),
            supported_suit_cose_profiles: Vec::new(),
            challenge: None,
            versions: Vec::new(),
            suit_reports: Vec::new(),
            err_code,
            unknown_options: UnknownOptions::new(),
        }
    }
}
