//! The SUIT data model (draft-ietf-suit-manifest-37 with the trust-domains-12 extensions).
//!
//! Types mirror the CDDL: one Rust type per CDDL rule, registry values as enums with an
//! `Unknown` arm so a manifest from a newer draft can still be decoded and inspected.
//! Payload-sized fields are `bytes::Bytes` slices of the input buffer (no copies).

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

/// SUIT_Component_Identifier: a path of byte strings (teep-cbor's one type, with its
/// encoding and text form).
pub use teep_cbor::ComponentId;

/// Integer keys of SUIT_Envelope.
pub mod envelope_key {
    pub const AUTHENTICATION: i64 = 2;
    pub const MANIFEST: i64 = 3;
    pub const DEPENDENCY_RESOLUTION: i64 = 15;
    pub const PAYLOAD_FETCH: i64 = 16;
    pub const CANDIDATE_VERIFICATION: i64 = 18;
    pub const INSTALL: i64 = 20;
    pub const TEXT: i64 = 23;
}

/// Integer keys of SUIT_Manifest.
pub mod manifest_key {
    pub const VERSION: i64 = 1;
    pub const SEQUENCE_NUMBER: i64 = 2;
    pub const COMMON: i64 = 3;
    pub const REFERENCE_URI: i64 = 4;
    pub const MANIFEST_COMPONENT_ID: i64 = 5;
    pub const VALIDATE: i64 = 7;
    pub const LOAD: i64 = 8;
    pub const INVOKE: i64 = 9;
    pub const DEPENDENCY_RESOLUTION: i64 = 15;
    pub const PAYLOAD_FETCH: i64 = 16;
    pub const CANDIDATE_VERIFICATION: i64 = 18;
    pub const INSTALL: i64 = 20;
    pub const TEXT: i64 = 23;
    pub const UNINSTALL: i64 = 24;
}

/// SUIT tag for a tagged envelope.
pub const SUIT_ENVELOPE_TAG: u64 = 107;
/// SUIT tag for a tagged manifest.
pub const SUIT_MANIFEST_TAG: u64 = 1070;

/// SUIT_Digest algorithm identifiers (COSE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha256,
    Shake128,
    Sha384,
    Sha512,
    Shake256,
    Unknown(i64),
}

impl DigestAlgorithm {
    pub fn from_cose(v: i64) -> Self {
        match v {
            -16 => Self::Sha256,
            -18 => Self::Shake128,
            -43 => Self::Sha384,
            -44 => Self::Sha512,
            -45 => Self::Shake256,
            n => Self::Unknown(n),
        }
    }
    pub fn to_cose(self) -> i64 {
        match self {
            Self::Sha256 => -16,
            Self::Shake128 => -18,
            Self::Sha384 => -43,
            Self::Sha512 => -44,
            Self::Shake256 => -45,
            Self::Unknown(n) => n,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Shake128 => "SHAKE128",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
            Self::Shake256 => "SHAKE256",
            Self::Unknown(_) => "unknown",
        }
    }
}

/// Running total behind [`hashed_bytes`]. Targets without 64-bit atomics (some 32-bit
/// microcontrollers) count in a `usize`.
#[cfg(target_has_atomic = "64")]
mod hashed_counter {
    use core::sync::atomic::{AtomicU64, Ordering};

    static HASHED_BYTES: AtomicU64 = AtomicU64::new(0);

    pub(super) fn add(len: usize) {
        HASHED_BYTES.fetch_add(len as u64, Ordering::Relaxed);
    }

    pub(super) fn total() -> u64 {
        HASHED_BYTES.load(Ordering::Relaxed)
    }
}

#[cfg(not(target_has_atomic = "64"))]
mod hashed_counter {
    use core::sync::atomic::{AtomicUsize, Ordering};

    static HASHED_BYTES: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn add(len: usize) {
        HASHED_BYTES.fetch_add(len, Ordering::Relaxed);
    }

    pub(super) fn total() -> u64 {
        HASHED_BYTES.load(Ordering::Relaxed) as u64
    }
}

/// Total bytes this process has hashed through [`Digest::sha256`]; lets tests and benchmarks
/// show that a payload is hashed once.
pub fn hashed_bytes() -> u64 {
    hashed_counter::total()
}

/// SUIT_Digest = [algorithm-id, bytes].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    pub algorithm: DigestAlgorithm,
    pub bytes: Vec<u8>,
}

/// The same SUIT_Digest as the crates that do not read SUIT carry it (a SUIT_Reference in
/// the EAT `manifests` claim, TEEP-26 §5).
impl From<&Digest> for teep_cbor::SuitDigest {
    fn from(d: &Digest) -> Self {
        teep_cbor::SuitDigest {
            algorithm: d.algorithm.to_cose(),
            bytes: d.bytes.clone(),
        }
    }
}

impl Digest {
    /// SHA-256 digest of `data`, by the default crypto provider.
    pub fn sha256(data: &[u8]) -> Self {
        hashed_counter::add(data.len());
        Digest {
            algorithm: DigestAlgorithm::Sha256,
            bytes: teep_cose::sha256(data).to_vec(),
        }
    }
}

/// SUIT parameters (SUIT_Parameters map entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parameter {
    /// 1: RFC 4122 UUID (16 bytes) or a tagged PEN (kept raw in `Unknown` then).
    VendorId(Bytes),
    /// 2: UUID.
    ClassId(Bytes),
    /// 3: bstr .cbor SUIT_Digest.
    ImageDigest(Digest),
    /// 5
    ComponentSlot(u64),
    /// 12
    StrictOrder(bool),
    /// 13
    SoftFailure(bool),
    /// 14
    ImageSize(u64),
    /// 18: content written by directive-write or compared by check-content.
    Content(Bytes),
    /// 19: bstr .cbor SUIT_Encryption_Info (COSE_Encrypt / COSE_Encrypt0), kept encoded.
    EncryptionInfo(Bytes),
    /// 21
    Uri(String),
    /// 22
    SourceComponent(u64),
    /// 23
    InvokeArgs(Bytes),
    /// 24: UUID.
    DeviceId(Bytes),
    /// 25: bstr (application specific).
    FetchArguments(Bytes),
    /// Any other label (or a known label with an unexpected type), raw CBOR of the value.
    Unknown { label: i64, raw: Bytes },
}

impl Parameter {
    pub fn label(&self) -> i64 {
        match self {
            Parameter::VendorId(_) => 1,
            Parameter::ClassId(_) => 2,
            Parameter::ImageDigest(_) => 3,
            Parameter::ComponentSlot(_) => 5,
            Parameter::StrictOrder(_) => 12,
            Parameter::SoftFailure(_) => 13,
            Parameter::ImageSize(_) => 14,
            Parameter::Content(_) => 18,
            Parameter::EncryptionInfo(_) => 19,
            Parameter::Uri(_) => 21,
            Parameter::SourceComponent(_) => 22,
            Parameter::InvokeArgs(_) => 23,
            Parameter::DeviceId(_) => 24,
            Parameter::FetchArguments(_) => 25,
            Parameter::Unknown { label, .. } => *label,
        }
    }

    /// The parameter's name (teep-cbor's one list, shared with teep-proto), or
    /// `unknown-parameter`.
    pub fn name(label: i64) -> &'static str {
        teep_cbor::suit_parameter_name(label).unwrap_or("unknown-parameter")
    }
}

/// SUIT commands: conditions and directives (core + trust-domains).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandCode {
    VendorIdentifier,
    ClassIdentifier,
    ImageMatch,
    ComponentSlot,
    CheckContent,
    DependencyIntegrity,
    IsDependency,
    ProcessDependency,
    SetComponentIndex,
    Abort,
    TryEach,
    Write,
    SetParameters,
    OverrideParameters,
    Fetch,
    Copy,
    Invoke,
    DeviceIdentifier,
    Swap,
    RunSequence,
    Unlink,
    Unknown(i64),
}

impl CommandCode {
    pub fn from_cbor(v: i64) -> Self {
        use CommandCode::*;
        match v {
            1 => VendorIdentifier,
            2 => ClassIdentifier,
            3 => ImageMatch,
            5 => ComponentSlot,
            6 => CheckContent,
            7 => DependencyIntegrity,
            8 => IsDependency,
            11 => ProcessDependency,
            12 => SetComponentIndex,
            14 => Abort,
            15 => TryEach,
            18 => Write,
            19 => SetParameters,
            20 => OverrideParameters,
            21 => Fetch,
            22 => Copy,
            23 => Invoke,
            24 => DeviceIdentifier,
            31 => Swap,
            32 => RunSequence,
            33 => Unlink,
            n => Unknown(n),
        }
    }

    pub fn to_cbor(self) -> i64 {
        use CommandCode::*;
        match self {
            VendorIdentifier => 1,
            ClassIdentifier => 2,
            ImageMatch => 3,
            ComponentSlot => 5,
            CheckContent => 6,
            DependencyIntegrity => 7,
            IsDependency => 8,
            ProcessDependency => 11,
            SetComponentIndex => 12,
            Abort => 14,
            TryEach => 15,
            Write => 18,
            SetParameters => 19,
            OverrideParameters => 20,
            Fetch => 21,
            Copy => 22,
            Invoke => 23,
            DeviceIdentifier => 24,
            Swap => 31,
            RunSequence => 32,
            Unlink => 33,
            Unknown(n) => n,
        }
    }

    pub fn name(self) -> &'static str {
        use CommandCode::*;
        match self {
            VendorIdentifier => "condition-vendor-identifier",
            ClassIdentifier => "condition-class-identifier",
            ImageMatch => "condition-image-match",
            ComponentSlot => "condition-component-slot",
            CheckContent => "condition-check-content",
            DependencyIntegrity => "condition-dependency-integrity",
            IsDependency => "condition-is-dependency",
            ProcessDependency => "directive-process-dependency",
            SetComponentIndex => "directive-set-component-index",
            Abort => "condition-abort",
            TryEach => "directive-try-each",
            Write => "directive-write",
            SetParameters => "directive-set-parameters",
            OverrideParameters => "directive-override-parameters",
            Fetch => "directive-fetch",
            Copy => "directive-copy",
            Invoke => "directive-invoke",
            DeviceIdentifier => "condition-device-identifier",
            Swap => "directive-swap",
            RunSequence => "directive-run-sequence",
            Unlink => "directive-unlink",
            Unknown(_) => "unknown-command",
        }
    }
}

/// Argument of directive-set-component-index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexArg {
    One(u64),
    All,
    List(Vec<u64>),
}

/// The argument of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandArg {
    /// Conditions and most directives: SUIT_Rep_Policy bitmap.
    ReportingPolicy(u64),
    /// directive-set-component-index.
    ComponentIndex(IndexArg),
    /// directive-set-parameters / override-parameters.
    Parameters(Vec<Parameter>),
    /// directive-try-each: alternatives, and whether a trailing nil allows "none matched".
    TryEach {
        alternatives: Vec<CommandSequence>,
        allow_none: bool,
    },
    /// directive-run-sequence.
    Sequence(CommandSequence),
    /// Unknown command or unexpected argument type: raw CBOR of the argument.
    Raw(Bytes),
}

/// One command: code, argument and byte offset inside its sequence (for reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub code: CommandCode,
    pub arg: CommandArg,
    /// Offset of the command code in the encoded sequence.
    pub offset: usize,
}

/// SUIT_Command_Sequence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandSequence {
    pub commands: Vec<Command>,
}

/// A severable member: present in the manifest, or replaced by its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Severable<T> {
    Present(T),
    /// Severed: the manifest holds the digest; `restored` is set when the envelope carried the
    /// member and its digest matched.
    Severed {
        digest: Digest,
        restored: Option<T>,
    },
}

impl<T> Severable<T> {
    /// The member, if present or restored from the envelope.
    pub fn get(&self) -> Option<&T> {
        match self {
            Severable::Present(t) => Some(t),
            Severable::Severed { restored, .. } => restored.as_ref(),
        }
    }
}

/// Metadata of one dependency (trust-domains SUIT_Dependency_Metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Component index this dependency occupies.
    pub index: u64,
    /// dependency-prefix (1): where the dependency manifest is stored.
    pub prefix: Option<ComponentId>,
    /// Other metadata members, raw.
    pub unknown: Vec<(i64, Bytes)>,
}

/// SUIT_Common.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Common {
    pub dependencies: Vec<Dependency>,
    pub components: Vec<ComponentId>,
    pub shared_sequence: Option<CommandSequence>,
    pub unknown: Vec<(i64, Bytes)>,
}

/// SUIT_Manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub version: u64,
    pub sequence_number: u64,
    pub common: Common,
    pub reference_uri: Option<String>,
    pub manifest_component_id: Option<ComponentId>,
    pub validate: Option<CommandSequence>,
    pub load: Option<CommandSequence>,
    pub invoke: Option<CommandSequence>,
    pub uninstall: Option<CommandSequence>,
    pub dependency_resolution: Option<Severable<CommandSequence>>,
    pub payload_fetch: Option<Severable<CommandSequence>>,
    pub candidate_verification: Option<Severable<CommandSequence>>,
    pub install: Option<Severable<CommandSequence>>,
    /// SUIT_Text_Map, raw CBOR (shown by inspect; never interpreted by the processor).
    pub text: Option<Severable<Bytes>>,
    /// Members from a newer draft, raw.
    pub unknown: Vec<(i64, Bytes)>,
}

impl Manifest {
    /// Index of the dependency with component index `i`, if any.
    pub fn dependency(&self, i: u64) -> Option<&Dependency> {
        self.common.dependencies.iter().find(|d| d.index == i)
    }

    /// Component identifier at index `i`: a listed component, or a dependency prefix.
    pub fn component_id(&self, i: u64) -> Option<ComponentId> {
        if let Some(dep) = self.dependency(i) {
            if let Some(p) = &dep.prefix {
                return Some(p.clone());
            }
        }
        usize::try_from(i)
            .ok()
            .and_then(|i| self.common.components.get(i).cloned())
    }

    /// Number of addressable component indices (components plus dependencies past the end).
    pub fn component_slots(&self) -> u64 {
        let max_dep = self
            .common
            .dependencies
            .iter()
            .map(|d| d.index.saturating_add(1))
            .max()
            .unwrap_or(0);
        (self.common.components.len() as u64).max(max_dep)
    }

    /// Vendor and class identifiers from the shared sequence (first override/set found).
    pub fn shared_parameter(&self, label: i64) -> Option<&Parameter> {
        self.common.shared_sequence.as_ref().and_then(|s| {
            s.commands.iter().find_map(|c| match &c.arg {
                CommandArg::Parameters(ps) => ps.iter().find(|p| p.label() == label),
                _ => None,
            })
        })
    }
}

/// SUIT_Authentication: digest of the manifest and COSE authentication blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub digest: Digest,
    /// The encoded SUIT_Digest: the detached COSE payload (the Sig_structure carries it as a
    /// bstr, hence "bstr-wrapped digest").
    pub digest_cbor: Bytes,
    /// Each block: encoded COSE_Sign1 / COSE_Sign / COSE_Mac0 (tagged or not).
    pub blocks: Vec<Bytes>,
}

/// A decoded SUIT_Envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub tagged: bool,
    pub authentication: Authentication,
    /// Manifest as it appears at key 3 including its bstr header (what the digest covers).
    pub manifest_bstr: Bytes,
    pub manifest: Manifest,
    /// Integrated payloads and integrated dependencies, by text key (e.g. `"#tc"`).
    pub integrated: Vec<(String, Bytes)>,
    /// Severed members carried by the envelope, by envelope key.
    pub severed: Vec<(i64, Bytes)>,
    /// Unknown integer-keyed envelope members, raw.
    pub unknown: Vec<(i64, Bytes)>,
    /// The whole envelope.
    pub raw: Bytes,
}

impl Envelope {
    /// Integrated payload or dependency for a URI fragment like `#tc` (key with or without `#`).
    pub fn integrated(&self, key: &str) -> Option<&Bytes> {
        self.integrated
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Manifest component id (where the manifest is stored; TEEP deletes by it).
    pub fn manifest_component_id(&self) -> Option<&ComponentId> {
        self.manifest.manifest_component_id.as_ref()
    }

    /// Manifest sequence number.
    pub fn sequence_number(&self) -> u64 {
        self.manifest.sequence_number
    }

    /// Component identifiers listed in the manifest.
    pub fn component_ids(&self) -> &[ComponentId] {
        &self.manifest.common.components
    }

    /// The manifest digest from the authentication wrapper (also the SUIT_Reference digest).
    pub fn digest(&self) -> &Digest {
        &self.authentication.digest
    }
}
