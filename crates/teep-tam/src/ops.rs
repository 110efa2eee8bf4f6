//! Administrative operations shared by the CLI (`teep tam ...`), the admin API and the web UI,
//! so the three surfaces cannot drift apart.

use serde::Serialize;
use teep_cose::{PublicKey, Signer};

use crate::catalog::TcSignerAnchors;
use crate::model::*;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Envelope(#[from] crate::catalog::EnvelopeError),
    /// A configured trust anchor file is unreadable: the TAM's configuration, not the upload.
    #[error(transparent)]
    Anchors(#[from] crate::catalog::AnchorError),
    #[error("{0}")]
    Invalid(String),
    /// A manifest's dependencies cannot be met by the catalog (missing, or a cycle).
    #[error("{0}")]
    Dependency(String),
}

impl OpsError {
    /// HTTP status for the admin API.
    pub fn status(&self) -> u16 {
        match self {
            OpsError::Store(StoreError::NotFound(_)) => 404,
            OpsError::Store(StoreError::Conflict(_)) => 409,
            OpsError::Store(StoreError::Unavailable(_)) => 503,
            OpsError::Store(_) | OpsError::Anchors(_) => 500,
            OpsError::Envelope(_) | OpsError::Invalid(_) => 400,
            OpsError::Dependency(_) => 409,
        }
    }
}

pub type Result<T> = std::result::Result<T, OpsError>;

/// The TC-signer trust anchors of a TAM: its own TC-signer key and the configured
/// `tc_signer_anchors` files (read at each upload, so a broken file is named where it matters).
pub fn tc_signer_anchors(config: &crate::Config, own: &dyn Signer) -> Result<TcSignerAnchors> {
    Ok(TcSignerAnchors::load(
        Some(own.public_key()),
        &config.tc_signer_anchors,
    )?)
}

/// An envelope added to the catalog, and what the upload should tell its sender.
#[derive(Debug, Clone, Serialize)]
pub struct AddedEnvelope {
    #[serde(flatten)]
    pub tc: TcRecord,
    /// The upload carried tag 107 (SUIT_Envelope_Tagged), which was removed.
    pub tag_removed: bool,
    /// What was changed or noticed, one sentence each (empty when nothing).
    pub notes: Vec<String>,
}

/// The note of an upload whose tag 107 was removed.
pub const TAG_REMOVED_NOTE: &str = "the envelope carried tag 107 (SUIT_Envelope_Tagged); it is \
     stored and delivered untagged, as an Update's manifest-list requires (draft-ietf-teep-protocol-26 \
     §4.4: bstr .cbor SUIT_Envelope)";

/// Adds a signed SUIT envelope to the catalog after checking its manifest digest and that one
/// of its signatures verifies with a TC-signer trust anchor. The envelope is stored (and later
/// delivered) byte for byte as uploaded, without tag 107: the TAM never sends a tagged one.
pub async fn add_envelope(
    store: &Store,
    anchors: &TcSignerAnchors,
    name: Option<&str>,
    bytes: &[u8],
    now: i64,
) -> Result<TcRecord> {
    Ok(add_envelope_noted(store, anchors, name, bytes, now)
        .await?
        .tc)
}

/// [`add_envelope`], saying whether tag 107 was removed (the admin API, the web UI and
/// `teep tam tc add` tell the uploader).
pub async fn add_envelope_noted(
    store: &Store,
    anchors: &TcSignerAnchors,
    name: Option<&str>,
    bytes: &[u8],
    now: i64,
) -> Result<AddedEnvelope> {
    let mut tc = crate::catalog::verified_tc(name, bytes, anchors)?;
    let tag_removed = tc.envelope.len() != bytes.len();
    let mut notes = if tag_removed {
        vec![TAG_REMOVED_NOTE.to_string()]
    } else {
        Vec::new()
    };
    let limits = teep_suit::Limits {
        max_envelope_len: crate::catalog::MAX_ENVELOPE,
        ..Default::default()
    };
    let env = teep_suit::decode_envelope_unverified(tc.envelope.clone(), &limits)
        .map_err(|e| OpsError::Invalid(format!("SUIT_Envelope: {e}")))?;
    let refs = crate::dependencies::read(&env.manifest);
    if !refs.is_empty() {
        let catalog = store.list_tcs().await?;
        let (dependencies, dependency_notes) = crate::dependencies::resolve(&tc, &refs, &catalog)?;
        tc.dependencies = dependencies;
        notes.extend(dependency_notes);
    }
    let id = store.add_tc(&tc, now).await?;
    Ok(AddedEnvelope {
        tc: store.tc_by_id(id).await?,
        tag_removed,
        notes,
    })
}

/// [`add_envelope_noted`] for an envelope that fetches its TC by URI, with the payload the
/// TAM is to serve at `/tam/payloads/{sha256-hex}`: the payload must have the manifest's
/// image digest (SHA-256) and image size, and is refused otherwise. A note says when the
/// manifest's URI is not this TAM's payload URL for it (devices then fetch it elsewhere).
pub async fn add_envelope_with_payload(
    store: &Store,
    anchors: &TcSignerAnchors,
    name: Option<&str>,
    bytes: &[u8],
    payload: &[u8],
    public_url: Option<&str>,
    now: i64,
) -> Result<AddedEnvelope> {
    crate::catalog::verify(bytes, anchors)?;
    let limits = teep_suit::Limits {
        max_envelope_len: crate::catalog::MAX_ENVELOPE,
        ..Default::default()
    };
    let env = teep_suit::decode_envelope_unverified(bytes.to_vec(), &limits)
        .map_err(|e| OpsError::Invalid(format!("SUIT_Envelope: {e}")))?;
    let (sha256, uri) = crate::payloads::check_payload(&env.manifest, payload)
        .map_err(|e| OpsError::Invalid(format!("--payload: {e}")))?;
    store.put_payload(&sha256, payload, now).await?;
    let mut added = add_envelope_noted(store, anchors, name, bytes, now).await?;
    let ours = public_url.map(|u| crate::payloads::payload_uri(u, &sha256));
    if ours.as_deref() != Some(uri.as_str()) {
        added.notes.push(format!(
            "the manifest fetches its payload from {uri}, not from this TAM's {}; the \
             payload is kept but devices will not fetch it here",
            ours.as_deref()
                .unwrap_or("payload URL (public_url is not set)")
        ));
    }
    Ok(added)
}

/// Wraps a raw TA binary in a manifest signed by the TAM's TC-signer key and adds it.
/// The component id is `['TEEP-Device', 'SecureFS', UUIDv5(name), 'ta']`; a TA already in the
/// catalog under that name gets the next sequence number. The envelope passes the same check
/// as an uploaded one, with the signer's key as the anchor.
pub async fn add_ta(
    store: &Store,
    signer: &dyn Signer,
    name: &str,
    binary: &[u8],
    now: i64,
) -> Result<TcRecord> {
    // Room for the manifest around the integrated payload.
    let (ids, next) = ta_entry(
        store,
        name,
        binary,
        crate::catalog::MAX_ENVELOPE - 64 * 1024,
    )
    .await?;
    let envelope = crate::suit_wrap::wrap_ta(&ids, binary, next, signer)
        .map_err(|e| OpsError::Invalid(format!("building the manifest: {e}")))?;
    let anchors = TcSignerAnchors::new(vec![signer.public_key()]);
    add_envelope(store, &anchors, Some(name), &envelope, now).await
}

/// Largest TA the TAM serves by URI ([`add_ta_by_uri`]): what a device's fetcher takes by
/// default (teep-broker's `DEFAULT_MAX_PAYLOAD`).
pub const MAX_URI_PAYLOAD: usize = 64 * 1024 * 1024;

/// What `--by-uri` says when the TAM has no `public_url`.
pub const NO_PUBLIC_URL: &str = "a TA served by URI (--by-uri) needs the TAM's public_url, \
     which is not set; give the URL devices reach the TAM at (public_url in the TAM config file, or --public-url \
     https://tam.example.org), so the manifest can name where its payload is served";

/// [`add_ta`], but the manifest fetches the TA by URI (draft-ietf-teep-protocol-26 Appendix E
/// Example 1) from `{public_url}/tam/payloads/{sha256-hex}`, which this TAM serves from the
/// payload it stores here. `public_url` is the `public_url` setting; `None` is refused with
/// [`NO_PUBLIC_URL`].
pub async fn add_ta_by_uri(
    store: &Store,
    signer: &dyn Signer,
    public_url: Option<&str>,
    name: &str,
    binary: &[u8],
    now: i64,
) -> Result<TcRecord> {
    let public_url = public_url.ok_or_else(|| OpsError::Invalid(NO_PUBLIC_URL.into()))?;
    crate::payloads::check_public_url(public_url).map_err(OpsError::Invalid)?;
    let (ids, next) = ta_entry(store, name, binary, MAX_URI_PAYLOAD).await?;
    let digest = teep_suit::Digest::sha256(binary);
    let sha256: [u8; 32] = digest
        .bytes
        .as_slice()
        .try_into()
        .map_err(|_| OpsError::Invalid("SHA-256: not 32 bytes".into()))?;
    let uri = crate::payloads::payload_uri(public_url, &sha256);
    let envelope = crate::suit_wrap::wrap_ta_by_uri(&ids, binary, next, &uri, signer)
        .map_err(|e| OpsError::Invalid(format!("building the manifest: {e}")))?;
    // The payload first: a manifest in the catalog must never name a payload the TAM lacks.
    store.put_payload(&sha256, binary, now).await?;
    let anchors = TcSignerAnchors::new(vec![signer.public_key()]);
    add_envelope(store, &anchors, Some(name), &envelope, now).await
}

/// Checks a TA upload and finds its ids and the next sequence number of its name.
async fn ta_entry(
    store: &Store,
    name: &str,
    binary: &[u8],
    max: usize,
) -> Result<(crate::suit_wrap::TaIds, u64)> {
    if name.is_empty() || name.len() > 128 {
        return Err(OpsError::Invalid(
            "--name: expected 1..128 characters".into(),
        ));
    }
    if binary.is_empty() {
        return Err(OpsError::Invalid("TA binary: empty".into()));
    }
    if binary.len() > max {
        return Err(OpsError::Invalid(format!(
            "TA binary: {} bytes, limit {max}",
            binary.len()
        )));
    }
    let ids = crate::suit_wrap::ta_ids(name);
    let cid = ids.component_id.encode();
    let next = store
        .list_tcs()
        .await?
        .iter()
        .filter(|t| t.component_id == cid)
        .map(|t| t.sequence + 1)
        .max()
        .unwrap_or(1);
    Ok((ids, next))
}

/// Registers a device from its public key (SPKI PEM, JWK, COSE_Key or a private key form).
pub async fn add_device(
    store: &Store,
    key: &[u8],
    attest_key: Option<&[u8]>,
    name: Option<&str>,
    tags: &[String],
    now: i64,
) -> Result<DeviceRecord> {
    let pk = PublicKey::from_bytes_any(key)
        .map_err(|e| OpsError::Invalid(format!("device key: {e}")))?;
    let attest = match attest_key {
        Some(a) => Some(
            PublicKey::from_bytes_any(a)
                .map_err(|e| OpsError::Invalid(format!("attestation key: {e}")))?
                .to_cose_key(),
        ),
        None => None,
    };
    for t in tags {
        if t.is_empty() || t.len() > 64 || t.contains(char::is_whitespace) {
            return Err(OpsError::Invalid(format!(
                "tag {t:?}: expected 1..64 characters without spaces"
            )));
        }
    }
    let id = store
        .add_device(
            &NewDevice {
                name: name.map(str::to_string),
                kid: pk.thumbprint().to_vec(),
                teep_key: pk.to_cose_key(),
                attest_key: attest,
                tags: tags.to_vec(),
            },
            now,
        )
        .await?;
    Ok(store.device_by_id(id).await?)
}

/// Finds a catalog component by catalog id, name, or component id text
/// (`['TEEP-Device', 'SecureFS', h'8d82573a', 'ta']`, as every view prints it; the
/// `TEEP-Device/SecureFS/h'8d82573a'/ta` form that earlier releases printed is still read, so
/// scripts written against them keep working).
pub async fn resolve_component(store: &Store, spec: &str) -> Result<Vec<u8>> {
    let tcs = store.list_tcs().await?;
    if let Ok(id) = spec.parse::<i64>() {
        if let Some(t) = tcs.iter().find(|t| t.id == id) {
            return Ok(t.component_id.clone());
        }
    }
    if let Some(t) = tcs.iter().rev().find(|t| t.name == spec) {
        return Ok(t.component_id.clone());
    }
    if let Some(id) = ComponentId::parse(spec).ok().or_else(|| slash_joined(spec)) {
        let enc = id.encode();
        if tcs.iter().any(|t| t.component_id == enc) {
            return Ok(enc);
        }
    }
    Err(OpsError::Store(StoreError::NotFound(format!(
        "trusted component {spec:?} in the catalog"
    ))))
}

/// The `/`-joined component id text of earlier releases: each segment `h'HEX'` or UTF-8 text.
/// Only ever compared with the catalog's ids, so anything it cannot read is simply no match.
fn slash_joined(spec: &str) -> Option<ComponentId> {
    if !spec.contains('/') || spec.starts_with('[') {
        return None;
    }
    spec.split('/')
        .map(|seg| match seg.strip_prefix("h'") {
            Some(rest) => hex::decode(rest.strip_suffix('\'')?).ok(),
            None => (!seg.is_empty()).then(|| seg.as_bytes().to_vec()),
        })
        .collect()
}

/// A device with what it holds and what policy assigns it.
#[derive(Debug, Serialize)]
pub struct DeviceView {
    #[serde(flatten)]
    pub device: DeviceRecord,
    pub installed: Vec<InstalledTc>,
    #[serde(serialize_with = "ser_ids")]
    pub assigned: Vec<Vec<u8>>,
    pub claims: Option<serde_json::Value>,
}

fn ser_ids<S: serde::Serializer>(v: &[Vec<u8>], s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for id in v {
        seq.serialize_element(&component_id_display(id))?;
    }
    seq.end()
}

pub async fn device_view(store: &Store, device: DeviceRecord) -> Result<DeviceView> {
    let installed = store.installed(device.id).await?;
    let assigned = store.assigned_to(&device).await?;
    let claims = device
        .claims
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok());
    Ok(DeviceView {
        device,
        installed,
        assigned,
        claims,
    })
}

/// Finds a device by numeric id or hex kid.
pub async fn find_device(store: &Store, spec: &str) -> Result<DeviceRecord> {
    if let Ok(id) = spec.parse::<i64>() {
        return Ok(store.device_by_id(id).await?);
    }
    let kid = hex::decode(spec).map_err(|_| {
        OpsError::Invalid(format!(
            "device {spec:?}: expected a numeric id or a hex key id"
        ))
    })?;
    store
        .device_by_kid(&kid)
        .await?
        .ok_or_else(|| OpsError::Store(StoreError::NotFound(format!("device with key id {spec}"))))
}
