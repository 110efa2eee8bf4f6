//! Keys, COSE Key thumbprints, a pluggable crypto provider, COSE_Sign1 / COSE_Sign and EAT
//! claim sets: the cryptographic layer under TEEP (draft-ietf-teep-protocol-26) and SUIT.
//!
//! * [`Algorithm`] / [`KeyType`]: ESP256 (-9) and Ed25519 (-19) are emitted; ES256 (-7) and
//!   EdDSA (-8) from older peers are accepted (same math).
//! * [`PrivateKey`] / [`PublicKey`]: PEM (PKCS#8, SEC1, SPKI), JWK and COSE_Key, auto-detected
//!   on load; the RFC 9679 thumbprint is our `kid`.
//! * [`CryptoProvider`]: every primitive the TEEP crates use (signatures, SHA-256, HMAC,
//!   HKDF, P-256 ECDH, AES key wrap, AES-GCM, AES-CTR, randomness, key generation) behind a
//!   trait object (aws-lc-rs by default, RustCrypto as an alternative), with typed
//!   [`CryptoError`]s; [`Signer`] lets a hardware key store sign without exposing the private
//!   key.
//! * [`sign1`], [`sign`], [`open`], [`Opened::verify`]: COSE (RFC 9052) signing and checking.
//! * [`eat`]: EAT claims sets (RFC 9711) as Evidence and Attestation Results.
//! * [`encrypt`]: encrypted EATs and SUIT reports (COSE_Encrypt with an ECDH-ES+A128KW
//!   recipient, draft-ietf-teep-protocol-26 §8.2).
//!
//! # Features and `no_std`
//!
//! * `std` (default): key files ([`PrivateKey::load`]), operating-system randomness for the
//!   RustCrypto provider, faster P-256 signing (precomputed tables).
//! * `aws-lc-rs` (default, implies `std`): the aws-lc-rs provider, the default provider.
//! * `rust-crypto` (default): the pure-Rust provider; it works without `std`.
//! * `json` (default): JWK import and export, the JSON view of EAT claims.
//!
//! Without `std` the crate is `#![no_std]` and needs only `alloc`. There is no
//! operating-system generator then: key generation and every other use of randomness go
//! through the installed provider, so an embedder calls [`set_default_provider`] at start-up
//! with a provider whose `fill_random` draws from its hardware generator (for example
//! [`provider::RustCryptoProvider::with_random`]). Until then the built-in provider refuses
//! to produce random bytes.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod alg;
pub(crate) mod cbor;
mod cose;
pub mod eat;
pub mod encrypt;
mod error;
mod key;
pub mod provider;
mod signer;
pub mod x509;

pub use alg::{Algorithm, KeyType};
pub use cose::{
    open, open_with, open_with_limits, parameter_name, sign, sign1, sign1_detached,
    sign1_kid_unprotected, sign1_untagged, sign1_with_x5chain, sign_untagged, CoseKind,
    HeaderParameter, Limits, Opened, SignatureInfo,
};
pub use error::{CoseError, CryptoError, KeyError};
pub use key::{PrivateKey, PublicKey};
pub use provider::{default_provider, set_default_provider, CryptoProvider, HmacKey, RawSigner};
pub use signer::{Relabeled, Signer, SoftwareSigner};
/// Named deviations (re-exported from teep-cbor): what [`open_with`] records or refuses.
pub use teep_cbor::deviation;

/// SHA-256 through the default provider.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    default_provider().sha256(data)
}
