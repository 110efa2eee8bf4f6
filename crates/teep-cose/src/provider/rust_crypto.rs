//! The RustCrypto provider: pure Rust (p256 0.14, ed25519-dalek 3, sha2 0.11), usable without
//! `std` when given a random source.

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use super::rules::{self, GCM_TAG_LEN};
use super::{check_alg, sig_len_check, CryptoProvider, HmacKey, RawSigner};
use crate::key::{PrivateKey, PublicKey};
use crate::{Algorithm, CoseError, CryptoError, KeyType};

/// Fills a buffer from an entropy source, e.g. a hardware generator on a `no_std` target.
pub type RandomFn = fn(&mut [u8]) -> Result<(), CryptoError>;

/// RustCrypto: pure Rust (p256 0.14, ed25519-dalek 3, sha2 0.11); RFC 6979 deterministic ECDSA.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoProvider {
    /// `None`: the operating system's generator (`std` only).
    random: Option<RandomFn>,
}

impl RustCryptoProvider {
    /// Randomness from the operating system; without the `std` feature `fill_random` fails.
    pub const fn new() -> Self {
        Self { random: None }
    }

    /// Randomness from `random`: how a `no_std` embedder supplies its hardware generator, e.g.
    /// `static P: RustCryptoProvider = RustCryptoProvider::with_random(trng_fill);` and then
    /// `set_default_provider(&P)` at start-up.
    pub const fn with_random(random: RandomFn) -> Self {
        Self {
            random: Some(random),
        }
    }
}

struct RcEcdsa(p256::ecdsa::SigningKey);
struct RcEd25519(ed25519_dalek::SigningKey);

impl RawSigner for RcEcdsa {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CoseError> {
        use p256::ecdsa::signature::Signer as _;
        let sig: p256::ecdsa::Signature = self
            .0
            .try_sign(msg)
            .map_err(|e| CoseError::Crypto(format!("p256 signing failed: {e}")))?;
        Ok(sig.to_bytes().to_vec())
    }
}

impl RawSigner for RcEd25519 {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CoseError> {
        use ed25519_dalek::Signer as _;
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

impl CryptoProvider for RustCryptoProvider {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn signing_key(
        &self,
        key: &PrivateKey,
        alg: Algorithm,
    ) -> Result<Box<dyn RawSigner>, CoseError> {
        check_alg(alg, key.key_type())?;
        let secret = key.secret_bytes();
        match key.key_type() {
            KeyType::P256 => p256::ecdsa::SigningKey::from_slice(&secret)
                .map(|k| Box::new(RcEcdsa(k)) as Box<dyn RawSigner>)
                .map_err(|e| CoseError::Crypto(format!("p256 rejected key: {e}"))),
            KeyType::Ed25519 => {
                let seed: [u8; 32] = secret[..]
                    .try_into()
                    .map_err(|_| CoseError::Crypto("Ed25519 seed is not 32 bytes".into()))?;
                Ok(Box::new(RcEd25519(ed25519_dalek::SigningKey::from_bytes(
                    &seed,
                ))))
            }
        }
    }

    fn verify(
        &self,
        key: &PublicKey,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), CoseError> {
        check_alg(alg, key.key_type())?;
        sig_len_check(sig)?;
        let bad = || CoseError::BadSignature(alg.name());
        match key.key_type() {
            KeyType::P256 => {
                use p256::ecdsa::signature::Verifier as _;
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key.raw())
                    .map_err(|_| CoseError::Crypto("invalid P-256 public key".into()))?;
                let s = p256::ecdsa::Signature::from_slice(sig).map_err(|_| bad())?;
                vk.verify(msg, &s).map_err(|_| bad())
            }
            KeyType::Ed25519 => {
                let pk: [u8; 32] = key
                    .raw()
                    .try_into()
                    .map_err(|_| CoseError::Crypto("invalid Ed25519 public key".into()))?;
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk)
                    .map_err(|_| CoseError::Crypto("invalid Ed25519 public key".into()))?;
                let s: [u8; 64] = sig.try_into().map_err(|_| bad())?;
                vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&s))
                    .map_err(|_| bad())
            }
        }
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(data).into()
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        match self.random {
            Some(random) => random(buf),
            None => os_random(buf),
        }
    }

    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> Result<[u8; 32], CryptoError> {
        use hmac::Mac as _;
        let mut mac = hmac_key(key)?;
        mac.update(data);
        Ok(mac.finalize().into_bytes().into())
    }

    fn hmac_sha256_key(&self, key: &[u8]) -> Result<Box<dyn HmacKey>, CryptoError> {
        Ok(Box::new(RustHmacKey(hmac_key(key)?)))
    }

    fn hmac_sha256_verify(&self, key: &[u8], data: &[u8], tag: &[u8]) -> Result<(), CryptoError> {
        use hmac::Mac as _;
        let mut mac = hmac_key(key)?;
        mac.update(data);
        mac.verify_slice(tag).map_err(|_| rules::hmac_mismatch())
    }

    fn hkdf_sha256_extract(
        &self,
        salt: &[u8],
        ikm: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let (prk, _) = hkdf::Hkdf::<sha2::Sha256>::extract(Some(salt), ikm);
        Ok(Zeroizing::new(prk.into()))
    }

    fn hkdf_sha256_expand(
        &self,
        prk: &[u8],
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        rules::hkdf_expand(prk, okm)?;
        hkdf::Hkdf::<sha2::Sha256>::from_prk(prk)
            .map_err(|_| rules::failed("HKDF-SHA-256"))?
            .expand(info, okm)
            .map_err(|_| rules::failed("HKDF-SHA-256"))
    }

    fn ecdh_p256(
        &self,
        private: &PrivateKey,
        peer: &PublicKey,
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        rules::ecdh_keys(private, peer)?;
        let sk = p256::SecretKey::from_slice(&private.secret_bytes())
            .map_err(|_| rules::failed("ECDH"))?;
        let pk = p256::PublicKey::from_sec1_bytes(peer.raw()).map_err(|_| rules::failed("ECDH"))?;
        let shared = p256::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(shared.raw_secret_bytes());
        Ok(out)
    }

    fn aes_key_wrap(&self, kek: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        use aes_kw::KeyInit as _;
        rules::aes_key("AES key wrap", kek)?;
        rules::key_wrap_input(key)?;
        let mut out = alloc::vec![0u8; key.len() + 8];
        let failed = |_| rules::failed("AES key wrap");
        if kek.len() == 16 {
            aes_kw::KwAes128::new_from_slice(kek)
                .map_err(failed)?
                .wrap_key(key, &mut out)
                .map_err(|_| rules::failed("AES key wrap"))?;
        } else {
            aes_kw::KwAes256::new_from_slice(kek)
                .map_err(failed)?
                .wrap_key(key, &mut out)
                .map_err(|_| rules::failed("AES key wrap"))?;
        }
        Ok(out)
    }

    fn aes_key_unwrap(
        &self,
        kek: &[u8],
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        use aes_kw::KeyInit as _;
        rules::aes_key("AES key unwrap", kek)?;
        rules::key_unwrap_input(wrapped)?;
        let mut out = Zeroizing::new(alloc::vec![0u8; wrapped.len() - 8]);
        let failed = |_| rules::failed("AES key unwrap");
        let unwrapped = if kek.len() == 16 {
            aes_kw::KwAes128::new_from_slice(kek)
                .map_err(failed)?
                .unwrap_key(wrapped, &mut out)
                .is_ok()
        } else {
            aes_kw::KwAes256::new_from_slice(kek)
                .map_err(failed)?
                .unwrap_key(wrapped, &mut out)
                .is_ok()
        };
        if !unwrapped {
            return Err(rules::key_unwrap_failed());
        }
        Ok(out)
    }

    fn aes_gcm_seal(
        &self,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        use aes_gcm::aead::AeadInOut as _;
        rules::aes_key("AES-GCM", key)?;
        let nonce = aes_gcm::Nonce::from(*nonce);
        let mut out = Vec::with_capacity(plaintext.len() + GCM_TAG_LEN);
        out.extend_from_slice(plaintext);
        let tag = match Gcm::new(key)? {
            Gcm::Aes128(c) => c.encrypt_inout_detached(&nonce, aad, out.as_mut_slice().into()),
            Gcm::Aes256(c) => c.encrypt_inout_detached(&nonce, aad, out.as_mut_slice().into()),
        }
        .map_err(|_| rules::failed("AES-GCM"))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    fn aes_gcm_open(
        &self,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        use aes_gcm::aead::AeadInOut as _;
        rules::aes_key("AES-GCM", key)?;
        rules::aead_sealed(rules::AES_GCM, sealed)?;
        let nonce = aes_gcm::Nonce::from(*nonce);
        let (body, tag) = sealed.split_at(sealed.len() - GCM_TAG_LEN);
        let tag = aes_gcm::Tag::try_from(tag).map_err(|_| rules::failed("AES-GCM"))?;
        let mut out = body.to_vec();
        match Gcm::new(key)? {
            Gcm::Aes128(c) => {
                c.decrypt_inout_detached(&nonce, aad, out.as_mut_slice().into(), &tag)
            }
            Gcm::Aes256(c) => {
                c.decrypt_inout_detached(&nonce, aad, out.as_mut_slice().into(), &tag)
            }
        }
        .map_err(|_| rules::aead_open_failed(rules::AES_GCM))?;
        Ok(out)
    }

    fn x25519(
        &self,
        scalar: &[u8; 32],
        peer: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let shared = Zeroizing::new(
            curve25519_dalek::MontgomeryPoint(*peer)
                .mul_clamped(*scalar)
                .to_bytes(),
        );
        rules::x25519_nonzero(&shared)?;
        Ok(shared)
    }

    fn x25519_public(&self, scalar: &[u8; 32]) -> Result<[u8; 32], CryptoError> {
        Ok(curve25519_dalek::MontgomeryPoint::mul_base_clamped(*scalar).to_bytes())
    }

    fn chacha20_poly1305_seal(
        &self,
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        use chacha20poly1305::{AeadInOut as _, KeyInit as _};
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key));
        let mut out = Vec::with_capacity(plaintext.len() + GCM_TAG_LEN);
        out.extend_from_slice(plaintext);
        let tag = cipher
            .encrypt_inout_detached(
                &chacha20poly1305::Nonce::from(*nonce),
                aad,
                out.as_mut_slice().into(),
            )
            .map_err(|_| rules::failed("ChaCha20-Poly1305"))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    fn chacha20_poly1305_open(
        &self,
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        use chacha20poly1305::{AeadInOut as _, KeyInit as _};
        rules::aead_sealed(rules::CHACHA20_POLY1305, sealed)?;
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key));
        let (body, tag) = sealed.split_at(sealed.len() - GCM_TAG_LEN);
        let tag =
            chacha20poly1305::Tag::try_from(tag).map_err(|_| rules::failed("ChaCha20-Poly1305"))?;
        let mut out = body.to_vec();
        cipher
            .decrypt_inout_detached(
                &chacha20poly1305::Nonce::from(*nonce),
                aad,
                out.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| rules::aead_open_failed(rules::CHACHA20_POLY1305))?;
        Ok(out)
    }

    fn aes_ctr(&self, key: &[u8], iv: &[u8; 16], data: &mut [u8]) -> Result<(), CryptoError> {
        use ctr::cipher::{KeyIvInit as _, StreamCipher as _};
        rules::aes_key("AES-CTR", key)?;
        let failed = |_| rules::failed("AES-CTR");
        // try_apply_keystream: the 128-bit counter cannot run out for a slice, but the
        // library's check is an error here, never a panic.
        if key.len() == 16 {
            ctr::Ctr128BE::<aes::Aes128>::new_from_slices(key, iv)
                .map_err(failed)?
                .try_apply_keystream(data)
        } else {
            ctr::Ctr128BE::<aes::Aes256>::new_from_slices(key, iv)
                .map_err(failed)?
                .try_apply_keystream(data)
        }
        .map_err(|_| rules::failed("AES-CTR"))
    }

    fn generate_key(&self, kt: KeyType) -> Result<PrivateKey, CryptoError> {
        PrivateKey::from_random(kt, &mut |buf| self.fill_random(buf))
    }
}

fn hmac_key(key: &[u8]) -> Result<hmac::Hmac<sha2::Sha256>, CryptoError> {
    use hmac::KeyInit as _;
    hmac::Hmac::<sha2::Sha256>::new_from_slice(key).map_err(|_| rules::failed("HMAC-SHA-256"))
}

/// An AES-GCM cipher of the size the key selects.
enum Gcm {
    Aes128(aes_gcm::Aes128Gcm),
    Aes256(aes_gcm::Aes256Gcm),
}

impl Gcm {
    fn new(key: &[u8]) -> Result<Self, CryptoError> {
        use aes_gcm::aead::KeyInit as _;
        let failed = |_| rules::failed("AES-GCM");
        Ok(if key.len() == 16 {
            Self::Aes128(aes_gcm::Aes128Gcm::new_from_slice(key).map_err(failed)?)
        } else {
            Self::Aes256(aes_gcm::Aes256Gcm::new_from_slice(key).map_err(failed)?)
        })
    }
}

#[cfg(feature = "std")]
fn os_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|e| CryptoError::Random(format!("getrandom: {e}")))
}

#[cfg(not(feature = "std"))]
fn os_random(_buf: &mut [u8]) -> Result<(), CryptoError> {
    Err(CryptoError::Random(
        "none: without `std` install a provider built with RustCryptoProvider::with_random".into(),
    ))
}

/// The keyed state of `hmac::Hmac`, cloned for each MAC.
struct RustHmacKey(hmac::Hmac<sha2::Sha256>);

impl HmacKey for RustHmacKey {
    fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        use hmac::Mac as _;
        let mut mac = self.0.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}
