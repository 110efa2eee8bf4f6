//! `ProcessConnect` (DIGEST §4.1, §7): a new session opens with a QueryRequest. Its token is
//! stateless (see [`crate::token`]), so opening a session writes nothing.

use alloc::vec::Vec;

use teep_cose::{Algorithm, Signer};
use teep_proto::Numbering;

use crate::model::DeviceRecord;
use crate::wire;

use super::rejection::InternalError;
use super::{Effects, ExchangeResult, Outcome, Random, TamCore};

impl TamCore {
    /// `ProcessConnect`: a new session. Answers a QueryRequest signed with every TAM key
    /// (COSE_Sign, DIGEST §2.2), since nothing yet tells which suite the agent speaks. Only
    /// the TAM itself can fail here.
    pub fn handle_connect(
        &self,
        numbering: Numbering,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, InternalError> {
        self.query_request(numbering, None, now, rng)
    }

    /// A QueryRequest with a fresh token and, when attestation is required, the challenge
    /// derived from it (token and challenge together, DIGEST §9.2). A device whose suite is
    /// known gets one signature in it; otherwise one per TAM key.
    fn query_request(
        &self,
        numbering: Numbering,
        device: Option<&DeviceRecord>,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, InternalError> {
        let mut random = [0u8; 8];
        rng.fill(&mut random);
        let token = self.token_key.mint(
            numbering,
            now.saturating_add(self.config.session_ttl_ms),
            random,
        );
        let challenge = self
            .config
            .require_attestation
            .then(|| self.token_key.challenge(&token));
        let msg = wire::query_request(
            &token,
            challenge.as_deref(),
            self.config.require_attestation,
        );
        let known_signer = device
            .and_then(|d| d.suite_alg)
            .and_then(|a| Algorithm::from_cose(a).key_type())
            .and_then(|kt| self.signer_for(kt));
        let bytes = match known_signer {
            Some(s) => wire::signed::sign_message(&msg, numbering, s.as_ref()),
            None => {
                let refs: Vec<&dyn Signer> = self.signers.iter().map(|s| s.as_ref()).collect();
                wire::signed::sign_message_multi(&msg, numbering, &refs)
            }
        }
        .map_err(|source| InternalError::Signing {
            message: "QueryRequest",
            source,
        })?;
        let json = self.config.render_json.then(|| msg.to_json());
        Ok(Outcome {
            response: Some(bytes),
            effects: Effects {
                now,
                ..Default::default()
            },
            device_kid: device.map(|d| d.kid.clone()),
            token: Some(token),
            response_json: json,
            result: ExchangeResult::QueryRequest,
        })
    }
}
