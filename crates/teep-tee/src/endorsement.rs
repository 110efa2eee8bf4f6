//! Endorsements of device attestation keys: a device manufacturer's certificate authority
//! (a root, optionally intermediates) issues an X.509 certificate for each device's
//! attestation key; the Agent sends the chain in the EAT's `x5chain` header (RFC 9360) and a
//! TAM that trusts the root admits the device (docs/attestation/chain.md).
//!
//! Certificates are built by rcgen (the rustls project's generator) without its crypto
//! backends: rcgen lays out the TBSCertificate and this module signs it through teep-cose's
//! provider, like every other signature in the workspace. ECDSA signatures are converted from
//! COSE's raw `r || s` to X.509's DER `ECDSA-Sig-Value`.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey,
};
use teep_cose::{KeyType, PrivateKey, PublicKey};

/// Why a certificate could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum EndorsementError {
    #[error("certificate: {0}")]
    Build(String),
    #[error("{what}: {why}")]
    Input { what: String, why: String },
}

fn input(what: &str, why: impl ToString) -> EndorsementError {
    EndorsementError::Input {
        what: what.into(),
        why: why.to_string(),
    }
}

/// What a certificate says besides its subject key.
#[derive(Debug, Clone)]
pub struct CertOptions {
    /// Subject common name.
    pub name: String,
    /// Validity, seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// keyUsage: digitalSignature for a device key, keyCertSign (+ cRLSign) for a CA. Off,
    /// the certificate carries no keyUsage extension (tests use this for a wrong usage).
    pub key_usage: bool,
}

impl CertOptions {
    /// `name`, valid from an hour ago for `days` days (`now`: seconds since the Unix epoch).
    pub fn valid_for(name: &str, now: i64, days: i64) -> Self {
        CertOptions {
            name: name.into(),
            not_before: now - 3600,
            not_after: now + days * 86_400,
            key_usage: true,
        }
    }
}

/// A certificate authority: its key and its certificate chain up to, not including, the
/// root (a root's chain is its own self-signed certificate alone).
pub struct CertificateAuthority {
    key: PrivateKey,
    /// This CA's certificate first, then the intermediates above it; a root's holds its own
    /// certificate.
    chain: Vec<Vec<u8>>,
}

impl CertificateAuthority {
    /// A new root CA with a self-signed certificate.
    pub fn create_root(kt: KeyType, opts: &CertOptions) -> Result<Self, EndorsementError> {
        let key = PrivateKey::try_generate(kt).map_err(|e| input("CA key", e))?;
        let params = params(opts, true)?;
        let signer = RcgenKey::new(&key)?;
        let cert = params
            .self_signed(&signer)
            .map_err(|e| EndorsementError::Build(e.to_string()))?;
        Ok(CertificateAuthority {
            key,
            chain: vec![cert.der().to_vec()],
        })
    }

    /// A new intermediate CA issued by this one.
    pub fn create_intermediate(
        &self,
        kt: KeyType,
        opts: &CertOptions,
    ) -> Result<Self, EndorsementError> {
        let key = PrivateKey::try_generate(kt).map_err(|e| input("CA key", e))?;
        let der = self.issue(&key.public_key(), &params(opts, true)?)?;
        let mut chain = vec![der];
        if !self.is_root() {
            chain.extend(self.chain.iter().cloned());
        }
        Ok(CertificateAuthority { key, chain })
    }

    /// A CA from its key and its certificate chain (this CA's certificate first).
    pub fn from_parts(key: PrivateKey, chain: Vec<Vec<u8>>) -> Result<Self, EndorsementError> {
        let first = chain
            .first()
            .ok_or_else(|| input("CA certificate", "none given"))?;
        let cert_key = teep_cose::x509::certificate_public_key(first)
            .map_err(|e| input("CA certificate", e))?;
        if cert_key != key.public_key() {
            return Err(input(
                "CA key",
                "is not the key of the CA certificate (the first certificate of the file)",
            ));
        }
        Ok(CertificateAuthority { key, chain })
    }

    /// Reads a CA from its PEM files' contents: the key (PKCS#8) and its certificate chain.
    pub fn from_pem(key_pem: &str, certs_pem: &str) -> Result<Self, EndorsementError> {
        let key = PrivateKey::from_bytes_any(key_pem.as_bytes()).map_err(|e| input("CA key", e))?;
        Self::from_parts(key, certs_from_pem(certs_pem)?)
    }

    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// This CA's certificate (DER).
    pub fn cert_der(&self) -> &[u8] {
        &self.chain[0]
    }

    /// This CA's certificate and those above it short of the root, PEM.
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(|c| cert_to_pem(c)).collect()
    }

    /// Whether this CA is a root (its certificate is self-issued).
    pub fn is_root(&self) -> bool {
        teep_cose::x509::is_self_issued(self.cert_der())
    }

    /// Issues a device certificate for `device_key` and returns the chain a device sends
    /// in `x5chain`: the new certificate, then the intermediates (never the root).
    pub fn issue_device(
        &self,
        device_key: &PublicKey,
        opts: &CertOptions,
    ) -> Result<Vec<Vec<u8>>, EndorsementError> {
        let leaf = self.issue(device_key, &params(opts, false)?)?;
        let mut chain = vec![leaf];
        if !self.is_root() {
            chain.extend(self.chain.iter().cloned());
        }
        Ok(chain)
    }

    fn issue(
        &self,
        subject: &PublicKey,
        params: &CertificateParams,
    ) -> Result<Vec<u8>, EndorsementError> {
        let name = teep_cose::x509::subject_common_name(self.cert_der())
            .ok_or_else(|| input("CA certificate", "has no subject commonName"))?;
        let mut issuer_params = CertificateParams::default();
        issuer_params.distinguished_name = distinguished_name(&name);
        issuer_params.key_identifier_method = key_id(&self.key.public_key());
        issuer_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let issuer = Issuer::new(issuer_params, RcgenKey::new(&self.key)?);
        let cert = params
            .signed_by(&SubjectKey::new(subject)?, &issuer)
            .map_err(|e| EndorsementError::Build(e.to_string()))?;
        Ok(cert.der().to_vec())
    }
}

/// A device certificate `key` signs for itself: what a device without an endorsement might
/// send, which no TAM should take (tests, and `teep check`'s negative cases).
pub fn self_signed_device(
    key: &PrivateKey,
    opts: &CertOptions,
) -> Result<Vec<u8>, EndorsementError> {
    let cert = params(opts, false)?
        .self_signed(&RcgenKey::new(key)?)
        .map_err(|e| EndorsementError::Build(e.to_string()))?;
    Ok(cert.der().to_vec())
}

fn distinguished_name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// RFC 7093 method 1 (truncated SHA-256 of the key), computed through teep-cose.
fn key_id(key: &PublicKey) -> KeyIdMethod {
    KeyIdMethod::PreSpecified(teep_cose::sha256(key.raw())[..20].to_vec())
}

fn params(opts: &CertOptions, ca: bool) -> Result<CertificateParams, EndorsementError> {
    let time = |s: i64| {
        time::OffsetDateTime::from_unix_timestamp(s).map_err(|e| input("certificate validity", e))
    };
    let mut p = CertificateParams::default();
    p.distinguished_name = distinguished_name(&opts.name);
    p.not_before = time(opts.not_before)?;
    p.not_after = time(opts.not_after)?;
    let mut serial = [0u8; 16];
    teep_cose::default_provider()
        .fill_random(&mut serial)
        .map_err(|e| input("serial number", e))?;
    serial[0] &= 0x7f;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.use_authority_key_identifier_extension = true;
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        if opts.key_usage {
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        }
    } else {
        p.is_ca = IsCa::ExplicitNoCa;
        if opts.key_usage {
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        }
    }
    Ok(p)
}

fn algorithm(kt: KeyType) -> &'static SignatureAlgorithm {
    match kt {
        KeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyType::Ed25519 => &rcgen::PKCS_ED25519,
    }
}

/// A subject key as rcgen reads it.
struct SubjectKey {
    raw: Vec<u8>,
    alg: &'static SignatureAlgorithm,
}

impl SubjectKey {
    fn new(key: &PublicKey) -> Result<Self, EndorsementError> {
        Ok(SubjectKey {
            raw: key.raw().to_vec(),
            alg: algorithm(key.key_type()),
        })
    }
}

impl PublicKeyData for SubjectKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

/// A CA key that signs through teep-cose's provider.
struct RcgenKey<'a> {
    key: &'a PrivateKey,
    public: SubjectKey,
}

impl<'a> RcgenKey<'a> {
    fn new(key: &'a PrivateKey) -> Result<Self, EndorsementError> {
        Ok(RcgenKey {
            key,
            public: SubjectKey::new(&key.public_key())?,
        })
    }
}

impl PublicKeyData for RcgenKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public.raw
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.public.alg
    }
}

impl SigningKey for RcgenKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let alg = match self.key.key_type() {
            KeyType::P256 => teep_cose::Algorithm::Es256,
            KeyType::Ed25519 => teep_cose::Algorithm::Ed25519,
        };
        let sig = teep_cose::default_provider()
            .sign(self.key, alg, msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)?;
        match self.key.key_type() {
            KeyType::P256 => {
                teep_cose::x509::ecdsa_raw_to_der(&sig).ok_or(rcgen::Error::RemoteKeyError)
            }
            KeyType::Ed25519 => Ok(sig),
        }
    }
}

/// PEM `CERTIFICATE` blocks of DER certificates.
pub fn cert_to_pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The DER certificates of every `CERTIFICATE` block in `pem`, in order.
pub fn certs_from_pem(pem: &str) -> Result<Vec<Vec<u8>>, EndorsementError> {
    use base64::Engine as _;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        match (line, &mut body) {
            ("-----BEGIN CERTIFICATE-----", None) => body = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(b)) => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b.as_bytes())
                    .map_err(|e| input("PEM certificate", e))?;
                out.push(der);
                body = None;
            }
            (l, Some(b)) => b.push_str(l),
            _ => {}
        }
    }
    if body.is_some() {
        return Err(input("PEM certificate", "BEGIN without END"));
    }
    if out.is_empty() {
        return Err(input("PEM", "no CERTIFICATE block"));
    }
    Ok(out)
}
