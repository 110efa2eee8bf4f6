//! Crash-safe file primitives: write to a temporary file, fsync it, rename it over the target,
//! fsync the directory. After a crash (kill -9 or power loss) a reader sees either the old or
//! the new content, never a mix; leftover temporaries are removed on the next open.
//!
//! [`write_atomic`] is public so that other crates persisting their own files get the same
//! guarantees from one implementation; the rest serves the sealed store.

use std::fs::{self, File, Permissions};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::TeeError;

/// Prefix of temporary files; anything with it is garbage after a crash.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// Replaces the file at `path` with `bytes` atomically and durably: a temporary file in the same
/// directory is written and fsynced, renamed over `path`, and the directory is fsynced, so after
/// a crash `path` holds either the old or the new content and the rename itself is on disk.
/// The file is created with mode 0600. On error the temporary is removed; one left by a crash
/// starts with `.tmp-`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    write_atomic_at(dir, path, bytes).map_err(|(_, e)| e)
}

/// Replaces `dir/name` with `data` as [`write_atomic`] does, naming the file that failed.
pub(crate) fn write_atomic_in(dir: &Path, name: &str, data: &[u8]) -> Result<(), TeeError> {
    write_atomic_at(dir, &dir.join(name), data).map_err(|(path, e)| TeeError::io(path, e))
}

/// The steps of [`write_atomic`]; an error comes with the path it concerns (the temporary for
/// the write and its fsync, the target for the rename, the directory for its fsync).
fn write_atomic_at(dir: &Path, target: &Path, data: &[u8]) -> Result<(), (PathBuf, io::Error)> {
    let mut tmp = temp_file_in(dir).map_err(|e| (dir.to_path_buf(), e))?;
    let tmp_path = tmp.path().to_path_buf();
    tmp.write_all(data).map_err(|e| (tmp_path.clone(), e))?;
    tmp.as_file().sync_all().map_err(|e| (tmp_path, e))?;
    // A failed rename drops the temporary with the error, which deletes it.
    tmp.persist(target)
        .map_err(|e| (target.to_path_buf(), e.error))?;
    sync_dir(dir).map_err(|e| (dir.to_path_buf(), e))
}

/// A new 0600 temporary file in `dir` whose name starts with [`TEMP_PREFIX`], so the cleanup on
/// the next open finds it if a crash leaves it behind; it is deleted when dropped.
fn temp_file_in(dir: &Path) -> io::Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(Permissions::from_mode(0o600))
        .tempfile_in(dir)
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
    sync_dir(dir).map_err(|e| TeeError::io(dir, e))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_atomic_creates_and_replaces_an_owner_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(names_in(dir.path()), vec!["state.json".to_string()]);
    }

    #[test]
    fn failed_rename_keeps_the_target_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), b"kept").unwrap();
        let err = write_atomic_in(dir.path(), "target", b"new").unwrap_err();
        assert!(err.to_string().contains("target"), "{err}");
        assert_eq!(fs::read(target.join("inside")).unwrap(), b"kept");
        assert_eq!(names_in(dir.path()), vec!["target".to_string()]);
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomic(&dir.path().join("no/such/file"), b"x").is_err());
    }

    #[test]
    fn temporary_left_by_a_crash_is_removed_on_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        // A kill between creating the temporary and the rename leaves it behind, like keep().
        let (_, left) = temp_file_in(dir.path()).unwrap().keep().unwrap();
        let name = left.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(TEMP_PREFIX), "{name}");
        fs::write(dir.path().join("data"), b"x").unwrap();
        remove_temporaries(dir.path()).unwrap();
        assert_eq!(names_in(dir.path()), vec!["data".to_string()]);
    }
}
