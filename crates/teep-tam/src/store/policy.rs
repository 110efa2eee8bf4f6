//! The policy snapshot: catalog and assignments kept in memory for the TEEP hot path, valid
//! for one store epoch.

use std::sync::Arc;

use super::{Result, Store};
use crate::model::{Target, TcRecord};

/// What the hot path reads from memory instead of storage: the catalog and the assignments,
/// valid for one `epoch`. The epoch moves when this process changes the catalog, the policy or
/// the device registry, and when [`Store::poll_changes`] sees another process do so.
pub struct PolicySnapshot {
    pub epoch: u64,
    /// Newest entry of each component.
    pub catalog: Arc<Vec<TcRecord>>,
    assignments: Vec<(Vec<u8>, Target)>,
    /// Whether any assignment targets a tag (only then are a device's tags read).
    pub tag_rules: bool,
    /// The endorsement roots (DER), for the core's [`crate::session::Context`].
    pub endorsement_roots: Arc<Vec<Vec<u8>>>,
}

impl PolicySnapshot {
    /// Component ids assigned to a device (`None`: a device not yet in storage, which only
    /// `all` assignments reach).
    pub fn assigned(&self, device: Option<(i64, &[String])>) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for (cid, target) in &self.assignments {
            let hit = match (target, device) {
                (Target::All, _) => true,
                (Target::Device(id), Some((d, _))) => *id == d,
                (Target::Tag(t), Some((_, tags))) => tags.iter().any(|x| x == t),
                _ => false,
            };
            if hit && !out.contains(cid) {
                out.push(cid.clone());
            }
        }
        out
    }
}

impl Store {
    /// Catalog and assignments as of now, from memory unless something changed.
    pub async fn policy(&self) -> Result<Arc<PolicySnapshot>> {
        let epoch = self.epoch();
        if let Some(p) = self.shared.policy.read().ok().and_then(|g| g.clone()) {
            if p.epoch == epoch {
                return Ok(p);
            }
        }
        let mut tcs = self.latest_tcs().await?;
        // Once per snapshot: the digests attested `manifests` entries are matched against.
        for tc in &mut tcs {
            tc.manifest_digest = crate::catalog::manifest_digest(&tc.envelope);
        }
        let catalog = Arc::new(tcs);
        let assignments: Vec<(Vec<u8>, Target)> = self
            .list_assignments()
            .await?
            .into_iter()
            .map(|a| (a.component_id, a.target))
            .collect();
        let tag_rules = assignments.iter().any(|(_, t)| matches!(t, Target::Tag(_)));
        let endorsement_roots = Arc::new(
            self.list_endorsement_roots()
                .await?
                .into_iter()
                .map(|r| r.certificate)
                .collect(),
        );
        let snap = Arc::new(PolicySnapshot {
            epoch,
            catalog,
            assignments,
            tag_rules,
            endorsement_roots,
        });
        if let Ok(mut g) = self.shared.policy.write() {
            *g = Some(snap.clone());
        }
        Ok(snap)
    }
}
