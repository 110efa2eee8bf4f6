//! `ProcessConnect` (DIGEST §4.1, §7): a new session opens with a QueryRequest. Its token is
//! stateless (see [`crate::token`]), so opening a session writes nothing.

use alloc::{string::String, sync::Arc, vec::Vec};

use teep_cose::{Algorithm, Signer};
use teep_proto::{Numbering, TeepMessage};

use crate::model::DeviceRecord;
use crate::wire;

use super::rejection::InternalError;
use super::{Effects, ExchangeResult, FirstQuery, Outcome, Random, TamCore};

impl TamCore {
    /// `ProcessConnect`: a new session. Answers a QueryRequest signed with every TAM key
    /// (COSE_Sign, DIGEST §2.2), since nothing yet tells which suite the agent speaks, unless
    /// the path is configured for agents that read COSE_Sign1 only. Only the TAM itself can
    /// fail here.
    pub fn handle_connect(
        &self,
        numbering: Numbering,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, InternalError> {
        self.query_request(numbering, None, now, rng)
    }

    /// A QueryRequest with a fresh token and, when attestation is required, a challenge
    /// derived from it. The token goes too unless `token_with_attestation` is off (DIGEST §9.2);
    /// without attestation it goes unless `tokenless_queries` is on (draft-26 numbering only).
    /// A device whose suite is known gets one signature in it; otherwise the path's
    /// [`FirstQuery`] decides: one signature per TAM key (-26 §8.1), or a COSE_Sign1.
    fn query_request(
        &self,
        numbering: Numbering,
        device: Option<&DeviceRecord>,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, InternalError> {
        let known_signer = device
            .and_then(|d| d.suite_alg)
            .and_then(|a| self.signers.for_alg(Algorithm::from_cose(a)));
        let sign1 = match (known_signer, self.config.first_query(numbering)) {
            (Some(s), _) => Some(s),
            (None, FirstQuery::Sign1(alg)) => Some(
                self.signers
                    .for_alg(alg)
                    .ok_or(InternalError::NoKeyFor { alg })?,
            ),
            (None, FirstQuery::CoseSign) => None,
        };
        let built = self.build_query_request(numbering, sign1, None, now, rng)?;
        Ok(Outcome {
            response: Some(built.bytes),
            effects: Effects {
                now,
                ..Default::default()
            },
            device_kid: device.map(|d| d.kid.clone()),
            token: Some(built.token),
            response_json: built.json,
            result: ExchangeResult::QueryRequest,
            deviations: Default::default(),
        })
    }
}

/// A QueryRequest built and signed, with the token it carries (or that its challenge leads to).
pub(super) struct BuiltQueryRequest {
    pub bytes: Vec<u8>,
    pub token: Vec<u8>,
    pub json: Option<serde_json::Value>,
}

impl TamCore {
    /// A QueryRequest with a fresh token and, when attestation is required, a challenge
    /// derived from it, signed by `sign1` alone or (`None`) by every TAM key. With
    /// `own_attestation` (attestation-payload-format, attestation-payload) it carries the
    /// TAM's own attestation (-26 §4.2, §7.1.2), and its token says so (the loop guard).
    pub(super) fn build_query_request(
        &self,
        numbering: Numbering,
        sign1: Option<&Arc<dyn Signer>>,
        own_attestation: Option<(String, Vec<u8>)>,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<BuiltQueryRequest, InternalError> {
        let mut random = [0u8; 8];
        rng.fill(&mut random);
        let attest = self.config.require_attestation;
        let token = self.token_key.mint_query(
            numbering,
            wire::query_data_items(attest),
            own_attestation.is_some(),
            now.saturating_add(self.config.session_ttl_ms),
            random,
        );
        // Legacy numbering keeps the token: without it the QueryRequest reads in both
        // numberings, and agents answer such a one in draft-26.
        // Passport model: the token is the Attestation Result's nonce, and no challenge goes
        // (-26 §4.2: challenge absent in the passport model).
        let passport = attest && self.config.passport;
        let send_token = if attest {
            self.config.token_with_attestation || passport
        } else {
            !self.config.tokenless_queries || numbering == Numbering::Legacy
        };
        let challenge = (attest && !passport).then(|| {
            if send_token {
                self.token_key.challenge(&token)
            } else {
                self.token_key.challenge_alone(&token)
            }
        });
        let mut msg = wire::query_request_with(
            send_token.then_some(token.as_slice()),
            challenge.as_deref(),
            attest,
        );
        if let (TeepMessage::QueryRequest(q), Some((format, payload))) = (&mut msg, own_attestation)
        {
            q.attestation_payload_format = Some(format);
            q.attestation_payload = Some(payload);
        }
        let bytes = match sign1 {
            Some(s) => wire::signed::sign_message(&msg, numbering, s.as_ref()),
            None => {
                let refs: Vec<&dyn Signer> =
                    self.signers.keys().iter().map(|s| s.as_ref()).collect();
                wire::signed::sign_message_multi(&msg, numbering, &refs)
            }
        }
        .map_err(|source| InternalError::Signing {
            message: "QueryRequest",
            source,
        })?;
        let json = self.config.render_json.then(|| msg.to_json());
        Ok(BuiltQueryRequest { bytes, token, json })
    }
}
