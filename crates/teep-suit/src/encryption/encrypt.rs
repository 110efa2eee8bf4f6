//! Encrypting a payload for one recipient: what `ManifestBuilder::encrypt_to` emits, and the
//! other algorithm combinations for tests and tools. Randomness is the caller's (this crate
//! is sans-IO), so the same inputs give the same bytes.

use super::{alg, content_lengths, content_name, ecdh_kek, enc_structure, wrap_of};
use crate::cbor::Writer;
use crate::error::CryptoError;
use alloc::format;
use alloc::vec::Vec;
use teep_cose::provider::CryptoProvider;
use teep_cose::{PrivateKey, PublicKey};

/// Who can decrypt the payload.
#[derive(Debug, Clone, Copy)]
pub enum Recipient<'a> {
    /// ECDH-ES with a fresh ephemeral key to this P-256 key, then AES key wrap: `alg` is
    /// ECDH-ES+A128KW (-29) or ECDH-ES+A256KW (-31).
    EcdhEs { key: &'a PublicKey, alg: i64 },
    /// AES key wrap under a shared KEK: A128KW for a 16-byte KEK, A256KW for 32 bytes.
    AesKw {
        kek: &'a [u8],
        kid: Option<&'a [u8]>,
    },
}

/// How many random bytes [`encrypt_payload_with`] takes: the ephemeral P-256 scalar (32,
/// ECDH-ES only), then the content key, then the IV.
pub fn random_len(content: i64, recipient: &Recipient<'_>) -> Result<usize, CryptoError> {
    let (key_len, iv_len) =
        content_lengths(content).ok_or(CryptoError::UnsupportedAlgorithm(content))?;
    let eph = match recipient {
        Recipient::EcdhEs { .. } => 32,
        Recipient::AesKw { .. } => 0,
    };
    Ok(eph + key_len + iv_len)
}

/// Encrypts `plaintext` with `content` (A128CTR, A256CTR, A128GCM or A256GCM) for
/// `recipient`, through `provider`. `random` holds exactly [`random_len`] fresh random
/// bytes. Returns (SUIT_Encryption_Info, detached ciphertext); GCM appends its tag.
pub fn encrypt_payload_with(
    provider: &dyn CryptoProvider,
    plaintext: &[u8],
    content: i64,
    recipient: &Recipient<'_>,
    random: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let want = random_len(content, recipient)?;
    if random.len() != want {
        return Err(CryptoError::Failed(format!(
            "{} needs {want} random bytes, got {}",
            content_name(content),
            random.len()
        )));
    }
    let (key_len, _) =
        content_lengths(content).ok_or(CryptoError::UnsupportedAlgorithm(content))?;
    let (random, recipient_block) = match recipient {
        Recipient::EcdhEs { key, alg: ralg } => {
            let (eph, rest) = random.split_at(32);
            let cek = &rest[..key_len];
            (rest, ecdh_recipient(provider, key, *ralg, eph, cek)?)
        }
        Recipient::AesKw { kek, kid } => (
            random,
            kw_recipient(provider, kek, *kid, &random[..key_len])?,
        ),
    };
    let (cek, iv) = random.split_at(key_len);
    let mut w = Writer::new();
    w.tag(96).array(4);
    let ciphertext = if matches!(content, alg::A128CTR | alg::A256CTR) {
        // CTR authenticates nothing, so nothing goes in the protected bucket.
        let mut block = [0u8; 16];
        block.copy_from_slice(iv);
        let mut ct = plaintext.to_vec();
        provider
            .aes_ctr(cek, &block, &mut ct)
            .map_err(|e| CryptoError::primitive(content_name(content), e))?;
        w.bytes(&[]);
        w.map(2).uint(1).int(content).uint(5).bytes(iv);
        ct
    } else {
        let mut prot = Writer::new();
        prot.map(1).uint(1).int(content);
        let prot = prot.finish();
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(iv);
        let ct = provider
            .aes_gcm_seal(cek, &nonce, &enc_structure(&prot), plaintext)
            .map_err(|e| CryptoError::primitive(content_name(content), e))?;
        w.bytes(&prot);
        w.map(1).uint(5).bytes(iv);
        ct
    };
    w.null();
    w.array(1).raw(&recipient_block);
    Ok((w.finish(), ciphertext))
}

/// `[<<{1: alg}>>, {-1: ephemeral COSE_Key}, wrapped CEK]` (RFC 9053 section 6.3.1).
fn ecdh_recipient(
    provider: &dyn CryptoProvider,
    key: &PublicKey,
    ralg: i64,
    eph: &[u8],
    cek: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let ecdh = matches!(ralg, alg::ECDH_ES_A128KW | alg::ECDH_ES_A256KW);
    let Some((wrap_alg, kek_len)) = wrap_of(ralg).filter(|_| ecdh) else {
        return Err(CryptoError::UnsupportedAlgorithm(ralg));
    };
    let eph = PrivateKey::from_p256_scalar(eph)
        .map_err(|_| CryptoError::Failed("ephemeral scalar out of range; retry".into()))?;
    let mut rprot = Writer::new();
    rprot.map(1).uint(1).int(ralg);
    let rprot = rprot.finish();
    let kek = ecdh_kek(provider, &eph, key, wrap_alg, kek_len, &rprot)?;
    let wrapped = provider
        .aes_key_wrap(&kek, cek)
        .map_err(|e| CryptoError::primitive("content key wrap", e))?;
    let point = eph.public_key();
    let (x, y) = (&point.raw()[1..33], &point.raw()[33..65]);
    let mut w = Writer::new();
    w.array(3).bytes(&rprot);
    w.map(1)
        .int(-1)
        .map(4)
        .uint(1)
        .uint(2)
        .int(-1)
        .uint(1)
        .int(-2)
        .bytes(x)
        .int(-3)
        .bytes(y);
    w.bytes(&wrapped);
    Ok(w.finish())
}

/// `[h'', {1: alg, ? 4: kid}, wrapped CEK]` (RFC 9053 section 6.2.1).
fn kw_recipient(
    provider: &dyn CryptoProvider,
    kek: &[u8],
    kid: Option<&[u8]>,
    cek: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let ralg = match kek.len() {
        16 => alg::A128KW,
        32 => alg::A256KW,
        n => {
            return Err(CryptoError::Failed(format!(
                "AES key wrap needs a 16- or 32-byte KEK, got {n}"
            )))
        }
    };
    let wrapped = provider
        .aes_key_wrap(kek, cek)
        .map_err(|e| CryptoError::primitive("content key wrap", e))?;
    let mut w = Writer::new();
    w.array(3).bytes(&[]);
    w.map(1 + usize::from(kid.is_some())).uint(1).int(ralg);
    if let Some(kid) = kid {
        w.uint(4).bytes(kid);
    }
    w.bytes(&wrapped);
    Ok(w.finish())
}

/// Encrypts a payload for one P-256 recipient with ECDH-ES+A128KW and A128CTR, through the
/// default provider. `random`: 32 bytes for the ephemeral key, 16 for the CEK, 16 for the IV.
/// Returns (SUIT_Encryption_Info, ciphertext).
pub fn encrypt_payload_ecdh_a128ctr(
    plaintext: &[u8],
    recipient: &PublicKey,
    random: &[u8; 64],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    encrypt_payload_with(
        teep_cose::default_provider(),
        plaintext,
        alg::A128CTR,
        &Recipient::EcdhEs {
            key: recipient,
            alg: alg::ECDH_ES_A128KW,
        },
        random,
    )
}
