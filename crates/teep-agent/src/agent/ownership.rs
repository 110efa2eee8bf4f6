//! Several TAMs on one device (RFC 9397 §4.3): the Agent records which TAM installed each
//! manifest, lets a TAM unlink only what it installed unless the device's policy says
//! otherwise, and hands the SUIT processor only the TC Signer trust anchors trusted for the
//! TAM whose Update it runs. UnrequestTA's unneeded-manifest-list goes to each TAM with only
//! what that TAM may unlink, so no TAM is asked for what it would be refused.
//!
//! A TAM is named by the hex kid of the trust anchor that verified its message: the SHA-256
//! thumbprint of its COSE_Key, the same across restarts and whatever URI it is reached at.
//! Neither the draft nor RFC 9397 says how a device tells TAMs apart or what it does when
//! one asks to remove another's component; this is what an operator of a device shared by
//! several service providers expects: one provider cannot remove another's TA, and a TC Signer
//! vouched for by one provider cannot sign for the others.

use alloc::{string::String, vec::Vec};
use teep_cose::PublicKey;
use teep_proto::ComponentId;

use super::Agent;
use crate::tc_id::TcId;

/// A manifest the Update asks to unlink that another TAM installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ForeignManifest {
    pub manifest_id: ComponentId,
    /// Hex kid of the TAM that installed it.
    pub installer: String,
}

impl Agent<'_> {
    /// The TC Signer trust anchors the TAM of `tam_kid` may use: every anchor not scoped, and
    /// those scoped to this TAM (`AgentState::tc_signer_scopes`).
    pub(super) fn tc_signers_for(&self, tam_kid: &str) -> Vec<PublicKey> {
        self.config
            .tc_signer_trust_anchors
            .iter()
            .filter(|key| {
                match self
                    .state
                    .tc_signer_scopes
                    .get(&hex::encode(key.thumbprint()))
                {
                    None => true,
                    Some(tams) => tams.iter().any(|t| t.eq_ignore_ascii_case(tam_kid)),
                }
            })
            .cloned()
            .collect()
    }

    /// Whether the TAM of `tam_kid` may unlink `manifest_id`: it installed it, the policy lets
    /// any TAM unlink, or no installer was recorded. A manifest without a recorded installer
    /// (installed before the record was kept, or provisioned out of band) belongs to no TAM in
    /// particular: refusing it would leave it removable by none.
    pub(super) fn may_unlink(&self, tam_kid: &str, manifest_id: &ComponentId) -> bool {
        self.state.allow_cross_tam_unlink
            || self
                .state
                .installed_by
                .get(&TcId(manifest_id.clone()))
                .is_none_or(|installer| installer.eq_ignore_ascii_case(tam_kid))
    }

    /// The first of `unneeded` the TAM of `tam_kid` may not unlink (see [`Self::may_unlink`]).
    pub(super) fn foreign_manifest(
        &self,
        tam_kid: &str,
        unneeded: &[ComponentId],
    ) -> Option<ForeignManifest> {
        let id = unneeded.iter().find(|id| !self.may_unlink(tam_kid, id))?;
        Some(ForeignManifest {
            manifest_id: id.clone(),
            installer: self
                .state
                .installed_by
                .get(&TcId(id.clone()))
                .cloned()
                .unwrap_or_default(),
        })
    }
}
