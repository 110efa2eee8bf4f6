//! Load generation: the same exchange as [`exchange_with`](super::exchange_with) for
//! forgetful devices, with what does not depend on the session computed once per device, one
//! HTTP/1.1 connection per worker ([`TeepConnection`]) and the TAM's messages read in place
//! ([`peek_query_request`], [`peek_update`]).

use teep_cose::{PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::{ComponentId, Numbering, QueryResponse, RequestedTcInfo, Success, TeepMessage};

use super::cbor::write_cbor_head;
use super::device::{device_claims, numbered_key, ueid_from_thumbprint, DeviceAlg};
use super::{peek_query_request, peek_update, ExchangeResult, SimError, TeepConnection};

/// A [`Signer`] that computes its kid (a SHA-256 thumbprint) once instead of per signature.
struct KidCachedSigner {
    inner: SoftwareSigner,
    public: PublicKey,
    kid: Vec<u8>,
}

impl Signer for KidCachedSigner {
    fn algorithm(&self) -> teep_cose::Algorithm {
        self.inner.algorithm()
    }
    fn kid(&self) -> Vec<u8> {
        self.kid.clone()
    }
    fn public_key(&self) -> PublicKey {
        self.public.clone()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, teep_cose::CoseError> {
        self.inner.sign(tbs)
    }
}

/// A forgetful device for load generation: it never keeps what it installs, so every
/// session carries an Update. Everything in its evidence except `eat_nonce` is encoded once:
/// the claims map is `eat_prefix ‖ bstr(nonce) ‖ eat_suffix`. Every message is still
/// signed afresh.
pub struct LoadDevice {
    signer: KidCachedSigner,
    eat_prefix: Vec<u8>,
    eat_suffix: Vec<u8>,
    /// Put the kid in the unprotected header of every signature (RFC 9052 §3.1 allows either
    /// bucket; some TAMs read it only from there).
    kid_unprotected: bool,
    /// TCs to ask for in requested-tc-list of every QueryResponse.
    requested: Vec<ComponentId>,
    /// An endorsed attestation key and its chain (leaf first): Evidence is signed by it and
    /// carries the chain in `x5chain` (RFC 9360). Still one signature per Evidence.
    endorsement: Option<(SoftwareSigner, Vec<Vec<u8>>)>,
}

impl LoadDevice {
    pub fn from_key(private: PrivateKey) -> Result<LoadDevice, SimError> {
        let public = private.public_key();
        let thumbprint = public.thumbprint();
        let kid = thumbprint.to_vec();
        let ueid = ueid_from_thumbprint(&thumbprint);
        // A nonce no other claim can contain: the UEID and cnf are derived from the key, the
        // rest are constants without 0xa5 runs.
        let marker = [0xa5u8; 32];
        let template = device_claims(public.clone(), &ueid, &marker).encode();
        let mut marked = vec![0x58, 32];
        marked.extend_from_slice(&marker);
        let at = template
            .windows(marked.len())
            .position(|w| w == marked.as_slice())
            .ok_or_else(|| SimError::Message("EAT template: eat_nonce not found".into()))?;
        let signer = SoftwareSigner::with_algorithm(private.clone(), private.default_algorithm())
            .map_err(SimError::message)?;
        Ok(LoadDevice {
            signer: KidCachedSigner {
                inner: signer,
                public,
                kid,
            },
            eat_prefix: template[..at].to_vec(),
            eat_suffix: template[at + marked.len()..].to_vec(),
            kid_unprotected: false,
            requested: Vec::new(),
            endorsement: None,
        })
    }

    /// This device, signing with the kid in the unprotected header when `on`.
    pub fn with_kid_unprotected(mut self, on: bool) -> LoadDevice {
        self.kid_unprotected = on;
        self
    }

    /// This device, signing Evidence with an endorsed attestation key (`x5chain` leaf first).
    pub fn with_endorsement(mut self, signer: SoftwareSigner, x5chain: Vec<Vec<u8>>) -> LoadDevice {
        self.endorsement = Some((signer, x5chain));
        self
    }

    /// This device, asking for `tcs` in the requested-tc-list of its QueryResponses.
    pub fn with_requested(mut self, tcs: Vec<ComponentId>) -> LoadDevice {
        self.requested = tcs;
        self
    }

    /// `payload` as a COSE_Sign1 by the device key, the kid where the device puts it.
    fn sign1(&self, payload: &[u8]) -> Result<Vec<u8>, teep_cose::CoseError> {
        if self.kid_unprotected {
            teep_cose::sign1_kid_unprotected(payload, &self.signer)
        } else {
            teep_cose::sign1(payload, &self.signer)
        }
    }

    fn sign_message(&self, msg: &TeepMessage, n: Numbering) -> Result<Vec<u8>, SimError> {
        self.sign1(&msg.encode(n)).map_err(SimError::message)
    }

    /// Device number `i` (same key as [`SimDevice::numbered_with`](super::SimDevice::numbered_with)).
    pub fn numbered(i: u64, alg: DeviceAlg) -> Result<LoadDevice, SimError> {
        Self::from_key(numbered_key(i, alg))
    }

    pub fn public_key(&self) -> PublicKey {
        self.signer.public.clone()
    }

    pub fn kid(&self) -> &[u8] {
        &self.signer.kid
    }

    /// The EAT claims map for `nonce`, byte for byte what
    /// [`EatClaims::encode`](teep_cose::eat::EatClaims::encode) gives.
    pub fn evidence_claims(&self, nonce: &[u8]) -> Vec<u8> {
        let mut c =
            Vec::with_capacity(self.eat_prefix.len() + 9 + nonce.len() + self.eat_suffix.len());
        c.extend_from_slice(&self.eat_prefix);
        write_cbor_head(&mut c, 2, nonce.len() as u64);
        c.extend_from_slice(nonce);
        c.extend_from_slice(&self.eat_suffix);
        c
    }

    /// Evidence for `nonce`: the claims signed as a COSE_Sign1 by the device key.
    pub fn evidence(&self, nonce: &[u8]) -> Result<Vec<u8>, SimError> {
        let claims = self.evidence_claims(nonce);
        match &self.endorsement {
            None => self.sign1(&claims),
            Some((signer, chain)) => teep_cose::sign1_with_x5chain(&claims, signer, chain),
        }
        .map_err(|e| SimError::Message(format!("evidence: {e}")))
    }

    /// A signed QueryResponse echoing `token`, with evidence over `challenge` if there is one.
    pub fn query_response(
        &self,
        token: Option<&[u8]>,
        challenge: Option<&[u8]>,
        n: Numbering,
    ) -> Result<Vec<u8>, SimError> {
        let qr = QueryResponse {
            token: token.map(<[u8]>::to_vec),
            attestation_payload_format: challenge.map(|_| "application/eat+cwt".into()),
            attestation_payload: challenge.map(|c| self.evidence(c)).transpose()?,
            // Forgetful: it holds nothing, and says so (-26 §4.3: tc-list present when asked).
            tc_list: Some(Vec::new()),
            requested_tc_list: self
                .requested
                .iter()
                .map(|c| RequestedTcInfo {
                    component_id: c.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        self.sign_message(&TeepMessage::QueryResponse(qr), n)
    }

    /// A signed Success echoing `token`.
    pub fn success(&self, token: Option<&[u8]>, n: Numbering) -> Result<Vec<u8>, SimError> {
        let s = Success {
            token: token.map(<[u8]>::to_vec),
            ..Default::default()
        };
        self.sign_message(&TeepMessage::Success(s), n)
    }
}

/// One complete session of a [`LoadDevice`] over `conn`: empty POST → QueryRequest →
/// QueryResponse with fresh evidence over the challenge → Update → Success → 204.
///
/// Without `tam_keys` the TAM's messages are read with [`peek_query_request`] and
/// [`peek_update`] (generator-only readers, no signature check); with keys they are fully
/// decoded and their signatures verified, as [`exchange`](super::exchange) does.
pub async fn load_exchange(
    conn: &mut TeepConnection,
    dev: &LoadDevice,
    n: Numbering,
    tam_keys: &[PublicKey],
) -> Result<ExchangeResult, SimError> {
    sized_exchange(conn, dev, n, tam_keys).await.map(|(r, _)| r)
}

/// [`load_exchange`], also returning the length of the Update the TAM signed (0 without one):
/// what the generator needs to estimate the TAM's signing cost.
pub async fn sized_exchange(
    conn: &mut TeepConnection,
    dev: &LoadDevice,
    n: Numbering,
    tam_keys: &[PublicKey],
) -> Result<(ExchangeResult, usize), SimError> {
    let qreq = conn.expect(Vec::new(), 200).await?;
    let qresp = if tam_keys.is_empty() {
        let q = peek_query_request(&qreq, n)?;
        dev.query_response(q.token, q.challenge, n)?
    } else {
        let (q, _) = super::open_query_request(&qreq, n, tam_keys)?;
        dev.query_response(q.token.as_deref(), q.challenge.as_deref(), n)?
    };
    drop(qreq);
    let (mut status, mut body) = conn.post(qresp).await?;
    let mut queries = 0;
    loop {
        if !super::update_follows(status, &body)? {
            return Ok((ExchangeResult::UpToDate, 0));
        }
        match answer(dev, &body, n, tam_keys)? {
            Answer::Success(success) => {
                let update_len = body.len();
                drop(body);
                conn.expect(success, 204).await?;
                return Ok((ExchangeResult::Updated, update_len));
            }
            Answer::QueryResponse(qresp) => {
                queries += 1;
                if queries > super::MAX_EXTRA_QUERIES {
                    return Err(super::too_many_queries());
                }
                (status, body) = conn.post(qresp).await?;
            }
        }
    }
}

/// The device's reply to a message of the TAM after its QueryResponse.
#[derive(Debug)]
enum Answer {
    /// The message was an Update: Success.
    Success(Vec<u8>),
    /// The message was a further QueryRequest (say, with the challenge of an attestation
    /// round trip): a QueryResponse with evidence over its challenge (§4.1, §4.2).
    QueryResponse(Vec<u8>),
}

/// What `dev` answers to `body`, an Update or a further QueryRequest; an Update carrying an
/// error is the TAM's error. Read as [`sized_exchange`] reads the first QueryRequest.
fn answer(
    dev: &LoadDevice,
    body: &[u8],
    n: Numbering,
    tam_keys: &[PublicKey],
) -> Result<Answer, SimError> {
    if tam_keys.is_empty() {
        let update_error = match peek_update(body, n) {
            Ok(u) => {
                if let Some(code) = u.err_code {
                    return Err(super::tam_error(code, u.err_msg));
                }
                return dev.success(u.token, n).map(Answer::Success);
            }
            Err(e) => e,
        };
        // Not an Update: a QueryRequest is answered, anything else is the Update's error.
        match peek_query_request(body, n) {
            Ok(q) => dev
                .query_response(q.token, q.challenge, n)
                .map(Answer::QueryResponse),
            Err(_) => Err(update_error),
        }
    } else {
        match super::open_from_tam(body, n, tam_keys, "Update")? {
            (TeepMessage::Update(u), _) => match u.err_code {
                Some(code) => Err(super::tam_error(code, u.err_msg.as_deref())),
                None => dev.success(u.token.as_deref(), n).map(Answer::Success),
            },
            (TeepMessage::QueryRequest(q), _) => dev
                .query_response(q.token.as_deref(), q.challenge.as_deref(), n)
                .map(Answer::QueryResponse),
            (other, _) => Err(super::unexpected("Update or QueryRequest", &other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimDevice;
    use teep_cose::eat::EatClaims;
    use teep_proto::signed;

    #[test]
    fn evidence_template_matches_full_encoding() {
        for key in [
            numbered_key(0, DeviceAlg::P256),
            numbered_key(1, DeviceAlg::Ed25519),
        ] {
            let dev = LoadDevice::from_key(key.clone()).unwrap();
            let public = key.public_key();
            let ueid = ueid_from_thumbprint(&public.thumbprint());
            // Lengths around every CBOR head size change, up to the challenge maximum.
            for len in [8usize, 23, 24, 32, 64, 255, 256, 512] {
                let nonce: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let want = device_claims(public.clone(), &ueid, &nonce).encode();
                assert_eq!(dev.evidence_claims(&nonce), want, "nonce of {len} bytes");
                if len <= 64 {
                    // eat_nonce is at most 64 bytes; longer ones only test the template.
                    let ev = dev.evidence(&nonce).unwrap();
                    let claims = EatClaims::verify(&ev, &public).unwrap();
                    claims.check_nonce(&nonce).unwrap();
                }
            }
        }
    }

    #[test]
    fn load_device_signs_what_sim_device_signs() {
        let dev = LoadDevice::numbered(4, DeviceAlg::Mixed).unwrap();
        let sim = SimDevice::numbered(4);
        assert_eq!(dev.public_key(), sim.public_key());
        assert_eq!(dev.kid(), sim.kid().as_slice());
        let token = [7u8; 16];
        for n in [Numbering::Draft26, Numbering::Legacy] {
            let qr = dev
                .query_response(Some(&token), Some(&[9u8; 32]), n)
                .unwrap();
            let (opened, msg) = signed::open_message(&qr, n).unwrap();
            opened.verify(&sim.public_key()).unwrap();
            let TeepMessage::QueryResponse(q) = msg else {
                panic!("not a QueryResponse")
            };
            assert_eq!(q.token.as_deref(), Some(&token[..]));
            let ev = q.attestation_payload.unwrap();
            EatClaims::verify(&ev, &sim.public_key())
                .unwrap()
                .check_nonce(&[9u8; 32])
                .unwrap();
            let s = dev.success(Some(&token), n).unwrap();
            let (opened, msg) = signed::open_message(&s, n).unwrap();
            opened.verify(&sim.public_key()).unwrap();
            assert!(
                matches!(msg, TeepMessage::Success(s) if s.token.as_deref() == Some(&token[..]))
            );
        }
    }

    #[test]
    fn answers_a_further_query_request_with_evidence_for_its_challenge() {
        let n = Numbering::Draft26;
        let tam = SoftwareSigner::new(numbered_key(10, DeviceAlg::P256));
        let from_tam = |msg: TeepMessage| signed::sign_message(&msg, n, &tam).unwrap();
        let dev = LoadDevice::numbered(5, DeviceAlg::Mixed).unwrap();
        // AttesTAM's second round: a QueryRequest with the attestation bit and a challenge.
        let again = from_tam(teep_tam_core::wire::query_request(
            &[7; 8],
            Some(&[9; 32]),
            true,
        ));
        let update = from_tam(teep_tam_core::wire::update(&[8; 8], Vec::new(), Vec::new()));
        let stray = from_tam(TeepMessage::Success(Success::default()));
        for keys in [&[][..], &[tam.public_key()][..]] {
            let Answer::QueryResponse(qr) = answer(&dev, &again, n, keys).unwrap() else {
                panic!("a QueryRequest must be answered with a QueryResponse")
            };
            let (opened, msg) = signed::open_message(&qr, n).unwrap();
            opened.verify(&dev.public_key()).unwrap();
            let TeepMessage::QueryResponse(q) = msg else {
                panic!("not a QueryResponse")
            };
            assert_eq!(q.token.as_deref(), Some(&[7u8; 8][..]));
            EatClaims::verify(&q.attestation_payload.unwrap(), &dev.public_key())
                .unwrap()
                .check_nonce(&[9u8; 32])
                .unwrap();
            let Answer::Success(s) = answer(&dev, &update, n, keys).unwrap() else {
                panic!("an Update must be answered with Success")
            };
            let (_, msg) = signed::open_message(&s, n).unwrap();
            assert!(matches!(msg, TeepMessage::Success(s) if s.token == Some(vec![8; 8])));
            let e = answer(&dev, &stray, n, keys).unwrap_err().to_string();
            assert!(e.contains("Update"), "{e}");
        }
        // Checked against a key that did not sign it, the further QueryRequest is refused.
        let wrong = [numbered_key(99, DeviceAlg::P256).public_key()];
        let e = answer(&dev, &again, n, &wrong).unwrap_err().to_string();
        assert!(e.contains("signature"), "{e}");
    }

    #[test]
    fn kid_goes_where_the_device_is_told_and_requests_are_listed() {
        let n = Numbering::Draft26;
        let hello = ComponentId::new(vec![b"TEEP-Device".to_vec(), b"hello".to_vec()]);
        for unprotected in [false, true] {
            let dev = LoadDevice::numbered(6, DeviceAlg::Mixed)
                .unwrap()
                .with_kid_unprotected(unprotected)
                .with_requested(vec![hello.clone()]);
            let qr = dev
                .query_response(Some(&[1; 8]), Some(&[2; 16]), n)
                .unwrap();
            let (opened, msg) = signed::open_message(&qr, n).unwrap();
            opened.verify(&dev.public_key()).unwrap();
            let TeepMessage::QueryResponse(q) = msg else {
                panic!("not a QueryResponse")
            };
            let ev = teep_cose::open(q.attestation_payload.as_deref().unwrap()).unwrap();
            let s = teep_cose::open(&dev.success(Some(&[1; 8]), n).unwrap()).unwrap();
            for sig in [&opened.signatures[0], &ev.signatures[0], &s.signatures[0]] {
                assert_eq!(sig.kid.as_deref(), Some(dev.kid()));
                assert_eq!(sig.kid_protected, !unprotected);
            }
            assert_eq!(q.requested_tc_list.len(), 1);
            assert_eq!(q.requested_tc_list[0].component_id, hello);
        }
    }

    #[tokio::test]
    async fn load_exchange_against_a_tam() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = teep_tam::Config {
            data: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            enroll: teep_tam::Enroll::Tofu,
            ..Default::default()
        };
        let (addr, handle) = teep_tam::server::spawn(cfg).await.unwrap();
        let st = &handle.state;
        let tc = teep_tam::ops::add_ta(&st.store, &st.tc_signer, "hello", &[0x5a; 300], 0)
            .await
            .unwrap();
        st.store
            .assign(&tc.component_id, &teep_tam::model::Target::All, 0)
            .await
            .unwrap();
        let keys: Vec<PublicKey> = st.core.signers().iter().map(|s| s.public_key()).collect();
        let url = format!("http://{addr}/tam");
        let mut conn = TeepConnection::connect(&url).await.unwrap();
        for alg in [DeviceAlg::P256, DeviceAlg::Ed25519] {
            let dev = LoadDevice::numbered(7, alg).unwrap();
            // Forgetful: every session carries the Update again, on one connection.
            for tam_keys in [&[][..], &keys[..], &[][..]] {
                assert_eq!(
                    load_exchange(&mut conn, &dev, Numbering::Draft26, tam_keys)
                        .await
                        .unwrap(),
                    ExchangeResult::Updated
                );
            }
        }
        // A key that did not sign: the verifying path refuses.
        let wrong = [numbered_key(99, DeviceAlg::P256).public_key()];
        let dev = LoadDevice::numbered(8, DeviceAlg::P256).unwrap();
        let e = load_exchange(&mut conn, &dev, Numbering::Draft26, &wrong)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("QueryRequest signature"), "{e}");
        assert!(TeepConnection::connect("https://127.0.0.1:1/tam")
            .await
            .is_err());
        handle.shutdown().await;
    }
}
