//! The TAM on an Error ERR_ATTESTATION_REQUIRED answering its QueryRequest
//! (draft-ietf-teep-protocol-26 §7.1.2: the TAM "MUST send another QueryRequest message that
//! includes its attestation-payload"; DIGEST §4.1).
//!
//! With a [`TamAttestation`](crate::tam_attestation::TamAttestation) source the TAM answers
//! with a new QueryRequest carrying an Attestation Result about itself, bound to the Error's
//! challenge and naming the key that signs that QueryRequest: a COSE_Sign1 by the TAM key of
//! the suite the Agent signed its Error with, because the result confirms one key. Without a
//! source, without a challenge, or when the QueryRequest answered already carried the TAM's
//! attestation (the loop guard: the token says so under its MAC), the session ends as for any
//! Error, and the device's status and the audit entry say why.
//!
//! The Error of a device this TAM does not know yet (open enrollment: a device is recorded
//! from its first Evidence, which an Agent that requires TAM attestation sends only after)
//! cannot be verified; it is answered like a new session (an empty POST gets a QueryRequest
//! too) and consumes nothing. Under registered enrollment it is refused as any unknown
//! device's message.

use alloc::{format, string::String, vec::Vec};

use teep_proto::{ErrorCode, Numbering};

use crate::model::SessionRecord;
use crate::Enroll;

use super::effects::Consume;
use super::rejection::Rejection;
use super::{
    audit, session_end, truncate, Context, DeviceUpdate, Effects, ExchangeResult, Inspected,
    Outcome, Random, TamCore,
};

/// Most bytes of the reason kept in the device's status detail (as for other agent errors).
const STATUS_DETAIL_MAX: usize = 256;

/// Whether an Error's err-code (the draft-26 value) is ERR_ATTESTATION_REQUIRED.
pub(super) fn is_attestation_required(code: u64) -> bool {
    code == ErrorCode::AttestationRequired.value(Numbering::Draft26)
}

impl TamCore {
    /// ERR_ATTESTATION_REQUIRED answering a QueryRequest: a QueryRequest carrying the TAM's
    /// attestation, or the end of the session with the reason recorded.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_attestation_required(
        &self,
        msg: &Inspected,
        session: &SessionRecord,
        numbering: Numbering,
        ctx: &Context,
        token: Vec<u8>,
        challenge: Option<&[u8]>,
        err_msg: Option<&str>,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, Rejection> {
        let unknown_open = ctx.device.is_none() && self.config.enroll != Enroll::Registered;
        let (device, agent_key) = if unknown_open {
            (None, None)
        } else {
            let device = self.known_device(msg, ctx)?;
            let (key, _) = self.verify_known(msg, device)?;
            (Some(device), Some(key))
        };
        super::data_items::check_report_nonces(msg, &token, &|b| {
            self.decrypt_to_tam(b, teep_cose::encrypt::Purpose::SuitReport)
        })?;
        // A known device's TEEP key (its Error verified with it) is where the TAM's own EAT
        // is encrypted to (-26 §8.2); an unknown device's is not trusted yet.
        let answered = match (
            self.attested_query_request(msg, &token, challenge, agent_key.as_ref(), now, rng),
            device,
        ) {
            (Ok(a), _) => a,
            (Err(why), None) => {
                // Nothing verified: refused without changing anything, the reason said.
                return Err(Rejection::refuse(
                    super::RefusalKind::UnknownDevice,
                    Some(msg.type_name),
                    format!(
                        "Error ERR_ATTESTATION_REQUIRED from a device this TAM does not know: {why}"
                    ),
                ));
            }
            (Err(why), Some(device)) => {
                return Ok(self.end_without_attestation(
                    msg, session, numbering, device, token, err_msg, &why, now,
                ))
            }
        };
        let super::query_request::BuiltQueryRequest {
            bytes,
            token: new_token,
            json,
        } = answered;
        let mut effects = Effects {
            now,
            ..Default::default()
        };
        let mut device_kid = None;
        if let Some(device) = device {
            let detail = format!(
                "agent error ERR_ATTESTATION_REQUIRED (7){}; answered with a QueryRequest \
                 carrying the TAM's attestation",
                err_msg.map(|m| format!(": {m}")).unwrap_or_default()
            );
            effects.consume = Some(Consume::of(session, numbering));
            effects.device = Some(DeviceUpdate {
                device_id: Some(device.id),
                status_detail: Some(truncate(&detail, STATUS_DETAIL_MAX)),
                touch: true,
                ..Default::default()
            });
            let mut entry = audit(
                now,
                Some(&device.kid),
                &token,
                msg,
                ExchangeResult::QueryRequest,
            );
            entry.notes.push(String::from(
                "TAM attestation: sent a QueryRequest carrying the TAM's attestation-payload \
                 (-26 §7.1.2)",
            ));
            effects.audit = Some(entry);
            device_kid = Some(device.kid.clone());
        }
        Ok(Outcome {
            response: Some(bytes),
            effects,
            device_kid,
            token: Some(new_token),
            response_json: json,
            result: ExchangeResult::QueryRequest,
            deviations: Default::default(),
        })
    }

    /// The QueryRequest carrying the TAM's attestation, or why none is sent.
    fn attested_query_request(
        &self,
        msg: &Inspected,
        token: &[u8],
        challenge: Option<&[u8]>,
        agent_key: Option<&teep_cose::PublicKey>,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<super::query_request::BuiltQueryRequest, String> {
        let Some(source) = &self.tam_attestation else {
            return Err("this TAM has no attestation of its own to send \
                        (tam_attestation_key not configured)"
                .into());
        };
        if self.token_key.tam_attested(token) {
            return Err(
                "the QueryRequest it answers already carried the TAM's attestation; \
                        not sending it again (the Agent does not accept it)"
                    .into(),
            );
        }
        let Some(challenge) = challenge else {
            return Err("the Error carries no challenge to bind the TAM's attestation to".into());
        };
        // The suite the Agent signed its Error with is the one it verifies (-26 §8.1).
        let alg = msg
            .opened
            .signatures
            .first()
            .map(|s| s.alg)
            .unwrap_or(teep_cose::Algorithm::Esp256);
        let signer = self
            .signers
            .for_selected(alg)
            .ok_or_else(|| String::from("the TAM has no TEEP key"))?;
        let payload = source
            .attest(challenge, &signer.public_key(), now)
            .map_err(|e| format!("{e}"))?;
        let payload = match agent_key {
            Some(key) => encrypt_to_agent(&payload, key, rng)?,
            None => payload,
        };
        let built = self
            .build_query_request(
                msg.numbering,
                Some(signer),
                Some((source.format().into(), payload)),
                now,
                rng,
            )
            .map_err(|e| format!("{e}"))?;
        Ok(built)
    }

    /// The session ends as for any Error; the device's status and the audit say why no
    /// attested QueryRequest followed.
    #[allow(clippy::too_many_arguments)]
    fn end_without_attestation(
        &self,
        msg: &Inspected,
        session: &SessionRecord,
        numbering: Numbering,
        device: &crate::model::DeviceRecord,
        token: Vec<u8>,
        err_msg: Option<&str>,
        why: &str,
        now: i64,
    ) -> Outcome {
        let detail = format!(
            "agent error ERR_ATTESTATION_REQUIRED (7){}; session ended: {why}",
            err_msg.map(|m| format!(": {m}")).unwrap_or_default()
        );
        let update = DeviceUpdate {
            device_id: Some(device.id),
            status_detail: Some(truncate(&detail, STATUS_DETAIL_MAX)),
            touch: true,
            ..Default::default()
        };
        let mut out = session_end(
            now,
            token,
            Consume::of(session, numbering),
            device.kid.clone(),
            None,
            update,
            msg,
            ExchangeResult::AgentError,
        );
        if let Some(a) = &mut out.effects.audit {
            a.notes.push(format!("TAM attestation: none sent: {why}"));
        }
        out
    }
}

/// The TAM's own EAT encrypted to the Agent's TEEP key (-26 §8.2: "TAM-produced EATs ...
/// SHOULD be encrypted likewise"): the SUIT MTI pairing of the key's type, A128GCM on P-256,
/// ChaCha20/Poly1305 on X25519 from an Ed25519 key. The attestation-payload-format stays the
/// TEEP EAT media type: an encrypted CWT is still a CWT (RFC 8392 §7.1).
fn encrypt_to_agent(
    eat: &[u8],
    agent_key: &teep_cose::PublicKey,
    rng: &mut dyn Random,
) -> Result<alloc::vec::Vec<u8>, String> {
    use teep_cose::encrypt::{encrypt, ContentAlgorithm, Purpose, RANDOM_LEN};
    let content = match agent_key.key_type() {
        teep_cose::KeyType::P256 => ContentAlgorithm::A128Gcm,
        teep_cose::KeyType::Ed25519 => ContentAlgorithm::ChaCha20Poly1305,
    };
    let mut random = [0u8; RANDOM_LEN];
    rng.fill(&mut random);
    encrypt(eat, agent_key, content, Purpose::Eat, &random)
        .map_err(|e| format!("encrypting the TAM's attestation to the Agent: {e}"))
}
