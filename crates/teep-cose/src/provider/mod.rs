//! Crypto behind a provider, in the manner of rustls' `CryptoProvider`: protocol code calls a
//! trait object, so aws-lc-rs (default, fastest ECDSA verify), RustCrypto (pure Rust, no C)
//! or a hardware-backed implementation can be chosen at run time without touching callers.
//!
//! Without the `std` feature there is no operating-system generator: randomness comes only
//! from the installed provider (see [`RustCryptoProvider::with_random`]).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicPtr, Ordering};

use zeroize::Zeroizing;

use crate::key::{PrivateKey, PublicKey};
use crate::{Algorithm, CoseError, CryptoError, KeyType};

#[cfg(feature = "aws-lc-rs")]
mod aws_lc;
#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
mod none;
#[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
mod rules;
#[cfg(feature = "rust-crypto")]
mod rust_crypto;

#[cfg(feature = "aws-lc-rs")]
pub use aws_lc::AwsLcProvider;
#[cfg(feature = "rust-crypto")]
pub use rust_crypto::{RandomFn, RustCryptoProvider};

/// A private-key operation prepared once (key parsed, tables built) and used many times.
pub trait RawSigner: Send + Sync {
    /// Signs `msg`; ECDSA signatures are raw `r || s` (64 bytes), Ed25519 64 bytes.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CoseError>;
}

/// An HMAC-SHA-256 key prepared once (its padded inner and outer states computed), for MACs
/// made many times under one key: the TAM's query tokens, four per exchange, would otherwise
/// re-key (two SHA-256 blocks) on every call.
pub trait HmacKey: Send + Sync {
    /// HMAC-SHA-256 (RFC 2104) of the concatenation of `parts`, without copying them together.
    fn sign(&self, parts: &[&[u8]]) -> [u8; 32];
}

/// Every cryptographic primitive the TEEP crates use: signatures, digests, MACs, key
/// derivation and agreement, key wrapping, authenticated encryption, randomness and key
/// generation. The built-in providers apply the same input rules (see each method), so they
/// accept and reject the same inputs with the same error texts.
pub trait CryptoProvider: Send + Sync + core::fmt::Debug {
    /// Short name, e.g. `aws-lc-rs` or `rustcrypto`.
    fn name(&self) -> &'static str;
    /// Prepares `key` for signing with `alg` (the caller has checked they match).
    fn signing_key(
        &self,
        key: &PrivateKey,
        alg: Algorithm,
    ) -> Result<Box<dyn RawSigner>, CoseError>;
    /// Verifies `sig` over `msg`. ECDSA signatures must be raw `r || s` (64 bytes).
    fn verify(
        &self,
        key: &PublicKey,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), CoseError>;
    /// SHA-256 of `data`.
    fn sha256(&self, data: &[u8]) -> [u8; 32];
    /// Fills `buf` from a cryptographically secure generator.
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), CryptoError>;

    /// HMAC-SHA-256 (RFC 2104) of `data` under `key` (any length).
    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> Result<[u8; 32], CryptoError>;
    /// Prepares `key` (any length) for many [`HmacKey::sign`] calls.
    fn hmac_sha256_key(&self, key: &[u8]) -> Result<Box<dyn HmacKey>, CryptoError>;
    /// Checks a full 32-byte HMAC-SHA-256 `tag` in constant time.
    fn hmac_sha256_verify(&self, key: &[u8], data: &[u8], tag: &[u8]) -> Result<(), CryptoError>;
    /// HKDF-Extract (RFC 5869) with SHA-256; an empty `salt` is HashLen zero bytes.
    fn hkdf_sha256_extract(
        &self,
        salt: &[u8],
        ikm: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError>;
    /// HKDF-Expand with SHA-256: fills `okm` (at most 255 × 32 bytes) from a `prk` of at
    /// least 32 bytes.
    fn hkdf_sha256_expand(
        &self,
        prk: &[u8],
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<(), CryptoError>;
    /// P-256 ECDH: the x-coordinate of `private` × `peer` (both must be P-256 keys).
    fn ecdh_p256(
        &self,
        private: &PrivateKey,
        peer: &PublicKey,
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError>;
    /// AES Key Wrap (RFC 3394) of `key` (a multiple of 8 bytes, at least 16) under a 16- or
    /// 32-byte `kek`; the result is 8 bytes longer.
    fn aes_key_wrap(&self, kek: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// Reverses [`CryptoProvider::aes_key_wrap`]; fails with
    /// [`CryptoError::Authentication`] if the integrity check fails (wrong KEK).
    fn aes_key_unwrap(&self, kek: &[u8], wrapped: &[u8])
        -> Result<Zeroizing<Vec<u8>>, CryptoError>;
    /// AES-GCM (AES-128 or AES-256 by key length) with a 96-bit nonce: returns
    /// `ciphertext || 16-byte tag`. The nonce must never repeat under one key.
    fn aes_gcm_seal(
        &self,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;
    /// Checks the tag of `ciphertext || tag` and returns the plaintext; a wrong key, nonce,
    /// AAD or changed byte is [`CryptoError::Authentication`].
    fn aes_gcm_open(
        &self,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;
    /// AES-CTR (NIST SP 800-38A section 6.5; COSE A128CTR / A256CTR, RFC 9459) with AES-128 or
    /// AES-256 by key length: XORs `data` in place with the keystream that starts at the
    /// counter block `iv` and increments it as one 128-bit big-endian integer. Encrypting and
    /// decrypting are the same call. CTR has no integrity check: the caller must authenticate
    /// the ciphertext or the plaintext (SUIT signs the payload's digest).
    fn aes_ctr(&self, key: &[u8], iv: &[u8; 16], data: &mut [u8]) -> Result<(), CryptoError>;

    /// X25519 (RFC 7748 §5): the u-coordinate of `scalar` (clamped as §5 says) times the
    /// u-coordinate `peer`. An all-zero result (a small-order `peer`) is refused, the check
    /// RFC 7748 §6.1 recommends.
    fn x25519(
        &self,
        scalar: &[u8; 32],
        peer: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError>;
    /// The X25519 public key (RFC 7748 §6.1) of `scalar`: the clamped scalar times u = 9.
    fn x25519_public(&self, scalar: &[u8; 32]) -> Result<[u8; 32], CryptoError>;
    /// ChaCha20-Poly1305 (RFC 8439 §2.8; COSE alg 24, RFC 9053 §4.3) under a 32-byte key and
    /// a 96-bit nonce: returns `ciphertext || 16-byte tag`. The nonce must never repeat under
    /// one key.
    fn chacha20_poly1305_seal(
        &self,
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;
    /// Checks the tag of `ciphertext || tag` and returns the plaintext; a wrong key, nonce,
    /// AAD or changed byte is [`CryptoError::Authentication`].
    fn chacha20_poly1305_open(
        &self,
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;

    /// HKDF (RFC 5869) with SHA-256: extract then expand into `okm`.
    fn hkdf_sha256(
        &self,
        salt: &[u8],
        ikm: &[u8],
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        let prk = self.hkdf_sha256_extract(salt, ikm)?;
        self.hkdf_sha256_expand(&prk[..], info, okm)
    }

    /// Generates a fresh key. The default draws the secret from
    /// [`CryptoProvider::fill_random`] (rejection sampling for P-256), so a provider with a
    /// hardware generator gets key generation without more code.
    fn generate_key(&self, kt: KeyType) -> Result<PrivateKey, CryptoError> {
        PrivateKey::from_random(kt, &mut |buf| self.fill_random(buf))
    }

    /// One-shot signing (prepares the key each call; keep a [`RawSigner`] for repeated use).
    fn sign(&self, key: &PrivateKey, alg: Algorithm, msg: &[u8]) -> Result<Vec<u8>, CoseError> {
        check_alg(alg, key.key_type())?;
        self.signing_key(key, alg)?.sign(msg)
    }
}

/// Checks that `alg` is supported and fits `kt`.
pub(crate) fn check_alg(alg: Algorithm, kt: KeyType) -> Result<(), CoseError> {
    match alg.key_type() {
        None => Err(CoseError::UnsupportedAlgorithm(alg.to_cose())),
        Some(k) if k != kt => Err(CoseError::KeyMismatch {
            alg: alg.name(),
            key: kt.name(),
        }),
        Some(_) => Ok(()),
    }
}

/// The aws-lc-rs provider (default).
#[cfg(feature = "aws-lc-rs")]
pub static AWS_LC_RS: AwsLcProvider = AwsLcProvider;
/// The RustCrypto provider (p256, ed25519-dalek, sha2), with operating-system randomness.
#[cfg(feature = "rust-crypto")]
pub static RUST_CRYPTO: RustCryptoProvider = RustCryptoProvider::new();

/// The provider in use until [`set_default_provider`] is called: aws-lc-rs, else RustCrypto,
/// else one that refuses every operation but hashing.
#[cfg(feature = "aws-lc-rs")]
static BUILT_IN: &dyn CryptoProvider = &AWS_LC_RS;
#[cfg(all(not(feature = "aws-lc-rs"), feature = "rust-crypto"))]
static BUILT_IN: &dyn CryptoProvider = &RUST_CRYPTO;
#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
static BUILT_IN: &dyn CryptoProvider = &none::NoProvider;

/// Every built-in provider compiled in.
static ALL: &[&dyn CryptoProvider] = &[
    #[cfg(feature = "aws-lc-rs")]
    &AWS_LC_RS,
    #[cfg(feature = "rust-crypto")]
    &RUST_CRYPTO,
];

/// Null until [`set_default_provider`]; then a leaked, never freed `&'static dyn` slot. A
/// lock-free cell because `no_std` has no lock; set once at start-up in practice.
static DEFAULT: AtomicPtr<&'static dyn CryptoProvider> = AtomicPtr::new(core::ptr::null_mut());

/// The process-wide provider: aws-lc-rs (or the only built-in one compiled in) unless
/// [`set_default_provider`] chose another.
pub fn default_provider() -> &'static dyn CryptoProvider {
    let slot = DEFAULT.load(Ordering::Acquire);
    if slot.is_null() {
        return BUILT_IN;
    }
    // SAFETY: a non-null pointer comes only from `Box::leak` in `set_default_provider`, is
    // never freed and is never written through, so it is valid for reads forever.
    unsafe { *slot }
}

/// Replaces the process-wide provider (for example with `&RUST_CRYPTO`, or a leaked hardware
/// provider). Objects already prepared with the previous one keep using it.
pub fn set_default_provider(p: &'static dyn CryptoProvider) {
    let slot: &'static mut &'static dyn CryptoProvider = Box::leak(Box::new(p));
    DEFAULT.store(slot, Ordering::Release);
}

/// Built-in provider by name: `aws-lc-rs` (or `aws-lc`) and `rustcrypto`, when compiled in.
pub fn by_name(name: &str) -> Option<&'static dyn CryptoProvider> {
    match name.to_ascii_lowercase().as_str() {
        #[cfg(feature = "aws-lc-rs")]
        "aws-lc-rs" | "aws-lc" | "awslc" => Some(&AWS_LC_RS),
        #[cfg(feature = "rust-crypto")]
        "rustcrypto" | "rust-crypto" => Some(&RUST_CRYPTO),
        _ => None,
    }
}

/// Built-in providers compiled in, for tests and benchmarks that cover each.
pub fn all() -> Vec<&'static dyn CryptoProvider> {
    ALL.to_vec()
}

#[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
fn sig_len_check(sig: &[u8]) -> Result<(), CoseError> {
    if sig.len() != 64 {
        return Err(CoseError::BadSignature("signature is not 64 bytes"));
    }
    Ok(())
}

#[cfg(all(test, feature = "aws-lc-rs", feature = "rust-crypto"))]
mod tests;
#[cfg(all(test, feature = "aws-lc-rs", feature = "rust-crypto"))]
mod tests_25519;
