//! A simulated TEEP device (agent side, just enough of it) and a small HTTP client, for the
//! load generator (`teep bench tam`) and for end-to-end tests. It builds messages with
//! teep-proto and teep-cose directly: no SUIT processing, no TEE, no dependency on the real
//! agent, so a benchmark measures the TAM and not the device.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use teep_cose::eat::{Confirmation, EatClaims, HwVersion, ManifestEntry, OemId, VersionString};
use teep_cose::{KeyType, PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::{
    Numbering, QueryResponse, RequestedTcInfo, Success, SystemPropertyClaims, TeepMessage,
};

use crate::wire::signed;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("HTTP: {0}")]
    Http(String),
    #[error("HTTP status {status}: {body}")]
    Status { status: u16, body: String },
    #[error("TAM message: {0}")]
    Message(String),
}

/// A component id from an Update and the image digest its manifest names.
type PendingInstall = (Vec<Vec<u8>>, Option<Vec<u8>>);

/// One device: its TEEP/attestation key and what it holds.
pub struct SimDevice {
    pub signer: SoftwareSigner,
    pub private: PrivateKey,
    pub ueid: Vec<u8>,
    /// Component ids of installed TCs.
    pub installed: Vec<Vec<Vec<u8>>>,
    /// TCs to ask for in requested-tc-list.
    pub requested: Vec<Vec<Vec<u8>>>,
    /// Manifest component ids to put in unneeded-manifest-list.
    pub unneeded: Vec<Vec<Vec<u8>>>,
    /// Image digest (encoded SUIT_Digest) of each installed TC, reported in tc-list.
    pub digests: std::collections::HashMap<Vec<Vec<u8>>, Vec<u8>>,
    pending_install: Vec<PendingInstall>,
    pending_remove: Vec<Vec<Vec<u8>>>,
}

/// What a QueryRequest told the device.
pub struct QueryRequestSeen {
    pub token: Option<Vec<u8>>,
    pub challenge: Option<Vec<u8>>,
    pub multi_signed: bool,
}

impl SimDevice {
    pub fn new(kt: KeyType) -> SimDevice {
        Self::from_key(PrivateKey::generate(kt))
    }

    pub fn from_key(private: PrivateKey) -> SimDevice {
        let public = private.public_key();
        let ueid = {
            let mut u = vec![0x01];
            u.extend_from_slice(&public.thumbprint()[..16]);
            u
        };
        SimDevice {
            signer: SoftwareSigner::new(private.clone()),
            private,
            ueid,
            installed: Vec::new(),
            requested: Vec::new(),
            unneeded: Vec::new(),
            digests: Default::default(),
            pending_install: Vec::new(),
            pending_remove: Vec::new(),
        }
    }

    /// Device number `i` of a load test: its key is derived from `i`, so the load generator
    /// and the database populator agree on it without storing a million keys.
    pub fn numbered(i: u64) -> SimDevice {
        let mut counter = 0u32;
        loop {
            let seed = teep_cose::sha256(format!("teep-bench-device-{i}-{counter}").as_bytes());
            let key = if i.is_multiple_of(2) {
                PrivateKey::from_p256_scalar(&seed)
            } else {
                PrivateKey::from_ed25519_seed(&seed)
            };
            if let Ok(k) = key {
                return SimDevice::from_key(k);
            }
            // A SHA-256 output outside the P-256 scalar range: astronomically rare, try the next.
            counter += 1;
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.signer.public_key()
    }

    pub fn kid(&self) -> Vec<u8> {
        self.signer.kid()
    }

    /// Reads a QueryRequest; with `tam_keys`, checks that one of them signed it.
    pub fn read_query_request(
        &self,
        bytes: &[u8],
        n: Numbering,
        tam_keys: &[PublicKey],
    ) -> Result<QueryRequestSeen, SimError> {
        let (opened, msg) =
            signed::open_message(bytes, n).map_err(|e| SimError::Message(e.to_string()))?;
        if !tam_keys.is_empty() {
            opened
                .verify_any(tam_keys)
                .map_err(|e| SimError::Message(format!("QueryRequest signature: {e}")))?;
        }
        let TeepMessage::QueryRequest(q) = msg else {
            return Err(SimError::Message(format!(
                "expected QueryRequest, got {}",
                msg.type_name()
            )));
        };
        Ok(QueryRequestSeen {
            token: q.token,
            challenge: q.challenge,
            multi_signed: opened.signatures.len() > 1,
        })
    }

    /// Evidence for `nonce`: an EAT signed by the device key, `cnf` = the device key.
    pub fn evidence(&self, nonce: &[u8]) -> Vec<u8> {
        let claims = EatClaims {
            cnf: Some(Confirmation::Key(self.public_key())),
            eat_nonce: Some(nonce.to_vec()),
            ueid: Some(self.ueid.clone()),
            oemid: Some(OemId::Bytes(vec![0x00, 0x1b, 0x63])),
            hwmodel: Some(b"sim-tee".to_vec()),
            hwversion: Some(HwVersion {
                version: VersionString::Text("1.0".into()),
                scheme: None,
            }),
            manifests: Some(vec![ManifestEntry {
                content_type: ciborium::Value::Text("application/suit-report+cose".into()),
                format: ciborium::Value::Bytes(vec![0xa0]),
            }]),
            ..Default::default()
        };
        claims.sign(&self.signer).unwrap_or_default()
    }

    pub fn query_response(
        &self,
        seen: &QueryRequestSeen,
        n: Numbering,
    ) -> Result<Vec<u8>, SimError> {
        let qr = QueryResponse {
            token: seen.token.clone(),
            attestation_payload: seen.challenge.as_deref().map(|c| self.evidence(c)),
            tc_list: self
                .installed
                .iter()
                .map(|c| {
                    // tc-list entries need at least one SUIT parameter: the image digest.
                    let digest = self
                        .digests
                        .get(c)
                        .cloned()
                        .unwrap_or_else(|| vec![0x82, 0x2f, 0x40]);
                    let mut parameters = std::collections::BTreeMap::new();
                    parameters.insert(3, teep_proto::Value::Bytes(digest));
                    SystemPropertyClaims {
                        component_id: c.clone(),
                        parameters,
                    }
                })
                .collect(),
            requested_tc_list: self
                .requested
                .iter()
                .map(|c| RequestedTcInfo {
                    component_id: c.clone(),
                    ..Default::default()
                })
                .collect(),
            unneeded_manifest_list: self.unneeded.clone(),
            ..Default::default()
        };
        signed::sign_message(&TeepMessage::QueryResponse(qr), n, &self.signer)
            .map_err(|e| SimError::Message(e.to_string()))
    }

    /// Reads an Update; returns its token, or the TAM's error if it carried one.
    pub fn read_update(&mut self, bytes: &[u8], n: Numbering) -> Result<Option<Vec<u8>>, SimError> {
        let (_, msg) =
            signed::open_message(bytes, n).map_err(|e| SimError::Message(e.to_string()))?;
        let TeepMessage::Update(u) = msg else {
            return Err(SimError::Message(format!(
                "expected Update, got {}",
                msg.type_name()
            )));
        };
        if let Some(code) = u.err_code {
            return Err(SimError::Message(format!(
                "TAM error {code}: {}",
                u.err_msg.unwrap_or_default()
            )));
        }
        self.pending_install = u
            .manifest_list
            .iter()
            .filter_map(|e| {
                crate::catalog::envelope_info(e)
                    .ok()
                    .map(|i| (i.component_id, i.image_digest))
            })
            .collect();
        self.pending_remove = u.unneeded_manifest_list.clone();
        Ok(u.token)
    }

    /// Answers Success without recording the installation, so the next session gets the
    /// same Update again (load generation).
    pub fn success_forgetful(
        &mut self,
        token: Option<Vec<u8>>,
        n: Numbering,
    ) -> Result<Vec<u8>, SimError> {
        self.pending_install.clear();
        self.pending_remove.clear();
        let s = Success {
            token,
            ..Default::default()
        };
        signed::sign_message(&TeepMessage::Success(s), n, &self.signer)
            .map_err(|e| SimError::Message(e.to_string()))
    }

    /// "Installs" what the last Update carried and answers Success.
    pub fn success(&mut self, token: Option<Vec<u8>>, n: Numbering) -> Result<Vec<u8>, SimError> {
        for (c, digest) in self.pending_install.drain(..) {
            if let Some(d) = digest {
                self.digests.insert(c.clone(), d);
            }
            if !self.installed.contains(&c) {
                self.installed.push(c.clone());
            }
            self.requested.retain(|r| r != &c);
        }
        for m in self.pending_remove.drain(..) {
            // Manifest id [..., 'suit'] names the TC [..., 'ta'].
            let mut base = m.clone();
            base.pop();
            self.installed.retain(|c| {
                let mut b = c.clone();
                b.pop();
                b != base
            });
            self.unneeded.retain(|u| u != &m);
        }
        let s = Success {
            token,
            ..Default::default()
        };
        signed::sign_message(&TeepMessage::Success(s), n, &self.signer)
            .map_err(|e| SimError::Message(e.to_string()))
    }
}

/// Keep-alive HTTP/1.1 client for the TEEP endpoint.
#[derive(Clone)]
pub struct TeepClient {
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    pub url: hyper::Uri,
}

/// A response: status and body.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl TeepClient {
    pub fn new(url: &str) -> Result<TeepClient, SimError> {
        let url: hyper::Uri = url
            .parse()
            .map_err(|e| SimError::Http(format!("URL {url:?}: {e}")))?;
        if url.scheme_str() != Some("http") {
            return Err(SimError::Http(
                "only http:// URLs are supported by the load generator".into(),
            ));
        }
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(TeepClient { client, url })
    }

    pub async fn post(&self, body: Vec<u8>) -> Result<Reply, SimError> {
        let mut req =
            hyper::Request::post(self.url.clone()).header("accept", crate::server::TEEP_MEDIA_TYPE);
        if !body.is_empty() {
            req = req.header("content-type", crate::server::TEEP_MEDIA_TYPE);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SimError::Http(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| SimError::Http(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| SimError::Http(e.to_string()))?
            .to_bytes()
            .to_vec();
        Ok(Reply { status, body })
    }

    async fn expect(&self, body: Vec<u8>, want: u16) -> Result<Vec<u8>, SimError> {
        let r = self.post(body).await?;
        if r.status != want {
            return Err(SimError::Status {
                status: r.status,
                body: String::from_utf8_lossy(&r.body).into_owned(),
            });
        }
        Ok(r.body)
    }
}

/// What one full exchange did.
#[derive(Debug, PartialEq, Eq)]
pub enum ExchangeResult {
    /// The TAM sent an Update and got our Success.
    Updated,
    /// Nothing to do: the QueryResponse got 204.
    UpToDate,
}

/// One complete session: empty POST → QueryRequest → QueryResponse → Update → Success → 204.
pub async fn exchange(
    client: &TeepClient,
    device: &mut SimDevice,
    n: Numbering,
    tam_keys: &[PublicKey],
) -> Result<ExchangeResult, SimError> {
    exchange_with(client, device, n, tam_keys, false).await
}

/// [`exchange`]; `forgetful` devices do not keep what they install (see
/// [`SimDevice::success_forgetful`]).
pub async fn exchange_with(
    client: &TeepClient,
    device: &mut SimDevice,
    n: Numbering,
    tam_keys: &[PublicKey],
    forgetful: bool,
) -> Result<ExchangeResult, SimError> {
    let qreq = client.expect(Vec::new(), 200).await?;
    let seen = device.read_query_request(&qreq, n, tam_keys)?;
    let qresp = device.query_response(&seen, n)?;
    let r = client.post(qresp).await?;
    match r.status {
        204 => return Ok(ExchangeResult::UpToDate),
        200 => {}
        s => {
            return Err(SimError::Status {
                status: s,
                body: String::from_utf8_lossy(&r.body).into_owned(),
            })
        }
    }
    let token = device.read_update(&r.body, n)?;
    let success = if forgetful {
        device.success_forgetful(token, n)?
    } else {
        device.success(token, n)?
    };
    client.expect(success, 204).await?;
    Ok(ExchangeResult::Updated)
}
