//! SUIT_Envelope: locating its members, and the authentication wrapper.

use super::digest::decode_digest;
use crate::cbor::Type;
use crate::cbor::{Key, KeyOrder, Reader};
use crate::error::DecodeError;
use crate::limits::Limits;
use crate::model::{envelope_key, Authentication, SUIT_ENVELOPE_TAG};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bytes::Bytes;

/// The envelope map with its members located but not interpreted.
#[derive(Debug, Clone)]
pub struct RawEnvelope {
    pub tagged: bool,
    /// Content of the bstr at key 2 (SUIT_Authentication).
    pub authentication: Bytes,
    /// The bstr at key 3 including its header (the digest covers this).
    pub manifest_bstr: Bytes,
    /// Content of the bstr at key 3.
    pub manifest: Bytes,
    pub integrated: Vec<(String, Bytes)>,
    pub severed: Vec<(i64, Bytes)>,
    pub unknown: Vec<(i64, Bytes)>,
    pub raw: Bytes,
}

/// Locates the members of a (tagged 107 or untagged) SUIT_Envelope.
pub fn split_envelope(input: &Bytes, limits: &Limits) -> Result<RawEnvelope, DecodeError> {
    if input.len() > limits.max_envelope_len {
        return Err(DecodeError::new(
            "SUIT_Envelope",
            format!(
                "envelope of {} bytes exceeds the limit of {}",
                input.len(),
                limits.max_envelope_len
            ),
        ));
    }
    let mut r = Reader::new(input, "SUIT_Envelope");
    let mut tagged = false;
    if r.is_type(|t| t == Type::Tag) {
        let tag = r.tag()?;
        if tag != SUIT_ENVELOPE_TAG {
            return Err(r.err(format!(
                "expected tag 107 (SUIT_Envelope_Tagged) or an untagged map, got tag {tag}"
            )));
        }
        tagged = true;
    }
    let n = r.map()?;
    let mut order = KeyOrder::new();
    let mut authentication = None;
    let mut manifest = None;
    let mut integrated = Vec::new();
    let mut severed = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..n {
        let key = r.key()?;
        order.check(&r, &key)?;
        match key {
            Key::Int(envelope_key::AUTHENTICATION) => {
                r.path = "SUIT_Envelope.authentication-wrapper".into();
                authentication = Some(input.slice_ref(r.bytes()?));
            }
            Key::Int(envelope_key::MANIFEST) => {
                r.path = "SUIT_Envelope.manifest".into();
                if authentication.is_none() {
                    return Err(r.err("authentication-wrapper (2) must precede the manifest (3)"));
                }
                let (with_header, inner) = r.bytes_with_header()?;
                manifest = Some((input.slice_ref(with_header), input.slice_ref(inner)));
            }
            Key::Int(
                k @ (envelope_key::DEPENDENCY_RESOLUTION
                | envelope_key::PAYLOAD_FETCH
                | envelope_key::CANDIDATE_VERIFICATION
                | envelope_key::INSTALL
                | envelope_key::TEXT),
            ) => {
                r.path = format!("SUIT_Envelope.severed[{k}]");
                let (with_header, _) = r.bytes_with_header()?;
                severed.push((k, input.slice_ref(with_header)));
            }
            Key::Int(k) => {
                r.path = format!("SUIT_Envelope[{k}]");
                unknown.push((k, input.slice_ref(r.raw()?)));
            }
            Key::Text(t) => {
                r.path = format!("SUIT_Envelope[{t:?}]");
                integrated.push((t.to_string(), input.slice_ref(r.bytes()?)));
            }
        }
        r.path = "SUIT_Envelope".into();
    }
    r.expect_end()?;
    let authentication =
        authentication.ok_or_else(|| r.err("missing authentication-wrapper (2)"))?;
    let (manifest_bstr, manifest) = manifest.ok_or_else(|| r.err("missing manifest (3)"))?;
    Ok(RawEnvelope {
        tagged,
        authentication,
        manifest_bstr,
        manifest,
        integrated,
        severed,
        unknown,
        raw: input.clone(),
    })
}

/// Decodes SUIT_Authentication (the content of the bstr at envelope key 2).
pub fn decode_authentication(input: &Bytes) -> Result<Authentication, DecodeError> {
    let mut r = Reader::new(input, "SUIT_Envelope.authentication-wrapper");
    let n = r.array()?;
    if n == 0 {
        return Err(r.err("expected [digest, * authentication-block], got an empty array"));
    }
    r.path = "SUIT_Envelope.authentication-wrapper.digest".into();
    let inner = r.bytes()?;
    let digest = decode_digest(inner, &r.path)?;
    let digest_cbor = input.slice_ref(inner);
    let mut blocks = Vec::new();
    for i in 1..n {
        r.path = format!("SUIT_Envelope.authentication-wrapper[{i}]");
        blocks.push(input.slice_ref(r.bytes()?));
    }
    r.path = "SUIT_Envelope.authentication-wrapper".into();
    r.expect_end()?;
    Ok(Authentication {
        digest,
        digest_cbor,
        blocks,
    })
}
