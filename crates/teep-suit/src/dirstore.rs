//! `DirStore`: a component store in a plain directory, one readable file per component, for
//! `teep suit apply` and tests.
//!
//! Layout: `components/<seg>/<seg>/...` holds component bytes; `manifests/<seg>/.../`
//! holds `envelope.suit` and `record.json`. A segment that is safe text is used as is;
//! anything else is written `h-<hex>`. Commits are atomic through a redo journal
//! (`journal.cbor`): the batch is written and synced first, then applied, then the journal is
//! removed; [`DirStore::open`] replays a journal left by a crash.

use crate::cbor::{Reader, Writer};
use crate::error::StoreError;
use crate::model::ComponentId;
use crate::store::{ComponentStore, ManifestRecord, StoreBatch};
use bytes::Bytes;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A directory-backed component store.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError(format!("{}: {e}", path.display()))
}

fn segment_name(seg: &[u8]) -> String {
    let safe = !seg.is_empty()
        && seg.len() <= 64
        && seg
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && seg != b"."
        && seg != b".."
        && !seg.starts_with(b"h-")
        && !seg.starts_with(b".");
    if safe {
        String::from_utf8_lossy(seg).into_owned()
    } else {
        format!("h-{}", hex::encode(seg))
    }
}

fn rel_path(id: &ComponentId) -> Result<PathBuf, StoreError> {
    if id.is_empty() {
        return Err(StoreError("empty component identifier".into()));
    }
    Ok(id.iter().map(|s| segment_name(s)).collect())
}

impl DirStore {
    /// Opens (creating if needed) a store directory and finishes an interrupted commit.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        fs::create_dir_all(root.join("components")).map_err(|e| io(&root, e))?;
        fs::create_dir_all(root.join("manifests")).map_err(|e| io(&root, e))?;
        let s = DirStore { root };
        let journal = s.root.join("journal.cbor");
        if journal.exists() {
            let data = fs::read(&journal).map_err(|e| io(&journal, e))?;
            match decode_batch(&data) {
                Ok(batch) => s.apply(&batch)?,
                Err(_) => { /* incomplete journal: the commit never happened */ }
            }
            fs::remove_file(&journal).map_err(|e| io(&journal, e))?;
        }
        Ok(s)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of a component's file.
    pub fn component_path(&self, id: &ComponentId) -> Result<PathBuf, StoreError> {
        Ok(self.root.join("components").join(rel_path(id)?))
    }

    fn manifest_dir(&self, id: &ComponentId) -> Result<PathBuf, StoreError> {
        Ok(self.root.join("manifests").join(rel_path(id)?))
    }

    /// Installed manifests (walks `manifests/`).
    pub fn manifest_ids(&self) -> Result<Vec<ComponentId>, StoreError> {
        let mut out = Vec::new();
        walk(&self.root.join("manifests"), &mut |p| {
            if p.file_name().map(|n| n == "record.json").unwrap_or(false) {
                if let Ok(text) = fs::read_to_string(p) {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                        if let Some(id) = v.get("manifest-component-id").and_then(json_id) {
                            out.push(id);
                        }
                    }
                }
            }
        })?;
        Ok(out)
    }

    /// Replaces `path` with `data` atomically: a synced temporary beside it, then a rename
    /// (tempfile's `persist`, which deletes the temporary if the rename fails). Its `.tmp…`
    /// name is one no segment maps to (`segment_name` never starts a name with a dot).
    fn write_file(path: &Path, data: &[u8]) -> Result<(), StoreError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, e))?;
        tmp.write_all(data).map_err(|e| io(tmp.path(), e))?;
        tmp.as_file().sync_all().map_err(|e| io(tmp.path(), e))?;
        tmp.persist(path).map_err(|e| io(path, e.error))?;
        Ok(())
    }

    fn apply(&self, batch: &StoreBatch) -> Result<(), StoreError> {
        for (id, content) in &batch.components {
            let path = self.component_path(id)?;
            match content {
                Some(b) => Self::write_file(&path, b)?,
                None => {
                    if path.exists() {
                        fs::remove_file(&path).map_err(|e| io(&path, e))?;
                    }
                }
            }
        }
        for (id, rec) in &batch.manifests {
            let dir = self.manifest_dir(id)?;
            match rec {
                Some(r) => {
                    Self::write_file(&dir.join("envelope.suit"), &r.envelope)?;
                    let json = serde_json::json!({
                        "manifest-component-id": id_json(id),
                        "sequence-number": r.sequence_number,
                        "refcount": r.refcount,
                        "components": r.components.iter().map(id_json).collect::<Vec<_>>(),
                        "dependencies": r.dependencies.iter().map(id_json).collect::<Vec<_>>(),
                    });
                    let text = serde_json::to_string_pretty(&json).unwrap_or_default();
                    Self::write_file(&dir.join("record.json"), text.as_bytes())?;
                }
                None => {
                    for f in ["envelope.suit", "record.json"] {
                        let p = dir.join(f);
                        if p.exists() {
                            fs::remove_file(&p).map_err(|e| io(&p, e))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) -> Result<(), StoreError> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, f)?;
        } else {
            f(&p);
        }
    }
    Ok(())
}

fn id_json(id: &ComponentId) -> serde_json::Value {
    serde_json::Value::Array(
        id.iter()
            .map(|s| serde_json::Value::String(hex::encode(s)))
            .collect(),
    )
}

fn json_id(v: &serde_json::Value) -> Option<ComponentId> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().and_then(|s| hex::decode(s).ok()))
        .collect()
}

fn encode_batch(b: &StoreBatch) -> Vec<u8> {
    let mut w = Writer::new();
    let write_id = |w: &mut Writer, id: &ComponentId| {
        w.array(id.len());
        for s in id {
            w.bytes(s);
        }
    };
    w.array(2).array(b.components.len());
    for (id, c) in &b.components {
        w.array(2);
        write_id(&mut w, id);
        match c {
            Some(c) => w.bytes(c),
            None => w.null(),
        };
    }
    w.array(b.manifests.len());
    for (id, r) in &b.manifests {
        w.array(2);
        write_id(&mut w, id);
        match r {
            Some(r) => {
                w.array(5)
                    .uint(r.sequence_number)
                    .bytes(&r.envelope)
                    .uint(r.refcount);
                w.array(r.components.len());
                for c in &r.components {
                    write_id(&mut w, c);
                }
                w.array(r.dependencies.len());
                for c in &r.dependencies {
                    write_id(&mut w, c);
                }
            }
            None => {
                w.null();
            }
        }
    }
    w.finish()
}

fn decode_batch(data: &[u8]) -> Result<StoreBatch, crate::error::DecodeError> {
    let mut r = Reader::new(data, "journal");
    let read_id = |r: &mut Reader<'_>| -> Result<ComponentId, crate::error::DecodeError> {
        let n = r.array()?;
        (0..n).map(|_| r.bytes().map(|b| b.to_vec())).collect()
    };
    r.array()?;
    let mut b = StoreBatch::default();
    for _ in 0..r.array()? {
        r.array()?;
        let id = read_id(&mut r)?;
        let c = if r.is_type(|t| t == crate::cbor::Type::Null) {
            r.null()?;
            None
        } else {
            Some(Bytes::copy_from_slice(r.bytes()?))
        };
        b.components.push((id, c));
    }
    for _ in 0..r.array()? {
        r.array()?;
        let id = read_id(&mut r)?;
        let rec = if r.is_type(|t| t == crate::cbor::Type::Null) {
            r.null()?;
            None
        } else {
            r.array()?;
            let sequence_number = r.u64()?;
            let envelope = Bytes::copy_from_slice(r.bytes()?);
            let refcount = r.u64()?;
            let components = (0..r.array()?)
                .map(|_| read_id(&mut r))
                .collect::<Result<_, _>>()?;
            let dependencies = (0..r.array()?)
                .map(|_| read_id(&mut r))
                .collect::<Result<_, _>>()?;
            Some(ManifestRecord {
                sequence_number,
                envelope,
                components,
                dependencies,
                refcount,
            })
        };
        b.manifests.push((id, rec));
    }
    r.expect_end()?;
    Ok(b)
}

impl ComponentStore for DirStore {
    fn read_component(&self, id: &ComponentId) -> Result<Option<Bytes>, StoreError> {
        let path = self.component_path(id)?;
        match fs::read(&path) {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    fn manifest(&self, id: &ComponentId) -> Result<Option<ManifestRecord>, StoreError> {
        let dir = self.manifest_dir(id)?;
        let rec_path = dir.join("record.json");
        let text = match fs::read_to_string(&rec_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&rec_path, e)),
        };
        let bad = |what: &str| StoreError(format!("{}: {what}", rec_path.display()));
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
        let ids = |k: &str| -> Result<Vec<ComponentId>, StoreError> {
            v.get(k)
                .and_then(|a| a.as_array())
                .ok_or_else(|| bad(k))?
                .iter()
                .map(|x| json_id(x).ok_or_else(|| bad(k)))
                .collect()
        };
        let env_path = dir.join("envelope.suit");
        let envelope = fs::read(&env_path).map_err(|e| io(&env_path, e))?;
        Ok(Some(ManifestRecord {
            sequence_number: v
                .get("sequence-number")
                .and_then(|x| x.as_u64())
                .ok_or_else(|| bad("sequence-number"))?,
            envelope: Bytes::from(envelope),
            components: ids("components")?,
            dependencies: ids("dependencies")?,
            refcount: v
                .get("refcount")
                .and_then(|x| x.as_u64())
                .ok_or_else(|| bad("refcount"))?,
        }))
    }

    fn component_owners(&self, id: &ComponentId) -> Result<Vec<ComponentId>, StoreError> {
        let mut out = Vec::new();
        for m in self.manifest_ids()? {
            if let Some(r) = self.manifest(&m)? {
                if r.components.contains(id) {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    fn commit(&mut self, batch: StoreBatch) -> Result<(), StoreError> {
        let journal = self.root.join("journal.cbor");
        Self::write_file(&journal, &encode_batch(&batch))?;
        self.apply(&batch)?;
        fs::remove_file(&journal).map_err(|e| io(&journal, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_are_readable_and_unambiguous() {
        assert_eq!(segment_name(b"SecureFS"), "SecureFS");
        assert_eq!(segment_name(&[0x8d, 0x82]), "h-8d82");
        assert_eq!(segment_name(b".."), "h-2e2e");
        assert_eq!(segment_name(b"h-8d82"), "h-682d38643832");
        assert_eq!(segment_name(b"a/b"), "h-612f62");
    }

    #[test]
    fn open_replays_a_journal_left_by_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let s = DirStore::open(dir.path()).unwrap();
        let id = ComponentId::new(vec![b"TEEP-Device".to_vec(), b"x".to_vec()]);
        let batch = StoreBatch {
            components: vec![(id.clone(), Some(Bytes::from_static(b"new")))],
            manifests: vec![],
        };
        // Crash after the journal was written, before it was applied.
        std::fs::write(dir.path().join("journal.cbor"), encode_batch(&batch)).unwrap();
        assert_eq!(s.read_component(&id).unwrap(), None);
        let s = DirStore::open(dir.path()).unwrap();
        assert_eq!(s.read_component(&id).unwrap().as_deref(), Some(&b"new"[..]));
        assert!(!dir.path().join("journal.cbor").exists());
        // A torn journal means the commit never happened.
        std::fs::write(dir.path().join("journal.cbor"), &encode_batch(&batch)[..5]).unwrap();
        let s = DirStore::open(dir.path()).unwrap();
        assert_eq!(s.read_component(&id).unwrap().as_deref(), Some(&b"new"[..]));
    }

    #[test]
    fn a_commit_replaces_files_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = DirStore::open(dir.path()).unwrap();
        let id = ComponentId::new(vec![b"TEEP-Device".to_vec(), b"x".to_vec()]);
        for content in [&b"first"[..], b"second"] {
            s.commit(StoreBatch {
                components: vec![(id.clone(), Some(Bytes::copy_from_slice(content)))],
                manifests: vec![],
            })
            .unwrap();
            assert_eq!(s.read_component(&id).unwrap().as_deref(), Some(content));
        }
        let mut files = Vec::new();
        walk(dir.path(), &mut |p| files.push(p.to_path_buf())).unwrap();
        assert_eq!(files, vec![s.component_path(&id).unwrap()]);
    }

    #[test]
    fn journal_round_trips() {
        let b = StoreBatch {
            components: vec![
                (vec![b"a".to_vec()].into(), Some(Bytes::from_static(b"x"))),
                (vec![b"b".to_vec()].into(), None),
            ],
            manifests: vec![(
                vec![b"m".to_vec()].into(),
                Some(ManifestRecord {
                    sequence_number: 3,
                    envelope: Bytes::from_static(b"e"),
                    components: vec![vec![b"a".to_vec()].into()],
                    dependencies: vec![],
                    refcount: 1,
                }),
            )],
        };
        assert_eq!(decode_batch(&encode_batch(&b)).unwrap(), b);
    }
}
