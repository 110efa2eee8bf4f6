//! The sealed blob format: `MAGIC || nonce || AES-256-GCM(plaintext)`, authenticated together
//! with the namespace and the name so a blob cannot be moved to another place.

use super::keys::random_bytes;
use super::SealedStore;
use crate::TeeError;

const MAGIC: &[u8; 4] = b"TSB1";
const NONCE_LEN: usize = 12;
/// The AES-GCM tag the provider appends.
const TAG_LEN: usize = 16;
const AAD_LABEL: &[u8] = b"teep-tee sealed blob v1";
/// Bytes a sealed blob adds to its plaintext.
pub(super) const BLOB_OVERHEAD: usize = MAGIC.len() + NONCE_LEN + TAG_LEN;

impl SealedStore {
    /// Encrypts `plaintext` bound to `namespace` and `name`.
    pub(crate) fn seal(
        &self,
        namespace: &str,
        name: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, TeeError> {
        let key = self.root.namespace_key(self.provider, namespace)?;
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(self.provider, &mut nonce)?;
        let aad = blob_aad(namespace, name);
        let ct = self
            .provider
            .aes_gcm_seal(&key[..], &nonce, &aad, plaintext)
            .map_err(|source| TeeError::crypto("sealing", source))?;
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
        if blob.len() < BLOB_OVERHEAD || &blob[..MAGIC.len()] != MAGIC {
            return Err(integrity());
        }
        let (nonce, ct) = blob[MAGIC.len()..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| integrity())?;
        let key = self.root.namespace_key(self.provider, namespace)?;
        let aad = blob_aad(namespace, name);
        // Any failure to open (tag, length) is the same integrity error: nothing is learnt.
        self.provider
            .aes_gcm_open(&key[..], &nonce, &aad, ct)
            .map_err(|_| integrity())
    }
}

/// Name as text when printable, else hex, for error messages.
pub(super) fn display_name(name: &[u8]) -> String {
    match std::str::from_utf8(name) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_owned(),
        _ => format!("h'{}'", hex::encode(name)),
    }
}

/// Associated data binding a blob to its namespace and name (both length-prefixed).
fn blob_aad(namespace: &str, name: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 8 + namespace.len() + name.len());
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(&(namespace.len() as u32).to_be_bytes());
    aad.extend_from_slice(namespace.as_bytes());
    aad.extend_from_slice(&(name.len() as u32).to_be_bytes());
    aad.extend_from_slice(name);
    aad
}
