//! The TEE side of the TEEP device: the [`Tee`] trait and a software TEE ([`SoftwareTee`]).
//!
//! * [`Tee`]: device identity and keys (the TEEP key as a [`teep_cose::Signer`]), trust anchors
//!   kept sealed, a component store changed by atomic [`ComponentBatch`]es, and a TA runtime
//!   with a GlobalPlatform-like lifecycle (open session, invoke, close).
//! * [`SoftwareTee::open`]: the software backend. Sealed storage is AES-256-GCM under keys
//!   derived per namespace from a device root secret; the secret lives in a 0600 file in the
//!   state directory, because software has nowhere safer (see [`sealed`]).
//! * TAs are WebAssembly modules run by wasmi with fuel and memory limits and a small TA API
//!   ([`runtime`]); [`examples`] has `hello` and `counter`.
//!
//! This crate does not depend on the protocol crates: the Agent adapts the component store to
//! the SUIT processor's store trait.

mod attestation;
pub mod components;
pub mod endorsement;
pub mod error;
pub mod examples;
pub mod fsutil;
pub mod runtime;
pub mod sealed;
pub mod software;
pub mod tee;

pub use components::{
    ComponentBatch, ComponentId, ComponentInfo, ComponentLimits, ComponentOp, ManifestRecord,
};
pub use error::TeeError;
pub use runtime::{TaLimits, TaModule, TaRuntime};
pub use sealed::{SealedLimits, SealedOp, SealedStore};
pub use software::{ta_namespace, SoftwareTee, SoftwareTeeOptions};
pub use tee::{component_id, DeviceIdentity, SessionId, Tee, TrustAnchorKind};
