//! Key files: bounded reading and file names in error messages (needs `std`).

use std::path::Path;

use crate::KeyError;

/// Key files larger than this are not keys.
const MAX_KEY_FILE: u64 = 64 * 1024;

pub(super) fn read_limited(path: &Path) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_KEY_FILE {
        return Err(KeyError::Format(format!(
            "{}: {} bytes is too large for a key file (limit {MAX_KEY_FILE})",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read(path).map_err(io)
}

pub(super) fn with_path(path: &Path, e: KeyError) -> KeyError {
    match e {
        KeyError::Format(m) => KeyError::Format(format!("{}: {m}", path.display())),
        KeyError::Unsupported(m) => KeyError::Unsupported(format!("{}: {m}", path.display())),
        other => other,
    }
}
