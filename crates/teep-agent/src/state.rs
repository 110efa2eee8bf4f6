//! What the Agent remembers between sessions: which TCs its applications asked for or gave up,
//! which TAMs it talks to, and the trust anchors it was given.
//!
//! Plain data with its serde form; the Agent itself does no I/O. The Broker keeps it as one JSON
//! document written atomically (`teep_broker::state_file`). It holds only public data (URIs,
//! public keys, component ids); secrets stay in the TEE.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::{
    string::{String, ToString},
    vec,
    vec::Vec,
};

use crate::tc_id::TcId;

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

impl AgentState {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
