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

mod annotate;
mod named;
mod schema;
mod summary;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{json, Value as Json};

pub use annotate::annotate_message;
pub use named::{
    alg_text, attestation_json, cose_json, envelope_json, report_json, NamedRender, Opener,
    OpeningRender,
};
pub use summary::{short_component_id, short_hex, signature};

use crate::deviation::Tolerance;
use crate::signed::{self, SignedError};
use crate::{decode_message, DecodeError, Decoded, Numbering, TeepMessage};
use teep_cose::Opened;

/// Why bytes could not be shown as a TEEP message (the decoder's error, path and rule).
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Signed(#[from] SignedError),
    #[error(transparent)]
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

    /// What the numbering detection could not tell (no hint given and both numberings read
    /// the same message).
    pub fn ambiguity(&self) -> Option<String> {
        let d = &self.decoded;
        d.also_valid_in.map(|other| {
            format!(
                "also a valid {} message in {} numbering, the same message: the numbering cannot be told from these bytes; {} is assumed",
                d.message.type_name(),
                other.name(),
                d.numbering.name()
            )
        })
    }

    /// `{"numbering", "message", "deviations", "cose"?, "numbering_ambiguous"?}`, named all
    /// the way down. `message` is also what `teep msg encode` reads back.
    pub fn json(&self) -> Json {
        self.json_with(&NamedRender)
    }

    /// [`json`](Self::json) with nested items shown by `render` (e.g. [`OpeningRender`],
    /// which opens what was encrypted to the viewer).
    pub fn json_with(&self, render: &dyn crate::json::Render) -> Json {
        let mut doc = json!({
            "numbering": self.numbering().name(),
            "summary": self.summary(),
            "message": crate::json::to_json_with(self.message(), render),
            "deviations": self.decoded.deviations.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        if let Some(note) = self.ambiguity() {
            doc["numbering_ambiguous"] = note.into();
        }
        if let Some(o) = &self.opened {
            doc["cose"] = named::cose_json(o);
        }
        doc
    }

    /// CBOR diagnostic notation annotated with names, preceded by comment lines: the
    /// signature, every COSE header parameter with its bucket, the numbering, and each
    /// deviation accepted.
    pub fn diag(&self) -> String {
        let mut out = String::new();
        if let Some(o) = &self.opened {
            for s in &o.signatures {
                let kid = s
                    .kid
                    .as_ref()
                    .map(|k| format!(" kid h'{}'", hex::encode(k)))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "/ {} alg {}{kid} /\n",
                    o.kind.name(),
                    s.alg.name()
                ));
            }
            for h in o.header_parameters() {
                out.push_str(&format!("/ header: {h} /\n"));
            }
        }
        out.push_str(&format!(
            "/ {} {} /\n",
            self.numbering().adjective(),
            self.message().type_name()
        ));
        if let Some(note) = self.ambiguity() {
            out.push_str(&format!("/ {note} /\n"));
        }
        for dev in self.decoded.deviations.iter() {
            out.push_str(&format!("/ deviation: {dev} /\n"));
        }
        match annotate::annotate_message(&self.bytes, self.numbering()) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&crate::diag::to_diag(&self.bytes).unwrap_or_default()),
        }
        out
    }

    /// One line: type, token, the main contents, the signature, deviations.
    pub fn summary(&self) -> String {
        summary::summary(&self.decoded, self.opened.as_ref())
    }
}

/// JSON view of a message, every nested item named (the reversible top level of
/// [`TeepMessage::to_json`], with SUIT envelopes, reports and evidence decoded by name).
pub fn message_json(msg: &TeepMessage) -> Json {
    crate::json::to_json_with(msg, &NamedRender)
}
