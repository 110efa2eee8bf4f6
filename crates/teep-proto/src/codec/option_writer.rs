//! Writing an options map in deterministic order (or in a received [`Layout`]'s order), and
//! the encoders of the items inside options and positional fields.

use alloc::vec::Vec;

use super::layout::{Layout, OptionKey};
use crate::cbor::{self, Value};
use crate::model::{ComponentId, RequestedTcInfo, SystemPropertyClaims, UnknownOptions};
use crate::registry::{CipherSuite, FreshnessMechanism, Label, Numbering, SuitCoseProfile};

/// A borrowed option value, so encoding needs no copies of the message.
pub(super) enum BorrowedField<'a> {
    Bytes(&'a [u8]),
    Text(&'a str),
    Uint(u64),
    U32List(&'a [u32]),
    Suites(&'a [CipherSuite]),
    Profiles(&'a [SuitCoseProfile]),
    Freshness(&'a [FreshnessMechanism]),
    BytesList(&'a [Vec<u8>]),
    ComponentIds(&'a [ComponentId]),
    TcList(&'a [SystemPropertyClaims]),
    RequestedTcList(&'a [RequestedTcInfo]),
    Raw(&'a Value),
}

/// Collects the options of one message as `(wire label, value)` pairs, then writes the map in
/// ascending label order, or in the order of a received [`Layout`].
pub(super) struct OptionWriter<'a> {
    n: Numbering,
    fields: Vec<(u64, BorrowedField<'a>)>,
    layout: Option<&'a Layout>,
}

impl<'a> OptionWriter<'a> {
    pub(super) fn new(n: Numbering, layout: Option<&'a Layout>) -> Self {
        OptionWriter {
            n,
            fields: Vec::with_capacity(8),
            layout,
        }
    }
    /// Adds option `l` if it has a value.
    pub(super) fn put_some(&mut self, l: Label, f: Option<BorrowedField<'a>>) {
        if let Some(f) = f {
            self.fields.push((l.value(self.n), f));
        }
    }
    /// Adds list option `l` unless the list is empty (`[+ x]` is never empty on the wire).
    pub(super) fn put_non_empty<T>(
        &mut self,
        l: Label,
        v: &'a [T],
        f: impl FnOnce(&'a [T]) -> BorrowedField<'a>,
    ) {
        if !v.is_empty() {
            self.fields.push((l.value(self.n), f(v)));
        }
    }
    /// Adds the unknown options kept from decoding and writes the map to `out`.
    pub(super) fn finish(mut self, out: &mut Vec<u8>, unknown: &'a UnknownOptions) {
        for (k, v) in unknown {
            // A label known in this numbering never lands in `unknown_options` on decode; if
            // one is there (set by a caller, or a legacy-only label such as 5 re-encoded in
            // draft -26), it would change meaning, so it is dropped.
            if Label::from_value(*k, self.n).is_none() {
                self.fields.push((*k, BorrowedField::Raw(v)));
            }
        }
        match self.layout {
            // uint keys: numeric order is bytewise order of their shortest encodings.
            None => self.fields.sort_by_key(|(k, _)| *k),
            Some(layout) => {
                let n = self.n;
                let rank = |k: u64| {
                    let key = match Label::from_value(k, n) {
                        Some(l) => OptionKey::Known(l),
                        None => OptionKey::Unknown(k),
                    };
                    let pos = layout
                        .option_order
                        .iter()
                        .position(|o| *o == key)
                        .unwrap_or(usize::MAX);
                    (pos, k)
                };
                self.fields.sort_by_key(|(k, _)| rank(*k));
            }
        }
        cbor::write_map_head(out, self.fields.len());
        let n = self.n;
        for (k, f) in &self.fields {
            cbor::write_uint(out, *k);
            write_field(out, f, n);
        }
    }
}

fn write_component_id(out: &mut Vec<u8>, c: &ComponentId) {
    c.encode_into(out);
}

fn write_cipher_suite(out: &mut Vec<u8>, s: &CipherSuite) {
    cbor::write_array_head(out, s.operations().len());
    for op in s.operations() {
        cbor::write_array_head(out, 2);
        cbor::write_int(out, op.cose_type);
        cbor::write_int(out, op.alg);
    }
}

fn write_suit_cose_profile(out: &mut Vec<u8>, p: &SuitCoseProfile) {
    cbor::write_array_head(out, 4);
    for a in p.0 {
        cbor::write_int(out, a);
    }
}

/// One option value or positional field.
pub(super) fn write_field(out: &mut Vec<u8>, f: &BorrowedField<'_>, n: Numbering) {
    match f {
        BorrowedField::Bytes(b) => cbor::write_bytes(out, b),
        BorrowedField::Text(s) => cbor::write_text(out, s),
        BorrowedField::Uint(v) => cbor::write_uint(out, *v),
        BorrowedField::U32List(l) => {
            cbor::write_array_head(out, l.len());
            for v in l.iter() {
                cbor::write_uint(out, u64::from(*v));
            }
        }
        BorrowedField::Suites(l) => {
            cbor::write_array_head(out, l.len());
            for s in l.iter() {
                write_cipher_suite(out, s);
            }
        }
        BorrowedField::Profiles(l) => {
            cbor::write_array_head(out, l.len());
            for p in l.iter() {
                write_suit_cose_profile(out, p);
            }
        }
        BorrowedField::Freshness(l) => {
            cbor::write_array_head(out, l.len());
            for m in l.iter() {
                cbor::write_uint(out, m.value());
            }
        }
        BorrowedField::BytesList(l) => {
            cbor::write_array_head(out, l.len());
            for b in l.iter() {
                cbor::write_bytes(out, b);
            }
        }
        BorrowedField::ComponentIds(l) => {
            cbor::write_array_head(out, l.len());
            for c in l.iter() {
                write_component_id(out, c);
            }
        }
        BorrowedField::TcList(l) => {
            cbor::write_array_head(out, l.len());
            for c in l.iter() {
                write_system_property_claims(out, c);
            }
        }
        BorrowedField::RequestedTcList(l) => {
            cbor::write_array_head(out, l.len());
            for i in l.iter() {
                let mut fields = 1;
                fields += usize::from(i.tc_manifest_sequence_number.is_some());
                fields += usize::from(i.have_binary.is_some());
                cbor::write_map_head(out, fields);
                cbor::write_uint(out, Label::ComponentId.value(n));
                write_component_id(out, &i.component_id);
                if let Some(s) = i.tc_manifest_sequence_number {
                    cbor::write_uint(out, Label::TcManifestSequenceNumber.value(n));
                    cbor::write_uint(out, s);
                }
                if let Some(b) = i.have_binary {
                    cbor::write_uint(out, Label::HaveBinary.value(n));
                    cbor::write_bool(out, b);
                }
            }
        }
        BorrowedField::Raw(v) => cbor::write_value(out, v),
    }
}

fn write_system_property_claims(out: &mut Vec<u8>, c: &SystemPropertyClaims) {
    // Keys sorted by their encoding: 0 first, then positive labels, then negative ones.
    let mut keys: Vec<(Vec<u8>, Option<&Value>)> = Vec::with_capacity(c.parameters.len() + 1);
    let mut k0 = Vec::new();
    cbor::write_int(&mut k0, 0);
    keys.push((k0, None));
    for (k, v) in &c.parameters {
        if *k == 0 {
            continue;
        }
        let mut kb = Vec::new();
        cbor::write_int(&mut kb, *k);
        keys.push((kb, Some(v)));
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    cbor::write_map_head(out, keys.len());
    for (kb, v) in keys {
        out.extend_from_slice(&kb);
        match v {
            None => write_component_id(out, &c.component_id),
            Some(v) => cbor::write_value(out, v),
        }
    }
}
