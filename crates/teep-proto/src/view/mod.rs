//! Human views of TEEP messages, named all the way down: the one renderer behind `teep msg
//! decode`, the agent's and the TAM's `--dump`, `teep demo`, the TAM's web UI and `teep
//! check`.
//!
//! [`view_message`] opens any bytes a peer may send (a COSE_Sign1 / COSE_Sign wrapper or a
//! bare message, either numbering) without verifying a signature, and gives a [`MessageView`]
//! with three renderings:
//! - [`MessageView::json`]: every label by name (TEEP options, COSE headers, SUIT envelopes,
//!   EAT claims, SUIT reports, Attestation Results); unknown labels stay numbers.
//! - [`MessageView::diag`]: CBOR diagnostic notation annotated with those names, so the bytes
//!   and their meaning are side by side.
//! - [`MessageView::summary`]: one line.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value as Json;

use crate::deviation::Tolerance;
use crate::signed::{self, SignedError};
use crate::{decode_message, DecodeError, Decoded, Numbering, TeepMessage};
use teep_cose::Opened;

/// Why bytes could not be shown as a TEEP message (the decoder's error, path and rule).
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("{0}")]
    Signed(#[from] SignedError),
    #[error("{0}")]
    Message(#[from] DecodeError),
}

/// A TEEP message as received: the COSE wrapper (if any), the decoded message, the
/// deviations accepted, and the bytes.
pub struct MessageView {
    /// The COSE wrapper, unverified; `None` for a bare message.
    pub opened: Option<Opened>,
    pub decoded: Decoded,
    bytes: Vec<u8>,
}

/// A COSE_Sign1 / COSE_Sign (tag 18 or 98, or an untagged 4-element array; TEEP messages
/// have 2, 3 or 5 elements).
pub fn looks_like_cose(bytes: &[u8]) -> bool {
    matches!(bytes, [0xd2, ..] | [0xd8, 0x62, ..] | [0x84, ..])
}

/// Open `bytes` for viewing: COSE wrapper recognised and opened (signature not checked),
/// message decoded in `numbering` (detected when `None`) with `tolerance`.
pub fn view_message(
    bytes: &[u8],
    numbering: Option<Numbering>,
    tolerance: Tolerance,
) -> Result<MessageView, ViewError> {
    let (opened, decoded) = if looks_like_cose(bytes) {
        let (o, d) = signed::open_message_with(bytes, numbering, tolerance)?;
        (Some(o), d)
    } else {
        (None, decode_message(bytes, numbering, tolerance)?)
    };
    Ok(MessageView {
        opened,
        decoded,
        bytes: bytes.to_vec(),
    })
}

impl MessageView {
    pub fn message(&self) -> &TeepMessage {
        &self.decoded.message
    }

    pub fn numbering(&self) -> Numbering {
        self.decoded.numbering
    }

    /// The bytes as received.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `{"numbering", "message", "deviations", "cose"?, "numbering_ambiguous"?}`, named all
    /// the way down. `message` is also the input `teep msg encode` takes.
    pub fn json(&self) -> Json {
        let mut doc = serde_json::json!({
            "numbering": self.numbering().name(),
            "message": message_json(self.message()),
            "deviations": self.decoded.deviations.iter().map(alloc::string::ToString::to_string).collect::<Vec<_>>(),
        });
        if let Some(o) = &self.opened {
            doc["cose"] = serde_json::json!({ "kind": o.kind.name() });
        }
        doc
    }

    /// Annotated CBOR diagnostic notation.
    pub fn diag(&self) -> String {
        crate::diag::to_diag(&self.bytes).unwrap_or_default()
    }

    /// One line: type, token, the main contents, the signature.
    pub fn summary(&self) -> String {
        String::from(self.message().type_name())
    }
}

/// JSON view of a message, every nested item named.
pub fn message_json(msg: &TeepMessage) -> Json {
    msg.to_json()
}

/// Named JSON view of a SUIT envelope (as `teep suit inspect` shows it); the generic view
/// when the bytes are not an envelope.
pub fn envelope_json(bytes: &[u8]) -> Json {
    crate::json::generic_view(bytes).unwrap_or(Json::Null)
}

/// Named JSON view of an attestation payload (EAT Evidence or Attestation Result).
pub fn attestation_json(format: Option<&str>, bytes: &[u8]) -> Json {
    let _ = format;
    crate::json::generic_view(bytes).unwrap_or(Json::Null)
}
