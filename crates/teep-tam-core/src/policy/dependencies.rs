//! Dependencies in an Update (draft-ietf-suit-trust-domains, suit-dependencies): a TC whose
//! manifest depends on others goes out with the dependencies the device lacks, transitively,
//! each before what depends on it, each once.
//!
//! A dependency is a catalog TC (resolved when the dependent was added, see [`TcDependency`]);
//! one the device holds (by its tc-list, or by storage without one) is not sent again, even at
//! an older sequence number: the dependent's own dependency-resolution pins what it needs, and
//! the held TC is kept current by the rules for its own origin. A dependency sent only because
//! of a dependent is recorded with origin [`TcOrigin::Dependency`].
//!
//! A TC whose dependencies cannot be sent — one is no longer in the catalog, or they form a
//! cycle — is not sent at all (a dependent without its dependency fails on the device, after
//! the TAM knew it would); the other TCs of the Update still go, and the refusal is returned
//! for the session's audit entry.

use alloc::{format, string::String, vec::Vec};

use super::Install;
use crate::model::{component_id_display, InstalledTc, TcDependency, TcOrigin, TcRecord};

/// Why a TC was left out of an Update.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DependencyError {
    /// A dependency's catalog TC has gone (deleted after the dependent was added).
    #[error(
        "not sending {dependent}: it depends on {missing}, which is not in the catalog \
         (add it again, or delete {dependent})"
    )]
    Missing { dependent: String, missing: String },
    /// The dependencies lead back to a TC on the path.
    #[error("not sending {dependent}: its dependencies form a cycle: {}", .path.join(" -> "))]
    Cycle {
        dependent: String,
        path: Vec<String>,
    },
}

/// `install` with each entry's missing dependencies inserted before it; the TCs that could
/// not be sent, and why.
pub fn with_dependencies<'a>(
    install: Vec<Install<'a>>,
    catalog: &'a [TcRecord],
    held: &[InstalledTc],
) -> (Vec<Install<'a>>, Vec<DependencyError>) {
    let mut out: Vec<Install<'a>> = Vec::new();
    let mut refused = Vec::new();
    for root in &install {
        let mut plan: Vec<Install<'a>> = Vec::new();
        let mut path: Vec<Vec<u8>> = Vec::new();
        let walk = Walk {
            install: &install,
            catalog,
            held,
            scheduled: &out,
        };
        match walk.visit(root.clone(), &mut path, &mut plan) {
            Ok(()) => {
                for i in plan {
                    if !scheduled(&out, &i.component_id) {
                        out.push(i);
                    }
                }
            }
            Err(e) => refused.push(e),
        }
    }
    (out, refused)
}

fn scheduled(list: &[Install<'_>], cid: &[u8]) -> bool {
    list.iter().any(|i| i.component_id == cid)
}

/// One depth-first walk from a TC to send.
struct Walk<'w, 'a> {
    /// What policy decided to send (a dependency that is also there keeps its origin).
    install: &'w [Install<'a>],
    catalog: &'a [TcRecord],
    held: &'w [InstalledTc],
    /// What earlier walks already put into the Update.
    scheduled: &'w [Install<'a>],
}

impl<'a> Walk<'_, 'a> {
    /// Puts `node`'s unsent dependencies, then `node`, at the end of `plan`; `path` is the
    /// chain of dependents from the root, to catch cycles.
    fn visit(
        &self,
        node: Install<'a>,
        path: &mut Vec<Vec<u8>>,
        plan: &mut Vec<Install<'a>>,
    ) -> Result<(), DependencyError> {
        if scheduled(plan, &node.component_id) || scheduled(self.scheduled, &node.component_id) {
            return Ok(());
        }
        if path.contains(&node.component_id) {
            let mut names: Vec<String> = path.iter().map(|c| self.name(c)).collect();
            names.push(self.name(&node.component_id));
            return Err(DependencyError::Cycle {
                dependent: self.name(&path[0]),
                path: names,
            });
        }
        path.push(node.component_id.clone());
        let dependencies: &[TcDependency] = self
            .catalog
            .iter()
            .find(|t| t.component_id == node.component_id)
            .map(|t| t.dependencies.as_slice())
            .unwrap_or_default();
        for dep in dependencies {
            if self.held.iter().any(|h| h.component_id == dep.component_id) {
                continue;
            }
            let next = match self
                .install
                .iter()
                .find(|i| i.component_id == dep.component_id)
            {
                Some(i) => i.clone(),
                None => {
                    let Some(tc) = self
                        .catalog
                        .iter()
                        .find(|t| t.component_id == dep.component_id)
                    else {
                        return Err(DependencyError::Missing {
                            dependent: self.name(&path[0]),
                            missing: component_id_display(&dep.component_id),
                        });
                    };
                    Install {
                        component_id: tc.component_id.clone(),
                        sequence: tc.sequence,
                        envelope: &tc.envelope,
                        origin: TcOrigin::Dependency,
                    }
                }
            };
            self.visit(next, path, plan)?;
        }
        path.pop();
        plan.push(node);
        Ok(())
    }

    /// A TC's catalog name and component id, for messages.
    fn name(&self, cid: &[u8]) -> String {
        match self.catalog.iter().find(|t| t.component_id == cid) {
            Some(t) => format!("{} {}", t.name, component_id_display(cid)),
            None => component_id_display(cid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decide, Input, Reported};
    use super::*;
    use crate::model::ComponentId;

    fn cid(name: &str) -> Vec<u8> {
        ComponentId::encode_segments(&[b"TEEP-Device".to_vec(), name.as_bytes().to_vec()])
    }
    fn tc(name: &str, deps: &[&str]) -> TcRecord {
        TcRecord {
            id: 0,
            name: name.into(),
            component_id: cid(name),
            manifest_component_id: None,
            sequence: 1,
            envelope: name.as_bytes().to_vec(),
            manifest_digest: None,
            payload_digest: None,
            signer_kid: None,
            created_at: 0,
            dependencies: deps
                .iter()
                .map(|d| TcDependency {
                    component_id: cid(d),
                    manifest_component_id: None,
                    digest: None,
                    uri: None,
                })
                .collect(),
        }
    }
    fn held(name: &str) -> InstalledTc {
        InstalledTc {
            component_id: cid(name),
            sequence: Some(1),
            digest: None,
            origin: "request".into(),
            updated_at: 0,
        }
    }
    /// The names and origins of what an Update for `assigned` carries.
    fn update(
        catalog: &[TcRecord],
        assigned: &[&str],
        holds: &[&str],
    ) -> (Vec<(String, TcOrigin)>, Vec<DependencyError>) {
        let assigned: Vec<Vec<u8>> = assigned.iter().map(|a| cid(a)).collect();
        let stored: Vec<InstalledTc> = holds.iter().map(|h| held(h)).collect();
        let d = decide(&Input {
            catalog,
            assigned: &assigned,
            stored: &stored,
            tc_list: None,
            requested: &[],
            unneeded: &[],
            allow_requests: true,
        })
        .unwrap();
        let names = d
            .install
            .iter()
            .map(|i| {
                let t = catalog
                    .iter()
                    .find(|t| t.component_id == i.component_id)
                    .unwrap();
                (t.name.clone(), i.origin)
            })
            .collect();
        (names, d.refused)
    }
    fn names(v: &[(String, TcOrigin)]) -> Vec<&str> {
        v.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn trust_domains_dependency_is_sent_before_its_dependent() {
        let catalog = [tc("config", &["ta"]), tc("ta", &[])];
        let (sent, refused) = update(&catalog, &["config"], &[]);
        assert_eq!(
            sent,
            vec![
                ("ta".into(), TcOrigin::Dependency),
                ("config".into(), TcOrigin::Policy)
            ]
        );
        assert!(refused.is_empty());
    }

    #[test]
    fn trust_domains_dependencies_are_sent_transitively_in_order_once() {
        // config -> {lib, ta}, ta -> lib: lib first, then ta, then config; lib once.
        let catalog = [
            tc("config", &["lib", "ta"]),
            tc("ta", &["lib"]),
            tc("lib", &[]),
            tc("other", &["lib"]),
        ];
        let (sent, refused) = update(&catalog, &["config", "other"], &[]);
        assert_eq!(names(&sent), ["lib", "ta", "config", "other"]);
        assert!(refused.is_empty());
    }

    #[test]
    fn trust_domains_dependency_also_assigned_keeps_its_own_origin() {
        let catalog = [tc("config", &["ta"]), tc("ta", &[])];
        let (sent, _) = update(&catalog, &["config", "ta"], &[]);
        assert_eq!(
            sent,
            vec![
                ("ta".into(), TcOrigin::Policy),
                ("config".into(), TcOrigin::Policy)
            ]
        );
    }

    #[test]
    fn trust_domains_dependency_the_device_holds_is_not_resent() {
        let catalog = [tc("config", &["ta"]), tc("ta", &["lib"]), tc("lib", &[])];
        let (sent, _) = update(&catalog, &["config"], &["ta"]);
        assert_eq!(names(&sent), ["config"]);
        // Reported in a tc-list rather than remembered by storage: the same.
        let assigned = [cid("config")];
        let reported = [Reported {
            component_id: cid("ta"),
            digest: None,
        }];
        let d = decide(&Input {
            catalog: &catalog,
            assigned: &assigned,
            stored: &[],
            tc_list: Some(&reported),
            requested: &[],
            unneeded: &[],
            allow_requests: true,
        })
        .unwrap();
        assert_eq!(d.install.len(), 1);
        assert_eq!(d.install[0].component_id, cid("config"));
    }

    #[test]
    fn trust_domains_missing_dependency_refuses_that_tc_only() {
        let catalog = [tc("config", &["ta"]), tc("plain", &[])];
        let (sent, refused) = update(&catalog, &["config", "plain"], &[]);
        assert_eq!(names(&sent), ["plain"]);
        assert_eq!(
            refused,
            vec![DependencyError::Missing {
                dependent: format!("config {}", component_id_display(&cid("config"))),
                missing: component_id_display(&cid("ta")),
            }]
        );
        let text = refused[0].to_string();
        assert!(
            text.contains("depends on ['TEEP-Device', 'ta'], which is not in the catalog"),
            "{text}"
        );
    }

    #[test]
    fn trust_domains_dependency_cycle_is_refused_not_looped() {
        let catalog = [
            tc("a", &["b"]),
            tc("b", &["c"]),
            tc("c", &["a"]),
            tc("self", &["self"]),
            tc("plain", &[]),
        ];
        let (sent, refused) = update(&catalog, &["a", "self", "plain"], &[]);
        assert_eq!(names(&sent), ["plain"]);
        assert_eq!(refused.len(), 2);
        let text = refused[0].to_string();
        assert!(text.starts_with("not sending a "), "{text}");
        assert!(text.contains("form a cycle: a "), "{text}");
        assert!(
            text.contains("-> b ") && text.contains("-> c ") && text.ends_with("'a']"),
            "{text}"
        );
        assert!(matches!(&refused[1], DependencyError::Cycle { path, .. } if path.len() == 2));
    }

    #[test]
    fn trust_domains_unassigned_dependency_stays_while_a_kept_tc_depends_on_it() {
        let catalog = [tc("config", &["ta"]), tc("ta", &["lib"]), tc("lib", &[])];
        let policy = |n: &str| InstalledTc {
            origin: "policy".into(),
            ..held(n)
        };
        let stored = [policy("config"), policy("ta"), policy("lib")];
        let removed = |assigned: &[&str]| {
            let assigned: Vec<Vec<u8>> = assigned.iter().map(|a| cid(a)).collect();
            let d = decide(&Input {
                catalog: &catalog,
                assigned: &assigned,
                stored: &stored,
                tc_list: None,
                requested: &[],
                unneeded: &[],
                allow_requests: true,
            })
            .unwrap();
            let mut names: Vec<String> = d
                .remove
                .iter()
                .map(|r| {
                    let t = catalog.iter().find(|t| t.component_id == r.component_id);
                    t.unwrap().name.clone()
                })
                .collect();
            names.sort();
            names
        };
        // config is kept, so ta is, and so lib (transitively).
        assert!(removed(&["config"]).is_empty());
        // ta kept: lib stays, config goes.
        assert_eq!(removed(&["ta"]), ["config"]);
        // Nothing assigned: all three go together.
        assert_eq!(removed(&[]), ["config", "lib", "ta"]);
    }
}
