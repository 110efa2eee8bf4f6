//! The test-path device: numbered device keys, the evidence a device presents, [`SimDevice`]
//! (which keeps what it installs) and [`exchange`], one full session over [`TeepClient`].

use teep_cose::eat::{Confirmation, EatClaims, HwVersion, ManifestEntry, OemId, VersionString};
use teep_cose::{KeyType, PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::{
    ComponentId, Numbering, QueryResponse, RequestedTcInfo, SystemPropertyClaims, TeepMessage,
};

use super::{ExchangeResult, SimError, TeepClient};

/// A component id from an Update and the image digest its manifest names.
type PendingInstall = (ComponentId, Option<Vec<u8>>);

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
pub(super) fn ueid_from_thumbprint(thumbprint: &[u8; 32]) -> Vec<u8> {
    let mut u = vec![0x01];
    u.extend_from_slice(&thumbprint[..16]);
    u
}

/// The claims of a simulated device's evidence.
pub(super) fn device_claims(public: PublicKey, ueid: &[u8], nonce: &[u8]) -> EatClaims {
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
        // RFC 9711 §4.2.15: [content-format (60, application/cbor), bstr-wrapped body].
        manifests: Some(vec![ManifestEntry {
            content_type: ciborium::Value::Integer(60.into()),
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
    pub installed: Vec<ComponentId>,
    /// TCs to ask for in requested-tc-list.
    pub requested: Vec<ComponentId>,
    /// Manifest component ids to put in unneeded-manifest-list.
    pub unneeded: Vec<ComponentId>,
    /// Image digest (encoded SUIT_Digest) of each installed TC, reported in tc-list.
    pub digests: std::collections::HashMap<ComponentId, Vec<u8>>,
    /// Passport model: a Verifier that appraised this device. Its Attestation Result (the
    /// device's claims, nonce = the QueryRequest's token) replaces device-signed evidence.
    pub verifier: Option<SoftwareSigner>,
    /// An endorsed attestation key: Evidence is signed by it and carries its X.509 chain in
    /// `x5chain` (RFC 9360) instead of being signed by the TEEP key.
    pub endorsement: Option<SimEndorsement>,
    pending_install: Vec<PendingInstall>,
    pending_remove: Vec<ComponentId>,
}

/// A simulated device's attestation key and the chain endorsing it (leaf first).
pub struct SimEndorsement {
    pub signer: SoftwareSigner,
    pub x5chain: Vec<Vec<u8>>,
    /// What `cnf` names instead of the TEEP key (tests of a mismatch); `None`: the TEEP key.
    pub cnf: Option<PublicKey>,
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
        let ueid = ueid_from_thumbprint(&private.public_key().thumbprint());
        SimDevice {
            signer: SoftwareSigner::new(private.clone()),
            private,
            ueid,
            installed: Vec::new(),
            requested: Vec::new(),
            unneeded: Vec::new(),
            digests: Default::default(),
            verifier: None,
            endorsement: None,
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
        let (q, signatures) = super::open_query_request(bytes, n, tam_keys)?;
        Ok(QueryRequestSeen {
            token: q.token,
            challenge: q.challenge,
            multi_signed: signatures > 1,
        })
    }

    /// Evidence for `nonce`: an EAT signed by the device key, `cnf` = the device key. A nonce
    /// the EAT cannot carry (8..64 bytes) is an error.
    /// With an [`SimEndorsement`], the attestation key signs and the chain rides along.
    pub fn evidence(&self, nonce: &[u8]) -> Result<Vec<u8>, SimError> {
        match &self.endorsement {
            None => device_claims(self.public_key(), &self.ueid, nonce).sign(&self.signer),
            Some(e) => {
                let cnf = e.cnf.clone().unwrap_or_else(|| self.public_key());
                device_claims(cnf, &self.ueid, nonce).sign_with_x5chain(&e.signer, &e.x5chain)
            }
        }
        .map_err(|e| SimError::Message(format!("evidence: {e}")))
    }

    pub fn query_response(
        &self,
        seen: &QueryRequestSeen,
        n: Numbering,
    ) -> Result<Vec<u8>, SimError> {
        let qr = self.query_response_message(seen)?;
        super::sign(&TeepMessage::QueryResponse(qr), n, &self.signer)
    }

    /// The QueryResponse [`Self::query_response`] signs, for callers that alter it first
    /// (the conformance checker's malformed answers).
    pub fn query_response_message(
        &self,
        seen: &QueryRequestSeen,
    ) -> Result<QueryResponse, SimError> {
        // Evidence is labelled `application/eat+cwt` (RFC 9782); an Attestation Result goes
        // unlabelled, which -26 §4.3 reads as the TEEP EAT media type.
        let evidence = self.verifier.is_none() || seen.token.is_none();
        Ok(QueryResponse {
            token: seen.token.clone(),
            attestation_payload_format: (evidence && seen.challenge.is_some())
                .then(|| "application/eat+cwt".into()),
            attestation_payload: match (&self.verifier, &seen.token) {
                (Some(v), Some(token)) => Some(
                    device_claims(self.public_key(), &self.ueid, token)
                        .sign(v)
                        .map_err(|e| SimError::Message(format!("attestation result: {e}")))?,
                ),
                _ => seen
                    .challenge
                    .as_deref()
                    .map(|c| self.evidence(c))
                    .transpose()?,
            },
            // Present even when empty: the TAM asks for trusted-components (-26 §4.3).
            tc_list: Some(
                self.installed
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
            ),
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
        })
    }

    /// `msg` signed by the device key, COSE_Sign1 in its suite.
    pub fn sign(&self, msg: &TeepMessage, n: Numbering) -> Result<Vec<u8>, SimError> {
        super::sign(msg, n, &self.signer)
    }

    /// `msg` as COSE_Sign with this device's one signature (a suite no TAM is obliged to
    /// offer: for checking that a TAM refuses a suite it did not offer).
    pub fn sign_multi(&self, msg: &TeepMessage, n: Numbering) -> Result<Vec<u8>, SimError> {
        teep_proto::signed::sign_message_multi(msg, n, &[&self.signer]).map_err(SimError::message)
    }

    /// Reads an Update without checking who signed it (tests that look at the TAM's side);
    /// returns its token, or the TAM's error if it carried one.
    pub fn read_update(&mut self, bytes: &[u8], n: Numbering) -> Result<Option<Vec<u8>>, SimError> {
        self.read_update_from(bytes, n, &[])
    }

    /// [`Self::read_update`], and with `tam_keys`, one of them must have signed it.
    pub fn read_update_from(
        &mut self,
        bytes: &[u8],
        n: Numbering,
        tam_keys: &[PublicKey],
    ) -> Result<Option<Vec<u8>>, SimError> {
        let u = super::open_update(bytes, n, tam_keys)?;
        self.pending_install = u
            .manifest_list
            .iter()
            .filter_map(|e| installed_component(e))
            .collect();
        self.pending_remove = u.unneeded_manifest_list;
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
        super::sign_success(token, n, &self.signer)
    }

    /// Refuses the last Update: forgets what it carried and answers a signed Error.
    pub fn error(
        &mut self,
        token: Option<Vec<u8>>,
        code: teep_proto::ErrorCode,
        err_msg: &str,
        n: Numbering,
    ) -> Result<Vec<u8>, SimError> {
        self.pending_install.clear();
        self.pending_remove.clear();
        let mut e = teep_proto::ErrorMessage::new(code);
        e.token = token;
        e.err_msg = Some(err_msg.into());
        super::sign(&TeepMessage::Error(e), n, &self.signer)
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
            let base = &m[..m.len().saturating_sub(1)];
            self.installed
                .retain(|c| &c[..c.len().saturating_sub(1)] != base);
            self.unneeded.retain(|u| u != &m);
        }
        super::sign_success(token, n, &self.signer)
    }
}

/// One complete session: empty POST → QueryRequest → QueryResponse → Update → Success → 204
/// (with QueryRequest → QueryResponse again if the TAM asks a second time).
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
    let mut r = client.post(qresp).await?;
    let mut queries = 0;
    loop {
        if !super::update_follows(r.status, &r.body)? {
            return Ok(ExchangeResult::UpToDate);
        }
        // A further QueryRequest (a TAM asking for evidence in a second round trip): answered
        // with evidence over its challenge, as the first.
        if !super::is_query_request(&r.body, n) {
            break;
        }
        queries += 1;
        if queries > super::MAX_EXTRA_QUERIES {
            return Err(super::too_many_queries());
        }
        let seen = device.read_query_request(&r.body, n, tam_keys)?;
        r = client.post(device.query_response(&seen, n)?).await?;
    }
    let token = device.read_update_from(&r.body, n, tam_keys)?;
    let success = if forgetful {
        device.success_forgetful(token, n)?
    } else {
        device.success(token, n)?
    };
    client.expect(success, 204).await?;
    Ok(ExchangeResult::Updated)
}

/// A TC id and its encoded image digest (SUIT_Digest), if the manifest states one.
type InstalledComponent = (ComponentId, Option<Vec<u8>>);

/// The TC an envelope installs and its image digest (encoded SUIT_Digest), as a device would
/// record them: the first component that is not a dependency, and shared parameter 3. The
/// signature is not checked: the Update that carried it was.
fn installed_component(envelope: &[u8]) -> Option<InstalledComponent> {
    let env =
        teep_suit::decode_envelope_unverified(envelope.to_vec(), &teep_suit::Limits::default())
            .ok()?;
    let m = &env.manifest;
    let component_id = m
        .common
        .components
        .iter()
        .enumerate()
        .find(|(i, _)| !m.common.dependencies.iter().any(|d| d.index == *i as u64))
        .map(|(_, c)| c.clone())?;
    let image_digest = match m.shared_parameter(3) {
        Some(teep_suit::Parameter::ImageDigest(d)) => Some(teep_suit::codec::encode_digest(d)),
        _ => None,
    };
    Some((component_id, image_digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use teep_proto::signed;
    use teep_proto::ErrorCode;

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

    #[test]
    fn reads_query_requests_and_checks_the_tam_signature() {
        let n = Numbering::Draft26;
        let dev = SimDevice::numbered(3);
        let a = SoftwareSigner::new(numbered_key(10, DeviceAlg::P256));
        let b = SoftwareSigner::new(numbered_key(11, DeviceAlg::Ed25519));
        let q = teep_tam_core::wire::query_request(&[7; 8], Some(&[9; 16]), true);
        let both = signed::sign_message_multi(&q, n, &[&a, &b]).unwrap();
        let seen = dev.read_query_request(&both, n, &[b.public_key()]).unwrap();
        assert_eq!(seen.token.as_deref(), Some(&[7u8; 8][..]));
        assert_eq!(seen.challenge.as_deref(), Some(&[9u8; 16][..]));
        assert!(seen.multi_signed);
        let one = signed::sign_message(&q, n, &a).unwrap();
        assert!(!dev.read_query_request(&one, n, &[]).unwrap().multi_signed);
        fn rejected(dev: &SimDevice, bytes: &[u8], n: Numbering, keys: &[PublicKey]) -> SimError {
            match dev.read_query_request(bytes, n, keys) {
                Ok(_) => panic!("accepted"),
                Err(e) => e,
            }
        }
        let e = rejected(&dev, &one, n, &[b.public_key()]).to_string();
        assert!(e.contains("QueryRequest signature"), "{e}");
        let e = rejected(&dev, &one, Numbering::Legacy, &[]);
        assert!(matches!(e, SimError::Message(_)), "{e}");
    }

    #[test]
    fn success_removes_what_the_update_marks_unneeded() {
        let n = Numbering::Draft26;
        let tam = SoftwareSigner::new(numbered_key(10, DeviceAlg::P256));
        let ta = ComponentId::new(vec![b"app".to_vec(), b"ta".to_vec()]);
        let suit = ComponentId::new(vec![b"app".to_vec(), b"suit".to_vec()]);
        let other = ComponentId::new(vec![b"other".to_vec(), b"ta".to_vec()]);
        let from_tam = |msg: TeepMessage| signed::sign_message(&msg, n, &tam).unwrap();
        let unneeded = from_tam(teep_tam_core::wire::update(
            &[5; 8],
            Vec::new(),
            vec![suit.clone()],
        ));
        let mut dev = SimDevice::numbered(3);
        dev.installed = vec![ta.clone(), other.clone()];
        dev.unneeded = vec![suit.clone()];

        // Forgetful: the same Update would come again.
        let token = dev.read_update(&unneeded, n).unwrap();
        dev.success_forgetful(token, n).unwrap();
        assert_eq!(dev.installed.len(), 2);

        // Checked against the TAM's key, it is read; against another, refused unread.
        let other_key = numbered_key(12, DeviceAlg::P256).public_key();
        let e = dev
            .read_update_from(&unneeded, n, &[other_key])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("Update signature"), "{e}");
        let token = dev
            .read_update_from(&unneeded, n, &[tam.public_key()])
            .unwrap();
        assert_eq!(token, Some(vec![5; 8]));
        let s = dev.success(token, n).unwrap();
        let (opened, msg) = signed::open_message(&s, n).unwrap();
        opened.verify(&dev.public_key()).unwrap();
        assert!(matches!(msg, TeepMessage::Success(s) if s.token == Some(vec![5; 8])));
        assert_eq!(dev.installed, vec![other]);
        assert!(dev.unneeded.is_empty());

        let e = dev
            .read_update(
                &from_tam(teep_tam_core::wire::error_update(
                    &[5; 8],
                    ErrorCode::TemporaryError,
                    "full",
                )),
                n,
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("TAM message: TAM error") && e.ends_with(": full"),
            "{e}"
        );
        let q = from_tam(teep_tam_core::wire::query_request(&[7; 8], None, false));
        let e = dev.read_update(&q, n).unwrap_err().to_string();
        assert!(e.contains("expected Update, got QueryRequest"), "{e}");
    }
}
