//! COSE_Sign1 and COSE_Sign (RFC 9052 section 4): signing, strict parsing and verification.
//!
//! Parsing uses coset's header model; encoding and the `Sig_structure` are written directly
//! so the payload is copied once (coset's builders clone it into a `Value` tree and again
//! into the to-be-signed bytes). Verification always uses the protected-header bytes exactly
//! as received.

use ciborium::value::Value;
use coset::{AsCborValue, CborSerializable, Header, RegisteredLabelWithPrivate};

use crate::cbor::{self, write_bstr, write_head, write_int, write_text};
use crate::provider::CryptoProvider;
use crate::{Algorithm, CoseError, PublicKey, Signer};

/// CBOR tag of COSE_Sign1.
pub const TAG_SIGN1: u64 = 18;
/// CBOR tag of COSE_Sign.
pub const TAG_SIGN: u64 = 98;

const HDR_ALG: i64 = 1;
const HDR_CRIT: i64 = 2;
const HDR_CONTENT_TYPE: i64 = 3;
const HDR_KID: i64 = 4;

/// Which COSE signature structure was parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoseKind {
    /// COSE_Sign1: one signature.
    Sign1,
    /// COSE_Sign: one signature per signer.
    Sign,
}

impl CoseKind {
    /// `COSE_Sign1` or `COSE_Sign`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sign1 => "COSE_Sign1",
            Self::Sign => "COSE_Sign",
        }
    }
}

/// Size limits applied by [`open_with_limits`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest accepted input in bytes.
    pub max_len: usize,
    /// Most signatures accepted in a COSE_Sign.
    pub max_signatures: usize,
}

impl Default for Limits {
    /// 16 MiB (an Update may carry Trusted Components) and 16 signatures.
    fn default() -> Self {
        Self {
            max_len: 16 * 1024 * 1024,
            max_signatures: 16,
        }
    }
}

/// Header information of one signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureInfo {
    /// Signature algorithm.
    pub alg: Algorithm,
    /// Key identifier, if any.
    pub kid: Option<Vec<u8>>,
    /// Whether the kid came from the protected header.
    pub kid_protected: bool,
}

#[derive(Clone, Debug)]
struct SigData {
    /// COSE_Signature protected bytes as received (COSE_Sign only).
    protected: Vec<u8>,
    signature: Vec<u8>,
}

/// A parsed, not yet verified COSE_Sign1 or COSE_Sign.
#[derive(Clone, Debug)]
pub struct Opened {
    /// Sign1 or Sign.
    pub kind: CoseKind,
    /// Whether the input carried the CBOR tag (18 or 98).
    pub tagged: bool,
    /// The payload, `None` when detached (nil).
    pub payload: Option<Vec<u8>>,
    /// One entry per signature, in order.
    pub signatures: Vec<SignatureInfo>,
    body_protected: Vec<u8>,
    protected: Header,
    unprotected: Header,
    sigs: Vec<SigData>,
}

// ---------------------------------------------------------------------------------------
// Encoding

/// Protected header {1: alg, 4: kid}, deterministic.
fn protected_header(alg: Algorithm, kid: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(8 + kid.len());
    write_head(&mut h, 5, if kid.is_empty() { 1 } else { 2 });
    write_int(&mut h, HDR_ALG as i128);
    write_int(&mut h, alg.to_cose() as i128);
    if !kid.is_empty() {
        write_int(&mut h, HDR_KID as i128);
        write_bstr(&mut h, kid);
    }
    h
}

/// The `Sig_structure` (RFC 9052 section 4.4), built in one allocation.
fn sig_structure(
    kind: CoseKind,
    body_protected: &[u8],
    sign_protected: Option<&[u8]>,
    external_aad: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut t = Vec::with_capacity(
        32 + body_protected.len()
            + sign_protected.map_or(0, |s| s.len())
            + external_aad.len()
            + payload.len(),
    );
    match kind {
        CoseKind::Sign1 => {
            write_head(&mut t, 4, 4);
            write_text(&mut t, "Signature1");
        }
        CoseKind::Sign => {
            write_head(&mut t, 4, 5);
            write_text(&mut t, "Signature");
        }
    }
    write_bstr(&mut t, body_protected);
    if let Some(s) = sign_protected {
        write_bstr(&mut t, s);
    }
    write_bstr(&mut t, external_aad);
    write_bstr(&mut t, payload);
    t
}

fn checked_sign(signer: &dyn Signer, tbs: &[u8]) -> Result<Vec<u8>, CoseError> {
    let alg = signer.algorithm();
    if alg.key_type().is_none() {
        return Err(CoseError::UnsupportedAlgorithm(alg.to_cose()));
    }
    let sig = signer.sign(tbs)?;
    if sig.len() != 64 {
        return Err(CoseError::Crypto(format!(
            "signer returned {} bytes for {}, expected 64",
            sig.len(),
            alg.name()
        )));
    }
    Ok(sig)
}

fn encode_sign1(
    payload: &[u8],
    detached: bool,
    tagged: bool,
    signer: &dyn Signer,
) -> Result<Vec<u8>, CoseError> {
    let prot = protected_header(signer.algorithm(), &signer.kid());
    let tbs = sig_structure(CoseKind::Sign1, &prot, None, &[], payload);
    let sig = checked_sign(signer, &tbs)?;
    drop(tbs);
    let mut out =
        Vec::with_capacity(16 + prot.len() + sig.len() + if detached { 0 } else { payload.len() });
    if tagged {
        write_head(&mut out, 6, TAG_SIGN1);
    }
    write_head(&mut out, 4, 4);
    write_bstr(&mut out, &prot);
    out.push(0xa0); // empty unprotected map
    if detached {
        out.push(0xf6);
    } else {
        write_bstr(&mut out, payload);
    }
    write_bstr(&mut out, &sig);
    Ok(out)
}

/// COSE_Sign1_Tagged (tag 18) over `payload`; alg and kid in the protected header.
pub fn sign1(payload: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
    encode_sign1(payload, false, true, signer)
}

/// Untagged COSE_Sign1.
pub fn sign1_untagged(payload: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
    encode_sign1(payload, false, false, signer)
}

/// COSE_Sign1_Tagged with a detached (nil) payload, as SUIT signs its digest.
pub fn sign1_detached(payload: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
    encode_sign1(payload, true, true, signer)
}

fn encode_sign(
    payload: &[u8],
    signers: &[&dyn Signer],
    tagged: bool,
) -> Result<Vec<u8>, CoseError> {
    if signers.is_empty() {
        return Err(CoseError::malformed(
            "COSE_Sign.signatures",
            "at least one signer is required",
        ));
    }
    // Empty body protected header: alg and kid are per signer.
    let body_prot: &[u8] = &[];
    let mut parts = Vec::with_capacity(signers.len());
    for s in signers {
        let prot = protected_header(s.algorithm(), &s.kid());
        let tbs = sig_structure(CoseKind::Sign, body_prot, Some(&prot), &[], payload);
        let sig = checked_sign(*s, &tbs)?;
        parts.push((prot, sig));
    }
    let mut out = Vec::with_capacity(32 + payload.len() + parts.len() * 120);
    if tagged {
        write_head(&mut out, 6, TAG_SIGN);
    }
    write_head(&mut out, 4, 4);
    write_bstr(&mut out, body_prot);
    out.push(0xa0);
    write_bstr(&mut out, payload);
    write_head(&mut out, 4, parts.len() as u64);
    for (prot, sig) in &parts {
        write_head(&mut out, 4, 3);
        write_bstr(&mut out, prot);
        out.push(0xa0);
        write_bstr(&mut out, sig);
    }
    Ok(out)
}

/// COSE_Sign_Tagged (tag 98): one signature per signer, e.g. ESP256 and Ed25519 in the
/// TAM's first QueryRequest.
pub fn sign(payload: &[u8], signers: &[&dyn Signer]) -> Result<Vec<u8>, CoseError> {
    encode_sign(payload, signers, true)
}

/// Untagged COSE_Sign.
pub fn sign_untagged(payload: &[u8], signers: &[&dyn Signer]) -> Result<Vec<u8>, CoseError> {
    encode_sign(payload, signers, false)
}

// ---------------------------------------------------------------------------------------
// Parsing

/// Parses a COSE_Sign1 or COSE_Sign, tagged or not, with default [`Limits`]. No signature
/// is checked.
pub fn open(bytes: &[u8]) -> Result<Opened, CoseError> {
    open_with_limits(bytes, &Limits::default())
}

fn read_tag(bytes: &[u8]) -> Option<(u64, usize)> {
    let ib = *bytes.first()?;
    let ai = ib & 0x1f;
    match ai {
        0..=23 => Some((ai as u64, 1)),
        24..=27 => {
            let n = 1usize << (ai - 24);
            let mut v = 0u64;
            for b in bytes.get(1..1 + n)? {
                v = (v << 8) | *b as u64;
            }
            Some((v, 1 + n))
        }
        _ => None,
    }
}

/// [`open`] with explicit limits.
pub fn open_with_limits(bytes: &[u8], limits: &Limits) -> Result<Opened, CoseError> {
    if bytes.len() > limits.max_len {
        return Err(CoseError::TooLarge {
            len: bytes.len(),
            max: limits.max_len,
        });
    }
    cbor::check_single(bytes).map_err(|e| CoseError::malformed("COSE", e))?;
    let (tagged, kind, inner) = if cbor::major(bytes, 0) == Some(6) {
        let (tag, off) =
            read_tag(bytes).ok_or_else(|| CoseError::malformed("COSE", "invalid tag"))?;
        let kind = match tag {
            TAG_SIGN1 => CoseKind::Sign1,
            TAG_SIGN => CoseKind::Sign,
            t => {
                return Err(CoseError::malformed(
                    "COSE",
                    format!("unexpected tag {t} (expected 18 COSE_Sign1 or 98 COSE_Sign)"),
                ))
            }
        };
        (true, kind, &bytes[off..])
    } else {
        (false, detect_untagged(bytes)?, bytes)
    };
    let path = kind.name();
    let value: Value = ciborium::from_reader(inner)
        .map_err(|e| CoseError::malformed(path, format!("invalid CBOR: {e}")))?;
    let Value::Array(mut a) = value else {
        return Err(CoseError::malformed(
            path,
            format!("expected array of 4, got {}", cbor::type_name(&value)),
        ));
    };
    if a.len() != 4 {
        return Err(CoseError::malformed(
            path,
            format!("expected array of 4, got {} elements", a.len()),
        ));
    }
    let last = a.pop().unwrap_or(Value::Null);
    let payload_v = a.pop().unwrap_or(Value::Null);
    let unprot_v = a.pop().unwrap_or(Value::Null);
    let prot_v = a.pop().unwrap_or(Value::Null);

    // Static paths: an open on the hot path allocates no error text it does not need.
    let (protected_path, unprotected_path) = match kind {
        CoseKind::Sign1 => ("COSE_Sign1.protected", "COSE_Sign1.unprotected"),
        CoseKind::Sign => ("COSE_Sign.protected", "COSE_Sign.unprotected"),
    };
    let (body_protected, protected) = parse_protected(protected_path, prot_v)?;
    let unprotected = parse_unprotected(unprotected_path, unprot_v)?;
    let payload = match payload_v {
        Value::Bytes(b) => Some(b),
        Value::Null => None,
        v => {
            return Err(CoseError::malformed(
                format!("{path}.payload"),
                format!("expected bstr or nil, got {}", cbor::type_name(&v)),
            ))
        }
    };

    let mut signatures = Vec::new();
    let mut sigs = Vec::new();
    match kind {
        CoseKind::Sign1 => {
            let Value::Bytes(signature) = last else {
                return Err(CoseError::malformed(
                    "COSE_Sign1.signature",
                    format!("expected bstr, got {}", cbor::type_name(&last)),
                ));
            };
            signatures.push(signature_info(path, &protected, &unprotected)?);
            sigs.push(SigData {
                protected: Vec::new(),
                signature,
            });
        }
        CoseKind::Sign => {
            check_no_alg_conflict(path, &protected, &unprotected)?;
            let Value::Array(list) = last else {
                return Err(CoseError::malformed(
                    "COSE_Sign.signatures",
                    format!("expected array, got {}", cbor::type_name(&last)),
                ));
            };
            if list.is_empty() {
                return Err(CoseError::malformed(
                    "COSE_Sign.signatures",
                    "must hold at least one COSE_Signature",
                ));
            }
            if list.len() > limits.max_signatures {
                return Err(CoseError::malformed(
                    "COSE_Sign.signatures",
                    format!(
                        "{} signatures exceed the limit of {}",
                        list.len(),
                        limits.max_signatures
                    ),
                ));
            }
            for (i, s) in list.into_iter().enumerate() {
                let p = format!("COSE_Sign.signatures[{i}]");
                let Value::Array(mut sa) = s else {
                    return Err(CoseError::malformed(
                        p,
                        format!("expected COSE_Signature array, got {}", cbor::type_name(&s)),
                    ));
                };
                if sa.len() != 3 {
                    return Err(CoseError::malformed(
                        p,
                        format!("expected array of 3, got {} elements", sa.len()),
                    ));
                }
                let sig_v = sa.pop().unwrap_or(Value::Null);
                let su = sa.pop().unwrap_or(Value::Null);
                let sp = sa.pop().unwrap_or(Value::Null);
                let (sp_bytes, sp_hdr) = parse_protected(&format!("{p}.protected"), sp)?;
                let su_hdr = parse_unprotected(&format!("{p}.unprotected"), su)?;
                let Value::Bytes(signature) = sig_v else {
                    return Err(CoseError::malformed(
                        format!("{p}.signature"),
                        format!("expected bstr, got {}", cbor::type_name(&sig_v)),
                    ));
                };
                signatures.push(signature_info(&p, &sp_hdr, &su_hdr)?);
                sigs.push(SigData {
                    protected: sp_bytes,
                    signature,
                });
            }
        }
    }
    Ok(Opened {
        kind,
        tagged,
        payload,
        signatures,
        body_protected,
        protected,
        unprotected,
        sigs,
    })
}

/// Untagged input: COSE_Sign1 has a bstr as 4th element, COSE_Sign an array.
fn detect_untagged(bytes: &[u8]) -> Result<CoseKind, CoseError> {
    let err = |r: String| CoseError::malformed("COSE", r);
    if bytes.first() != Some(&0x84) {
        return Err(err(format!(
            "expected a COSE_Sign1 or COSE_Sign array of 4 (0x84) or tag 18/98, got initial byte 0x{:02x}",
            bytes.first().copied().unwrap_or(0)
        )));
    }
    let mut p = 1;
    for _ in 0..3 {
        p = cbor::skip(bytes, p, 1).map_err(err)?;
    }
    match cbor::major(bytes, p) {
        Some(2) => Ok(CoseKind::Sign1),
        Some(4) => Ok(CoseKind::Sign),
        _ => Err(err(
            "4th element is neither a signature (bstr) nor a signature array".into(),
        )),
    }
}

fn parse_protected(path: &str, v: Value) -> Result<(Vec<u8>, Header), CoseError> {
    let Value::Bytes(data) = v else {
        return Err(CoseError::malformed(
            path,
            format!(
                "expected bstr-wrapped header map, got {}",
                cbor::type_name(&v)
            ),
        ));
    };
    if data.is_empty() {
        return Ok((data, Header::default()));
    }
    cbor::check_single(&data).map_err(|e| CoseError::malformed(path, e))?;
    if cbor::major(&data, 0) != Some(5) {
        return Err(CoseError::malformed(path, "expected a header map"));
    }
    let h = Header::from_slice(&data).map_err(|e| CoseError::malformed(path, e.to_string()))?;
    check_crit(path, &h)?;
    Ok((data, h))
}

fn parse_unprotected(path: &str, v: Value) -> Result<Header, CoseError> {
    if !matches!(v, Value::Map(_)) {
        return Err(CoseError::malformed(
            path,
            format!("expected header map, got {}", cbor::type_name(&v)),
        ));
    }
    let h = Header::from_cbor_value(v).map_err(|e| CoseError::malformed(path, e.to_string()))?;
    if !h.crit.is_empty() {
        return Err(CoseError::malformed(
            path,
            "crit (2) must be in the protected header",
        ));
    }
    Ok(h)
}

/// Every label listed as critical must be one we process (RFC 9052 section 3.1).
fn check_crit(path: &str, h: &Header) -> Result<(), CoseError> {
    for c in &h.crit {
        let ok = match c {
            RegisteredLabelWithPrivate::Assigned(p) => {
                let n = *p as i64;
                n == HDR_ALG || n == HDR_CONTENT_TYPE || n == HDR_KID || n == HDR_CRIT
            }
            _ => false,
        };
        if !ok {
            return Err(CoseError::malformed(
                format!("{path}.crit"),
                format!("critical header {c:?} is not understood"),
            ));
        }
    }
    Ok(())
}

fn alg_of(path: &str, h: &Header) -> Result<Option<Algorithm>, CoseError> {
    match &h.alg {
        None => Ok(None),
        Some(RegisteredLabelWithPrivate::Assigned(a)) => Ok(Some(Algorithm::from_cose(*a as i64))),
        Some(RegisteredLabelWithPrivate::PrivateUse(n)) => Ok(Some(Algorithm::Unknown(*n))),
        Some(RegisteredLabelWithPrivate::Text(t)) => Err(CoseError::malformed(
            format!("{path}.alg"),
            format!("text algorithm `{t}` is not supported"),
        )),
    }
}

fn check_no_alg_conflict(path: &str, p: &Header, u: &Header) -> Result<(), CoseError> {
    if p.alg.is_some() && u.alg.is_some() {
        return Err(CoseError::malformed(
            path,
            "alg (1) appears in both protected and unprotected headers",
        ));
    }
    if !p.key_id.is_empty() && !u.key_id.is_empty() {
        return Err(CoseError::malformed(
            path,
            "kid (4) appears in both protected and unprotected headers",
        ));
    }
    Ok(())
}

fn signature_info(path: &str, p: &Header, u: &Header) -> Result<SignatureInfo, CoseError> {
    check_no_alg_conflict(path, p, u)?;
    let alg = match alg_of(&format!("{path}.protected"), p)? {
        Some(a) => a,
        None => alg_of(&format!("{path}.unprotected"), u)?
            .ok_or_else(|| CoseError::malformed(path, "no alg (1) header parameter"))?,
    };
    let (kid, kid_protected) = if !p.key_id.is_empty() {
        (Some(p.key_id.clone()), true)
    } else if !u.key_id.is_empty() {
        (Some(u.key_id.clone()), false)
    } else {
        (None, false)
    };
    Ok(SignatureInfo {
        alg,
        kid,
        kid_protected,
    })
}

// ---------------------------------------------------------------------------------------
// Verification

impl Opened {
    /// Body protected header as parsed.
    pub fn protected_header(&self) -> &Header {
        &self.protected
    }

    /// Body unprotected header as parsed.
    pub fn unprotected_header(&self) -> &Header {
        &self.unprotected
    }

    /// Body protected header bytes exactly as received.
    pub fn protected_bytes(&self) -> &[u8] {
        &self.body_protected
    }

    /// Raw signature bytes of signature `i`.
    pub fn signature_bytes(&self, i: usize) -> Option<&[u8]> {
        self.sigs.get(i).map(|s| s.signature.as_slice())
    }

    /// The to-be-signed bytes of signature `i` over `payload`.
    pub fn tbs(&self, i: usize, payload: &[u8]) -> Option<Vec<u8>> {
        let s = self.sigs.get(i)?;
        Some(match self.kind {
            CoseKind::Sign1 => sig_structure(self.kind, &self.body_protected, None, &[], payload),
            CoseKind::Sign => sig_structure(
                self.kind,
                &self.body_protected,
                Some(&s.protected),
                &[],
                payload,
            ),
        })
    }

    /// Verifies with `key` through the default provider; returns the signature that verified.
    /// When a signature's kid equals the key's thumbprint only that one is tried, otherwise
    /// every signature whose algorithm fits the key.
    pub fn verify(&self, key: &PublicKey) -> Result<&SignatureInfo, CoseError> {
        self.verify_with(key, crate::default_provider())
    }

    /// [`Opened::verify`] with an explicit provider.
    pub fn verify_with(
        &self,
        key: &PublicKey,
        provider: &dyn CryptoProvider,
    ) -> Result<&SignatureInfo, CoseError> {
        let payload = self.payload.as_deref().ok_or(CoseError::Payload(
            "payload is detached (nil); use verify_detached",
        ))?;
        self.verify_payload(payload, key, provider)
    }

    /// Verifies a detached payload (SUIT: the bstr-wrapped digest).
    pub fn verify_detached(
        &self,
        payload: &[u8],
        key: &PublicKey,
    ) -> Result<&SignatureInfo, CoseError> {
        self.verify_detached_with(payload, key, crate::default_provider())
    }

    /// [`Opened::verify_detached`] with an explicit provider.
    pub fn verify_detached_with(
        &self,
        payload: &[u8],
        key: &PublicKey,
        provider: &dyn CryptoProvider,
    ) -> Result<&SignatureInfo, CoseError> {
        if self.payload.is_some() {
            return Err(CoseError::Payload(
                "payload is attached; use verify, not verify_detached",
            ));
        }
        self.verify_payload(payload, key, provider)
    }

    /// Tries each key (those whose thumbprint matches a kid first); returns the key and the
    /// signature that verified.
    pub fn verify_any<'k>(
        &self,
        keys: &'k [PublicKey],
    ) -> Result<(&'k PublicKey, &SignatureInfo), CoseError> {
        let payload = self.payload.as_deref().ok_or(CoseError::Payload(
            "payload is detached (nil); use verify_detached",
        ))?;
        let provider = crate::default_provider();
        let kid_match = |k: &PublicKey| {
            let t = k.thumbprint();
            self.signatures
                .iter()
                .any(|s| s.kid.as_deref() == Some(&t[..]))
        };
        let ordered = keys
            .iter()
            .filter(|k| kid_match(k))
            .chain(keys.iter().filter(|k| !kid_match(k)));
        let mut last = None;
        for k in ordered {
            match self.verify_payload(payload, k, provider) {
                Ok(s) => return Ok((k, s)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| CoseError::NoMatchingSignature("no keys given".into())))
    }

    fn verify_payload(
        &self,
        payload: &[u8],
        key: &PublicKey,
        provider: &dyn CryptoProvider,
    ) -> Result<&SignatureInfo, CoseError> {
        let kt = key.key_type();
        let thumb = key.thumbprint();
        let compatible: Vec<usize> = (0..self.signatures.len())
            .filter(|&i| self.signatures[i].alg.key_type() == Some(kt))
            .collect();
        if compatible.is_empty() {
            let algs: Vec<String> = self.signatures.iter().map(|s| s.alg.to_string()).collect();
            return Err(CoseError::NoMatchingSignature(format!(
                "no signature usable with a {kt} key (signatures: {})",
                algs.join(", ")
            )));
        }
        let by_kid: Vec<usize> = compatible
            .iter()
            .copied()
            .filter(|&i| self.signatures[i].kid.as_deref() == Some(&thumb[..]))
            .collect();
        let candidates = if by_kid.is_empty() {
            compatible
        } else {
            by_kid
        };
        let mut last = CoseError::BadSignature("no candidate");
        for i in candidates {
            let s = &self.sigs[i];
            let sign_prot = match self.kind {
                CoseKind::Sign1 => None,
                CoseKind::Sign => Some(s.protected.as_slice()),
            };
            let tbs = sig_structure(self.kind, &self.body_protected, sign_prot, &[], payload);
            match provider.verify(key, self.signatures[i].alg, &tbs, &s.signature) {
                Ok(()) => return Ok(&self.signatures[i]),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}
