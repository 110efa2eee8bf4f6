//! JSON forms of registry values (by name where they have one) and of the structured items of
//! the options (component ids, `tc-list` and `requested-tc-list` entries), both directions.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use serde_json::{json, Map, Value as Json};

use super::generic::{hex_from_json, value_from_json, value_to_json};
use super::object_reader::ObjectReader;
use crate::error::JsonError;
use crate::model::{ComponentId, RequestedTcInfo, SystemPropertyClaims};
use crate::registry::{
    suit_parameter_from_name, suit_parameter_name, CipherOperation, CipherSuite, ErrorCode,
    FreshnessMechanism, Numbering, SuitCoseProfile,
};

pub(super) fn cipher_suite_to_json(s: &CipherSuite) -> Json {
    match s.name() {
        Some(n) => json!(n),
        None => json!(s
            .operations()
            .iter()
            .map(|op| json!([op.cose_type, op.alg]))
            .collect::<Vec<_>>()),
    }
}

pub(super) fn suit_cose_profile_to_json(p: &SuitCoseProfile) -> Json {
    match p.name() {
        Some(n) => json!(n),
        None => json!(p.0),
    }
}

pub(super) fn freshness_to_json(f: &FreshnessMechanism) -> Json {
    match f.name() {
        Some(n) => json!(n),
        None => json!(f.value()),
    }
}

/// The one text form of a component id (`['TEEP-Device', 'SecureFS', h'8d82…', 'ta']`),
/// as the drafts write them: printable segments read as text.
pub(super) fn component_id_to_json(c: &ComponentId) -> Json {
    json!(c.to_string())
}

pub(super) fn err_code_to_json(c: ErrorCode) -> Json {
    match (c.name(), c) {
        (Some(n), _) => json!(n),
        (None, ErrorCode::Unknown(v)) => json!(v),
        (None, _) => Json::Null,
    }
}

pub(super) fn system_property_claims_to_json(c: &SystemPropertyClaims) -> Json {
    let mut m = Map::new();
    m.insert("component-id".into(), component_id_to_json(&c.component_id));
    for (k, v) in &c.parameters {
        let key = suit_parameter_name(*k)
            .map(str::to_string)
            .unwrap_or_else(|| k.to_string());
        m.insert(key, value_to_json(v));
    }
    Json::Object(m)
}

pub(super) fn requested_tc_info_to_json(i: &RequestedTcInfo) -> Json {
    let mut m = Map::new();
    m.insert("component-id".into(), component_id_to_json(&i.component_id));
    if let Some(s) = i.tc_manifest_sequence_number {
        m.insert("tc-manifest-sequence-number".into(), json!(s));
    }
    if let Some(b) = i.have_binary {
        m.insert("have-binary".into(), json!(b));
    }
    Json::Object(m)
}

pub(super) fn u32_from_json(j: &Json, p: &str) -> Result<u32, JsonError> {
    j.as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| JsonError::new(p, "expected uint .size 4"))
}

pub(super) fn cipher_suite_from_json(j: &Json, p: &str) -> Result<CipherSuite, JsonError> {
    if let Some(name) = j.as_str() {
        return CipherSuite::from_name(name)
            .ok_or_else(|| JsonError::new(p, format!("unknown cipher suite name {name:?}")));
    }
    let ops = j.as_array().ok_or_else(|| {
        JsonError::new(p, "expected cipher suite name or [[cose-type, alg], ...]")
    })?;
    let ops = ops
        .iter()
        .enumerate()
        .map(|(i, op)| match op.as_array().map(|a| a.as_slice()) {
            Some([t, a]) => match (t.as_i64(), a.as_i64()) {
                (Some(cose_type), Some(alg)) => Ok(CipherOperation { cose_type, alg }),
                _ => Err(JsonError::new(format!("{p}[{i}]"), "expected [int, int]")),
            },
            _ => Err(JsonError::new(
                format!("{p}[{i}]"),
                "expected [cose-type, cose-alg]",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CipherSuite::new(ops))
}

pub(super) fn suit_cose_profile_from_json(j: &Json, p: &str) -> Result<SuitCoseProfile, JsonError> {
    if let Some(name) = j.as_str() {
        return SuitCoseProfile::from_name(name)
            .ok_or_else(|| JsonError::new(p, format!("unknown SUIT COSE profile {name:?}")));
    }
    match j
        .as_array()
        .map(|a| a.iter().map(Json::as_i64).collect::<Option<Vec<_>>>())
    {
        Some(Some(v)) if v.len() == 4 => Ok(SuitCoseProfile([v[0], v[1], v[2], v[3]])),
        _ => Err(JsonError::new(
            p,
            "expected profile name or [digest, auth, key-exchange, encryption]",
        )),
    }
}

pub(super) fn freshness_from_json(j: &Json, p: &str) -> Result<FreshnessMechanism, JsonError> {
    if let Some(name) = j.as_str() {
        return FreshnessMechanism::from_name(name)
            .ok_or_else(|| JsonError::new(p, format!("unknown freshness mechanism {name:?}")));
    }
    j.as_u64()
        .map(FreshnessMechanism::from_value)
        .ok_or_else(|| JsonError::new(p, "expected name or uint"))
}

pub(super) fn err_code_from_json(j: &Json, p: &str, n: Numbering) -> Result<ErrorCode, JsonError> {
    if let Some(name) = j.as_str() {
        return ErrorCode::from_name(name)
            .ok_or_else(|| JsonError::new(p, format!("unknown error code name {name:?}")));
    }
    // A number is taken as a wire value of the numbering the document is meant for.
    j.as_u64()
        .map(|v| ErrorCode::from_value(v, n))
        .ok_or_else(|| JsonError::new(p, "expected ERR_* name or uint"))
}

/// A component id in its text form, or (as earlier views wrote it) an array of hex strings.
pub(super) fn component_id_from_json(j: &Json, p: &str) -> Result<ComponentId, JsonError> {
    if let Some(text) = j.as_str() {
        return ComponentId::parse(text).map_err(|e| JsonError::new(p, e.to_string()));
    }
    let items = j.as_array().ok_or_else(|| {
        JsonError::new(
            p,
            "expected a component id (['TEEP-Device', h'…']) or an array of hex strings",
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, b)| hex_from_json(b, &format!("{p}[{i}]")))
        .collect()
}

pub(super) fn system_property_claims_from_json(
    j: &Json,
    p: &str,
) -> Result<SystemPropertyClaims, JsonError> {
    let mut o = ObjectReader::new(j, p)?;
    let cid = o
        .get("component-id")
        .ok_or_else(|| JsonError::new(o.path_of("component-id"), "missing"))?;
    let component_id = component_id_from_json(cid, &o.path_of("component-id"))?;
    let mut parameters = BTreeMap::new();
    for (k, v) in o.obj {
        if k == "component-id" {
            continue;
        }
        let label = suit_parameter_from_name(k)
            .or_else(|| k.parse::<i64>().ok())
            .ok_or_else(|| JsonError::new(o.path_of(k), "unknown SUIT parameter name"))?;
        parameters.insert(label, value_from_json(v, &o.path_of(k))?);
    }
    Ok(SystemPropertyClaims {
        component_id,
        parameters,
    })
}

pub(super) fn requested_tc_info_from_json(j: &Json, p: &str) -> Result<RequestedTcInfo, JsonError> {
    let mut o = ObjectReader::new(j, p)?;
    let cid = o
        .get("component-id")
        .ok_or_else(|| JsonError::new(o.path_of("component-id"), "missing"))?;
    let component_id = component_id_from_json(cid, &o.path_of("component-id"))?;
    let tc_manifest_sequence_number = o.uint("tc-manifest-sequence-number")?;
    let have_binary = match o.get("have-binary") {
        None => None,
        Some(Json::Bool(b)) => Some(*b),
        Some(_) => return Err(JsonError::new(o.path_of("have-binary"), "expected bool")),
    };
    o.deny_unused_fields()?;
    Ok(RequestedTcInfo {
        component_id,
        tc_manifest_sequence_number,
        have_binary,
    })
}
