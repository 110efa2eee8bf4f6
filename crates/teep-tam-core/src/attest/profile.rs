//! The TEEP EAT profile's claims (draft-ietf-teep-protocol-26 §5, RFC 9711): the required
//! claims, `eat_profile`, the shape of `manifests`, and the operator's appraisal policy.

use alloc::{format, string::String, vec::Vec};

use ciborium::Value;
use teep_cbor::deviation::{catalog, Deviation, Deviations};
use teep_cose::eat::TEEP_EAT_PROFILE;

use super::{
    AttestError, Evidence, CNF, HWMODEL, HWVERSION, MANIFESTS, MANIFESTS_ALT, OEMID, UEID,
};

/// eat_profile (RFC 9711 §4.3.2).
const EAT_PROFILE: i64 = 265;

/// Why the claims do not pass: a rule broken, or a deviation strict mode refuses.
#[derive(Debug)]
pub enum ClaimsFault {
    Attest(AttestError),
    Strict(Deviation),
}

impl From<AttestError> for ClaimsFault {
    fn from(e: AttestError) -> Self {
        ClaimsFault::Attest(e)
    }
}

/// What an operator accepts beyond a valid appraisal (applied to every Verifier's result).
/// Empty lists accept anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppraisalPolicy {
    /// Accepted `hwmodel` values (RFC 9711 §4.2.4), as bytes.
    pub hwmodels: Vec<Vec<u8>>,
    /// Accepted `hwversion` version strings (RFC 9711 §4.2.5).
    pub hwversions: Vec<String>,
    /// Lowest sequence number a TC may be held at: (its catalog name, minimum). Checked
    /// against the sequence the device attests (a `manifests` SUIT_Reference whose digest is
    /// the catalog's current manifest, TEEP-26 §5), else the holdings the TAM recorded; a TC
    /// held nowhere is policy's to install.
    pub min_tc_versions: Vec<(String, u64)>,
}

impl Evidence {
    /// The `hwversion` version string, text or (libteep) bytes.
    pub(crate) fn hwversion_text(&self) -> Option<String> {
        let v = match self.claim(HWVERSION)? {
            Value::Array(a) => a.first()?,
            v => v,
        };
        match v {
            Value::Text(t) => Some(t.clone()),
            Value::Bytes(b) => core::str::from_utf8(b).ok().map(String::from),
            _ => None,
        }
    }
}

/// -26 §5: an Attestation Result of the TEEP profile names no other profile. (An absent
/// claim is allowed: the media type already says which profile.)
pub fn check_result_profile(ev: &Evidence) -> Result<(), AttestError> {
    match ev.claim(EAT_PROFILE) {
        None => Ok(()),
        Some(Value::Text(t)) if t == TEEP_EAT_PROFILE => Ok(()),
        Some(Value::Text(_)) => Err(AttestError::Profile(
            "eat_profile: an Attestation Result labelled with the TEEP EAT media type names another profile (TEEP-26 §5)",
        )),
        Some(Value::Bytes(_)) => Err(AttestError::Profile(
            "eat_profile: an OID, not the TEEP profile URI (TEEP-26 §5)",
        )),
        Some(_) => Err(AttestError::Profile(
            "eat_profile: neither a URI nor an OID (RFC 9711 §4.3.2)",
        )),
    }
}

/// -26 §5: ueid, oemid, hwmodel, hwversion, manifests and cnf must be present, in Evidence
/// and in an Attestation Result; `manifests` of RFC 9711's shape, older shapes recorded as
/// deviations at `at`.
pub fn check_required_claims(
    ev: &Evidence,
    deviations: &mut Deviations,
    at: &str,
) -> Result<(), ClaimsFault> {
    for (k, name) in [
        (UEID, "ueid"),
        (OEMID, "oemid"),
        (HWMODEL, "hwmodel"),
        (HWVERSION, "hwversion"),
        (CNF, "cnf"),
    ] {
        if ev.claim(k).is_none() {
            return Err(AttestError::MissingClaim(name).into());
        }
    }
    let manifests = match (ev.claim(MANIFESTS), ev.claim(MANIFESTS_ALT)) {
        (Some(m), _) => m,
        (None, Some(m)) => {
            note(
                deviations,
                &catalog::EAT_MANIFESTS_LABEL_273,
                format!("{at}.273"),
            )?;
            m
        }
        (None, None) => return Err(AttestError::MissingClaim("manifests").into()),
    };
    let Value::Array(entries) = manifests else {
        return Err(AttestError::Manifests("not an array (RFC 9711 §4.2.15)".into()).into());
    };
    if entries.is_empty() {
        return Err(
            AttestError::Manifests("empty (RFC 9711 §4.2.15: [+ manifest-format])".into()).into(),
        );
    }
    for (i, e) in entries.iter().enumerate() {
        let here = format!("{at}.manifests[{i}]");
        let pair = match e {
            Value::Array(p) if p.len() == 2 => p,
            _ => {
                return Err(AttestError::Manifests(format!(
                    "[{i}] is not [content-format, manifest] (RFC 9711 §4.2.15)"
                ))
                .into())
            }
        };
        match (&pair[0], &pair[1]) {
            (Value::Integer(n), Value::Bytes(_)) if u16::try_from(*n).is_ok() => {}
            (Value::Integer(n), Value::Map(_)) if u16::try_from(*n).is_ok() => {
                note(deviations, &catalog::EAT_MANIFESTS_UNWRAPPED, here)?;
            }
            (Value::Text(_), Value::Array(_) | Value::Text(_) | Value::Bytes(_)) => {
                note(deviations, &catalog::EAT_MANIFESTS_TEXT_FORM, here)?;
            }
            _ => {
                return Err(AttestError::Manifests(format!(
                    "[{i}] is not [content-format uint, bstr-wrapped manifest] (RFC 9711 §4.2.15)"
                ))
                .into())
            }
        }
    }
    Ok(())
}

fn note(
    deviations: &mut Deviations,
    kind: &'static teep_cbor::deviation::DeviationKind,
    at: String,
) -> Result<(), ClaimsFault> {
    deviations.note(kind, at).map_err(ClaimsFault::Strict)
}

/// The operator's [`AppraisalPolicy`] on the appraised claims and the holdings the TAM
/// knows (`held`: catalog name and sequence).
pub fn check_policy(
    ev: &Evidence,
    policy: &AppraisalPolicy,
    held: &[(&str, Option<u64>)],
) -> Result<(), AttestError> {
    if !policy.hwmodels.is_empty() {
        let m = ev.bytes_claim(HWMODEL).unwrap_or_default();
        if !policy.hwmodels.contains(&m) {
            return Err(AttestError::Policy(format!(
                "hwmodel {} is not an accepted model",
                hex::encode(&m)
            )));
        }
    }
    if !policy.hwversions.is_empty() {
        let v = ev.hwversion_text().unwrap_or_default();
        if !policy.hwversions.contains(&v) {
            return Err(AttestError::Policy(format!(
                "hwversion {v:?} is not an accepted version"
            )));
        }
    }
    for (name, min) in &policy.min_tc_versions {
        if let Some((_, seq)) = held.iter().find(|(n, _)| n == name) {
            let seq = seq.unwrap_or(0);
            if seq < *min {
                return Err(AttestError::Policy(format!(
                    "TC {name} at sequence {seq}, below the required {min}"
                )));
            }
        }
    }
    Ok(())
}
