//! Policy: which TCs a device should get and which it should drop. Pure functions over
//! catalog, assignments and what the device reports, so each rule has a plain unit test.
//!
//! Rules: a TC assigned to all devices, to one of the device's tags, or to the device is
//! installed; a TC in requested-tc-list is installed when the catalog has it (and requests are
//! allowed) at the minimum sequence number asked for; a higher sequence number in the catalog
//! upgrades a device that holds an older one, whether it was assigned or requested; a TC the
//! device lists in unneeded-manifest-list is deleted; a TC installed because of an assignment is
//! deleted when the assignment goes, unless a TC the device keeps depends on it.
//! An Update carries what the device lacks and nothing it has; a TC goes with the
//! dependencies it lacks, before it ([`dependencies`]).

pub mod dependencies;

use alloc::vec::Vec;

pub use dependencies::DependencyError;

use crate::model::{CorruptRecord, InstalledTc, TcOrigin, TcRecord};

/// One tc-list entry, as reported by the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reported {
    /// Encoded component id.
    pub component_id: Vec<u8>,
    /// Image digest (SUIT parameter 3) if the device reported one (the raw SUIT_Digest bytes).
    pub digest: Option<Vec<u8>>,
}

/// One requested-tc-info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    pub component_id: Vec<u8>,
    pub min_sequence: Option<u64>,
    pub have_binary: bool,
}

pub struct Input<'a> {
    pub catalog: &'a [TcRecord],
    pub assigned: &'a [Vec<u8>],
    pub stored: &'a [InstalledTc],
    pub tc_list: Option<&'a [Reported]>,
    pub requested: &'a [Requested],
    /// Encoded manifest component ids the device no longer needs.
    pub unneeded: &'a [Vec<u8>],
    pub allow_requests: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install<'a> {
    pub component_id: Vec<u8>,
    pub sequence: u64,
    pub envelope: &'a [u8],
    pub origin: TcOrigin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remove {
    pub component_id: Vec<u8>,
    /// What goes into unneeded-manifest-list.
    pub manifest_component_id: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Decision<'a> {
    pub install: Vec<Install<'a>>,
    pub remove: Vec<Remove>,
    /// The device's holdings as now known (only when it sent a tc-list).
    pub installed_now: Option<Vec<InstalledTc>>,
    /// TCs left out because their dependencies cannot be sent, and why.
    pub refused: Vec<DependencyError>,
}

/// What the device lacks and what it should drop. Fails only on a stored holding whose
/// origin is none this TAM writes.
pub fn decide<'a>(input: &Input<'a>) -> Result<Decision<'a>, CorruptRecord> {
    let by_component = |cid: &[u8]| input.catalog.iter().find(|c| c.component_id == cid);
    let by_manifest = |mid: &[u8]| {
        input
            .catalog
            .iter()
            .find(|c| c.manifest_component_id.as_deref() == Some(mid) || c.component_id == mid)
    };

    // What the device holds now: its tc-list is authoritative for presence; storage remembers
    // sequence numbers and why each TC is there.
    let current: Vec<InstalledTc> = match input.tc_list {
        Some(list) => list
            .iter()
            .map(|r| {
                match input
                    .stored
                    .iter()
                    .find(|s| s.component_id == r.component_id)
                {
                    Some(s) => InstalledTc {
                        digest: r.digest.clone().or_else(|| s.digest.clone()),
                        ..s.clone()
                    },
                    None => {
                        // Unknown to us: if its digest matches a catalog entry, we know which one.
                        let seq = by_component(&r.component_id).and_then(|c| {
                            (c.payload_digest.is_some() && c.payload_digest == r.digest)
                                .then_some(c.sequence)
                        });
                        InstalledTc {
                            component_id: r.component_id.clone(),
                            sequence: seq,
                            digest: r.digest.clone(),
                            origin: TcOrigin::Device.as_str().into(),
                            updated_at: 0,
                        }
                    }
                }
            })
            .collect(),
        None => input.stored.to_vec(),
    };
    let mut decision = Decision {
        installed_now: input.tc_list.map(|_| current.clone()),
        ..Default::default()
    };

    // Deletions the device asked for.
    let mut dropped: Vec<Vec<u8>> = Vec::new();
    for mid in input.unneeded {
        let cid = by_manifest(mid)
            .map(|c| c.component_id.clone())
            .unwrap_or_else(|| mid.clone());
        if !decision
            .remove
            .iter()
            .any(|r| &r.manifest_component_id == mid)
        {
            decision.remove.push(Remove {
                component_id: cid.clone(),
                manifest_component_id: mid.clone(),
            });
        }
        dropped.push(cid);
    }

    // Wanted: assignments first (origin policy), then requests.
    let mut wanted: Vec<(&'a TcRecord, TcOrigin, Option<u64>)> = Vec::new();
    for cid in input.assigned {
        if dropped.contains(cid) {
            continue;
        }
        if let Some(tc) = input.catalog.iter().find(|c| &c.component_id == cid) {
            wanted.push((tc, TcOrigin::Policy, None));
        }
    }
    for r in input.requested {
        if dropped.contains(&r.component_id)
            || wanted
                .iter()
                .any(|(tc, _, _)| tc.component_id == r.component_id)
        {
            continue;
        }
        let Some(tc) = input
            .catalog
            .iter()
            .find(|c| c.component_id == r.component_id)
        else {
            continue;
        };
        if !input.allow_requests && !input.assigned.contains(&r.component_id) {
            continue;
        }
        wanted.push((tc, TcOrigin::Request, r.min_sequence));
    }
    // Held and kept current: a TC the device got by asking for it (or held before we knew it)
    // is no longer in requested-tc-list once installed, yet a newer sequence in the catalog
    // upgrades it like an assigned one.
    if input.allow_requests {
        for have in &current {
            let origin = TcOrigin::from_stored(&have.origin)?;
            // A held version we cannot place (no sequence) may be newer than the catalog's.
            if origin == TcOrigin::Policy
                || have.sequence.is_none()
                || dropped.contains(&have.component_id)
                || wanted
                    .iter()
                    .any(|(tc, _, _)| tc.component_id == have.component_id)
            {
                continue;
            }
            if let Some(tc) = by_component(&have.component_id) {
                wanted.push((tc, origin, None));
            }
        }
    }

    for (tc, origin, min_seq) in wanted {
        if min_seq.is_some_and(|m| tc.sequence < m) {
            continue; // the catalog cannot satisfy the minimum asked for
        }
        match current.iter().find(|c| c.component_id == tc.component_id) {
            None => decision.install.push(Install {
                component_id: tc.component_id.clone(),
                sequence: tc.sequence,
                envelope: &tc.envelope,
                origin,
            }),
            Some(have) => {
                let have_origin = TcOrigin::from_stored(&have.origin)?;
                let outdated = match have.sequence {
                    Some(s) => s < tc.sequence,
                    None => {
                        matches!((&have.digest, &tc.payload_digest), (Some(a), Some(b)) if a != b)
                    }
                };
                if outdated {
                    // A TC found on the device becomes the TAM's for the reason it is sent.
                    let keep = if have_origin == TcOrigin::Device {
                        origin
                    } else {
                        have_origin
                    };
                    decision.install.push(Install {
                        component_id: tc.component_id.clone(),
                        sequence: tc.sequence,
                        envelope: &tc.envelope,
                        origin: keep,
                    });
                }
            }
        }
    }

    // Dependencies the device lacks go first; a TC whose dependencies cannot go stays back.
    let (install, refused) = dependencies::with_dependencies(
        core::mem::take(&mut decision.install),
        input.catalog,
        &current,
    );
    decision.install = install;
    decision.refused = refused;

    // Unassigned: TCs there only because policy put them there. This loop reads every
    // holding's origin, so a stored origin that does not read always fails the decision.
    let mut unassigned: Vec<&TcRecord> = Vec::new();
    for have in &current {
        if TcOrigin::from_stored(&have.origin)? != TcOrigin::Policy
            || input.assigned.contains(&have.component_id)
            || dropped.contains(&have.component_id)
        {
            continue;
        }
        if let Some(tc) = by_component(&have.component_id) {
            unassigned.push(tc);
        }
    }
    // One that a TC the device keeps (or is sent) depends on stays: removing it would break
    // that TC. Repeated until nothing changes, as keeping one may keep its own dependencies.
    let needs = |cid: &[u8], on: &[u8]| {
        by_component(cid).is_some_and(|t| t.dependencies.iter().any(|d| d.component_id == on))
    };
    loop {
        let kept: Vec<&[u8]> = current
            .iter()
            .map(|h| h.component_id.as_slice())
            .filter(|c| {
                !dropped.iter().any(|d| d == c) && !unassigned.iter().any(|t| t.component_id == *c)
            })
            .chain(decision.install.iter().map(|i| i.component_id.as_slice()))
            .collect();
        let before = unassigned.len();
        unassigned.retain(|t| !kept.iter().any(|k| needs(k, &t.component_id)));
        if unassigned.len() == before {
            break;
        }
    }
    for tc in unassigned {
        let mid = tc
            .manifest_component_id
            .clone()
            .unwrap_or_else(|| tc.component_id.clone());
        decision.remove.push(Remove {
            component_id: tc.component_id.clone(),
            manifest_component_id: mid,
        });
    }
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ComponentId;

    fn cid(name: &str) -> Vec<u8> {
        ComponentId::encode_segments(&[
            b"TEEP-Device".to_vec(),
            name.as_bytes().to_vec(),
            b"ta".to_vec(),
        ])
    }
    fn mid(name: &str) -> Vec<u8> {
        ComponentId::encode_segments(&[
            b"TEEP-Device".to_vec(),
            name.as_bytes().to_vec(),
            b"suit".to_vec(),
        ])
    }
    fn tc(name: &str, seq: u64) -> TcRecord {
        TcRecord {
            id: seq as i64,
            name: name.into(),
            component_id: cid(name),
            manifest_component_id: Some(mid(name)),
            sequence: seq,
            envelope: format!("{name}-{seq}").into_bytes(),
            manifest_digest: None,
            payload_digest: Some(vec![seq as u8; 4]),
            signer_kid: None,
            created_at: 0,
            dependencies: Vec::new(),
        }
    }
    fn held(name: &str, seq: Option<u64>, origin: &str) -> InstalledTc {
        InstalledTc {
            component_id: cid(name),
            sequence: seq,
            digest: None,
            origin: origin.into(),
            updated_at: 0,
        }
    }
    fn input<'a>(
        catalog: &'a [TcRecord],
        assigned: &'a [Vec<u8>],
        stored: &'a [InstalledTc],
    ) -> Input<'a> {
        Input {
            catalog,
            assigned,
            stored,
            tc_list: None,
            requested: &[],
            unneeded: &[],
            allow_requests: true,
        }
    }

    #[test]
    fn assigned_tc_missing_on_device_is_installed() {
        let catalog = [tc("a", 1)];
        let assigned = [cid("a")];
        let d = decide(&input(&catalog, &assigned, &[])).unwrap();
        assert_eq!(d.install.len(), 1);
        assert_eq!(d.install[0].origin, TcOrigin::Policy);
        assert!(d.remove.is_empty());
    }

    #[test]
    fn nothing_sent_for_what_the_device_already_has() {
        let catalog = [tc("a", 2)];
        let assigned = [cid("a")];
        let stored = [held("a", Some(2), "policy")];
        let d = decide(&input(&catalog, &assigned, &stored)).unwrap();
        assert!(d.install.is_empty() && d.remove.is_empty());
    }

    #[test]
    fn higher_catalog_sequence_upgrades() {
        let catalog = [tc("a", 3)];
        let assigned = [cid("a")];
        let stored = [held("a", Some(2), "policy")];
        let d = decide(&input(&catalog, &assigned, &stored)).unwrap();
        assert_eq!(d.install.len(), 1);
        assert_eq!(d.install[0].sequence, 3);
    }

    #[test]
    fn unassigning_deletes_policy_installs_only() {
        let catalog = [tc("a", 1), tc("b", 1)];
        let stored = [held("a", Some(1), "policy"), held("b", Some(1), "request")];
        let d = decide(&input(&catalog, &[], &stored)).unwrap();
        assert_eq!(
            d.remove,
            vec![Remove {
                component_id: cid("a"),
                manifest_component_id: mid("a")
            }]
        );
    }

    #[test]
    fn requested_tc_is_installed_when_in_catalog_and_minimum_met() {
        let catalog = [tc("a", 2)];
        let requested = [
            Requested {
                component_id: cid("a"),
                min_sequence: Some(2),
                have_binary: false,
            },
            Requested {
                component_id: cid("zz"),
                min_sequence: None,
                have_binary: false,
            },
        ];
        let mut i = input(&catalog, &[], &[]);
        i.requested = &requested;
        let d = decide(&i).unwrap();
        assert_eq!(d.install.len(), 1);
        assert_eq!(d.install[0].origin, TcOrigin::Request);
        let too_new = [Requested {
            component_id: cid("a"),
            min_sequence: Some(5),
            have_binary: false,
        }];
        i.requested = &too_new;
        assert!(decide(&i).unwrap().install.is_empty());
        i.requested = &requested;
        i.allow_requests = false;
        assert!(decide(&i).unwrap().install.is_empty());
    }

    #[test]
    fn held_tc_that_was_requested_is_upgraded_without_a_new_request() {
        let catalog = [tc("a", 3), tc("b", 2)];
        let stored = [held("a", Some(2), "request"), held("b", Some(2), "request")];
        let d = decide(&input(&catalog, &[], &stored)).unwrap();
        assert_eq!(d.install.len(), 1, "{:?}", d.install);
        assert_eq!(
            (d.install[0].sequence, d.install[0].origin),
            (3, TcOrigin::Request)
        );
        assert!(d.remove.is_empty());

        // Same holding reported in a tc-list.
        let reported = [Reported {
            component_id: cid("a"),
            digest: None,
        }];
        let mut i = input(&catalog, &[], &stored);
        i.tc_list = Some(&reported);
        assert_eq!(decide(&i).unwrap().install.len(), 1);

        // Requests not allowed: what was requested stays as it is.
        i.allow_requests = false;
        assert!(decide(&i).unwrap().install.is_empty());

        // A holding of unknown version is left alone (it may be newer than the catalog).
        let unknown = [Reported {
            component_id: cid("a"),
            digest: Some(vec![9; 4]),
        }];
        let mut i = input(&catalog, &[], &[]);
        i.tc_list = Some(&unknown);
        assert!(decide(&i).unwrap().install.is_empty());
    }

    #[test]
    fn unneeded_manifest_is_removed_and_not_reinstalled() {
        let catalog = [tc("a", 1)];
        let assigned = [cid("a")];
        let stored = [held("a", Some(1), "policy")];
        let unneeded = [mid("a")];
        let mut i = input(&catalog, &assigned, &stored);
        i.unneeded = &unneeded;
        let d = decide(&i).unwrap();
        assert!(d.install.is_empty());
        assert_eq!(d.remove.len(), 1);
        assert_eq!(d.remove[0].manifest_component_id, mid("a"));
    }

    #[test]
    fn tc_list_is_authoritative_for_presence() {
        let catalog = [tc("a", 1)];
        let assigned = [cid("a")];
        // Storage thinks it is installed, the device says it is not: send it again.
        let stored = [held("a", Some(1), "policy")];
        let empty: [Reported; 0] = [];
        let mut i = input(&catalog, &assigned, &stored);
        i.tc_list = Some(&empty);
        let d = decide(&i).unwrap();
        assert_eq!(d.install.len(), 1);
        assert_eq!(d.installed_now, Some(vec![]));
    }

    #[test]
    fn unknown_install_with_matching_digest_is_not_resent() {
        let catalog = [tc("a", 4)];
        let assigned = [cid("a")];
        let reported = [Reported {
            component_id: cid("a"),
            digest: Some(vec![4; 4]),
        }];
        let mut i = input(&catalog, &assigned, &[]);
        i.tc_list = Some(&reported);
        let d = decide(&i).unwrap();
        assert!(d.install.is_empty());
        assert_eq!(d.installed_now.unwrap()[0].sequence, Some(4));
    }
}
