//! Every path through `policy.rs`, seen the way a device sees it: the Update a QueryResponse
//! gets (its manifest-list and unneeded-manifest-list, DIGEST §3.4), what the TAM records as
//! pending for the Success, and the holdings after it.

use teep_proto::{Numbering, TeepMessage};

use super::harness::*;
use crate::model::{Target, TcOrigin};
use crate::session::PendingUpdate;
use crate::{CoreConfig, Enroll, ExchangeResult};

const N: Numbering = Numbering::Draft26;

/// What the TAM answers `dev`'s next QueryResponse with (the session is left open).
struct Answer {
    /// Names of the TCs whose envelopes the Update carries, with their sequence.
    install: Vec<(String, u64)>,
    /// unneeded-manifest-list.
    unneeded: Vec<crate::model::ComponentId>,
    /// What the Success will record.
    pending: PendingUpdate,
    result: ExchangeResult,
}

fn answer(tam: &mut Tam, dev: &teep_bench::sim::SimDevice) -> Answer {
    let response = tam.query_response(dev, N);
    let outcome = tam.post(&response, N).unwrap();
    let Some(body) = &outcome.response else {
        return Answer {
            install: Vec::new(),
            unneeded: Vec::new(),
            pending: PendingUpdate::default(),
            result: outcome.result,
        };
    };
    let TeepMessage::Update(u) = teep_proto::signed::open_message(body, N).unwrap().1 else {
        panic!("expected an Update");
    };
    let install = u
        .manifest_list
        .iter()
        .map(|e| {
            let t = tam
                .storage
                .catalog
                .iter()
                .find(|t| &t.envelope == e)
                .expect("a catalog envelope");
            (t.name.clone(), t.sequence)
        })
        .collect();
    let session = outcome.effects.new_session.as_ref().unwrap();
    Answer {
        install,
        unneeded: u.unneeded_manifest_list,
        pending: PendingUpdate::from_session(session).unwrap(),
        result: outcome.result,
    }
}

fn cid(name: &str) -> Vec<u8> {
    component(name).encode()
}

fn installs(names: &[(&str, u64)]) -> Vec<(String, u64)> {
    names.iter().map(|(n, s)| (n.to_string(), *s)).collect()
}

/// A TC assigned to all devices is installed, recorded as policy's.
#[test]
fn an_assigned_tc_the_device_lacks_is_installed_as_policy() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 1);
    let a = answer(&mut tam, &device(2));
    assert_eq!(a.install, installs(&[("a", 1)]));
    assert_eq!(a.pending.install, [(cid("a"), 1, TcOrigin::Policy)]);
    assert!(a.unneeded.is_empty());
}

/// Assignments reach devices by tag and by id, and no others.
#[test]
fn assignments_by_tag_and_by_device_reach_only_their_devices() {
    let mut tam = Tam::new(Enroll::Registered);
    let lab = tam.add("lab-tool", 1);
    let own = tam.add("own", 1);
    let tagged = device(2);
    let chosen = device(4);
    let neither = device(6);
    tam.register(&tagged, &["lab"]);
    let chosen_id = tam.register(&chosen, &[]);
    tam.register(&neither, &["field"]);
    tam.storage
        .assignments
        .push((lab.component_id, Target::Tag("lab".into())));
    tam.storage
        .assignments
        .push((own.component_id, Target::Device(chosen_id)));
    assert_eq!(
        answer(&mut tam, &tagged).install,
        installs(&[("lab-tool", 1)])
    );
    assert_eq!(answer(&mut tam, &chosen).install, installs(&[("own", 1)]));
    assert_eq!(answer(&mut tam, &neither).result, ExchangeResult::NoUpdate);
}

/// An Update carries what the device lacks and nothing it has: up to date, the session ends.
#[test]
fn a_device_holding_what_is_assigned_is_up_to_date() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 2);
    let mut dev = device(2);
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    let a = answer(&mut tam, &dev);
    assert_eq!((a.result, a.install.len()), (ExchangeResult::NoUpdate, 0));
}

/// A higher sequence number in the catalog upgrades what the device holds.
#[test]
fn a_newer_sequence_in_the_catalog_upgrades_the_device() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 1);
    let mut dev = device(2);
    tam.exchange(&mut dev);
    tam.add("a", 3);
    let a = answer(&mut tam, &dev);
    assert_eq!(a.install, installs(&[("a", 3)]));
    assert_eq!(a.pending.install, [(cid("a"), 3, TcOrigin::Policy)]);
    tam.exchange(&mut dev);
    assert_eq!(tam.holdings(&dev)[0].sequence, Some(3));
}

/// DIGEST §3.3 (requested-tc-list): a requested TC in the catalog is installed as the
/// request's; one the catalog lacks, or only at a lower sequence than the minimum asked
/// for, is not.
#[test]
fn a_requested_tc_is_installed_when_the_catalog_meets_the_minimum() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add("a", 2);
    let mut dev = device(2);
    dev.requested = vec![component("a"), component("not-in-catalog")];
    let a = answer(&mut tam, &dev);
    assert_eq!(a.install, installs(&[("a", 2)]));
    assert_eq!(a.pending.install, [(cid("a"), 2, TcOrigin::Request)]);

    let request = tam.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    let response = teep_proto::QueryResponse {
        token: seen.token,
        attestation_payload_format: Some("application/eat+cwt".into()),
        attestation_payload: Some(dev.evidence(seen.challenge.as_ref().unwrap()).unwrap()),
        tc_list: Some(Vec::new()),
        requested_tc_list: vec![teep_proto::RequestedTcInfo {
            component_id: component("a"),
            tc_manifest_sequence_number: Some(5),
            ..Default::default()
        }],
        ..Default::default()
    };
    let body =
        teep_proto::signed::sign_message(&TeepMessage::QueryResponse(response), N, &dev.signer)
            .unwrap();
    let outcome = tam.post(&body, N).unwrap();
    assert_eq!(outcome.result, ExchangeResult::NoUpdate, "minimum 5 unmet");
}

/// With requests off, a request for what policy does not assign is ignored.
#[test]
fn with_requests_off_a_request_is_ignored() {
    let mut tam = Tam::with(
        |c| CoreConfig {
            enroll: Enroll::Tofu,
            allow_requests: false,
            ..c
        },
        Vec::new(),
    );
    tam.add("a", 1);
    let mut dev = device(2);
    dev.requested = vec![component("a")];
    assert_eq!(answer(&mut tam, &dev).result, ExchangeResult::NoUpdate);
}

/// A TC the device got by asking is no longer in its requested-tc-list, yet a newer
/// sequence upgrades it (as the request's); with requests off it stays as it is.
#[test]
fn a_requested_tc_is_kept_current_without_a_new_request_unless_requests_are_off() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add("a", 1);
    let mut dev = device(2);
    dev.requested = vec![component("a")];
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    assert!(dev.requested.is_empty());
    tam.add("a", 2);
    let a = answer(&mut tam, &dev);
    assert_eq!(a.pending.install, [(cid("a"), 2, TcOrigin::Request)]);

    tam.core.config.allow_requests = false;
    assert_eq!(answer(&mut tam, &dev).result, ExchangeResult::NoUpdate);
}

/// DIGEST §3.3, §9.13: a manifest the device lists as unneeded (by its manifest component
/// id) is removed, and not sent again even though it is assigned.
#[test]
fn an_unneeded_manifest_is_removed_and_not_reinstalled() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 1);
    let mut dev = device(2);
    tam.exchange(&mut dev);
    dev.unneeded = vec![manifest_component("a")];
    let a = answer(&mut tam, &dev);
    assert!(a.install.is_empty());
    assert_eq!(a.unneeded, [manifest_component("a")]);
    assert_eq!(a.pending.remove, [cid("a")]);
}

/// An assignment that goes takes with it what it installed, and only that: a TC the
/// device asked for stays.
#[test]
fn unassigning_removes_what_policy_installed_and_keeps_what_was_requested() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 1);
    tam.add("b", 1);
    let mut dev = device(2);
    dev.requested = vec![component("b")];
    tam.exchange(&mut dev);
    assert_eq!(tam.holdings(&dev).len(), 2);
    tam.storage.assignments.clear();
    let a = answer(&mut tam, &dev);
    assert_eq!(a.unneeded, [manifest_component("a")]);
    assert!(a.install.is_empty());
}

/// DIGEST §3.3 (tc-list): the device's list is authoritative for presence. A TC storage
/// thinks installed but the device does not list is sent again, and the stored holdings
/// follow the list.
#[test]
fn the_tc_list_is_authoritative_for_what_the_device_holds() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 1);
    let mut dev = device(2);
    tam.exchange(&mut dev);
    dev.installed.clear();
    let response = tam.query_response(&dev, N);
    let outcome = tam.post(&response, N).unwrap();
    assert_eq!(outcome.result, ExchangeResult::Update);
    let update = outcome.effects.device.unwrap();
    assert_eq!(update.replace_installed, Some(Vec::new()));
    assert!(tam.holdings(&dev).is_empty());
}

/// The holdings are rewritten only when the tc-list says something storage does not hold.
#[test]
fn holdings_are_rewritten_only_when_the_tc_list_says_something_new() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 1);
    let mut dev = device(2);
    tam.exchange(&mut dev);
    let first = tam.query_response(&dev, N);
    let u = tam.post(&first, N).unwrap().effects.device.unwrap();
    assert!(u.replace_installed.is_some(), "the reported digest is news");
    let again = tam.query_response(&dev, N);
    let u = tam.post(&again, N).unwrap().effects.device.unwrap();
    assert_eq!(u.replace_installed, None);
}

/// A TC found on the device that the TAM never sent, with the catalog's digest: the TAM
/// knows which version it is and does not send it again.
#[test]
fn an_unknown_holding_with_the_catalog_digest_is_not_sent_again() {
    let mut tam = Tam::new(Enroll::Tofu);
    let t = tam.add_assigned("a", 4);
    let mut dev = device(2);
    dev.installed = vec![component("a")];
    dev.digests
        .insert(component("a"), t.payload_digest.clone().unwrap());
    let response = tam.query_response(&dev, N);
    let outcome = tam.post(&response, N).unwrap();
    assert_eq!(outcome.result, ExchangeResult::NoUpdate);
    let held = tam.holdings(&dev);
    assert_eq!(
        (held[0].sequence, held[0].origin.as_str()),
        (Some(4), "device")
    );
}

/// A TC found on the device with another digest is replaced by the catalog's, and from
/// then on belongs to the reason it was sent for.
#[test]
fn an_unknown_holding_with_another_digest_is_replaced_for_its_assignment() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 4);
    let mut dev = device(2);
    dev.installed = vec![component("a")];
    dev.digests.insert(component("a"), vec![0xee; 4]);
    let a = answer(&mut tam, &dev);
    assert_eq!(a.pending.install, [(cid("a"), 4, TcOrigin::Policy)]);
}

/// A holding whose version is unknown (its digest matches no catalog entry) may be newer
/// than the catalog's: unassigned, it is left alone.
#[test]
fn a_held_tc_of_unknown_version_is_left_alone() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add("a", 4);
    let mut dev = device(2);
    dev.installed = vec![component("a")];
    dev.digests.insert(component("a"), vec![9; 4]);
    assert_eq!(answer(&mut tam, &dev).result, ExchangeResult::NoUpdate);
}
