//! TAM attestation required by the Agent (draft-ietf-teep-protocol-26 §7.2.1, §7.2.1.1;
//! DIGEST §4.2): a QueryRequest without attestation-payload gets Error
//! ERR_ATTESTATION_REQUIRED with a fresh challenge, which the Agent keeps per TAM URI
//! (`AgentState::tam_challenges`); one with an attestation-payload is answered only when it
//! is an Attestation Result that
//!
//! * is signed by one of the Agent's trusted TAM Verifier keys (`tam_verifier_keys`);
//! * carries as `eat_nonce` the challenge the Agent sent that TAM (each challenge serves once);
//! * confirms, in `cnf`, a key that signed this QueryRequest (a TAM trust anchor whose
//!   signature on it verifies): its key ID (label 3) is that key's RFC 9679 thumbprint ("the hash of the TAM's key", SHA-256 as in every SUIT profile
//!   the Agent supports), or its COSE_Key (label 1) is that key;
//! * names the TEEP EAT profile if it names one.
//!
//! The Agent has no Verifier of its own, so Evidence (any attestation-payload-format other than
//! the TEEP EAT media type, which marks an Attestation Result) is refused. Failures are Errors,
//! never a QueryResponse: ERR_BAD_CERTIFICATE when no trusted Verifier key verifies the result
//! (its signer is what failed, as with a TAM key no trust anchor verifies), ERR_PERMANENT_ERROR
//! when the payload is of the wrong kind or contradicts the request (-26 §4.6: "incorrect
//! fields or fields that are inconsistent with other fields"); err-msg says which check.
//! A QueryRequest attesting the TAM with no challenge outstanding (the Agent's state was lost,
//! or the TAM attested unasked) gets ERR_ATTESTATION_REQUIRED with a fresh challenge.

use alloc::{boxed::Box, format, string::String, vec, vec::Vec};

use teep_cose::eat::{Confirmation, EatClaims, EatProfile, TEEP_EAT_PROFILE};
use teep_proto::{ErrorCode, ErrorMessage, FreshnessMechanism, QueryRequest};

use super::Agent;

/// Why a TAM's attestation-payload was not accepted; the text goes back in err-msg.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TamAttestationError {
    #[error(
        "attestation-payload-format {0:?} is Evidence; this Agent has no Verifier: send an \
         Attestation Result"
    )]
    Evidence(String),
    #[error("attestation-payload: not a signed EAT: {0}")]
    Malformed(String),
    #[error("attestation-payload: this Agent trusts no TAM Verifier (tam_verifier_keys)")]
    NoVerifierKeys,
    #[error("attestation-payload: signed by no trusted TAM Verifier key")]
    UntrustedVerifier,
    #[error("attestation-payload: eat_profile {0} is not the TEEP profile")]
    Profile(String),
    #[error("attestation-payload: eat_nonce {0}")]
    Nonce(&'static str),
    #[error("attestation-payload: cnf {0}")]
    Cnf(&'static str),
}

impl TamAttestationError {
    /// The err-code of the Error that refuses the QueryRequest.
    pub fn code(&self) -> ErrorCode {
        match self {
            TamAttestationError::UntrustedVerifier => ErrorCode::BadCertificate,
            _ => ErrorCode::PermanentError,
        }
    }
}

/// Whether an attestation-payload-format marks an Attestation Result: absent (the TEEP EAT
/// media type is the default, -26 §4.3) or the TEEP EAT media type, read as the TAM reads an
/// Agent's label (`teep_cose::eat::media_type`: case, blanks and quoting do not matter).
pub fn is_attestation_result_format(format: Option<&str>) -> bool {
    use teep_cose::eat::media_type::{classify, PayloadKind};
    classify(format) == Ok(PayloadKind::TeepResult)
}

/// §7.2.1.1 for one attestation-payload: the checks of the module comment. `tam_kids` are the
/// thumbprints of the TAM trust anchors whose signatures on the QueryRequest verified (one for
/// a COSE_Sign1); `challenge` the one the Agent sent. Returns the kid of the Verifier key that
/// signed the result.
pub fn verify_tam_attestation(
    verifier_keys: &[teep_cose::PublicKey],
    format: Option<&str>,
    payload: &[u8],
    challenge: &[u8],
    tam_kids: &[Vec<u8>],
) -> Result<Vec<u8>, TamAttestationError> {
    if !is_attestation_result_format(format) {
        return Err(TamAttestationError::Evidence(
            format.unwrap_or_default().into(),
        ));
    }
    if verifier_keys.is_empty() {
        return Err(TamAttestationError::NoVerifierKeys);
    }
    let (opened, claims) = EatClaims::open_unverified(payload)
        .map_err(|e| TamAttestationError::Malformed(format!("{e}")))?;
    let (key, _) = opened
        .verify_any(verifier_keys)
        .map_err(|_| TamAttestationError::UntrustedVerifier)?;
    match &claims.eat_profile {
        None => {}
        Some(EatProfile::Uri(u)) if u == TEEP_EAT_PROFILE => {}
        Some(EatProfile::Uri(u)) => return Err(TamAttestationError::Profile(format!("{u:?}"))),
        Some(EatProfile::Oid(o)) => {
            return Err(TamAttestationError::Profile(format!(
                "OID h'{}'",
                hex::encode(o)
            )))
        }
    }
    match &claims.eat_nonce {
        None => return Err(TamAttestationError::Nonce("missing")),
        Some(n) if n.as_slice() != challenge => {
            return Err(TamAttestationError::Nonce(
                "is not the challenge this Agent sent",
            ))
        }
        Some(_) => {}
    }
    let confirmed = match &claims.cnf {
        None => return Err(TamAttestationError::Cnf("missing")),
        Some(Confirmation::Kid(k)) => tam_kids.contains(k),
        Some(Confirmation::Key(k)) => tam_kids.iter().any(|t| t[..] == k.thumbprint()),
        Some(Confirmation::EncryptedKey(_)) => {
            return Err(TamAttestationError::Cnf(
                "is an Encrypted_COSE_Key, which this Agent cannot read",
            ))
        }
    };
    if !confirmed {
        return Err(TamAttestationError::Cnf(
            "names another key than the one signing this QueryRequest",
        ));
    }
    Ok(key.thumbprint().to_vec())
}

/// What the TAM-attestation check decided for one QueryRequest.
pub(super) enum TamAttestationCheck {
    /// Not required, or verified (with the Verifier key's kid).
    Passed(Option<Vec<u8>>),
    /// Answer with this Error; the string is for logs and events.
    Refuse(Box<ErrorMessage>, String),
}

/// The Error refusing a TAM's attestation: `code`, the QueryRequest's token, `reason` as
/// err-msg (128 bytes at most) and for the log.
fn refuse(code: ErrorCode, qr: &QueryRequest, reason: String) -> TamAttestationCheck {
    let mut err = ErrorMessage::new(code);
    err.token = qr.token.clone();
    err.err_msg = Some(super::reply::truncate_text(&reason, 128));
    TamAttestationCheck::Refuse(Box::new(err), reason)
}

impl Agent<'_> {
    /// §7.2.1: whether the QueryRequest from `tam_uri`, signed by the TAM keys `tam_kids`,
    /// may be answered, when the Agent requires TAM attestation.
    pub(super) fn check_tam_attestation(
        &mut self,
        tam_uri: &str,
        tam_kids: &[Vec<u8>],
        qr: &QueryRequest,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> TamAttestationCheck {
        if !self.config.require_tam_attestation {
            return TamAttestationCheck::Passed(None);
        }
        let Some(payload) = &qr.attestation_payload else {
            return self.demand_attestation(
                tam_uri,
                qr,
                "this Agent requires TAM attestation",
                random,
            );
        };
        // Each challenge serves once, whatever the outcome.
        let Some(challenge) = self
            .state
            .tam_challenges
            .remove(tam_uri)
            .and_then(|h| hex::decode(h).ok())
        else {
            return self.demand_attestation(
                tam_uri,
                qr,
                "TAM attestation without a challenge outstanding; attest to this one",
                random,
            );
        };
        // The TAM may have encrypted its EAT to this Agent's TEEP key (-26 §8.2).
        let opened = match super::encryption::open_tam_attestation_payload(
            self.device.teep_signer(),
            payload,
        ) {
            Ok(p) => p,
            Err(e) => return refuse(ErrorCode::PermanentError, qr, format!("{e}")),
        };
        match verify_tam_attestation(
            &self.config.tam_verifier_keys,
            qr.attestation_payload_format.as_deref(),
            &opened,
            &challenge,
            tam_kids,
        ) {
            Ok(verifier) => TamAttestationCheck::Passed(Some(verifier)),
            Err(e) => refuse(e.code(), qr, format!("{e}")),
        }
    }

    /// Error ERR_ATTESTATION_REQUIRED with a fresh challenge (kept for `tam_uri`) and the
    /// freshness mechanism the Agent supports (-26 §7.2.1).
    fn demand_attestation(
        &mut self,
        tam_uri: &str,
        qr: &QueryRequest,
        reason: &str,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> TamAttestationCheck {
        let mut challenge = vec![0u8; 32];
        random(&mut challenge);
        self.state
            .tam_challenges
            .insert(tam_uri.into(), hex::encode(&challenge));
        let mut err = ErrorMessage::new(ErrorCode::AttestationRequired);
        err.challenge = Some(challenge);
        err.supported_freshness_mechanisms = vec![FreshnessMechanism::Nonce];
        err.token = qr.token.clone();
        err.err_msg = Some(reason.into());
        TamAttestationCheck::Refuse(Box::new(err), reason.into())
    }
}

#[cfg(test)]
mod tests {
    use teep_cose::eat::AttestationResult;
    use teep_cose::{Signer, SoftwareSigner};
    use teep_proto::{CipherSuite, DataItems, Numbering, TeepMessage};

    use super::super::test_device::{signer, Broken};
    use super::super::AgentConfig;
    use super::*;
    use crate::agent::TEEP_RESULT_MEDIA_TYPE;
    use crate::state::AgentState;

    const NUMBERINGS: [Numbering; 2] = [Numbering::Draft26, Numbering::Legacy];
    /// The challenge the Agent draws (its randomness fills with 7s).
    const CHALLENGE: [u8; 32] = [7; 32];
    const TAM: &str = "http://tam";

    struct Bench {
        config: AgentConfig,
        state: AgentState,
        device: Broken,
        tam: SoftwareSigner,
        verifier: SoftwareSigner,
    }

    impl Bench {
        fn new() -> Bench {
            let tam = signer(0x11);
            let verifier = signer(0x12);
            Bench {
                config: AgentConfig {
                    tam_trust_anchors: vec![tam.public_key(), signer(0x13).public_key()],
                    require_tam_attestation: true,
                    tam_verifier_keys: vec![verifier.public_key()],
                    ..Default::default()
                },
                state: AgentState::default(),
                device: Broken {
                    signer: Box::new(signer(0x22)),
                    store_readable: true,
                },
                tam,
                verifier,
            }
        }

        /// A QueryRequest signed by `by`, carrying `attestation` (format, payload).
        fn query(
            &self,
            n: Numbering,
            by: &SoftwareSigner,
            attestation: Option<(Option<&str>, Vec<u8>)>,
        ) -> Vec<u8> {
            let mut q = QueryRequest {
                token: Some(vec![4; 16]),
                challenge: Some(vec![5; 32]),
                supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
                supported_suit_cose_profiles: vec![
                    teep_proto::SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR,
                ],
                data_item_requested: DataItems(
                    DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS,
                ),
                ..Default::default()
            };
            if let Some((format, payload)) = attestation {
                q.attestation_payload_format = format.map(Into::into);
                q.attestation_payload = Some(payload);
            }
            teep_cose::sign1(&TeepMessage::QueryRequest(q).encode(n), by).unwrap()
        }

        /// The Agent's answer to `bytes`, decoded.
        fn handle(&mut self, n: Numbering, bytes: &[u8]) -> TeepMessage {
            let mut agent =
                super::super::Agent::new(&self.config, &mut self.state, &mut self.device);
            let out = agent.handle_message(TAM, bytes, &mut |b| b.fill(7));
            let opened = teep_cose::open(&out.reply.expect("an answer")).unwrap();
            teep_proto::decode(opened.payload.as_deref().unwrap(), n).unwrap()
        }

        /// Sends a QueryRequest without attestation: the Agent demands it and keeps its
        /// challenge.
        fn demanded(&mut self, n: Numbering) {
            let q = self.query(n, &self.tam, None);
            let TeepMessage::Error(e) = self.handle(n, &q) else {
                panic!("an Error")
            };
            assert_eq!(
                e.err_code,
                ErrorCode::AttestationRequired,
                "{:?}",
                e.err_msg
            );
            assert_eq!(e.challenge.as_deref(), Some(&CHALLENGE[..]));
            assert_eq!(e.token, Some(vec![4; 16]));
            assert_eq!(
                e.supported_freshness_mechanisms,
                vec![FreshnessMechanism::Nonce]
            );
        }
    }

    /// An Attestation Result signed by `by` with `nonce` and `cnf`.
    fn result(by: &dyn Signer, nonce: &[u8], cnf: Confirmation) -> Vec<u8> {
        AttestationResult {
            claims: EatClaims {
                eat_nonce: Some(nonce.to_vec()),
                cnf: Some(cnf),
                eat_profile: Some(EatProfile::Uri(TEEP_EAT_PROFILE.into())),
                ..Default::default()
            },
        }
        .sign(by)
        .unwrap()
    }

    fn kid_of(s: &SoftwareSigner) -> Confirmation {
        Confirmation::Kid(s.public_key().thumbprint().to_vec())
    }

    /// The Error an attested QueryRequest gets: its code and err-msg.
    fn refused(
        b: &mut Bench,
        n: Numbering,
        format: Option<&str>,
        payload: Vec<u8>,
    ) -> (ErrorCode, String) {
        b.demanded(n);
        let q = b.query(n, &b.tam, Some((format, payload)));
        match b.handle(n, &q) {
            TeepMessage::Error(e) => (e.err_code, e.err_msg.unwrap_or_default()),
            m => panic!("{n:?}: {m:?}"),
        }
    }

    /// -26 §7.2.1.1: an Attestation Result signed by a trusted Verifier, bound to the
    /// challenge, whose cnf names the signing TAM key by key ID or as COSE_Key, is answered
    /// with a QueryResponse, and its challenge is then spent.
    #[test]
    fn handling_an_attestation_result_valid_one_is_answered_with_a_query_response() {
        for n in NUMBERINGS {
            for cnf in [
                kid_of(&signer(0x11)),
                Confirmation::Key(signer(0x11).public_key()),
            ] {
                let mut b = Bench::new();
                b.demanded(n);
                assert!(b.state.tam_challenges.contains_key(TAM));
                let ar = result(&b.verifier, &CHALLENGE, cnf);
                for format in [Some(TEEP_RESULT_MEDIA_TYPE), None] {
                    if format.is_none() {
                        b.demanded(n);
                    }
                    let q = b.query(n, &b.tam, Some((format, ar.clone())));
                    let m = b.handle(n, &q);
                    assert!(matches!(m, TeepMessage::QueryResponse(_)), "{n:?}: {m:?}");
                    assert!(b.state.tam_challenges.is_empty(), "the challenge is spent");
                }
                // Replayed: no challenge outstanding, so attestation is demanded afresh.
                let q = b.query(n, &b.tam, Some((None, ar)));
                let TeepMessage::Error(e) = b.handle(n, &q) else {
                    panic!("an Error")
                };
                assert_eq!(e.err_code, ErrorCode::AttestationRequired);
            }
        }
    }

    /// -26 §7.2.1.1: signed by a key that is no trusted Verifier's: ERR_BAD_CERTIFICATE.
    #[test]
    fn handling_an_attestation_result_from_an_untrusted_verifier_is_refused() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            let ar = result(&signer(0x55), &CHALLENGE, kid_of(&b.tam));
            let (code, msg) = refused(&mut b, n, None, ar);
            assert_eq!(code, ErrorCode::BadCertificate);
            assert_eq!(
                msg,
                "attestation-payload: signed by no trusted TAM Verifier key"
            );
        }
    }

    /// -26 §7.2.1.1 freshness: a result bound to another challenge (an older one) is refused.
    #[test]
    fn handling_an_attestation_result_with_a_stale_nonce_is_refused() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            let ar = result(&b.verifier, &[8; 32], kid_of(&b.tam));
            let (code, msg) = refused(&mut b, n, None, ar);
            assert_eq!(code, ErrorCode::PermanentError);
            assert_eq!(
                msg,
                "attestation-payload: eat_nonce is not the challenge this Agent sent"
            );
        }
    }

    /// -26 §7.2.1.1 proof of possession: cnf naming another TAM key (even a trusted one) than
    /// the one that signed the QueryRequest is refused.
    #[test]
    fn handling_an_attestation_result_whose_cnf_names_another_key_is_refused() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            let ar = result(&b.verifier, &CHALLENGE, kid_of(&signer(0x13)));
            let (code, msg) = refused(&mut b, n, None, ar);
            assert_eq!(code, ErrorCode::PermanentError);
            assert!(
                msg.starts_with("attestation-payload: cnf names another key"),
                "{msg}"
            );
        }
    }

    /// A QueryRequest signed by two TAM trust anchors (COSE_Sign): cnf may name either key
    /// whose signature verifies, not only the first; a key that did not sign stays refused.
    #[test]
    fn handling_an_attestation_result_in_a_cose_sign_names_any_of_its_signers() {
        for n in NUMBERINGS {
            for (cnf_seed, accepted) in [(0x11, true), (0x13, true), (0x14, false)] {
                let mut b = Bench::new();
                b.demanded(n);
                let ar = result(&b.verifier, &CHALLENGE, kid_of(&signer(cnf_seed)));
                let mut q = QueryRequest {
                    token: Some(vec![4; 16]),
                    supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
                    supported_suit_cose_profiles: vec![
                        teep_proto::SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR,
                    ],
                    data_item_requested: DataItems(DataItems::TRUSTED_COMPONENTS),
                    ..Default::default()
                };
                q.attestation_payload = Some(ar);
                let (first, second) = (signer(0x11), signer(0x13));
                let bytes = teep_cose::sign(
                    &TeepMessage::QueryRequest(q).encode(n),
                    &[&first as &dyn Signer, &second],
                )
                .unwrap();
                let m = b.handle(n, &bytes);
                assert_eq!(
                    matches!(m, TeepMessage::QueryResponse(_)),
                    accepted,
                    "{n:?} cnf {cnf_seed:#x}: {m:?}"
                );
            }
        }
    }

    /// Any bytes no longer pass: garbage is refused, never answered with a QueryResponse.
    #[test]
    fn handling_a_query_request_with_garbage_as_attestation_payload_is_refused() {
        for n in NUMBERINGS {
            for garbage in [vec![], vec![0xff; 9], b"attested, trust me".to_vec()] {
                let mut b = Bench::new();
                let (code, msg) = refused(&mut b, n, None, garbage);
                assert_eq!(code, ErrorCode::PermanentError);
                assert!(
                    msg.starts_with("attestation-payload: not a signed EAT"),
                    "{msg}"
                );
            }
        }
    }

    /// -26 §7.2.1: Evidence goes to a Verifier; this Agent has none, so any other format
    /// than the TEEP EAT media type (an Attestation Result) is refused, saying so.
    #[test]
    fn handling_a_query_request_with_evidence_is_refused_for_want_of_a_verifier() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            let ar = result(&b.verifier, &CHALLENGE, kid_of(&b.tam));
            let (code, msg) = refused(&mut b, n, Some("application/psa-attestation-token"), ar);
            assert_eq!(code, ErrorCode::PermanentError);
            assert!(
                msg.contains("is Evidence; this Agent has no Verifier"),
                "{msg}"
            );
        }
    }

    /// eat_profile, when present, must be the TEEP profile; without any Verifier key nothing
    /// verifies.
    #[test]
    fn other_profiles_and_missing_verifier_keys_are_refused() {
        let tam = signer(0x11);
        let verifier = signer(0x12);
        let mut claims = EatClaims {
            eat_nonce: Some(CHALLENGE.to_vec()),
            cnf: Some(kid_of(&tam)),
            eat_profile: Some(EatProfile::Uri("tag:other".into())),
            ..Default::default()
        };
        let bytes = claims.sign(&verifier).unwrap();
        let kid = [tam.public_key().thumbprint().to_vec()];
        let keys = [verifier.public_key()];
        assert_eq!(
            verify_tam_attestation(&keys, None, &bytes, &CHALLENGE, &kid),
            Err(TamAttestationError::Profile("\"tag:other\"".into()))
        );
        assert_eq!(
            verify_tam_attestation(&[], None, &bytes, &CHALLENGE, &kid),
            Err(TamAttestationError::NoVerifierKeys)
        );
        claims.eat_profile = None;
        let bytes = claims.sign(&verifier).unwrap();
        assert_eq!(
            verify_tam_attestation(&keys, None, &bytes, &CHALLENGE, &kid),
            Ok(verifier.public_key().thumbprint().to_vec())
        );
    }

    #[test]
    fn the_teep_eat_media_type_marks_an_attestation_result_in_any_spelling() {
        for f in [
            None,
            Some(TEEP_RESULT_MEDIA_TYPE),
            Some("Application/EAT+CWT;eat_profile=\"urn:ietf:rfc:rfcXXXX\""),
        ] {
            assert!(is_attestation_result_format(f), "{f:?}");
        }
        for f in [
            "application/eat+cwt",
            "application/eat+cwt; eat_profile=tag:x",
            "application/cose",
        ] {
            assert!(!is_attestation_result_format(Some(f)), "{f}");
        }
    }
}
