//! SUIT payload encryption (draft-ietf-suit-firmware-encryption): a COSE_Encrypt (RFC 9052
//! section 5.1) with detached ciphertext. Recipients: A128KW / A256KW (RFC 9053 section
//! 6.2.1) or ECDH-ES+A128KW / ECDH-ES+A256KW (RFC 9053 section 6.3.1) with the SUIT
//! COSE_KDF_Context. Content: A128CTR / A256CTR (RFC 9459) or A128GCM / A256GCM (RFC 9053
//! section 4.1).
//!
//! The COSE layer is hand-written (no Rust COSE crate implements ECDH-ES+AES-KW with the SUIT
//! KDF context); every primitive (ECDH, HKDF, AES-KW, AES-CTR, AES-GCM) is the teep-cose
//! crypto provider's: the default one, or the one given to the `_with` functions.

mod encrypt;
mod info;

use crate::cbor::{Reader, Writer};
use crate::error::CryptoError;
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use teep_cose::provider::CryptoProvider;
use teep_cose::{PrivateKey, PublicKey};
use zeroize::Zeroizing;

pub use encrypt::{encrypt_payload_ecdh_a128ctr, encrypt_payload_with, random_len, Recipient};
use info::{parse_info, EncryptionInfo};

/// COSE algorithm ids used here (IANA "COSE Algorithms").
pub mod alg {
    pub const A128GCM: i64 = 1;
    pub const A256GCM: i64 = 3;
    pub const A128KW: i64 = -3;
    pub const A256KW: i64 = -5;
    pub const ECDH_ES_A128KW: i64 = -29;
    pub const ECDH_ES_A256KW: i64 = -31;
    pub const A128CTR: i64 = -65534;
    pub const A256CTR: i64 = -65532;
}

/// Content algorithms: key length and IV length (RFC 9459 section 4: a 16-byte initial
/// counter block; RFC 9053 section 4.1: a 12-byte GCM nonce).
pub(crate) fn content_lengths(content: i64) -> Option<(usize, usize)> {
    match content {
        alg::A128CTR => Some((16, 16)),
        alg::A256CTR => Some((32, 16)),
        alg::A128GCM => Some((16, 12)),
        alg::A256GCM => Some((32, 12)),
        _ => None,
    }
}

/// Key-wrap algorithms (direct or after ECDH-ES): the key wrap's own algorithm id (the
/// KDF context's AlgorithmID) and its KEK length.
pub(crate) fn wrap_of(recipient_alg: i64) -> Option<(i64, usize)> {
    match recipient_alg {
        alg::A128KW | alg::ECDH_ES_A128KW => Some((alg::A128KW, 16)),
        alg::A256KW | alg::ECDH_ES_A256KW => Some((alg::A256KW, 32)),
        _ => None,
    }
}

/// Keys a device holds to decrypt payloads.
#[derive(Clone, Default)]
pub struct DecryptionKeys {
    /// Static P-256 keys for ECDH-ES+A128KW / ECDH-ES+A256KW recipients.
    pub ecdh: Vec<PrivateKey>,
    /// AES key-wrap keys (16 bytes for A128KW, 32 for A256KW), with an optional kid to match
    /// recipients.
    pub aes_kw: Vec<(Option<Vec<u8>>, Vec<u8>)>,
}

impl core::fmt::Debug for DecryptionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "DecryptionKeys {{ ecdh: {}, aes_kw: {} }}",
            self.ecdh.len(),
            self.aes_kw.len()
        )
    }
}

impl DecryptionKeys {
    /// Reads a P-256 private key from the private part `d` (-4) of a COSE_Key; the other
    /// members are not checked.
    pub fn ecdh_from_cose_key(cbor: &[u8]) -> Result<PrivateKey, CryptoError> {
        let mut r = Reader::new(cbor, "COSE_Key");
        let n = r.map().map_err(|e| CryptoError::Malformed(e.to_string()))?;
        let mut d = None;
        for _ in 0..n {
            let label = r.i64().map_err(|e| CryptoError::Malformed(e.to_string()))?;
            if label == -4 {
                d = Some(
                    r.bytes()
                        .map_err(|e| CryptoError::Malformed(e.to_string()))?
                        .to_vec(),
                );
            } else {
                r.raw().map_err(|e| CryptoError::Malformed(e.to_string()))?;
            }
        }
        let d =
            d.ok_or_else(|| CryptoError::Malformed("COSE_Key has no private part d (-4)".into()))?;
        PrivateKey::from_p256_scalar(&d)
            .map_err(|_| CryptoError::Malformed("COSE_Key d is not a P-256 scalar".into()))
    }
}

/// COSE_KDF_Context (RFC 9053 section 5.2) as SUIT fixes it for ECDH-ES+A128KW: AlgorithmID
/// A128KW, no party information, keyDataLength 128, the recipient's protected header and
/// the label 'SUIT Payload Encryption'.
pub fn kdf_context(recipient_protected: &[u8]) -> Vec<u8> {
    kdf_context_for(alg::A128KW, 128, recipient_protected)
}

/// The same for a key wrap of `key_bits` (AlgorithmID A128KW or A256KW).
pub(crate) fn kdf_context_for(wrap_alg: i64, key_bits: u64, recipient_protected: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(4).int(wrap_alg);
    w.array(3).null().null().null();
    w.array(3).null().null().null();
    w.array(3)
        .uint(key_bits)
        .bytes(recipient_protected)
        .bytes(b"SUIT Payload Encryption");
    w.finish()
}

/// The KEK of an ECDH-ES recipient: HKDF-SHA-256 (no salt) over the shared x-coordinate,
/// with the KDF context as info (RFC 9053 section 6.3.1).
pub(crate) fn ecdh_kek(
    provider: &dyn CryptoProvider,
    private: &PrivateKey,
    peer: &PublicKey,
    wrap_alg: i64,
    kek_len: usize,
    recipient_protected: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let shared = provider
        .ecdh_p256(private, peer)
        .map_err(|e| CryptoError::primitive("ECDH-ES key agreement", e))?;
    let info = kdf_context_for(wrap_alg, kek_len as u64 * 8, recipient_protected);
    let mut kek = Zeroizing::new(alloc::vec![0u8; kek_len]);
    provider
        .hkdf_sha256(&[], &shared[..], &info, &mut kek)
        .map_err(|e| CryptoError::primitive("ECDH-ES key derivation", e))?;
    Ok(kek)
}

/// The Enc_structure (RFC 9052 section 5.3) AES-GCM authenticates: no external AAD.
pub(crate) fn enc_structure(protected: &[u8]) -> Vec<u8> {
    let mut aad = Writer::new();
    aad.array(3).text("Encrypt").bytes(protected).bytes(&[]);
    aad.finish()
}

/// The ephemeral key of an ECDH-ES recipient from its x and y.
fn ephemeral_key(eph: &(Vec<u8>, Vec<u8>)) -> Result<PublicKey, CryptoError> {
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(4);
    sec1.extend_from_slice(&eph.0);
    sec1.extend_from_slice(&eph.1);
    PublicKey::from_p256_sec1(&sec1)
        .map_err(|_| CryptoError::Malformed("ephemeral key is not a P-256 point".into()))
}

/// Unwraps the CEK with `kek`; a KEK of the wrong size for the recipient's algorithm is not
/// tried.
fn unwrap_cek(
    provider: &dyn CryptoProvider,
    kek: &[u8],
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    provider
        .aes_key_unwrap(kek, wrapped)
        .map_err(|e| CryptoError::primitive("content key unwrap", e))
}

/// Recovers the content encryption key from the first recipient we hold a key for.
fn find_cek(
    provider: &dyn CryptoProvider,
    info: &EncryptionInfo,
    keys: &DecryptionKeys,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut last = CryptoError::NoKey;
    for r in &info.recipients {
        let Some(ralg) = r.alg else {
            last = CryptoError::Malformed("recipient without algorithm".into());
            continue;
        };
        let Some((wrap_alg, kek_len)) = wrap_of(ralg) else {
            last = CryptoError::UnsupportedAlgorithm(ralg);
            continue;
        };
        if matches!(ralg, alg::A128KW | alg::A256KW) {
            for (kid, k) in &keys.aes_kw {
                if k.len() != kek_len || (kid.is_some() && r.kid.is_some() && kid != &r.kid) {
                    continue;
                }
                match unwrap_cek(provider, k, &r.wrapped) {
                    Ok(c) => return Ok(c),
                    Err(e) => last = e,
                }
            }
        } else {
            let eph = r.ephemeral.as_ref().ok_or_else(|| {
                CryptoError::Malformed("ECDH-ES recipient without ephemeral key (-1)".into())
            })?;
            let eph = ephemeral_key(eph)?;
            for k in &keys.ecdh {
                // A key that cannot agree (not P-256) is skipped like one that does not fit.
                let cek = ecdh_kek(provider, k, &eph, wrap_alg, kek_len, &r.protected)
                    .and_then(|kek| unwrap_cek(provider, &kek, &r.wrapped));
                match cek {
                    Ok(c) => return Ok(c),
                    Err(e) => last = e,
                }
            }
        }
    }
    Err(last)
}

/// Decrypts a detached ciphertext with its SUIT_Encryption_Info, through the default
/// provider.
pub fn decrypt_payload(
    info: &[u8],
    ciphertext: &[u8],
    keys: &DecryptionKeys,
) -> Result<Vec<u8>, CryptoError> {
    decrypt_payload_with(teep_cose::default_provider(), info, ciphertext, keys)
}

/// [`decrypt_payload`] through `provider`.
pub fn decrypt_payload_with(
    provider: &dyn CryptoProvider,
    info: &[u8],
    ciphertext: &[u8],
    keys: &DecryptionKeys,
) -> Result<Vec<u8>, CryptoError> {
    let info = parse_info(info)?;
    let Some((key_len, iv_len)) = content_lengths(info.alg) else {
        return Err(CryptoError::UnsupportedAlgorithm(info.alg));
    };
    let name = content_name(info.alg);
    if info.iv.len() != iv_len {
        return Err(CryptoError::Malformed(format!(
            "{name} needs a {iv_len}-byte IV, got {}",
            info.iv.len()
        )));
    }
    let cek = find_cek(provider, &info, keys)?;
    if cek.len() != key_len {
        return Err(CryptoError::Malformed(format!(
            "{name} needs a {key_len}-byte content key, the recipient carries {}",
            cek.len()
        )));
    }
    if matches!(info.alg, alg::A128CTR | alg::A256CTR) {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&info.iv);
        let mut out = ciphertext.to_vec();
        provider
            .aes_ctr(&cek, &iv, &mut out)
            .map_err(|e| CryptoError::primitive(name, e))?;
        Ok(out)
    } else {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&info.iv);
        provider
            .aes_gcm_open(&cek, &nonce, &enc_structure(&info.protected), ciphertext)
            .map_err(|e| CryptoError::primitive(name, e))
    }
}

/// Name of a content algorithm for messages.
pub(crate) fn content_name(content: i64) -> &'static str {
    match content {
        alg::A128CTR => "A128CTR",
        alg::A256CTR => "A256CTR",
        alg::A128GCM => "A128GCM",
        alg::A256GCM => "A256GCM",
        _ => "content algorithm",
    }
}
