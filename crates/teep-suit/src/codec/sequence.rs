//! SUIT_Command_Sequence: commands, their arguments, and SUIT parameters.

use super::digest::{decode_digest, encode_digest};
use super::slice_is_within;
use crate::cbor::Type;
use crate::cbor::{Key, KeyOrder, Reader, Writer};
use crate::error::DecodeError;
use crate::limits::Limits;
use crate::model::{Command, CommandArg, CommandCode, CommandSequence, IndexArg, Parameter};
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use bytes::Bytes;

/// Decodes a SUIT_Command_Sequence; nested sequences (try-each, run-sequence) count towards
/// `limits.max_sequence_depth`.
pub fn decode_sequence(
    root: &Bytes,
    input: &[u8],
    path: &str,
    depth: usize,
    limits: &Limits,
) -> Result<CommandSequence, DecodeError> {
    if depth > limits.max_sequence_depth {
        return Err(DecodeError::new(
            path,
            format!(
                "command sequences nested deeper than {}",
                limits.max_sequence_depth
            ),
        ));
    }
    let owned;
    let (root, input): (&Bytes, &[u8]) = if slice_is_within(root, input) {
        (root, input)
    } else {
        owned = Bytes::copy_from_slice(input);
        (&owned, &owned[..])
    };
    let mut r = Reader::new(input, path);
    let n = r.array()?;
    if n % 2 != 0 {
        return Err(r.err(format!(
            "SUIT_Command_Sequence must hold command/argument pairs, got {n} elements"
        )));
    }
    let mut commands = Vec::with_capacity((n / 2) as usize);
    for i in 0..n / 2 {
        r.path = format!("{path}[{}]", i * 2);
        let offset = r.position();
        let code = CommandCode::from_cbor(r.i64()?);
        r.path = format!("{path}[{}].{}", i * 2 + 1, code.name());
        let arg = read_command_argument(&mut r, root, code, depth, limits)?;
        commands.push(Command { code, arg, offset });
    }
    r.path = path.to_string();
    r.expect_end()?;
    Ok(CommandSequence { commands })
}

fn read_command_argument(
    r: &mut Reader<'_>,
    root: &Bytes,
    code: CommandCode,
    depth: usize,
    limits: &Limits,
) -> Result<CommandArg, DecodeError> {
    use CommandCode::*;
    Ok(match code {
        SetComponentIndex => match r.datatype()? {
            Type::Bool => {
                if r.bool()? {
                    CommandArg::ComponentIndex(IndexArg::All)
                } else {
                    return Err(r.err("expected uint, true or [+ uint], got false"));
                }
            }
            Type::Array => {
                let n = r.array()?;
                if n == 0 {
                    return Err(r.err("expected [+ uint], got an empty array"));
                }
                let mut v = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    v.push(r.u64()?);
                }
                CommandArg::ComponentIndex(IndexArg::List(v))
            }
            _ => CommandArg::ComponentIndex(IndexArg::One(r.u64()?)),
        },
        SetParameters | OverrideParameters => CommandArg::Parameters(read_parameters(r, root)?),
        TryEach => {
            let n = r.array()?;
            let base = r.path.clone();
            let mut alternatives = Vec::new();
            let mut allow_none = false;
            for i in 0..n {
                if r.is_type(|t| t == Type::Null) && i == n - 1 {
                    r.null()?;
                    allow_none = true;
                    continue;
                }
                r.path = format!("{base}[{i}]");
                let inner = r.bytes()?;
                alternatives.push(decode_sequence(
                    root,
                    inner,
                    &r.path.clone(),
                    depth + 1,
                    limits,
                )?);
            }
            r.path = base;
            CommandArg::TryEach {
                alternatives,
                allow_none,
            }
        }
        RunSequence => {
            let inner = r.bytes()?;
            CommandArg::Sequence(decode_sequence(
                root,
                inner,
                &r.path.clone(),
                depth + 1,
                limits,
            )?)
        }
        Unknown(_) => CommandArg::Raw(root.slice_ref(r.raw()?)),
        _ => {
            if r.is_type(|t| matches!(t, Type::U8 | Type::U16 | Type::U32 | Type::U64)) {
                CommandArg::ReportingPolicy(r.u64()?)
            } else {
                CommandArg::Raw(root.slice_ref(r.raw()?))
            }
        }
    })
}

fn read_parameters(r: &mut Reader<'_>, root: &Bytes) -> Result<Vec<Parameter>, DecodeError> {
    let n = r.map()?;
    let base = r.path.clone();
    let mut order = KeyOrder::new();
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        r.path = base.clone();
        let label = r.i64()?;
        order.check(r, &Key::Int(label))?;
        r.path = format!("{base}.{}", Parameter::name(label));
        let p = match label {
            1 | 2 | 24 if !r.is_type(|t| t == Type::Bytes) => Parameter::Unknown {
                label,
                raw: root.slice_ref(r.raw()?),
            },
            1 => Parameter::VendorId(root.slice_ref(r.bytes()?)),
            2 => Parameter::ClassId(root.slice_ref(r.bytes()?)),
            24 => Parameter::DeviceId(root.slice_ref(r.bytes()?)),
            3 => {
                let inner = r.bytes()?;
                Parameter::ImageDigest(decode_digest(inner, &r.path)?)
            }
            5 => Parameter::ComponentSlot(r.u64()?),
            12 => Parameter::StrictOrder(r.bool()?),
            13 => Parameter::SoftFailure(r.bool()?),
            14 => Parameter::ImageSize(r.u64()?),
            18 => Parameter::Content(root.slice_ref(r.bytes()?)),
            19 => Parameter::EncryptionInfo(root.slice_ref(r.bytes()?)),
            21 => Parameter::Uri(r.str()?.to_string()),
            22 => Parameter::SourceComponent(r.u64()?),
            23 => Parameter::InvokeArgs(root.slice_ref(r.bytes()?)),
            25 => Parameter::FetchArguments(root.slice_ref(r.bytes()?)),
            _ => Parameter::Unknown {
                label,
                raw: root.slice_ref(r.raw()?),
            },
        };
        out.push(p);
    }
    r.path = base;
    Ok(out)
}

/// Encodes parameters sorted by label.
fn write_parameters(w: &mut Writer, ps: &[Parameter]) {
    let mut sorted: Vec<&Parameter> = ps.iter().collect();
    sorted.sort_by_key(|p| crate::cbor::key_order_bytes(&Key::Int(p.label())));
    w.map(sorted.len());
    for p in sorted {
        w.int(p.label());
        match p {
            Parameter::VendorId(b) | Parameter::ClassId(b) | Parameter::DeviceId(b) => w.bytes(b),
            Parameter::ImageDigest(d) => w.bytes(&encode_digest(d)),
            Parameter::ComponentSlot(n)
            | Parameter::ImageSize(n)
            | Parameter::SourceComponent(n) => w.uint(*n),
            Parameter::StrictOrder(b) | Parameter::SoftFailure(b) => w.bool(*b),
            Parameter::Content(b)
            | Parameter::EncryptionInfo(b)
            | Parameter::InvokeArgs(b)
            | Parameter::FetchArguments(b) => w.bytes(b),
            Parameter::Uri(s) => w.text(s),
            Parameter::Unknown { raw, .. } => w.raw(raw),
        };
    }
}

/// Encodes a SUIT_Command_Sequence (without the bstr wrapping).
pub fn encode_sequence(s: &CommandSequence) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(s.commands.len() * 2);
    for c in &s.commands {
        w.int(c.code.to_cbor());
        match &c.arg {
            CommandArg::ReportingPolicy(p) => {
                w.uint(*p);
            }
            CommandArg::ComponentIndex(IndexArg::One(i)) => {
                w.uint(*i);
            }
            CommandArg::ComponentIndex(IndexArg::All) => {
                w.bool(true);
            }
            CommandArg::ComponentIndex(IndexArg::List(v)) => {
                w.array(v.len());
                for i in v {
                    w.uint(*i);
                }
            }
            CommandArg::Parameters(ps) => write_parameters(&mut w, ps),
            CommandArg::TryEach {
                alternatives,
                allow_none,
            } => {
                w.array(alternatives.len() + usize::from(*allow_none));
                for a in alternatives {
                    w.bytes(&encode_sequence(a));
                }
                if *allow_none {
                    w.null();
                }
            }
            CommandArg::Sequence(s) => {
                w.bytes(&encode_sequence(s));
            }
            CommandArg::Raw(raw) => {
                w.raw(raw);
            }
        }
    }
    w.finish()
}
