//! Crash-safe file primitives: write to a temporary file, fsync it, rename it over the target,
//! fsync the directory. After a crash (kill -9 or power loss) a reader sees either the old or
//! the new content, never a mix; leftover temporaries are removed on the next open.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::TeeError;

/// Prefix of temporary files; anything with it is garbage after a crash.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// Replaces `dir/name` with `data` atomically and durably; the file is created 0600.
pub(crate) fn atomic_write(dir: &Path, name: &str, data: &[u8]) -> Result<(), TeeError> {
    let mut nonce = [0u8; 8];
    crate::sealed::random_bytes(&mut nonce)?;
    let tmp = dir.join(format!("{TEMP_PREFIX}{name}-{}", hex::encode(nonce)));
    let target = dir.join(name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| TeeError::io(&tmp, e))?;
        file.write_all(data).map_err(|e| TeeError::io(&tmp, e))?;
        file.sync_all().map_err(|e| TeeError::io(&tmp, e))?;
        drop(file);
        fs::rename(&tmp, &target).map_err(|e| TeeError::io(&target, e))?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes `dir/name` durably; a missing file is not an error (deletes are idempotent so a
/// journal can be replayed).
pub(crate) fn remove_durable(dir: &Path, name: &str) -> Result<(), TeeError> {
    let path = dir.join(name);
    match fs::remove_file(&path) {
        Ok(()) => fsync_dir(dir),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(TeeError::io(path, e)),
    }
}

/// Makes the directory entries (creations, renames, removals) in `dir` durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), TeeError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| TeeError::io(dir, e))
}

/// Creates `dir` (0700) if missing, and makes its entry in the parent durable.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), TeeError> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {
            if let Some(parent) = dir.parent() {
                fsync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(TeeError::io(dir, e)),
    }
}

/// Deletes temporaries left behind by a crash in `dir`.
pub(crate) fn remove_temporaries(dir: &Path) -> Result<(), TeeError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(TeeError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| TeeError::io(dir, e))?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Reads a whole file, refusing files larger than `limit` before reading them.
pub(crate) fn read_limited(path: &Path, limit: usize) -> Result<Option<Vec<u8>>, TeeError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TeeError::io(path, e)),
    };
    let len = file.metadata().map_err(|e| TeeError::io(path, e))?.len();
    if len > limit as u64 {
        return Err(TeeError::invalid(
            path.display().to_string(),
            format!("expected at most {limit} bytes, file has {len}"),
        ));
    }
    let mut buf = Vec::with_capacity(len as usize);
    use std::io::Read;
    file.take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| TeeError::io(path, e))?;
    Ok(Some(buf))
}
