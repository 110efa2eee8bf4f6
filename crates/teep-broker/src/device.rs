//! The Agent on a real TEE: [`TeeDevice`] implements [`AgentDevice`] over any
//! [`teep_tee::Tee`], running the teep-suit processor against the TEE's component store.
//!
//! [`TeeComponentStore`] adapts the TEE's store (sealed, atomic batches) to the processor's
//! [`ComponentStore`]: the processor stages a whole manifest and commits once, and the TEE turns
//! that into one sealed-journal commit, so a kill at any point leaves the TC fully old or new.

use std::sync::Arc;

use bytes::Bytes;
use teep_cose::{PublicKey, Signer};
use teep_proto::ComponentId;
use teep_suit::{
    ComponentStore, ManifestRecord, PayloadFetcher, Processor, StoreBatch, StoreError, TrustAnchors,
};
use teep_tee::{ComponentBatch, Tee};

use teep_agent::agent::{
    AgentDevice, DeviceError, DeviceIdentity, InstalledManifest, InstalledTc, ManifestFailure,
    ManifestResult,
};

/// The digest a stored envelope's authentication wrapper signs (what a SUIT_Reference carries,
/// draft-ietf-suit-report) and the manifest's `suit-reference-uri`, read by teep-suit's
/// decoder (which also checks the digest against the manifest). The store keeps only
/// envelopes the processor accepted, so a failure here means a record from elsewhere: the
/// manifest is then reported without a digest rather than failing the whole QueryResponse.
fn manifest_reference(
    envelope: Vec<u8>,
    limits: &teep_suit::Limits,
) -> (Option<teep_cbor::SuitDigest>, Option<String>) {
    // Tolerant: a tagged envelope was accepted (and its deviation recorded) at install.
    let mut seen = teep_cbor::Deviations::new(teep_cbor::Tolerance::Tolerant);
    match teep_suit::decode_envelope_unverified_with(envelope, limits, &mut seen) {
        Ok(env) => (
            Some(env.digest().into()),
            env.manifest.reference_uri.clone(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "installed manifest does not decode: reported without its digest");
            (None, None)
        }
    }
}

/// The TEE's component store seen through teep-suit's [`ComponentStore`].
pub struct TeeComponentStore<'t> {
    pub tee: &'t dyn Tee,
}

fn store_err(e: teep_tee::TeeError) -> StoreError {
    StoreError(e.to_string())
}

impl ComponentStore for TeeComponentStore<'_> {
    fn read_component(&self, id: &ComponentId) -> Result<Option<Bytes>, StoreError> {
        Ok(self.tee.component(id).map_err(store_err)?.map(Bytes::from))
    }

    fn manifest(&self, id: &ComponentId) -> Result<Option<ManifestRecord>, StoreError> {
        Ok(self
            .tee
            .manifest(id)
            .map_err(store_err)?
            .map(|r| ManifestRecord {
                sequence_number: r.sequence_number,
                envelope: Bytes::from(r.envelope),
                components: r.components,
                // The TEE's record keeps no dependency list; manifests with dependencies lose the
                // link to them on uninstall (the dependency stays until unlinked itself).
                dependencies: Vec::new(),
                refcount: u64::from(r.reference_count),
            }))
    }

    fn commit(&mut self, batch: StoreBatch) -> Result<(), StoreError> {
        let mut tee_batch = ComponentBatch::new();
        for (id, content) in batch.components {
            match content {
                Some(bytes) => tee_batch.put_component(id, bytes.to_vec()),
                None => tee_batch.delete_component(id),
            };
        }
        for (id, record) in batch.manifests {
            match record {
                Some(r) => {
                    let reference_count = u32::try_from(r.refcount).map_err(|_| {
                        StoreError(format!("manifest reference count {} too large", r.refcount))
                    })?;
                    tee_batch.put_manifest(teep_tee::ManifestRecord {
                        manifest_component_id: id,
                        sequence_number: r.sequence_number,
                        envelope: r.envelope.to_vec(),
                        reference_count,
                        components: r.components,
                    })
                }
                None => tee_batch.delete_manifest(id),
            };
        }
        self.tee.commit_components(&tee_batch).map_err(store_err)
    }
}

/// The Agent's view of a TEE: keys, identity, component store, and a payload fetcher for
/// manifests that name their TC by URI.
pub struct TeeDevice {
    tee: Arc<dyn Tee>,
    teep: Arc<dyn Signer>,
    attestation: Arc<dyn Signer>,
    endorsement: Vec<Vec<u8>>,
    fetcher: Box<dyn PayloadFetcher + Send>,
    processor_template: Processor,
}

impl TeeDevice {
    pub fn new(tee: Arc<dyn Tee>) -> Self {
        let teep = tee.teep_signer();
        let attestation = tee.attestation_signer();
        let endorsement = tee.attestation_endorsement();
        TeeDevice {
            tee,
            teep,
            attestation,
            endorsement,
            fetcher: Box::new(teep_suit::NoFetcher),
            processor_template: Processor::default(),
        }
    }

    /// Where payloads named by URI come from (integrated payloads need none).
    pub fn with_fetcher(mut self, fetcher: Box<dyn PayloadFetcher + Send>) -> Self {
        self.fetcher = fetcher;
        self
    }

    /// Processor settings (decryption keys, limits, identity); trust anchors are set per call.
    pub fn with_processor(mut self, processor: Processor) -> Self {
        self.processor_template = processor;
        self
    }

    pub fn tee(&self) -> &Arc<dyn Tee> {
        &self.tee
    }
}

impl AgentDevice for TeeDevice {
    fn teep_signer(&self) -> &dyn Signer {
        self.teep.as_ref()
    }

    fn attestation_signer(&self) -> &dyn Signer {
        self.attestation.as_ref()
    }

    fn attestation_endorsement(&self) -> &[Vec<u8>] {
        &self.endorsement
    }

    fn identity(&self) -> DeviceIdentity {
        let id = self.tee.identity();
        DeviceIdentity {
            ueid: id.ueid,
            oemid: id.oemid,
            hwmodel: id.hwmodel,
            hwversion: id.hwversion,
        }
    }

    fn installed(&self) -> Result<Vec<InstalledTc>, DeviceError> {
        let list = self.tee.list_components().map_err(DeviceError::tee)?;
        Ok(list
            .into_iter()
            .map(|c| InstalledTc {
                component_id: c.id,
                digest: c.digest,
                size: c.size,
            })
            .collect())
    }

    fn installed_manifests(&self) -> Result<Vec<InstalledManifest>, DeviceError> {
        let list = self.tee.list_manifests().map_err(DeviceError::tee)?;
        Ok(list
            .into_iter()
            .map(|m| {
                let (digest, reference_uri) =
                    manifest_reference(m.envelope, &self.processor_template.limits);
                InstalledManifest {
                    component_id: m.manifest_component_id,
                    sequence_number: m.sequence_number,
                    digest,
                    reference_uri,
                }
            })
            .collect())
    }

    fn apply_manifest(
        &mut self,
        envelope: &[u8],
        tc_signers: &[PublicKey],
        nonce: Option<&[u8]>,
    ) -> Result<ManifestResult, ManifestFailure> {
        // A trust-anchor update (RFC 9397 §5) is verified against the anchors of its own
        // kind, not the TC signers, and changes them (`trust_anchors`).
        if let Some(kind) = crate::trust_anchors::update_kind(envelope) {
            return crate::trust_anchors::apply(
                self.tee.as_ref(),
                &self.processor_template,
                self.fetcher.as_mut(),
                kind,
                envelope,
                nonce,
            );
        }
        let mut processor = self.processor_template.clone();
        processor.anchors = TrustAnchors::new(tc_signers.to_vec());
        // The TEE's own payload key, so TC signers can encrypt personalization data to it.
        if let Some(key) = self.tee.payload_decryption_key() {
            processor.keys.ecdh.push(key);
        }
        let mut store = TeeComponentStore {
            tee: self.tee.as_ref(),
        };
        let mut outcome = processor.install(
            Bytes::copy_from_slice(envelope),
            &mut store,
            self.fetcher.as_mut(),
        );
        outcome.report.nonce = nonce.map(|n| n.to_vec());
        let report = outcome.report.encode();
        match outcome.result {
            Ok(summary) => Ok(ManifestResult {
                manifest_id: summary.manifest_component_id,
                sequence_number: summary.sequence_number,
                report,
            }),
            Err(e) => Err(ManifestFailure {
                error: DeviceError::suit(e),
                report,
            }),
        }
    }

    fn trust_anchors(&self) -> Option<(Vec<PublicKey>, Vec<PublicKey>)> {
        let tam = self
            .tee
            .trust_anchors(teep_tee::TrustAnchorKind::Tam)
            .ok()?;
        let tc = self
            .tee
            .trust_anchors(teep_tee::TrustAnchorKind::TcSigner)
            .ok()?;
        Some((tam, tc))
    }

    fn unlink_manifest(&mut self, manifest_id: &ComponentId) -> Result<bool, DeviceError> {
        if self
            .tee
            .manifest(manifest_id)
            .map_err(DeviceError::tee)?
            .is_none()
        {
            return Ok(false);
        }
        let processor = self.processor_template.clone();
        let mut store = TeeComponentStore {
            tee: self.tee.as_ref(),
        };
        let outcome = processor.uninstall(manifest_id, &mut store, self.fetcher.as_mut());
        outcome.result.map(|_| true).map_err(DeviceError::suit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TEEP-26 §5 / draft-ietf-suit-report: what a stored envelope is reported by is the
    /// digest its authentication wrapper signs and the manifest's own suit-reference-uri,
    /// tagged (107) or not; a record that does not decode is reported without them.
    #[test]
    fn teep_26_5_manifest_reference_is_the_signed_digest_and_reference_uri() {
        let signer = teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::generate(
            teep_cose::KeyType::P256,
        ));
        let (mut m, _) = teep_suit::ManifestBuilder::new(
            vec![b"TEEP-Device".to_vec(), b"ta".to_vec()].into(),
            &b"x"[..],
        )
        .build_manifest(&[0; 64])
        .unwrap();
        m.reference_uri = Some("https://tam.example/ta.suit".into());
        let limits = teep_suit::Limits::default();
        for tagged in [false, true] {
            let env = teep_suit::sign_manifest(&m, &[], &signer, tagged).unwrap();
            let (digest, uri) = manifest_reference(env.clone(), &limits);
            let digest = digest.unwrap();
            let untagged = if tagged { &env[2..] } else { &env[..] };
            let want = teep_suit::decode_envelope_unverified(untagged.to_vec(), &limits).unwrap();
            assert_eq!(digest.algorithm, -16);
            assert_eq!(digest.bytes, want.digest().bytes);
            assert_eq!(uri.as_deref(), Some("https://tam.example/ta.suit"));
        }
        assert_eq!(manifest_reference(vec![0xa0], &limits), (None, None));
    }
}
