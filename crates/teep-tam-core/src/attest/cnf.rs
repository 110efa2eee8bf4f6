//! `cnf` (RFC 8747 §3.1): the proof-of-possession key, the device's TEEP key
//! (draft-ietf-teep-protocol-26 §5, §7.1.1.1). Three forms: a COSE_Key (label 1), an
//! Encrypted_COSE_Key (label 2) and a key identifier (label 3), which in TEEP is the RFC 9679
//! thumbprint (SHA-256 key hash) of the TEEP key.

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
                "Encrypted_COSE_Key (RFC 8747 label 2) cannot be decrypted by this TAM; send the TEEP key as COSE_Key (label 1) or its kid (label 3)",
            )),
            _ => Err(AttestError::Cnf(
                "no COSE_Key (label 1) or kid (label 3) (RFC 8747 §3.1)",
            )),
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
