//! SUIT for TEEP: model and codec of SUIT envelopes and manifests
//! (draft-ietf-suit-manifest-34…-37, trust-domains-12, firmware-encryption, suit-report),
//! authentication against TC-signer trust anchors, a sans-IO processor over a component
//! store, SUIT reports, payload decryption, and a builder for authors.
//!
//! * [`verify_envelope`]: authenticate (digest over the bstr-wrapped manifest, detached
//!   COSE_Sign1 / COSE_Sign / COSE_Mac0) before the manifest is parsed, then decode it.
//! * [`Processor`]: runs the update / invocation / uninstall procedures over
//!   [`ComponentStore`] and [`PayloadFetcher`]; stages all changes and commits once.
//! * [`SuitReport`]: what ran and where and why it failed.
//! * [`ManifestBuilder`]: builds and signs envelopes (TEEP Appendix E templates).
//!
//! Features: `std` (default) adds the file-backed `DirStore` and the dependencies' `std`
//! support; without it the crate is `no_std` + `alloc`, for TEEs without an operating
//! system. Every cryptographic operation (digests, signature and MAC checks, payload
//! decryption, randomness) goes through teep-cose's crypto provider, so this crate links no
//! crypto library of its own. `json` (default) adds the JSON views (`inspect::envelope_json`,
//! `inspect::sequence_json`, `SuitReport::to_json`).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod auth;
pub mod builder;
pub(crate) mod cbor;
pub mod codec;
#[cfg(feature = "std")]
pub mod dirstore;
pub mod encryption;
pub mod error;
pub mod inspect;
pub mod limits;
pub mod model;
pub mod mti;
pub mod processor;
pub mod report;
pub mod store;

pub use auth::{
    decode_envelope_lenient, decode_envelope_unverified, decode_envelope_unverified_with,
    verify_envelope, verify_envelope_with, verify_envelope_with_limits, Authenticator,
    TrustAnchors, VerifiedEnvelope,
};
pub use builder::{sign_manifest, BuildError, DependsOn, ManifestBuilder, PayloadSource};
#[cfg(feature = "std")]
pub use dirstore::DirStore;
pub use encryption::{decrypt_payload, decrypt_payload_with, DecryptionKeys};
pub use error::{AuthError, CryptoError, DecodeError, FetchError, ProcessError, StoreError};
pub use limits::Limits;
pub use model::{
    Command, CommandArg, CommandCode, CommandSequence, Common, ComponentId, Dependency, Digest,
    DigestAlgorithm, Envelope, IndexArg, Manifest, Parameter, Severable,
};
pub use processor::{DeviceIdentity, Invocation, Options, Outcome, Processor, Summary};
pub use report::{ReportReason, ReportResult, SuitRecord, SuitReport};
pub use store::{
    ComponentStore, ManifestRecord, MapFetcher, MemoryStore, NoFetcher, PayloadFetcher, StoreBatch,
};
/// Named deviations (re-exported from teep-cbor): what [`verify_envelope_with`] records.
pub use teep_cbor::deviation;
