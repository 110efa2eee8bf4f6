//! Header rules: protected headers as bstr-wrapped maps, `crit` understood, alg and kid not
//! in both buckets, and the per-signature algorithm and key identifier.

use alloc::{format, string::ToString, vec::Vec};

use ciborium::value::Value;
use coset::{AsCborValue, CborSerializable, Header, RegisteredLabelWithPrivate};

use super::{SignatureInfo, HDR_ALG, HDR_CONTENT_TYPE, HDR_CRIT, HDR_KID};
use crate::cbor;
use crate::{Algorithm, CoseError};

pub(super) fn parse_protected(path: &str, v: Value) -> Result<(Vec<u8>, Header), CoseError> {
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

pub(super) fn parse_unprotected(path: &str, v: Value) -> Result<Header, CoseError> {
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
pub(super) fn check_crit(path: &str, h: &Header) -> Result<(), CoseError> {
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

pub(super) fn alg_of(path: &str, h: &Header) -> Result<Option<Algorithm>, CoseError> {
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

pub(super) fn check_no_alg_conflict(path: &str, p: &Header, u: &Header) -> Result<(), CoseError> {
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

pub(super) fn signature_info(
    path: &str,
    p: &Header,
    u: &Header,
) -> Result<SignatureInfo, CoseError> {
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
