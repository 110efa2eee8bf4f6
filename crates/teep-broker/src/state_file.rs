//! The Agent's state on disk: one JSON document, read back with a size bound and replaced
//! atomically with teep-tee's [`write_atomic`] (temporary file, fsync, rename, fsync of the
//! directory), so a kill at any moment leaves the old or the new state, never a mix. The
//! document holds only public data (URIs, public keys, component ids); secrets stay in the TEE.
//! SUIT reports not yet delivered are not public (-26 §8.2 has the Agent encrypt them for the
//! TAM): [`save_state_sealed`] keeps them in the TEE's sealed Agent records instead.
//!
//! The file lives here rather than in teep-agent so that the sans-IO Agent does no file I/O and
//! needs neither std's file system nor the TEE crate.

use std::path::{Path, PathBuf};

use teep_agent::state::AgentState;
use teep_tee::fsutil::write_atomic;

/// Largest state file read back; far above any real list of TCs and TAMs.
pub const MAX_STATE_FILE: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid agent state: {cause}")]
    Invalid {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error("{path}: larger than {MAX_STATE_FILE} bytes")]
    TooLarge { path: PathBuf },
    #[error("sealed agent record {SEALED_REPORTS}: {0}")]
    Sealed(String),
    #[error("{path}: tam_verifier_keys[{index}]: {message}")]
    Key {
        path: PathBuf,
        index: usize,
        message: String,
    },
}

/// The trusted TAM Verifier keys the state at `path` lists (`AgentConfig::tam_verifier_keys`);
/// one that does not parse is an error naming it.
pub fn tam_verifier_keys(
    state: &AgentState,
    path: &Path,
) -> Result<Vec<teep_cose::PublicKey>, StateError> {
    state
        .tam_verifier_keys
        .iter()
        .enumerate()
        .map(|(index, text)| {
            teep_cose::PublicKey::from_bytes_any(text.as_bytes()).map_err(|e| StateError::Key {
                path: path.to_path_buf(),
                index,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Reads the state, or the empty state when the file does not exist yet.
pub fn load_state(path: &Path) -> Result<AgentState, StateError> {
    let io = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AgentState::default()),
        Err(e) => return Err(io(e)),
    };
    if meta.len() > MAX_STATE_FILE {
        return Err(StateError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    serde_json::from_slice(&bytes).map_err(|cause| StateError::Invalid {
        path: path.to_path_buf(),
        cause,
    })
}

/// Writes the state atomically.
pub fn save_state(state: &AgentState, path: &Path) -> Result<(), StateError> {
    let text = serde_json::to_vec_pretty(state).map_err(|cause| StateError::Invalid {
        path: path.to_path_buf(),
        cause,
    })?;
    write_atomic(path, &text).map_err(|source| StateError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The TEE's sealed Agent record holding the SUIT reports not yet delivered (JSON: TAM hex
/// kid → hex reports, as [`AgentState::unreported_suit_reports`]).
pub const SEALED_REPORTS: &str = "unreported-suit-reports";

/// [`load_state`], with the undelivered SUIT reports read from `tee`'s sealed records (and
/// any an older state file still lists, each once).
pub fn load_state_sealed(path: &Path, tee: &dyn teep_tee::Tee) -> Result<AgentState, StateError> {
    let mut state = load_state(path)?;
    let sealed = tee
        .agent_get(SEALED_REPORTS)
        .map_err(|e| StateError::Sealed(e.to_string()))?;
    if let Some(bytes) = sealed {
        let kept: std::collections::BTreeMap<String, Vec<String>> = serde_json::from_slice(&bytes)
            .map_err(|e| StateError::Sealed(format!("not a report list: {e}")))?;
        for (tam, reports) in kept {
            let mine = state.unreported_suit_reports.entry(tam).or_default();
            for r in reports {
                if !mine.contains(&r) {
                    mine.push(r);
                }
            }
            let excess = mine.len().saturating_sub(teep_agent::state::MAX_UNREPORTED);
            mine.drain(..excess);
        }
    }
    Ok(state)
}

/// [`save_state`] without the undelivered SUIT reports, which go to `tee`'s sealed records
/// first (a crash between the two writes leaves them in both, read back once).
pub fn save_state_sealed(
    state: &AgentState,
    path: &Path,
    tee: &dyn teep_tee::Tee,
) -> Result<(), StateError> {
    let sealed = if state.unreported_suit_reports.is_empty() {
        tee.agent_delete(SEALED_REPORTS)
    } else {
        // A map of strings always serialises.
        let bytes = serde_json::to_vec(&state.unreported_suit_reports).unwrap_or_default();
        tee.agent_put(SEALED_REPORTS, &bytes)
    };
    sealed.map_err(|e| StateError::Sealed(e.to_string()))?;
    let mut public = state.clone();
    public.unreported_suit_reports.clear();
    save_state(&public, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use teep_agent::TcId;

    #[test]
    fn missing_file_is_empty_state_and_save_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        let mut s = load_state(&path).unwrap();
        assert_eq!(s, AgentState::default());
        s.add_tam("http://127.0.0.1:1/tam");
        s.request(&TcId::parse("hello").unwrap(), &["http://other/tam".into()]);
        save_state(&s, &path).unwrap();
        let back = load_state(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            back.all_tam_uris(),
            vec![
                "http://127.0.0.1:1/tam".to_string(),
                "http://other/tam".to_string()
            ]
        );
    }

    #[test]
    fn garbage_state_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        std::fs::write(&path, b"{\"tam_uris\": 3}").unwrap();
        let err = load_state(&path).unwrap_err().to_string();
        assert!(
            err.contains("agent.json") && err.contains("line 1"),
            "{err}"
        );
    }

    #[test]
    fn oversized_state_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_STATE_FILE + 1).unwrap();
        assert!(matches!(
            load_state(&path),
            Err(StateError::TooLarge { .. })
        ));
    }

    #[test]
    fn saving_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        let mut s = AgentState::default();
        save_state(&s, &path).unwrap();
        s.add_tam("http://tam");
        save_state(&s, &path).unwrap();
        assert_eq!(load_state(&path).unwrap(), s);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("agent.json")]);
    }

    #[test]
    fn tam_verifier_keys_parse_and_a_bad_one_is_named() {
        let key = teep_cose::PrivateKey::from_p256_scalar(&[5; 32])
            .unwrap()
            .public_key();
        let mut s = AgentState {
            tam_verifier_keys: vec![key.to_spki_pem()],
            ..Default::default()
        };
        let p = Path::new("state.json");
        assert_eq!(tam_verifier_keys(&s, p).unwrap(), vec![key]);
        s.tam_verifier_keys.push("not a key".into());
        let e = tam_verifier_keys(&s, p).unwrap_err().to_string();
        assert!(e.starts_with("state.json: tam_verifier_keys[1]: "), "{e}");
    }

    /// -26 §8.2: undelivered SUIT reports stay out of the state file, sealed in the TEE, and
    /// come back on load; reports an older state file listed are kept, once.
    #[test]
    fn undelivered_reports_are_sealed_not_written_to_the_state_file() {
        use teep_tee::Tee as _;
        let dir = tempfile::tempdir().unwrap();
        let tee = teep_tee::SoftwareTee::open(dir.path().join("tee")).unwrap();
        let path = dir.path().join("agent.json");
        let mut s = AgentState::default();
        s.add_tam("http://tam");
        s.keep_suit_report("aa", &[0xa1, 0x04, 0xf5]);
        save_state_sealed(&s, &path, &tee).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("a104f5"), "{text}");
        assert!(!text.contains("unreported"), "{text}");
        assert_eq!(load_state_sealed(&path, &tee).unwrap(), s);

        // An older state file that kept the same report and one more.
        let mut old = s.clone();
        old.keep_suit_report("aa", &[0xa0]);
        save_state(&old, &path).unwrap();
        let back = load_state_sealed(&path, &tee).unwrap();
        assert_eq!(back.unreported_suit_reports["aa"], vec!["a104f5", "a0"]);

        // Delivered: the sealed record goes too.
        let mut done = back.clone();
        done.unreported_suit_reports.clear();
        save_state_sealed(&done, &path, &tee).unwrap();
        assert_eq!(tee.agent_get(SEALED_REPORTS).unwrap(), None);
        assert_eq!(load_state_sealed(&path, &tee).unwrap(), done);
    }
}
