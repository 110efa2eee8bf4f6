//! SUIT_Manifest, with severable members resolved against the envelope.

use super::common::{decode_common, encode_common, read_component_id, write_component_id};
use super::digest::{read_digest, write_digest};
use super::sequence::{decode_sequence, encode_sequence};
use super::{slice_is_within, write_map_in_key_order};
use crate::cbor::Type;
use crate::cbor::{Key, KeyOrder, Reader, Writer};
use crate::error::DecodeError;
use crate::limits::Limits;
use crate::model::{
    manifest_key, CommandSequence, Common, Digest, DigestAlgorithm, Manifest, Severable,
    SUIT_MANIFEST_TAG,
};
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use bytes::Bytes;

/// Decodes a SUIT_Manifest (the content of the bstr at envelope key 3) and resolves severed
/// members against the envelope.
pub fn decode_manifest(
    root: &Bytes,
    input: &[u8],
    severed: &[(i64, Bytes)],
    limits: &Limits,
) -> Result<Manifest, DecodeError> {
    // Payload fields are `Bytes` slices of `root`; a caller passing an unrelated buffer gets a
    // private copy instead of a panic in `slice_ref`.
    let owned;
    let (root, input): (&Bytes, &[u8]) = if slice_is_within(root, input) {
        (root, input)
    } else {
        owned = Bytes::copy_from_slice(input);
        (&owned, &owned[..])
    };
    let mut r = Reader::new(input, "SUIT_Manifest");
    if r.is_type(|t| t == Type::Tag) {
        let tag = r.tag()?;
        if tag != SUIT_MANIFEST_TAG {
            return Err(r.err(format!(
                "expected tag 1070 or an untagged map, got tag {tag}"
            )));
        }
    }
    let n = r.map()?;
    let mut order = KeyOrder::new();
    let mut m = Manifest {
        version: 0,
        sequence_number: 0,
        common: Common::default(),
        reference_uri: None,
        manifest_component_id: None,
        validate: None,
        load: None,
        invoke: None,
        uninstall: None,
        dependency_resolution: None,
        payload_fetch: None,
        candidate_verification: None,
        install: None,
        text: None,
        unknown: Vec::new(),
    };
    let (mut have_version, mut have_seq, mut have_common) = (false, false, false);
    for _ in 0..n {
        r.path = "SUIT_Manifest".into();
        let key = r.key()?;
        order.check(&r, &key)?;
        let k = match key {
            Key::Int(k) => k,
            Key::Text(t) => {
                return Err(r.err(format!("unexpected text key {t:?} in SUIT_Manifest")));
            }
        };
        r.path = format!("SUIT_Manifest.{}", manifest_member_name(k));
        let seq = |r: &mut Reader<'_>| -> Result<CommandSequence, DecodeError> {
            let inner = r.bytes()?;
            decode_sequence(root, inner, &r.path.clone(), 0, limits)
        };
        match k {
            manifest_key::VERSION => {
                m.version = r.u64()?;
                have_version = true;
            }
            manifest_key::SEQUENCE_NUMBER => {
                m.sequence_number = r.u64()?;
                have_seq = true;
            }
            manifest_key::COMMON => {
                let inner = r.bytes()?;
                m.common = decode_common(root, inner, limits)?;
                have_common = true;
            }
            manifest_key::REFERENCE_URI => m.reference_uri = Some(r.str()?.to_string()),
            manifest_key::MANIFEST_COMPONENT_ID => {
                m.manifest_component_id = Some(read_component_id(&mut r, limits)?)
            }
            manifest_key::VALIDATE => m.validate = Some(seq(&mut r)?),
            manifest_key::LOAD => m.load = Some(seq(&mut r)?),
            manifest_key::INVOKE => m.invoke = Some(seq(&mut r)?),
            manifest_key::UNINSTALL => m.uninstall = Some(seq(&mut r)?),
            manifest_key::DEPENDENCY_RESOLUTION
            | manifest_key::PAYLOAD_FETCH
            | manifest_key::CANDIDATE_VERIFICATION
            | manifest_key::INSTALL => {
                let member = read_severable_sequence(&mut r, root, k, severed, limits)?;
                match k {
                    manifest_key::DEPENDENCY_RESOLUTION => m.dependency_resolution = Some(member),
                    manifest_key::PAYLOAD_FETCH => m.payload_fetch = Some(member),
                    manifest_key::CANDIDATE_VERIFICATION => m.candidate_verification = Some(member),
                    _ => m.install = Some(member),
                }
            }
            manifest_key::TEXT => {
                if r.is_type(|t| t == Type::Bytes) {
                    m.text = Some(Severable::Present(root.slice_ref(r.bytes()?)));
                } else {
                    let digest = read_digest(&mut r)?;
                    let restored = find_verified_severed_member(severed, k, &digest, &r.path)?
                        .map(|b| b.slice_ref(severed_member_content(&b)));
                    m.text = Some(Severable::Severed { digest, restored });
                }
            }
            other => m.unknown.push((other, root.slice_ref(r.raw()?))),
        }
    }
    r.path = "SUIT_Manifest".into();
    r.expect_end()?;
    if !have_version {
        return Err(r.err_at("manifest-version", "missing (required)"));
    }
    if !have_seq {
        return Err(r.err_at("manifest-sequence-number", "missing (required)"));
    }
    if !have_common {
        return Err(r.err_at("common", "missing (required)"));
    }
    Ok(m)
}

/// Content of a bstr whose header we located ourselves (severed members keep their header).
fn severed_member_content(with_header: &Bytes) -> &[u8] {
    let mut r = Reader::new(with_header, "");
    r.bytes().unwrap_or(&[])
}

fn find_verified_severed_member(
    severed: &[(i64, Bytes)],
    key: i64,
    digest: &Digest,
    path: &str,
) -> Result<Option<Bytes>, DecodeError> {
    let Some((_, b)) = severed.iter().find(|(k, _)| *k == key) else {
        return Ok(None);
    };
    if digest.algorithm != DigestAlgorithm::Sha256 {
        return Err(DecodeError::new(
            path,
            format!(
                "severed member digest algorithm {} is not supported",
                digest.algorithm.to_cose()
            ),
        ));
    }
    // The digest of a severed member covers the bstr-wrapped member, like the manifest digest.
    if Digest::sha256(b).bytes != digest.bytes {
        return Err(DecodeError::new(
            path,
            "severed member in the envelope does not match its digest in the manifest",
        ));
    }
    Ok(Some(b.clone()))
}

fn read_severable_sequence(
    r: &mut Reader<'_>,
    root: &Bytes,
    key: i64,
    severed: &[(i64, Bytes)],
    limits: &Limits,
) -> Result<Severable<CommandSequence>, DecodeError> {
    let path = r.path.clone();
    if r.is_type(|t| t == Type::Bytes) {
        let inner = r.bytes()?;
        return Ok(Severable::Present(decode_sequence(
            root, inner, &path, 0, limits,
        )?));
    }
    let digest = read_digest(r)?;
    let restored = match find_verified_severed_member(severed, key, &digest, &path)? {
        Some(b) => {
            // Slices of the restored member are taken from its own buffer.
            let inner = severed_member_content(&b);
            Some(decode_sequence(&b, inner, &path, 0, limits)?)
        }
        None => None,
    };
    Ok(Severable::Severed { digest, restored })
}

/// Human name of a manifest member key.
pub fn manifest_member_name(k: i64) -> &'static str {
    match k {
        1 => "manifest-version",
        2 => "manifest-sequence-number",
        3 => "common",
        4 => "reference-uri",
        5 => "manifest-component-id",
        7 => "validate",
        8 => "load",
        9 => "invoke",
        15 => "dependency-resolution",
        16 => "payload-fetch",
        18 => "candidate-verification",
        20 => "install",
        23 => "text",
        24 => "uninstall",
        _ => "unknown-member",
    }
}

/// Encodes a SUIT_Manifest (without the bstr wrapping). Severed members are written as their
/// digest; present ones inline.
pub fn encode_manifest(m: &Manifest) -> Vec<u8> {
    let mut entries: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut one = |k: i64, f: &dyn Fn(&mut Writer)| {
        let mut w = Writer::new();
        f(&mut w);
        entries.push((k, w.finish()));
    };
    one(manifest_key::VERSION, &|w| {
        w.uint(m.version);
    });
    one(manifest_key::SEQUENCE_NUMBER, &|w| {
        w.uint(m.sequence_number);
    });
    one(manifest_key::COMMON, &|w| {
        w.bytes(&encode_common(&m.common));
    });
    if let Some(u) = &m.reference_uri {
        one(manifest_key::REFERENCE_URI, &|w| {
            w.text(u);
        });
    }
    if let Some(id) = &m.manifest_component_id {
        one(manifest_key::MANIFEST_COMPONENT_ID, &|w| {
            write_component_id(w, id)
        });
    }
    for (k, s) in [
        (manifest_key::VALIDATE, &m.validate),
        (manifest_key::LOAD, &m.load),
        (manifest_key::INVOKE, &m.invoke),
        (manifest_key::UNINSTALL, &m.uninstall),
    ] {
        if let Some(s) = s {
            one(k, &|w| {
                w.bytes(&encode_sequence(s));
            });
        }
    }
    for (k, s) in [
        (
            manifest_key::DEPENDENCY_RESOLUTION,
            &m.dependency_resolution,
        ),
        (manifest_key::PAYLOAD_FETCH, &m.payload_fetch),
        (
            manifest_key::CANDIDATE_VERIFICATION,
            &m.candidate_verification,
        ),
        (manifest_key::INSTALL, &m.install),
    ] {
        match s {
            Some(Severable::Present(s)) => one(k, &|w| {
                w.bytes(&encode_sequence(s));
            }),
            Some(Severable::Severed { digest, .. }) => one(k, &|w| write_digest(w, digest)),
            None => {}
        }
    }
    match &m.text {
        Some(Severable::Present(b)) => one(manifest_key::TEXT, &|w| {
            w.bytes(b);
        }),
        Some(Severable::Severed { digest, .. }) => {
            one(manifest_key::TEXT, &|w| write_digest(w, digest))
        }
        None => {}
    }
    for (k, raw) in &m.unknown {
        entries.push((*k, raw.to_vec()));
    }
    let mut w = Writer::new();
    write_map_in_key_order(&mut w, entries);
    w.finish()
}

/// Wraps `content` in a bstr header.
pub fn bstr_wrap(content: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(content);
    w.finish()
}
