//! Records the TAM keeps: catalog entries, devices, policy, sessions, audit. Plain data shared
//! by the storage adapter, the session core and the admin surfaces.

use alloc::{format, string::String, string::ToString, vec::Vec};

use serde::Serialize;

/// A SUIT component identifier (array of bstr), the unit TEEP names TCs by: teep-cbor's one
/// type. Records keep it encoded ([`ComponentId::encode`], deterministic): the storage key the
/// database compares bytewise.
pub use teep_cbor::ComponentId;

/// Writes a CBOR head (major type and argument) in its shortest form.
pub use teep_cbor::write_head as cbor_head;

/// The text form of a stored (encoded) component id, for views: [`ComponentId`]'s `Display`,
/// or the bytes in hex if they are not one.
pub fn component_id_display(encoded: &[u8]) -> String {
    match ComponentId::decode(encoded) {
        Ok(id) => id.to_string(),
        Err(_) => hex::encode(encoded),
    }
}

/// A catalog entry to insert.
#[derive(Clone, Debug)]
pub struct NewTc {
    pub name: String,
    /// Encoded component id of the TC (`...,'ta'`): what tc-list and requested-tc-list name.
    pub component_id: Vec<u8>,
    /// Encoded manifest component id (`...,'suit'`): what unneeded-manifest-list names.
    pub manifest_component_id: Option<Vec<u8>>,
    pub sequence: u64,
    /// The signed SUIT envelope, untagged, delivered as is.
    pub envelope: Vec<u8>,
    pub payload_digest: Option<Vec<u8>>,
    pub signer_kid: Option<Vec<u8>>,
    /// What its manifest depends on (trust-domains suit-dependencies), each resolved to the
    /// catalog TC that carries the dependency manifest.
    pub dependencies: Vec<TcDependency>,
}

/// One dependency of a catalog TC: a SUIT dependency of its manifest (draft-ietf-suit-trust-
/// domains, suit-dependencies) and the catalog TC it resolved to when the manifest was added.
/// Policy sends that TC ahead of the dependent to a device that lacks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TcDependency {
    /// Encoded component id of the catalog TC carrying the dependency manifest (`...,'ta'`).
    #[serde(
        serialize_with = "ser_component_id",
        deserialize_with = "de_component_id"
    )]
    pub component_id: Vec<u8>,
    /// Encoded dependency-prefix: where the dependency manifest is stored (`...,'suit'`).
    #[serde(
        serialize_with = "ser_opt_component_id",
        deserialize_with = "de_opt_component_id"
    )]
    pub manifest_component_id: Option<Vec<u8>>,
    /// The dependency's manifest digest (encoded SUIT_Digest) the dependent pins, if it sets one.
    #[serde(serialize_with = "ser_opt_hex", deserialize_with = "de_opt_hex")]
    pub digest: Option<Vec<u8>>,
    /// Where the dependent's dependency-resolution fetches the dependency manifest from.
    pub uri: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TcRecord {
    pub id: i64,
    pub name: String,
    #[serde(serialize_with = "ser_component_id")]
    pub component_id: Vec<u8>,
    #[serde(serialize_with = "ser_opt_component_id")]
    pub manifest_component_id: Option<Vec<u8>>,
    pub sequence: u64,
    #[serde(skip)]
    pub envelope: Vec<u8>,
    /// The SUIT_Digest `envelope`'s authentication wrapper signs: what a device names the
    /// manifest by in its Evidence's `manifests` claim (TEEP-26 §5, a SUIT_Reference). Set
    /// by the adapter when it loads the catalog (teep-tam: once per policy snapshot), never
    /// per exchange; `None`: attested digests cannot identify this TC.
    #[serde(skip)]
    pub manifest_digest: Option<teep_cbor::SuitDigest>,
    #[serde(serialize_with = "ser_opt_hex")]
    pub payload_digest: Option<Vec<u8>>,
    #[serde(serialize_with = "ser_opt_hex")]
    pub signer_kid: Option<Vec<u8>>,
    pub created_at: i64,
    /// What it depends on; sent before it to a device that lacks them.
    pub dependencies: Vec<TcDependency>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Known key, not yet attested (or added by an administrator).
    Registered,
    /// Last attestation passed.
    Attested,
    /// Last attestation failed: the device is marked until it attests again.
    AttestationFailed,
}

impl DeviceStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            DeviceStatus::Registered => "registered",
            DeviceStatus::Attested => "attested",
            DeviceStatus::AttestationFailed => "attestation_failed",
        }
    }
    pub fn parse(s: &str) -> DeviceStatus {
        match s {
            "attested" => DeviceStatus::Attested,
            "attestation_failed" => DeviceStatus::AttestationFailed,
            _ => DeviceStatus::Registered,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct NewDevice {
    pub name: Option<String>,
    /// RFC 9679 thumbprint of the TEEP signing key.
    pub kid: Vec<u8>,
    /// COSE_Key of the TEEP signing key.
    pub teep_key: Vec<u8>,
    /// COSE_Key of the attestation key when it differs from the TEEP key.
    pub attest_key: Option<Vec<u8>>,
    pub tags: Vec<String>,
}

impl NewDevice {
    /// The record of the row storage inserts for this device under `id` at `now`: known
    /// key, not yet attested. (The step that enrolled it also writes its device changes
    /// over the row; the record leaves them out.)
    pub fn into_record(self, id: i64, now: i64) -> DeviceRecord {
        DeviceRecord {
            id,
            name: self.name,
            kid: self.kid,
            teep_key: self.teep_key,
            attest_key: self.attest_key,
            suite_alg: None,
            status: DeviceStatus::Registered,
            status_detail: None,
            ueid: None,
            claims: None,
            created_at: now,
            last_seen: Some(now),
            tags: self.tags,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceRecord {
    pub id: i64,
    pub name: Option<String>,
    #[serde(serialize_with = "ser_hex")]
    pub kid: Vec<u8>,
    #[serde(skip)]
    pub teep_key: Vec<u8>,
    #[serde(skip)]
    pub attest_key: Option<Vec<u8>>,
    pub suite_alg: Option<i64>,
    pub status: DeviceStatus,
    pub status_detail: Option<String>,
    #[serde(serialize_with = "ser_opt_hex")]
    pub ueid: Option<Vec<u8>>,
    /// Last accepted attestation claims as JSON text.
    #[serde(skip)]
    pub claims: Option<String>,
    pub created_at: i64,
    pub last_seen: Option<i64>,
    pub tags: Vec<String>,
}

/// Why a TC is on a device: what [`InstalledTc::origin`] and an outstanding Update record.
/// Stored as text ([`TcOrigin::as_str`]); in JSON by the same names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TcOrigin {
    /// Assigned by policy: it leaves when the assignment goes.
    Policy,
    /// Asked for in requested-tc-list.
    Request,
    /// Found in the device's tc-list without the TAM having sent it.
    Device,
    /// Sent because a TC sent with it depends on it (trust-domains suit-dependencies): kept
    /// while the device holds it, never removed by unassigning.
    Dependency,
}

impl TcOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            TcOrigin::Policy => "policy",
            TcOrigin::Request => "request",
            TcOrigin::Device => "device",
            TcOrigin::Dependency => "dependency",
        }
    }

    /// Reads a stored origin; anything but the three names this TAM writes is corrupt.
    pub fn from_stored(s: &str) -> Result<TcOrigin, CorruptRecord> {
        match s {
            "policy" => Ok(TcOrigin::Policy),
            "request" => Ok(TcOrigin::Request),
            "device" => Ok(TcOrigin::Device),
            "dependency" => Ok(TcOrigin::Dependency),
            other => Err(CorruptRecord::Origin {
                value: other.to_string(),
            }),
        }
    }
}

impl core::fmt::Display for TcOrigin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored record holds what this TAM never writes. The core does not guess what it meant
/// (a corrupt outstanding Update read as "installed nothing" would lose what the device
/// holds): the step fails as the TAM's own error.
#[derive(Debug, thiserror::Error)]
pub enum CorruptRecord {
    #[error("stored holding: origin {value:?} is not policy, request, device or dependency")]
    Origin { value: String },
    #[error("stored session {token}: numbering {value:?} is not draft26 or legacy")]
    SessionNumbering { token: String, value: String },
    #[error("stored session {token}: pending update: {source}")]
    PendingUpdate {
        token: String,
        source: serde_json::Error,
    },
    #[error("manifest component id {encoded}: {source}")]
    ManifestComponentId {
        encoded: String,
        source: teep_cbor::Error,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstalledTc {
    #[serde(serialize_with = "ser_component_id")]
    pub component_id: Vec<u8>,
    pub sequence: Option<u64>,
    #[serde(serialize_with = "ser_opt_hex")]
    pub digest: Option<Vec<u8>>,
    /// Why it is there, as stored: a [`TcOrigin`] name (`policy`, `request` or `device`).
    /// Only `policy` entries leave on unassign.
    pub origin: String,
    #[serde(skip)]
    pub updated_at: i64,
}

/// Who a TC is assigned to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    All,
    Tag(String),
    Device(i64),
}

impl Target {
    pub fn parts(&self) -> (&'static str, String) {
        match self {
            Target::All => ("all", String::new()),
            Target::Tag(t) => ("tag", t.clone()),
            Target::Device(id) => ("device", id.to_string()),
        }
    }
    pub fn from_parts(kind: &str, value: String) -> Target {
        match kind {
            "tag" => Target::Tag(value),
            "device" => Target::Device(value.parse().unwrap_or(-1)),
            _ => Target::All,
        }
    }
    /// `all`, `tag:NAME` or `device:ID`.
    pub fn parse(s: &str) -> Result<Target, String> {
        if s == "all" {
            Ok(Target::All)
        } else if let Some(t) = s.strip_prefix("tag:") {
            if t.is_empty() {
                return Err("target tag: empty".into());
            }
            Ok(Target::Tag(t.to_string()))
        } else if let Some(d) = s.strip_prefix("device:") {
            d.parse()
                .map(Target::Device)
                .map_err(|_| format!("target {s:?}: device id must be an integer"))
        } else {
            Err(format!("target {s:?}: expected all, tag:NAME or device:ID"))
        }
    }
}

impl core::fmt::Display for Target {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Target::All => f.write_str("all"),
            Target::Tag(t) => write!(f, "tag:{t}"),
            Target::Device(d) => write!(f, "device:{d}"),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Assignment {
    pub id: i64,
    #[serde(serialize_with = "ser_component_id")]
    pub component_id: Vec<u8>,
    pub target: Target,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// A QueryRequest is outstanding.
    Query,
    /// An Update is outstanding.
    Update,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Query => "query",
            SessionKind::Update => "update",
        }
    }
    pub fn parse(s: &str) -> SessionKind {
        if s == "update" {
            SessionKind::Update
        } else {
            SessionKind::Query
        }
    }
}

/// One outstanding request (token) of the TAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub token: Vec<u8>,
    pub kind: SessionKind,
    pub device_kid: Option<Vec<u8>>,
    pub challenge: Option<Vec<u8>>,
    /// As stored: a [`teep_proto::Numbering`] name, "draft26" or "legacy".
    pub numbering: String,
    /// JSON of [`crate::session::PendingUpdate`]: what an outstanding Update carried, so
    /// Success can record it.
    pub pending: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub answered: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditEntry {
    pub at: i64,
    #[serde(serialize_with = "ser_opt_hex")]
    pub device_kid: Option<Vec<u8>>,
    #[serde(serialize_with = "ser_opt_hex")]
    pub token: Option<Vec<u8>>,
    pub message_type: String,
    /// The decoded message as JSON text. Written empty by the TEEP path, which stores
    /// `message` instead; the server's audit query fills it from there.
    pub summary: String,
    pub result: String,
    /// The TEEP message as received (COSE-signed CBOR).
    #[serde(skip)]
    pub message: Option<Vec<u8>>,
    /// Numbering `message` was read in.
    #[serde(skip)]
    pub numbering: Option<String>,
    /// The TEEP message the TAM answered with (an Update for a QueryResponse), as sent; `None`
    /// when it answered with no message. Kept so that a session reads back whole.
    #[serde(skip)]
    pub response: Option<Vec<u8>>,
    /// What was notable about the exchange, one line each: how the signer was found when the
    /// message named no key, and every deviation accepted (its Display form, code first).
    /// Empty for a conforming exchange with a kid.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

fn ser_hex<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}
fn ser_opt_hex<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&hex::encode(v)),
        None => s.serialize_none(),
    }
}
fn de_component_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    use serde::Deserialize;
    let text = String::deserialize(d)?;
    ComponentId::parse(&text)
        .map(|id| id.encode())
        .or_else(|_| hex::decode(&text))
        .map_err(|_| serde::de::Error::custom(format!("component id {text:?}")))
}
fn de_opt_component_id<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<u8>>, D::Error> {
    use serde::Deserialize;
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => ComponentId::parse(&text)
            .map(|id| Some(id.encode()))
            .or_else(|_| hex::decode(&text).map(Some))
            .map_err(|_| serde::de::Error::custom(format!("component id {text:?}"))),
    }
}
fn de_opt_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    use serde::Deserialize;
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => hex::decode(&text)
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("hex {text:?}"))),
    }
}
fn ser_component_id<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&component_id_display(v))
}
fn ser_opt_component_id<S: serde::Serializer>(
    v: &Option<Vec<u8>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&component_id_display(v)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_component_ids_display_in_the_one_text_form_or_hex() {
        let id = ComponentId::new(vec![
            b"TEEP-Device".to_vec(),
            b"SecureFS".to_vec(),
            vec![0x8d, 0x82, 0x57, 0x3a],
            b"ta".to_vec(),
        ]);
        let text = component_id_display(&id.encode());
        assert_eq!(text, "['TEEP-Device', 'SecureFS', h'8d82573a', 'ta']");
        assert_eq!(ComponentId::parse(&text).unwrap(), id);
        assert_eq!(component_id_display(&[0xff, 0x00]), "ff00");
    }

    #[test]
    fn target_parse_rejects_unknown_forms() {
        assert_eq!(Target::parse("all").unwrap(), Target::All);
        assert_eq!(Target::parse("tag:lab").unwrap(), Target::Tag("lab".into()));
        assert_eq!(Target::parse("device:4").unwrap(), Target::Device(4));
        assert!(Target::parse("device:x").is_err());
        assert!(Target::parse("everyone").is_err());
    }
}
