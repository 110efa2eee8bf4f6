//! The sealed store of one state directory: the lock shared by threads and processes, the file
//! layout `sealed/<hex(namespace)>/<hex(name)>`, and reading, writing and listing blobs.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use teep_cose::provider::CryptoProvider;

use super::blob::BLOB_OVERHEAD;
use super::keys::{load_or_create_root, RootSecret};
use super::{SealedLimits, SealedOp};
use crate::fsutil;
use crate::TeeError;

const SEALED_DIR: &str = "sealed";
const LOCK_FILE: &str = "LOCK";

/// Sealed blob storage of one state directory. Safe to share between threads; several
/// processes may open the same directory (operations are serialised by an advisory lock).
pub struct SealedStore {
    pub(super) dir: PathBuf,
    pub(super) root: RootSecret,
    pub(super) limits: SealedLimits,
    /// Key derivation, AES-GCM and nonces; any provider opens what another sealed.
    pub(super) provider: &'static dyn CryptoProvider,
    lock: Mutex<File>,
}

impl std::fmt::Debug for SealedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedStore")
            .field("dir", &self.dir)
            .field("limits", &self.limits)
            .field("provider", &self.provider.name())
            .finish_non_exhaustive()
    }
}

/// Holds the in-process mutex and the cross-process advisory lock.
pub(crate) struct LockGuard<'a> {
    file: MutexGuard<'a, File>,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

impl SealedStore {
    /// Opens (creating on first use) the sealed storage of `state_dir`, with `provider` for its
    /// cryptography. Returns the store and whether the root secret was created just now (a
    /// fresh device).
    pub(crate) fn open(
        state_dir: &Path,
        limits: SealedLimits,
        provider: &'static dyn CryptoProvider,
    ) -> Result<(Self, bool), TeeError> {
        fsutil::ensure_dir(state_dir)?;
        let lock_path = state_dir.join(LOCK_FILE);
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| TeeError::io(&lock_path, e))?;
        let dir = state_dir.join(SEALED_DIR);
        let store_lock = Mutex::new(lock_file);
        let created;
        let root;
        {
            let guard = store_lock.lock().unwrap_or_else(|p| p.into_inner());
            guard.lock().map_err(|e| TeeError::io(&lock_path, e))?;
            let result = load_or_create_root(provider, state_dir, &dir);
            let _ = guard.unlock();
            (root, created) = result?;
        }
        let store = SealedStore {
            dir,
            root,
            limits,
            provider,
            lock: store_lock,
        };
        {
            let _g = store.lock()?;
            store.remove_all_temporaries()?;
        }
        Ok((store, created))
    }

    /// The limits in force.
    pub fn limits(&self) -> &SealedLimits {
        &self.limits
    }

    /// The crypto provider that seals and unseals.
    pub fn provider(&self) -> &'static dyn CryptoProvider {
        self.provider
    }

    /// Takes the lock and finishes any batch interrupted by a crash.
    pub(crate) fn lock(&self) -> Result<LockGuard<'_>, TeeError> {
        let file = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        file.lock()
            .map_err(|e| TeeError::io(self.dir.with_file_name(LOCK_FILE), e))?;
        let guard = LockGuard { file };
        self.replay_interrupted_journal()?;
        Ok(guard)
    }

    /// Reads and authenticates one blob; `None` if it does not exist.
    pub fn get(&self, namespace: &str, name: &[u8]) -> Result<Option<Vec<u8>>, TeeError> {
        self.check_key(namespace, name)?;
        let _g = self.lock()?;
        self.get_locked(namespace, name)
    }

    /// Like [`SealedStore::get`] for a caller already holding the lock.
    pub(crate) fn get_locked(
        &self,
        namespace: &str,
        name: &[u8],
    ) -> Result<Option<Vec<u8>>, TeeError> {
        let path = self.blob_path(namespace, name);
        let limit = self.limits.max_value_bytes + BLOB_OVERHEAD;
        match fsutil::read_limited(&path, limit)? {
            None => Ok(None),
            Some(blob) => self.unseal(namespace, name, &blob).map(Some),
        }
    }

    /// Writes one blob atomically.
    pub fn put(&self, namespace: &str, name: &[u8], value: &[u8]) -> Result<(), TeeError> {
        self.commit(&[SealedOp {
            namespace: namespace.to_owned(),
            name: name.to_vec(),
            value: Some(value.to_vec()),
        }])
    }

    /// Deletes one blob (no error if it does not exist).
    pub fn delete(&self, namespace: &str, name: &[u8]) -> Result<(), TeeError> {
        self.commit(&[SealedOp {
            namespace: namespace.to_owned(),
            name: name.to_vec(),
            value: None,
        }])
    }

    /// Names of the blobs in `namespace`, sorted.
    pub fn list(&self, namespace: &str) -> Result<Vec<Vec<u8>>, TeeError> {
        self.check_namespace(namespace)?;
        let _g = self.lock()?;
        let dir = self.namespace_dir(namespace);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(TeeError::io(dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| TeeError::io(&dir, e))?;
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            if file_name.starts_with(fsutil::TEMP_PREFIX) {
                continue;
            }
            if let Ok(name) = hex::decode(file_name.as_bytes()) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Applies all `ops` as one atomic unit: after a crash at any point, either all or none of
    /// them are visible. Everything is validated before anything is written.
    pub fn commit(&self, ops: &[SealedOp]) -> Result<(), TeeError> {
        self.check_batch(ops)?;
        let _g = self.lock()?;
        self.commit_locked(ops)
    }

    /// Writes (or, for `value: None`, removes) the blob of one operation, atomically.
    pub(super) fn write_or_remove_blob(&self, op: &SealedOp) -> Result<(), TeeError> {
        let dir = self.namespace_dir(&op.namespace);
        let file = hex::encode(&op.name);
        match &op.value {
            Some(value) => {
                let blob = self.seal(&op.namespace, &op.name, value)?;
                fsutil::ensure_dir(&self.dir)?;
                fsutil::ensure_dir(&dir)?;
                fsutil::write_atomic_in(&dir, &file, &blob)
            }
            None => fsutil::remove_durable(&dir, &file),
        }
    }

    /// Deletes temporaries a crash left in the sealed directory and its namespace directories.
    fn remove_all_temporaries(&self) -> Result<(), TeeError> {
        fsutil::remove_temporaries(&self.dir)?;
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(TeeError::io(&self.dir, e)),
        };
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                fsutil::remove_temporaries(&entry.path())?;
            }
        }
        Ok(())
    }

    /// Directory of one namespace: `sealed/<hex(namespace)>`.
    fn namespace_dir(&self, namespace: &str) -> PathBuf {
        self.dir.join(hex::encode(namespace.as_bytes()))
    }

    /// File of one blob: `sealed/<hex(namespace)>/<hex(name)>`.
    fn blob_path(&self, namespace: &str, name: &[u8]) -> PathBuf {
        self.namespace_dir(namespace).join(hex::encode(name))
    }

    /// Path of the blob file (tests use it to tamper with the disk).
    pub fn blob_file(&self, namespace: &str, name: &[u8]) -> PathBuf {
        self.blob_path(namespace, name)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::sealed::ROOT_SECRET_FILE;
    use teep_cose::default_provider;
    use teep_cose::provider::all as all_providers;

    pub(in crate::sealed) fn store() -> (tempfile::TempDir, SealedStore) {
        let dir = tempfile::tempdir().unwrap();
        let (store, created) =
            SealedStore::open(dir.path(), SealedLimits::default(), default_provider()).unwrap();
        assert!(created);
        (dir, store)
    }

    #[test]
    fn round_trip_and_delete() {
        let (_d, s) = store();
        s.put("ns", b"a", b"hello").unwrap();
        assert_eq!(s.get("ns", b"a").unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(s.list("ns").unwrap(), vec![b"a".to_vec()]);
        s.delete("ns", b"a").unwrap();
        assert_eq!(s.get("ns", b"a").unwrap(), None);
    }

    #[test]
    fn blob_is_not_plaintext_on_disk() {
        let (_d, s) = store();
        s.put("ns", b"a", b"very secret value").unwrap();
        let raw = fs::read(s.blob_file("ns", b"a")).unwrap();
        assert!(!raw.windows(17).any(|w| w == b"very secret value"));
    }

    #[test]
    fn rejects_bad_namespace_and_name_lengths() {
        let (_d, s) = store();
        assert!(matches!(
            s.put("", b"a", b"x"),
            Err(TeeError::Invalid { .. })
        ));
        assert!(matches!(
            s.put("a b", b"a", b"x"),
            Err(TeeError::Invalid { .. })
        ));
        assert!(matches!(
            s.put("ns", b"", b"x"),
            Err(TeeError::Invalid { .. })
        ));
        let long = vec![b'n'; 101];
        let err = s.put("ns", &long, b"x").unwrap_err().to_string();
        assert!(err.contains("expected 1..=100 bytes, got 101"), "{err}");
    }

    #[test]
    fn rejects_oversized_value_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let limits = SealedLimits {
            max_value_bytes: 8,
            ..SealedLimits::default()
        };
        let (s, _) = SealedStore::open(dir.path(), limits, default_provider()).unwrap();
        let ops = vec![
            SealedOp {
                namespace: "ns".into(),
                name: b"ok".to_vec(),
                value: Some(b"1".to_vec()),
            },
            SealedOp {
                namespace: "ns".into(),
                name: b"big".to_vec(),
                value: Some(vec![0; 9]),
            },
        ];
        assert!(s.commit(&ops).is_err());
        assert_eq!(s.get("ns", b"ok").unwrap(), None);
    }

    #[test]
    fn refuses_world_readable_root_secret() {
        let (d, s) = store();
        drop(s);
        let path = d.path().join(ROOT_SECRET_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = SealedStore::open(d.path(), SealedLimits::default(), default_provider())
            .unwrap_err()
            .to_string();
        assert!(err.contains("0600"), "{err}");
    }

    #[test]
    fn missing_root_secret_with_data_is_an_error() {
        let (d, s) = store();
        s.put("ns", b"a", b"x").unwrap();
        drop(s);
        fs::remove_file(d.path().join(ROOT_SECRET_FILE)).unwrap();
        let err = SealedStore::open(d.path(), SealedLimits::default(), default_provider())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be unsealed"), "{err}");
    }

    /// A blob in the documented format (HKDF-SHA-256 key, AES-256-GCM, `TSB1 || nonce ||
    /// ciphertext || tag`), computed by an independent implementation for a known root secret
    /// and nonce: every provider opens it, so blobs sealed before the provider move still do.
    #[test]
    fn known_blob_opens_with_every_provider() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join(ROOT_SECRET_FILE);
        fs::write(&root, (0u8..32).collect::<Vec<u8>>()).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o600)).unwrap();
        let ns_dir = d.path().join(SEALED_DIR).join(hex::encode("agent"));
        fs::create_dir_all(&ns_dir).unwrap();
        let blob = hex::decode(
            "54534231a5a5a5a5a5a5a5a5a5a5a5a5a0357735469a780688b0f3df39816d24454e6ec1bacc5b660f\
             ee88847e85730c972d29d5bb32d38b9ff4",
        )
        .unwrap();
        fs::write(ns_dir.join(hex::encode("state")), blob).unwrap();
        for p in all_providers() {
            let (s, created) = SealedStore::open(d.path(), SealedLimits::default(), p).unwrap();
            assert!(!created);
            assert_eq!(
                s.get("agent", b"state").unwrap().as_deref(),
                Some(&b"sealed before the provider"[..]),
                "{}",
                p.name()
            );
            // Bound to its place: under another name it does not open.
            fs::copy(
                ns_dir.join(hex::encode("state")),
                ns_dir.join(hex::encode("moved")),
            )
            .unwrap();
            assert!(matches!(
                s.get("agent", b"moved"),
                Err(TeeError::Integrity { .. })
            ));
        }
    }

    /// What one provider seals, every other opens (a device can switch providers).
    #[test]
    fn sealed_by_one_provider_opens_with_the_other() {
        let d = tempfile::tempdir().unwrap();
        for (i, a) in all_providers().into_iter().enumerate() {
            let (s, _) = SealedStore::open(d.path(), SealedLimits::default(), a).unwrap();
            s.put("ns", &[i as u8 + 1], a.name().as_bytes()).unwrap();
        }
        for b in all_providers() {
            let (s, _) = SealedStore::open(d.path(), SealedLimits::default(), b).unwrap();
            for (i, a) in all_providers().into_iter().enumerate() {
                assert_eq!(
                    s.get("ns", &[i as u8 + 1]).unwrap().as_deref(),
                    Some(a.name().as_bytes()),
                    "sealed by {}, opened by {}",
                    a.name(),
                    b.name()
                );
            }
        }
    }
}
