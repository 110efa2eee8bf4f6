//! The TAM's keys on disk: TEEP signing keys (one per key type) and the TC-signer key, which
//! is separate so that authorising code (SUIT) and authorising protocol actions (TEEP) can be
//! revoked independently.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use teep_cose::{KeyType, PrivateKey, Signer, SoftwareSigner};

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: key generation: {source}")]
    Generate {
        path: PathBuf,
        source: teep_cose::CryptoError,
    },
    #[error("--key {path}: a {kind} key was already given by {other}")]
    Duplicate {
        path: PathBuf,
        kind: &'static str,
        other: PathBuf,
    },
}

fn kind_name(kt: KeyType) -> &'static str {
    match kt {
        KeyType::P256 => "P-256",
        KeyType::Ed25519 => "Ed25519",
    }
}

fn default_file(kt: KeyType) -> &'static str {
    match kt {
        KeyType::P256 => "tam-p256.pem",
        KeyType::Ed25519 => "tam-ed25519.pem",
    }
}

pub fn load_key(path: &Path) -> Result<PrivateKey, KeyFileError> {
    PrivateKey::load(path).map_err(|e| KeyFileError::Load {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Loads or creates `data/NAME` (PKCS#8 PEM, mode 0600).
pub fn load_or_generate(data: &Path, name: &str, kt: KeyType) -> Result<PrivateKey, KeyFileError> {
    let path = data.join(name);
    if path.exists() {
        return load_key(&path);
    }
    let key = PrivateKey::try_generate(kt).map_err(|source| KeyFileError::Generate {
        path: path.clone(),
        source,
    })?;
    write_private(&path, &key.to_pkcs8_pem())?;
    Ok(key)
}

fn write_private(path: &Path, pem: &str) -> Result<(), KeyFileError> {
    let err = |source| KeyFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        f.write_all(pem.as_bytes()).map_err(err)?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, pem).map_err(err)?;
    Ok(())
}

/// The TEEP signers: keys given with `--key` (at most one per type), the rest loaded from or
/// generated into `data`. Always one P-256 (ESP256) and one Ed25519 signer, since the TAM
/// must support both suites.
pub fn teep_signers(data: &Path, given: &[PathBuf]) -> Result<Vec<Arc<dyn Signer>>, KeyFileError> {
    let mut chosen: Vec<(KeyType, PathBuf, PrivateKey)> = Vec::new();
    for p in given {
        let k = load_key(p)?;
        let kt = k.key_type();
        if let Some((_, other, _)) = chosen.iter().find(|(t, _, _)| *t == kt) {
            return Err(KeyFileError::Duplicate {
                path: p.clone(),
                kind: kind_name(kt),
                other: other.clone(),
            });
        }
        chosen.push((kt, p.clone(), k));
    }
    let mut out: Vec<Arc<dyn Signer>> = Vec::new();
    for kt in [KeyType::P256, KeyType::Ed25519] {
        let key = match chosen.iter().position(|(t, _, _)| *t == kt) {
            Some(i) => chosen.swap_remove(i).2,
            None => load_or_generate(data, default_file(kt), kt)?,
        };
        out.push(Arc::new(SoftwareSigner::new(key)));
    }
    Ok(out)
}

/// The key that signs manifests made by `tc add --ta` (default `data/tc-signer.pem`, P-256).
pub fn tc_signer(data: &Path, given: Option<&Path>) -> Result<SoftwareSigner, KeyFileError> {
    let key = match given {
        Some(p) => load_key(p)?,
        None => load_or_generate(data, "tc-signer.pem", KeyType::P256)?,
    };
    Ok(SoftwareSigner::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_key(dir: &Path, name: &str, kt: KeyType) -> (PathBuf, PrivateKey) {
        let key = PrivateKey::generate(kt);
        let path = dir.join(name);
        std::fs::write(&path, key.to_pkcs8_pem()).unwrap();
        (path, key)
    }

    #[test]
    fn given_keys_are_used_and_only_missing_types_generated_into_data() {
        let dir = tempfile::tempdir().unwrap();
        let (ed, ed_key) = write_key(dir.path(), "mine-ed.pem", KeyType::Ed25519);
        let data = dir.path().join("data");
        let signers = teep_signers(&data, std::slice::from_ref(&ed)).unwrap();
        assert_eq!(signers.len(), 2);
        assert_eq!(signers[1].public_key(), ed_key.public_key());
        assert!(data.join("tam-p256.pem").exists());
        assert!(!data.join("tam-ed25519.pem").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join("tam-p256.pem"))
                .unwrap()
                .permissions();
            assert_eq!(mode.mode() & 0o777, 0o600);
        }
        // The generated key is loaded, not replaced, on the next start.
        let again = teep_signers(&data, &[ed]).unwrap();
        assert_eq!(again[0].public_key(), signers[0].public_key());
    }

    #[test]
    fn a_second_key_of_one_type_is_refused_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = write_key(dir.path(), "a.pem", KeyType::P256);
        let (b, _) = write_key(dir.path(), "b.pem", KeyType::P256);
        let data = dir.path().join("data");
        let e = teep_signers(&data, &[a, b]).err().unwrap().to_string();
        assert!(
            e.contains("b.pem") && e.contains("a.pem") && e.contains("P-256"),
            "{e}"
        );
        assert!(
            !data.exists(),
            "nothing generated when the keys given are refused"
        );
    }
}
