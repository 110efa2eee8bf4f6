//! The component store: atomic batches, reads, limits, and a real kill -9 test.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use teep_tee::{
    component_id, ComponentBatch, ComponentId, ManifestRecord, SoftwareTee, Tee, TeeError,
};

fn manifest(id: &ComponentId, seq: u64, components: Vec<ComponentId>) -> ManifestRecord {
    ManifestRecord {
        manifest_component_id: id.clone(),
        sequence_number: seq,
        envelope: format!("envelope {seq}").into_bytes(),
        reference_count: 1,
        components,
    }
}

#[test]
fn batch_installs_reads_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let ta = component_id(&["TEEP-Device", "SecureFS", "app", "ta"]);
    let config = component_id(&["TEEP-Device", "SecureFS", "app", "config"]);
    let mid = component_id(&["TEEP-Device", "app-manifest"]);
    let mut batch = ComponentBatch::new();
    batch
        .put_component(ta.clone(), b"binary v1".to_vec())
        .put_component(config.clone(), b"personalization".to_vec())
        .put_manifest(manifest(&mid, 1, vec![ta.clone(), config.clone()]));
    tee.commit_components(&batch).unwrap();

    assert_eq!(
        tee.component(&ta).unwrap().as_deref(),
        Some(&b"binary v1"[..])
    );
    let info = tee.component_info(&config).unwrap().unwrap();
    assert_eq!(info.size, 15);
    assert_eq!(
        hex::encode(info.digest),
        hex::encode(teep_cose::sha256(b"personalization"))
    );
    assert_eq!(tee.list_components().unwrap().len(), 2);
    let record = tee.manifest(&mid).unwrap().unwrap();
    assert_eq!(record, manifest(&mid, 1, vec![ta.clone(), config.clone()]));
    assert_eq!(tee.list_manifests().unwrap(), vec![record]);

    let mut upgrade = ComponentBatch::new();
    upgrade
        .put_component(ta.clone(), b"binary v2".to_vec())
        .put_manifest(manifest(&mid, 2, vec![ta.clone(), config.clone()]));
    tee.commit_components(&upgrade).unwrap();
    assert_eq!(
        tee.component(&ta).unwrap().as_deref(),
        Some(&b"binary v2"[..])
    );
    assert_eq!(tee.manifest(&mid).unwrap().unwrap().sequence_number, 2);

    let mut delete = ComponentBatch::new();
    delete
        .delete_component(ta.clone())
        .delete_component(config.clone())
        .delete_manifest(mid.clone());
    tee.commit_components(&delete).unwrap();
    assert!(tee.list_components().unwrap().is_empty());
    assert!(tee.list_manifests().unwrap().is_empty());
    assert_eq!(tee.component(&ta).unwrap(), None);
    // Deleting again is not an error.
    tee.commit_components(&delete).unwrap();
}

#[test]
fn rejected_batch_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let a = component_id(&["a"]);
    let mut batch = ComponentBatch::new();
    batch.put_component(a.clone(), b"old".to_vec());
    tee.commit_components(&batch).unwrap();

    let mut bad = ComponentBatch::new();
    bad.put_component(a.clone(), b"new".to_vec())
        .put_component(component_id(&["b"]), vec![0; 8 * 1024 * 1024 + 1]);
    let err = tee.commit_components(&bad).unwrap_err().to_string();
    assert!(err.contains("component batch op 1"), "{err}");
    assert!(err.contains("expected at most 8388608 bytes"), "{err}");
    assert_eq!(tee.component(&a).unwrap().as_deref(), Some(&b"old"[..]));
    assert_eq!(tee.list_components().unwrap().len(), 1);
}

#[test]
fn component_id_limits() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let err = tee.component(&[]).unwrap_err().to_string();
    assert!(err.contains("expected 1..=16 byte strings, got 0"), "{err}");
    let err = tee.component(&[vec![0; 300]]).unwrap_err().to_string();
    assert!(
        err.contains("component id[0]: expected at most 256 bytes, got 300"),
        "{err}"
    );
}

#[test]
fn tampered_component_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let a = component_id(&["a"]);
    let b = component_id(&["b"]);
    let mut batch = ComponentBatch::new();
    batch
        .put_component(a.clone(), b"aaaa".to_vec())
        .put_component(b.clone(), b"bbbb".to_vec());
    tee.commit_components(&batch).unwrap();
    // Swap the two component files: names are bound into the AEAD, so both fail.
    let dir_ns = tee.sealed_store().blob_file("tee.components", b"x");
    let ns_dir = dir_ns.parent().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(ns_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("63"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2);
    let (fa, fb) = (
        std::fs::read(&files[0]).unwrap(),
        std::fs::read(&files[1]).unwrap(),
    );
    std::fs::write(&files[0], &fb).unwrap();
    std::fs::write(&files[1], &fa).unwrap();
    assert!(matches!(tee.component(&a), Err(TeeError::Integrity { .. })));
    assert!(matches!(tee.component(&b), Err(TeeError::Integrity { .. })));
}

#[test]
fn older_copy_of_a_component_blob_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let a = component_id(&["a"]);
    let mut v1 = ComponentBatch::new();
    v1.put_component(a.clone(), b"version 1".to_vec());
    tee.commit_components(&v1).unwrap();
    let ns_dir = tee
        .sealed_store()
        .blob_file("tee.components", b"x")
        .parent()
        .unwrap()
        .to_owned();
    let file = std::fs::read_dir(&ns_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("63"))
        .unwrap();
    let old = std::fs::read(&file).unwrap();
    let mut v2 = ComponentBatch::new();
    v2.put_component(a.clone(), b"version 2".to_vec());
    tee.commit_components(&v2).unwrap();
    // Put the old (validly sealed) blob back: the index digest no longer matches.
    std::fs::write(&file, old).unwrap();
    let err = tee.component(&a).unwrap_err().to_string();
    assert!(err.contains("does not match the digest"), "{err}");
}

// ---------------------------------------------------------------------------------------
// kill -9: a child process commits generation after generation; the parent kills it with
// SIGKILL at random moments and checks that every component is entirely one generation.

const KILL_DIR_ENV: &str = "TEEP_TEE_KILL_TEST_DIR";
const COMPONENTS: usize = 4;

fn gen_component(generation: u64, i: usize) -> Vec<u8> {
    // Sizes differ so a torn write would show up as a wrong length too.
    let size = [100, 4096, 20_000, 60_000][i];
    let pattern = format!("gen {generation} component {i};");
    pattern.bytes().cycle().take(size).collect()
}

fn kill_ids() -> Vec<ComponentId> {
    (0..COMPONENTS)
        .map(|i| component_id(&["kill-test", &i.to_string()]))
        .collect()
}

fn manifest_id() -> ComponentId {
    component_id(&["kill-test", "manifest"])
}

/// Commits generation `g` of every component plus the manifest in one batch.
fn commit_generation(tee: &SoftwareTee, g: u64) {
    let mut batch = ComponentBatch::new();
    for (i, id) in kill_ids().into_iter().enumerate() {
        batch.put_component(id, gen_component(g, i));
    }
    batch.put_manifest(manifest(&manifest_id(), g, kill_ids()));
    tee.commit_components(&batch).unwrap();
}

/// Returns the generation the store is at, after checking it is consistent.
fn check_consistent(tee: &SoftwareTee) -> u64 {
    let Some(record) = tee.manifest(&manifest_id()).unwrap() else {
        assert!(
            tee.list_components().unwrap().is_empty(),
            "components without manifest"
        );
        return 0;
    };
    let g = record.sequence_number;
    assert_eq!(record.envelope, format!("envelope {g}").into_bytes());
    for (i, id) in kill_ids().iter().enumerate() {
        let bytes = tee.component(id).unwrap().expect("component present");
        assert!(
            bytes == gen_component(g, i),
            "component {i} is not entirely generation {g}"
        );
    }
    g
}

/// In a child (env var set): commit forever, reporting each commit. Without the env var it
/// runs a few generations in a temporary directory and checks them.
#[test]
fn kill_helper_child() {
    let Some(dir) = std::env::var_os(KILL_DIR_ENV) else {
        let dir = tempfile::tempdir().unwrap();
        let tee = SoftwareTee::open(dir.path()).unwrap();
        for g in 1..=3 {
            commit_generation(&tee, g);
            assert_eq!(check_consistent(&tee), g);
        }
        return;
    };
    let tee = SoftwareTee::open(&dir).unwrap();
    let mut g = check_consistent(&tee);
    loop {
        g += 1;
        commit_generation(&tee, g);
        println!("committed {g}");
    }
}

fn random(bound: u64) -> u64 {
    RandomState::new().build_hasher().finish() % bound
}

#[test]
fn kill_9_during_commits_leaves_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    drop(SoftwareTee::open(dir.path()).unwrap()); // create the device before the children
    let exe = std::env::current_exe().unwrap();
    let mut generations_seen = Vec::new();
    let mut in_flight_landed = 0;
    for _round in 0..12 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill_helper_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(KILL_DIR_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Read progress lines in a thread that keeps draining the pipe, so the child never
        // blocks or dies on a full or closed stdout before the kill.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(g) = line.strip_prefix("committed ") {
                    let _ = tx.send(g.parse().unwrap());
                }
            }
        });
        // Wait for a few commits, measuring how long one takes on this machine, then kill at a
        // random point inside the next one.
        let wanted = 2 + random(2);
        let mut last_reported = rx.recv().expect("child reports commits");
        let started = std::time::Instant::now();
        for _ in 1..wanted {
            last_reported = rx.recv().expect("child reports commits");
        }
        let per_commit = started.elapsed().as_micros() as u64 / (wanted - 1);
        std::thread::sleep(std::time::Duration::from_micros(random(per_commit.max(1))));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        // Commits reported between our last read and the kill are durable too.
        last_reported = rx.try_iter().last().unwrap_or(last_reported);

        let tee = SoftwareTee::open(dir.path()).unwrap();
        let g = check_consistent(&tee);
        // A commit that returned is durable; one in flight may or may not have landed.
        assert!(
            g == last_reported || g == last_reported + 1,
            "at {g}, reported {last_reported}"
        );
        if g == last_reported + 1 {
            in_flight_landed += 1;
        }
        generations_seen.push(g);
    }
    eprintln!("generations after each kill: {generations_seen:?}; in-flight commit landed {in_flight_landed} times");
    assert!(
        generations_seen.windows(2).all(|w| w[0] < w[1]),
        "{generations_seen:?}"
    );
}
