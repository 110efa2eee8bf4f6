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
use alloc::vec::Vec;

use super::schema::{
    self, as_i64, cipher_suite_name, comment, printable, profile_name, value_name, Ctx, ValueNamer,
};
use crate::cbor::Value;
use crate::registry::{MessageType, Numbering};
use crate::ErrorCode;
use teep_suit::model::CommandCode;

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

struct Writer {
    out: String,
    numbering: Numbering,
    /// Items being written, `<< >>` and tags included: bounds the walk however the
    /// nesting is built.
    nesting: usize,
}

impl Writer {
    /// `open`, then each item on a line of its own (`each` writes it), commas between, and
    /// `close` on the line of the opening one: the layout of every multi-line array and map.
    fn block<T>(
        &mut self,
        (open, close): (char, char),
        items: &[T],
        depth: usize,
        mut each: impl FnMut(&mut Self, usize, &T),
    ) {
        self.out.push(open);
        self.out.push('\n');
        for (i, x) in items.iter().enumerate() {
            self.indent(depth + 1);
            each(self, i, x);
            if i + 1 < items.len() {
                self.out.push(',');
            }
            self.out.push('\n');
        }
        self.indent(depth);
        self.out.push(close);
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
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
        self.block(('[', ']'), items, depth, |w, _, x| {
            w.item(x, each, depth + 1);
            if let Some(n) = names.and_then(|f| f(x)) {
                w.out.push_str(&format!(" / {n} /"));
            }
        });
    }

    fn map(&mut self, entries: &[(Value, Value)], ctx: Ctx, depth: usize) {
        if entries.is_empty() {
            self.out.push_str("{}");
            return;
        }
        self.block(('{', '}'), entries, depth, |w, _, (k, v)| {
            let (name, value_ctx) = schema::key(ctx, k, w.numbering);
            if let Some(n) = &name {
                w.out.push_str(&comment(n));
            }
            w.item(k, Ctx::Any, depth + 1);
            w.out.push_str(": ");
            w.item(v, value_ctx, depth + 1);
            if let Some(n) = value_name(v, ctx, as_i64(k)) {
                w.out.push_str(&format!(" / {n} /"));
            }
        });
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
        self.block(('[', ']'), items, depth, |w, i, x| {
            let (name, ctx) = positions.get(i).copied().unwrap_or(("", Ctx::Any));
            if !name.is_empty() {
                w.out.push_str(&comment(name));
            }
            w.item(x, ctx, depth + 1);
            let note = match (name, as_i64(x)) {
                ("type", _) => Some(ty.name().into()),
                ("err-code", Some(c)) => u64::try_from(c)
                    .ok()
                    .and_then(|c| ErrorCode::from_value(c, w.numbering).name())
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
                w.out.push_str(&format!(" / {n} /"));
            }
        });
    }

    /// COSE_Sign1 `[protected, unprotected, payload, signature]` or COSE_Sign
    /// `[protected, unprotected, payload, [signatures]]`.
    fn cose(&mut self, items: &[Value], payload: &Ctx, depth: usize) {
        if items.len() != 4 {
            self.list(items, Ctx::Any, None, depth);
            return;
        }
        let names = ["protected", "unprotected", "payload", "signature"];
        self.block(('[', ']'), items, depth, |w, i, x| {
            let name = if i == 3 && matches!(x, Value::Array(_)) {
                "signatures"
            } else {
                names[i]
            };
            w.out.push_str(&comment(name));
            match (i, x) {
                (0 | 1, _) => w.item(x, Ctx::HeaderMap, depth + 1),
                // The payload is a bstr holding the message, claims or report.
                (2, Value::Bytes(b)) => match Value::from_slice(b) {
                    Ok(inner) if *payload != Ctx::Any => {
                        w.out.push_str("<< ");
                        w.item(&inner, *payload, depth + 1);
                        w.out.push_str(" >>");
                    }
                    _ => w.item(x, Ctx::Any, depth + 1),
                },
                // COSE_Signature: [protected, unprotected, signature].
                (3, Value::Array(sigs)) => {
                    w.block(('[', ']'), sigs, depth + 1, |w, _, s| match s {
                        Value::Array(parts) if parts.len() == 3 => {
                            w.out.push('[');
                            w.item(&parts[0], Ctx::HeaderMap, depth + 2);
                            w.out.push_str(", ");
                            w.item(&parts[1], Ctx::HeaderMap, depth + 2);
                            w.out.push_str(", ");
                            w.item(&parts[2], Ctx::Any, depth + 2);
                            w.out.push(']');
                        }
                        other => w.item(other, Ctx::Any, depth + 2),
                    })
                }
                _ => w.item(x, Ctx::Any, depth + 1),
            }
        });
    }

    /// `[digest, authentication blocks…]`: the digest, then COSE_Sign1 with a detached
    /// payload.
    fn auth_wrapper(&mut self, items: &[Value], depth: usize) {
        self.block(('[', ']'), items, depth, |w, i, x| {
            if i == 0 {
                w.out.push_str(&comment("digest"));
                w.item(x, Ctx::Digest, depth + 1);
            } else {
                w.out.push_str(&comment("authentication-block"));
                w.item(x, Ctx::Cose(&Ctx::Any), depth + 1);
            }
        });
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
        let pairs: Vec<&[Value]> = items.chunks(2).collect();
        self.block(('[', ']'), &pairs, depth, |w, _, pair| {
            let code = as_i64(&pair[0]);
            if let Some(c) = code {
                w.out.push_str(&comment(CommandCode::from_cbor(c).name()));
            }
            w.item(&pair[0], Ctx::Any, depth + 1);
            if let Some(arg) = pair.get(1) {
                w.out.push_str(", ");
                let ctx = match code {
                    Some(19 | 20) => Ctx::Parameters,
                    Some(15) => Ctx::TryEach,
                    Some(32) => Ctx::CommandSequence,
                    _ => Ctx::Any,
                };
                w.item(arg, ctx, depth + 1);
            }
        });
    }
}
