//! Helpers shared by the targets of this crate and by teep-tam's `catalog` target (which
//! includes this file by path): they build inputs with the lower layers only.
#![allow(dead_code)]

/// Applies edits read from `ops` to `base`, three bytes each: two bytes of kind and offset
/// (top two bits: 0 or 1 overwrite, 2 insert, 3 delete; the rest an offset taken modulo the
/// length) and one byte of value. A valid message changed in a few places reaches further
/// into the decoders than random bytes do.
pub fn mutate(base: &[u8], ops: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for op in ops.chunks_exact(3).take(64) {
        let kind = op[0] >> 6;
        let off = usize::from(u16::from_be_bytes([op[0] & 0x3f, op[1]]));
        let value = op[2];
        match kind {
            0 | 1 if !out.is_empty() => {
                let i = off % out.len();
                out[i] = value;
            }
            2 => {
                let i = off % (out.len() + 1);
                out.insert(i, value);
            }
            3 if !out.is_empty() => {
                let i = off % out.len();
                out.remove(i);
            }
            _ => {}
        }
    }
    out
}

/// `bytes` as a CBOR bstr.
pub fn bstr(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 9);
    teep_cbor::write_bytes(&mut out, bytes);
    out
}

/// The TC both catalog targets start from: component TEEP-Device/SecureFS/ta, sequence 3.
pub fn ta_manifest() -> teep_suit::ManifestBuilder {
    teep_suit::ManifestBuilder::new(
        teep_suit::ComponentId::new(vec![
            b"TEEP-Device".to_vec(),
            b"SecureFS".to_vec(),
            b"ta".to_vec(),
        ]),
        &b"payload"[..],
    )
    .sequence_number(3)
}
