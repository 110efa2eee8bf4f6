//! A simulated TEEP device (agent side, just enough of it) and a small HTTP client, for the
//! load generator (`teep bench tam`) and for end-to-end tests. It builds messages with
//! teep-proto and teep-cose directly: no SUIT processing, no TEE, no dependency on the real
//! agent, so a benchmark measures the TAM and not the device.
//!
//! Tests use [`SimDevice`], [`TeepClient`] and [`exchange`]. The load generator uses
//! [`LoadDevice`], [`TeepConnection`] and [`load_exchange`]: the same signed exchange, with
//! per-device work done once and the TAM's messages read in place, because on a shared
//! machine every microsecond the generator spends is taken from the TAM it measures.

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

/// Key algorithm of numbered load-test devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceAlg {
    /// Every device has a P-256 key (ESP256).
    P256,
    /// Every device has an Ed25519 key.
    Ed25519,
    /// Even device numbers P-256, odd ones Ed25519.
    #[default]
    Mixed,
}

impl DeviceAlg {
    /// The key type of device number `i`.
    pub fn key_type(self, i: u64) -> KeyType {
        match self {
            DeviceAlg::P256 => KeyType::P256,
            DeviceAlg::Ed25519 => KeyType::Ed25519,
            DeviceAlg::Mixed if i.is_multiple_of(2) => KeyType::P256,
            DeviceAlg::Mixed => KeyType::Ed25519,
        }
    }
}

/// The private key of device number `i`, derived from `i` alone: the same `i` and key type
/// give the same key under every [`DeviceAlg`], so `--alg mixed` and `--alg p256` agree on
/// the even devices.
pub fn numbered_key(i: u64, alg: DeviceAlg) -> PrivateKey {
    let kt = alg.key_type(i);
    let mut counter = 0u32;
    loop {
        let seed = teep_cose::sha256(format!("teep-bench-device-{i}-{counter}").as_bytes());
        let key = match kt {
            KeyType::P256 => PrivateKey::from_p256_scalar(&seed),
            KeyType::Ed25519 => PrivateKey::from_ed25519_seed(&seed),
        };
        if let Ok(k) = key {
            return k;
        }
        // A SHA-256 output outside the P-256 scalar range: astronomically rare, try the next.
        counter += 1;
    }
}

/// The UEID of a simulated device: type 0x01 (RAND) and 16 bytes of its key's thumbprint.
fn device_ueid(public: &PublicKey) -> Vec<u8> {
    ueid_from_thumbprint(&public.thumbprint())
}

fn ueid_from_thumbprint(thumbprint: &[u8; 32]) -> Vec<u8> {
    let mut u = vec![0x01];
    u.extend_from_slice(&thumbprint[..16]);
    u
}

/// The claims of a simulated device's evidence.
fn device_claims(public: PublicKey, ueid: &[u8], nonce: &[u8]) -> EatClaims {
    EatClaims {
        cnf: Some(Confirmation::Key(public)),
        eat_nonce: Some(nonce.to_vec()),
        ueid: Some(ueid.to_vec()),
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
    }
}

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
        let ueid = device_ueid(&public);
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

    /// Device number `i` of a load test with mixed algorithms (even numbers P-256, odd
    /// Ed25519): its key is derived from `i`, so the load generator and the database
    /// populator agree on it without storing a million keys.
    pub fn numbered(i: u64) -> SimDevice {
        Self::numbered_with(i, DeviceAlg::Mixed)
    }

    /// Device number `i` whose key algorithm `alg` picks (see [`numbered_key`]).
    pub fn numbered_with(i: u64, alg: DeviceAlg) -> SimDevice {
        SimDevice::from_key(numbered_key(i, alg))
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
        device_claims(self.public_key(), &self.ueid, nonce)
            .sign(&self.signer)
            .unwrap_or_default()
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

// ---------------------------------------------------------------------------------------
// Load generation: the same exchange as [`exchange_with`] for forgetful devices, with what
// does not depend on the session computed once per device, one HTTP/1.1 connection per
// worker and the TAM's messages read in place.

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
            .map_err(|e| SimError::Message(e.to_string()))?;
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

    /// Device number `i` (same key as [`SimDevice::numbered_with`]).
    pub fn numbered(i: u64, alg: DeviceAlg) -> Result<LoadDevice, SimError> {
        Self::from_key(numbered_key(i, alg))
    }

    pub fn public_key(&self) -> PublicKey {
        self.signer.public.clone()
    }

    pub fn kid(&self) -> &[u8] {
        &self.signer.kid
    }

    /// The EAT claims map for `nonce`, byte for byte what [`EatClaims::encode`] gives.
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
        signed::sign_message(&TeepMessage::QueryResponse(qr), n, &self.signer)
            .map_err(|e| SimError::Message(e.to_string()))
    }

    /// A signed Success echoing `token`.
    pub fn success(&self, token: Option<&[u8]>, n: Numbering) -> Result<Vec<u8>, SimError> {
        let s = Success {
            token: token.map(<[u8]>::to_vec),
            ..Default::default()
        };
        signed::sign_message(&TeepMessage::Success(s), n, &self.signer)
            .map_err(|e| SimError::Message(e.to_string()))
    }
}

/// Largest response body the load generator reads (an Update carries whole TAs).
pub const MAX_RESPONSE_BODY: usize = 64 << 20;

/// Largest response head (status line and headers) the load generator reads.
const MAX_RESPONSE_HEAD: usize = 16 << 10;

/// One dedicated keep-alive HTTP/1.1 connection to the TEEP endpoint; a load worker owns one,
/// so there is no pool and no lock between workers.
///
/// Hand-rolled rather than hyper's client: the generator sends one kind of request and
/// reads `Content-Length` responses from one server, and per request hyper's dispatcher
/// task, channels and header maps cost as much CPU as a TEEP message's parsing. The request
/// head is built once; each POST is one write, and a response usually one read.
pub struct TeepConnection {
    stream: tokio::net::TcpStream,
    addr: String,
    /// "POST path HTTP/1.1" and the fixed headers, up to "Content-Length: ".
    head: Vec<u8>,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    /// The server said `Connection: close`: the next POST fails.
    closed: bool,
}

impl TeepConnection {
    /// Connects to `url` (http:// only).
    pub async fn connect(url: &str) -> Result<TeepConnection, SimError> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| SimError::Http(format!("URL {url:?}: {e}")))?;
        if uri.scheme_str() != Some("http") {
            return Err(SimError::Http(
                "only http:// URLs are supported by the load generator".into(),
            ));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| SimError::Http(format!("URL {url:?}: no host")))?
            .clone();
        let addr = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: {t}\r\nContent-Type: {t}\r\nContent-Length: ",
            t = crate::server::TEEP_MEDIA_TYPE
        )
        .into_bytes();
        let stream = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| SimError::Http(format!("connect {addr}: {e}")))?;
        stream
            .set_nodelay(true)
            .map_err(|e| SimError::Http(format!("connect {addr}: {e}")))?;
        Ok(TeepConnection {
            stream,
            addr,
            head,
            buf: Vec::with_capacity(64 << 10),
            closed: false,
        })
    }

    /// POSTs `body` (empty: start a session); returns the status and the response body.
    pub async fn post(&mut self, body: Vec<u8>) -> Result<(u16, Bytes), SimError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        if self.closed {
            return Err(SimError::Http(format!(
                "{}: the server closed the connection",
                self.addr
            )));
        }
        let mut req = Vec::with_capacity(self.head.len() + 24 + body.len());
        req.extend_from_slice(&self.head);
        req.extend_from_slice(body.len().to_string().as_bytes());
        req.extend_from_slice(b"\r\n\r\n");
        req.extend_from_slice(&body);
        self.stream
            .write_all(&req)
            .await
            .map_err(|e| SimError::Http(format!("{}: write: {e}", self.addr)))?;
        loop {
            if let Some(r) = self.parse_response()? {
                return Ok(r);
            }
            if self.buf.capacity() == self.buf.len() {
                self.buf.reserve(64 << 10);
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| SimError::Http(format!("{}: read: {e}", self.addr)))?;
            if n == 0 {
                self.closed = true;
                return Err(SimError::Http(format!(
                    "{}: connection closed before a complete response",
                    self.addr
                )));
            }
        }
    }

    /// A complete response at the start of the buffer, removed from it; `None` if more bytes
    /// are needed.
    fn parse_response(&mut self) -> Result<Option<(u16, Bytes)>, SimError> {
        let parsed = parse_response_head(&self.buf)
            .map_err(|e| SimError::Http(format!("{}: malformed response: {e}", self.addr)))?;
        let Some(r) = parsed else {
            return Ok(None);
        };
        let end = r.body_start + r.body_len;
        if self.buf.len() < end {
            self.buf.reserve(end - self.buf.len());
            return Ok(None);
        }
        let body = Bytes::copy_from_slice(&self.buf[r.body_start..end]);
        self.buf.drain(..end);
        self.closed = r.close;
        Ok(Some((r.status, body)))
    }

    async fn expect(&mut self, body: Vec<u8>, want: u16) -> Result<Bytes, SimError> {
        let (status, body) = self.post(body).await?;
        if status != want {
            return Err(SimError::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Ok(body)
    }
}

/// What the head of an HTTP/1.1 response says about the response.
#[derive(Debug, PartialEq, Eq)]
struct ResponseHead {
    status: u16,
    /// Offset of the body in the buffer (just past the empty line).
    body_start: usize,
    body_len: usize,
    /// `Connection: close` or HTTP/1.0: no further request on this connection.
    close: bool,
}

/// Parses the response head at the start of `buf`; `None` until the empty line that ends it
/// has arrived. Only what [`TeepConnection`] needs: the status, `Content-Length` (required
/// unless the status has no body) and `Connection: close`; `Transfer-Encoding` is refused.
fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_RESPONSE_HEAD {
            return Err(format!("response head exceeds {MAX_RESPONSE_HEAD} bytes"));
        }
        return Ok(None);
    };
    if end > MAX_RESPONSE_HEAD {
        return Err(format!("response head exceeds {MAX_RESPONSE_HEAD} bytes"));
    }
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let (version, rest) = status_line
        .split_once(' ')
        .ok_or_else(|| format!("status line {status_line:?}"))?;
    let status = match version {
        "HTTP/1.1" | "HTTP/1.0" => rest
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(|| format!("status line {status_line:?}"))?,
        _ => return Err(format!("status line {status_line:?}")),
    };
    let mut length = None;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let l = value
                .parse::<usize>()
                .map_err(|_| format!("Content-Length {value:?}"))?;
            if length.is_some_and(|prev| prev != l) {
                return Err("conflicting Content-Length headers".into());
            }
            length = Some(l);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!(
                "Transfer-Encoding {value:?}: only Content-Length bodies are supported"
            ));
        } else if name.eq_ignore_ascii_case("connection") {
            close |= value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"));
        }
    }
    let body_len = match (status, length) {
        (100..=199 | 204 | 304, _) => 0,
        (_, Some(l)) => l,
        (_, None) => return Err("response without Content-Length".into()),
    };
    if body_len > MAX_RESPONSE_BODY {
        return Err(format!(
            "body of {body_len} bytes exceeds the limit of {MAX_RESPONSE_BODY}"
        ));
    }
    Ok(Some(ResponseHead {
        status,
        body_start: end + 4,
        body_len,
        close,
    }))
}

/// One complete session of a [`LoadDevice`] over `conn`: empty POST → QueryRequest →
/// QueryResponse with fresh evidence over the challenge → Update → Success → 204.
///
/// Without `tam_keys` the TAM's messages are read with [`peek_query_request`] and
/// [`peek_update`] (generator-only readers, no signature check); with keys they are fully
/// decoded and their signatures verified, as [`exchange`] does.
pub async fn load_exchange(
    conn: &mut TeepConnection,
    dev: &LoadDevice,
    n: Numbering,
    tam_keys: &[PublicKey],
) -> Result<ExchangeResult, SimError> {
    let qreq = conn.expect(Vec::new(), 200).await?;
    let qresp = if tam_keys.is_empty() {
        let q = peek_query_request(&qreq, n)?;
        dev.query_response(q.token, q.challenge, n)?
    } else {
        let (opened, msg) =
            signed::open_message(&qreq, n).map_err(|e| SimError::Message(e.to_string()))?;
        opened
            .verify_any(tam_keys)
            .map_err(|e| SimError::Message(format!("QueryRequest signature: {e}")))?;
        let TeepMessage::QueryRequest(q) = msg else {
            return Err(SimError::Message(format!(
                "expected QueryRequest, got {}",
                msg.type_name()
            )));
        };
        dev.query_response(q.token.as_deref(), q.challenge.as_deref(), n)?
    };
    drop(qreq);
    let (status, upd) = conn.post(qresp).await?;
    match status {
        204 => return Ok(ExchangeResult::UpToDate),
        200 => {}
        s => {
            return Err(SimError::Status {
                status: s,
                body: String::from_utf8_lossy(&upd).into_owned(),
            })
        }
    }
    let success = if tam_keys.is_empty() {
        let u = peek_update(&upd, n)?;
        if let Some(code) = u.err_code {
            return Err(SimError::Message(format!(
                "TAM error {code}: {}",
                u.err_msg.unwrap_or_default()
            )));
        }
        dev.success(u.token, n)?
    } else {
        let (opened, msg) =
            signed::open_message(&upd, n).map_err(|e| SimError::Message(e.to_string()))?;
        opened
            .verify_any(tam_keys)
            .map_err(|e| SimError::Message(format!("Update signature: {e}")))?;
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
        dev.success(u.token.as_deref(), n)?
    };
    drop(upd);
    conn.expect(success, 204).await?;
    Ok(ExchangeResult::Updated)
}

/// The fields of a TAM message that the load generator acts on, borrowed from the body.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PeekedMessage<'a> {
    pub token: Option<&'a [u8]>,
    pub challenge: Option<&'a [u8]>,
    pub err_code: Option<u64>,
    pub err_msg: Option<&'a str>,
    /// Entries of manifest-list.
    pub manifests: usize,
    /// Signatures of the COSE structure (2 for a COSE_Sign with ESP256 and Ed25519).
    pub signatures: usize,
}

/// Reads token and challenge from a signed QueryRequest without building the message.
///
/// Generator-only: it checks what it reads as the strict decoder does (COSE_Sign1 or
/// COSE_Sign, tagged 18/98 or not; definite-length well-formed CBOR nested at most
/// [`teep_proto::MAX_DEPTH`] deep; no trailing bytes; message type 1 with 5 elements; uint
/// option labels, each once; token a bstr of 8..64 bytes, challenge 8..512) but only skips,
/// without type checks, the options and lists it does not use. A message it accepts may still
/// be one that [`teep_proto::decode`] rejects; everything `decode` accepts, it accepts with
/// the same token and challenge. Signatures are not verified.
///
/// On error, if the full decoder rejects the message too, its error is returned: it names the
/// same path and adds hints (such as the other numbering). This costs nothing on success.
pub fn peek_query_request(bytes: &[u8], n: Numbering) -> Result<PeekedMessage<'_>, SimError> {
    peek_or_explain(bytes, n, teep_proto::MessageType::QueryRequest)
}

/// Reads token, err-code, err-msg and the number of manifests from a signed Update, with the
/// same checks and the same limits as [`peek_query_request`] (type 3, 2 elements;
/// manifest-list a non-empty array of bstr; err-code a uint; err-msg a tstr of 1..128 bytes).
pub fn peek_update(bytes: &[u8], n: Numbering) -> Result<PeekedMessage<'_>, SimError> {
    peek_or_explain(bytes, n, teep_proto::MessageType::Update)
}

fn peek_or_explain(
    bytes: &[u8],
    n: Numbering,
    t: teep_proto::MessageType,
) -> Result<PeekedMessage<'_>, SimError> {
    peek_message(bytes, n, t).map_err(|e| match signed::open_message(bytes, n) {
        Err(full) => SimError::Message(full.to_string()),
        Ok(_) => e,
    })
}

fn peek_message(
    bytes: &[u8],
    n: Numbering,
    t: teep_proto::MessageType,
) -> Result<PeekedMessage<'_>, SimError> {
    use teep_proto::Label;
    let mut c = CborCursor::new(bytes, "COSE");
    let mut kind = None;
    if c.peek_major()? == 6 {
        kind = Some(match c.head_arg(6, "tag")? {
            18 => 1,
            98 => 2,
            other => {
                return Err(c.err(format!(
                    "unexpected tag {other} (expected 18 COSE_Sign1 or 98 COSE_Sign)"
                )))
            }
        });
    }
    if c.head_arg(4, "COSE array")? != 4 {
        return Err(c.err("expected array of 4 elements"));
    }
    c.path = "COSE.protected";
    c.bytes()?;
    c.path = "COSE.unprotected";
    if c.peek_major()? != 5 {
        return Err(c.err("expected map"));
    }
    c.skip()?;
    c.path = "COSE.payload";
    if c.peek_simple() == Some(22) {
        return Err(c.err("detached (nil), but a TEEP message must be carried inside"));
    }
    let payload = c.bytes()?;
    // The fourth element tells Sign1 (signature bstr) from Sign (array of signatures).
    c.path = "COSE.signature";
    let signatures = match (kind, c.peek_major()?) {
        (None | Some(1), 2) => {
            c.bytes()?;
            1
        }
        (None | Some(2), 4) => {
            c.path = "COSE.signatures";
            let count = c.head_arg(4, "array of COSE_Signature")?;
            if count == 0 {
                return Err(c.err("at least one signature is required"));
            }
            for _ in 0..count {
                c.skip()?;
            }
            count as usize
        }
        _ => return Err(c.err("expected bstr (COSE_Sign1) or array (COSE_Sign)")),
    };
    c.finish()?;

    let mut m = PeekedMessage {
        signatures,
        ..Default::default()
    };
    let mut c = CborCursor::new(payload, t.name());
    let want = match t {
        teep_proto::MessageType::QueryRequest => 5,
        _ => 2,
    };
    let len = c.head_arg(4, "TEEP message array")?;
    c.path = match t {
        teep_proto::MessageType::QueryRequest => "QueryRequest.type",
        _ => "Update.type",
    };
    let tv = c.head_arg(0, "uint message type")?;
    if tv != t.value(n) {
        return Err(c.err(format!(
            "expected {} (type {}), got type {tv}",
            t.name(),
            t.value(n)
        )));
    }
    if len != want {
        return Err(c.err(format!("expected array of {want} elements, got {len}")));
    }
    let (token, challenge, manifests, err_code, err_msg) = (
        Label::Token.value(n),
        Label::Challenge.value(n),
        Label::ManifestList.value(n),
        Label::ErrCode.value(n),
        Label::ErrMsg.value(n),
    );
    let is_query = t == teep_proto::MessageType::QueryRequest;
    let (opt_path, lbl_path) = if is_query {
        ("QueryRequest.options", "QueryRequest.options.label")
    } else {
        ("Update.options", "Update.options.label")
    };
    c.path = opt_path;
    let entries = c.head_arg(5, "options map")?;
    // Labels seen so far: a map of a few entries, so a linear scan beats a set.
    let mut seen: Vec<u64> = Vec::with_capacity(entries.min(16) as usize);
    for _ in 0..entries {
        c.path = lbl_path;
        let key = c.head_arg(0, "uint label (teep-option = uint => any)")?;
        if seen.contains(&key) {
            c.path = opt_path;
            return Err(c.err(format!("duplicate label {key}")));
        }
        seen.push(key);
        if key == token {
            c.path = if is_query {
                "QueryRequest.options.token"
            } else {
                "Update.options.token"
            };
            m.token = Some(c.sized_bytes(8, 64)?);
        } else if is_query && key == challenge {
            c.path = "QueryRequest.options.challenge";
            m.challenge = Some(c.sized_bytes(8, 512)?);
        } else if !is_query && key == manifests {
            c.path = "Update.options.manifest-list";
            let count = c.head_arg(4, "array of bstr .cbor SUIT_Envelope")?;
            if count == 0 {
                return Err(c.err("expected a non-empty array"));
            }
            for _ in 0..count {
                c.bytes()?;
            }
            m.manifests = count as usize;
        } else if !is_query && key == err_code {
            c.path = "Update.options.err-code";
            m.err_code = Some(c.head_arg(0, "uint err-code")?);
        } else if !is_query && key == err_msg {
            c.path = "Update.options.err-msg";
            let s = c.sized_text(1, 128)?;
            m.err_msg = Some(s);
        } else {
            c.skip()?;
        }
    }
    if is_query {
        c.path = "QueryRequest.supported-teep-cipher-suites";
        c.skip()?;
        c.path = "QueryRequest.supported-suit-cose-profiles";
        c.skip()?;
        c.path = "QueryRequest.data-item-requested";
        c.head_arg(0, "uint .bits data-item-requested")?;
    }
    c.finish()?;
    Ok(m)
}

/// A minimal reader of well-formed, definite-length CBOR for [`peek_message`]. Hand-rolled
/// because the point is to touch only the few items the generator needs, borrowing them, with
/// no intermediate value tree; every length is checked against the bytes that remain.
struct CborCursor<'a> {
    b: &'a [u8],
    pos: usize,
    depth: usize,
    path: &'static str,
}

impl<'a> CborCursor<'a> {
    fn new(b: &'a [u8], path: &'static str) -> Self {
        CborCursor {
            b,
            pos: 0,
            depth: 0,
            path,
        }
    }

    fn err(&self, rule: impl std::fmt::Display) -> SimError {
        SimError::Message(format!("{}: {rule} (at byte {})", self.path, self.pos))
    }

    fn peek_major(&self) -> Result<u8, SimError> {
        self.b
            .get(self.pos)
            .map(|b| b >> 5)
            .ok_or_else(|| self.err("unexpected end of input"))
    }

    /// The simple value (major 7) at the cursor, if there is one there.
    fn peek_simple(&self) -> Option<u8> {
        self.b
            .get(self.pos)
            .filter(|b| *b >> 5 == 7)
            .map(|b| b & 0x1f)
    }

    /// Reads one head: (major type, argument). Indefinite lengths and reserved
    /// additional-information values are rejected.
    fn head(&mut self) -> Result<(u8, u64), SimError> {
        let ib = *self
            .b
            .get(self.pos)
            .ok_or_else(|| self.err("unexpected end of input"))?;
        let (major, ai) = (ib >> 5, ib & 0x1f);
        let extra = match ai {
            0..=23 => 0,
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => return Err(self.err("indefinite length (only definite lengths are allowed)")),
            _ => return Err(self.err(format!("reserved additional information {ai}"))),
        };
        let arg_bytes = self
            .b
            .get(self.pos + 1..self.pos + 1 + extra)
            .ok_or_else(|| self.err("unexpected end of input"))?;
        let arg = if extra == 0 {
            u64::from(ai)
        } else {
            arg_bytes
                .iter()
                .fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
        };
        self.pos += 1 + extra;
        Ok((major, arg))
    }

    /// A head of major type `major`; its argument.
    fn head_arg(&mut self, major: u8, expected: &str) -> Result<u64, SimError> {
        const NAMES: [&str; 8] = [
            "uint",
            "nint",
            "bstr",
            "tstr",
            "array",
            "map",
            "tag",
            "simple/float",
        ];
        let at = self.pos;
        let (m, arg) = self.head()?;
        if m != major {
            self.pos = at;
            return Err(self.err(format!("expected {expected}, got {}", NAMES[m as usize])));
        }
        Ok(arg)
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], SimError> {
        let remaining = (self.b.len() - self.pos) as u64;
        if len > remaining {
            return Err(self.err(format!(
                "length {len} exceeds the {remaining} bytes that remain"
            )));
        }
        let s = &self.b[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(s)
    }

    fn bytes(&mut self) -> Result<&'a [u8], SimError> {
        let len = self.head_arg(2, "bstr")?;
        self.take(len)
    }

    fn sized_bytes(&mut self, min: u64, max: u64) -> Result<&'a [u8], SimError> {
        let at = self.pos;
        let len = self.head_arg(2, &format!("bstr of {min}..{max} bytes"))?;
        if !(min..=max).contains(&len) {
            self.pos = at;
            return Err(self.err(format!("expected bstr of {min}..{max} bytes, got {len}")));
        }
        self.take(len)
    }

    fn sized_text(&mut self, min: u64, max: u64) -> Result<&'a str, SimError> {
        let at = self.pos;
        let len = self.head_arg(3, &format!("tstr of {min}..{max} bytes"))?;
        if !(min..=max).contains(&len) {
            self.pos = at;
            return Err(self.err(format!("expected tstr of {min}..{max} bytes, got {len}")));
        }
        let raw = self.take(len)?;
        std::str::from_utf8(raw).map_err(|_| self.err("tstr is not valid UTF-8"))
    }

    /// Skips one data item, checking that it is well formed.
    fn skip(&mut self) -> Result<(), SimError> {
        let at = self.pos;
        let (major, arg) = self.head()?;
        match major {
            0 | 1 => {}
            2 => {
                self.take(arg)?;
            }
            3 => {
                let raw = self.take(arg)?;
                if std::str::from_utf8(raw).is_err() {
                    return Err(self.err("tstr is not valid UTF-8"));
                }
            }
            4 | 5 => {
                let items = if major == 5 {
                    arg.saturating_mul(2)
                } else {
                    arg
                };
                // Each item takes at least one byte: a count beyond that is malformed, and
                // checking it first bounds the loop by the input size.
                if items > (self.b.len() - self.pos) as u64 {
                    return Err(self.err(format!(
                        "{items} items cannot fit in the {} bytes that remain",
                        self.b.len() - self.pos
                    )));
                }
                self.enter()?;
                for _ in 0..items {
                    self.skip()?;
                }
                self.depth -= 1;
            }
            6 => {
                self.enter()?;
                self.skip()?;
                self.depth -= 1;
            }
            _ => {
                // Simple values and floats: the head already holds them. A simple value
                // in one extra byte must be at least 32 (RFC 8949 §3.3).
                if self.b[at] == 0xf8 && arg < 32 {
                    return Err(self.err(format!("simple value {arg} in two bytes")));
                }
            }
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), SimError> {
        self.depth += 1;
        if self.depth > teep_proto::MAX_DEPTH {
            return Err(self.err(format!(
                "nesting deeper than {} levels",
                teep_proto::MAX_DEPTH
            )));
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), SimError> {
        if self.pos != self.b.len() {
            return Err(self.err(format!(
                "{} trailing bytes after the item",
                self.b.len() - self.pos
            )));
        }
        Ok(())
    }
}

/// Appends a CBOR head (RFC 8949 §3), shortest form.
fn write_cbor_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    match arg {
        0..=23 => out.push(m | arg as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, arg as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(arg as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teep_proto::{CipherSuite, DataItems, ErrorCode, SuitCoseProfile, Update};

    fn p256() -> PrivateKey {
        numbered_key(0, DeviceAlg::P256)
    }

    fn ed25519() -> PrivateKey {
        numbered_key(1, DeviceAlg::Ed25519)
    }

    fn query_request(token: Option<Vec<u8>>, challenge: Option<Vec<u8>>) -> TeepMessage {
        TeepMessage::QueryRequest(teep_proto::QueryRequest {
            token,
            challenge,
            supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256, CipherSuite::SIGN1_ED25519],
            supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
            data_item_requested: DataItems(DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS),
            ..Default::default()
        })
    }

    fn update(token: Option<Vec<u8>>, manifests: usize, err: Option<ErrorCode>) -> TeepMessage {
        TeepMessage::Update(Update {
            token,
            manifest_list: (0..manifests).map(|i| vec![0xa1, 0x01, i as u8]).collect(),
            err_code: err,
            err_msg: err.map(|_| "no room".to_string()),
            ..Default::default()
        })
    }

    /// Signed as the TAM does: QueryRequest with both algorithms, Update with one.
    fn signed_by_tam(msg: &TeepMessage, n: Numbering) -> Vec<u8> {
        let a = SoftwareSigner::new(p256());
        let b = SoftwareSigner::new(ed25519());
        match msg {
            TeepMessage::QueryRequest(_) => signed::sign_message_multi(msg, n, &[&a, &b]),
            _ => signed::sign_message(msg, n, &a),
        }
        .unwrap()
    }

    /// Token, challenge, err-code and number of manifests, owned.
    type Fields = (Option<Vec<u8>>, Option<Vec<u8>>, Option<u64>, usize);

    /// What the full decoder reads, in the shape of [`PeekedMessage`] (owned).
    fn full(bytes: &[u8], n: Numbering) -> Option<Fields> {
        let (_, msg) = signed::open_message(bytes, n).ok()?;
        Some(match msg {
            TeepMessage::QueryRequest(q) => (q.token, q.challenge, None, 0),
            TeepMessage::Update(u) => (
                u.token,
                None,
                u.err_code.map(|c| c.value(n)),
                u.manifest_list.len(),
            ),
            _ => return None,
        })
    }

    fn peeked(bytes: &[u8], n: Numbering, query: bool) -> Option<Fields> {
        let m = if query {
            peek_query_request(bytes, n)
        } else {
            peek_update(bytes, n)
        }
        .ok()?;
        Some((
            m.token.map(<[u8]>::to_vec),
            m.challenge.map(<[u8]>::to_vec),
            m.err_code,
            m.manifests,
        ))
    }

    #[test]
    fn evidence_template_matches_full_encoding() {
        for key in [p256(), ed25519()] {
            let dev = LoadDevice::from_key(key.clone()).unwrap();
            let public = key.public_key();
            let ueid = device_ueid(&public);
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
    fn numbered_keys_follow_the_algorithm_choice() {
        for i in 0..6u64 {
            let mixed = numbered_key(i, DeviceAlg::Mixed).public_key();
            let want = if i % 2 == 0 {
                KeyType::P256
            } else {
                KeyType::Ed25519
            };
            assert_eq!(mixed.key_type(), want);
            assert_eq!(SimDevice::numbered(i).public_key(), mixed);
            let p = numbered_key(i, DeviceAlg::P256).public_key();
            let e = numbered_key(i, DeviceAlg::Ed25519).public_key();
            assert_eq!(p.key_type(), KeyType::P256);
            assert_eq!(e.key_type(), KeyType::Ed25519);
            assert_eq!(if i % 2 == 0 { &p } else { &e }, &mixed);
            assert_eq!(SimDevice::numbered_with(i, DeviceAlg::P256).public_key(), p);
        }
        assert_ne!(
            numbered_key(0, DeviceAlg::P256).public_key(),
            numbered_key(2, DeviceAlg::P256).public_key()
        );
    }

    fn valid_messages() -> Vec<(Vec<u8>, Numbering, bool)> {
        let mut v = Vec::new();
        for n in [Numbering::Draft26, Numbering::Legacy] {
            for (t, c) in [
                (Some(vec![1u8; 8]), Some(vec![2u8; 512])),
                (None, Some(vec![3u8; 32])),
                (Some(vec![4u8; 64]), None),
                (None, None),
            ] {
                let q = query_request(t, c);
                v.push((signed_by_tam(&q, n), n, true));
                // A COSE_Sign1 QueryRequest, untagged too.
                let a = SoftwareSigner::new(ed25519());
                v.push((signed::sign_message(&q, n, &a).unwrap(), n, true));
                v.push((
                    teep_cose::sign1_untagged(&q.encode(n), &a).unwrap(),
                    n,
                    true,
                ));
            }
            v.push((
                signed_by_tam(&update(Some(vec![5u8; 20]), 1, None), n),
                n,
                false,
            ));
            v.push((
                signed_by_tam(&update(Some(vec![6u8; 8]), 3, None), n),
                n,
                false,
            ));
            v.push((
                signed_by_tam(
                    &update(None, 0, Some(ErrorCode::ManifestProcessingFailed)),
                    n,
                ),
                n,
                false,
            ));
            v.push((signed_by_tam(&update(None, 0, None), n), n, false));
        }
        v
    }

    #[test]
    fn peek_reads_what_the_full_decoder_reads() {
        for (bytes, n, query) in valid_messages() {
            let f = full(&bytes, n).expect("full decoder accepts the fixture");
            assert_eq!(peeked(&bytes, n, query), Some(f));
        }
        let q = signed_by_tam(
            &query_request(Some(vec![1; 8]), Some(vec![2; 8])),
            Numbering::Draft26,
        );
        assert_eq!(
            peek_query_request(&q, Numbering::Draft26)
                .unwrap()
                .signatures,
            2
        );
        let u = signed_by_tam(
            &update(None, 0, Some(ErrorCode::TemporaryError)),
            Numbering::Draft26,
        );
        let m = peek_update(&u, Numbering::Draft26).unwrap();
        assert_eq!((m.err_msg, m.signatures), (Some("no room"), 1));
    }

    #[test]
    fn peek_rejects_every_truncation_and_trailing_bytes() {
        for (bytes, n, query) in valid_messages() {
            for cut in 0..bytes.len() {
                assert_eq!(peeked(&bytes[..cut], n, query), None, "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0x00);
            assert_eq!(peeked(&longer, n, query), None);
        }
    }

    fn peek_message_q(b: &[u8], n: Numbering) -> Result<PeekedMessage<'_>, SimError> {
        peek_message(b, n, teep_proto::MessageType::QueryRequest)
    }

    fn peek_message_u(b: &[u8], n: Numbering) -> Result<PeekedMessage<'_>, SimError> {
        peek_message(b, n, teep_proto::MessageType::Update)
    }

    #[test]
    fn peek_errors_carry_the_full_decoders_hints() {
        // A draft -26 QueryRequest read as legacy: label 20 is the token in legacy numbering.
        let q = query_request(Some(vec![1; 8]), Some(vec![2; 8]));
        let q = TeepMessage::QueryRequest(match q {
            TeepMessage::QueryRequest(mut q) => {
                q.supported_freshness_mechanisms = vec![teep_proto::FreshnessMechanism::Nonce];
                q
            }
            _ => unreachable!(),
        });
        let bytes = signed_by_tam(&q, Numbering::Draft26);
        let own = peek_message_q(&bytes, Numbering::Legacy)
            .unwrap_err()
            .to_string();
        let full = signed::open_message(&bytes, Numbering::Legacy)
            .unwrap_err()
            .to_string();
        assert_eq!(
            peek_query_request(&bytes, Numbering::Legacy)
                .unwrap_err()
                .to_string(),
            format!("TAM message: {full}")
        );
        assert!(full.contains("looks like a draft-26-numbered"), "{full}");
        assert!(!own.contains("draft-26"), "{own}");
        // Accepted by the full decoder but not what was expected: our own error.
        let u = signed_by_tam(&update(Some(vec![5; 8]), 1, None), Numbering::Draft26);
        assert!(peek_query_request(&u, Numbering::Draft26)
            .unwrap_err()
            .to_string()
            .contains("expected QueryRequest"));
    }

    #[track_caller]
    fn err(r: Result<PeekedMessage<'_>, SimError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn peek_rejects_what_the_full_decoder_rejects() {
        let n = Numbering::Draft26;
        let a = SoftwareSigner::new(p256());
        let sign = |payload: &[u8]| teep_cose::sign1(payload, &a).unwrap();

        // Short token: the error names the path and the rule.
        let q = query_request(Some(vec![1; 8]), None).encode(n);
        let mut short = q.clone();
        let at = short
            .windows(9)
            .position(|w| w == [0x48, 1, 1, 1, 1, 1, 1, 1, 1])
            .unwrap();
        short.splice(at..at + 9, [0x44, 1, 1, 1, 1]);
        let e = err(peek_message_q(&sign(&short), n));
        assert!(
            e.contains("QueryRequest.options.token: expected bstr of 8..64 bytes, got 4"),
            "{e}"
        );
        assert!(signed::open_message(&sign(&short), n).is_err());

        // A message of another type, or in the other numbering.
        let u = signed_by_tam(&update(Some(vec![5; 8]), 1, None), n);
        assert!(err(peek_message_q(&u, n)).contains("expected QueryRequest"));
        let qs = signed_by_tam(&query_request(None, None), n);
        assert!(err(peek_message_u(&qs, n)).contains("expected Update"));
        let success = signed::sign_message(
            &TeepMessage::Success(Success::default()),
            Numbering::Legacy,
            &a,
        )
        .unwrap();
        assert!(peek_message_u(&success, n).is_err());

        // Hand-made payloads (all rejected by the full decoder as well).
        let bad: Vec<(&str, Vec<u8>)> = vec![
            (
                "duplicate label",
                vec![
                    0x82, 0x03, 0xa2, 0x13, 0x48, 1, 1, 1, 1, 1, 1, 1, 1, 0x13, 0x48, 1, 1, 1, 1,
                    1, 1, 1, 1,
                ],
            ),
            ("indefinite", vec![0x9f, 0x03, 0xa0, 0xff]),
            ("indefinite", vec![0x82, 0x03, 0xbf, 0xff]),
            ("non-empty array", vec![0x82, 0x03, 0xa1, 0x09, 0x80]),
            ("uint label", vec![0x82, 0x03, 0xa1, 0x20, 0x00]),
            ("expected array of 2 elements", vec![0x83, 0x03, 0xa0, 0x00]),
            ("uint err-code", vec![0x82, 0x03, 0xa1, 0x16, 0x20]),
            ("tstr of 1..128", vec![0x82, 0x03, 0xa1, 0x0b, 0x60]),
            ("UTF-8", vec![0x82, 0x03, 0xa1, 0x0b, 0x61, 0xff]),
            ("trailing", vec![0x82, 0x03, 0xa0, 0x00]),
            (
                "cannot fit",
                vec![
                    0x82, 0x03, 0xa1, 0x18, 0x63, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                    0xff,
                ],
            ),
            (
                "exceeds",
                vec![0x82, 0x03, 0xa1, 0x18, 0x63, 0x5a, 0xff, 0xff, 0xff, 0xff],
            ),
            ("reserved", vec![0x82, 0x03, 0xa1, 0x18, 0x63, 0x1c]),
            (
                "simple value",
                vec![0x82, 0x03, 0xa1, 0x18, 0x63, 0xf8, 0x01],
            ),
        ];
        for (want, payload) in bad {
            let bytes = sign(&payload);
            let e = match peek_message_u(&bytes, n) {
                Ok(m) => panic!("{want}: accepted as {m:?}"),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(want), "{want}: {e}");
            assert!(
                signed::open_message(&bytes, n).is_err(),
                "{want}: full decoder accepts"
            );
        }

        // Nesting beyond the limit inside an unknown option.
        let mut deep = vec![0x82, 0x03, 0xa1, 0x18, 0x63];
        deep.extend(std::iter::repeat_n(0x81, 40));
        deep.push(0x00);
        assert!(err(peek_message_u(&sign(&deep), n)).contains("nesting deeper"));
        assert!(signed::open_message(&sign(&deep), n).is_err());

        // COSE layer: detached payload, unknown tag, Sign1 tag around a COSE_Sign.
        let ok = update(Some(vec![5; 8]), 1, None).encode(n);
        let detached = teep_cose::sign1_detached(&ok, &a).unwrap();
        assert!(err(peek_message_u(&detached, n)).contains("detached"));
        let mut tag17 = sign(&ok);
        tag17[0] = 0xd1;
        assert!(err(peek_message_u(&tag17, n)).contains("unexpected tag 17"));
        let multi = teep_cose::sign(&ok, &[&a]).unwrap();
        assert!(peek_message_u(&multi, n).is_ok());
        assert_eq!(multi[..2], [0xd8, 0x62]);
        let mut as_sign1 = multi.clone();
        as_sign1.splice(0..2, [0xd2]);
        assert!(err(peek_message_u(&as_sign1, n)).contains("expected bstr (COSE_Sign1)"));
        assert!(signed::open_message(&as_sign1, n).is_err());
    }

    /// Random mutations of valid messages: the reader never panics, and whatever the full
    /// decoder accepts, it accepts with the same fields.
    #[test]
    fn peek_agrees_with_the_full_decoder_on_mutations() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut accepted, mut rejected) = (0, 0);
        for (bytes, n, query) in valid_messages() {
            for _ in 0..300 {
                let mut m = bytes.clone();
                for _ in 0..1 + rnd() % 3 {
                    let i = (rnd() % m.len() as u64) as usize;
                    match rnd() % 3 {
                        0 => m[i] = rnd() as u8,
                        1 => m[i] ^= 1 << (rnd() % 8),
                        _ => {
                            m.remove(i);
                        }
                    }
                    if m.is_empty() {
                        break;
                    }
                }
                let p = peeked(&m, n, query);
                match signed::open_message(&m, n) {
                    Ok((_, TeepMessage::QueryRequest(q))) if query => {
                        assert_eq!(
                            p,
                            Some((q.token, q.challenge, None, 0)),
                            "{}",
                            hex::encode(&m)
                        );
                        accepted += 1;
                    }
                    Ok((_, TeepMessage::Update(u))) if !query => {
                        let f = (
                            u.token,
                            None,
                            u.err_code.map(|c| c.value(n)),
                            u.manifest_list.len(),
                        );
                        assert_eq!(p, Some(f), "{}", hex::encode(&m));
                        accepted += 1;
                    }
                    Ok(_) => {}
                    Err(_) => rejected += 1,
                }
            }
        }
        // The mutations must reach both outcomes for the test to mean anything.
        assert!(
            accepted > 50 && rejected > 50,
            "{accepted} accepted, {rejected} rejected"
        );
    }

    #[test]
    fn response_heads() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/teep+cbor\r\ncontent-length: 3\r\n\r\nabcHTTP/1.1 204";
        assert_eq!(
            parse_response_head(ok),
            Ok(Some(ResponseHead {
                status: 200,
                body_start: ok.len() - 3 - 12,
                body_len: 3,
                close: false
            }))
        );
        // Incomplete head: wait for more bytes.
        assert_eq!(parse_response_head(&ok[..20]), Ok(None));
        let no_content = b"HTTP/1.1 204 No Content\r\nConnection: keep-alive, close\r\n\r\n";
        let h = parse_response_head(no_content).unwrap().unwrap();
        assert_eq!((h.status, h.body_len, h.close), (204, 0, true));
        let old = b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        assert!(parse_response_head(old).unwrap().unwrap().close);
        for (bad, want) in [
            (
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
                "Transfer-Encoding",
            ),
            (b"HTTP/1.1 200 OK\r\n\r\n", "without Content-Length"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "conflicting",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
                "exceeds",
            ),
            (b"HTTP/2 200\r\n\r\n", "status line"),
            (b"HTTP/1.1 2x0 OK\r\n\r\n", "status line"),
            (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "header line"),
            (b"HTTP/1.1 200 OK\r\nX: \xff\r\n\r\n", "UTF-8"),
        ] {
            let e = parse_response_head(bad).unwrap_err();
            assert!(e.contains(want), "{want}: {e}");
        }
        let endless = vec![b'a'; MAX_RESPONSE_HEAD + 1];
        assert!(parse_response_head(&endless)
            .unwrap_err()
            .contains("exceeds"));
    }

    #[tokio::test]
    async fn connection_reads_split_responses_and_honours_close() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut requests = Vec::new();
            for reply in [
                &[
                    &b"HTTP/1.1 200 OK\r\nContent-Le"[..],
                    b"ngth: 4\r\n\r\nab",
                    b"cd",
                ][..],
                &[b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"],
            ] {
                // Read one request: head, then as many body bytes as it announces.
                let mut req = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    let n = s.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "client closed mid-request");
                    req.extend_from_slice(&chunk[..n]);
                    let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&req[..end]).to_string();
                    let len: usize = head
                        .split("\r\n")
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .unwrap()
                        .parse()
                        .unwrap();
                    if req.len() >= end + 4 + len {
                        break;
                    }
                }
                requests.push(req);
                for part in reply {
                    s.write_all(part).await.unwrap();
                    s.flush().await.unwrap();
                }
            }
            requests
        });
        let mut c = TeepConnection::connect(&format!("http://{addr}/tam"))
            .await
            .unwrap();
        let (status, body) = c.post(vec![1, 2, 3]).await.unwrap();
        assert_eq!((status, &body[..]), (200, &b"abcd"[..]));
        assert_eq!(c.post(Vec::new()).await.unwrap().0, 204);
        let e = c.post(Vec::new()).await.unwrap_err().to_string();
        assert!(e.contains("closed the connection"), "{e}");
        let requests = server.await.unwrap();
        let first = String::from_utf8_lossy(&requests[0]);
        assert!(
            first.starts_with("POST /tam HTTP/1.1\r\nHost: 127.0.0.1:"),
            "{first}"
        );
        assert!(
            first.contains("Content-Type: application/teep+cbor\r\n"),
            "{first}"
        );
        assert!(requests[0].ends_with(b"Content-Length: 3\r\n\r\n\x01\x02\x03"));
        assert!(requests[1].ends_with(b"Content-Length: 0\r\n\r\n"));
    }

    #[tokio::test]
    async fn load_exchange_against_a_tam() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::Config {
            data: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            enroll: crate::Enroll::Open,
            ..Default::default()
        };
        let (addr, handle) = crate::server::spawn(cfg).await.unwrap();
        let st = &handle.state;
        let tc = crate::ops::add_ta(&st.store, &st.tc_signer, "hello", &[0x5a; 300], 0)
            .await
            .unwrap();
        st.store
            .assign(&tc.component_id, &crate::model::Target::All, 0)
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
