//! The SUIT_References in Evidence's `manifests` claim (draft-ietf-teep-protocol-26 §5: "TEE
//! firmware / installed TCs" → `manifests`, RFC 9711 §4.2.15 `[+ [content-format, bstr .cbor
//! manifest]]`), and what the TAM's catalog says they are.
//!
//! draft-ietf-suit-report defines `SUIT_Reference = [uri: tstr, digest: SUIT_Digest]` and
//! `SUIT_Digest = [alg: int, bytes: bstr]` (DIGEST §8.6). Read tolerantly, as
//! [`check_required_claims`](super::check_required_claims) accepts the entries:
//!
//! * content-format 60 (application/cbor) with a bstr body: the body must be CBOR. An array
//!   `[tstr, array]` is a SUIT_Reference and must be a valid one; a map with key 0 or 1 is
//!   the TEEP draft example's `{1: uri, 0: digest}` (deviation `eat.manifests-reference-map`)
//!   and must be a valid one too; anything else (teep's `[uri, sequence-or-version]` naming a
//!   manifest without a digest, or another format) names no digest and is left alone.
//! * a bare map body (deviation `eat.manifests-unwrapped`, noted by the shape check): read
//!   as the map form above, without a second deviation.
//! * other content formats and teep's older text form: opaque, no reference.

use alloc::{format, string::String, vec::Vec};

use ciborium::Value;
use teep_cbor::deviation::{catalog, Deviations};
use teep_cbor::SuitDigest;

use super::{AttestError, ClaimsFault, Evidence, MANIFESTS, MANIFESTS_ALT};
use crate::model::TcRecord;

/// content-format 60, application/cbor: what RFC 9711 entries carrying a SUIT_Reference use
/// until one is allocated (TEEP-26 §5 example).
const CBOR_CONTENT_FORMAT: i128 = 60;

/// A SUIT_Reference the device attested, and the catalog TC whose current envelope it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestReference {
    /// Index of its entry in `manifests`.
    pub index: usize,
    pub uri: String,
    pub digest: SuitDigest,
    /// The catalog TC whose current manifest has this digest, and that manifest's sequence
    /// number; `None` when no current catalog entry has it.
    pub tc: Option<(String, u64)>,
}

/// `{index, uri, digest_alg, digest: hex, tc?, sequence?}`: how the claims record, the audit
/// and the device page show it.
impl serde::Serialize for ManifestReference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ManifestReference", 6)?;
        st.serialize_field("index", &self.index)?;
        st.serialize_field("uri", &self.uri)?;
        st.serialize_field("digest_alg", &self.digest.algorithm)?;
        st.serialize_field("digest", &hex::encode(&self.digest.bytes))?;
        match &self.tc {
            Some((name, seq)) => {
                st.serialize_field("tc", name)?;
                st.serialize_field("sequence", seq)?;
            }
            None => {
                st.skip_field("tc")?;
                st.skip_field("sequence")?;
            }
        }
        st.end()
    }
}

impl ManifestReference {
    /// One line for the audit entry: `attested manifests[i]: uri alg:digest → tc@seq`.
    pub fn audit_note(&self) -> String {
        let tc = match &self.tc {
            Some((name, seq)) => format!("{name}@{seq}"),
            None => String::from("not in the catalog"),
        };
        format!(
            "attested manifests[{}]: {} {} → {tc}",
            self.index, self.uri, self.digest
        )
    }
}

fn bad(here: &str, why: &str) -> ClaimsFault {
    ClaimsFault::Attest(AttestError::Manifests(format!("{here}: {why}")))
}

/// The SUIT_References in `ev`'s `manifests` (claim 272, or 273 as the shape check allows),
/// unresolved; errors and deviations name `{at}.manifests[i]`. Call after
/// [`check_required_claims`](super::check_required_claims), which checks the entries' shape.
pub fn manifest_references(
    ev: &Evidence,
    deviations: &mut Deviations,
    at: &str,
) -> Result<Vec<ManifestReference>, ClaimsFault> {
    let Some(Value::Array(entries)) = ev.claim(MANIFESTS).or_else(|| ev.claim(MANIFESTS_ALT))
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (index, e) in entries.iter().enumerate() {
        let Value::Array(pair) = e else { continue };
        let [Value::Integer(ct), body] = pair.as_slice() else {
            continue;
        };
        let here = || format!("{at}.manifests[{index}]");
        let found = match body {
            Value::Bytes(b) if i128::from(*ct) == CBOR_CONTENT_FORMAT => {
                let v: Value = ciborium::from_reader(b.as_slice()).map_err(|_| {
                    bad(
                        &here(),
                        "body is not CBOR, which content-format 60 (application/cbor) says it is (RFC 9711 §4.2.15)",
                    )
                })?;
                reference_in(&v, &here, Some(deviations))?
            }
            // Unwrapped: the shape check already recorded `eat.manifests-unwrapped`.
            Value::Map(_) => reference_in(body, &here, None)?,
            _ => None,
        };
        if let Some((uri, digest)) = found {
            out.push(ManifestReference {
                index,
                uri,
                digest,
                tc: None,
            });
        }
    }
    Ok(out)
}

/// The SUIT_Reference a body holds, if it holds one. `deviations`: where the map form inside
/// a bstr is recorded (`None`: the entry's unwrapping was recorded already).
fn reference_in(
    v: &Value,
    here: &dyn Fn() -> String,
    deviations: Option<&mut Deviations>,
) -> Result<Option<(String, SuitDigest)>, ClaimsFault> {
    match v {
        Value::Array(a) => match a.as_slice() {
            [Value::Text(uri), d @ Value::Array(_)] => Ok(Some((uri.clone(), digest(d, here)?))),
            _ => Ok(None),
        },
        Value::Map(m) => {
            let get = |k: i128| {
                m.iter()
                    .find(|(key, _)| key.as_integer().map(i128::from) == Some(k))
                    .map(|(_, v)| v)
            };
            let found = match (get(1), get(0)) {
                (None, None) => return Ok(None),
                // A URI without a digest names the manifest but cannot identify it.
                (Some(Value::Text(_)), None) => None,
                (Some(Value::Text(uri)), Some(d)) => Some((uri.clone(), digest(d, here)?)),
                _ => {
                    return Err(bad(
                        &here(),
                        "map is not a SUIT_Reference {1: uri tstr, 0: SUIT_Digest} (TEEP-26 §5 example)",
                    ))
                }
            };
            if let Some(dev) = deviations {
                dev.note(&catalog::EAT_MANIFESTS_REFERENCE_MAP, here())
                    .map_err(ClaimsFault::Strict)?;
            }
            Ok(found)
        }
        _ => Ok(None),
    }
}

fn digest(v: &Value, here: &dyn Fn() -> String) -> Result<SuitDigest, ClaimsFault> {
    if let Value::Array(a) = v {
        if let [Value::Integer(alg), Value::Bytes(b)] = a.as_slice() {
            if let (Ok(algorithm), true) = (i64::try_from(*alg), (1..=64).contains(&b.len())) {
                return Ok(SuitDigest {
                    algorithm,
                    bytes: b.clone(),
                });
            }
        }
    }
    Err(bad(
        &here(),
        "SUIT_Reference digest is not SUIT_Digest [alg int, bytes bstr of 1 to 64] (draft-ietf-suit-report)",
    ))
}

/// Names each reference's TC: the catalog entry whose current manifest has its digest.
/// Digests are the ones the adapter computed when it loaded the catalog.
pub fn resolve_references(refs: &mut [ManifestReference], catalog: &[TcRecord]) {
    for r in refs {
        r.tc = catalog
            .iter()
            .find(|t| t.manifest_digest.as_ref() == Some(&r.digest))
            .map(|t| (t.name.clone(), t.sequence));
    }
}

/// The holdings the policy checks (catalog name, sequence): what the device attested where
/// a reference names a catalog TC, over what the TAM recorded (`recorded`); a TC attested
/// nowhere keeps its recorded sequence.
pub fn attested_holdings<'a>(
    mut recorded: Vec<(&'a str, Option<u64>)>,
    refs: &'a [ManifestReference],
) -> Vec<(&'a str, Option<u64>)> {
    for (name, seq) in refs.iter().filter_map(|r| r.tc.as_ref()) {
        match recorded.iter_mut().find(|(n, _)| n == name) {
            Some(h) => h.1 = Some(*seq),
            None => recorded.push((name.as_str(), Some(*seq))),
        }
    }
    recorded
}
