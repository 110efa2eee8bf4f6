//! What `attestation-payload-format` says the payload is (draft-ietf-teep-protocol-26 §4.3,
//! §5; RFC 9782): an Attestation Result of the TEEP EAT profile, or Evidence for a Verifier.
//!
//! -26 §4.3: absent, the format "is assumed to be" `application/eat+cwt;
//! eat_profile=urn:ietf:rfc:rfcXXXX`, the TEEP EAT media type, and the TAM treats a payload
//! of that type as an Attestation Result; any other type is Evidence to pass to a Verifier.
//! So an EAT labelled `application/eat+cwt` without that profile (RFC 9782), or with another
//! profile (an EAR's, say), is Evidence. Shared by the TAM (the Agent's payload) and the
//! Agent (the TAM's own attestation), so both read a label alike.

use alloc::{format, string::String, string::ToString, vec::Vec};

use super::TEEP_EAT_PROFILE;

/// The media type teep's Agent labels its Evidence with: an EAT as a CWT (RFC 9782 §4),
/// no `eat_profile` parameter.
pub const EVIDENCE_MEDIA_TYPE: &str = "application/eat+cwt";

/// The TEEP EAT media type (-26 §4.3): an Attestation Result of the TEEP profile.
pub const TEEP_RESULT_MEDIA_TYPE: &str = "application/eat+cwt; eat_profile=urn:ietf:rfc:rfcXXXX";

/// What a payload is, by its label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadKind {
    /// The TEEP EAT media type, or no format: an Attestation Result signed by a Verifier.
    TeepResult,
    /// Another EAT (or COSE/CWT) type: Evidence, appraised by a Verifier.
    Evidence,
}

/// A parsed media type: lower-case `type/subtype` and its parameters (names lower-case,
/// values unquoted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaType {
    pub essence: String,
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// Parses `type/subtype *(; name=value)` (RFC 6838 §4.2, RFC 9110 §8.3.1: value a token
    /// or a quoted string).
    pub fn parse(s: &str) -> Result<MediaType, String> {
        let mut parts = split_params(s)?.into_iter();
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let (ty, sub) = essence
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a media type (type/subtype)"))?;
        if !is_token(ty) || !is_token(sub) {
            return Err(format!("{s:?} is not a media type (type/subtype)"));
        }
        let mut params = Vec::new();
        for p in parts {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let (name, value) = p
                .split_once('=')
                .ok_or_else(|| format!("{s:?}: parameter {p:?} is not name=value"))?;
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            let value = match value.strip_prefix('"') {
                Some(q) => q
                    .strip_suffix('"')
                    .ok_or_else(|| format!("{s:?}: parameter {name} has an unterminated quote"))?
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\"),
                None if !value.is_empty() && !value.contains(char::is_whitespace) => {
                    value.to_string()
                }
                None => return Err(format!("{s:?}: parameter {name} has no value")),
            };
            if !is_token(&name) {
                return Err(format!("{s:?}: parameter name {name:?} is not a token"));
            }
            params.push((name, value));
        }
        Ok(MediaType { essence, params })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits at `;` outside quoted strings.
fn split_params(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err(format!("{s:?}: unterminated quoted string"));
    }
    out.push(&s[start..]);
    Ok(out)
}

/// RFC 9110 §5.6.2 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The media types whose payload the built-in Verifier reads as a COSE-signed EAT: RFC 9782's
/// `application/eat+cwt`, and the plain CWT/COSE types older peers send.
const EAT_TYPES: &[&str] = &[
    "application/eat+cwt",
    "application/eat-cwt",
    "application/cwt",
    "application/cose",
    "application/ar+cwt",
    "application/eat+cose",
];

/// Classifies `attestation-payload-format` (-26 §4.3). `Err` says why it cannot be read:
/// not a media type, or a type no Verifier here understands.
pub fn classify(format: Option<&str>) -> Result<PayloadKind, String> {
    let Some(f) = format else {
        return Ok(PayloadKind::TeepResult);
    };
    let mt = MediaType::parse(f)
        .map_err(|e| format!("attestation-payload-format: {e} (RFC 6838 §4.2)"))?;
    if !EAT_TYPES.contains(&mt.essence.as_str()) {
        return Err(format!(
            "attestation-payload-format {f:?} is not supported (expected an EAT as application/eat+cwt, RFC 9782)"
        ));
    }
    let teep_profile = mt.param("eat_profile") == Some(TEEP_EAT_PROFILE);
    Ok(if mt.essence == "application/eat+cwt" && teep_profile {
        PayloadKind::TeepResult
    } else {
        PayloadKind::Evidence
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TEEP-26 §4.3: the TEEP EAT media type, and an absent format, mean an Attestation Result.
    #[test]
    fn teep_26_4_3_the_teep_eat_media_type_or_no_format_is_an_attestation_result() {
        for f in [
            None,
            Some(TEEP_RESULT_MEDIA_TYPE),
            Some("application/eat+cwt;eat_profile=\"urn:ietf:rfc:rfcXXXX\""),
            Some("Application/EAT+CWT ; EAT_PROFILE=urn:ietf:rfc:rfcXXXX"),
        ] {
            assert_eq!(classify(f), Ok(PayloadKind::TeepResult), "{f:?}");
        }
    }

    /// TEEP-26 §4.3 / RFC 9782: other EAT types are Evidence for a Verifier.
    #[test]
    fn teep_26_4_3_other_eat_types_are_evidence() {
        for f in [
            EVIDENCE_MEDIA_TYPE,
            "application/eat+cwt; eat_profile=\"tag:github.com,2023:veraison/ear\"",
            "application/eat+cwt; eat_profile=urn:example:other",
            "application/cwt",
            "application/eat-cwt",
        ] {
            assert_eq!(classify(Some(f)), Ok(PayloadKind::Evidence), "{f}");
        }
    }

    /// A label that is not a media type, or one no Verifier reads, is a clear error.
    #[test]
    fn unparseable_or_unknown_media_types_are_named() {
        for (f, says) in [
            ("eat", "not a media type"),
            ("application/", "not a media type"),
            ("application/eat+cwt; eat_profile", "not name=value"),
            ("application/eat+cwt; eat_profile=\"urn", "unterminated"),
            ("application/x-unknown", "not supported"),
        ] {
            let e = classify(Some(f)).unwrap_err();
            assert!(
                e.contains(says) && e.contains("attestation-payload-format"),
                "{f}: {e}"
            );
        }
    }
}
