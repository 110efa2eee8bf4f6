//! Validation of what a TAM sends (draft-ietf-teep-protocol-26 §4.1.2): size, COSE_Sign1 or
//! COSE_Sign, a signature by a TAM trust anchor, then a valid TEEP message in the numbering
//! this TAM speaks.
//!
//! The numbering of a known TAM is not guessed again: once a message of that TAM decoded in one
//! numbering only, later messages are read in that numbering (a QueryRequest that asks for
//! attestation with a challenge and nothing else, like AttesTAM's second one, is valid in both).
//! Only a first contact, or a TAM whose every message so far was valid in both, is read both
//! ways. What the codecs tolerate (an empty kid, a tagged SUIT envelope, ...) is collected as
//! named deviations, or refused under [`Tolerance::Strict`].

use alloc::vec::Vec;
use teep_cbor::{Deviation, Deviations, Tolerance};
use teep_cose::{Algorithm, Limits, Opened};
use teep_proto::{DecodeError, Decoded, ErrorCode, Label, Numbering, TeepMessage};

use super::algorithm::{compatible_alg, Answering};
use super::{Agent, MAX_MESSAGE};

/// How a TAM message that passed validation was signed and numbered.
#[derive(Debug, Clone)]
pub(super) struct TamSignature {
    pub numbering: Numbering,
    /// Whether `numbering` is known (remembered, or the message decodes in it only) rather than
    /// the draft-26 default for a message valid in both.
    pub numbering_learned: bool,
    /// Kid (thumbprint) of the trust anchor that verified it.
    pub kid: Vec<u8>,
    /// The algorithm id it was signed with.
    pub algorithm: Algorithm,
    /// The TAM put its kid in the unprotected header.
    pub kid_unprotected: bool,
    /// Kids of every TAM trust anchor that verifies one of the message's signatures, `kid`
    /// first: the keys a TAM attestation's `cnf` may name (-26 §7.2.1.1). Others than `kid`
    /// are looked for only in a COSE_Sign reaching an Agent that requires TAM attestation.
    pub signers: Vec<Vec<u8>>,
}

/// Why a TAM message was not accepted; the text goes back in err-msg.
#[derive(Debug, thiserror::Error)]
pub(super) enum TamMessageError {
    #[error("message of {len} bytes exceeds {MAX_MESSAGE}")]
    TooLarge { len: usize },
    #[error("not a COSE message: {0}")]
    NotCose(teep_cose::CoseError),
    #[error("no TAM trust anchor verifies the signature: {0}")]
    Untrusted(teep_cose::CoseError),
    /// `token`: the token the message carried, read without the rest of it, so the TAM can
    /// match the Error to the request it sent.
    #[error("not a valid TEEP message: {error}")]
    NotTeep {
        error: DecodeError,
        token: Option<Vec<u8>>,
    },
    /// A departure the codecs tolerate, refused under [`Tolerance::Strict`] (`--strict`); the
    /// message was read, so the refusal carries its token.
    #[error("{}: {}", deviation.at, deviation.refusal())]
    Strict {
        deviation: Deviation,
        token: Option<Vec<u8>>,
    },
}

impl TamMessageError {
    /// ERR_BAD_CERTIFICATE when no trust anchor vouches for the TAM, else ERR_PERMANENT_ERROR.
    pub fn code(&self) -> ErrorCode {
        match self {
            TamMessageError::Untrusted(_) => ErrorCode::BadCertificate,
            _ => ErrorCode::PermanentError,
        }
    }

    pub fn token(&self) -> Option<&[u8]> {
        match self {
            TamMessageError::NotTeep { token, .. } | TamMessageError::Strict { token, .. } => {
                token.as_deref()
            }
            _ => None,
        }
    }
}

impl Agent<'_> {
    /// Opens and verifies a TAM message; the payload is parsed only once a trust anchor
    /// verified the signature. `answering` learns, step by step, how to answer this TAM in
    /// kind even when the message is refused: its algorithm id and kid placement from the
    /// COSE layer, its numbering from the payload. What the codecs tolerate goes to
    /// `deviations`; under [`Tolerance::Strict`] the first one refuses the message instead,
    /// once it was read, so that even that refusal is in kind and carries the token.
    pub(super) fn open_and_verify(
        &self,
        tam_uri: &str,
        bytes: &[u8],
        answering: &mut Answering,
        deviations: &mut Deviations,
    ) -> Result<(TeepMessage, TamSignature), TamMessageError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(TamMessageError::TooLarge { len: bytes.len() });
        }
        let limits = Limits {
            max_len: MAX_MESSAGE,
            ..Limits::default()
        };
        let opened =
            teep_cose::open_with(bytes, &limits, deviations).map_err(TamMessageError::NotCose)?;
        self.mirror_cose(&opened, None, answering);
        let (key, info) = opened
            .verify_any(&self.config.tam_trust_anchors)
            .map_err(TamMessageError::Untrusted)?;
        self.mirror_cose(&opened, Some(info.alg), answering);
        let kid_unprotected = info.kid.is_some() && !info.kid_protected;
        // A detached payload (nil) is no TEEP message: decoding nothing says so.
        let payload = opened.payload.as_deref().unwrap_or_default();
        let decoded = match self.decode_for(tam_uri, payload) {
            Ok(v) => v,
            Err(error) => {
                let (numbering, token) = salvage_token(payload, self.known_numbering(tam_uri));
                if let Some(n) = numbering {
                    answering.numbering = n;
                }
                return Err(TamMessageError::NotTeep { error, token });
            }
        };
        answering.numbering = decoded.numbering;
        deviations.extend(decoded.deviations);
        if self.config.tolerance.is_strict() {
            if let Some(d) = deviations.iter().next() {
                return Err(TamMessageError::Strict {
                    deviation: d.clone(),
                    token: decoded.message.token().map(|t| t.to_vec()),
                });
            }
        }
        let kid = key.thumbprint().to_vec();
        let mut signers = alloc::vec![kid.clone()];
        if self.config.require_tam_attestation && opened.signatures.len() > 1 {
            for anchor in &self.config.tam_trust_anchors {
                let k = anchor.thumbprint().to_vec();
                if !signers.contains(&k) && opened.verify(anchor).is_ok() {
                    signers.push(k);
                }
            }
        }
        let signature = TamSignature {
            numbering: decoded.numbering,
            numbering_learned: decoded.also_valid_in.is_none(),
            kid,
            algorithm: info.alg,
            kid_unprotected,
            signers,
        };
        Ok((decoded.message, signature))
    }

    /// Answers in the COSE form the TAM used: the id of its signature algorithm when our key
    /// computes the same algorithm (ES256 for a TAM that signed ES256), and the kid in the
    /// bucket it put its own. `verified` is the algorithm of the signature that verified;
    /// before verification, the first signature our key can answer.
    fn mirror_cose(&self, opened: &Opened, verified: Option<Algorithm>, answering: &mut Answering) {
        let ours = self.device.teep_signer().algorithm();
        let signature = opened.signatures.iter().find(|s| match verified {
            Some(alg) => s.alg == alg,
            None => compatible_alg(ours, s.alg).is_some(),
        });
        if let Some(s) = signature {
            if let Some(alg) = compatible_alg(ours, s.alg) {
                answering.algorithm = alg;
            }
            answering.kid_unprotected = s.kid.is_some() && !s.kid_protected;
        }
    }

    /// The numbering remembered as learnt for this TAM, if any.
    pub(super) fn known_numbering(&self, tam_uri: &str) -> Option<Numbering> {
        self.state.learnt_numbering(tam_uri)
    }

    /// Decodes in the TAM's known numbering; for a first contact, in whichever numbering the
    /// message is valid, and when it reads the same in both, in the one guessed before
    /// (draft-26 at first), with `also_valid_in` set: the numbering is not learnt from it.
    fn decode_for(&self, tam_uri: &str, payload: &[u8]) -> Result<Decoded, DecodeError> {
        // Read tolerantly; a strict Agent refuses what was tolerated once the message is read.
        let tolerance = Tolerance::Tolerant;
        if let Some(n) = self.known_numbering(tam_uri) {
            return teep_proto::decode_message(payload, Some(n), tolerance);
        }
        let decoded = teep_proto::decode_message(payload, None, tolerance)?;
        let Some(other) = decoded.also_valid_in else {
            return Ok(decoded);
        };
        let guess = self.state.tam_profiles.get(tam_uri).map(|p| p.numbering());
        tracing::info!(
            %tam_uri,
            numbering = %guess.unwrap_or(decoded.numbering),
            "TEEP message valid in both numberings; read as the numbering guessed for this TAM"
        );
        if guess == Some(other) {
            let mut again = teep_proto::decode_message(payload, Some(other), tolerance)?;
            again.also_valid_in = Some(decoded.numbering);
            return Ok(again);
        }
        Ok(decoded)
    }
}

/// The token of a message that did not decode, and the numbering its label gives away: the
/// options map (second element) holds a bstr of 8..64 bytes under the token label of a single
/// numbering (legacy 20; draft-26 19, where 20 is supported-freshness-mechanisms, an array).
/// With `known`, only that numbering's label is read. Anything else gives nothing.
pub(super) fn salvage_token(
    payload: &[u8],
    known: Option<Numbering>,
) -> (Option<Numbering>, Option<Vec<u8>>) {
    let candidates: &[Numbering] = match known {
        Some(Numbering::Legacy) => &[Numbering::Legacy],
        Some(_) => &[Numbering::Draft26],
        None => &[Numbering::Legacy, Numbering::Draft26],
    };
    let found = options_bstrs(payload).and_then(|entries| {
        let mut hits = candidates.iter().filter_map(|n| {
            let label = Label::Token.value(*n);
            entries
                .iter()
                .find(|(k, v)| *k == label && (8..=64).contains(&v.len()))
                .map(|(_, v)| (*n, v.to_vec()))
        });
        match (hits.next(), hits.next()) {
            (Some(hit), None) => Some(hit),
            _ => None,
        }
    });
    match found {
        Some((n, token)) => (Some(n), Some(token)),
        None => (known, None),
    }
}

/// The bstr values of the options map of `[type, {options}, ...]`, by unsigned label.
fn options_bstrs(payload: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    use teep_cbor::{Reader, Type};
    let mut r = Reader::new(payload);
    if r.array().ok()? < 2 {
        return None;
    }
    r.uint().ok()?;
    let entries = r.map().ok()?;
    let mut out = Vec::new();
    for _ in 0..entries {
        let key = r.uint().ok()?;
        if r.datatype().ok()? == Type::Bytes {
            out.push((key, r.bytes().ok()?));
        } else {
            r.skip().ok()?;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_read_under_the_label_of_one_numbering_only() {
        // [1, {20: h'09'*16, 5: [[-7, 1]]}] (a legacy QueryRequest with a draft-12 profile)
        let mut legacy = vec![0x82, 0x01, 0xa2, 0x14, 0x50];
        legacy.extend([9; 16]);
        legacy.extend([0x05, 0x81, 0x82, 0x26, 0x01]);
        assert_eq!(
            salvage_token(&legacy, None),
            (Some(Numbering::Legacy), Some(vec![9; 16]))
        );
        // With draft-26 known, label 20 is not the token.
        assert_eq!(
            salvage_token(&legacy, Some(Numbering::Draft26)),
            (Some(Numbering::Draft26), None)
        );
        // [1, {19: h'07'*8}]: draft-26 token.
        let mut d26 = vec![0x82, 0x01, 0xa1, 0x13, 0x48];
        d26.extend([7; 8]);
        assert_eq!(
            salvage_token(&d26, None),
            (Some(Numbering::Draft26), Some(vec![7; 8]))
        );
        // Both labels hold a token-sized bstr: no reading is preferred.
        let mut both = vec![0x82, 0x01, 0xa2, 0x13, 0x48];
        both.extend([7; 8]);
        both.extend([0x14, 0x48]);
        both.extend([8; 8]);
        assert_eq!(salvage_token(&both, None), (None, None));
        // Too short for a token, not CBOR, not a message: nothing.
        assert_eq!(
            salvage_token(&[0x82, 0x01, 0xa1, 0x14, 0x41, 0x00], None),
            (None, None)
        );
        assert_eq!(salvage_token(b"\xff", None), (None, None));
        assert_eq!(salvage_token(&[], None), (None, None));
    }
}
