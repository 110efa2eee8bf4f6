//! Built-in Verifier (background-check model) and Attestation Result check (passport model).
//!
//! Evidence is an EAT (RFC 9711) claims set in a COSE_Sign1 signed by the device's attestation
//! key. The TAM checks the signature, `eat_nonce` against the challenge it sent, and that `cnf`
//! (RFC 8747, a COSE_Key) names the key that signed the TEEP message: proof that the TEEP key
//! lives in the attested TEE. The claims set is read with ciborium into a generic map because
//! only a handful of integer-keyed claims matter here and unknown claims must pass through.

use alloc::{format, string::String, string::ToString, vec::Vec};

use ciborium::Value;
use teep_cose::PublicKey;

mod cnf;
mod manifests;
mod profile;
mod verdict;

pub use cnf::CnfForm;
pub use manifests::{
    attested_holdings, manifest_references, resolve_references, ManifestReference,
};
pub use profile::{
    check_policy, check_required_claims, check_result_profile, AppraisalPolicy, ClaimsFault,
};
pub use teep_cose::eat::media_type::{
    classify, MediaType, PayloadKind, EVIDENCE_MEDIA_TYPE, TEEP_RESULT_MEDIA_TYPE,
};
pub use verdict::{EvidenceForVerifier, VerifierVerdict};

/// Claims the TAM keeps from accepted evidence.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct AttestedClaims {
    #[serde(serialize_with = "hex_opt")]
    pub ueid: Option<Vec<u8>>,
    #[serde(serialize_with = "hex_opt")]
    pub oemid: Option<Vec<u8>>,
    #[serde(serialize_with = "hex_opt")]
    pub hwmodel: Option<Vec<u8>>,
    pub hwversion: Option<String>,
    /// Number of entries in `manifests`.
    pub manifests: usize,
    /// Whether this came from a Verifier's Attestation Result rather than our own appraisal.
    pub passport: bool,
    /// The external Verifier that appraised the Evidence (background-check model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    /// The SUIT_References in `manifests` (TEEP-26 §5), with the catalog TC each names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub manifest_references: Vec<ManifestReference>,
}

fn hex_opt<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&hex::encode(v)),
        None => s.serialize_none(),
    }
}

/// Why attestation failed; the message goes into the Update's err-msg (≤ 128 bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestError {
    #[error("attestation-payload missing")]
    Missing,
    #[error("attestation-payload: not COSE_Sign1 ({0})")]
    NotCose(String),
    #[error("attestation-payload: signature does not verify with the device attestation key")]
    BadSignature,
    #[error("attestation-payload: not signed by a trusted verifier")]
    UntrustedVerifier,
    #[error("attestation-payload: claims are not a CBOR map")]
    NotClaims,
    #[error("eat_nonce: {0}")]
    Nonce(&'static str),
    #[error("cnf: {0}")]
    Cnf(&'static str),
    #[error("{0}: missing required claim")]
    MissingClaim(&'static str),
    #[error("attestation-payload-format {0:?} is not supported")]
    Format(String),
    /// The payload's label does not parse or names no supported type (-26 §4.3).
    #[error("{0}")]
    Label(String),
    #[error("{0}")]
    Profile(&'static str),
    #[error("manifests: {0}")]
    Manifests(String),
    #[error("appraisal policy: {0}")]
    Policy(String),
    /// The Verifier that appraised the Evidence did not affirm it, or could not be asked.
    #[error("verifier: {0}")]
    Verifier(String),
    /// The attestation key's endorsement (`x5chain`, RFC 9360) does not hold.
    #[error("attestation-payload: {0}")]
    Endorsement(crate::endorsement::ChainError),
    /// An encrypted attestation-payload (-26 §8.2) that the TAM cannot open.
    #[error("attestation-payload: {0}")]
    Decrypt(String),
}

const EAT_NONCE: i64 = 10;
const CNF: i64 = 8;
const UEID: i64 = 256;
const OEMID: i64 = 258;
const HWMODEL: i64 = 259;
const HWVERSION: i64 = 260;
const MANIFESTS: i64 = 272;
/// RFC 9711 manifests label written as 273 by the TEEP example (see DIGEST §9.9); accepted.
const MANIFESTS_ALT: i64 = 273;
/// Largest evidence accepted; the HTTP body limit bounds it anyway, this bounds the decoder.
const MAX_EVIDENCE: usize = 64 * 1024;

/// Parsed but unverified evidence.
pub struct Evidence {
    opened: teep_cose::Opened,
    claims: Vec<(Value, Value)>,
}

impl Evidence {
    pub fn parse(payload: &[u8]) -> Result<Evidence, AttestError> {
        if payload.is_empty() {
            return Err(AttestError::Missing);
        }
        if payload.len() > MAX_EVIDENCE {
            return Err(AttestError::NotCose(format!(
                "{} bytes, limit {MAX_EVIDENCE}",
                payload.len()
            )));
        }
        let opened = teep_cose::open(payload).map_err(|e| AttestError::NotCose(e.to_string()))?;
        let body = opened.payload.as_deref().ok_or(AttestError::NotClaims)?;
        let v: Value = ciborium::from_reader(body).map_err(|_| AttestError::NotClaims)?;
        let claims = match v {
            Value::Map(m) => m,
            _ => return Err(AttestError::NotClaims),
        };
        Ok(Evidence { opened, claims })
    }

    fn claim(&self, key: i64) -> Option<&Value> {
        self.claims
            .iter()
            .find(|(k, _)| k.as_integer().and_then(|i| i64::try_from(i).ok()) == Some(key))
            .map(|(_, v)| v)
    }

    /// The certificates of the `x5chain` header (RFC 9360), leaf first, if present.
    pub fn x5chain(&self) -> Result<Option<Vec<Vec<u8>>>, teep_cose::CoseError> {
        self.opened.x5chain()
    }

    pub fn nonce(&self) -> Option<&[u8]> {
        match self.claim(EAT_NONCE)? {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The `ueid` claim (RFC 9711 §4.2.1), as the claims record keeps it.
    pub fn ueid(&self) -> Option<Vec<u8>> {
        self.bytes_claim(UEID)
    }

    fn bytes_claim(&self, key: i64) -> Option<Vec<u8>> {
        match self.claim(key)? {
            Value::Bytes(b) => Some(b.clone()),
            Value::Text(t) => Some(t.as_bytes().to_vec()),
            Value::Integer(i) => Some(i128::from(*i).to_be_bytes().to_vec()),
            _ => None,
        }
    }

    fn claims_out(&self, passport: bool) -> AttestedClaims {
        let hwversion = match self.claim(HWVERSION) {
            Some(Value::Array(a)) => a.first().and_then(|v| v.as_text()).map(str::to_string),
            Some(Value::Text(t)) => Some(t.clone()),
            _ => None,
        };
        let manifests = match self.claim(MANIFESTS).or_else(|| self.claim(MANIFESTS_ALT)) {
            Some(Value::Array(a)) => a.len(),
            _ => 0,
        };
        AttestedClaims {
            ueid: self.bytes_claim(UEID),
            oemid: self.bytes_claim(OEMID),
            hwmodel: self.bytes_claim(HWMODEL),
            hwversion,
            manifests,
            passport,
            verifier: None,
            manifest_references: Vec::new(),
        }
    }
}

/// What the appraisal needs to know.
pub struct Expectation<'a> {
    /// Challenge sent in the QueryRequest (background check) ...
    pub challenge: Option<&'a [u8]>,
    /// ... or the token (passport model uses it as the nonce).
    pub token: Option<&'a [u8]>,
    /// Key that signed the TEEP message; `cnf` must name it.
    pub teep_key: &'a PublicKey,
    /// Keys that may sign evidence for this device (its attestation key, or for open
    /// enrollment the `cnf` key itself).
    pub attestation_keys: &'a [PublicKey],
    /// Verifiers whose Attestation Results are trusted.
    pub verifier_keys: &'a [PublicKey],
    /// Whether ueid/oemid/hwmodel/hwversion/manifests must be present (TEEP EAT profile).
    pub require_profile_claims: bool,
}

/// Appraises evidence, or accepts an Attestation Result signed by a trusted Verifier.
pub fn appraise(evidence: &Evidence, exp: &Expectation<'_>) -> Result<AttestedClaims, AttestError> {
    let passport = if evidence.opened.verify_any(exp.attestation_keys).is_ok() {
        false
    } else if !exp.verifier_keys.is_empty() && evidence.opened.verify_any(exp.verifier_keys).is_ok()
    {
        true
    } else if exp.verifier_keys.is_empty() {
        return Err(AttestError::BadSignature);
    } else {
        return Err(AttestError::UntrustedVerifier);
    };
    let nonce = evidence
        .nonce()
        .ok_or(AttestError::Nonce("missing or not a bstr"))?;
    let fresh = exp.challenge.is_some_and(|c| c == nonce)
        || (passport && exp.token.is_some_and(|t| t == nonce));
    if !fresh {
        return Err(AttestError::Nonce(
            "does not match the challenge of this session",
        ));
    }
    if !evidence.cnf_names(exp.teep_key)? {
        return Err(AttestError::Cnf(
            "does not name the key that signed the TEEP message",
        ));
    }
    if exp.require_profile_claims && !passport {
        for (k, name) in [
            (UEID, "ueid"),
            (OEMID, "oemid"),
            (HWMODEL, "hwmodel"),
            (HWVERSION, "hwversion"),
        ] {
            if evidence.claim(k).is_none() {
                return Err(AttestError::MissingClaim(name));
            }
        }
        if evidence.claim(MANIFESTS).is_none() && evidence.claim(MANIFESTS_ALT).is_none() {
            return Err(AttestError::MissingClaim("manifests"));
        }
    }
    Ok(evidence.claims_out(passport))
}
