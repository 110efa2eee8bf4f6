//! `cnf` (RFC 8747 §3.1): the proof-of-possession key, the device's TEEP key
//! (draft-ietf-teep-protocol-26 §5, §7.1.1.1). Three forms: a COSE_Key (label 1), an
//! Encrypted_COSE_Key (label 2) and a key identifier (label 3), which in TEEP is the RFC 9679
//! thumbprint (SHA-256 key hash) of the TEEP key. An Encrypted_COSE_Key addressed to the
//! TAM is opened when the Evidence is parsed (`TamCore::parse_evidence`) and from then on
//! reads as the COSE_Key it carries.

use alloc::vec::Vec;

use ciborium::Value;
use teep_cose::PublicKey;

use super::{AttestError, Evidence, CNF};

/// The confirmation method `cnf` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CnfForm {
    /// 1: COSE_Key, as encoded.
    Key(Vec<u8>),
    /// 3: kid.
    Kid(Vec<u8>),
}

const COSE_KEY: i64 = 1;
const ENCRYPTED_COSE_KEY: i64 = 2;
const KID: i64 = 3;

impl Evidence {
    /// The one confirmation method in `cnf`.
    pub fn cnf_form(&self) -> Result<CnfForm, AttestError> {
        let cnf = self.claim(CNF).ok_or(AttestError::Cnf("missing"))?;
        let Value::Map(m) = cnf else {
            return Err(AttestError::Cnf("not a map (RFC 8747 §3.1)"));
        };
        let [(label, v)] = m.as_slice() else {
            return Err(AttestError::Cnf(
                "must hold exactly one confirmation method (RFC 8747 §3.1)",
            ));
        };
        match label.as_integer().and_then(|i| i64::try_from(i).ok()) {
            Some(COSE_KEY) => {
                let mut bytes = Vec::new();
                ciborium::into_writer(v, &mut bytes)
                    .map_err(|_| AttestError::Cnf("unencodable"))?;
                Ok(CnfForm::Key(bytes))
            }
            Some(KID) => match v {
                Value::Bytes(k) => Ok(CnfForm::Kid(k.clone())),
                _ => Err(AttestError::Cnf("kid (label 3) is not a bstr (RFC 8747 §3.4)")),
            },
            Some(ENCRYPTED_COSE_KEY) => Err(AttestError::Cnf(
                "Encrypted_COSE_Key (RFC 8747 label 2) was not opened; it must be a COSE_Encrypt to one of this TAM's keys",
            )),
            _ => Err(AttestError::Cnf(
                "no COSE_Key (label 1) or kid (label 3) (RFC 8747 §3.1)",
            )),
        }
    }

    /// RFC 8747 §3.3: the Encrypted_COSE_Key in `cnf`, if that is its form, as a tagged
    /// COSE_Encrypt ready for decryption. Inside `cnf` label 2 the structure is known, so an
    /// untagged COSE_Encrypt (RFC 8747's own example is untagged) is tagged here; a
    /// COSE_Encrypt0 needs a key shared beforehand, which TEEP never provisions.
    pub(crate) fn encrypted_cnf(&self) -> Result<Option<Vec<u8>>, AttestError> {
        let Some(Value::Map(m)) = self.claim(CNF) else {
            return Ok(None);
        };
        let [(label, v)] = m.as_slice() else {
            return Ok(None);
        };
        if label.as_integer().and_then(|i| i64::try_from(i).ok()) != Some(ENCRYPTED_COSE_KEY) {
            return Ok(None);
        }
        let encrypt = match v {
            Value::Tag(96, inner) if matches!(&**inner, Value::Array(a) if a.len() == 4) => {
                v.clone()
            }
            Value::Array(a) if a.len() == 4 => Value::Tag(96, alloc::boxed::Box::new(v.clone())),
            Value::Tag(16, _) | Value::Array(_) if is_encrypt0(v) => {
                return Err(AttestError::Cnf(
                    "Encrypted_COSE_Key is a COSE_Encrypt0, which needs a key shared in advance; TEEP shares none: use a COSE_Encrypt with an ECDH-ES+A128KW recipient (RFC 8747 §3.3, -26 §8.2)",
                ))
            }
            _ => {
                return Err(AttestError::Cnf(
                    "Encrypted_COSE_Key is neither a COSE_Encrypt nor a COSE_Encrypt0 (RFC 8747 §3.3)",
                ))
            }
        };
        let mut bytes = Vec::new();
        ciborium::into_writer(&encrypt, &mut bytes)
            .map_err(|_| AttestError::Cnf("Encrypted_COSE_Key: unencodable"))?;
        Ok(Some(bytes))
    }

    /// Replaces `cnf` with the COSE_Key `key` (CBOR): what an opened Encrypted_COSE_Key held.
    /// The signature was over the payload as received, so this changes nothing verified.
    pub(crate) fn set_cnf_key(&mut self, key: Value) {
        let cnf = Value::Map(alloc::vec![(Value::Integer(COSE_KEY.into()), key)]);
        match self
            .claims
            .iter_mut()
            .find(|(k, _)| k.as_integer().and_then(|i| i64::try_from(i).ok()) == Some(CNF))
        {
            Some((_, v)) => *v = cnf,
            None => self.claims.push((Value::Integer(CNF.into()), cnf)),
        }
    }

    /// The COSE_Key in `cnf`, as a public key: what introduces an unknown device's TEEP key
    /// (open enrollment). A kid names only a key the TAM already knows.
    pub fn cnf_key(&self) -> Result<PublicKey, AttestError> {
        match self.cnf_form()? {
            CnfForm::Key(bytes) => PublicKey::from_cose_key(&bytes)
                .map_err(|_| AttestError::Cnf("COSE_Key is not a usable P-256 or Ed25519 key")),
            CnfForm::Kid(_) => Err(AttestError::Cnf(
                "kid (RFC 8747 label 3) names a key this TAM does not know; an unknown device under open enrollment must carry its TEEP key as COSE_Key (label 1)",
            )),
        }
    }

    /// Whether `cnf` names `key`. A COSE_Key encoded exactly as `key` encodes is that key and
    /// needs no parsing (which for Ed25519 means decompressing a point); any other encoding
    /// is parsed and compared by thumbprint. A kid must be `key`'s RFC 9679 thumbprint
    /// (-26 §7.1.1.1: a SHA-256 hash, the digest of every SUIT COSE profile teep offers).
    pub fn cnf_names(&self, key: &PublicKey) -> Result<bool, AttestError> {
        match self.cnf_form()? {
            CnfForm::Key(bytes) => {
                if bytes == key.to_cose_key() {
                    return Ok(true);
                }
                let cnf = PublicKey::from_cose_key(&bytes).map_err(|_| {
                    AttestError::Cnf("COSE_Key is not a usable P-256 or Ed25519 key")
                })?;
                Ok(cnf.thumbprint() == key.thumbprint())
            }
            CnfForm::Kid(kid) => Ok(kid == key.thumbprint()),
        }
    }
}

/// A COSE_Encrypt0: tag 16, or an untagged array of three (protected, unprotected, ciphertext).
fn is_encrypt0(v: &Value) -> bool {
    match v {
        Value::Tag(16, _) => true,
        Value::Array(a) => a.len() == 3,
        _ => false,
    }
}
