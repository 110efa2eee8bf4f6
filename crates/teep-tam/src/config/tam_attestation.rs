//! `tam_attestation_key` and `[tam_attestation_claims]`: the TAM's own attestation for Agents
//! that require it (draft-ietf-teep-protocol-26 §7.1.2).
//!
//! The built-in source signs an Attestation Result about this TAM with the configured key,
//! acting as the Verifier. Whoever holds that key vouches for the TAM: every Agent that lists
//! its public key in `tam_verifier_keys` accepts any TAM that key signs for. Keep it apart
//! from the TAM's TEEP keys (a separate file, ideally held by whoever runs the Verifier); a
//! deployment with a real Verifier implements `teep_tam_core::tam_attestation::TamAttestation`
//! over it instead.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use teep_cose::eat::{EatClaims, HwVersion, OemId, VersionString};
use teep_tam_core::tam_attestation::SignedAttestationResult;

use crate::keys::KeyFileError;

/// Claims the TAM's Attestation Result states about it; `eat_nonce`, `cnf`, `iat` and
/// `eat_profile` are set per result. Byte claims are hex.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TamAttestationClaims {
    /// `iss` (1): who issued the result.
    pub iss: Option<String>,
    /// `ueid` (256), hex, 7..33 bytes.
    pub ueid: Option<String>,
    /// `oemid` (258), hex.
    pub oemid: Option<String>,
    /// `hwmodel` (259), hex, 1..32 bytes.
    pub hwmodel: Option<String>,
    /// `hwversion` (260), text.
    pub hwversion: Option<String>,
}

impl TamAttestationClaims {
    /// The claims, or which one is not valid hex.
    pub fn to_eat(&self) -> Result<EatClaims, String> {
        let hex_claim = |name: &str, v: &Option<String>| -> Result<Option<Vec<u8>>, String> {
            v.as_deref()
                .map(|h| {
                    hex::decode(h)
                        .map_err(|e| format!("tam_attestation_claims.{name} {h:?}: not hex: {e}"))
                })
                .transpose()
        };
        Ok(EatClaims {
            iss: self.iss.clone(),
            ueid: hex_claim("ueid", &self.ueid)?,
            oemid: hex_claim("oemid", &self.oemid)?.map(OemId::Bytes),
            hwmodel: hex_claim("hwmodel", &self.hwmodel)?,
            hwversion: self.hwversion.clone().map(|v| HwVersion {
                version: VersionString::Text(v),
                scheme: None,
            }),
            ..Default::default()
        })
    }
}

/// The built-in source over the key at `path` and `claims`.
pub fn load_source(
    path: &Path,
    claims: &TamAttestationClaims,
) -> Result<SignedAttestationResult, KeyFileError> {
    let key = crate::keys::load_key(path)?;
    let claims = claims.to_eat().map_err(|message| KeyFileError::Load {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(SignedAttestationResult::new(
        Arc::new(teep_cose::SoftwareSigner::new(key)),
        claims,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_read_from_toml_become_eat_claims_and_bad_hex_names_the_claim() {
        let c: TamAttestationClaims = toml::from_str(
            "iss = \"tam.example\"\nueid = \"0102030405060708\"\nhwversion = \"1.2\"",
        )
        .unwrap();
        let eat = c.to_eat().unwrap();
        assert_eq!(eat.iss.as_deref(), Some("tam.example"));
        assert_eq!(eat.ueid, Some(vec![1, 2, 3, 4, 5, 6, 7, 8]));
        let bad = TamAttestationClaims {
            hwmodel: Some("zz".into()),
            ..Default::default()
        };
        let e = bad.to_eat().unwrap_err();
        assert!(
            e.starts_with("tam_attestation_claims.hwmodel \"zz\": not hex"),
            "{e}"
        );
        assert!(toml::from_str::<TamAttestationClaims>("color = 1").is_err());
    }
}
