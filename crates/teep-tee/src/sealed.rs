//! Sealed storage: AEAD-protected blobs in per-owner namespaces under a device-unique key.
//!
//! * Cipher: AES-256-GCM with a fresh random 96-bit nonce per write.
//! * Key: HKDF-SHA-256 over the device root secret with the namespace as `info`, so each TA (and
//!   the TEE's own records) has its own key.
//! * AAD: the namespace and the name, length-prefixed, so a blob copied to another TA's
//!   namespace or renamed to another name fails authentication.
//! * Files: `sealed/<hex(namespace)>/<hex(name)>`, each replaced atomically (see `fsutil`).
//! * Batches: several writes become one atomic unit through a sealed journal: the journal is
//!   written atomically (the commit point), applied, then removed; a journal found on the next
//!   access is re-applied (every operation is idempotent).
//!
//! **Where the root secret lives.** A hardware TEE derives it from a fused key that software
//! cannot read. This software TEE has no such place: the secret is a 32-byte file
//! `device-root.key` (mode 0600) in the state directory. Anyone who can read that file as the
//! same user can unseal everything. That is the honest limit of a software TEE.
//!
//! What is not detected: replacing the whole state directory (or one blob) with an older copy
//! made by the same device (rollback); that needs a monotonic counter in hardware.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use hkdf::Hkdf;
use sha2::Sha256;

use crate::fsutil;
use crate::TeeError;

/// File name of the device root secret inside the state directory.
pub const ROOT_SECRET_FILE: &str = "device-root.key";
const SEALED_DIR: &str = "sealed";
const LOCK_FILE: &str = "LOCK";
const JOURNAL_FILE: &str = "journal";
const JOURNAL_NAMESPACE: &str = "tee.journal";
const MAGIC: &[u8; 4] = b"TSB1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HKDF_SALT: &[u8] = b"teep-tee sealed storage v1";
const AAD_LABEL: &[u8] = b"teep-tee sealed blob v1";

/// Size and length limits of sealed storage; everything read from disk or from a caller is
/// checked against them before use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedLimits {
    /// Largest plaintext of one blob.
    pub max_value_bytes: usize,
    /// Longest namespace (ASCII, `[A-Za-z0-9._:/-]`).
    pub max_namespace_bytes: usize,
    /// Longest name (any bytes).
    pub max_name_bytes: usize,
    /// Most operations in one atomic batch.
    pub max_batch_ops: usize,
    /// Largest sum of value sizes in one atomic batch.
    pub max_batch_bytes: usize,
}

impl Default for SealedLimits {
    fn default() -> Self {
        SealedLimits {
            max_value_bytes: 16 * 1024 * 1024,
            max_namespace_bytes: 100,
            max_name_bytes: 100,
            max_batch_ops: 4096,
            max_batch_bytes: 64 * 1024 * 1024,
        }
    }
}

/// One write in a batch: `value: None` deletes the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedOp {
    pub namespace: String,
    pub name: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// The device root secret; wiped from memory on drop.
struct RootSecret([u8; 32]);

impl Drop for RootSecret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference to a byte of our array;
            // volatile keeps the compiler from eliding the wipe.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// Sealed blob storage of one state directory. Safe to share between threads; several
/// processes may open the same directory (operations are serialised by an advisory lock).
pub struct SealedStore {
    dir: PathBuf,
    root: RootSecret,
    limits: SealedLimits,
    lock: Mutex<File>,
}

impl std::fmt::Debug for SealedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedStore")
            .field("dir", &self.dir)
            .field("limits", &self.limits)
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

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), TeeError> {
    getrandom::fill(buf).map_err(|e| TeeError::Key(format!("random number generator: {e}")))
}

impl SealedStore {
    /// Opens (creating on first use) the sealed storage of `state_dir`. Returns the store and
    /// whether the root secret was created just now (a fresh device).
    pub(crate) fn open(state_dir: &Path, limits: SealedLimits) -> Result<(Self, bool), TeeError> {
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
            let result = load_or_create_root(state_dir, &dir);
            let _ = guard.unlock();
            (root, created) = result?;
        }
        let store = SealedStore {
            dir,
            root,
            limits,
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

    /// Takes the lock and finishes any batch interrupted by a crash.
    pub(crate) fn lock(&self) -> Result<LockGuard<'_>, TeeError> {
        let file = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        file.lock()
            .map_err(|e| TeeError::io(self.dir.with_file_name(LOCK_FILE), e))?;
        let guard = LockGuard { file };
        self.recover()?;
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
        let limit = self.limits.max_value_bytes + MAGIC.len() + NONCE_LEN + TAG_LEN;
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

    /// Like [`SealedStore::commit`] for a caller already holding the lock (and having checked
    /// the batch).
    pub(crate) fn commit_locked(&self, ops: &[SealedOp]) -> Result<(), TeeError> {
        match ops {
            [] => Ok(()),
            [op] => self.apply(op),
            _ => {
                let journal =
                    self.seal(JOURNAL_NAMESPACE, JOURNAL_FILE.as_bytes(), &encode_ops(ops))?;
                fsutil::ensure_dir(&self.dir)?;
                // The rename inside atomic_write is the commit point of the batch.
                fsutil::atomic_write(&self.dir, JOURNAL_FILE, &journal)?;
                for op in ops {
                    self.apply(op)?;
                }
                fsutil::remove_durable(&self.dir, JOURNAL_FILE)
            }
        }
    }

    /// Validates a batch against the limits without touching the disk.
    pub(crate) fn check_batch(&self, ops: &[SealedOp]) -> Result<(), TeeError> {
        if ops.len() > self.limits.max_batch_ops {
            return Err(TeeError::invalid(
                "sealed batch",
                format!(
                    "expected at most {} operations, got {}",
                    self.limits.max_batch_ops,
                    ops.len()
                ),
            ));
        }
        let mut total = 0usize;
        for op in ops {
            self.check_key(&op.namespace, &op.name)?;
            if let Some(v) = &op.value {
                self.check_value(&op.namespace, &op.name, v.len())?;
                total = total.saturating_add(v.len());
            }
        }
        if total > self.limits.max_batch_bytes {
            return Err(TeeError::invalid(
                "sealed batch",
                format!(
                    "expected at most {} bytes in total, got {total}",
                    self.limits.max_batch_bytes
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn check_key(&self, namespace: &str, name: &[u8]) -> Result<(), TeeError> {
        self.check_namespace(namespace)?;
        if name.is_empty() || name.len() > self.limits.max_name_bytes {
            return Err(TeeError::invalid(
                format!("sealed name in {namespace}"),
                format!(
                    "expected 1..={} bytes, got {}",
                    self.limits.max_name_bytes,
                    name.len()
                ),
            ));
        }
        Ok(())
    }

    fn check_namespace(&self, namespace: &str) -> Result<(), TeeError> {
        let ok_chars = namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
        if namespace.is_empty() || namespace.len() > self.limits.max_namespace_bytes || !ok_chars {
            return Err(TeeError::invalid(
                "sealed namespace",
                format!(
                    "expected 1..={} characters of [A-Za-z0-9._:/-], got {:?}",
                    self.limits.max_namespace_bytes, namespace
                ),
            ));
        }
        Ok(())
    }

    fn check_value(&self, namespace: &str, name: &[u8], len: usize) -> Result<(), TeeError> {
        if len > self.limits.max_value_bytes {
            return Err(TeeError::invalid(
                format!("sealed value {namespace}/{}", display_name(name)),
                format!(
                    "expected at most {} bytes, got {len}",
                    self.limits.max_value_bytes
                ),
            ));
        }
        Ok(())
    }

    fn apply(&self, op: &SealedOp) -> Result<(), TeeError> {
        let dir = self.namespace_dir(&op.namespace);
        let file = hex::encode(&op.name);
        match &op.value {
            Some(value) => {
                let blob = self.seal(&op.namespace, &op.name, value)?;
                fsutil::ensure_dir(&self.dir)?;
                fsutil::ensure_dir(&dir)?;
                fsutil::atomic_write(&dir, &file, &blob)
            }
            None => fsutil::remove_durable(&dir, &file),
        }
    }

    /// Re-applies a journal left by a crash between the commit point and its removal.
    fn recover(&self) -> Result<(), TeeError> {
        let path = self.dir.join(JOURNAL_FILE);
        let limit = self.limits.max_batch_bytes
            + self.limits.max_batch_ops
                * (self.limits.max_name_bytes + self.limits.max_namespace_bytes + 16)
            + 1024;
        let Some(blob) = fsutil::read_limited(&path, limit)? else {
            return Ok(());
        };
        let plain = self.unseal(JOURNAL_NAMESPACE, JOURNAL_FILE.as_bytes(), &blob)?;
        let ops = decode_ops(&plain, &self.limits)?;
        tracing::info!(ops = ops.len(), "re-applying interrupted sealed batch");
        for op in &ops {
            self.apply(op)?;
        }
        fsutil::remove_durable(&self.dir, JOURNAL_FILE)
    }

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

    fn namespace_dir(&self, namespace: &str) -> PathBuf {
        self.dir.join(hex::encode(namespace.as_bytes()))
    }

    fn blob_path(&self, namespace: &str, name: &[u8]) -> PathBuf {
        self.namespace_dir(namespace).join(hex::encode(name))
    }

    fn cipher(&self, namespace: &str) -> Result<Aes256Gcm, TeeError> {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), &self.root.0);
        let mut info = b"namespace:".to_vec();
        info.extend_from_slice(namespace.as_bytes());
        let mut key = [0u8; 32];
        hk.expand(&info, &mut key)
            .map_err(|_| TeeError::Key("HKDF expand failed".into()))?;
        let cipher = Aes256Gcm::new_from_slice(&key)
            .map_err(|_| TeeError::Key("AES-256-GCM key length".into()));
        key.iter_mut().for_each(|b| *b = 0);
        cipher
    }

    /// Encrypts `plaintext` bound to `namespace` and `name`.
    pub(crate) fn seal(
        &self,
        namespace: &str,
        name: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, TeeError> {
        let cipher = self.cipher(namespace)?;
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let aad = aad(namespace, name);
        let ct = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| TeeError::Key("AES-256-GCM encryption failed".into()))?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + ct.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Authenticates and decrypts a blob sealed for `namespace` and `name`.
    pub(crate) fn unseal(
        &self,
        namespace: &str,
        name: &[u8],
        blob: &[u8],
    ) -> Result<Vec<u8>, TeeError> {
        let integrity = || TeeError::Integrity {
            namespace: namespace.to_owned(),
            name: display_name(name),
        };
        if blob.len() < MAGIC.len() + NONCE_LEN + TAG_LEN || &blob[..MAGIC.len()] != MAGIC {
            return Err(integrity());
        }
        let (nonce, ct) = blob[MAGIC.len()..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| integrity())?;
        let cipher = self.cipher(namespace)?;
        let aad = aad(namespace, name);
        cipher
            .decrypt(&nonce.into(), Payload { msg: ct, aad: &aad })
            .map_err(|_| integrity())
    }

    /// Path of the blob file (tests use it to tamper with the disk).
    pub fn blob_file(&self, namespace: &str, name: &[u8]) -> PathBuf {
        self.blob_path(namespace, name)
    }
}

/// Name as text when printable, else hex, for error messages.
pub(crate) fn display_name(name: &[u8]) -> String {
    match std::str::from_utf8(name) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_owned(),
        _ => format!("h'{}'", hex::encode(name)),
    }
}

fn aad(namespace: &str, name: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 8 + namespace.len() + name.len());
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(&(namespace.len() as u32).to_be_bytes());
    aad.extend_from_slice(namespace.as_bytes());
    aad.extend_from_slice(&(name.len() as u32).to_be_bytes());
    aad.extend_from_slice(name);
    aad
}

fn load_or_create_root(
    state_dir: &Path,
    sealed_dir: &Path,
) -> Result<(RootSecret, bool), TeeError> {
    let path = state_dir.join(ROOT_SECRET_FILE);
    match fs::metadata(&path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(TeeError::invalid(
                    path.display().to_string(),
                    format!("device root secret must be readable by its owner only (mode 0600), found {mode:04o}"),
                ));
            }
            let bytes = fsutil::read_limited(&path, 32)?.unwrap_or_default();
            let root: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                TeeError::corrupt(
                    path.display().to_string(),
                    format!("expected 32 bytes, found {}", bytes.len()),
                )
            })?;
            Ok((RootSecret(root), false))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if sealed_dir.exists() {
                return Err(TeeError::corrupt(
                    path.display().to_string(),
                    "device root secret is missing but sealed data exists; it cannot be unsealed",
                ));
            }
            let mut root = RootSecret([0u8; 32]);
            random_bytes(&mut root.0)?;
            // create_new: two processes racing on a fresh directory cannot both win.
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| TeeError::io(&path, e))?;
            file.write_all(&root.0)
                .map_err(|e| TeeError::io(&path, e))?;
            file.sync_all().map_err(|e| TeeError::io(&path, e))?;
            fsutil::fsync_dir(state_dir)?;
            Ok((root, true))
        }
        Err(e) => Err(TeeError::io(path, e)),
    }
}

fn encode_ops(ops: &[SealedOp]) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = e.array(ops.len() as u64);
    for op in ops {
        let _ = e
            .array(3)
            .and_then(|e| e.str(&op.namespace))
            .and_then(|e| e.bytes(&op.name));
        let _ = match &op.value {
            Some(v) => e.bytes(v),
            None => e.null(),
        };
    }
    e.into_writer()
}

fn decode_ops(data: &[u8], limits: &SealedLimits) -> Result<Vec<SealedOp>, TeeError> {
    let bad = |e: minicbor::decode::Error| TeeError::corrupt("sealed journal", e.to_string());
    let mut d = minicbor::Decoder::new(data);
    let n = d
        .array()
        .map_err(bad)?
        .ok_or_else(|| TeeError::corrupt("sealed journal", "indefinite array"))?;
    if n > limits.max_batch_ops as u64 {
        return Err(TeeError::corrupt(
            "sealed journal",
            format!("{n} operations exceed the limit"),
        ));
    }
    let mut ops = Vec::with_capacity(n as usize);
    for _ in 0..n {
        if d.array().map_err(bad)? != Some(3) {
            return Err(TeeError::corrupt(
                "sealed journal",
                "expected [namespace, name, value]",
            ));
        }
        let namespace = d.str().map_err(bad)?.to_owned();
        let name = d.bytes().map_err(bad)?.to_vec();
        let value = if d.datatype().map_err(bad)? == minicbor::data::Type::Null {
            d.skip().map_err(bad)?;
            None
        } else {
            Some(d.bytes().map_err(bad)?.to_vec())
        };
        ops.push(SealedOp {
            namespace,
            name,
            value,
        });
    }
    Ok(ops)
}

/// Groups staged writes by name, later writes winning (used by TA invocations).
pub(crate) type Staged = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SealedStore) {
        let dir = tempfile::tempdir().unwrap();
        let (store, created) = SealedStore::open(dir.path(), SealedLimits::default()).unwrap();
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
        let (s, _) = SealedStore::open(dir.path(), limits).unwrap();
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
    fn interrupted_journal_is_reapplied() {
        let (d, s) = store();
        let ops = vec![
            SealedOp {
                namespace: "ns".into(),
                name: b"x".to_vec(),
                value: Some(b"1".to_vec()),
            },
            SealedOp {
                namespace: "ns".into(),
                name: b"y".to_vec(),
                value: Some(b"2".to_vec()),
            },
        ];
        // Simulate a crash right after the commit point: journal present, nothing applied.
        let journal = s
            .seal(
                JOURNAL_NAMESPACE,
                JOURNAL_FILE.as_bytes(),
                &encode_ops(&ops),
            )
            .unwrap();
        fsutil::ensure_dir(&s.dir).unwrap();
        fs::write(s.dir.join(JOURNAL_FILE), journal).unwrap();
        drop(s);
        let (s, created) = SealedStore::open(d.path(), SealedLimits::default()).unwrap();
        assert!(!created);
        assert_eq!(s.get("ns", b"x").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(s.get("ns", b"y").unwrap().as_deref(), Some(&b"2"[..]));
        assert!(!s.dir.join(JOURNAL_FILE).exists());
    }

    #[test]
    fn refuses_world_readable_root_secret() {
        let (d, s) = store();
        drop(s);
        let path = d.path().join(ROOT_SECRET_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = SealedStore::open(d.path(), SealedLimits::default())
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
        let err = SealedStore::open(d.path(), SealedLimits::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be unsealed"), "{err}");
    }
}
