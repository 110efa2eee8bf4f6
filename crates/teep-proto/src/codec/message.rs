//! The outer message array `[type, options, positional fields...]`: its type value, arity
//! and end, with each message type's contents read and written by its own module.

use alloc::format;
use alloc::vec::Vec;

use teep_cbor::deviation::{Deviations, Tolerance};

use super::layout::Layout;
use super::option_writer::OptionWriter;
use super::options::read_options;
use super::{error_message, query_request, query_response, success, update, Result};
use crate::cbor::{self, Reader, Seg};
use crate::model::TeepMessage;
use crate::registry::{MessageType, Numbering};

/// Number of elements of the message array: type and options, plus the positional fields
/// (three in QueryRequest, `err-code` in Error).
fn array_len(t: MessageType) -> usize {
    match t {
        MessageType::QueryRequest => 5,
        MessageType::Error => 3,
        _ => 2,
    }
}

/// Decode one message in numbering `n` with no fallback to the other numbering. An error's
/// `offset` says how many bytes were read before it.
pub(super) fn decode_strict(
    bytes: &[u8],
    n: Numbering,
    tolerance: Tolerance,
) -> Result<(TeepMessage, Layout, Deviations)> {
    let mut r = Reader::with_tolerance(bytes, "TeepMessage", tolerance);
    match decode_in(&mut r, n) {
        Ok((m, layout)) => Ok((m, layout, r.take_deviations())),
        Err(mut e) => {
            if e.offset == 0 {
                e.offset = r.position();
            }
            Err(e)
        }
    }
}

fn decode_in(r: &mut Reader<'_>, n: Numbering) -> Result<(TeepMessage, Layout)> {
    let len = r.array("TEEP message array")?;
    if len < 2 {
        return Err(r.invalid(format!(
            "expected array of at least 2 elements (type, options), got {len}"
        )));
    }
    r.push(Seg::Name("type"));
    let tv = r.uint("uint message type")?;
    let t = match MessageType::from_value(tv, n) {
        Some(t) => t,
        None => {
            let mut e = r.invalid(format!("unknown {} message type {tv}", n.adjective()));
            if let Some(other) = MessageType::from_value(tv, n.other()) {
                e.hint = Some(format!(
                    "{} numbering uses {tv} for {}",
                    n.other().name(),
                    other.name()
                ));
            } else if tv == 4 && n == Numbering::Legacy {
                e.hint =
                    Some("4 is reserved in legacy numbering; draft -26 uses 4 for Success".into());
            }
            return Err(e);
        }
    };
    r.pop();
    r.set_root(t.name());
    let arity = array_len(t);
    if len != arity as u64 {
        let mut e = r.invalid(format!("expected array of {arity} elements, got {len}"));
        // A type value shared by both numberings with a different arity is the common
        // symptom of a wrongly numbered Success/Error.
        if let Some(other) = MessageType::from_value(tv, n.other()) {
            if other != t {
                e.hint = Some(format!(
                    "{} numbering uses type {tv} for {}",
                    n.other().name(),
                    other.name()
                ));
            }
        }
        return Err(e);
    }
    r.push(Seg::Name("options"));
    let mut opts = read_options(r, t, n)?;
    r.pop();
    let layout = Layout {
        option_order: core::mem::take(&mut opts.order),
    };
    let msg = match t {
        MessageType::QueryRequest => TeepMessage::QueryRequest(query_request::decode(r, opts, n)?),
        MessageType::QueryResponse => {
            TeepMessage::QueryResponse(query_response::from_options(opts))
        }
        MessageType::Update => TeepMessage::Update(update::from_options(opts)),
        MessageType::Success => TeepMessage::Success(success::from_options(opts)),
        MessageType::Error => TeepMessage::Error(error_message::decode(r, opts, n)?),
    };
    r.leave();
    r.finish()?;
    Ok((msg, layout))
}

/// Deterministic encoding (RFC 8949 §4.2.1) of `m` in numbering `n`; with a `layout`, options
/// follow its order instead.
pub(crate) fn encode(m: &TeepMessage, n: Numbering, layout: Option<&Layout>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let t = m.message_type();
    cbor::write_array_head(&mut out, array_len(t));
    cbor::write_uint(&mut out, t.value(n));
    let w = OptionWriter::new(n, layout);
    match m {
        TeepMessage::QueryRequest(q) => query_request::encode(q, w, &mut out, n),
        TeepMessage::QueryResponse(q) => query_response::encode(q, w, &mut out),
        TeepMessage::Update(u) => update::encode(u, w, &mut out, n),
        TeepMessage::Success(s) => success::encode(s, w, &mut out),
        TeepMessage::Error(e) => error_message::encode(e, w, &mut out, n),
    }
    out
}
