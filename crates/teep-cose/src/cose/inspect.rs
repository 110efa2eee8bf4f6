//! Every header parameter of an opened COSE object with the bucket it came from: whether a
//! parameter was protected decides what a peer reads (AttesTAM reads kid only from the
//! unprotected bucket), so dumps show it for each one.

use alloc::{format, string::String, vec::Vec};
use core::fmt;

use ciborium::value::Value;
use coset::{AsCborValue, Header};

use super::headers::parameter_name;
use super::{CoseKind, Opened};
use crate::cbor;

/// One header parameter as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderParameter {
    /// The structure it belongs to: `COSE_Sign1`, `COSE_Sign` (body) or
    /// `COSE_Sign.signatures[i]`.
    pub at: String,
    /// Whether it was in the protected (signed) bucket.
    pub protected: bool,
    /// The label as CBOR diagnostic text (`4`, `"x"`).
    pub label: String,
    /// RFC 9052 §3.1 name (`kid`), when the label is a common parameter.
    pub name: Option<&'static str>,
    /// The value's CBOR encoding (deterministic).
    pub value: Vec<u8>,
}

impl fmt::Display for HeaderParameter {
    /// One line, the same in every dump: `COSE_Sign1 unprotected kid (4): h'686f6765'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bucket = if self.protected {
            "protected"
        } else {
            "unprotected"
        };
        write!(f, "{} {bucket} ", self.at)?;
        match self.name {
            Some(name) => write!(f, "{name} ({})", self.label)?,
            None => write!(f, "{}", self.label)?,
        }
        f.write_str(": ")?;
        match ciborium::from_reader::<Value, _>(self.value.as_slice()) {
            Ok(v) => write_value(f, &v),
            Err(_) => write!(f, "<<h'{}'>>", hex::encode(&self.value)),
        }
    }
}

/// Compact diagnostic notation of a header value (ints, strings, arrays; anything else as its
/// encoded bytes).
fn write_value(f: &mut fmt::Formatter<'_>, v: &Value) -> fmt::Result {
    match v {
        Value::Integer(i) => write!(f, "{}", i128::from(*i)),
        Value::Bytes(b) => write!(f, "h'{}'", hex::encode(b)),
        Value::Text(t) => write!(f, "{t:?}"),
        Value::Array(a) => {
            f.write_str("[")?;
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_value(f, x)?;
            }
            f.write_str("]")
        }
        other => write!(f, "<<h'{}'>>", hex::encode(cbor::to_vec(other))),
    }
}

impl Opened {
    /// Every header parameter, body first, then each COSE_Signature's, protected before
    /// unprotected. An empty kid read as "no kid" (`cose.kid-empty`) is not listed.
    pub fn header_parameters(&self) -> Vec<HeaderParameter> {
        let body = self.kind.name();
        let mut out = Vec::new();
        push(&mut out, body, true, &self.protected);
        push(&mut out, body, false, &self.unprotected);
        if self.kind == CoseKind::Sign {
            for (i, s) in self.sigs.iter().enumerate() {
                if let Some((p, u)) = &s.headers {
                    let at = format!("COSE_Sign.signatures[{i}]");
                    push(&mut out, &at, true, p);
                    push(&mut out, &at, false, u);
                }
            }
        }
        out
    }
}

fn push(out: &mut Vec<HeaderParameter>, at: &str, protected: bool, h: &Header) {
    let Ok(Value::Map(entries)) = h.clone().to_cbor_value() else {
        return;
    };
    for (label, value) in entries {
        let (label, name) = match (&label, cbor::as_i64(&label)) {
            (_, Some(n)) => (format!("{n}"), parameter_name(n)),
            (Value::Text(t), None) => (format!("{t:?}"), None),
            _ => ("?".into(), None),
        };
        out.push(HeaderParameter {
            at: at.into(),
            protected,
            label,
            name,
            value: cbor::to_vec(&value),
        });
    }
}
