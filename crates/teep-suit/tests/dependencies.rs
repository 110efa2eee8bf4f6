//! Manifests with dependencies built by `ManifestBuilder::depends_on` (draft-ietf-suit-trust-
//! domains; TEEP Appendix E Example 3 shape): dependency-resolution finds the dependency by
//! URI, integrated, or already held with the pinned digest; install processes it first; a
//! dependency that fails leaves nothing of the dependent behind.

mod common;
use common::*;
use teep_suit::*;

fn signer() -> teep_cose::SoftwareSigner {
    let pem = std::fs::read(format!("{SPEC}/keys/suit-examples-p256-private.pem")).unwrap();
    teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::from_bytes_any(&pem).unwrap())
}

fn config_id() -> ComponentId {
    vec![
        b"TEEP-Device".to_vec(),
        b"SecureFS".to_vec(),
        b"config.json".to_vec(),
    ]
    .into()
}

/// The TC of Appendix E Example 1/2 (integrated), the dependency.
fn dependency() -> Vec<u8> {
    ManifestBuilder::new(tc_id(), &b"Hello, Secure World!"[..])
        .sequence_number(3)
        .build(&signer(), &[1; 64])
        .unwrap()
        .0
}

fn dependent(dep: DependsOn) -> Vec<u8> {
    ManifestBuilder::new(config_id(), &br#"{"name":"FOO Bar"}"#[..])
        .sequence_number(1)
        .depends_on(dep)
        .build(&signer(), &[1; 64])
        .unwrap()
        .0
}

fn processor() -> Processor {
    Processor::new(anchors())
}

#[test]
fn appendix_e_example_3_shape_dependency_by_uri_installs_both() {
    let dep = dependency();
    let env = dependent(DependsOn::by_uri(&dep, TC_SUIT_URI).unwrap());
    let v = verify_envelope(env.clone(), &anchors()).unwrap();
    assert_eq!(v.manifest.common.dependencies.len(), 1);
    assert_eq!(
        v.manifest.common.dependencies[0].prefix,
        Some(tc_manifest_id())
    );
    let mut store = MemoryStore::new();
    let mut fetcher = MapFetcher::new();
    fetcher.insert(TC_SUIT_URI, dep);
    let out = processor().install(env, &mut store, &mut fetcher);
    out.result.unwrap();
    assert_eq!(&store.components[&tc_id()][..], b"Hello, Secure World!");
    assert_eq!(
        &store.components[&config_id()][..],
        br#"{"name":"FOO Bar"}"#
    );
    assert_eq!(
        store.manifests[&tc_manifest_id()].refcount,
        1,
        "linked once"
    );
}

#[test]
fn trust_domains_dependency_already_held_is_not_fetched_again() {
    let dep = dependency();
    let mut store = MemoryStore::new();
    processor()
        .install(dep.clone(), &mut store, &mut NoFetcher)
        .result
        .unwrap();
    let env = dependent(DependsOn::by_uri(&dep, TC_SUIT_URI).unwrap());
    // No fetcher: the held manifest with the pinned digest resolves it.
    processor()
        .install(env, &mut store, &mut NoFetcher)
        .result
        .unwrap();
    assert!(store.components.contains_key(&config_id()));
    assert_eq!(store.manifests[&tc_manifest_id()].refcount, 2);
}

#[test]
fn trust_domains_held_dependency_of_another_digest_is_fetched() {
    let dep = dependency();
    let other = ManifestBuilder::new(tc_id(), &b"another"[..])
        .sequence_number(2)
        .build(&signer(), &[1; 64])
        .unwrap()
        .0;
    let mut store = MemoryStore::new();
    processor()
        .install(other, &mut store, &mut NoFetcher)
        .result
        .unwrap();
    let env = dependent(DependsOn::by_uri(&dep, TC_SUIT_URI).unwrap());
    let out = processor().install(env, &mut store, &mut NoFetcher);
    let e = out.result.unwrap_err().to_string();
    assert!(e.contains(TC_SUIT_URI), "{e}");
    assert!(!store.components.contains_key(&config_id()));
}

#[test]
fn trust_domains_integrated_dependency_installs_both() {
    let dep = dependency();
    let env = dependent(DependsOn::integrated(&dep, "#dep").unwrap());
    let mut store = MemoryStore::new();
    processor()
        .install(env, &mut store, &mut NoFetcher)
        .result
        .unwrap();
    assert!(store.components.contains_key(&tc_id()));
    assert!(store.components.contains_key(&config_id()));
}

#[test]
fn trust_domains_failing_dependency_installs_nothing_of_the_dependent() {
    let dep = dependency();
    let env = dependent(DependsOn::by_uri(&dep, TC_SUIT_URI).unwrap());
    // Another envelope at the URI: its digest is not the pinned one.
    let mut fetcher = MapFetcher::new();
    fetcher.insert(
        TC_SUIT_URI,
        ManifestBuilder::new(tc_id(), &b"evil"[..])
            .build(&signer(), &[1; 64])
            .unwrap()
            .0,
    );
    let mut store = MemoryStore::new();
    let out = processor().install(env, &mut store, &mut fetcher);
    assert!(out.result.is_err());
    assert!(!out.report.is_success());
    assert_eq!(store.commits, 0);
    assert!(store.components.is_empty() && store.manifests.is_empty());
}
