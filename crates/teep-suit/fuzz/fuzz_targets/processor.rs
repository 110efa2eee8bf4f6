#![no_main]
//! Fuzzes the processor with manifests that pass authentication: the input is taken as a
//! manifest body, signed with a fixed test key, and processed against an in-memory store
//! seeded with one component. The processor must never panic, and a failed run must commit
//! nothing.
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use teep_suit::*;

fn key() -> &'static teep_cose::PrivateKey {
    static K: OnceLock<teep_cose::PrivateKey> = OnceLock::new();
    K.get_or_init(|| {
        let pem = include_str!("../../../../../shared/spec/keys/suit-examples-p256-private.pem");
        teep_cose::PrivateKey::from_bytes_any(pem.as_bytes()).expect("test key")
    })
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let root = bytes::Bytes::copy_from_slice(data);
    let Ok(manifest) = codec::decode_manifest(&root, &root, &[], &limits) else {
        return;
    };
    let signer = teep_cose::SoftwareSigner::new(key().clone());
    let integrated = vec![(
        "#tc".to_string(),
        bytes::Bytes::from_static(b"Hello, Secure World!"),
    )];
    let Ok(env) = sign_manifest(&manifest, &integrated, &signer, false) else {
        return;
    };
    let p = Processor::new(TrustAnchors::new(vec![key().public_key()]));
    let mut store = MemoryStore::new();
    store
        .components
        .insert(
            teep_suit::ComponentId::new(vec![b"c".to_vec()]),
            bytes::Bytes::from_static(b"x"),
        );
    let before = store.components.clone();
    let mut fetch = MapFetcher::new();
    fetch.insert("http://x/y", bytes::Bytes::from_static(b"payload"));
    let out = p.install(env, &mut store, &mut fetch);
    if out.result.is_err() {
        assert_eq!(store.commits, 0);
        assert_eq!(store.components, before);
    }
    let _ = out.report.encode();
});
