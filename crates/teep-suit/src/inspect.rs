//! Human views of an envelope: JSON with every field named, and CBOR diagnostic notation.

use crate::cbor::Reader;
use crate::cbor::Type;
use crate::codec::manifest_member_name;
use crate::model::*;
use serde_json::{json, Map, Value};

fn id_json(id: &ComponentId) -> Value {
    Value::Array(
        id.iter()
            .map(|s| match std::str::from_utf8(s) {
                Ok(t) if !t.is_empty() && t.chars().all(|c| !c.is_control()) => json!(t),
                _ => json!(format!("h'{}'", hex::encode_upper(s))),
            })
            .collect(),
    )
}

fn digest_json(d: &Digest) -> Value {
    json!({ "algorithm": d.algorithm.name(), "algorithm-id": d.algorithm.to_cose(), "bytes": hex::encode(&d.bytes) })
}

fn param_json(p: &Parameter) -> Value {
    match p {
        Parameter::VendorId(b) | Parameter::ClassId(b) | Parameter::DeviceId(b) => {
            json!(uuid_text(b))
        }
        Parameter::ImageDigest(d) => digest_json(d),
        Parameter::ComponentSlot(n) | Parameter::ImageSize(n) | Parameter::SourceComponent(n) => {
            json!(n)
        }
        Parameter::StrictOrder(b) | Parameter::SoftFailure(b) => json!(b),
        Parameter::Content(b) | Parameter::InvokeArgs(b) | Parameter::FetchArguments(b) => {
            json!(hex::encode(b))
        }
        Parameter::EncryptionInfo(b) => json!({ "cose-encrypt": diag(b) }),
        Parameter::Uri(u) => json!(u),
        Parameter::Unknown { raw, .. } => json!({ "raw": diag(raw) }),
    }
}

fn uuid_text(b: &[u8]) -> String {
    if b.len() == 16 {
        let h = hex::encode(b);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    } else {
        hex::encode(b)
    }
}

/// JSON of a command sequence.
pub fn sequence_json(s: &CommandSequence) -> Value {
    Value::Array(
        s.commands
            .iter()
            .map(|c| {
                let arg = match &c.arg {
                    CommandArg::ReportingPolicy(p) => json!({ "reporting-policy": p }),
                    CommandArg::ComponentIndex(IndexArg::One(i)) => json!(i),
                    CommandArg::ComponentIndex(IndexArg::All) => json!(true),
                    CommandArg::ComponentIndex(IndexArg::List(v)) => json!(v),
                    CommandArg::Parameters(ps) => {
                        let mut m = Map::new();
                        for p in ps {
                            m.insert(Parameter::name(p.label()).to_string(), param_json(p));
                        }
                        Value::Object(m)
                    }
                    CommandArg::TryEach { alternatives, allow_none } => json!({
                        "alternatives": alternatives.iter().map(sequence_json).collect::<Vec<_>>(),
                        "allow-none": allow_none,
                    }),
                    CommandArg::Sequence(s) => sequence_json(s),
                    CommandArg::Raw(raw) => json!({ "raw": diag(raw) }),
                };
                json!({ "offset": c.offset, "command": c.code.name(), "code": c.code.to_cbor(), "argument": arg })
            })
            .collect(),
    )
}

fn severable_json(s: &Severable<CommandSequence>) -> Value {
    match s {
        Severable::Present(seq) => sequence_json(seq),
        Severable::Severed { digest, restored } => json!({
            "severed": true,
            "digest": digest_json(digest),
            "restored": restored.as_ref().map(sequence_json),
        }),
    }
}

fn collect_digests(s: &CommandSequence, out: &mut Vec<Digest>) {
    for c in &s.commands {
        match &c.arg {
            CommandArg::Parameters(ps) => {
                for p in ps {
                    if let Parameter::ImageDigest(d) = p {
                        out.push(d.clone());
                    }
                }
            }
            CommandArg::TryEach { alternatives, .. } => {
                alternatives.iter().for_each(|a| collect_digests(a, out))
            }
            CommandArg::Sequence(s) => collect_digests(s, out),
            _ => {}
        }
    }
}

/// Every image-digest parameter anywhere in the manifest.
fn image_digests(m: &Manifest) -> Vec<Digest> {
    let mut out = Vec::new();
    let seqs = [
        m.common.shared_sequence.as_ref(),
        m.validate.as_ref(),
        m.load.as_ref(),
        m.invoke.as_ref(),
        m.uninstall.as_ref(),
        m.dependency_resolution.as_ref().and_then(|s| s.get()),
        m.payload_fetch.as_ref().and_then(|s| s.get()),
        m.candidate_verification.as_ref().and_then(|s| s.get()),
        m.install.as_ref().and_then(|s| s.get()),
    ];
    for s in seqs.into_iter().flatten() {
        collect_digests(s, &mut out);
    }
    out
}

/// JSON view of an envelope. `digest_ok` and `signatures` are what the caller checked.
pub fn envelope_json(env: &Envelope, digest_ok: Result<(), String>, signatures: Value) -> Value {
    let m = &env.manifest;
    let mut man = Map::new();
    man.insert("manifest-version".into(), json!(m.version));
    man.insert("manifest-sequence-number".into(), json!(m.sequence_number));
    man.insert(
        "common".into(),
        json!({
            "dependencies": m.common.dependencies.iter().map(|d| json!({
                "component-index": d.index,
                "dependency-prefix": d.prefix.as_ref().map(id_json),
            })).collect::<Vec<_>>(),
            "components": m.common.components.iter().map(id_json).collect::<Vec<_>>(),
            "shared-sequence": m.common.shared_sequence.as_ref().map(sequence_json),
        }),
    );
    if let Some(u) = &m.reference_uri {
        man.insert("reference-uri".into(), json!(u));
    }
    if let Some(id) = &m.manifest_component_id {
        man.insert("manifest-component-id".into(), id_json(id));
    }
    for (k, s) in [
        (7, &m.validate),
        (8, &m.load),
        (9, &m.invoke),
        (24, &m.uninstall),
    ] {
        if let Some(s) = s {
            man.insert(manifest_member_name(k).into(), sequence_json(s));
        }
    }
    for (k, s) in [
        (15, &m.dependency_resolution),
        (16, &m.payload_fetch),
        (18, &m.candidate_verification),
        (20, &m.install),
    ] {
        if let Some(s) = s {
            man.insert(manifest_member_name(k).into(), severable_json(s));
        }
    }
    if let Some(t) = &m.text {
        man.insert(
            "text".into(),
            match t {
                Severable::Present(b) => json!(diag(b)),
                Severable::Severed { digest, restored } => json!({ "severed": true, "digest": digest_json(digest), "restored": restored.as_ref().map(|b| diag(b)) }),
            },
        );
    }
    for (k, raw) in &m.unknown {
        man.insert(format!("unknown-{k}"), json!(diag(raw)));
    }
    json!({
        "tagged": env.tagged,
        "authentication-wrapper": {
            "digest": digest_json(&env.authentication.digest),
            "digest-check": match &digest_ok { Ok(()) => json!("ok"), Err(e) => json!(e) },
            "authentication-blocks": env.authentication.blocks.iter().map(|b| json!(diag(b))).collect::<Vec<_>>(),
            "signatures": signatures,
        },
        "manifest": Value::Object(man),
        "integrated": env.integrated.iter().map(|(k, v)| {
            let sha = Digest::sha256(v).bytes;
            json!({
                "key": k, "length": v.len(), "sha-256": hex::encode(&sha),
                // An integrated payload may be stored encrypted; then no image-digest matches.
                "matches-an-image-digest": image_digests(m).iter().any(|d| d.bytes == sha),
            })
        }).collect::<Vec<_>>(),
        "severed-members": env.severed.iter().map(|(k, v)| json!({ "key": manifest_member_name(*k), "length": v.len() })).collect::<Vec<_>>(),
    })
}

/// CBOR diagnostic notation; byte strings holding exactly one CBOR item are shown `<< >>`.
pub fn diag(bytes: &[u8]) -> String {
    let mut r = Reader::new(bytes, "");
    let mut out = String::new();
    let mut items = 0;
    while !r.at_end() {
        if items > 0 {
            out.push_str(", ");
        }
        if diag_item(&mut r, &mut out, 0).is_err() {
            return format!("h'{}'", hex::encode_upper(bytes));
        }
        items += 1;
    }
    out
}

fn nested(b: &[u8]) -> Option<String> {
    if b.is_empty() {
        return None;
    }
    let mut r = Reader::new(b, "");
    let mut out = String::new();
    diag_item(&mut r, &mut out, 0).ok()?;
    if r.at_end() {
        Some(out)
    } else {
        None
    }
}

fn diag_item(r: &mut Reader<'_>, out: &mut String, depth: usize) -> Result<(), ()> {
    if depth > crate::limits::MAX_CBOR_DEPTH {
        return Err(());
    }
    let t = r.datatype().map_err(|_| ())?;
    match t {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => {
            out.push_str(&r.u64().map_err(|_| ())?.to_string())
        }
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => match r.i64() {
            Ok(v) => out.push_str(&v.to_string()),
            Err(_) => {
                let v = r.d.int().map_err(|_| ())?;
                out.push_str(&v.to_string());
            }
        },
        Type::Bytes => {
            let b = r.bytes().map_err(|_| ())?;
            let structured = b.first().map(|f| matches!(f >> 5, 4..=6)).unwrap_or(false);
            let printable = !b.is_empty()
                && b.iter()
                    .all(|c| (0x20..0x7f).contains(c) && *c != b'\'' && *c != b'\\');
            match nested(b) {
                Some(inner) if b.len() > 1 && (structured || !printable) => {
                    out.push_str("<< ");
                    out.push_str(&inner);
                    out.push_str(" >>");
                }
                _ if printable => {
                    out.push('\'');
                    out.push_str(std::str::from_utf8(b).unwrap_or_default());
                    out.push('\'');
                }
                Some(inner) if b.len() > 1 => {
                    out.push_str("<< ");
                    out.push_str(&inner);
                    out.push_str(" >>");
                }
                _ => out.push_str(&format!("h'{}'", hex::encode_upper(b))),
            }
        }
        Type::String => out.push_str(&format!("{:?}", r.str().map_err(|_| ())?)),
        Type::Array => {
            let n = r.array().map_err(|_| ())?;
            out.push('[');
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                diag_item(r, out, depth + 1)?;
            }
            out.push(']');
        }
        Type::Map => {
            let n = r.map().map_err(|_| ())?;
            out.push('{');
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                diag_item(r, out, depth + 1)?;
                out.push_str(": ");
                diag_item(r, out, depth + 1)?;
            }
            out.push('}');
        }
        Type::Tag => {
            let t = r.tag().map_err(|_| ())?;
            out.push_str(&format!("{t}("));
            diag_item(r, out, depth + 1)?;
            out.push(')');
        }
        Type::Bool => out.push_str(if r.bool().map_err(|_| ())? {
            "true"
        } else {
            "false"
        }),
        Type::Null => {
            r.null().map_err(|_| ())?;
            out.push_str("null");
        }
        _ => {
            let raw = r.raw().map_err(|_| ())?;
            out.push_str(&format!("h'{}' / other /", hex::encode_upper(raw)));
        }
    }
    Ok(())
}
