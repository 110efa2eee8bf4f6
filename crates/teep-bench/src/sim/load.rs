//! Load generation: the same exchange as [`exchange_with`](super::exchange_with) for
//! forgetful devices, with what does not depend on the session computed once per device, one
//! HTTP/1.1 connection per worker ([`TeepConnection`]) and the TAM's messages read in place
//! ([`peek_query_request`], [`peek_update`]).

use teep_cose::{PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::{Numbering, QueryResponse, TeepMessage};

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
        })
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
        teep_cose::sign1(&self.evidence_claims(nonce), &self.signer)
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
            attestation_payload: challenge.map(|c| self.evidence(c)).transpose()?,
            ..Default::default()
        };
        super::sign(&TeepMessage::QueryResponse(qr), n, &self.signer)
    }

    /// A signed Success echoing `token`.
    pub fn success(&self, token: Option<&[u8]>, n: Numbering) -> Result<Vec<u8>, SimError> {
        super::sign_success(token.map(<[u8]>::to_vec), n, &self.signer)
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
    let (status, upd) = conn.post(qresp).await?;
    if !super::update_follows(status, &upd)? {
        return Ok((ExchangeResult::UpToDate, 0));
    }
    let update_len = upd.len();
    let success = if tam_keys.is_empty() {
        let u = peek_update(&upd, n)?;
        if let Some(code) = u.err_code {
            return Err(super::tam_error(code, u.err_msg));
        }
        dev.success(u.token, n)?
    } else {
        let u = super::open_update(&upd, n, tam_keys)?;
        dev.success(u.token.as_deref(), n)?
    };
    drop(upd);
    conn.expect(success, 204).await?;
    Ok((ExchangeResult::Updated, update_len))
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

    #[tokio::test]
    async fn load_exchange_against_a_tam() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = teep_tam::Config {
            data: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            enroll: teep_tam::Enroll::Open,
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
