//! EAT Attestation Results (draft-ietf-rats-ear) as a Veraison Verifier returns them: a JWT
//! signed ES256 (RFC 7519, RFC 7515) or a CWT (COSE_Sign1, RFC 8392), checked against the
//! configured Verifier key.
//!
//! Hand-rolled rather than Veraison's `ear` crate: that crate pulls openssl (a C build),
//! jsonwebtoken and cose-rust for what is here one base64 split, one ECDSA P-256 verification
//! through teep-cose (the same computation COSE ES256 uses, r||s signatures) and a few claims
//! read from JSON or CBOR. What this reads of an EAR: `eat_nonce`, and `ear.status` of every
//! submodule (the worst one decides).

use base64::Engine;
use ciborium::Value;
use teep_cose::{Algorithm, PublicKey};

/// An EAR's appraisal status (draft-ietf-rats-ear §3.2, the AR4SI tiers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    None,
    Affirming,
    Warning,
    Contraindicated,
}

impl Status {
    fn from_text(s: &str) -> Option<Status> {
        Some(match s {
            "none" => Status::None,
            "affirming" => Status::Affirming,
            "warning" => Status::Warning,
            "contraindicated" => Status::Contraindicated,
            _ => return None,
        })
    }

    /// The CBOR form (AR4SI tier values).
    fn from_int(i: i128) -> Option<Status> {
        Some(match i {
            0 => Status::None,
            2 => Status::Affirming,
            32 => Status::Warning,
            96 => Status::Contraindicated,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::None => "none",
            Status::Affirming => "affirming",
            Status::Warning => "warning",
            Status::Contraindicated => "contraindicated",
        }
    }
}

/// What a verified EAR says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ear {
    /// The worst `ear.status` among the submodules (`None` when there is none to read:
    /// then nothing was affirmed).
    pub status: Status,
    pub nonce: Option<Vec<u8>>,
}

/// Largest EAR read.
pub const MAX_EAR: usize = 64 * 1024;

/// Verifies `token` (a compact JWS, or base64 of a COSE_Sign1) with `key` and reads it.
pub fn verify(token: &str, key: &PublicKey) -> Result<Ear, String> {
    let token = token.trim();
    if token.len() > MAX_EAR {
        return Err(format!("EAR of {} bytes, limit {MAX_EAR}", token.len()));
    }
    if token.matches('.').count() == 2 {
        verify_jwt(token, key)
    } else {
        let bytes = b64(token).ok_or("EAR is neither a JWT nor base64 of a CWT")?;
        verify_cwt(&bytes, key)
    }
}

/// base64url (JWT, Veraison nonces) or standard base64, padded or not.
pub fn b64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let s = s.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .ok()
}

fn verify_jwt(token: &str, key: &PublicKey) -> Result<Ear, String> {
    let mut parts = token.split('.');
    let (h, p, s) = match (parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s)) => (h, p, s),
        _ => return Err("EAR JWT is not header.payload.signature".into()),
    };
    let header: serde_json::Value =
        serde_json::from_slice(&b64(h).ok_or("EAR JWT header is not base64url")?)
            .map_err(|_| "EAR JWT header is not JSON")?;
    // RFC 8725 §3.1: the algorithm is the one the key is for, never the token's choice.
    let alg = match header.get("alg").and_then(|a| a.as_str()) {
        Some("ES256") if key.key_type() == teep_cose::KeyType::P256 => Algorithm::Es256,
        Some("EdDSA") if key.key_type() == teep_cose::KeyType::Ed25519 => Algorithm::EdDsa,
        Some(a) => return Err(format!("EAR JWT alg {a:?} does not fit the Verifier key")),
        None => return Err("EAR JWT header has no alg".into()),
    };
    let sig = b64(s).ok_or("EAR JWT signature is not base64url")?;
    let signed = &token[..h.len() + 1 + p.len()];
    key.verify(alg, signed.as_bytes(), &sig)
        .map_err(|_| "EAR signature does not verify with the Verifier key".to_string())?;
    let claims: serde_json::Value =
        serde_json::from_slice(&b64(p).ok_or("EAR JWT payload is not base64url")?)
            .map_err(|_| "EAR JWT payload is not JSON")?;
    let nonce = claims
        .get("eat_nonce")
        .and_then(|n| n.as_str())
        .and_then(b64);
    let statuses = claims
        .get("submods")
        .and_then(|s| s.as_object())
        .ok_or("EAR has no submods")?
        .values()
        .map(|m| {
            m.get("ear.status")
                .and_then(|s| s.as_str())
                .and_then(Status::from_text)
        });
    Ok(Ear {
        status: worst(statuses)?,
        nonce,
    })
}

/// EAR CBOR labels (draft-ietf-rats-ear §6).
const EAT_NONCE: i64 = 10;
const SUBMODS: i64 = 266;
const EAR_STATUS: i64 = 1000;

fn verify_cwt(bytes: &[u8], key: &PublicKey) -> Result<Ear, String> {
    let opened = teep_cose::open(bytes).map_err(|e| format!("EAR CWT: {e}"))?;
    opened
        .verify(key)
        .map_err(|_| "EAR signature does not verify with the Verifier key".to_string())?;
    let body = opened.payload.as_deref().ok_or("EAR CWT has no payload")?;
    let claims: Value = ciborium::from_reader(body).map_err(|_| "EAR CWT claims are not CBOR")?;
    let get = |m: &Value, k: i64| -> Option<Value> {
        m.as_map()?
            .iter()
            .find(|(l, _)| l.as_integer().and_then(|i| i64::try_from(i).ok()) == Some(k))
            .map(|(_, v)| v.clone())
    };
    let nonce = match get(&claims, EAT_NONCE) {
        Some(Value::Bytes(b)) => Some(b),
        _ => None,
    };
    let submods = get(&claims, SUBMODS).ok_or("EAR has no submods")?;
    let statuses = submods
        .as_map()
        .ok_or("EAR submods is not a map")?
        .iter()
        .map(|(_, m)| match get(m, EAR_STATUS) {
            Some(Value::Integer(i)) => Status::from_int(i.into()),
            _ => None,
        })
        .collect::<Vec<_>>();
    Ok(Ear {
        status: worst(statuses.into_iter())?,
        nonce,
    })
}

fn worst(statuses: impl Iterator<Item = Option<Status>>) -> Result<Status, String> {
    let mut out: Option<Status> = None;
    for s in statuses {
        let s = s.ok_or("EAR submodule without a readable ear.status")?;
        out = Some(out.map_or(s, |o| o.max(s)));
    }
    out.ok_or_else(|| "EAR has no submodule".into())
}

/// Builds EARs for tests: a JWT signed by `signer` with `status` and `nonce`.
#[cfg(test)]
pub fn test_jwt(signer: &dyn teep_cose::Signer, status: &str, nonce: &[u8]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "eat_profile": "tag:github.com,2023:veraison/ear",
        "iat": 1_800_000_000,
        "eat_nonce": URL_SAFE_NO_PAD.encode(nonce),
        "ear.verifier-id": {"build": "test", "developer": "test"},
        "submods": {"TEEP": {"ear.status": status}},
    });
    let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let signed = format!("{h}.{p}");
    let sig = signer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use teep_cose::{PrivateKey, Signer, SoftwareSigner};

    fn key() -> SoftwareSigner {
        SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x21; 32]).unwrap())
    }

    /// draft-ietf-rats-ear §3: a JWT EAR signed ES256 by the Verifier key is read: status and
    /// nonce.
    #[test]
    fn ear_jwt_es256_verifies_and_reads_status_and_nonce() {
        let k = key();
        let ear = verify(&test_jwt(&k, "affirming", &[7; 32]), &k.public_key()).unwrap();
        assert_eq!(ear.status, Status::Affirming);
        assert_eq!(ear.nonce, Some(vec![7; 32]));
    }

    /// A JWT EAR signed by another key, or altered, does not verify.
    #[test]
    fn ear_jwt_with_a_bad_signature_is_refused() {
        let other = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x22; 32]).unwrap());
        let e = verify(
            &test_jwt(&other, "affirming", &[7; 32]),
            &key().public_key(),
        )
        .unwrap_err();
        assert!(e.contains("signature"), "{e}");
        let t = test_jwt(&key(), "affirming", &[7; 32]);
        let (head, sig) = t.rsplit_once('.').unwrap();
        let tampered = format!("{}x.{sig}", head);
        assert!(verify(&tampered, &key().public_key()).is_err());
    }

    /// RFC 8725 §3.1: the token does not choose the algorithm.
    #[test]
    fn ear_jwt_alg_must_fit_the_key() {
        let t = test_jwt(&key(), "affirming", &[7; 32]);
        let (_, rest) = t.split_once('.').unwrap();
        let none = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let e = verify(&format!("{none}.{rest}"), &key().public_key()).unwrap_err();
        assert!(e.contains("alg"), "{e}");
    }

    /// A CWT EAR (COSE_Sign1, CBOR labels) is read as well; the worst submodule decides.
    #[test]
    fn ear_cwt_verifies_and_the_worst_submodule_decides() {
        let k = key();
        let sub = |s: i64| {
            Value::Map(vec![(
                Value::Integer(EAR_STATUS.into()),
                Value::Integer(s.into()),
            )])
        };
        let claims = Value::Map(vec![
            (Value::Integer(EAT_NONCE.into()), Value::Bytes(vec![1; 8])),
            (
                Value::Integer(SUBMODS.into()),
                Value::Map(vec![
                    (Value::Text("a".into()), sub(2)),
                    (Value::Text("b".into()), sub(32)),
                ]),
            ),
        ]);
        let mut body = Vec::new();
        ciborium::into_writer(&claims, &mut body).unwrap();
        let cwt = teep_cose::sign1(&body, &k).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(cwt);
        let ear = verify(&b64, &k.public_key()).unwrap();
        assert_eq!(ear.status, Status::Warning);
        assert_eq!(ear.nonce, Some(vec![1; 8]));
    }
}
