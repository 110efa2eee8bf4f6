//! The device root secret and the per-namespace keys derived from it.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use teep_cose::provider::CryptoProvider;
use zeroize::Zeroizing;

use crate::fsutil;
use crate::TeeError;

/// File name of the device root secret inside the state directory.
pub const ROOT_SECRET_FILE: &str = "device-root.key";
const HKDF_SALT: &[u8] = b"teep-tee sealed storage v1";

/// The device root secret; wiped from memory on drop.
pub(super) struct RootSecret(Zeroizing<[u8; 32]>);

/// Fills `buf` from the crypto provider's generator.
pub(crate) fn random_bytes(provider: &dyn CryptoProvider, buf: &mut [u8]) -> Result<(), TeeError> {
    provider
        .fill_random(buf)
        .map_err(|source| TeeError::crypto("random number generator", source))
}

impl RootSecret {
    /// The AES-256-GCM key of `namespace`: HKDF-SHA-256 over the root secret with the namespace
    /// as `info`, so each namespace has its own key.
    pub(super) fn namespace_key(
        &self,
        provider: &dyn CryptoProvider,
        namespace: &str,
    ) -> Result<Zeroizing<[u8; 32]>, TeeError> {
        let mut info = b"namespace:".to_vec();
        info.extend_from_slice(namespace.as_bytes());
        let mut key = Zeroizing::new([0u8; 32]);
        provider
            .hkdf_sha256(HKDF_SALT, &self.0[..], &info, &mut key[..])
            .map_err(|source| TeeError::crypto("sealed storage key derivation", source))?;
        Ok(key)
    }
}

/// Loads the device root secret of `state_dir`, or makes one on a fresh device; the bool says
/// whether it was made now. Refuses a secret readable by others, and a missing secret beside
/// existing sealed data.
pub(super) fn load_or_create_root(
    provider: &dyn CryptoProvider,
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
            Ok((RootSecret(Zeroizing::new(root)), false))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if sealed_dir.exists() {
                return Err(TeeError::corrupt(
                    path.display().to_string(),
                    "device root secret is missing but sealed data exists; it cannot be unsealed",
                ));
            }
            let mut root = RootSecret(Zeroizing::new([0u8; 32]));
            random_bytes(provider, &mut root.0[..])?;
            // create_new: two processes racing on a fresh directory cannot both win.
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| TeeError::io(&path, e))?;
            file.write_all(&root.0[..])
                .map_err(|e| TeeError::io(&path, e))?;
            file.sync_all().map_err(|e| TeeError::io(&path, e))?;
            fsutil::fsync_dir(state_dir)?;
            Ok((root, true))
        }
        Err(e) => Err(TeeError::io(path, e)),
    }
}
