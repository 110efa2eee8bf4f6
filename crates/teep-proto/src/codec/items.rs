//! Readers of the items inside options and positional fields: sized bstr/tstr, `uint .size 4`,
//! non-empty lists, cipher suites, SUIT COSE profiles, component ids and `tc-list` /
//! `requested-tc-list` entries.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use teep_cbor::deviation::catalog;

use super::Result;
use crate::cbor::{check_embedded, Reader, Seg, Type};
use crate::error::DecodeErrorKind;
use crate::model::{ComponentId, RequestedTcInfo, SystemPropertyClaims};
use crate::registry::{CipherOperation, CipherSuite, ErrorCode, Label, Numbering, SuitCoseProfile};

/// CBOR tag of SUIT_Envelope_Tagged.
const SUIT_ENVELOPE_TAG: u64 = 107;

/// A bstr of `min..=max` bytes.
pub(super) fn read_sized_bytes(r: &mut Reader<'_>, min: usize, max: usize) -> Result<Vec<u8>> {
    let expected = format!("bstr of {min}..{max} bytes");
    let b = r.bytes(&expected)?;
    if b.len() < min || b.len() > max {
        return Err(r.invalid(format!("expected {expected}, got {}", b.len())));
    }
    Ok(b.to_vec())
}

/// A tstr of `min..=max` bytes.
pub(super) fn read_sized_text(r: &mut Reader<'_>, min: usize, max: usize) -> Result<String> {
    let expected = format!("tstr of {min}..{max} bytes");
    let s = r.text(&expected)?;
    if s.len() < min || s.len() > max {
        return Err(r.invalid(format!("expected {expected}, got {}", s.len())));
    }
    Ok(s.to_string())
}

/// `uint .size 4`.
pub(super) fn read_u32(r: &mut Reader<'_>) -> Result<u32> {
    let v = r.uint("uint .size 4")?;
    u32::try_from(v).map_err(|_| {
        r.invalid(format!(
            "expected uint .size 4 (at most 4294967295), got {v}"
        ))
    })
}

/// `[+ item]`: a definite, non-empty array.
pub(super) fn read_nonempty_list<'b, T>(
    r: &mut Reader<'b>,
    mut item: impl FnMut(&mut Reader<'b>) -> Result<T>,
) -> Result<Vec<T>> {
    let len = r.array("non-empty array")?;
    if len == 0 {
        return Err(r.invalid("expected non-empty array ([+ ...]), got 0 elements"));
    }
    let mut out = Vec::with_capacity(r.capacity(len));
    for i in 0..len {
        r.push(Seg::Index(i as usize));
        out.push(item(r)?);
        r.pop();
    }
    r.leave();
    Ok(out)
}

/// `[+ [cose-type, cose-alg]]`.
pub(super) fn read_cipher_suite(r: &mut Reader<'_>) -> Result<CipherSuite> {
    let ops = read_nonempty_list(r, |r| {
        let len = r.array("[cose-type, cose-alg]")?;
        if len != 2 {
            return Err(r.invalid(format!(
                "expected [cose-type, cose-alg] of 2 elements, got {len}"
            )));
        }
        let cose_type = r.int("int cose-type")?;
        let alg = r.int("int cose-alg")?;
        r.leave();
        Ok(CipherOperation { cose_type, alg })
    })?;
    Ok(CipherSuite::new(ops))
}

/// `[digest, auth, key-exchange, encryption]`, four COSE algorithm ids. On the legacy path a
/// draft-12 two-element `[auth, encryption]` (tamproto's `[-7, 1]`) is a deviation, read with
/// the unstated digest and key-exchange slots as 0 (a reserved COSE value: "not stated").
pub(super) fn read_suit_cose_profile(r: &mut Reader<'_>, n: Numbering) -> Result<SuitCoseProfile> {
    let len = r.array("SUIT COSE profile [digest, auth, key-exchange, encryption]")?;
    let slots: &[usize] = match len {
        4 => &[0, 1, 2, 3],
        2 if n == Numbering::Legacy => {
            r.note(&catalog::TEEP_SUIT_COSE_PROFILE_TWO_ELEMENTS)?;
            &[1, 3]
        }
        _ => {
            return Err(r.invalid(format!(
                "expected SUIT COSE profile [digest, auth, key-exchange, encryption] of 4 ints, got {len} elements"
            )))
        }
    };
    let mut p = [0i64; 4];
    for (i, &slot) in slots.iter().enumerate() {
        r.push(Seg::Index(i));
        p[slot] = r.int("int COSE algorithm")?;
        r.pop();
    }
    r.leave();
    Ok(SuitCoseProfile(p))
}

/// `err-code`: a code not defined in numbering `n` is a deviation (libteep sends
/// uninitialised memory); it stays [`ErrorCode::Unknown`] with its raw value, which receivers
/// handle as ERR_PERMANENT_ERROR.
pub(super) fn read_err_code(r: &mut Reader<'_>, n: Numbering) -> Result<ErrorCode> {
    let code = ErrorCode::from_value(r.uint("uint err-code")?, n);
    if let ErrorCode::Unknown(_) = code {
        r.note(&catalog::TEEP_ERR_CODE_UNDEFINED)?;
    }
    Ok(code)
}

/// A `manifest-list` entry, `bstr .cbor SUIT_Envelope`. A tagged envelope (tag 107, AttesTAM's
/// preloaded TC) is a deviation; the entry kept is the untagged envelope inside.
pub(super) fn read_manifest(r: &mut Reader<'_>) -> Result<Vec<u8>> {
    let b = r.bytes("bstr .cbor SUIT_Envelope")?;
    let t = check_embedded(r, b, "SUIT_Envelope")?;
    match t {
        Type::Map => Ok(b.to_vec()),
        Type::Tag => match untag_envelope(b) {
            Some(inner) => {
                r.note(&catalog::SUIT_ENVELOPE_TAGGED)?;
                Ok(inner.to_vec())
            }
            None => Err(r.invalid(
                "expected bstr .cbor SUIT_Envelope (an untagged map), got a tagged item other than SUIT_Envelope_Tagged (107) over a map",
            )),
        },
        _ => Err(r.invalid(
            "expected bstr .cbor SUIT_Envelope (an untagged map), got another CBOR type",
        )),
    }
}

/// The map inside `#6.107(map)`, or `None` for any other tag or content.
fn untag_envelope(b: &[u8]) -> Option<&[u8]> {
    let mut inner = teep_cbor::Reader::new(b);
    if inner.tag().ok()? != SUIT_ENVELOPE_TAG {
        return None;
    }
    let rest = b.get(inner.position()..)?;
    (rest.first()? >> 5 == 5).then_some(rest)
}

/// `ext-list`: `[]` is a deviation read as "supports no extension" (none is defined, so an
/// agent asked for its extensions has nothing else to send).
pub(super) fn read_ext_list(r: &mut Reader<'_>) -> Result<Vec<u32>> {
    let len = r.array("non-empty array")?;
    if len == 0 {
        r.note(&catalog::TEEP_EXT_LIST_EMPTY)?;
    }
    let mut out = Vec::with_capacity(r.capacity(len));
    for i in 0..len {
        r.push(Seg::Index(i as usize));
        out.push(read_u32(r)?);
        r.pop();
    }
    r.leave();
    Ok(out)
}

/// `tc-list`: `[]` (libteep) is a deviation read as "no Trusted Components".
pub(super) fn read_tc_list(r: &mut Reader<'_>) -> Result<Vec<SystemPropertyClaims>> {
    let len = r.array("non-empty array")?;
    if len == 0 {
        r.note(&catalog::TEEP_TC_LIST_EMPTY)?;
    }
    let mut out = Vec::with_capacity(r.capacity(len));
    for i in 0..len {
        r.push(Seg::Index(i as usize));
        out.push(read_system_property_claims(r)?);
        r.pop();
    }
    r.leave();
    Ok(out)
}

/// `SUIT_Component_Identifier = [* bstr]`.
pub(super) fn read_component_id(r: &mut Reader<'_>) -> Result<ComponentId> {
    let len = r.array("SUIT_Component_Identifier [* bstr]")?;
    let mut out = Vec::with_capacity(r.capacity(len));
    for i in 0..len {
        r.push(Seg::Index(i as usize));
        out.push(r.bytes("bstr")?.to_vec());
        r.pop();
    }
    r.leave();
    Ok(ComponentId::new(out))
}

/// `system-property-claims = { system-component-id(0) => SUIT_Component_Identifier,
/// + $$SUIT_Parameters }`.
pub(super) fn read_system_property_claims(r: &mut Reader<'_>) -> Result<SystemPropertyClaims> {
    let len = r.map("system-property-claims map")?;
    let mut component_id = None;
    let mut parameters = BTreeMap::new();
    for _ in 0..len {
        let key = r.int("int SUIT parameter label")?;
        if key == 0 {
            if component_id.is_some() {
                return Err(r.invalid("duplicate key 0 (system-component-id)"));
            }
            r.push(Seg::Name("component-id"));
            component_id = Some(read_component_id(r)?);
            r.pop();
        } else {
            if parameters.contains_key(&key) {
                let mut e = r.invalid(format!("duplicate SUIT parameter label {key}"));
                e.kind = DecodeErrorKind::Strictness;
                return Err(e);
            }
            r.push(Seg::Key(key as i128));
            let v = r.value()?;
            r.pop();
            parameters.insert(key, v);
        }
    }
    let Some(component_id) = component_id else {
        return Err(r.invalid("missing system-component-id (key 0)"));
    };
    if parameters.is_empty() {
        return Err(r.invalid("expected at least one SUIT parameter besides system-component-id (+ $$SUIT_Parameters)"));
    }
    r.leave();
    Ok(SystemPropertyClaims {
        component_id,
        parameters,
    })
}

/// `requested-tc-info`: component-id required, tc-manifest-sequence-number required when
/// have-binary is true.
pub(super) fn read_requested_tc_info(r: &mut Reader<'_>, n: Numbering) -> Result<RequestedTcInfo> {
    let len = r.map("requested-tc-info map")?;
    let mut info = RequestedTcInfo::default();
    let mut have_cid = false;
    let mut seen = Vec::new();
    for _ in 0..len {
        let key = r.uint("uint label")?;
        if seen.contains(&key) {
            let mut e = r.invalid(format!("duplicate label {key}"));
            e.kind = DecodeErrorKind::Strictness;
            return Err(e);
        }
        seen.push(key);
        match Label::from_value(key, n) {
            Some(Label::ComponentId) => {
                r.push(Seg::Name("component-id"));
                info.component_id = read_component_id(r)?;
                have_cid = true;
                r.pop();
            }
            Some(Label::TcManifestSequenceNumber) => {
                r.push(Seg::Name("tc-manifest-sequence-number"));
                info.tc_manifest_sequence_number = Some(r.uint("uint")?);
                r.pop();
            }
            Some(Label::HaveBinary) => {
                r.push(Seg::Name("have-binary"));
                info.have_binary = Some(r.bool("bool")?);
                r.pop();
            }
            _ => {
                return Err(r.invalid(format!(
                    "label {key} is not allowed in requested-tc-info ({} numbering)",
                    n.name()
                )))
            }
        }
    }
    if !have_cid {
        return Err(r.invalid("missing component-id"));
    }
    if info.have_binary == Some(true) && info.tc_manifest_sequence_number.is_none() {
        return Err(
            r.invalid("tc-manifest-sequence-number MUST be present when have-binary is true")
        );
    }
    r.leave();
    Ok(info)
}
