//! What the checker sends, per case: TEEP messages built from the drafts' CDDL with teep-proto,
//! signed with the checker's keys, and SUIT envelopes built with teep-suit's builder in the
//! shape of TEEP-26 Appendix E (integrated payload). Nothing depends on the agent being teep's.

use teep_cose::{KeyType, PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::{
    CipherOperation, CipherSuite, ComponentId, DataItems, FreshnessMechanism, Numbering,
    QueryRequest, SuitCoseProfile, TeepMessage, Update, Value,
};

use super::catalog::*;
use super::server::Step;

/// The checker's keys: the TAM and TC signer the agent is told to trust, and two it is not.
pub struct Keys {
    pub tam: SoftwareSigner,
    pub tc_signer: SoftwareSigner,
    untrusted_tam: SoftwareSigner,
    untrusted_signer: SoftwareSigner,
}

impl Keys {
    /// `tam` and `tc_signer` when given (an agent provisioned once, for `--listen`), fresh
    /// P-256 keys otherwise.
    pub fn new(tam: Option<PrivateKey>, tc_signer: Option<PrivateKey>) -> Keys {
        let fresh = || PrivateKey::generate(KeyType::P256);
        Keys {
            tam: SoftwareSigner::new(tam.unwrap_or_else(fresh)),
            tc_signer: SoftwareSigner::new(tc_signer.unwrap_or_else(fresh)),
            untrusted_tam: SoftwareSigner::new(fresh()),
            untrusted_signer: SoftwareSigner::new(fresh()),
        }
    }

    pub fn tam_public(&self) -> PublicKey {
        self.tam.public_key()
    }

    pub fn tc_signer_public(&self) -> PublicKey {
        self.tc_signer.public_key()
    }
}

/// Random bytes for tokens, challenges and component ids.
pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if teep_cose::default_provider().fill_random(&mut b).is_err() {
        // Without a random source, still distinct per call within a run.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = teep_cose::sha256(&nanos.to_be_bytes())[..N.min(32)]
            .try_into()
            .unwrap_or([7u8; N]);
    }
    b
}

/// The Trusted Component of a case: Appendix E's component ids, fresh per case so that cases
/// run against one long-lived agent (`--listen`) do not meet each other's components.
#[derive(Clone, Debug)]
pub struct Component {
    pub id: ComponentId,
    pub manifest_id: ComponentId,
}

impl Component {
    pub fn fresh() -> Component {
        let class: [u8; 16] = random();
        let base = |last: &[u8]| {
            ComponentId::new(vec![
                b"TEEP-Device".to_vec(),
                b"SecureFS".to_vec(),
                class.to_vec(),
                last.to_vec(),
            ])
        };
        Component {
            id: base(b"ta"),
            manifest_id: base(b"suit"),
        }
    }

    /// The payload of version `sequence`.
    pub fn payload(&self, sequence: u64) -> Vec<u8> {
        format!("teep check: trusted component, version {sequence}").into_bytes()
    }

    /// The encoded SUIT_Digest of version `sequence`'s payload, as a tc-list reports it.
    pub fn digest(&self, sequence: u64) -> Vec<u8> {
        teep_suit::codec::encode_digest(&teep_suit::Digest::sha256(&self.payload(sequence)))
    }

    /// A signed envelope installing version `sequence`.
    pub fn envelope(&self, sequence: u64, signer: &dyn Signer) -> Result<Vec<u8>, String> {
        let builder = teep_suit::ManifestBuilder::new(self.id.clone(), self.payload(sequence))
            .sequence_number(sequence)
            .integrated()
            .manifest_component_id(self.manifest_id.clone());
        builder
            .build(signer, &[0u8; 64])
            .map(|(envelope, _)| envelope)
            .map_err(|e| format!("building the manifest: {e}"))
    }
}

/// One bit flipped in the image digest inside the signed manifest: the manifest no longer
/// matches the digest its signature covers.
pub fn tamper(envelope: &[u8], payload: &[u8]) -> Vec<u8> {
    let digest = teep_cose::sha256(payload);
    let mut out = envelope.to_vec();
    if let Some(at) = out.windows(digest.len()).position(|w| w == digest) {
        out[at] ^= 0x01;
    } else if let Some(last) = out.last_mut() {
        *last ^= 0x01;
    }
    out
}

/// One bit flipped in the last byte (the signature of a COSE_Sign1).
pub fn flip_last(mut body: Vec<u8>) -> Vec<u8> {
    if let Some(last) = body.last_mut() {
        *last ^= 0x01;
    }
    body
}

pub fn signed(msg: &TeepMessage, signer: &dyn Signer) -> Result<Vec<u8>, String> {
    signed_in(msg, Numbering::Draft26, signer)
}

pub fn signed_in(
    msg: &TeepMessage,
    numbering: Numbering,
    signer: &dyn Signer,
) -> Result<Vec<u8>, String> {
    teep_cose::sign1(&msg.encode(numbering), signer)
        .map_err(|e| format!("signing the message: {e}"))
}

/// A QueryRequest asking for the tc-list, with a token (attestation bit clear, §4.2).
pub fn query_tc_list(token: &[u8]) -> QueryRequest {
    QueryRequest {
        token: Some(token.to_vec()),
        supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
        supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
        data_item_requested: DataItems(DataItems::TRUSTED_COMPONENTS),
        ..Default::default()
    }
}

/// A QueryRequest asking for attestation with `challenge` (no token, §4.2).
pub fn query_attestation(challenge: &[u8]) -> QueryRequest {
    QueryRequest {
        token: None,
        challenge: Some(challenge.to_vec()),
        supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
        supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
        data_item_requested: DataItems(DataItems::ATTESTATION),
        ..Default::default()
    }
}

/// What a case sends, with the values its verdict is judged against.
pub struct Plan {
    pub sessions: Vec<Vec<Step>>,
    pub component: Component,
    /// Token or challenge of the message the verdict is about.
    pub token: Vec<u8>,
    /// The checker's TAM key, to open Evidence and SUIT reports the agent encrypted to it
    /// (TEEP-26 §8.2).
    pub tam_key: PrivateKey,
}

fn step(what: &str, msg: &TeepMessage, signer: &dyn Signer) -> Result<Step, String> {
    Ok(Step {
        what: what.to_string(),
        body: signed(msg, signer)?,
    })
}

fn qr_step(what: &str, q: QueryRequest, signer: &dyn Signer) -> Result<Step, String> {
    step(what, &TeepMessage::QueryRequest(q), signer)
}

fn update(token: &[u8], manifests: Vec<Vec<u8>>, unneeded: Vec<ComponentId>) -> TeepMessage {
    TeepMessage::Update(Update {
        token: Some(token.to_vec()),
        manifest_list: manifests,
        unneeded_manifest_list: unneeded,
        ..Default::default()
    })
}

/// The sessions of case `id`.
pub fn plan(id: &str, keys: &Keys) -> Result<Plan, String> {
    let c = Component::fresh();
    let token: [u8; 16] = random();
    let tam: &dyn Signer = &keys.tam;
    let tc_list = |what: &str| qr_step(what, query_tc_list(&random::<16>()), tam);
    // The component installed at `sequence`: a QueryRequest, then the Update.
    let install = |sequence: u64| -> Result<Vec<Step>, String> {
        let envelope = c.envelope(sequence, &keys.tc_signer)?;
        Ok(vec![
            tc_list("QueryRequest (tc-list)")?,
            step(
                &format!("Update (manifest, sequence number {sequence})"),
                &update(&random::<16>(), vec![envelope], Vec::new()),
                tam,
            )?,
        ])
    };
    let sessions = match id {
        EMPTY_POST | CONTENT_TYPE | QRESP_ANSWERED | QRESP_SUITE | QRESP_NUMBERING
        | QRESP_TOKEN | QRESP_TC_LIST => {
            vec![vec![qr_step(
                "QueryRequest (token, trusted-components)",
                query_tc_list(&token),
                tam,
            )?]]
        }
        QRESP_LEGACY => vec![vec![Step {
            what: "QueryRequest (token, trusted-components), numbering of drafts -20 to -25".into(),
            body: signed_in(
                &TeepMessage::QueryRequest(query_tc_list(&token)),
                Numbering::Legacy,
                tam,
            )?,
        }]],
        QRESP_NO_TOKEN | QRESP_EVIDENCE => vec![vec![qr_step(
            "QueryRequest (attestation, challenge, no token)",
            query_attestation(&token),
            tam,
        )?]],
        QR_UNKNOWN_OPTIONS => {
            let mut q = query_tc_list(&token);
            q.unknown_options
                .insert(99, Value::Text("teep check".into()));
            q.unknown_options.insert(1000, Value::Bytes(vec![1, 2, 3]));
            vec![vec![qr_step("QueryRequest (options 99 and 1000)", q, tam)?]]
        }
        QR_VERSIONS => {
            let mut q = query_tc_list(&token);
            q.versions = vec![7];
            vec![vec![qr_step("QueryRequest (versions [7])", q, tam)?]]
        }
        QR_SUITES => {
            let mut q = query_tc_list(&token);
            q.supported_cipher_suites = vec![CipherSuite::new(vec![CipherOperation {
                cose_type: teep_proto::COSE_SIGN1,
                alg: -65537,
            }])];
            vec![vec![qr_step(
                "QueryRequest (suites [[[18, -65537]]])",
                q,
                tam,
            )?]]
        }
        QR_FRESHNESS => {
            let mut q = query_attestation(&token);
            q.supported_freshness_mechanisms = vec![FreshnessMechanism::Timestamp];
            vec![vec![qr_step(
                "QueryRequest (attestation, freshness [timestamp])",
                q,
                tam,
            )?]]
        }
        QR_BAD_SIGNATURE | QR_UNTRUSTED_KEY => {
            let first = if id == QR_BAD_SIGNATURE {
                let s = qr_step("", query_tc_list(&token), tam)?;
                Step {
                    what: "QueryRequest, signature altered".into(),
                    body: flip_last(s.body),
                }
            } else {
                qr_step(
                    "QueryRequest signed by an untrusted key",
                    query_tc_list(&token),
                    &keys.untrusted_tam,
                )?
            };
            vec![vec![first], vec![tc_list("QueryRequest (a valid one)")?]]
        }
        UPDATE_INSTALL | UPDATE_SUCCESS_TOKEN => {
            let envelope = c.envelope(1, &keys.tc_signer)?;
            vec![vec![
                tc_list("QueryRequest (tc-list)")?,
                step(
                    "Update (manifest, sequence number 1)",
                    &update(&token, vec![envelope], Vec::new()),
                    tam,
                )?,
                tc_list("QueryRequest (tc-list)")?,
            ]]
        }
        UPDATE_BAD_SIGNATURE | UPDATE_UNTRUSTED_KEY => {
            let envelope = c.envelope(1, &keys.tc_signer)?;
            let msg = update(&token, vec![envelope], Vec::new());
            let bad = if id == UPDATE_BAD_SIGNATURE {
                step("Update, TEEP signature altered", &msg, tam).map(|s| Step {
                    body: flip_last(s.body),
                    ..s
                })?
            } else {
                step(
                    "Update signed by an untrusted TAM key",
                    &msg,
                    &keys.untrusted_tam,
                )?
            };
            vec![
                vec![tc_list("QueryRequest (tc-list)")?, bad],
                vec![tc_list("QueryRequest (tc-list)")?],
            ]
        }
        UPDATE_ROLLBACK | UPDATE_ERROR_TOKEN => {
            let mut s = install(2)?;
            let old = c.envelope(1, &keys.tc_signer)?;
            s.push(tc_list("QueryRequest (tc-list)")?);
            s.push(step(
                "Update (manifest, sequence number 1)",
                &update(&token, vec![old], Vec::new()),
                tam,
            )?);
            s.push(tc_list("QueryRequest (tc-list)")?);
            vec![s]
        }
        UPDATE_TAMPERED | UPDATE_SUIT_REPORT | UPDATE_UNTRUSTED_SIGNER => {
            let mut s = install(1)?;
            let (what, envelope) = if id == UPDATE_UNTRUSTED_SIGNER {
                (
                    "Update (manifest sequence number 2, signed by an untrusted TC signer)",
                    c.envelope(2, &keys.untrusted_signer)?,
                )
            } else {
                (
                    "Update (manifest sequence number 2, image digest altered after signing)",
                    tamper(&c.envelope(2, &keys.tc_signer)?, &c.payload(2)),
                )
            };
            s.push(tc_list("QueryRequest (tc-list)")?);
            s.push(step(
                what,
                &update(&token, vec![envelope], Vec::new()),
                tam,
            )?);
            s.push(tc_list("QueryRequest (tc-list)")?);
            vec![s]
        }
        UPDATE_UNNEEDED => {
            let mut s = install(1)?;
            s.push(tc_list("QueryRequest (tc-list)")?);
            s.push(step(
                "Update (unneeded-manifest-list: the component's manifest)",
                &update(&token, Vec::new(), vec![c.manifest_id.clone()]),
                tam,
            )?);
            s.push(tc_list("QueryRequest (tc-list)")?);
            vec![s]
        }
        other => return Err(format!("no plan for case {other}")),
    };
    Ok(Plan {
        sessions,
        component: c,
        token: token.to_vec(),
        tam_key: keys.tam.private_key().clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case of the catalog has its sessions, each with at least one message.
    #[test]
    fn every_case_has_a_plan() {
        let keys = Keys::new(None, None);
        for case in CATALOG {
            let plan = plan(case.id, &keys).unwrap_or_else(|e| panic!("{}: {e}", case.id));
            assert!(!plan.sessions.is_empty(), "{}", case.id);
            assert!(plan.sessions.iter().all(|s| !s.is_empty()), "{}", case.id);
        }
        assert!(plan("agent.no-such-case", &keys).is_err());
    }

    /// The tampered manifest still decodes as an envelope but no longer matches its signed
    /// digest: one bit of the image digest flipped, nothing else.
    #[test]
    fn tamper_flips_one_bit_of_the_image_digest() {
        let keys = Keys::new(None, None);
        let c = Component::fresh();
        let envelope = c.envelope(2, &keys.tc_signer).unwrap();
        let bad = tamper(&envelope, &c.payload(2));
        assert_eq!(bad.len(), envelope.len());
        let diff: Vec<usize> = (0..bad.len()).filter(|&i| bad[i] != envelope[i]).collect();
        assert_eq!(diff.len(), 1);
        assert_eq!((bad[diff[0]] ^ envelope[diff[0]]).count_ones(), 1);
        let digest = teep_cose::sha256(&c.payload(2));
        assert!(envelope.windows(32).any(|w| w == digest));
        assert!(!bad.windows(32).any(|w| w == digest));
    }

    /// Component ids are fresh per case, so that cases on one long-lived agent do not meet.
    #[test]
    fn components_are_fresh() {
        let (a, b) = (Component::fresh(), Component::fresh());
        assert_ne!(a.id.encode(), b.id.encode());
        assert_ne!(a.id.encode(), a.manifest_id.encode());
    }
}
