//! A 1 MiB integrated payload is hashed once and never copied between the envelope buffer
//! and the store's commit batch (the store receives a slice of the envelope).

mod common;
use bytes::Bytes;
use common::*;
use teep_suit::model::hashed_bytes;
use teep_suit::*;

/// A store that records how many payload bytes it was handed in commits.
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    committed_bytes: usize,
}

impl ComponentStore for CountingStore {
    fn read_component(&self, id: &ComponentId) -> Result<Option<Bytes>, StoreError> {
        self.inner.read_component(id)
    }
    fn manifest(&self, id: &ComponentId) -> Result<Option<ManifestRecord>, StoreError> {
        self.inner.manifest(id)
    }
    fn commit(&mut self, batch: StoreBatch) -> Result<(), StoreError> {
        self.committed_bytes += batch
            .components
            .iter()
            .filter_map(|(_, c)| c.as_ref())
            .map(|c| c.len())
            .sum::<usize>();
        self.inner.commit(batch)
    }
}

#[test]
fn one_mib_payload_is_hashed_once_and_not_copied() {
    let pem = std::fs::read(format!("{SPEC}/keys/suit-examples-p256-private.pem")).unwrap();
    let signer =
        teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::from_bytes_any(&pem).unwrap());
    let payload: Vec<u8> = (0..1u32 << 20).map(|i| i as u8).collect();
    let (env, _) = ManifestBuilder::new(tc_id(), payload.clone())
        .build(&signer, &[1; 64])
        .unwrap();
    let env = Bytes::from(env);
    let manifest_len = verify_envelope(env.clone(), &anchors())
        .unwrap()
        .manifest_bstr
        .len() as u64;

    let mut store = CountingStore::default();
    let before = hashed_bytes();
    let out = Processor::new(anchors()).install(env.clone(), &mut store, &mut NoFetcher);
    out.result.unwrap();
    let hashed = hashed_bytes() - before;
    // Once over the manifest (authentication) and once over the payload (image-match).
    assert_eq!(hashed, manifest_len + (1 << 20));
    // The committed component is a slice of the envelope buffer: zero copies so far; the
    // store's own write is the only copy.
    let stored = &store.inner.components[&tc_id()];
    let range = env.as_ptr() as usize..env.as_ptr() as usize + env.len();
    assert!(range.contains(&(stored.as_ptr() as usize)));
    assert_eq!(store.committed_bytes, 1 << 20);
    assert_eq!(&stored[..], &payload[..]);
}
