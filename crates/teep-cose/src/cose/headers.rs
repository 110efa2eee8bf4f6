//! Header rules: protected headers as bstr-wrapped maps, `crit` understood, alg and kid not
//! in both buckets, and the per-signature algorithm and key identifier.
//!
//! Each header parameter is checked before coset builds the [`Header`], so an error names the
//! parameter and its label (`COSE_Sign1.unprotected.kid (label 4): ...`) rather than only the
//! map, and an empty kid (tamproto) is read as "no kid" with the deviation `cose.kid-empty`.

use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};

use ciborium::value::Value;
use coset::{AsCborValue, Header, RegisteredLabelWithPrivate};
use teep_cbor::deviation::{catalog, Deviations};

use super::{SignatureInfo, HDR_ALG, HDR_CONTENT_TYPE, HDR_CRIT, HDR_KID};
use crate::cbor;
use crate::{Algorithm, CoseError};

/// RFC 9052 §3.1 names of the common header parameters, for error paths and dumps.
pub fn parameter_name(label: i64) -> Option<&'static str> {
    Some(match label {
        1 => "alg",
        2 => "crit",
        3 => "content type",
        4 => "kid",
        5 => "IV",
        6 => "Partial IV",
        7 => "counter signature",
        9 => "CounterSignature0",
        33 => "x5chain",
        _ => return None,
    })
}

/// `PATH.NAME (label N)` or `PATH[N]` for a label without a name.
fn parameter_path(path: &str, label: &Value) -> String {
    match cbor::as_i64(label) {
        Some(n) => match parameter_name(n) {
            Some(name) => format!("{path}.{name} (label {n})"),
            None => format!("{path}[{n}]"),
        },
        None => match label {
            Value::Text(t) => format!("{path}[{t:?}]"),
            _ => format!("{path}[?]"),
        },
    }
}

pub(super) fn parse_protected(
    path: &str,
    v: Value,
    dev: &mut Deviations,
) -> Result<(Vec<u8>, Header), CoseError> {
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
    let map: Value = ciborium::from_reader(&data[..])
        .map_err(|e| CoseError::malformed(path, format!("invalid CBOR: {e}")))?;
    let h = header_from_map(path, map, dev)?;
    check_crit(path, &h)?;
    Ok((data, h))
}

pub(super) fn parse_unprotected(
    path: &str,
    v: Value,
    dev: &mut Deviations,
) -> Result<Header, CoseError> {
    if !matches!(v, Value::Map(_)) {
        return Err(CoseError::malformed(
            path,
            format!("expected header map, got {}", cbor::type_name(&v)),
        ));
    }
    let h = header_from_map(path, v, dev)?;
    if !h.crit.is_empty() {
        return Err(CoseError::malformed(
            format!("{path}.crit (label 2)"),
            "crit must be in the protected header",
        ));
    }
    Ok(h)
}

/// Checks every parameter (naming the one that fails), drops an empty kid as a deviation, then
/// lets coset build the header.
fn header_from_map(path: &str, map: Value, dev: &mut Deviations) -> Result<Header, CoseError> {
    let Value::Map(mut entries) = map else {
        return Err(CoseError::malformed(path, "expected a header map"));
    };
    // Header maps hold a few parameters; a larger one (hostile) is left to coset's set-based
    // duplicate check rather than compared pairwise.
    let pairwise = entries.len() <= 16;
    for (i, (label, value)) in entries.iter().enumerate() {
        check_parameter(path, label, value)?;
        if pairwise && entries[..i].iter().any(|(l, _)| l == label) {
            return Err(CoseError::malformed(
                parameter_path(path, label),
                "duplicate header parameter (RFC 9052 §3: labels are unique in a header map)",
            ));
        }
    }
    let empty_kid = |(l, v): &(Value, Value)| {
        cbor::as_i64(l) == Some(HDR_KID) && matches!(v, Value::Bytes(b) if b.is_empty())
    };
    if entries.iter().any(empty_kid) {
        // RFC 9052 types kid as any bstr; an empty one identifies no key.
        dev.note(&catalog::COSE_KID_EMPTY, format!("{path}.kid"))
            .map_err(CoseError::Refused)?;
        entries.retain(|e| !empty_kid(e));
    }
    Header::from_cbor_value(Value::Map(entries))
        .map_err(|e| CoseError::malformed(path, e.to_string()))
}

/// The RFC 9052 §3.1 type of each common parameter (what coset enforces, said per parameter).
fn check_parameter(path: &str, label: &Value, value: &Value) -> Result<(), CoseError> {
    let fail = |rule: String| Err(CoseError::malformed(parameter_path(path, label), rule));
    let got = cbor::type_name(value);
    let n = match label {
        Value::Integer(_) => match cbor::as_i64(label) {
            Some(n) => n,
            None => return fail("label outside the 64-bit integer range".into()),
        },
        Value::Text(_) => return Ok(()),
        other => {
            return Err(CoseError::malformed(
                format!("{path}[?]"),
                format!(
                    "header label must be int or tstr, got {}",
                    cbor::type_name(other)
                ),
            ))
        }
    };
    match (n, value) {
        (1, Value::Integer(_) | Value::Text(_)) => Ok(()),
        (1, _) => fail(format!("expected int or tstr algorithm, got {got}")),
        (2, Value::Array(a)) if a.is_empty() => fail("expected non-empty array, got []".into()),
        (2, Value::Array(a)) => match a
            .iter()
            .find(|l| !matches!(l, Value::Integer(_) | Value::Text(_)))
        {
            Some(l) => fail(format!(
                "expected int or tstr labels, got {}",
                cbor::type_name(l)
            )),
            None => Ok(()),
        },
        (2, _) => fail(format!("expected array of labels, got {got}")),
        (3, Value::Integer(_)) => Ok(()),
        (3, Value::Text(t)) if t.is_empty() || t.trim() != t || t.matches('/').count() != 1 => {
            fail(format!("expected a media type type/subtype, got {t:?}"))
        }
        (3, Value::Text(_)) => Ok(()),
        (3, _) => fail(format!("expected uint or tstr, got {got}")),
        // An empty kid is a deviation, handled by the caller.
        (4, Value::Bytes(_)) => Ok(()),
        (5 | 6, Value::Bytes(b)) if b.is_empty() => {
            fail("expected non-empty bstr, got empty bstr".into())
        }
        (4..=6, Value::Bytes(_)) => Ok(()),
        (4..=6, _) => fail(format!("expected bstr, got {got}")),
        (7, Value::Array(a)) if a.is_empty() => fail("expected non-empty array, got []".into()),
        (7, Value::Array(_)) => Ok(()),
        (7, _) => fail(format!("expected COSE_Signature array, got {got}")),
        _ => Ok(()),
    }
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
                format!("{path}.crit (label 2)"),
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
            format!("{path}.alg (label 1)"),
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
