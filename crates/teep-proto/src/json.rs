//! JSON view of TEEP messages, for humans and for `teep msg encode`.
//!
//! Shape: `{"type": "query-request", "options": {...}, <positional fields by CDDL name>}`.
//! Labels and registry values appear by name (`"token"`, `"sign1-esp256"`,
//! `"ERR_MANIFEST_PROCESSING_FAILED"`); values without a name stay numbers (or the raw array
//! for cipher suites and profiles). Plain bstrs are hex strings. bstrs that carry CBOR
//! (manifest-list, suit-reports, attestation-payload) are `{"hex": ..., "decoded": ...}`;
//! `decoded` is for reading only and comes from a [`Render`] hook, so teep-suit can show
//! envelopes its own way. Options with unknown labels appear under their number as a string.
//!
//! Generic CBOR (unknown options, SUIT parameter values) uses a reversible mapping: integers
//! and text as JSON, bstr `{"hex": ...}`, map `{"map": [[k, v], ...]}`, tag
//! `{"tag": n, "value": v}`, float `{"float": x}`, other simple values `{"simple": n}`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};

use crate::cbor::Value;
use crate::error::JsonError;
use crate::model::*;
use crate::registry::*;

/// Hooks that render nested CBOR for reading. The defaults show generic CBOR-to-JSON.
pub trait Render {
    fn suit_envelope(&self, bytes: &[u8]) -> Option<Json> {
        generic_view(bytes)
    }
    fn suit_report(&self, bytes: &[u8]) -> Option<Json> {
        generic_view(bytes)
    }
    fn attestation_payload(&self, _format: Option<&str>, bytes: &[u8]) -> Option<Json> {
        generic_view(bytes)
    }
}

/// The default [`Render`]: generic CBOR-to-JSON of every nested item.
pub struct GenericRender;
impl Render for GenericRender {}

/// Generic view of bytes that hold one CBOR item; `None` if they do not.
pub fn generic_view(bytes: &[u8]) -> Option<Json> {
    if bytes.is_empty() {
        return None;
    }
    Value::from_slice(bytes).ok().map(|v| value_to_json(&v))
}

/// Reversible JSON form of a generic CBOR value.
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Integer(i) => {
            if let Ok(x) = i64::try_from(*i) {
                json!(x)
            } else if let Ok(x) = u64::try_from(*i) {
                json!(x)
            } else {
                json!({ "int": i.to_string() })
            }
        }
        Value::Bytes(b) => {
            let mut m = Map::new();
            m.insert("hex".into(), json!(hex::encode(b)));
            if let Some(d) = generic_view(b) {
                m.insert("decoded".into(), d);
            }
            Json::Object(m)
        }
        Value::Text(s) => json!(s),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => {
            json!({ "map": entries.iter().map(|(k, v)| json!([value_to_json(k), value_to_json(v)])).collect::<Vec<_>>() })
        }
        Value::Tag(t, inner) => json!({ "tag": t, "value": value_to_json(inner) }),
        Value::Bool(b) => json!(b),
        Value::Null => Json::Null,
        Value::Undefined => json!({ "simple": 23 }),
        Value::Simple(s) => json!({ "simple": s }),
        Value::Float(f) => json!({ "float": f }),
    }
}

/// Inverse of [`value_to_json`].
pub fn value_from_json(j: &Json, path: &str) -> Result<Value, JsonError> {
    Ok(match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Integer(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Value::Integer(i128::from(u))
            } else {
                return Err(JsonError::new(
                    path,
                    "expected an integer (floats are written {\"float\": x})",
                ));
            }
        }
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| value_from_json(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(o) => {
            if let Some(h) = o.get("hex") {
                Value::Bytes(hex_field(h, &format!("{path}.hex"))?)
            } else if let Some(Json::Array(entries)) = o.get("map") {
                let mut out = Vec::with_capacity(entries.len());
                for (i, e) in entries.iter().enumerate() {
                    let p = format!("{path}.map[{i}]");
                    match e.as_array().map(|a| a.as_slice()) {
                        Some([k, v]) => {
                            out.push((value_from_json(k, &p)?, value_from_json(v, &p)?))
                        }
                        _ => return Err(JsonError::new(p, "expected [key, value]")),
                    }
                }
                Value::Map(out)
            } else if let (Some(t), Some(v)) = (o.get("tag"), o.get("value")) {
                let t = t
                    .as_u64()
                    .ok_or_else(|| JsonError::new(format!("{path}.tag"), "expected uint"))?;
                Value::Tag(t, Box::new(value_from_json(v, &format!("{path}.value"))?))
            } else if let Some(f) = o.get("float") {
                Value::Float(
                    f.as_f64().ok_or_else(|| {
                        JsonError::new(format!("{path}.float"), "expected number")
                    })?,
                )
            } else if let Some(s) = o.get("simple") {
                match s.as_u64() {
                    Some(23) => Value::Undefined,
                    Some(n) if n <= 255 && !(20..=22).contains(&n) && !(24..=31).contains(&n) => {
                        Value::Simple(n as u8)
                    }
                    _ => {
                        return Err(JsonError::new(
                            format!("{path}.simple"),
                            "expected simple value 0..=19, 23 or 32..=255",
                        ))
                    }
                }
            } else if let Some(i) = o.get("int").and_then(Json::as_str) {
                let v: i128 = i.parse().map_err(|_| {
                    JsonError::new(format!("{path}.int"), "expected decimal integer")
                })?;
                if !(-(1i128 << 64)..(1i128 << 64)).contains(&v) {
                    return Err(JsonError::new(
                        format!("{path}.int"),
                        "integer outside the CBOR range",
                    ));
                }
                Value::Integer(v)
            } else {
                return Err(JsonError::new(
                    path,
                    "expected one of {hex}, {map}, {tag, value}, {float}, {simple}, {int}",
                ));
            }
        }
    })
}

fn hex_field(j: &Json, path: &str) -> Result<Vec<u8>, JsonError> {
    let s = j
        .as_str()
        .ok_or_else(|| JsonError::new(path, "expected hex string"))?;
    hex::decode(s).map_err(|e| JsonError::new(path, format!("expected hex string: {e}")))
}

/// Nested-CBOR bstr: accepts a hex string or `{"hex": ...}` (`decoded` is ignored).
fn nested_from_json(j: &Json, path: &str) -> Result<Vec<u8>, JsonError> {
    match j {
        Json::String(_) => hex_field(j, path),
        Json::Object(o) => match o.get("hex") {
            Some(h) => hex_field(h, &format!("{path}.hex")),
            None => Err(JsonError::new(path, "expected {\"hex\": ...}")),
        },
        _ => Err(JsonError::new(
            path,
            "expected hex string or {\"hex\": ...}",
        )),
    }
}

fn nested_to_json(bytes: &[u8], decoded: Option<Json>) -> Json {
    let mut m = Map::new();
    m.insert("hex".into(), json!(hex::encode(bytes)));
    if let Some(d) = decoded {
        m.insert("decoded".into(), d);
    }
    Json::Object(m)
}

fn suite_to_json(s: &CipherSuite) -> Json {
    match s.name() {
        Some(n) => json!(n),
        None => json!(s
            .operations()
            .iter()
            .map(|op| json!([op.cose_type, op.alg]))
            .collect::<Vec<_>>()),
    }
}

fn profile_to_json(p: &SuitCoseProfile) -> Json {
    match p.name() {
        Some(n) => json!(n),
        None => json!(p.0),
    }
}

fn freshness_to_json(f: &FreshnessMechanism) -> Json {
    match f.name() {
        Some(n) => json!(n),
        None => json!(f.value()),
    }
}

fn component_id_to_json(c: &ComponentId) -> Json {
    json!(c.iter().map(hex::encode).collect::<Vec<_>>())
}

fn err_code_to_json(c: ErrorCode) -> Json {
    match (c.name(), c) {
        (Some(n), _) => json!(n),
        (None, ErrorCode::Unknown(v)) => json!(v),
        (None, _) => Json::Null,
    }
}

fn tc_to_json(c: &SystemPropertyClaims) -> Json {
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

fn requested_to_json(i: &RequestedTcInfo) -> Json {
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

struct Opts<'r> {
    m: Map<String, Json>,
    render: &'r dyn Render,
}

impl Opts<'_> {
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
    fn bytes(&mut self, l: Label, v: &Option<Vec<u8>>) {
        self.put(l, v.as_ref().map(|b| json!(hex::encode(b))));
    }
    fn text(&mut self, l: Label, v: &Option<String>) {
        self.put(l, v.as_ref().map(|s| json!(s)));
    }
    fn reports(&mut self, v: &[Vec<u8>]) {
        let r = self.render;
        self.list(Label::SuitReports, v, |b| {
            nested_to_json(b, r.suit_report(b))
        });
    }
    fn attestation(&mut self, format: &Option<String>, payload: &Option<Vec<u8>>) {
        self.text(Label::AttestationPayloadFormat, format);
        let r = self.render;
        self.put(
            Label::AttestationPayload,
            payload
                .as_ref()
                .map(|b| nested_to_json(b, r.attestation_payload(format.as_deref(), b))),
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
    let mut o = Opts {
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
            o.attestation(&q.attestation_payload_format, &q.attestation_payload);
            o.reports(&q.suit_reports);
            top.insert("options".into(), o.finish(&q.unknown_options));
            top.insert(
                "supported-teep-cipher-suites".into(),
                Json::Array(
                    q.supported_cipher_suites
                        .iter()
                        .map(suite_to_json)
                        .collect(),
                ),
            );
            top.insert(
                "supported-suit-cose-profiles".into(),
                Json::Array(
                    q.supported_suit_cose_profiles
                        .iter()
                        .map(profile_to_json)
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
            o.attestation(&q.attestation_payload_format, &q.attestation_payload);
            o.reports(&q.suit_reports);
            o.list(Label::TcList, &q.tc_list, tc_to_json);
            o.list(
                Label::RequestedTcList,
                &q.requested_tc_list,
                requested_to_json,
            );
            o.list(
                Label::UnneededManifestList,
                &q.unneeded_manifest_list,
                component_id_to_json,
            );
            o.list(Label::ExtList, &q.ext_list, |v| json!(v));
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
                nested_to_json(b, r.suit_envelope(b))
            });
            o.attestation(&u.attestation_payload_format, &u.attestation_payload);
            o.put(Label::ErrCode, u.err_code.map(err_code_to_json));
            o.text(Label::ErrMsg, &u.err_msg);
            o.text(Label::ErrLang, &u.err_lang);
            top.insert("options".into(), o.finish(&u.unknown_options));
        }
        TeepMessage::Success(s) => {
            o.bytes(Label::Token, &s.token);
            o.text(Label::Msg, &s.msg);
            o.reports(&s.suit_reports);
            top.insert("options".into(), o.finish(&s.unknown_options));
        }
        TeepMessage::Error(e) => {
            o.bytes(Label::Token, &e.token);
            o.text(Label::ErrMsg, &e.err_msg);
            o.text(Label::ErrLang, &e.err_lang);
            o.list(
                Label::SupportedCipherSuites,
                &e.supported_cipher_suites,
                suite_to_json,
            );
            o.list(
                Label::SupportedFreshnessMechanisms,
                &e.supported_freshness_mechanisms,
                freshness_to_json,
            );
            o.list(
                Label::SupportedSuitCoseProfiles,
                &e.supported_suit_cose_profiles,
                profile_to_json,
            );
            o.bytes(Label::Challenge, &e.challenge);
            o.list(Label::Versions, &e.versions, |v| json!(v));
            o.reports(&e.suit_reports);
            top.insert("options".into(), o.finish(&e.unknown_options));
            top.insert("err-code".into(), err_code_to_json(e.err_code));
        }
    }
    Json::Object(top)
}

// ---------------------------------------------------------------------------------------
// JSON -> model

struct In<'a> {
    obj: &'a Map<String, Json>,
    path: String,
    used: Vec<&'a str>,
}

impl<'a> In<'a> {
    fn new(j: &'a Json, path: &str) -> Result<Self, JsonError> {
        let obj = j
            .as_object()
            .ok_or_else(|| JsonError::new(path, "expected object"))?;
        Ok(In {
            obj,
            path: path.to_string(),
            used: Vec::new(),
        })
    }
    fn p(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
    fn get(&mut self, key: &'a str) -> Option<&'a Json> {
        let v = self.obj.get(key);
        if v.is_some() {
            self.used.push(key);
        }
        v
    }
    fn bytes(&mut self, key: &'a str) -> Result<Option<Vec<u8>>, JsonError> {
        let p = self.p(key);
        self.get(key).map(|j| hex_field(j, &p)).transpose()
    }
    fn nested(&mut self, key: &'a str) -> Result<Option<Vec<u8>>, JsonError> {
        let p = self.p(key);
        self.get(key).map(|j| nested_from_json(j, &p)).transpose()
    }
    fn text(&mut self, key: &'a str) -> Result<Option<String>, JsonError> {
        let p = self.p(key);
        self.get(key)
            .map(|j| {
                j.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| JsonError::new(p, "expected string"))
            })
            .transpose()
    }
    fn uint(&mut self, key: &'a str) -> Result<Option<u64>, JsonError> {
        let p = self.p(key);
        self.get(key)
            .map(|j| j.as_u64().ok_or_else(|| JsonError::new(p, "expected uint")))
            .transpose()
    }
    fn list<T>(
        &mut self,
        key: &'a str,
        f: impl Fn(&Json, &str) -> Result<T, JsonError>,
    ) -> Result<Vec<T>, JsonError> {
        let p = self.p(key);
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, j)| f(j, &format!("{p}[{i}]")))
                .collect(),
            Some(_) => Err(JsonError::new(p, "expected array")),
        }
    }
    /// Remaining keys: numeric ones are unknown options, anything else is a mistake.
    fn unknown(&self) -> Result<UnknownOptions, JsonError> {
        let mut out = BTreeMap::new();
        for (k, v) in self.obj {
            if self.used.contains(&k.as_str()) {
                continue;
            }
            match k.parse::<u64>() {
                Ok(label) => {
                    out.insert(label, value_from_json(v, &self.p(k))?);
                }
                Err(_) => {
                    return Err(JsonError::new(
                        self.p(k),
                        "unknown field for this message type",
                    ))
                }
            }
        }
        Ok(out)
    }
    fn deny_unknown(&self) -> Result<(), JsonError> {
        for k in self.obj.keys() {
            if !self.used.contains(&k.as_str()) {
                return Err(JsonError::new(self.p(k), "unknown field"));
            }
        }
        Ok(())
    }
}

fn u32_from_json(j: &Json, p: &str) -> Result<u32, JsonError> {
    j.as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| JsonError::new(p, "expected uint .size 4"))
}

fn suite_from_json(j: &Json, p: &str) -> Result<CipherSuite, JsonError> {
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

fn profile_from_json(j: &Json, p: &str) -> Result<SuitCoseProfile, JsonError> {
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

fn freshness_from_json(j: &Json, p: &str) -> Result<FreshnessMechanism, JsonError> {
    if let Some(name) = j.as_str() {
        return FreshnessMechanism::from_name(name)
            .ok_or_else(|| JsonError::new(p, format!("unknown freshness mechanism {name:?}")));
    }
    j.as_u64()
        .map(FreshnessMechanism::from_value)
        .ok_or_else(|| JsonError::new(p, "expected name or uint"))
}

fn err_code_from_json(j: &Json, p: &str, n: Numbering) -> Result<ErrorCode, JsonError> {
    if let Some(name) = j.as_str() {
        return ErrorCode::from_name(name)
            .ok_or_else(|| JsonError::new(p, format!("unknown error code name {name:?}")));
    }
    // A number is taken as a wire value of the numbering the document is meant for.
    j.as_u64()
        .map(|v| ErrorCode::from_value(v, n))
        .ok_or_else(|| JsonError::new(p, "expected ERR_* name or uint"))
}

fn component_id_from_json(j: &Json, p: &str) -> Result<ComponentId, JsonError> {
    let items = j
        .as_array()
        .ok_or_else(|| JsonError::new(p, "expected array of hex strings"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, b)| hex_field(b, &format!("{p}[{i}]")))
        .collect()
}

fn tc_from_json(j: &Json, p: &str) -> Result<SystemPropertyClaims, JsonError> {
    let mut o = In::new(j, p)?;
    let cid = o
        .get("component-id")
        .ok_or_else(|| JsonError::new(o.p("component-id"), "missing"))?;
    let component_id = component_id_from_json(cid, &o.p("component-id"))?;
    let mut parameters = BTreeMap::new();
    for (k, v) in o.obj {
        if k == "component-id" {
            continue;
        }
        let label = suit_parameter_from_name(k)
            .or_else(|| k.parse::<i64>().ok())
            .ok_or_else(|| JsonError::new(o.p(k), "unknown SUIT parameter name"))?;
        parameters.insert(label, value_from_json(v, &o.p(k))?);
    }
    Ok(SystemPropertyClaims {
        component_id,
        parameters,
    })
}

fn requested_from_json(j: &Json, p: &str) -> Result<RequestedTcInfo, JsonError> {
    let mut o = In::new(j, p)?;
    let cid = o
        .get("component-id")
        .ok_or_else(|| JsonError::new(o.p("component-id"), "missing"))?;
    let component_id = component_id_from_json(cid, &o.p("component-id"))?;
    let tc_manifest_sequence_number = o.uint("tc-manifest-sequence-number")?;
    let have_binary = match o.get("have-binary") {
        None => None,
        Some(Json::Bool(b)) => Some(*b),
        Some(_) => return Err(JsonError::new(o.p("have-binary"), "expected bool")),
    };
    o.deny_unknown()?;
    Ok(RequestedTcInfo {
        component_id,
        tc_manifest_sequence_number,
        have_binary,
    })
}

/// Build a message from its JSON view. Numbers given for error codes are read in numbering
/// `n`. The result is checked by encoding and strictly decoding it, so every CDDL rule
/// applies; the error then names the CBOR path.
pub fn from_json_in(j: &Json, n: Numbering) -> Result<TeepMessage, JsonError> {
    let mut top = In::new(j, "")?;
    let t = top
        .text("type")?
        .ok_or_else(|| JsonError::new("type", "missing"))?;
    let t = MessageType::from_cddl_name(&t)
        .ok_or_else(|| JsonError::new("type", format!("unknown message type {t:?}")))?;
    let empty = json!({});
    let opts_json = top.get("options").unwrap_or(&empty);
    let mut o = In::new(opts_json, "options")?;
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
                attestation_payload: o.nested("attestation-payload")?,
                suit_reports: o.list("suit-reports", nested_from_json)?,
                supported_cipher_suites: top
                    .list("supported-teep-cipher-suites", suite_from_json)?,
                supported_suit_cose_profiles: top
                    .list("supported-suit-cose-profiles", profile_from_json)?,
                data_item_requested: {
                    let p = top.p("data-item-requested");
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
                unknown_options: o.unknown()?,
            };
            TeepMessage::QueryRequest(m)
        }
        MessageType::QueryResponse => TeepMessage::QueryResponse(QueryResponse {
            token,
            selected_version: {
                let p = o.p("selected-version");
                o.get("selected-version")
                    .map(|j| u32_from_json(j, &p))
                    .transpose()?
            },
            attestation_payload_format: o.text("attestation-payload-format")?,
            attestation_payload: o.nested("attestation-payload")?,
            suit_reports: o.list("suit-reports", nested_from_json)?,
            tc_list: o.list("tc-list", tc_from_json)?,
            requested_tc_list: o.list("requested-tc-list", requested_from_json)?,
            unneeded_manifest_list: o.list("unneeded-manifest-list", component_id_from_json)?,
            ext_list: o.list("ext-list", u32_from_json)?,
            unknown_options: o.unknown()?,
        }),
        MessageType::Update => TeepMessage::Update(Update {
            token,
            unneeded_manifest_list: o.list("unneeded-manifest-list", component_id_from_json)?,
            manifest_list: o.list("manifest-list", nested_from_json)?,
            attestation_payload_format: o.text("attestation-payload-format")?,
            attestation_payload: o.nested("attestation-payload")?,
            err_code: {
                let p = o.p("err-code");
                o.get("err-code")
                    .map(|j| err_code_from_json(j, &p, n))
                    .transpose()?
            },
            err_msg: o.text("err-msg")?,
            err_lang: o.text("err-lang")?,
            unknown_options: o.unknown()?,
        }),
        MessageType::Success => TeepMessage::Success(Success {
            token,
            msg: o.text("msg")?,
            suit_reports: o.list("suit-reports", nested_from_json)?,
            unknown_options: o.unknown()?,
        }),
        MessageType::Error => {
            let code = top
                .get("err-code")
                .ok_or_else(|| JsonError::new("err-code", "missing"))?;
            TeepMessage::Error(ErrorMessage {
                token,
                err_msg: o.text("err-msg")?,
                err_lang: o.text("err-lang")?,
                supported_cipher_suites: o.list("supported-teep-cipher-suites", suite_from_json)?,
                supported_freshness_mechanisms: o
                    .list("supported-freshness-mechanisms", freshness_from_json)?,
                supported_suit_cose_profiles: o
                    .list("supported-suit-cose-profiles", profile_from_json)?,
                challenge: o.bytes("challenge")?,
                versions: o.list("versions", u32_from_json)?,
                suit_reports: o.list("suit-reports", nested_from_json)?,
                err_code: err_code_from_json(code, "err-code", n)?,
                unknown_options: o.unknown()?,
            })
        }
    };
    top.deny_unknown()?;
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

impl TeepMessage {
    /// JSON view with generic rendering of nested CBOR.
    pub fn to_json(&self) -> Json {
        to_json_with(self, &GenericRender)
    }

    /// Message from its JSON view (error-code numbers read as draft -26 values).
    pub fn from_json(v: &Json) -> Result<Self, JsonError> {
        from_json_in(v, Numbering::Draft26)
    }
}
