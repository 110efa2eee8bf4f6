//! SUIT payload encryption (draft-ietf-suit-firmware-encryption): COSE_Encrypt with detached
//! ciphertext, recipients A128KW or ECDH-ES+A128KW, content A128CTR or A128GCM.
//!
//! Hand-written over RustCrypto: no Rust COSE crate implements ECDH-ES+A128KW with the SUIT
//! KDF context, and the pieces (ECDH, HKDF, AES-KW, AES-CTR/GCM) are each one call.

use crate::cbor::Type;
use crate::cbor::{Reader, Writer};
use crate::error::CryptoError;

/// COSE algorithm ids used here.
pub mod alg {
    pub const A128GCM: i64 = 1;
    pub const A256GCM: i64 = 3;
    pub const A128KW: i64 = -3;
    pub const ECDH_ES_A128KW: i64 = -29;
    pub const A128CTR: i64 = -65534;
}

/// Keys a device holds to decrypt payloads.
#[derive(Clone, Default)]
pub struct DecryptionKeys {
    /// Static P-256 keys for ECDH-ES+A128KW recipients.
    pub ecdh: Vec<p256::SecretKey>,
    /// AES key-wrap keys (16 bytes for A128KW), with an optional kid to match recipients.
    pub aes_kw: Vec<(Option<Vec<u8>>, Vec<u8>)>,
}

impl std::fmt::Debug for DecryptionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DecryptionKeys {{ ecdh: {}, aes_kw: {} }}",
            self.ecdh.len(),
            self.aes_kw.len()
        )
    }
}

impl DecryptionKeys {
    /// Reads a P-256 private key from a COSE_Key (kty 2, crv 1, d).
    pub fn ecdh_from_cose_key(cbor: &[u8]) -> Result<p256::SecretKey, CryptoError> {
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
        p256::SecretKey::from_slice(&d)
            .map_err(|_| CryptoError::Malformed("COSE_Key d is not a P-256 scalar".into()))
    }
}

struct Recipient {
    protected: Vec<u8>,
    alg: Option<i64>,
    kid: Option<Vec<u8>>,
    ephemeral: Option<(Vec<u8>, Vec<u8>)>,
    wrapped: Vec<u8>,
}

struct EncryptionInfo {
    protected: Vec<u8>,
    alg: i64,
    iv: Vec<u8>,
    recipients: Vec<Recipient>,
}

fn m(e: crate::error::DecodeError) -> CryptoError {
    CryptoError::Malformed(e.to_string())
}

/// Reads a header map pair: returns (alg, kid, iv, ephemeral (x, y)).
#[allow(clippy::type_complexity)]
fn read_header_map(
    r: &mut Reader<'_>,
) -> Result<
    (
        Option<i64>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<(Vec<u8>, Vec<u8>)>,
    ),
    CryptoError,
> {
    let n = r.map().map_err(m)?;
    let (mut alg, mut kid, mut iv, mut eph) = (None, None, None, None);
    for _ in 0..n {
        let label = r.i64().map_err(m)?;
        match label {
            1 => alg = Some(r.i64().map_err(m)?),
            4 => kid = Some(r.bytes().map_err(m)?.to_vec()),
            5 => iv = Some(r.bytes().map_err(m)?.to_vec()),
            -1 => {
                let k = r.map().map_err(m)?;
                let (mut x, mut y) = (None, None);
                for _ in 0..k {
                    let l = r.i64().map_err(m)?;
                    match l {
                        -2 => x = Some(r.bytes().map_err(m)?.to_vec()),
                        -3 if r.is_type(|t| t == Type::Bytes) => {
                            y = Some(r.bytes().map_err(m)?.to_vec())
                        }
                        _ => {
                            r.raw().map_err(m)?;
                        }
                    }
                }
                match (x, y) {
                    (Some(x), Some(y)) => eph = Some((x, y)),
                    _ => return Err(CryptoError::Malformed("ephemeral key needs x and y".into())),
                }
            }
            _ => {
                r.raw().map_err(m)?;
            }
        }
    }
    Ok((alg, kid, iv, eph))
}

fn parse_info(info: &[u8]) -> Result<EncryptionInfo, CryptoError> {
    let mut r = Reader::new(info, "SUIT_Encryption_Info");
    if r.is_type(|t| t == Type::Tag) {
        let tag = r.tag().map_err(m)?;
        if tag != 96 {
            return Err(CryptoError::Malformed(format!(
                "expected COSE_Encrypt (tag 96), got tag {tag}"
            )));
        }
    }
    if r.array().map_err(m)? != 4 {
        return Err(CryptoError::Malformed(
            "COSE_Encrypt must have 4 elements".into(),
        ));
    }
    let protected = r.bytes().map_err(m)?.to_vec();
    let mut alg = None;
    if !protected.is_empty() {
        let mut p = Reader::new(&protected, "COSE_Encrypt.protected");
        alg = read_header_map(&mut p)?.0;
    }
    let (ualg, _, iv, _) = read_header_map(&mut r)?;
    let alg = alg
        .or(ualg)
        .ok_or_else(|| CryptoError::Malformed("no content algorithm".into()))?;
    let iv = iv.ok_or_else(|| CryptoError::Malformed("no IV (5)".into()))?;
    if r.is_type(|t| t == Type::Null) {
        r.null().map_err(m)?;
    } else {
        return Err(CryptoError::Malformed(
            "ciphertext must be detached (nil)".into(),
        ));
    }
    let n = r.array().map_err(m)?;
    let mut recipients = Vec::new();
    for _ in 0..n {
        if r.array().map_err(m)? != 3 {
            return Err(CryptoError::Malformed(
                "COSE_recipient must have 3 elements".into(),
            ));
        }
        let rprot = r.bytes().map_err(m)?.to_vec();
        let mut ralg = None;
        let mut rkid = None;
        if !rprot.is_empty() {
            let mut p = Reader::new(&rprot, "COSE_recipient.protected");
            let h = read_header_map(&mut p)?;
            ralg = h.0;
            rkid = h.1;
        }
        let (ualg, ukid, _, eph) = read_header_map(&mut r)?;
        let wrapped = r.bytes().map_err(m)?.to_vec();
        recipients.push(Recipient {
            protected: rprot,
            alg: ralg.or(ualg),
            kid: rkid.or(ukid),
            ephemeral: eph,
            wrapped,
        });
    }
    r.expect_end().map_err(m)?;
    Ok(EncryptionInfo {
        protected,
        alg,
        iv,
        recipients,
    })
}

/// COSE_KDF_Context for ECDH-ES+A128KW as SUIT uses it.
pub fn kdf_context(recipient_protected: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(4).int(alg::A128KW);
    w.array(3).null().null().null();
    w.array(3).null().null().null();
    w.array(3)
        .uint(128)
        .bytes(recipient_protected)
        .bytes(b"SUIT Payload Encryption");
    w.finish()
}

fn unwrap_cek(kek: &[u8], wrapped: &[u8]) -> Result<Vec<u8>, CryptoError> {
    use aes_kw::KeyInit;
    let kw = aes_kw::KwAes128::new_from_slice(kek)
        .map_err(|_| CryptoError::Failed("A128KW key must be 16 bytes".into()))?;
    let mut buf = vec![0u8; wrapped.len()];
    let cek = kw
        .unwrap_key(wrapped, &mut buf)
        .map_err(|_| CryptoError::Failed("key unwrap failed (wrong key)".into()))?;
    Ok(cek.to_vec())
}

fn ecdh_kek(
    key: &p256::SecretKey,
    eph: &(Vec<u8>, Vec<u8>),
    protected: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(4);
    sec1.extend_from_slice(&eph.0);
    sec1.extend_from_slice(&eph.1);
    let pk = p256::PublicKey::from_sec1_bytes(&sec1)
        .map_err(|_| CryptoError::Malformed("ephemeral key is not a P-256 point".into()))?;
    let shared = p256::ecdh::diffie_hellman(key.to_nonzero_scalar(), pk.as_affine());
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, shared.raw_secret_bytes());
    let mut kek = [0u8; 16];
    hk.expand(&kdf_context(protected), &mut kek)
        .map_err(|_| CryptoError::Failed("HKDF expand".into()))?;
    Ok(kek.to_vec())
}

/// Recovers the content encryption key from the first recipient we hold a key for.
fn find_cek(info: &EncryptionInfo, keys: &DecryptionKeys) -> Result<Vec<u8>, CryptoError> {
    let mut last = CryptoError::NoKey;
    for r in &info.recipients {
        match r.alg {
            Some(alg::A128KW) => {
                for (kid, k) in &keys.aes_kw {
                    if kid.is_some() && r.kid.is_some() && kid != &r.kid {
                        continue;
                    }
                    match unwrap_cek(k, &r.wrapped) {
                        Ok(c) => return Ok(c),
                        Err(e) => last = e,
                    }
                }
            }
            Some(alg::ECDH_ES_A128KW) => {
                let eph = r.ephemeral.as_ref().ok_or_else(|| {
                    CryptoError::Malformed("ECDH-ES recipient without ephemeral key (-1)".into())
                })?;
                for k in &keys.ecdh {
                    let kek = ecdh_kek(k, eph, &r.protected)?;
                    match unwrap_cek(&kek, &r.wrapped) {
                        Ok(c) => return Ok(c),
                        Err(e) => last = e,
                    }
                }
            }
            Some(other) => last = CryptoError::UnsupportedAlgorithm(other),
            None => last = CryptoError::Malformed("recipient without algorithm".into()),
        }
    }
    Err(last)
}

/// Decrypts a detached ciphertext with its SUIT_Encryption_Info.
pub fn decrypt_payload(
    info: &[u8],
    ciphertext: &[u8],
    keys: &DecryptionKeys,
) -> Result<Vec<u8>, CryptoError> {
    let info = parse_info(info)?;
    let cek = find_cek(&info, keys)?;
    match info.alg {
        alg::A128CTR => {
            use ctr::cipher::{KeyIvInit, StreamCipher};
            if cek.len() != 16 || info.iv.len() != 16 {
                return Err(CryptoError::Malformed(
                    "A128CTR needs a 16-byte key and a 16-byte IV".into(),
                ));
            }
            let mut c = ctr::Ctr128BE::<aes::Aes128>::new_from_slices(&cek, &info.iv)
                .map_err(|_| CryptoError::Failed("A128CTR init".into()))?;
            let mut out = ciphertext.to_vec();
            c.apply_keystream(&mut out);
            Ok(out)
        }
        alg::A128GCM => {
            use aes_gcm::aead::{AeadInOut, KeyInit};
            if info.iv.len() != 12 {
                return Err(CryptoError::Malformed("A128GCM needs a 12-byte IV".into()));
            }
            let c = aes_gcm::Aes128Gcm::new_from_slice(&cek)
                .map_err(|_| CryptoError::Failed("A128GCM key must be 16 bytes".into()))?;
            let mut aad = Writer::new();
            aad.array(3)
                .text("Encrypt")
                .bytes(&info.protected)
                .bytes(&[]);
            let aad = aad.finish();
            let nonce = aes_gcm::Nonce::try_from(&info.iv[..])
                .map_err(|_| CryptoError::Malformed("bad nonce".into()))?;
            if ciphertext.len() < 16 {
                return Err(CryptoError::Failed(
                    "ciphertext shorter than the GCM tag".into(),
                ));
            }
            let (body, tag) = ciphertext.split_at(ciphertext.len() - 16);
            let mut out = body.to_vec();
            let tag = aes_gcm::Tag::try_from(tag)
                .map_err(|_| CryptoError::Malformed("bad tag".into()))?;
            c.decrypt_inout_detached(&nonce, &aad, out.as_mut_slice().into(), &tag)
                .map_err(|_| CryptoError::Failed("A128GCM authentication failed".into()))?;
            Ok(out)
        }
        other => Err(CryptoError::UnsupportedAlgorithm(other)),
    }
}

/// Encrypts a payload for one P-256 recipient with ECDH-ES+A128KW and A128CTR.
/// `random` supplies 32 bytes for the ephemeral key, 16 for the CEK and 16 for the IV (the
/// caller owns randomness: this crate is sans-IO). Returns (SUIT_Encryption_Info, ciphertext).
pub fn encrypt_payload_ecdh_a128ctr(
    plaintext: &[u8],
    recipient: &p256::PublicKey,
    random: &[u8; 64],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    use aes_kw::KeyInit;
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let eph = p256::SecretKey::from_slice(&random[..32])
        .map_err(|_| CryptoError::Failed("ephemeral scalar out of range; retry".into()))?;
    let cek = &random[32..48];
    let iv = &random[48..64];
    let mut rprot = Writer::new();
    rprot.map(1).uint(1).int(alg::ECDH_ES_A128KW);
    let rprot = rprot.finish();
    let shared = p256::ecdh::diffie_hellman(eph.to_nonzero_scalar(), recipient.as_affine());
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, shared.raw_secret_bytes());
    let mut kek = [0u8; 16];
    hk.expand(&kdf_context(&rprot), &mut kek)
        .map_err(|_| CryptoError::Failed("HKDF expand".into()))?;
    let kw = aes_kw::KwAes128::new_from_slice(&kek)
        .map_err(|_| CryptoError::Failed("A128KW key".into()))?;
    let mut wrapped = [0u8; 24];
    kw.wrap_key(cek, &mut wrapped)
        .map_err(|_| CryptoError::Failed("key wrap".into()))?;
    let mut ct = plaintext.to_vec();
    let mut c = ctr::Ctr128BE::<aes::Aes128>::new_from_slices(cek, iv)
        .map_err(|_| CryptoError::Failed("A128CTR init".into()))?;
    c.apply_keystream(&mut ct);
    use p256::elliptic_curve::sec1::ToSec1Point;
    let point = eph.public_key().to_sec1_point(false);
    let sec1 = point.as_bytes();
    let (x, y) = (&sec1[1..33], &sec1[33..65]);
    let mut w = Writer::new();
    w.tag(96).array(4).bytes(&[]);
    w.map(2).uint(1).int(alg::A128CTR).uint(5).bytes(iv);
    w.null();
    w.array(1).array(3).bytes(&rprot);
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
    Ok((w.finish(), ct))
}

/// P-256 public key from a COSE_Key (kty 2, crv 1, x, y), e.g. `teep_cose::PublicKey::to_cose_key()`.
pub fn p256_public_from_cose_key(cbor: &[u8]) -> Result<p256::PublicKey, CryptoError> {
    let mut r = Reader::new(cbor, "COSE_Key");
    let n = r.map().map_err(m)?;
    let (mut x, mut y) = (None, None);
    for _ in 0..n {
        let label = r.i64().map_err(m)?;
        match label {
            -2 => x = Some(r.bytes().map_err(m)?.to_vec()),
            -3 if r.is_type(|t| t == Type::Bytes) => y = Some(r.bytes().map_err(m)?.to_vec()),
            _ => {
                r.raw().map_err(m)?;
            }
        }
    }
    let (Some(x), Some(y)) = (x, y) else {
        return Err(CryptoError::Malformed(
            "COSE_Key is not an uncompressed P-256 key (needs x and y)".into(),
        ));
    };
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    p256::PublicKey::from_sec1_bytes(&sec1)
        .map_err(|_| CryptoError::Malformed("not a P-256 point".into()))
}
