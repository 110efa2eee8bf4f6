//! Confidentiality of the Agent's EAT and SUIT reports (draft-ietf-teep-protocol-26 §8.2).
//!
//! Out: when the TAM's QueryRequest lists a SUIT COSE profile whose key exchange and content
//! encryption this Agent implements (`suit-sha256-esp256-ecdh-a128gcm`, preferred because it
//! authenticates, or `suit-sha256-esp256-ecdh-a128ctr`: ECDH-ES+A128KW on P-256) and the TAM
//! trust anchor that verified it is a P-256 key, the Agent encrypts its Evidence and its SUIT
//! reports to that key: a COSE_Encrypt around the signed EAT or report, recipient kid the key's
//! thumbprint. The profile's signature half is not matched against the Agent's own key: the
//! Agent signs with the TEEP cipher suite negotiated separately, and the profile only tells
//! which encryption the TAM reads. The choice is remembered per TAM, so the Success or Error
//! answering its Update encrypts its reports too. The attestation-payload-format stays
//! `application/eat+cwt; eat_profile=…`: an encrypted CWT is a CWT (RFC 8392 §7.1).
//!
//! On by default ([`TamEncryption::WhenOffered`]): §8.2 says SHOULD unless the transport
//! already gives confidentiality, and the TEEP transport ends in the Broker, outside the TEE,
//! so HTTPS does not hide the EAT from the normal world. [`TamEncryption::Never`] is for a TEE
//! that terminates TLS itself.
//!
//! Randomness: one 32-byte seed per TAM message from the caller's random source; each
//! encryption takes 64 bytes HKDF-SHA-256 expands from it with a counter, so the sans-IO
//! signatures need no random source where replies are built.

use alloc::vec::Vec;
use core::cell::Cell;

use teep_cose::encrypt::{self, ContentAlgorithm, Purpose, RANDOM_LEN};
use teep_cose::{CoseError, KeyType, PublicKey, Signer};
use teep_proto::{SuitCoseProfile, TeepMessage};
use zeroize::Zeroizing;

use super::Agent;

/// Whether the Agent encrypts its EAT and SUIT reports for the TAM (-26 §8.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TamEncryption {
    /// Encrypt when the TAM offers a profile the Agent implements and its key fits (default).
    #[default]
    WhenOffered,
    /// Never encrypt (the transport ends inside the TEE and gives confidentiality already).
    Never,
}

/// Where this message's EAT and reports are encrypted to.
pub(super) struct EncryptionTarget {
    key: PublicKey,
    content: ContentAlgorithm,
    seed: Zeroizing<[u8; 32]>,
    counter: Cell<u32>,
}

/// The content encryption of a profile the TAM lists whose key exchange fits the TAM's key
/// (`tam_key`, the trust anchor that verified the QueryRequest): for a P-256 key the ESP256
/// profiles, A128GCM before A128CTR; for an Ed25519 key the Ed25519 profiles (X25519 on the
/// key's Montgomery form, `teep_cose::encrypt::x25519`), ChaCha20/Poly1305 before A128CTR.
/// The authenticated content algorithm comes first in both.
pub(super) fn pick_content(
    profiles: &[SuitCoseProfile],
    tam_key: Option<KeyType>,
) -> Option<ContentAlgorithm> {
    let order = match tam_key? {
        KeyType::P256 => [
            (
                SuitCoseProfile::SHA256_ESP256_ECDH_A128GCM,
                ContentAlgorithm::A128Gcm,
            ),
            (
                SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR,
                ContentAlgorithm::A128Ctr,
            ),
        ],
        KeyType::Ed25519 => [
            (
                SuitCoseProfile::SHA256_ED25519_ECDH_CHACHA_POLY,
                ContentAlgorithm::ChaCha20Poly1305,
            ),
            (
                SuitCoseProfile::SHA256_ED25519_ECDH_A128CTR,
                ContentAlgorithm::A128Ctr,
            ),
        ],
    };
    order
        .into_iter()
        .find(|(p, _)| profiles.contains(p))
        .map(|(_, c)| c)
}

impl Agent<'_> {
    /// Sets where this message's answer encrypts to: the TAM trust anchor of `tam_kid` with
    /// `content`, or nowhere. `random` draws the seed only when there is a target.
    pub(super) fn set_encryption(
        &mut self,
        tam_kid: &[u8],
        content: Option<ContentAlgorithm>,
        random: &mut dyn FnMut(&mut [u8]),
    ) {
        self.encryption = None;
        if self.config.encrypt_to_tam == TamEncryption::Never {
            return;
        }
        let (Some(content), Some(key)) = (content, self.tam_key(tam_kid)) else {
            return;
        };
        if !content.fits_recipient(key.key_type()) {
            return;
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        random(&mut seed[..]);
        self.encryption = Some(EncryptionTarget {
            key,
            content,
            seed,
            counter: Cell::new(0),
        });
    }

    /// The trust anchor of this kid.
    pub(super) fn tam_key(&self, kid: &[u8]) -> Option<PublicKey> {
        self.config
            .tam_trust_anchors
            .iter()
            .find(|k| k.thumbprint()[..] == *kid)
            .cloned()
    }

    /// `message` with its EAT and SUIT reports encrypted, when there is a target.
    pub(super) fn encrypt_outgoing(&self, message: TeepMessage) -> Result<TeepMessage, CoseError> {
        let Some(target) = &self.encryption else {
            return Ok(message);
        };
        Ok(match message {
            TeepMessage::QueryResponse(mut q) => {
                if let Some(eat) = q.attestation_payload.take() {
                    q.attestation_payload = Some(target.seal(&eat, Purpose::Eat)?);
                }
                q.suit_reports = target.seal_all(q.suit_reports)?;
                TeepMessage::QueryResponse(q)
            }
            TeepMessage::Success(mut s) => {
                s.suit_reports = target.seal_all(s.suit_reports)?;
                TeepMessage::Success(s)
            }
            TeepMessage::Error(mut e) => {
                e.suit_reports = target.seal_all(e.suit_reports)?;
                TeepMessage::Error(e)
            }
            other => other,
        })
    }
}

impl EncryptionTarget {
    fn seal_all(&self, reports: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, CoseError> {
        reports
            .iter()
            .map(|r| self.seal(r, Purpose::SuitReport))
            .collect()
    }

    fn seal(&self, plaintext: &[u8], purpose: Purpose) -> Result<Vec<u8>, CoseError> {
        // A 64-byte draw whose first 32 bytes are no P-256 scalar (odds about 2^-32) is
        // replaced by the next one.
        for _ in 0..4 {
            let n = self.counter.get();
            self.counter.set(n.wrapping_add(1));
            let mut info = Vec::with_capacity(32);
            info.extend_from_slice(b"teep-agent encryption randomness");
            info.extend_from_slice(&n.to_be_bytes());
            let mut random = Zeroizing::new([0u8; RANDOM_LEN]);
            teep_cose::default_provider().hkdf_sha256(
                &[],
                &self.seed[..],
                &info,
                &mut random[..],
            )?;
            match encrypt::encrypt(plaintext, &self.key, self.content, purpose, &random) {
                Err(CoseError::Malformed { .. }) => continue,
                other => return other,
            }
        }
        Err(CoseError::Crypto("no usable ephemeral key drawn".into()))
    }
}

/// Opens an attestation-payload the TAM encrypted to this Agent's TEEP key (-26 §8.2, "TAM
/// attestation": a QueryRequest may carry the TAM's EAT, encrypted like the Agent's). A payload
/// that is not a COSE_Encrypt is returned as it is; one that is, decrypted with the key
/// agreement of `teep_signer`. The error text names the rule that failed.
pub fn open_tam_attestation_payload(
    teep_signer: &dyn Signer,
    payload: &[u8],
) -> Result<Vec<u8>, TamPayloadError> {
    if !encrypt::is_encrypted(payload) {
        return Ok(payload.to_vec());
    }
    open_to_agent(teep_signer, payload, Purpose::Eat)
}

/// Decrypts a COSE_Encrypt the TAM sent to this Agent (an EAT or a SUIT report, by
/// `purpose`): the recipient whose kid is the TEEP key's thumbprint (or one without a kid),
/// opened with that key's agreement.
pub(super) fn open_to_agent(
    teep_signer: &dyn Signer,
    sealed: &[u8],
    purpose: Purpose,
) -> Result<Vec<u8>, TamPayloadError> {
    let agreement = teep_signer
        .key_agreement()
        .ok_or(TamPayloadError::NoKeyAgreement)?;
    let mut enc = encrypt::open_encrypted(sealed).map_err(TamPayloadError::Cose)?;
    let ours = teep_signer.public_key().thumbprint();
    let index = enc
        .recipient_kids()
        .position(|k| k.is_none_or(|k| k == &ours[..]))
        .ok_or(TamPayloadError::NotForUs)?;
    enc.select_recipient(index);
    enc.decrypt(agreement, purpose)
        .map_err(TamPayloadError::Cose)
}

/// Why a TAM's encrypted attestation-payload could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TamPayloadError {
    #[error("attestation-payload: encrypted, but the TEEP key cannot agree keys")]
    NoKeyAgreement,
    #[error("attestation-payload: encrypted to another key than this Agent's TEEP key")]
    NotForUs,
    #[error("attestation-payload: {0}")]
    Cose(CoseError),
}

#[cfg(test)]
mod tests {
    use super::super::multi_tam_tests::{
        decode, open_for_tam, query_response, success, tam_kid, tam_signer, Bench, NUMBERINGS,
        SIGNER_1, TAM_A,
    };
    use super::*;
    use alloc::vec;
    use teep_cose::encrypt::{is_encrypted, open_encrypted};
    use teep_cose::{PrivateKey, SoftwareSigner};
    use teep_proto::{CipherSuite, DataItems, QueryRequest};

    const ALL: u64 =
        DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS | DataItems::SUIT_REPORTS;

    fn ask(b: &mut Bench, n: teep_proto::Numbering, profiles: Vec<SuitCoseProfile>) -> TeepMessage {
        ask_for(b, n, profiles, ALL)
    }

    fn ask_for(
        b: &mut Bench,
        n: teep_proto::Numbering,
        profiles: Vec<SuitCoseProfile>,
        bits: u64,
    ) -> TeepMessage {
        let qr = QueryRequest {
            token: Some(vec![4; 16]),
            challenge: Some(vec![3; 32]),
            supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
            supported_suit_cose_profiles: profiles,
            data_item_requested: DataItems(bits),
            ..Default::default()
        };
        let out = b.receive(TAM_A, n, TeepMessage::QueryRequest(qr));
        super::super::multi_tam_tests::reply(&out, n)
    }

    /// -26 §8.2: offered an ESP256 ECDH profile by a P-256 TAM, the Agent encrypts its
    /// Evidence to the TAM's key; A128GCM is preferred to A128CTR; the format is unchanged.
    #[test]
    fn teep_8_2_evidence_encrypted_to_the_tam_when_a_profile_is_offered() {
        for n in NUMBERINGS {
            for (profiles, want) in [
                (
                    vec![
                        SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR,
                        SuitCoseProfile::SHA256_ESP256_ECDH_A128GCM,
                    ],
                    ContentAlgorithm::A128Gcm,
                ),
                (
                    vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
                    ContentAlgorithm::A128Ctr,
                ),
            ] {
                let mut b = Bench::new();
                let q = query_response(ask(&mut b, n, profiles));
                assert_eq!(
                    q.attestation_payload_format.as_deref(),
                    Some(super::super::EAT_MEDIA_TYPE)
                );
                let eat = q.attestation_payload.unwrap();
                assert!(is_encrypted(&eat), "{n:?}");
                assert_eq!(open_encrypted(&eat).unwrap().content_algorithm(), want);
                let signed = open_for_tam(TAM_A, &eat, Purpose::Eat);
                let opened = teep_cose::open(&signed).unwrap();
                let claims =
                    teep_cose::eat::EatClaims::decode(opened.payload.as_deref().unwrap()).unwrap();
                assert_eq!(claims.eat_nonce.as_deref(), Some(&[3u8; 32][..]));
                // The other purpose's label does not open it.
                assert!(open_encrypted(&eat)
                    .unwrap()
                    .decrypt(&tam_signer(TAM_A), Purpose::SuitReport)
                    .is_err());
            }
        }
    }

    /// -26 §8.2 with draft-ietf-suit-mti: the profile follows the TAM key's type. A P-256
    /// key takes the ESP256 profiles (A128GCM first) even when the Ed25519 ones are listed
    /// first; an Ed25519 key takes ChaCha20/Poly1305, else the Ed25519 A128CTR profile, and
    /// never an ESP256 one.
    #[test]
    fn teep_8_2_profile_follows_the_tam_key_type() {
        use teep_cose::KeyType;
        let all = [
            SuitCoseProfile::SHA256_ED25519_ECDH_CHACHA_POLY,
            SuitCoseProfile::SHA256_ED25519_ECDH_A128CTR,
            SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR,
            SuitCoseProfile::SHA256_ESP256_ECDH_A128GCM,
        ];
        assert_eq!(
            super::pick_content(&all, Some(KeyType::P256)),
            Some(ContentAlgorithm::A128Gcm)
        );
        assert_eq!(
            super::pick_content(&all, Some(KeyType::Ed25519)),
            Some(ContentAlgorithm::ChaCha20Poly1305)
        );
        assert_eq!(
            super::pick_content(&all[1..], Some(KeyType::Ed25519)),
            Some(ContentAlgorithm::A128Ctr)
        );
        assert_eq!(super::pick_content(&all[2..], Some(KeyType::Ed25519)), None);
        assert_eq!(super::pick_content(&all[..2], Some(KeyType::P256)), None);
        assert_eq!(super::pick_content(&all, None), None);
    }

    /// Plain Evidence when the TAM offers no profile the Agent implements, and when
    /// encryption is turned off.
    #[test]
    fn teep_8_2_evidence_plain_without_a_usable_profile_or_when_off() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            // Only an X25519 profile, which this Agent does not implement (no SUIT reports
            // asked, so that is no error).
            let q = query_response(ask_for(
                &mut b,
                n,
                vec![SuitCoseProfile::SHA256_ED25519_ECDH_A128CTR],
                DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS,
            ));
            let eat = q.attestation_payload.unwrap();
            assert!(
                !is_encrypted(&eat) && teep_cose::open(&eat).is_ok(),
                "{n:?}"
            );
            assert!(b.state.tam_encryption.is_empty());

            let mut b = Bench::new();
            b.config.encrypt_to_tam = TamEncryption::Never;
            let q = query_response(ask(
                &mut b,
                n,
                vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128GCM],
            ));
            assert!(!is_encrypted(&q.attestation_payload.unwrap()), "{n:?}");
        }
    }

    /// The choice is remembered per TAM: the Success answering its Update encrypts its
    /// reports the same way.
    #[test]
    fn teep_8_2_success_reports_encrypted_as_the_query_request_offered() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            query_response(ask(
                &mut b,
                n,
                vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128GCM],
            ));
            let s = success(b.update(TAM_A, n, &[[1, SIGNER_1]], &[]));
            assert_eq!(s.suit_reports.len(), 1);
            let e = open_encrypted(&s.suit_reports[0]).unwrap();
            assert_eq!(e.content_algorithm(), ContentAlgorithm::A128Gcm);
            let report = open_for_tam(TAM_A, &s.suit_reports[0], Purpose::SuitReport);
            assert!(
                report.windows(16).any(|w| w == [8; 16]),
                "{n:?}: bound to the Update's token"
            );
        }
    }

    /// RequestTA's unsolicited QueryResponse (-26 §6.2) encrypts the SUIT reports it carries
    /// as the TAM's last QueryRequest offered.
    #[test]
    fn teep_8_2_unsolicited_query_response_encrypts_its_reports() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            query_response(b.query(
                TAM_A,
                n,
                None,
                DataItems::TRUSTED_COMPONENTS | DataItems::SUIT_REPORTS,
            ));
            let report = [0xa1, 0x04, 0xf5];
            b.state.keep_suit_report(&tam_kid(TAM_A), &report);
            b.state
                .request(&crate::tc_id::TcId::parse("hello").unwrap(), &[]);
            let out = Agent::new(&b.config, &mut b.state, &mut b.device)
                .unsolicited_query_response(TAM_A, &mut |x| x.fill(1))
                .expect("allowed");
            let q = query_response(decode(out.reply.as_ref().unwrap(), n));
            assert_eq!(q.suit_reports.len(), 1, "{n:?}");
            assert!(is_encrypted(&q.suit_reports[0]), "{n:?}");
            assert_eq!(
                open_for_tam(TAM_A, &q.suit_reports[0], Purpose::SuitReport),
                report
            );
        }
    }

    fn agent_key() -> SoftwareSigner {
        SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x44; 32]).unwrap())
    }

    /// TAM → Agent (-26 §8.2, a TAM's EAT in a QueryRequest): encrypted to the Agent's TEEP
    /// key, opened with it; plain payloads pass through.
    #[test]
    fn teep_8_2_tam_attestation_payload_opened_with_the_teep_key() {
        let agent = agent_key();
        let eat = b"tam eat".to_vec();
        for content in [ContentAlgorithm::A128Gcm, ContentAlgorithm::A128Ctr] {
            let enc = encrypt::encrypt(
                &eat,
                &agent.public_key(),
                content,
                Purpose::Eat,
                &[0x21; teep_cose::encrypt::RANDOM_LEN],
            )
            .unwrap();
            assert_eq!(open_tam_attestation_payload(&agent, &enc).unwrap(), eat);
        }
        assert_eq!(open_tam_attestation_payload(&agent, &eat).unwrap(), eat);
    }

    #[test]
    fn tam_attestation_payload_for_another_key_or_tampered_is_refused() {
        let agent = agent_key();
        let other = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x45; 32]).unwrap());
        let enc = encrypt::encrypt(
            b"x",
            &other.public_key(),
            ContentAlgorithm::A128Gcm,
            Purpose::Eat,
            &[0x21; teep_cose::encrypt::RANDOM_LEN],
        )
        .unwrap();
        let err = open_tam_attestation_payload(&agent, &enc).unwrap_err();
        assert!(matches!(err, TamPayloadError::NotForUs), "{err}");
        let mut tampered = encrypt::encrypt(
            b"x",
            &agent.public_key(),
            ContentAlgorithm::A128Gcm,
            Purpose::Eat,
            &[0x21; teep_cose::encrypt::RANDOM_LEN],
        )
        .unwrap();
        let last = tampered.len() - 30;
        tampered[last] ^= 1;
        assert!(open_tam_attestation_payload(&agent, &tampered).is_err());
        // A SUIT report's label does not open as an EAT.
        let report = encrypt::encrypt(
            b"x",
            &agent.public_key(),
            ContentAlgorithm::A128Gcm,
            Purpose::SuitReport,
            &[0x21; teep_cose::encrypt::RANDOM_LEN],
        )
        .unwrap();
        let err = open_tam_attestation_payload(&agent, &report).unwrap_err();
        assert!(err.to_string().contains("integrity check failed"), "{err}");
        // An Ed25519 TEEP key opens what was encrypted to it by X25519 (ChaCha20/Poly1305),
        // and is not the recipient of a P-256 one.
        let ed = SoftwareSigner::new(PrivateKey::from_ed25519_seed(&[1; 32]).unwrap());
        let err = open_tam_attestation_payload(&ed, &report).unwrap_err();
        assert!(matches!(err, TamPayloadError::NotForUs), "{err}");
        let to_ed = encrypt::encrypt(
            b"tam eat",
            &ed.public_key(),
            ContentAlgorithm::ChaCha20Poly1305,
            Purpose::Eat,
            &[0x21; teep_cose::encrypt::RANDOM_LEN],
        )
        .unwrap();
        assert_eq!(
            open_tam_attestation_payload(&ed, &to_ed).unwrap(),
            b"tam eat"
        );
    }
}
