//! What the Agent remembers between sessions: which TCs its applications asked for or gave up,
//! which TAMs it talks to, and the trust anchors it was given.
//!
//! Kept as one JSON document written atomically (temporary file, fsync, rename, fsync of the
//! directory), so a kill at any moment leaves the old or the new state, never a mix. The
//! document holds only public data (URIs, public keys, component ids); secrets stay in the TEE.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::tc_id::TcId;

/// Largest state file read back; far above any real list of TCs and TAMs.
pub const MAX_STATE_FILE: u64 = 4 * 1024 * 1024;

/// A TC an application asked for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestedTc {
    /// The lowest acceptable manifest sequence number, if the application named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_sequence: Option<u64>,
    /// TAM URIs from the application's metadata.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tam_uris: Vec<String>,
}

/// What the Agent learnt of one TAM from its last QueryRequest, so it can answer in kind.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct TamProfile {
    /// `draft26` or `legacy`.
    pub numbering: String,
    /// COSE algorithm id the TAM signed with and the Agent answers with.
    pub algorithm: i64,
    /// Hex kid of the trust anchor that verified the TAM.
    pub kid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentState {
    /// TAM URIs contacted on a policy check, in order.
    #[serde(default)]
    pub tam_uris: Vec<String>,
    /// TAM public keys (PEM, JWK or COSE_Key hex, as given) that may sign TEEP messages.
    #[serde(default)]
    pub tam_trust_anchors: Vec<String>,
    /// TC Signer public keys that may sign SUIT manifests.
    #[serde(default)]
    pub tc_signer_trust_anchors: Vec<String>,
    /// TCs wanted but not (yet) installed, by TC id.
    #[serde(default)]
    pub requested: BTreeMap<TcId, RequestedTc>,
    /// Manifests no longer needed, by manifest component id, until a TAM removes them.
    #[serde(default)]
    pub unrequested: BTreeSet<TcId>,
    /// Refuse TAMs that do not attest themselves (ERR_ATTESTATION_REQUIRED).
    #[serde(default)]
    pub require_tam_attestation: bool,
    /// Per TAM URI: what was learnt from its last QueryRequest.
    #[serde(default)]
    pub tam_profiles: BTreeMap<String, TamProfile>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid agent state: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path}: larger than {MAX_STATE_FILE} bytes")]
    TooLarge { path: PathBuf },
}

impl AgentState {
    /// Reads the state, or the empty state when the file does not exist yet.
    pub fn load(path: &Path) -> Result<Self, StateError> {
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
        serde_json::from_slice(&bytes).map_err(|e| StateError::Invalid {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Writes the state atomically.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| StateError::Invalid {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        write_atomic(path, &text).map_err(|source| StateError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// RequestTA bookkeeping: wanted now, so no longer unneeded.
    pub fn request(&mut self, tc: &TcId, tam_uris: &[String]) {
        self.unrequested.remove(&tc.manifest_id());
        let entry = self.requested.entry(tc.clone()).or_insert(RequestedTc {
            min_sequence: None,
            tam_uris: vec![],
        });
        for uri in tam_uris {
            if !entry.tam_uris.contains(uri) {
                entry.tam_uris.push(uri.clone());
            }
        }
    }

    /// UnrequestTA bookkeeping: the manifest id goes to the unneeded list.
    pub fn unrequest(&mut self, tc: &TcId) {
        self.requested.remove(tc);
        self.unrequested.insert(tc.manifest_id());
    }

    /// Adds a TAM URI once, keeping order.
    pub fn add_tam(&mut self, uri: &str) {
        if !self.tam_uris.iter().any(|u| u == uri) {
            self.tam_uris.push(uri.to_string());
        }
    }

    /// Every TAM worth contacting: configured ones, then those named by requests.
    pub fn all_tam_uris(&self) -> Vec<String> {
        let mut uris = self.tam_uris.clone();
        for r in self.requested.values() {
            for u in &r.tam_uris {
                if !uris.contains(u) {
                    uris.push(u.clone());
                }
            }
        }
        uris
    }
}

/// Temporary file, fsync, rename over the target, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_state_and_save_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        let mut s = AgentState::load(&path).unwrap();
        assert_eq!(s, AgentState::default());
        s.add_tam("http://127.0.0.1:1/tam");
        s.request(&TcId::parse("hello").unwrap(), &["http://other/tam".into()]);
        s.save(&path).unwrap();
        let back = AgentState::load(&path).unwrap();
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
    fn unrequest_moves_the_manifest_id_to_unneeded_and_request_undoes_it() {
        let mut s = AgentState::default();
        let tc = TcId::parse("hello").unwrap();
        s.request(&tc, &[]);
        s.unrequest(&tc);
        assert!(s.requested.is_empty());
        assert!(s.unrequested.contains(&tc.manifest_id()));
        s.request(&tc, &[]);
        assert!(s.unrequested.is_empty());
    }

    #[test]
    fn garbage_state_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        std::fs::write(&path, b"{\"tam_uris\": 3}").unwrap();
        let err = AgentState::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("agent.json") && err.contains("line 1"),
            "{err}"
        );
    }
}
