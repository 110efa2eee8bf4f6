//! JSON view -> model, checked by the strict decoder.

use alloc::format;

use serde_json::{json, Value as Json};

use super::generic::embedded_cbor_from_json;
use super::items::{
    cipher_suite_from_json, component_id_from_json, err_code_from_json, freshness_from_json,
    requested_tc_info_from_json, suit_cose_profile_from_json, system_property_claims_from_json,
    u32_from_json,
};
use super::object_reader::ObjectReader;
use crate::error::JsonError;
use crate::model::{ErrorMessage, QueryRequest, QueryResponse, Success, TeepMessage, Update};
use crate::registry::{DataItems, Label, MessageType, Numbering};

/// Build a message from its JSON view. Numbers given for error codes are read in numbering
/// `n`. The result is checked by encoding and strictly decoding it, so every CDDL rule
/// applies; the error then names the CBOR path.
pub fn from_json_in(j: &Json, n: Numbering) -> Result<TeepMessage, JsonError> {
    let mut top = ObjectReader::new(j, "")?;
    let t = top
        .text("type")?
        .ok_or_else(|| JsonError::new("type", "missing"))?;
    let t = MessageType::from_cddl_name(&t)
        .ok_or_else(|| JsonError::new("type", format!("unknown message type {t:?}")))?;
    let empty = json!({});
    let opts_json = top.get("options").unwrap_or(&empty);
    let mut o = ObjectReader::new(opts_json, "options")?;
    let token = o.bytes("token")?;
    let msg = match t {
        MessageType::QueryRequest => {
            let m = QueryRequest {
                token,
                supported_freshness_mechanisms: o
                    .list("supported-freshness-mechanisms", freshness_from_json)?,
                challenge: o.bytes("challenge")?,
                versions: o.list("versions", u32_from_json)?,
                attestation_payload_format: o.text("attestation-payload-format")?,
                attestation_payload: o.embedded_cbor("attestation-payload")?,
                suit_reports: o.list("suit-reports", embedded_cbor_from_json)?,
                supported_cipher_suites: top
                    .list("supported-teep-cipher-suites", cipher_suite_from_json)?,
                supported_suit_cose_profiles: top
                    .list("supported-suit-cose-profiles", suit_cose_profile_from_json)?,
                data_item_requested: {
                    let p = top.path_of("data-item-requested");
                    match top.get("data-item-requested") {
                        None => DataItems(0),
                        Some(Json::Number(v)) => DataItems(
                            v.as_u64()
                                .ok_or_else(|| JsonError::new(&p, "expected uint"))?,
                        ),
                        Some(Json::Array(items)) => {
                            let mut bits = 0u64;
                            for (i, it) in items.iter().enumerate() {
                                bits |= match it {
                                    Json::String(s) => {
                                        DataItems::bit_from_name(s).ok_or_else(|| {
                                            JsonError::new(
                                                format!("{p}[{i}]"),
                                                format!("unknown data item {s:?}"),
                                            )
                                        })?
                                    }
                                    _ => it.as_u64().ok_or_else(|| {
                                        JsonError::new(
                                            format!("{p}[{i}]"),
                                            "expected name or bit value",
                                        )
                                    })?,
                                };
                            }
                            DataItems(bits)
                        }
                        Some(_) => {
                            return Err(JsonError::new(
                                p,
                                "expected array of data item names or uint",
                            ))
                        }
                    }
                },
                unknown_options: o.unknown_options()?,
            };
            TeepMessage::QueryRequest(m)
        }
        MessageType::QueryResponse => TeepMessage::QueryResponse(QueryResponse {
            token,
            selected_version: {
                let p = o.path_of("selected-version");
                o.get("selected-version")
                    .map(|j| u32_from_json(j, &p))
                    .transpose()?
            },
            attestation_payload_format: o.text("attestation-payload-format")?,
            attestation_payload: o.embedded_cbor("attestation-payload")?,
            suit_reports: o.list("suit-reports", embedded_cbor_from_json)?,
            tc_list: o.list_present("tc-list", system_property_claims_from_json)?,
            requested_tc_list: o.list("requested-tc-list", requested_tc_info_from_json)?,
            unneeded_manifest_list: o.list("unneeded-manifest-list", component_id_from_json)?,
            ext_list: o.list_present("ext-list", u32_from_json)?,
            unknown_options: o.unknown_options()?,
        }),
        MessageType::Update => TeepMessage::Update(Update {
            token,
            unneeded_manifest_list: o.list("unneeded-manifest-list", component_id_from_json)?,
            manifest_list: o.list("manifest-list", embedded_cbor_from_json)?,
            attestation_payload_format: o.text("attestation-payload-format")?,
            attestation_payload: o.embedded_cbor("attestation-payload")?,
            err_code: {
                let p = o.path_of("err-code");
                o.get("err-code")
                    .map(|j| err_code_from_json(j, &p, n))
                    .transpose()?
            },
            err_msg: o.text("err-msg")?,
            err_lang: o.text("err-lang")?,
            unknown_options: o.unknown_options()?,
        }),
        MessageType::Success => TeepMessage::Success(Success {
            token,
            msg: o.text("msg")?,
            suit_reports: o.list("suit-reports", embedded_cbor_from_json)?,
            unknown_options: o.unknown_options()?,
        }),
        MessageType::Error => {
            let code = top
                .get("err-code")
                .ok_or_else(|| JsonError::new("err-code", "missing"))?;
            TeepMessage::Error(ErrorMessage {
                token,
                err_msg: o.text("err-msg")?,
                err_lang: o.text("err-lang")?,
                supported_cipher_suites: o
                    .list("supported-teep-cipher-suites", cipher_suite_from_json)?,
                supported_freshness_mechanisms: o
                    .list("supported-freshness-mechanisms", freshness_from_json)?,
                supported_suit_cose_profiles: o
                    .list("supported-suit-cose-profiles", suit_cose_profile_from_json)?,
                challenge: o.bytes("challenge")?,
                versions: o.list("versions", u32_from_json)?,
                suit_reports: o.list("suit-reports", embedded_cbor_from_json)?,
                err_code: err_code_from_json(code, "err-code", n)?,
                unknown_options: o.unknown_options()?,
            })
        }
    };
    top.deny_unused_fields()?;
    if let Some(k) = msg
        .unknown_options()
        .keys()
        .find(|k| Label::from_value(**k, n).is_some())
    {
        return Err(JsonError::new(
            format!("options.{k}"),
            format!("label {k} is a known label in {n} numbering: use its name"),
        ));
    }
    // Validate through the strict decoder so JSON input obeys exactly the wire rules.
    let bytes = msg.encode(n);
    crate::codec::decode(&bytes, n)
        .map(|_| ())
        .map_err(|e| JsonError::new(e.path.clone(), e.rule.clone()))?;
    Ok(msg)
}
