//! QueryRequest → QueryResponse (draft-ietf-teep-protocol-26 §4.2): the cipher suite and
//! freshness checks, Evidence bound to the challenge, tc-list, requested-tc-list and
//! unneeded-manifest-list.

use alloc::{string::ToString, vec, vec::Vec};
use teep_cose::eat::EAT_NONCE_MAX;
use teep_proto::{
    ComponentId, ErrorCode, ErrorMessage, FreshnessMechanism, QueryRequest, QueryResponse,
    RequestedTcInfo, SystemPropertyClaims, TeepMessage, Value,
};

use super::algorithm::{compatible_alg, Answering};
use super::device::{InstalledManifest, InstalledTc};
use super::tam_attestation::TamAttestationCheck;
use super::tam_message::TamSignature;
use super::{Agent, AgentEvent, Outcome, EAT_MEDIA_TYPE, TEEP_RESULT_MEDIA_TYPE};
use crate::evidence::{sign_evidence, EvidenceClaims, EvidenceError};
use crate::state::TamProfile;

/// SUIT parameter labels used in tc-list entries.
const SUIT_PARAMETER_IMAGE_DIGEST: i64 = 3;
const SUIT_PARAMETER_IMAGE_SIZE: i64 = 14;

impl Agent<'_> {
    /// QueryRequest: agrees on an algorithm, checks the challenge, remembers how this TAM
    /// speaks, then answers with a QueryResponse (or an Error).
    pub(super) fn on_query_request(
        &mut self,
        mut events: Vec<AgentEvent>,
        tam_uri: &str,
        signature: TamSignature,
        qr: QueryRequest,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> Outcome {
        let numbering = signature.numbering;
        let our_alg = match self.pick_algorithm(&qr.supported_cipher_suites, signature.algorithm) {
            Some(a) => a,
            None => {
                let ours = self.device.teep_signer().algorithm();
                let answering = Answering {
                    numbering,
                    algorithm: compatible_alg(ours, signature.algorithm).unwrap_or(ours),
                    kid_unprotected: signature.kid_unprotected,
                };
                let mut err = ErrorMessage::new(ErrorCode::UnsupportedCipherSuites);
                err.supported_cipher_suites = self.our_cipher_suites();
                err.token = qr.token.clone();
                err.err_msg = Some(teep_proto::text::err_msg("no cipher suite in common"));
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
            kid_unprotected: signature.kid_unprotected,
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
                numbering: numbering.name().into(),
                numbering_learned: signature.numbering_learned,
                algorithm: our_alg.to_cose(),
                kid: hex::encode(&signature.kid),
                kid_unprotected: signature.kid_unprotected,
                suit_reports: qr.data_item_requested.suit_reports(),
                unsolicited_allowed: qr.token.is_none() && qr.challenge.is_none(),
            },
        );
        let tam = (tam_uri, signature.signers.as_slice());
        self.answer_query(events, answering, tam, qr, nonce, random)
    }

    /// QueryRequest → QueryResponse, once the request was found answerable.
    pub(super) fn answer_query(
        &mut self,
        mut events: Vec<AgentEvent>,
        answering: Answering,
        (tam_uri, tam_signers): (&str, &[Vec<u8>]),
        qr: QueryRequest,
        nonce: Option<Vec<u8>>,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> Outcome {
        // The first signer is the trust anchor that verified the message: the TAM's kid.
        let tam_kid = &hex::encode(tam_signers.first().map(Vec::as_slice).unwrap_or_default());
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
        if let Some(err) = self.unsupported_suit_report(&qr) {
            let reason = err.err_msg.clone().unwrap_or_default();
            return self.refuse_with(events, answering, err, reason);
        }
        // -26 §7.2.1: only a verified TAM is answered with a QueryResponse.
        match self.check_tam_attestation(tam_uri, tam_signers, &qr, random) {
            TamAttestationCheck::Passed(Some(verifier_kid)) => {
                events.push(AgentEvent::TamAttested { verifier_kid });
            }
            TamAttestationCheck::Passed(None) => {}
            TamAttestationCheck::Refuse(err, reason) => {
                return self.refuse_with(events, answering, *err, reason);
            }
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
                    // Passport model (no challenge, the token is the nonce): a Verifier's
                    // Attestation Result, if the device has one, goes instead, labelled with
                    // the TEEP EAT media type (-26 §4.3).
                    let passport = match (&qr.challenge, &nonce) {
                        (None, Some(n)) => match self.device.attestation_result(&eat, n) {
                            Ok(r) => r,
                            Err(e) => {
                                return self.refuse(
                                    events,
                                    answering,
                                    token.as_deref(),
                                    ErrorCode::TemporaryError,
                                    e.to_string(),
                                )
                            }
                        },
                        _ => None,
                    };
                    events.push(AgentEvent::EvidenceProduced {
                        nonce: nonce.unwrap_or_default(),
                    });
                    let (format, payload) = match passport {
                        Some(ar) => (TEEP_RESULT_MEDIA_TYPE, ar),
                        None => (EAT_MEDIA_TYPE, eat),
                    };
                    resp.attestation_payload_format = Some(format.into());
                    resp.attestation_payload = Some(payload);
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
        // -26 §4.3: tc-list and ext-list MUST be present when their bit is set, so they go even
        // empty (`[]`, against the CDDL's `[+ …]`: the only way to say "none"); a TAM must not
        // read an absent list as "none".
        if qr.data_item_requested.trusted_components() {
            resp.tc_list = Some(installed.iter().map(tc_list_entry).collect());
        }
        // No TEEP extension is defined, so the list names none.
        if qr.data_item_requested.extensions() {
            resp.ext_list = Some(Vec::new());
        }
        // -26 §4.3: with the suit-reports bit, the reports of this TAM's installs not yet
        // delivered, each bound to this token (see `suit_reports`); none kept, none sent
        // (suit-reports is optional there and its CDDL allows no empty array).
        if qr.data_item_requested.suit_reports() {
            resp.suit_reports = self.take_suit_reports(tam_kid, token.as_deref());
        }
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
        let manifest_ids: Vec<&ComponentId> = manifests.iter().map(|m| &m.component_id).collect();
        resp.unneeded_manifest_list = self
            .state
            .unrequested
            .iter()
            .filter(|m| manifest_ids.contains(&&m.0) && self.may_unlink(tam_kid, &m.0))
            .map(|m| m.0.clone())
            .collect();
        self.send(events, answering, TeepMessage::QueryResponse(resp))
    }

    /// Evidence: an EAT signed by the attestation key, `cnf` carrying the TEEP public key.
    fn evidence(
        &self,
        nonce: Option<Vec<u8>>,
        manifests: &[InstalledManifest],
    ) -> Result<Vec<u8>, EvidenceError> {
        let id = self.device.identity();
        let claims = EvidenceClaims {
            nonce,
            ueid: id.ueid,
            oemid: id.oemid,
            hwmodel: id.hwmodel,
            hwversion: id.hwversion,
            manifests: manifests.to_vec(),
            teep_key: self.device.teep_signer().public_key(),
        };
        sign_evidence(
            &claims,
            self.device.attestation_signer(),
            self.device.attestation_endorsement(),
        )
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

/// A tc-list entry: the component id with its image digest (SHA-256) and size.
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

#[cfg(test)]
mod tests {
    use alloc::{boxed::Box, format};

    use super::super::test_device::{ask, ask_with, signer, Broken, Failure};
    use super::super::{AgentDevice, DeviceError};
    use super::*;
    use crate::agent::all_data_items;
    use teep_proto::{DataItems, Numbering};

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
        assert!(matches!(
            e.cause().downcast_ref::<Failure>(),
            Some(Failure::StoreUnreadable)
        ));
    }

    /// The QueryResponse a device holding nothing sends for `bits`, in numbering `n`.
    fn query_response_for(n: Numbering, bits: u64) -> QueryResponse {
        let mut device = Broken {
            signer: Box::new(signer(0x22)),
            store_readable: true,
        };
        let out = ask_with(&mut device, n, DataItems(bits));
        let opened = teep_cose::open(&out.reply.expect("a QueryResponse")).unwrap();
        let d = teep_proto::decode_message(
            opened.payload.as_deref().unwrap(),
            Some(n),
            teep_cbor::deviation::Tolerance::Tolerant,
        )
        .unwrap();
        match d.message {
            TeepMessage::QueryResponse(q) => q,
            m => panic!("{m:?}"),
        }
    }

    const NUMBERINGS: [Numbering; 2] = [Numbering::Draft26, Numbering::Legacy];

    /// -26 §4.3 (QueryResponse Message): tc-list MUST be present when the trusted-components
    /// bit is set, so a device holding nothing sends `[]` rather than leaving it out; without
    /// the bit it stays absent.
    #[test]
    fn query_response_message_tc_list_present_even_empty_when_trusted_components_requested() {
        for n in NUMBERINGS {
            let q = query_response_for(n, DataItems::TRUSTED_COMPONENTS);
            assert_eq!(q.tc_list, Some(Vec::new()), "{n:?}");
            assert_eq!(q.ext_list, None, "{n:?}: extensions not asked");
            let q = query_response_for(n, DataItems::EXTENSIONS);
            assert_eq!(q.tc_list, None, "{n:?}: trusted-components not asked");
        }
    }

    /// -26 §4.3 (QueryResponse Message): ext-list MUST be present when the extensions bit is
    /// set; no extension is defined, so it is present and names none.
    #[test]
    fn query_response_message_ext_list_present_when_extensions_requested() {
        for n in NUMBERINGS {
            let q = query_response_for(n, DataItems::EXTENSIONS | DataItems::TRUSTED_COMPONENTS);
            assert_eq!(q.ext_list, Some(Vec::new()), "{n:?}");
        }
    }

    /// -26 §4.3: suit-reports is optional in a QueryResponse; asked for with the
    /// suit-reports bit, the agent has no report bound to this token and sends none.
    #[test]
    fn query_response_message_suit_reports_bit_sends_no_stale_report() {
        for n in NUMBERINGS {
            let q = query_response_for(n, DataItems::SUIT_REPORTS);
            assert!(q.suit_reports.is_empty(), "{n:?}");
        }
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
