//! Payloads of by-URI manifests (draft-ietf-teep-protocol-26 Appendix E Example 1: the
//! manifest's install sequence fetches the TC from `suit-parameter-uri`): the TAM keeps each
//! payload under its SHA-256 and serves it at `{public_url}/tam/payloads/{sha256-hex}`.
//!
//! The URL is stable (it names the content) and needs no credentials: devices fetch it with
//! their SUIT processor, which checks the bytes against the manifest's image digest and size,
//! so the TAM serving them adds no trust; it only spares operators a separate web server.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Where payloads are served, followed by the SHA-256 in hex (64 digits).
pub const PATH: &str = "/tam/payloads/";

/// `public_url`: an absolute `https` (or `http`, for test beds) URL without query, fragment
/// or trailing `/`, since payload paths are appended to it as they are.
pub fn check_public_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let bad = |rule: &str| Err(format!("public_url {url:?}: {rule}"));
    match rest {
        None => bad("expected an https:// (or http://) URL"),
        Some("") => bad("no host"),
        Some(_) if url.ends_with('/') => bad("remove the trailing '/'"),
        Some(r) if r.contains(['?', '#']) || r.contains(char::is_whitespace) => {
            bad("no query, fragment or spaces")
        }
        Some(_) => Ok(()),
    }
}

/// The URI a manifest names for the payload whose SHA-256 is `sha256`.
pub fn payload_uri(public_url: &str, sha256: &[u8; 32]) -> String {
    format!("{public_url}{PATH}{}", hex::encode(sha256))
}

/// The SHA-256 a payload path segment names: exactly 64 hex digits, nothing else.
pub fn parse_sha256(segment: &str) -> Option<[u8; 32]> {
    if segment.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(segment, &mut out).ok()?;
    Some(out)
}

/// Checks `payload` against a manifest that fetches its TC by URI: SHA-256 image digest and
/// image size (shared sequence) equal the payload's, and the install sequence sets a
/// `suit-parameter-uri` that is not an integrated payload. Returns the digest and that URI.
pub fn check_payload(
    manifest: &teep_suit::Manifest,
    payload: &[u8],
) -> Result<([u8; 32], String), String> {
    use teep_suit::{DigestAlgorithm, Parameter};
    let digest = match manifest.shared_parameter(3) {
        Some(Parameter::ImageDigest(d)) if d.algorithm == DigestAlgorithm::Sha256 => d,
        Some(Parameter::ImageDigest(_)) => {
            return Err("the manifest's image digest is not SHA-256".into())
        }
        _ => return Err("the manifest has no image digest to check the payload against".into()),
    };
    let ours = teep_suit::Digest::sha256(payload);
    if ours.bytes != digest.bytes {
        return Err(format!(
            "SHA-256 {} does not match the manifest's image digest {}",
            hex::encode(&ours.bytes),
            hex::encode(&digest.bytes)
        ));
    }
    match manifest.shared_parameter(14) {
        Some(Parameter::ImageSize(n)) if *n == payload.len() as u64 => {}
        Some(Parameter::ImageSize(n)) => {
            return Err(format!(
                "{} bytes, the manifest's image size is {n}",
                payload.len()
            ))
        }
        _ => return Err("the manifest has no image size".into()),
    }
    let install = manifest.install.as_ref().and_then(|s| s.get());
    let uri = install
        .into_iter()
        .flat_map(|s| &s.commands)
        .find_map(|c| match &c.arg {
            teep_suit::CommandArg::Parameters(ps) => ps.iter().find_map(|p| match p {
                Parameter::Uri(u) if !u.starts_with('#') => Some(u.clone()),
                _ => None,
            }),
            _ => None,
        })
        .ok_or("the manifest's install sequence fetches no payload by URI")?;
    let sha256 = ours
        .bytes
        .try_into()
        .map_err(|_| "SHA-256: not 32 bytes".to_string())?;
    Ok((sha256, uri))
}

/// `GET /tam/payloads/{sha256-hex}`: the bytes (200, immutable: the name is their digest),
/// 304 for a matching `If-None-Match`, 404 for a malformed or unknown digest.
pub(crate) async fn serve(
    State(st): State<Arc<AppState>>,
    Path(segment): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(sha256) = parse_sha256(&segment) else {
        return not_found("payload path: expected the SHA-256 of the payload in 64 hex digits");
    };
    let etag = format!("\"{}\"", hex::encode(sha256));
    let cache = (
        header::CACHE_CONTROL,
        "public, max-age=31536000, immutable".to_string(),
    );
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    match st.store.payload(&sha256).await {
        Ok(Some(_)) if matches => {
            (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), cache]).into_response()
        }
        Ok(Some(bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (header::ETAG, etag),
                cache,
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => not_found(&format!(
            "no payload with SHA-256 {} at this TAM",
            hex::encode(sha256)
        )),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

fn not_found(why: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("{why}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_path_is_exactly_64_hex_digits() {
        let d = [0xab; 32];
        assert_eq!(parse_sha256(&hex::encode(d)), Some(d));
        assert_eq!(parse_sha256(&hex::encode(d).to_uppercase()), Some(d));
        for bad in ["", "ab", &"a".repeat(63), &"a".repeat(65), &"g".repeat(64)] {
            assert_eq!(parse_sha256(bad), None, "{bad}");
        }
        // Multi-byte characters that make up 64 bytes are not hex.
        assert_eq!(parse_sha256(&"é".repeat(32)), None);
        assert_eq!(
            payload_uri("https://tam.example.org", &d),
            format!("https://tam.example.org/tam/payloads/{}", "ab".repeat(32))
        );
    }

    fn manifest(envelope: Vec<u8>) -> teep_suit::Manifest {
        teep_suit::decode_envelope_unverified(envelope, &Default::default())
            .unwrap()
            .manifest
    }

    #[test]
    fn payload_is_checked_against_the_manifests_image_digest_and_size() {
        let signer = teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::generate(
            teep_cose::KeyType::P256,
        ));
        let ids = crate::suit_wrap::ta_ids("hello");
        let uri = "https://tam.example.org/tam/payloads/x";
        let by_uri =
            manifest(crate::suit_wrap::wrap_ta_by_uri(&ids, b"payload", 1, uri, &signer).unwrap());
        let (sha, got) = check_payload(&by_uri, b"payload").unwrap();
        assert_eq!(got, uri);
        assert_eq!(sha.to_vec(), teep_suit::Digest::sha256(b"payload").bytes);
        let e = check_payload(&by_uri, b"PAYLOAD").unwrap_err();
        assert!(
            e.contains("does not match the manifest's image digest"),
            "{e}"
        );
        let integrated = manifest(crate::suit_wrap::wrap_ta(&ids, b"payload", 1, &signer).unwrap());
        let e = check_payload(&integrated, b"payload").unwrap_err();
        assert_eq!(
            e,
            "the manifest's install sequence fetches no payload by URI"
        );
    }

    #[test]
    fn public_url_is_an_absolute_http_url_without_trailing_slash() {
        for ok in [
            "https://tam.example.org",
            "http://127.0.0.1:8080",
            "https://h/base",
        ] {
            check_public_url(ok).unwrap();
        }
        for (bad, rule) in [
            ("tam.example.org", "expected an https://"),
            ("ftp://tam.example.org", "expected an https://"),
            ("https://", "no host"),
            ("https://tam.example.org/", "trailing"),
            ("https://tam.example.org?x", "no query"),
        ] {
            let c = crate::Config {
                public_url: Some(bad.into()),
                ..crate::Config::default()
            };
            let e = c.validate().unwrap_err().to_string();
            assert!(
                e.starts_with("public_url") && e.contains(rule),
                "{bad}: {e}"
            );
        }
    }
}
