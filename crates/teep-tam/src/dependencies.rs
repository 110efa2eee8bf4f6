//! A catalog TC's dependencies (draft-ietf-suit-trust-domains: suit-dependencies,
//! dependency-prefix, dependency resolution), read from its manifest when it is added and
//! resolved to the catalog TCs that carry them, so that policy can send what a device lacks
//! ahead of the dependent (`teep_tam_core::policy::dependencies`).
//!
//! What the manifest says of dependency `i` (a component index listed in suit-dependencies):
//! its dependency-prefix (where the dependency manifest is stored, its manifest component id),
//! and the image-digest (the dependency's manifest digest) and uri that any command sequence
//! sets for index `i` (TEEP Appendix E Example 3 sets them in dependency-resolution).
//!
//! Resolution: the catalog entry whose manifest digest is the pinned digest; failing that, the
//! entry whose manifest component id is the prefix. A dependency that resolves to nothing is
//! refused at upload, naming it: the operator can add it then, whereas a TC accepted without
//! it would be left out of every device's Update (see CONFORMANCE.md, Dependencies).

use teep_suit::{CommandArg, CommandCode, CommandSequence, Digest, IndexArg, Manifest, Parameter};
use teep_tam_core::policy::dependencies::{with_dependencies, DependencyError};
use teep_tam_core::policy::Install;

use crate::model::{component_id_display, ComponentId, NewTc, TcDependency, TcOrigin, TcRecord};
use crate::ops::OpsError;

/// One dependency as the manifest states it, before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyRef {
    /// Its component index in the dependent.
    pub index: u64,
    pub prefix: Option<ComponentId>,
    /// The dependency's manifest digest, if some sequence sets image-digest for it.
    pub digest: Option<Digest>,
    pub uri: Option<String>,
}

impl std::fmt::Display for DependencyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = &self.prefix {
            parts.push(format!("dependency-prefix {p}"));
        }
        if let Some(d) = &self.digest {
            parts.push(format!(
                "digest {}:{}",
                d.algorithm.name(),
                hex::encode(&d.bytes)
            ));
        }
        if let Some(u) = &self.uri {
            parts.push(format!("uri {u:?}"));
        }
        if parts.is_empty() {
            parts.push("no prefix, digest or uri".into());
        }
        write!(
            f,
            "common.dependencies[{}] ({})",
            self.index,
            parts.join(", ")
        )
    }
}

/// The dependencies a manifest states, in component-index order.
pub fn read(manifest: &Manifest) -> Vec<DependencyRef> {
    let mut refs: Vec<DependencyRef> = manifest
        .common
        .dependencies
        .iter()
        .map(|d| DependencyRef {
            index: d.index,
            prefix: d.prefix.clone(),
            digest: None,
            uri: None,
        })
        .collect();
    let slots = manifest.component_slots();
    let sequences = [
        manifest.common.shared_sequence.as_ref(),
        manifest
            .dependency_resolution
            .as_ref()
            .and_then(|s| s.get()),
        manifest.payload_fetch.as_ref().and_then(|s| s.get()),
        manifest
            .candidate_verification
            .as_ref()
            .and_then(|s| s.get()),
        manifest.install.as_ref().and_then(|s| s.get()),
        manifest.validate.as_ref(),
    ];
    for seq in sequences.into_iter().flatten() {
        scan(seq, vec![0], slots, &mut refs);
    }
    refs.sort_by_key(|r| r.index);
    refs
}

/// Records the image-digest and uri each command sets for a dependency's index, following
/// set-component-index through nested try-each and run-sequence.
fn scan(seq: &CommandSequence, mut current: Vec<u64>, slots: u64, refs: &mut [DependencyRef]) {
    for cmd in &seq.commands {
        match (&cmd.code, &cmd.arg) {
            (CommandCode::SetComponentIndex, CommandArg::ComponentIndex(arg)) => {
                current = match arg {
                    IndexArg::One(i) => vec![*i],
                    IndexArg::All => (0..slots).collect(),
                    IndexArg::List(l) => l.clone(),
                }
            }
            (
                CommandCode::OverrideParameters | CommandCode::SetParameters,
                CommandArg::Parameters(ps),
            ) => {
                for r in refs.iter_mut().filter(|r| current.contains(&r.index)) {
                    for p in ps {
                        match p {
                            Parameter::ImageDigest(d) if r.digest.is_none() => {
                                r.digest = Some(d.clone())
                            }
                            Parameter::Uri(u) if r.uri.is_none() => r.uri = Some(u.clone()),
                            _ => {}
                        }
                    }
                }
            }
            (_, CommandArg::TryEach { alternatives, .. }) => {
                for alt in alternatives {
                    scan(alt, current.clone(), slots, refs);
                }
            }
            (_, CommandArg::Sequence(s)) => scan(s, current.clone(), slots, refs),
            _ => {}
        }
    }
}

/// The catalog TCs `refs` resolve to, and notes for the uploader; refused when one is not in
/// the catalog, or when adding `new` would close a cycle of dependencies.
pub fn resolve(
    new: &NewTc,
    refs: &[DependencyRef],
    catalog: &[TcRecord],
) -> Result<(Vec<TcDependency>, Vec<String>), OpsError> {
    let mut out: Vec<TcDependency> = Vec::new();
    let mut notes = Vec::new();
    let limits = teep_suit::Limits {
        max_envelope_len: crate::catalog::MAX_ENVELOPE,
        ..Default::default()
    };
    let manifest_digest = |tc: &TcRecord| {
        teep_suit::decode_envelope_unverified(tc.envelope.clone(), &limits)
            .ok()
            .map(|e| e.authentication.digest)
    };
    for r in refs {
        let prefix = r.prefix.as_ref().map(ComponentId::encode);
        let by_digest = r.digest.as_ref().and_then(|d| {
            catalog
                .iter()
                .find(|tc| manifest_digest(tc).as_ref() == Some(d))
        });
        let by_prefix = || {
            prefix.as_ref().and_then(|p| {
                catalog
                    .iter()
                    .rev()
                    .find(|tc| tc.manifest_component_id.as_ref() == Some(p))
            })
        };
        let tc = match (by_digest, &r.digest) {
            (Some(tc), _) => tc,
            (None, digest) => match by_prefix() {
                Some(tc) => {
                    if digest.is_some() {
                        notes.push(format!(
                            "{r}: no catalog entry has that manifest digest; it resolves by its \
                             prefix to {} {}, whose newest sequence number devices get",
                            tc.name,
                            component_id_display(&tc.component_id)
                        ));
                    }
                    tc
                }
                None => {
                    return Err(OpsError::Dependency(format!(
                        "SUIT_Manifest.{r}: the dependency is not in the catalog; add the TC \
                         that carries it first"
                    )))
                }
            },
        };
        if out.iter().any(|d| d.component_id == tc.component_id) {
            continue;
        }
        out.push(TcDependency {
            component_id: tc.component_id.clone(),
            manifest_component_id: prefix.or_else(|| tc.manifest_component_id.clone()),
            digest: r.digest.as_ref().map(teep_suit::codec::encode_digest),
            uri: r.uri.clone(),
        });
    }
    check_acyclic(new, &out, catalog)?;
    Ok((out, notes))
}

/// Refuses `new` when, with its dependencies, the catalog's newest entries would form a cycle
/// (policy would then never send it).
fn check_acyclic(
    new: &NewTc,
    dependencies: &[TcDependency],
    catalog: &[TcRecord],
) -> Result<(), OpsError> {
    if dependencies.is_empty() {
        return Ok(());
    }
    let mut after: Vec<TcRecord> = Vec::new();
    for tc in catalog {
        if tc.component_id == new.component_id {
            continue;
        }
        match after.iter_mut().find(|t| t.component_id == tc.component_id) {
            Some(t) if t.sequence >= tc.sequence => {}
            Some(t) => *t = tc.clone(),
            None => after.push(tc.clone()),
        }
    }
    after.push(TcRecord {
        id: 0,
        name: new.name.clone(),
        component_id: new.component_id.clone(),
        manifest_component_id: new.manifest_component_id.clone(),
        sequence: new.sequence,
        envelope: Vec::new(),
        manifest_digest: None,
        payload_digest: None,
        signer_kid: None,
        created_at: 0,
        dependencies: dependencies.to_vec(),
    });
    let root = Install {
        component_id: new.component_id.clone(),
        sequence: new.sequence,
        envelope: &[],
        origin: TcOrigin::Policy,
    };
    let (_, refused) = with_dependencies(vec![root], &after, &[]);
    match refused.into_iter().next() {
        Some(DependencyError::Cycle { path, .. }) => Err(OpsError::Dependency(format!(
            "SUIT_Manifest.common.dependencies: with this manifest the catalog's dependencies \
             would form a cycle: {}",
            path.join(" -> ")
        ))),
        Some(e) => Err(OpsError::Dependency(format!(
            "SUIT_Manifest.common.dependencies: {e}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../../shared/spec/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn appendix_e_example_3_dependency_is_read_from_dependency_resolution() {
        let env = teep_suit::decode_envelope_unverified(
            spec("teep-protocol/common/derived/suit_personalization.cbor"),
            &Default::default(),
        )
        .unwrap();
        let refs = read(&env.manifest);
        assert_eq!(refs.len(), 1);
        let r = &refs[0];
        assert_eq!(r.index, 1);
        let prefix = r.prefix.as_ref().unwrap();
        assert_eq!(prefix[0], b"TEEP-Device");
        assert_eq!(hex::encode(&prefix[2]), "8d82573a926d4754935332dc29997f74");
        assert_eq!(prefix[3], b"suit");
        assert_eq!(
            hex::encode(&r.digest.as_ref().unwrap().bytes),
            "b39b52b0b747ea79588c190f567bfc2c8437ba8a73f7ea983182e79f0148d59b"
        );
        assert_eq!(
            r.uri.as_deref(),
            Some("https://example.org/8d82573a-926d-4754-9353-32dc29997f74.suit")
        );
        assert!(r.to_string().starts_with(
            "common.dependencies[1] (dependency-prefix ['TEEP-Device', 'SecureFS', h'8d82573a"
        ));
    }

    #[test]
    fn appendix_e_example_1_has_no_dependencies() {
        let env = teep_suit::decode_envelope_unverified(
            spec("teep-protocol/common/derived/suit_uri.cbor"),
            &Default::default(),
        )
        .unwrap();
        assert!(read(&env.manifest).is_empty());
    }

    fn ids(name: &str) -> (Vec<u8>, Vec<u8>) {
        let seg = |last: &str| {
            ComponentId::new(vec![
                b"TEEP-Device".to_vec(),
                name.as_bytes().to_vec(),
                last.as_bytes().to_vec(),
            ])
        };
        (seg("ta").encode(), seg("suit").encode())
    }

    fn record(name: &str, sequence: u64, dependencies: Vec<TcDependency>) -> TcRecord {
        let (cid, mid) = ids(name);
        TcRecord {
            id: 0,
            name: name.into(),
            component_id: cid,
            manifest_component_id: Some(mid),
            sequence,
            envelope: Vec::new(),
            manifest_digest: None,
            payload_digest: None,
            signer_kid: None,
            created_at: 0,
            dependencies,
        }
    }

    fn new_tc(name: &str, sequence: u64) -> NewTc {
        let r = record(name, sequence, vec![]);
        NewTc {
            name: r.name,
            component_id: r.component_id,
            manifest_component_id: r.manifest_component_id,
            sequence,
            envelope: Vec::new(),
            payload_digest: None,
            signer_kid: None,
            dependencies: vec![],
        }
    }

    /// A dependency on `name` by its prefix only.
    fn on(name: &str) -> DependencyRef {
        DependencyRef {
            index: 1,
            prefix: Some(ComponentId::decode(&ids(name).1).unwrap()),
            digest: None,
            uri: None,
        }
    }

    #[test]
    fn trust_domains_dependency_resolves_by_prefix_to_the_catalog_tc() {
        let catalog = [record("ta", 1, vec![])];
        let (deps, notes) = resolve(&new_tc("config", 1), &[on("ta")], &catalog).unwrap();
        assert_eq!(deps.len(), 1);
        assert_eq!(deps[0].component_id, ids("ta").0);
        assert_eq!(deps[0].manifest_component_id, Some(ids("ta").1));
        assert!(notes.is_empty());
    }

    #[test]
    fn trust_domains_dependency_not_in_the_catalog_is_refused_naming_it() {
        let e = resolve(&new_tc("config", 1), &[on("ta")], &[]).unwrap_err();
        assert_eq!(e.status(), 409);
        assert_eq!(
            e.to_string(),
            "SUIT_Manifest.common.dependencies[1] (dependency-prefix ['TEEP-Device', 'ta', \
             'suit']): the dependency is not in the catalog; add the TC that carries it first"
        );
    }

    #[test]
    fn trust_domains_manifest_closing_a_dependency_cycle_is_refused() {
        // config depends on ta; a new ta that depends on config would close the cycle.
        let on_ta = TcDependency {
            component_id: ids("ta").0,
            manifest_component_id: Some(ids("ta").1),
            digest: None,
            uri: None,
        };
        let catalog = [record("ta", 1, vec![]), record("config", 1, vec![on_ta])];
        let e = resolve(&new_tc("ta", 2), &[on("config")], &catalog).unwrap_err();
        assert_eq!(e.status(), 409);
        let text = e.to_string();
        assert!(
            text.starts_with(
                "SUIT_Manifest.common.dependencies: with this manifest the catalog's \
                 dependencies would form a cycle: ta "
            ) && text.contains(" -> config "),
            "{text}"
        );
        // A ta that depends on nothing is fine: the old ta is replaced, not kept beside it.
        assert!(resolve(&new_tc("ta", 2), &[], &catalog).is_ok());
    }
}
