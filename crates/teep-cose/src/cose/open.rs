//! Strict parsing of COSE_Sign1 and COSE_Sign, tagged or not; no signature is checked here.

use alloc::{format, string::String, vec::Vec};

use ciborium::value::Value;
use teep_cbor::deviation::{Deviations, Tolerance};

use super::headers::{check_no_alg_conflict, parse_protected, parse_unprotected, signature_info};
use super::{CoseKind, Limits, Opened, SigData, TAG_SIGN, TAG_SIGN1};
use crate::cbor;
use crate::CoseError;

/// Parses a COSE_Sign1 or COSE_Sign, tagged or not, with default [`Limits`]. No signature
/// is checked. Tolerant: deviations are accepted and not reported (see [`open_with`]).
pub fn open(bytes: &[u8]) -> Result<Opened, CoseError> {
    open_with_limits(bytes, &Limits::default())
}

/// [`open`] with explicit limits.
pub fn open_with_limits(bytes: &[u8], limits: &Limits) -> Result<Opened, CoseError> {
    open_with(bytes, limits, &mut Deviations::new(Tolerance::Tolerant))
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

/// Parses a COSE_Sign1 or COSE_Sign, recording in `dev` each tolerated departure (an empty kid:
/// `cose.kid-empty`), or, when `dev` is strict, refusing it with [`CoseError::Refused`].
/// Nothing is allocated for `dev` unless a deviation is seen.
pub fn open_with(bytes: &[u8], limits: &Limits, dev: &mut Deviations) -> Result<Opened, CoseError> {
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
    let (body_protected, protected) = parse_protected(protected_path, prot_v, dev)?;
    let unprotected = parse_unprotected(unprotected_path, unprot_v, dev)?;
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
                headers: None,
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
                let (sp_bytes, sp_hdr) = parse_protected(&format!("{p}.protected"), sp, dev)?;
                let su_hdr = parse_unprotected(&format!("{p}.unprotected"), su, dev)?;
                let Value::Bytes(signature) = sig_v else {
                    return Err(CoseError::malformed(
                        format!("{p}.signature"),
                        format!("expected bstr, got {}", cbor::type_name(&sig_v)),
                    ));
                };
                signatures.push(signature_info(&p, &sp_hdr, &su_hdr)?);
                sigs.push(SigData {
                    protected: sp_bytes,
                    headers: Some((sp_hdr, su_hdr)),
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
