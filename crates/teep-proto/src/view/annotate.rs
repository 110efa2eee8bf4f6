//! CBOR diagnostic notation (RFC 8949 §8, with the `<< >>` and `'text'` of RFC 8610
//! Appendix G) annotated with the names of what each item is: `/ manifest-list / 10: [<< … >>]`.
//! The bytes and their meaning side by side, for `teep msg decode --format diag`.
//!
//! The walk knows the layout of TEEP messages, COSE_Sign1/COSE_Sign, SUIT envelopes,
//! manifests, command sequences and parameters, SUIT reports and EAT claims. Byte strings
//! that the layout says carry CBOR are opened as `<< >>`; when they do not hold exactly one
//! item they stay `h'…'`. Items are shown as decoded: definite lengths, shortest integers,
//! map entries in deterministic order; the same data items, not always the same bytes.

use alloc::format;
use alloc::string::String;

use crate::cbor::Value;
use crate::registry::{
    CipherOperation, CipherSuite, Label, MessageType, Numbering, SuitCoseProfile,
};
use crate::ErrorCode;
use teep_cose::Algorithm;
use teep_suit::model::{CommandCode, DigestAlgorithm};

/// What an item is, as far as the walk knows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Any,
    Message,
    Options(MessageType),
    CipherSuites,
    SuitCoseProfiles,
    ComponentIds,
    ComponentId,
    TcList,
    RequestedTcList,
    ManifestList,
    Envelope,
    AuthWrapper,
    Manifest,
    Common,
    CommandSequence,
    TryEach,
    Parameters,
    Digest,
    Reports,
    Report,
    Eat,
    /// COSE_Sign1 or COSE_Sign; the context of the payload.
    Cose(&'static Ctx),
    HeaderMap,
    Cnf,
    CoseKey,
}

/// The annotated notation of a TEEP message (bare or COSE-wrapped) in `numbering`.
pub fn annotate_message(bytes: &[u8], numbering: Numbering) -> Option<String> {
    let v = Value::from_slice(bytes).ok()?;
    let mut w = Writer {
        out: String::new(),
        numbering,
        nesting: 0,
    };
    let ctx = if super::looks_like_cose(bytes) {
        Ctx::Cose(&Ctx::Message)
    } else {
        Ctx::Message
    };
    w.item(&v, ctx, 0);
    Some(w.out)
}

/// Names an item of a list (a cipher suite, a SUIT COSE profile).
type ValueNamer = fn(&Value) -> Option<String>;

struct Writer {
    out: String,
    numbering: Numbering,
    /// Items being written, `<< >>` and tags included: bounds the walk however the
    /// nesting is built.
    nesting: usize,
}

fn comment(name: &str) -> String {
    // A `/` inside would end the comment early.
    format!("/ {} / ", name.replace('/', "∕"))
}

fn printable(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|c| (0x20..0x7f).contains(c) && *c != b'\'' && *c != b'\\')
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

/// The name of a value where the context gives one (message type, algorithm, command …).
fn value_name(v: &Value, ctx: Ctx, key: Option<i64>) -> Option<String> {
    let n = as_i64(v)?;
    match (ctx, key) {
        (Ctx::HeaderMap, Some(1)) => {
            let a = Algorithm::from_cose(n);
            (a.name() != "unknown").then(|| a.name().into())
        }
        (Ctx::CoseKey, Some(1)) => Some(
            match n {
                1 => "OKP",
                2 => "EC2",
                4 => "Symmetric",
                _ => return None,
            }
            .into(),
        ),
        (Ctx::CoseKey, Some(-1)) => Some(
            match n {
                1 => "P-256",
                2 => "P-384",
                3 => "P-521",
                4 => "X25519",
                6 => "Ed25519",
                _ => return None,
            }
            .into(),
        ),
        (Ctx::CoseKey, Some(3)) => {
            let a = Algorithm::from_cose(n);
            (a.name() != "unknown").then(|| a.name().into())
        }
        (Ctx::Digest, None) => {
            let d = DigestAlgorithm::from_cose(n);
            (d.name() != "unknown").then(|| d.name().into())
        }
        _ => None,
    }
}

/// RFC 9052 §7.1 and RFC 9053 §7: the COSE_Key labels of EC2 and OKP keys.
fn cose_key_label(k: i64) -> Option<&'static str> {
    Some(match k {
        1 => "kty",
        2 => "kid",
        3 => "alg",
        4 => "key_ops",
        -1 => "crv",
        -2 => "x",
        -3 => "y",
        -4 => "d",
        _ => return None,
    })
}

fn report_key(k: i64) -> Option<&'static str> {
    Some(match k {
        2 => "suit-report-nonce",
        3 => "suit-report-records",
        4 => "suit-report-result",
        5 => "suit-report-result-code",
        6 => "suit-report-result-record",
        7 => "suit-report-result-reason",
        99 => "suit-reference",
        _ => return None,
    })
}

fn envelope_key(k: i64) -> Option<&'static str> {
    match k {
        1 => Some("delegation"),
        2 => Some("authentication-wrapper"),
        3 => Some("manifest"),
        _ => match teep_suit::codec::manifest_member_name(k) {
            "unknown-member" => None,
            n => Some(n),
        },
    }
}

fn common_key(k: i64) -> Option<&'static str> {
    Some(match k {
        1 => "dependencies",
        2 => "components",
        4 => "shared-sequence",
        _ => return None,
    })
}

impl Writer {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    /// The name of a map key and the context of its value.
    fn key(&self, map: Ctx, k: &Value) -> (Option<String>, Ctx) {
        let Some(n) = as_i64(k) else {
            return (None, Ctx::Any);
        };
        let label = |n: i64| {
            u64::try_from(n)
                .ok()
                .and_then(|u| Label::from_value(u, self.numbering))
        };
        match map {
            Ctx::Options(_) | Ctx::RequestedTcList => match label(n) {
                Some(l) => (Some(l.name().into()), label_ctx(l)),
                None => (None, Ctx::Any),
            },
            // A tc-list entry: component-id is a TEEP label, the rest SUIT parameters.
            Ctx::TcList => match label(n) {
                Some(Label::ComponentId) => (Some("component-id".into()), Ctx::ComponentId),
                _ => parameter(n),
            },
            Ctx::Envelope => {
                let ctx = match n {
                    2 => Ctx::AuthWrapper,
                    3 => Ctx::Manifest,
                    15 | 16 | 18 | 20 => Ctx::CommandSequence,
                    _ => Ctx::Any,
                };
                (envelope_key(n).map(Into::into), ctx)
            }
            Ctx::Manifest => {
                let ctx = match n {
                    3 => Ctx::Common,
                    5 => Ctx::ComponentId,
                    7 | 8 | 9 | 15 | 16 | 18 | 20 | 24 => Ctx::CommandSequence,
                    _ => Ctx::Any,
                };
                let name = match teep_suit::codec::manifest_member_name(n) {
                    "unknown-member" => None,
                    s => Some(s.into()),
                };
                (name, ctx)
            }
            Ctx::Common => {
                let ctx = match n {
                    2 => Ctx::ComponentIds,
                    4 => Ctx::CommandSequence,
                    _ => Ctx::Any,
                };
                (common_key(n).map(Into::into), ctx)
            }
            Ctx::Parameters => parameter(n),
            Ctx::Report => (report_key(n).map(Into::into), Ctx::Any),
            Ctx::Eat => {
                let ctx = if n == 8 { Ctx::Cnf } else { Ctx::Any };
                (teep_cose::eat::claim_name(n).map(Into::into), ctx)
            }
            // RFC 8747 §3.1: 1 COSE_Key, 2 Encrypted_COSE_Key, 3 kid.
            Ctx::Cnf => match n {
                1 => (Some("COSE_Key".into()), Ctx::CoseKey),
                2 => (Some("Encrypted_COSE_Key".into()), Ctx::Any),
                3 => (Some("kid".into()), Ctx::Any),
                _ => (None, Ctx::Any),
            },
            Ctx::CoseKey => (cose_key_label(n).map(Into::into), Ctx::Any),
            Ctx::HeaderMap => (teep_cose::parameter_name(n).map(Into::into), Ctx::Any),
            _ => (None, Ctx::Any),
        }
    }

    fn item(&mut self, v: &Value, ctx: Ctx, depth: usize) {
        if self.nesting > 2 * crate::MAX_DEPTH {
            self.out.push_str("/ too deep / null");
            return;
        }
        self.nesting += 1;
        self.item_inner(v, ctx, depth);
        self.nesting -= 1;
    }

    fn item_inner(&mut self, v: &Value, ctx: Ctx, depth: usize) {
        match (v, ctx) {
            (Value::Tag(t, inner), _) => {
                let inner_ctx = match (*t, ctx) {
                    (18 | 98, Ctx::Cose(_)) | (107, Ctx::Envelope) => ctx,
                    _ => Ctx::Any,
                };
                self.out.push_str(&format!("{t}("));
                self.item(inner, inner_ctx, depth);
                self.out.push(')');
            }
            (Value::Array(items), Ctx::Message) => self.message(items, depth),
            (Value::Array(items), Ctx::Cose(payload)) => self.cose(items, payload, depth),
            (Value::Array(items), Ctx::CommandSequence) => self.commands(items, depth),
            (Value::Array(items), Ctx::ComponentId) => {
                self.out.push('[');
                for (i, s) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    match s {
                        Value::Bytes(b) if printable(b) => {
                            self.out.push('\'');
                            self.out
                                .push_str(core::str::from_utf8(b).unwrap_or_default());
                            self.out.push('\'');
                        }
                        other => self.item(other, Ctx::Any, depth + 1),
                    }
                }
                self.out.push(']');
            }
            (Value::Array(items), _) => {
                let (each, names): (Ctx, Option<ValueNamer>) = match ctx {
                    Ctx::ComponentIds => (Ctx::ComponentId, None),
                    Ctx::ManifestList => (Ctx::Envelope, None),
                    Ctx::Reports => (Ctx::Report, None),
                    Ctx::TcList => (Ctx::TcList, None),
                    Ctx::RequestedTcList => (Ctx::RequestedTcList, None),
                    Ctx::TryEach => (Ctx::CommandSequence, None),
                    Ctx::CipherSuites => (Ctx::Any, Some(cipher_suite_name)),
                    Ctx::SuitCoseProfiles => (Ctx::Any, Some(profile_name)),
                    Ctx::Digest => {
                        self.digest(items, depth);
                        return;
                    }
                    Ctx::AuthWrapper => {
                        self.auth_wrapper(items, depth);
                        return;
                    }
                    _ => (Ctx::Any, None),
                };
                self.list(items, each, names, depth);
            }
            (Value::Map(entries), _) => self.map(entries, ctx, depth),
            (Value::Bytes(b), _) => self.bytes(b, ctx, depth),
            _ => self.scalar(v),
        }
    }

    /// Scalars as RFC 8949 §8 writes them (as decoded: no encoding indicators).
    fn scalar(&mut self, v: &Value) {
        let text = match v {
            Value::Integer(n) => format!("{n}"),
            // JSON string escapes are diagnostic notation's too.
            Value::Text(t) => serde_json::to_string(t).unwrap_or_default(),
            Value::Bool(b) => format!("{b}"),
            Value::Null => "null".into(),
            Value::Undefined => "undefined".into(),
            Value::Simple(n) => format!("simple({n})"),
            Value::Float(f) if f.is_nan() => "NaN".into(),
            Value::Float(f) if f.is_infinite() => {
                if *f > 0.0 { "Infinity" } else { "-Infinity" }.into()
            }
            // `1.0e300`, not `1e300`: the mantissa keeps its point, as RFC 8949 §8 writes
            // floats and as cbor-diag reads them.
            Value::Float(f) => {
                let t = format!("{f:?}");
                match t.split_once('e') {
                    Some((m, e)) if !m.contains('.') => format!("{m}.0e{e}"),
                    _ => t,
                }
            }
            other => crate::diag::value_to_diag(other),
        };
        self.out.push_str(&text);
    }

    /// A bstr: opened as `<< >>` where the context says it carries CBOR.
    fn bytes(&mut self, b: &[u8], ctx: Ctx, depth: usize) {
        let nested = matches!(
            ctx,
            Ctx::Envelope
                | Ctx::AuthWrapper
                | Ctx::Manifest
                | Ctx::Common
                | Ctx::CommandSequence
                | Ctx::Digest
                | Ctx::Report
                | Ctx::Eat
                | Ctx::HeaderMap
                | Ctx::Cose(_)
        );
        // Reports and evidence may come signed or bare.
        let ctx = match ctx {
            Ctx::Report if super::looks_like_cose(b) => Ctx::Cose(&Ctx::Report),
            Ctx::Eat if super::looks_like_cose(b) => Ctx::Cose(&Ctx::Eat),
            c => c,
        };
        if nested {
            if let Ok(inner) = Value::from_slice(b) {
                self.out.push_str("<< ");
                self.item(&inner, ctx, depth);
                self.out.push_str(" >>");
                return;
            }
        }
        self.out.push_str(&format!("h'{}'", hex::encode(b)));
        if printable(b) && b.len() > 1 {
            let text = format!("'{}'", core::str::from_utf8(b).unwrap_or_default());
            self.out.push(' ');
            self.out.push_str(comment(&text).trim_end());
        }
    }

    fn list(&mut self, items: &[Value], each: Ctx, names: Option<ValueNamer>, depth: usize) {
        if items.is_empty() {
            self.out.push_str("[]");
            return;
        }
        let simple = each == Ctx::Any
            && items
                .iter()
                .all(|i| !matches!(i, Value::Array(_) | Value::Map(_) | Value::Tag(..)));
        if simple && names.is_none() {
            self.out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    self.out.push_str(", ");
                }
                self.item(x, each, depth + 1);
            }
            self.out.push(']');
            return;
        }
        self.out.push_str("[\n");
        for (i, x) in items.iter().enumerate() {
            self.indent(depth + 1);
            self.item(x, each, depth + 1);
            if let Some(n) = names.and_then(|f| f(x)) {
                self.out.push_str(&format!(" / {n} /"));
            }
            if i + 1 < items.len() {
                self.out.push(',');
            }
            self.out.push('\n');
        }
        self.indent(depth);
        self.out.push(']');
    }

    fn map(&mut self, entries: &[(Value, Value)], ctx: Ctx, depth: usize) {
        if entries.is_empty() {
            self.out.push_str("{}");
            return;
        }
        self.out.push_str("{\n");
        for (i, (k, v)) in entries.iter().enumerate() {
            self.indent(depth + 1);
            let (name, value_ctx) = self.key(ctx, k);
            if let Some(n) = &name {
                self.out.push_str(&comment(n));
            }
            self.item(k, Ctx::Any, depth + 1);
            self.out.push_str(": ");
            self.item(v, value_ctx, depth + 1);
            if let Some(n) = value_name(v, ctx, as_i64(k)) {
                self.out.push_str(&format!(" / {n} /"));
            }
            if i + 1 < entries.len() {
                self.out.push(',');
            }
            self.out.push('\n');
        }
        self.indent(depth);
        self.out.push('}');
    }

    /// `[type, options, …]` with each position named.
    fn message(&mut self, items: &[Value], depth: usize) {
        let ty = items
            .first()
            .and_then(as_i64)
            .and_then(|t| u64::try_from(t).ok())
            .and_then(|t| MessageType::from_value(t, self.numbering));
        let Some(ty) = ty else {
            self.list(items, Ctx::Any, None, depth);
            return;
        };
        let positions: &[(&str, Ctx)] = match ty {
            MessageType::QueryRequest => &[
                ("type", Ctx::Any),
                ("options", Ctx::Options(ty)),
                ("supported-teep-cipher-suites", Ctx::CipherSuites),
                ("supported-suit-cose-profiles", Ctx::SuitCoseProfiles),
                ("data-item-requested", Ctx::Any),
            ],
            MessageType::Error => &[
                ("type", Ctx::Any),
                ("options", Ctx::Options(ty)),
                ("err-code", Ctx::Any),
            ],
            _ => &[("type", Ctx::Any), ("options", Ctx::Options(ty))],
        };
        self.out.push_str("[\n");
        for (i, x) in items.iter().enumerate() {
            self.indent(depth + 1);
            let (name, ctx) = positions.get(i).copied().unwrap_or(("", Ctx::Any));
            if !name.is_empty() {
                self.out.push_str(&comment(name));
            }
            self.item(x, ctx, depth + 1);
            let note = match (name, as_i64(x)) {
                ("type", _) => Some(ty.name().into()),
                ("err-code", Some(c)) => u64::try_from(c)
                    .ok()
                    .and_then(|c| ErrorCode::from_value(c, self.numbering).name())
                    .map(Into::into),
                ("data-item-requested", Some(bits)) => {
                    let names: alloc::vec::Vec<&str> = crate::DataItems(bits as u64)
                        .names()
                        .into_iter()
                        .filter_map(Result::ok)
                        .collect();
                    Some(names.join(", "))
                }
                _ => None,
            };
            if let Some(n) = note.filter(|n| !n.is_empty()) {
                self.out.push_str(&format!(" / {n} /"));
            }
            if i + 1 < items.len() {
                self.out.push(',');
            }
            self.out.push('\n');
        }
        self.indent(depth);
        self.out.push(']');
    }

    /// COSE_Sign1 `[protected, unprotected, payload, signature]` or COSE_Sign
    /// `[protected, unprotected, payload, [signatures]]`.
    fn cose(&mut self, items: &[Value], payload: &Ctx, depth: usize) {
        if items.len() != 4 {
            self.list(items, Ctx::Any, None, depth);
            return;
        }
        let names = ["protected", "unprotected", "payload", "signature"];
        self.out.push_str("[\n");
        for (i, x) in items.iter().enumerate() {
            self.indent(depth + 1);
            let name = if i == 3 && matches!(x, Value::Array(_)) {
                "signatures"
            } else {
                names[i]
            };
            self.out.push_str(&comment(name));
            match (i, x) {
                (0 | 1, _) => self.item(x, Ctx::HeaderMap, depth + 1),
                // The payload is a bstr holding the message, claims or report.
                (2, Value::Bytes(b)) => match Value::from_slice(b) {
                    Ok(inner) if *payload != Ctx::Any => {
                        self.out.push_str("<< ");
                        self.item(&inner, *payload, depth + 1);
                        self.out.push_str(" >>");
                    }
                    _ => self.item(x, Ctx::Any, depth + 1),
                },
                (3, Value::Array(sigs)) => {
                    self.out.push_str("[\n");
                    for (j, s) in sigs.iter().enumerate() {
                        self.indent(depth + 2);
                        match s {
                            Value::Array(parts) if parts.len() == 3 => {
                                self.out.push('[');
                                self.item(&parts[0], Ctx::HeaderMap, depth + 2);
                                self.out.push_str(", ");
                                self.item(&parts[1], Ctx::HeaderMap, depth + 2);
                                self.out.push_str(", ");
                                self.item(&parts[2], Ctx::Any, depth + 2);
                                self.out.push(']');
                            }
                            other => self.item(other, Ctx::Any, depth + 2),
                        }
                        if j + 1 < sigs.len() {
                            self.out.push(',');
                        }
                        self.out.push('\n');
                    }
                    self.indent(depth + 1);
                    self.out.push(']');
                }
                _ => self.item(x, Ctx::Any, depth + 1),
            }
            if i < 3 {
                self.out.push(',');
            }
            self.out.push('\n');
        }
        self.indent(depth);
        self.out.push(']');
    }

    /// `[digest, authentication blocks…]`: the digest, then COSE_Sign1 with a detached
    /// payload.
    fn auth_wrapper(&mut self, items: &[Value], depth: usize) {
        self.out.push_str("[\n");
        for (i, x) in items.iter().enumerate() {
            self.indent(depth + 1);
            if i == 0 {
                self.out.push_str(&comment("digest"));
                self.item(x, Ctx::Digest, depth + 1);
            } else {
                self.out.push_str(&comment("authentication-block"));
                self.item(x, Ctx::Cose(&Ctx::Any), depth + 1);
            }
            if i + 1 < items.len() {
                self.out.push(',');
            }
            self.out.push('\n');
        }
        self.indent(depth);
        self.out.push(']');
    }

    /// `[algorithm, bytes]`.
    fn digest(&mut self, items: &[Value], depth: usize) {
        self.out.push('[');
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            if i == 0 {
                if let Some(n) = value_name(x, Ctx::Digest, None) {
                    self.out.push_str(&comment(&n));
                }
            }
            self.item(x, Ctx::Any, depth + 1);
        }
        self.out.push(']');
    }

    /// `[command, argument, …]`, one command per line.
    fn commands(&mut self, items: &[Value], depth: usize) {
        if items.is_empty() {
            self.out.push_str("[]");
            return;
        }
        self.out.push_str("[\n");
        let mut i = 0;
        while i < items.len() {
            self.indent(depth + 1);
            let code = as_i64(&items[i]);
            if let Some(c) = code {
                self.out
                    .push_str(&comment(CommandCode::from_cbor(c).name()));
            }
            self.item(&items[i], Ctx::Any, depth + 1);
            if let Some(arg) = items.get(i + 1) {
                self.out.push_str(", ");
                let ctx = match code {
                    Some(19 | 20) => Ctx::Parameters,
                    Some(15) => Ctx::TryEach,
                    Some(32) => Ctx::CommandSequence,
                    _ => Ctx::Any,
                };
                self.item(arg, ctx, depth + 1);
            }
            i += 2;
            if i < items.len() {
                self.out.push(',');
            }
            self.out.push('\n');
        }
        self.indent(depth);
        self.out.push(']');
    }
}

/// A SUIT parameter's name and the context of its value.
fn parameter(n: i64) -> (Option<String>, Ctx) {
    let ctx = match n {
        3 => Ctx::Digest,
        _ => Ctx::Any,
    };
    (teep_cbor::suit_parameter_name(n).map(Into::into), ctx)
}

/// The context of an option's value.
fn label_ctx(l: Label) -> Ctx {
    match l {
        Label::ManifestList => Ctx::ManifestList,
        Label::SuitReports => Ctx::Reports,
        Label::AttestationPayload => Ctx::Eat,
        Label::TcList => Ctx::TcList,
        Label::RequestedTcList => Ctx::RequestedTcList,
        Label::UnneededManifestList => Ctx::ComponentIds,
        Label::ComponentId => Ctx::ComponentId,
        Label::SupportedCipherSuites => Ctx::CipherSuites,
        Label::SupportedSuitCoseProfiles => Ctx::SuitCoseProfiles,
        _ => Ctx::Any,
    }
}

/// `[[18, -9]]` is `sign1-esp256`.
fn cipher_suite_name(v: &Value) -> Option<String> {
    let Value::Array(ops) = v else { return None };
    let ops = ops
        .iter()
        .map(|op| match op {
            Value::Array(p) if p.len() == 2 => Some(CipherOperation {
                cose_type: as_i64(&p[0])?,
                alg: as_i64(&p[1])?,
            }),
            _ => None,
        })
        .collect::<Option<alloc::vec::Vec<_>>>()?;
    CipherSuite::new(ops).name().map(Into::into)
}

/// `[-16, -9, -29, -65534]` is `suit-sha256-esp256-ecdh-a128ctr`.
fn profile_name(v: &Value) -> Option<String> {
    let Value::Array(a) = v else { return None };
    let a: alloc::vec::Vec<i64> = a.iter().map(as_i64).collect::<Option<_>>()?;
    let a: [i64; 4] = a.try_into().ok()?;
    SuitCoseProfile(a).name().map(Into::into)
}
