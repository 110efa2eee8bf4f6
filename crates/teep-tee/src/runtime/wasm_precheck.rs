//! Header checks run on untrusted module bytes before wasmi parses them, for inputs that are
//! known to crash the parser.

/// Reads an unsigned LEB128 u32 at `*pos`.
fn read_leb_u32(data: &[u8], pos: &mut usize) -> Option<u32> {
    let mut result: u32 = 0;
    for i in 0..5 {
        let byte = *data.get(*pos)?;
        *pos += 1;
        result |= u32::from(byte & 0x7f).checked_shl(7 * i)?;
        if byte & 0x80 == 0 {
            return Some(result);
        }
    }
    None
}

/// Rejects a code section that declares no function bodies but carries bytes. wasmi 2.0.0
/// divides by the body count in its strict-limits check before validating the section and
/// panics on such input (found by the `ta_module` fuzz target), so it is caught here first.
/// Only section headers are walked; full validation stays with wasmi.
pub(super) fn reject_bodiless_code_section(wasm: &[u8]) -> Result<(), String> {
    const CODE_SECTION: u8 = 10;
    let mut pos = 8; // magic and version, checked by the caller and by wasmi
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let Some(size) = read_leb_u32(wasm, &mut pos) else {
            return Ok(()); // malformed: wasmi reports it
        };
        let end = pos.saturating_add(size as usize);
        if id == CODE_SECTION {
            let mut body = pos;
            if let Some(0) = read_leb_u32(wasm, &mut body) {
                if end > body {
                    return Err(format!(
                        "code section declares no function bodies but has {} more bytes",
                        end - body
                    ));
                }
            }
        }
        pos = end;
    }
    Ok(())
}
