//! Helpers shared by the targets.
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

/// A CBOR head (major type and argument), shortest form.
pub fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `bytes` as a CBOR bstr.
pub fn bstr(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 9);
    cbor_head(&mut out, 2, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}
