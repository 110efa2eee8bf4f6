//! SUIT_Common (dependencies, components, shared sequence) and component identifiers.

use super::sequence::{decode_sequence, encode_sequence};
use super::write_map_in_key_order;
use crate::cbor::{Key, KeyOrder, Reader, Writer};
use crate::error::DecodeError;
use crate::limits::Limits;
use crate::model::{Common, ComponentId, Dependency};
use alloc::format;
use alloc::vec::Vec;
use bytes::Bytes;

pub(super) fn read_component_id(
    r: &mut Reader<'_>,
    limits: &Limits,
) -> Result<ComponentId, DecodeError> {
    let n = r.array()?;
    if n as usize > limits.max_component_id_segments {
        return Err(r.err(format!(
            "component identifier has {n} segments, more than the limit of {}",
            limits.max_component_id_segments
        )));
    }
    let mut id = Vec::with_capacity(n as usize);
    for _ in 0..n {
        id.push(r.bytes()?.to_vec());
    }
    Ok(ComponentId::new(id))
}

pub(super) fn write_component_id(w: &mut Writer, id: &ComponentId) {
    w.array(id.len());
    for s in id {
        w.bytes(s);
    }
}

pub(super) fn decode_common(
    root: &Bytes,
    input: &[u8],
    limits: &Limits,
) -> Result<Common, DecodeError> {
    let mut r = Reader::new(input, "SUIT_Manifest.common");
    let n = r.map()?;
    let mut order = KeyOrder::new();
    let mut c = Common::default();
    for _ in 0..n {
        r.path = "SUIT_Manifest.common".into();
        let key = r.key()?;
        order.check(&r, &key)?;
        match key {
            Key::Int(1) => {
                r.path = "SUIT_Manifest.common.dependencies".into();
                let n = r.map()?;
                let mut dorder = KeyOrder::new();
                for _ in 0..n {
                    r.path = "SUIT_Manifest.common.dependencies".into();
                    let index = r.u64()?;
                    dorder.check(&r, &Key::Int(index as i64))?;
                    r.path = format!("SUIT_Manifest.common.dependencies[{index}]");
                    let mn = r.map()?;
                    let mut dep = Dependency {
                        index,
                        prefix: None,
                        unknown: Vec::new(),
                    };
                    for _ in 0..mn {
                        let k = r.i64()?;
                        if k == 1 {
                            r.path = format!(
                                "SUIT_Manifest.common.dependencies[{index}].dependency-prefix"
                            );
                            dep.prefix = Some(read_component_id(&mut r, limits)?);
                        } else {
                            dep.unknown.push((k, root.slice_ref(r.raw()?)));
                        }
                    }
                    c.dependencies.push(dep);
                }
            }
            Key::Int(2) => {
                r.path = "SUIT_Manifest.common.components".into();
                let n = r.array()?;
                if n == 0 {
                    return Err(r.err("expected at least one component identifier"));
                }
                if n as usize > limits.max_components {
                    return Err(r.err(format!(
                        "{n} components, more than the limit of {}",
                        limits.max_components
                    )));
                }
                for i in 0..n {
                    r.path = format!("SUIT_Manifest.common.components[{i}]");
                    c.components.push(read_component_id(&mut r, limits)?);
                }
            }
            Key::Int(4) => {
                r.path = "SUIT_Manifest.common.shared-sequence".into();
                let inner = r.bytes()?;
                c.shared_sequence = Some(decode_sequence(root, inner, &r.path.clone(), 0, limits)?);
            }
            Key::Int(k) => c.unknown.push((k, root.slice_ref(r.raw()?))),
            Key::Text(t) => return Err(r.err(format!("unexpected text key {t:?}"))),
        }
    }
    r.path = "SUIT_Manifest.common".into();
    r.expect_end()?;
    Ok(c)
}

/// Encodes SUIT_Common.
pub fn encode_common(c: &Common) -> Vec<u8> {
    let mut w = Writer::new();
    let mut entries: Vec<(i64, Vec<u8>)> = Vec::new();
    if !c.dependencies.is_empty() {
        let mut d = Writer::new();
        let mut deps: Vec<&Dependency> = c.dependencies.iter().collect();
        deps.sort_by_key(|d| d.index);
        d.map(deps.len());
        for dep in deps {
            d.uint(dep.index);
            let n = usize::from(dep.prefix.is_some()) + dep.unknown.len();
            d.map(n);
            if let Some(p) = &dep.prefix {
                d.uint(1);
                write_component_id(&mut d, p);
            }
            for (k, raw) in &dep.unknown {
                d.int(*k).raw(raw);
            }
        }
        entries.push((1, d.finish()));
    }
    if !c.components.is_empty() {
        let mut d = Writer::new();
        d.array(c.components.len());
        for id in &c.components {
            write_component_id(&mut d, id);
        }
        entries.push((2, d.finish()));
    }
    if let Some(s) = &c.shared_sequence {
        let mut d = Writer::new();
        d.bytes(&encode_sequence(s));
        entries.push((4, d.finish()));
    }
    for (k, raw) in &c.unknown {
        entries.push((*k, raw.to_vec()));
    }
    write_map_in_key_order(&mut w, entries);
    w.finish()
}
