//! Reading a message whose numbering is not known (a first contact): both numberings are
//! tried, an ambiguous reading is refused, and when both fail the attempt that read further
//! explains why.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use teep_cbor::deviation::Tolerance;

use super::layout::{Layout, OptionKey};
use super::message::decode_strict;
use super::{Decoded, Result};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::model::TeepMessage;
use crate::registry::Numbering;

pub(super) fn decode_detected(bytes: &[u8], tolerance: Tolerance) -> Result<Decoded> {
    let d26 = decode_strict(bytes, Numbering::Draft26, tolerance);
    // Not well-formed CBOR is the same fault in any numbering.
    if let Err(e) = &d26 {
        if e.kind == DecodeErrorKind::Malformed {
            return Err(e.clone());
        }
    }
    let legacy = decode_strict(bytes, Numbering::Legacy, tolerance);
    match (d26, legacy) {
        (Ok((m26, l26, dev)), Ok((mleg, lleg, _))) => {
            if m26 != mleg {
                return Err(ambiguous(&m26, &l26, &mleg, &lleg));
            }
            Ok(Decoded {
                message: m26,
                numbering: Numbering::Draft26,
                deviations: dev,
                also_valid_in: Some(Numbering::Legacy),
            })
        }
        (Ok((message, _, deviations)), Err(_)) => Ok(Decoded {
            message,
            numbering: Numbering::Draft26,
            deviations,
            also_valid_in: None,
        }),
        (Err(_), Ok((message, _, deviations))) => Ok(Decoded {
            message,
            numbering: Numbering::Legacy,
            deviations,
            also_valid_in: None,
        }),
        (Err(e26), Err(elegacy)) => Err(furthest(e26, elegacy, bytes.len())),
    }
}

/// The bytes read as two different messages: name both readings.
fn ambiguous(m26: &TeepMessage, l26: &Layout, mleg: &TeepMessage, lleg: &Layout) -> DecodeError {
    DecodeError::new(
        DecodeErrorKind::Invalid,
        String::from(m26.type_name()),
        format!(
            "ambiguous numbering: in draft26 numbering this is {}; in legacy numbering {}; \
             the peer's numbering must be known (configured, or seen earlier in the session)",
            reading(m26, l26),
            reading(mleg, lleg),
        ),
    )
}

/// `a QueryResponse with options token, tc-list`.
fn reading(m: &TeepMessage, layout: &Layout) -> String {
    let names: Vec<String> = layout
        .option_order
        .iter()
        .map(|k| match k {
            OptionKey::Known(l) => String::from(l.name()),
            OptionKey::Unknown(v) => format!("unknown label {v}"),
        })
        .collect();
    let t = m.type_name();
    let a = if t.starts_with(['E', 'U']) { "an" } else { "a" };
    if names.is_empty() {
        format!("{a} {t} without options")
    } else {
        format!("{a} {t} with options {}", names.join(", "))
    }
}

/// Both numberings failed: the error of the attempt that read more of the message (its rule
/// broke later, so its numbering matched everything before), with the other attempt's error
/// as the hint; when both stop at the same byte, both are reported as equals.
fn furthest(e26: DecodeError, elegacy: DecodeError, len: usize) -> DecodeError {
    if e26.path == elegacy.path && e26.rule == elegacy.rule {
        return e26;
    }
    let (mut main, other, main_n, other_n) = if elegacy.offset > e26.offset {
        (elegacy, e26, Numbering::Legacy, Numbering::Draft26)
    } else {
        (e26, elegacy, Numbering::Draft26, Numbering::Legacy)
    };
    let lead = if main.offset == other.offset {
        format!(
            "read in {} numbering; both numberings stopped at byte {} of {len}",
            main_n.name(),
            main.offset
        )
    } else {
        format!(
            "read in {} numbering, which got further (to byte {} of {len})",
            main_n.name(),
            main.offset
        )
    };
    let own = main
        .hint
        .take()
        .map(|h| format!("{h}; "))
        .unwrap_or_default();
    main.hint = Some(format!(
        "{own}{lead}; {} numbering stopped at byte {}: {other}",
        other_n.name(),
        other.offset
    ));
    main.other_numbering = None;
    main
}
