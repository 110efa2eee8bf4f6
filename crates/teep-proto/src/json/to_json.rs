//! Model -> JSON view.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{json, Map, Value as Json};

use super::generic::{embedded_cbor_to_json, value_to_json};
use super::items::{
    cipher_suite_to_json, component_id_to_json, err_code_to_json, freshness_to_json,
    requested_tc_info_to_json, suit_cose_profile_to_json, system_property_claims_to_json,
};
use super::Render;
use crate::model::{TeepMessage, UnknownOptions};
use crate::registry::Label;

/// The options object being built, with the hooks for nested CBOR.
struct OptionsView<'r> {
    m: Map<String, Json>,
    render: &'r dyn Render,
}

impl OptionsView<'_> {
    fn put(&mut self, l: Label, v: Option<Json>) {
        if let Some(v) = v {
            self.m.insert(l.name().into(), v);
        }
    }
    fn list<T>(&mut self, l: Label, v: &[T], f: impl Fn(&T) -> Json) {
        if !v.is_empty() {
            self.m
                .insert(l.name().into(), Json::Array(v.iter().map(f).collect()));
        }
    }
    /// A list that is written when present, even empty.
    fn list_present<T>(&mut self, l: Label, v: &Option<Vec<T>>, f: impl Fn(&T) -> Json) {
        if let Some(v) = v {
            self.m
                .insert(l.name().into(), Json::Array(v.iter().map(f).collect()));
        }
    }
    fn bytes(&mut self, l: Label, v: &Option<Vec<u8>>) {
        self.put(l, v.as_ref().map(|b| json!(hex::encode(b))));
    }
    fn text(&mut self, l: Label, v: &Option<String>) {
        self.put(l, v.as_ref().map(|s| json!(s)));
    }
    fn suit_reports(&mut self, v: &[Vec<u8>]) {
        let r = self.render;
        self.list(Label::SuitReports, v, |b| {
            embedded_cbor_to_json(b, r.suit_report(b))
        });
    }
    fn attestation_payload(&mut self, format: &Option<String>, payload: &Option<Vec<u8>>) {
        self.text(Label::AttestationPayloadFormat, format);
        let r = self.render;
        self.put(
            Label::AttestationPayload,
            payload
                .as_ref()
                .map(|b| embedded_cbor_to_json(b, r.attestation_payload(format.as_deref(), b))),
        );
    }
    fn finish(mut self, unknown: &UnknownOptions) -> Json {
        for (k, v) in unknown {
            self.m.insert(k.to_string(), value_to_json(v));
        }
        Json::Object(self.m)
    }
}

/// JSON view of `msg`, rendering nested CBOR with `render`.
pub fn to_json_with(msg: &TeepMessage, render: &dyn Render) -> Json {
    let mut top = Map::new();
    top.insert("type".into(), json!(msg.message_type().cddl_name()));
    let mut o = OptionsView {
        m: Map::new(),
        render,
    };
    match msg {
        TeepMessage::QueryRequest(q) => {
            o.bytes(Label::Token, &q.token);
            o.list(
                Label::SupportedFreshnessMechanisms,
                &q.supported_freshness_mechanisms,
                freshness_to_json,
            );
            o.bytes(Label::Challenge, &q.challenge);
            o.list(Label::Versions, &q.versions, |v| json!(v));
            o.attestation_payload(&q.attestation_payload_format, &q.attestation_payload);
            o.suit_reports(&q.suit_reports);
            top.insert("options".into(), o.finish(&q.unknown_options));
            top.insert(
                "supported-teep-cipher-suites".into(),
                Json::Array(
                    q.supported_cipher_suites
                        .iter()
                        .map(cipher_suite_to_json)
                        .collect(),
                ),
            );
            top.insert(
                "supported-suit-cose-profiles".into(),
                Json::Array(
                    q.supported_suit_cose_profiles
                        .iter()
                        .map(suit_cose_profile_to_json)
                        .collect(),
                ),
            );
            let bits = q.data_item_requested.names().into_iter().map(|b| match b {
                Ok(n) => json!(n),
                Err(v) => json!(v),
            });
            top.insert("data-item-requested".into(), Json::Array(bits.collect()));
        }
        TeepMessage::QueryResponse(q) => {
            o.bytes(Label::Token, &q.token);
            o.put(Label::SelectedVersion, q.selected_version.map(|v| json!(v)));
            o.attestation_payload(&q.attestation_payload_format, &q.attestation_payload);
            o.suit_reports(&q.suit_reports);
            o.list_present(Label::TcList, &q.tc_list, system_property_claims_to_json);
            o.list(
                Label::RequestedTcList,
                &q.requested_tc_list,
                requested_tc_info_to_json,
            );
            o.list(
                Label::UnneededManifestList,
                &q.unneeded_manifest_list,
                component_id_to_json,
            );
            o.list_present(Label::ExtList, &q.ext_list, |v| json!(v));
            top.insert("options".into(), o.finish(&q.unknown_options));
        }
        TeepMessage::Update(u) => {
            o.bytes(Label::Token, &u.token);
            o.list(
                Label::UnneededManifestList,
                &u.unneeded_manifest_list,
                component_id_to_json,
            );
            let r = o.render;
            o.list(Label::ManifestList, &u.manifest_list, |b| {
                embedded_cbor_to_json(b, r.suit_envelope(b))
            });
            o.attestation_payload(&u.attestation_payload_format, &u.attestation_payload);
            o.put(Label::ErrCode, u.err_code.map(err_code_to_json));
            o.text(Label::ErrMsg, &u.err_msg);
            o.text(Label::ErrLang, &u.err_lang);
            top.insert("options".into(), o.finish(&u.unknown_options));
        }
        TeepMessage::Success(s) => {
            o.bytes(Label::Token, &s.token);
            o.text(Label::Msg, &s.msg);
            o.suit_reports(&s.suit_reports);
            top.insert("options".into(), o.finish(&s.unknown_options));
        }
        TeepMessage::Error(e) => {
            o.bytes(Label::Token, &e.token);
            o.text(Label::ErrMsg, &e.err_msg);
            o.text(Label::ErrLang, &e.err_lang);
            o.list(
                Label::SupportedCipherSuites,
                &e.supported_cipher_suites,
                cipher_suite_to_json,
            );
            o.list(
                Label::SupportedFreshnessMechanisms,
                &e.supported_freshness_mechanisms,
                freshness_to_json,
            );
            o.list(
                Label::SupportedSuitCoseProfiles,
                &e.supported_suit_cose_profiles,
                suit_cose_profile_to_json,
            );
            o.bytes(Label::Challenge, &e.challenge);
            o.list(Label::Versions, &e.versions, |v| json!(v));
            o.suit_reports(&e.suit_reports);
            top.insert("options".into(), o.finish(&e.unknown_options));
            top.insert("err-code".into(), err_code_to_json(e.err_code));
        }
    }
    Json::Object(top)
}
