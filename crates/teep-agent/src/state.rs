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

use teep_proto::Numbering;

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
    /// Whether `numbering` was learnt from a message valid in that numbering only. A TAM's
    /// learnt numbering is used to read its later messages (some are valid in both) and is
    /// never replaced by a guess; `false` (a first message valid in both, or a state file
    /// written before this was recorded) means the next message is read both ways again.
    #[serde(default)]
    pub numbering_learned: bool,
    /// COSE algorithm id the TAM signed with and the Agent answers with.
    pub algorithm: i64,
    /// Hex kid of the trust anchor that verified the TAM.
    pub kid: String,
    /// The TAM put its kid in the unprotected header, so the Agent puts its own there too
    /// (AttesTAM reads it only from there).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub kid_unprotected: bool,
    /// The TAM's last QueryRequest set the suit-reports bit, so the Success answering its
    /// Update carries the SUIT reports too (-26 §4.5 makes them optional there).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub suit_reports: bool,
    /// The Agent may open a session with this TAM by a QueryResponse of its own (-26 §7.2,
    /// RequestTA): the TAM's last QueryRequest carried neither token nor challenge, and no
    /// message to it failed since (`ProcessError` clears it).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub unsolicited_allowed: bool,
}

impl TamProfile {
    /// The remembered numbering (draft-26 unless `legacy`).
    pub fn numbering(&self) -> Numbering {
        if self.numbering == Numbering::Legacy.name() {
            Numbering::Legacy
        } else {
            Numbering::Draft26
        }
    }
}

/// What the Broker learnt of one TAM's HTTP side (draft-ietf-teep-otrp-over-http-15).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct TamHttp {
    /// The TAM answered 415 to the session-opening empty POST without Content-Type (AttesTAM),
    /// so the Broker sends that POST with `Content-Type: application/teep+cbor`.
    #[serde(default)]
    pub empty_post_content_type: bool,
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
    /// Public keys (SPKI PEM) of the Verifiers whose Attestation Results about a TAM are
    /// trusted (-26 §7.2.1.1); whoever holds one vouches for the TAMs it attests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tam_verifier_keys: Vec<String>,
    /// Per TAM URI: the hex challenge of the last ERR_ATTESTATION_REQUIRED sent to it, until
    /// a QueryRequest attesting the TAM uses it (-26 §7.2.1; each serves once).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tam_challenges: BTreeMap<String, String>,
    /// Per TAM URI: what was learnt from its last QueryRequest.
    #[serde(default)]
    pub tam_profiles: BTreeMap<String, TamProfile>,
    /// Per TAM URI: what the Broker learnt of its HTTP side.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tam_http: BTreeMap<String, TamHttp>,
    /// Which TAM installed each manifest (RFC 9397 §4.3), by manifest component id: the hex
    /// kid (SHA-256 thumbprint of the COSE_Key, stable across restarts and URI changes) of the
    /// TAM trust anchor that verified the Update. A manifest missing here was installed before
    /// this was recorded, or out of band: any trusted TAM may unlink it (see
    /// [`AgentState::allow_cross_tam_unlink`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub installed_by: BTreeMap<TcId, String>,
    /// Device policy: a TAM may unlink manifests another TAM installed (RFC 9397 §4.3 leaves
    /// it to the device; off, each TAM removes only its own).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub allow_cross_tam_unlink: bool,
    /// TC Signer trust anchors trusted for some TAMs only: the signer's hex kid → the hex kids
    /// of the TAMs whose Updates it may sign for. A signer not named here is trusted for every
    /// TAM.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tc_signer_scopes: BTreeMap<String, Vec<String>>,
    /// SUIT reports of installs not yet delivered, per TAM hex kid (hex SUIT_Report, newest
    /// last, at most [`MAX_UNREPORTED`] each): sent in the next QueryResponse to that TAM whose
    /// QueryRequest sets the suit-reports bit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unreported_suit_reports: BTreeMap<String, Vec<String>>,
    /// Per TAM URI: the COSE content algorithm (1 A128GCM, -65534 A128CTR) its last
    /// QueryRequest offered and this Agent encrypts its EAT and SUIT reports with (-26 §8.2);
    /// absent when it offered none the Agent implements.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tam_encryption: BTreeMap<String, i64>,
}

/// Most SUIT reports kept per TAM until it asks for them; older ones are dropped first.
pub const MAX_UNREPORTED: usize = 16;

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

    /// The numbering learnt for this TAM (not a guess), if any: the one its messages are read in.
    pub fn learnt_numbering(&self, uri: &str) -> Option<Numbering> {
        self.tam_profiles
            .get(uri)
            .filter(|p| p.numbering_learned)
            .map(TamProfile::numbering)
    }

    /// Forgets a TAM: its URI, what was learnt of it, and its URI in every request's hints.
    /// Returns whether anything was known of it.
    pub fn remove_tam(&mut self, uri: &str) -> bool {
        let before = self.tam_uris.len();
        self.tam_uris.retain(|u| u != uri);
        let mut found = self.tam_uris.len() != before;
        found |= self.tam_profiles.remove(uri).is_some();
        found |= self.tam_http.remove(uri).is_some();
        found |= self.tam_challenges.remove(uri).is_some();
        for r in self.requested.values_mut() {
            let before = r.tam_uris.len();
            r.tam_uris.retain(|u| u != uri);
            found |= r.tam_uris.len() != before;
        }
        found
    }

    /// Keeps a SUIT report for the TAM of `tam_kid` until it asks (bounded, oldest dropped).
    pub fn keep_suit_report(&mut self, tam_kid: &str, report: &[u8]) {
        let kept = self
            .unreported_suit_reports
            .entry(tam_kid.to_string())
            .or_default();
        kept.push(hex::encode(report));
        if kept.len() > MAX_UNREPORTED {
            let excess = kept.len() - MAX_UNREPORTED;
            kept.drain(..excess);
        }
    }

    /// `ProcessError` for this TAM: until its next QueryRequest, the Agent opens no session
    /// with it by a QueryResponse of its own (-26 §7.2).
    pub fn transport_failed(&mut self, uri: &str) {
        if let Some(p) = self.tam_profiles.get_mut(uri) {
            p.unsolicited_allowed = false;
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

    #[test]
    fn removing_a_tam_forgets_what_was_learnt_of_it_and_its_hints() {
        let mut s = AgentState::default();
        s.add_tam("http://a/tam");
        s.add_tam("http://b/tam");
        s.request(&TcId::parse("hello").unwrap(), &["http://a/tam".into()]);
        s.tam_profiles
            .insert("http://a/tam".into(), TamProfile::default());
        s.tam_http.insert("http://a/tam".into(), TamHttp::default());
        assert!(s.remove_tam("http://a/tam"));
        assert_eq!(s.all_tam_uris(), vec!["http://b/tam".to_string()]);
        assert!(s.tam_profiles.is_empty() && s.tam_http.is_empty());
        assert!(!s.remove_tam("http://a/tam"));
    }

    #[test]
    fn a_profile_written_before_learning_was_recorded_reads_as_a_guess() {
        let p: TamProfile =
            serde_json::from_str(r#"{"numbering":"legacy","algorithm":-7,"kid":"ab"}"#).unwrap();
        assert!(!p.numbering_learned && !p.kid_unprotected);
        assert_eq!(p.numbering(), Numbering::Legacy);
    }
}
