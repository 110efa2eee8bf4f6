//! Encrypted EATs and SUIT reports (draft-ietf-teep-protocol-26 §8.2): a COSE_Encrypt
//! (RFC 9052 §5.1, tag 96) carrying the signed EAT or signed SUIT report as its ciphertext (not
//! detached), with one ECDH-ES+A128KW recipient (RFC 9053 §6.3.1). The content key is random;
//! it is wrapped with AES key wrap (RFC 3394) under a KEK that HKDF-SHA-256 derives from the
//! ECDH shared secret and the COSE_KDF_Context of draft-ietf-suit-firmware-encryption, whose
//! `SuppPubInfo.other` is `"EAT Encryption"` or `"SUIT Report Encryption"` ([`Purpose`]).
//!
//! Why COSE_Encrypt and not COSE_Encrypt0: §8.2 wraps the content key with AES-KW under a key
//! agreed by ES-DH, and only COSE_Encrypt has the recipient structure that carries the
//! ephemeral key and the wrapped content key. COSE_Encrypt0 has no recipient, so it needs a
//! key both sides already share, which TEEP does not provision (DIGEST §9 item 11: the
//! suit-report draft's COSE_Encrypt0 inside a COSE_Sign1 is that pre-shared-key form). A
//! COSE_Encrypt0 is refused by [`open_encrypted`] with a message saying so.
//!
//! Profiles (draft-ietf-suit-mti): `suit-sha256-esp256-ecdh-a128ctr` `[-16, -9, -29, -65534]`
//! and `suit-sha256-esp256-ecdh-a128gcm` `[-16, -9, -29, 1]`: key exchange ECDH-ES+A128KW on
//! P-256, content A128CTR (RFC 9459) or A128GCM. `suit-sha256-ed25519-ecdh-a128ctr`
//! `[-16, -19, -29, -65534]` and `suit-sha256-ed25519-ecdh-chacha-poly` `[-16, -19, -29, 24]`:
//! key exchange ECDH-ES+A128KW on X25519 (ephemeral COSE_Key OKP, crv X25519), content A128CTR
//! or ChaCha20/Poly1305 (RFC 9053 §4.3); the recipient's Ed25519 TEEP key is used as its
//! X25519 key (see [`x25519`] for why).
//!
//! The recipient's private key is used only through [`KeyAgreement`], so a hardware key store
//! can decrypt without handing the key out; [`PrivateKey`] and [`SoftwareSigner`] implement it.

mod decode;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_x25519;
pub mod x25519;

use alloc::format;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use crate::provider::CryptoProvider;
use crate::{CoseError, CryptoError, KeyType, PrivateKey, PublicKey, SoftwareSigner};
use teep_cbor::Writer;

pub use decode::{is_encrypt0, is_encrypted, open_encrypted, Encrypted, MAX_ENCRYPTED};

/// COSE_Encrypt tag (RFC 9052 §2).
pub const TAG_ENCRYPT: u64 = 96;
/// COSE_Encrypt0 tag (RFC 9052 §2).
pub const TAG_ENCRYPT0: u64 = 16;
/// ECDH-ES + A128KW (RFC 9053 §6.3.1).
pub const ECDH_ES_A128KW: i64 = -29;
/// A128KW, the KDF context's AlgorithmID for ECDH-ES+A128KW (RFC 9053 §5.2).
const A128KW: i64 = -3;
/// Random bytes one encryption takes: the ephemeral P-256 or X25519 scalar (bytes 0..32), the
/// content key (16 bytes for AES, 32 for ChaCha20, from byte 32) and, right after it, the IV
/// (16 bytes for CTR, 12 for GCM and ChaCha20/Poly1305).
pub const RANDOM_LEN: usize = 80;

/// The content encryption of a SUIT COSE profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentAlgorithm {
    /// AES-128-GCM (RFC 9053 §4.1), COSE id 1: `suit-sha256-esp256-ecdh-a128gcm`.
    A128Gcm,
    /// AES-128-CTR (RFC 9459), COSE id -65534: `suit-sha256-esp256-ecdh-a128ctr` and
    /// `suit-sha256-ed25519-ecdh-a128ctr`.
    A128Ctr,
    /// ChaCha20/Poly1305 (RFC 9053 §4.3, RFC 8439), COSE id 24:
    /// `suit-sha256-ed25519-ecdh-chacha-poly`.
    ChaCha20Poly1305,
}

impl ContentAlgorithm {
    /// The COSE algorithm id.
    pub fn to_cose(self) -> i64 {
        match self {
            ContentAlgorithm::A128Gcm => 1,
            ContentAlgorithm::A128Ctr => -65534,
            ContentAlgorithm::ChaCha20Poly1305 => 24,
        }
    }

    /// The algorithm of a COSE id, if it is one of these.
    pub fn from_cose(id: i64) -> Option<Self> {
        match id {
            1 => Some(ContentAlgorithm::A128Gcm),
            -65534 => Some(ContentAlgorithm::A128Ctr),
            24 => Some(ContentAlgorithm::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            ContentAlgorithm::A128Gcm => "A128GCM",
            ContentAlgorithm::A128Ctr => "A128CTR",
            ContentAlgorithm::ChaCha20Poly1305 => "ChaCha20/Poly1305",
        }
    }

    /// Whether the algorithm authenticates (AEAD): its alg goes protected.
    pub fn is_aead(self) -> bool {
        self != ContentAlgorithm::A128Ctr
    }

    /// The key exchange curve a SUIT MTI profile pairs with this content algorithm:
    /// `P256` for A128GCM, `Ed25519` (X25519) for ChaCha20/Poly1305, either for A128CTR.
    pub fn fits_recipient(self, key: KeyType) -> bool {
        !matches!(
            (self, key),
            (ContentAlgorithm::A128Gcm, KeyType::Ed25519)
                | (ContentAlgorithm::ChaCha20Poly1305, KeyType::P256)
        )
    }

    fn iv_len(self) -> usize {
        match self {
            ContentAlgorithm::A128Gcm | ContentAlgorithm::ChaCha20Poly1305 => 12,
            ContentAlgorithm::A128Ctr => 16,
        }
    }

    /// The content key length.
    pub fn key_len(self) -> usize {
        match self {
            ContentAlgorithm::A128Gcm | ContentAlgorithm::A128Ctr => 16,
            ContentAlgorithm::ChaCha20Poly1305 => 32,
        }
    }
}

/// What is encrypted: the label bound into the KDF context (`SuppPubInfo.other`, -26 §8.2), so
/// a KEK derived for one purpose does not open the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// An EAT (Evidence or an Attestation Result).
    Eat,
    /// A SUIT report.
    SuitReport,
}

impl Purpose {
    /// The `SuppPubInfo.other` label.
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Eat => "EAT Encryption",
            Purpose::SuitReport => "SUIT Report Encryption",
        }
    }
}

/// A private key that agrees keys (ECDH on P-256, or X25519 with an Ed25519 key read as an
/// X25519 key, see [`x25519`]) without exposing itself: what decryption needs from the
/// recipient. A hardware key store implements this for keys it holds.
pub trait KeyAgreement: Send + Sync {
    /// The public half; its RFC 9679 thumbprint is the recipient kid.
    fn agreement_public_key(&self) -> PublicKey;
    /// The P-256 ECDH shared secret (the x-coordinate) with `peer`.
    fn agree(&self, peer: &PublicKey) -> Result<Zeroizing<[u8; 32]>, CryptoError>;
    /// The X25519 shared secret with the u-coordinate `peer`, for an Ed25519 key. The default
    /// refuses: a key store that cannot do X25519 does not decrypt the Ed25519 profiles.
    fn agree_x25519(&self, peer: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let _ = peer;
        Err(CryptoError::KeyType {
            op: "X25519",
            expected: KeyType::Ed25519,
            got: self.agreement_public_key().key_type(),
        })
    }
}

impl KeyAgreement for PrivateKey {
    fn agreement_public_key(&self) -> PublicKey {
        self.public_key()
    }
    fn agree(&self, peer: &PublicKey) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        self.ecdh(peer)
    }
    fn agree_x25519(&self, peer: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        x25519::agree(crate::default_provider(), self, peer)
    }
}

impl KeyAgreement for SoftwareSigner {
    fn agreement_public_key(&self) -> PublicKey {
        self.private_key().public_key()
    }
    fn agree(&self, peer: &PublicKey) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        self.provider().ecdh_p256(self.private_key(), peer)
    }
    fn agree_x25519(&self, peer: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        x25519::agree(self.provider(), self.private_key(), peer)
    }
}

/// COSE_KDF_Context (RFC 9053 §5.2) as draft-ietf-suit-firmware-encryption fixes it for
/// ECDH-ES+A128KW, with `other` the TEEP label: `[-3, [nil, nil, nil], [nil, nil, nil],
/// [128, recipient protected, label]]`.
pub fn kdf_context(recipient_protected: &[u8], purpose: Purpose) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(4).int(A128KW);
    w.array(3).null().null().null();
    w.array(3).null().null().null();
    w.array(3)
        .uint(128)
        .bytes(recipient_protected)
        .bytes(purpose.label().as_bytes());
    w.finish()
}

/// The KEK: HKDF-SHA-256 without salt over the shared secret, the KDF context as info.
fn derive_kek(
    provider: &dyn CryptoProvider,
    shared: &[u8; 32],
    recipient_protected: &[u8],
    purpose: Purpose,
) -> Result<Zeroizing<[u8; 16]>, CryptoError> {
    let mut kek = Zeroizing::new([0u8; 16]);
    provider.hkdf_sha256(
        &[],
        shared,
        &kdf_context(recipient_protected, purpose),
        &mut kek[..],
    )?;
    Ok(kek)
}

/// The Enc_structure (RFC 9052 §5.3) the AEAD authenticates: no external AAD.
fn enc_structure(protected: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(3).text("Encrypt").bytes(protected).bytes(&[]);
    w.finish()
}

/// Encrypts `plaintext` (a signed EAT or SUIT report) to `recipient`, a P-256 key (ECDH) or an
/// Ed25519 key (X25519 on its Montgomery form, see [`x25519`]), through the
/// default provider. `random` holds [`RANDOM_LEN`] fresh random bytes (this crate's core is
/// sans-IO: the caller draws them). Returns a tagged COSE_Encrypt.
pub fn encrypt(
    plaintext: &[u8],
    recipient: &PublicKey,
    content: ContentAlgorithm,
    purpose: Purpose,
    random: &[u8; RANDOM_LEN],
) -> Result<Vec<u8>, CoseError> {
    encrypt_with(
        crate::default_provider(),
        plaintext,
        recipient,
        content,
        purpose,
        random,
    )
}

/// [`encrypt`] through `provider`.
pub fn encrypt_with(
    provider: &dyn CryptoProvider,
    plaintext: &[u8],
    recipient: &PublicKey,
    content: ContentAlgorithm,
    purpose: Purpose,
    random: &[u8; RANDOM_LEN],
) -> Result<Vec<u8>, CoseError> {
    if !content.fits_recipient(recipient.key_type()) {
        // Strict on send: only the SUIT MTI pairings (A128GCM with P-256, ChaCha20/Poly1305
        // with X25519, A128CTR with either).
        return Err(CoseError::KeyMismatch {
            alg: content.name(),
            key: recipient.key_type().name(),
        });
    }
    let (eph, rest) = random.split_at(32);
    let (cek, rest) = rest.split_at(content.key_len());
    let iv = &rest[..content.iv_len()];

    // Recipient: [<<{1: -29}>>, {-1: ephemeral COSE_Key, 4: kid}, wrapped CEK].
    let mut rprot = Writer::new();
    rprot.map(1).uint(1).int(ECDH_ES_A128KW);
    let rprot = rprot.finish();
    let mut eph_key = Writer::new();
    let shared = match recipient.key_type() {
        KeyType::P256 => {
            let eph = PrivateKey::from_p256_scalar(eph).map_err(|_| {
                CoseError::malformed("COSE_Encrypt", "ephemeral scalar out of range; draw again")
            })?;
            let shared = provider.ecdh_p256(&eph, recipient)?;
            let point = eph.public_key();
            let (x, y) = (&point.raw()[1..33], &point.raw()[33..65]);
            // {1: 2 (EC2), -1: 1 (P-256), -2: x, -3: y}
            eph_key.map(4).uint(1).uint(2).int(-1).uint(1);
            eph_key.int(-2).bytes(x).int(-3).bytes(y);
            shared
        }
        KeyType::Ed25519 => {
            let mut scalar = Zeroizing::new([0u8; 32]);
            scalar.copy_from_slice(eph);
            let peer = x25519::public_from_ed25519(recipient)?;
            let shared = provider.x25519(&scalar, &peer)?;
            let u = provider.x25519_public(&scalar)?;
            // {1: 1 (OKP), -1: 4 (X25519), -2: u} (RFC 9053 §7.2)
            eph_key
                .map(3)
                .uint(1)
                .uint(1)
                .int(-1)
                .uint(4)
                .int(-2)
                .bytes(&u);
            shared
        }
    };
    let eph_key = eph_key.finish();
    let kek = derive_kek(provider, &shared, &rprot, purpose)?;
    let wrapped = provider.aes_key_wrap(&kek[..], cek)?;

    let mut w = Writer::with_capacity(plaintext.len() + 200);
    w.tag(TAG_ENCRYPT).array(4);
    let ciphertext = match content {
        ContentAlgorithm::A128Gcm | ContentAlgorithm::ChaCha20Poly1305 => {
            let mut prot = Writer::new();
            prot.map(1).uint(1).int(content.to_cose());
            let prot = prot.finish();
            let mut nonce = [0u8; 12];
            nonce.copy_from_slice(iv);
            let aad = enc_structure(&prot);
            let ct = if content == ContentAlgorithm::A128Gcm {
                provider.aes_gcm_seal(cek, &nonce, &aad, plaintext)?
            } else {
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(cek);
                provider.chacha20_poly1305_seal(&key, &nonce, &aad, plaintext)?
            };
            w.bytes(&prot);
            w.map(1).uint(5).bytes(iv);
            ct
        }
        ContentAlgorithm::A128Ctr => {
            // CTR authenticates nothing, so the algorithm goes unprotected (RFC 9459 §4: the
            // protected bucket of an A128CTR layer is empty).
            let mut block = [0u8; 16];
            block.copy_from_slice(iv);
            let mut ct = plaintext.to_vec();
            provider.aes_ctr(cek, &block, &mut ct)?;
            w.bytes(&[]);
            w.map(2).uint(1).int(content.to_cose()).uint(5).bytes(iv);
            ct
        }
    };
    w.bytes(&ciphertext);
    w.array(1).array(3).bytes(&rprot);
    w.map(2).int(-1).raw(&eph_key);
    w.uint(4).bytes(&recipient.thumbprint());
    w.bytes(&wrapped);
    Ok(w.finish())
}

impl Encrypted {
    /// Decrypts with `key` through the default provider; `purpose` must be the one the sender
    /// used (it is bound into the KEK).
    pub fn decrypt(&self, key: &dyn KeyAgreement, purpose: Purpose) -> Result<Vec<u8>, CoseError> {
        self.decrypt_with(crate::default_provider(), key, purpose)
    }

    /// [`Encrypted::decrypt`] through `provider` (the key agreement is the key's own).
    pub fn decrypt_with(
        &self,
        provider: &dyn CryptoProvider,
        key: &dyn KeyAgreement,
        purpose: Purpose,
    ) -> Result<Vec<u8>, CoseError> {
        let public = key.agreement_public_key();
        if let Some(kid) = &self.recipient.kid {
            if kid[..] != public.thumbprint()[..] {
                return Err(CoseError::malformed(
                    "COSE_Encrypt.recipients[0].unprotected.kid",
                    "names another key than the one given to decrypt",
                ));
            }
        }
        let shared = match &self.recipient.ephemeral {
            decode::Ephemeral::P256(peer) => key.agree(peer)?,
            decode::Ephemeral::X25519(u) => key.agree_x25519(u)?,
        };
        let kek = derive_kek(provider, &shared, &self.recipient.protected, purpose)?;
        let cek = provider.aes_key_unwrap(&kek[..], &self.recipient.wrapped)?;
        if cek.len() != self.content.key_len() {
            return Err(CoseError::malformed(
                "COSE_Encrypt.recipients[0].ciphertext",
                format!(
                    "the wrapped content key is {} bytes, {} takes {}",
                    cek.len(),
                    self.content.name(),
                    self.content.key_len()
                ),
            ));
        }
        match self.content {
            ContentAlgorithm::A128Gcm => {
                let mut nonce = [0u8; 12];
                nonce.copy_from_slice(&self.iv);
                Ok(provider.aes_gcm_open(
                    &cek,
                    &nonce,
                    &enc_structure(&self.protected),
                    &self.ciphertext,
                )?)
            }
            ContentAlgorithm::A128Ctr => {
                let mut block = [0u8; 16];
                block.copy_from_slice(&self.iv);
                let mut out = self.ciphertext.clone();
                provider.aes_ctr(&cek, &block, &mut out)?;
                Ok(out)
            }
            ContentAlgorithm::ChaCha20Poly1305 => {
                let mut nonce = [0u8; 12];
                nonce.copy_from_slice(&self.iv);
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(&cek);
                Ok(provider.chacha20_poly1305_open(
                    &key,
                    &nonce,
                    &enc_structure(&self.protected),
                    &self.ciphertext,
                )?)
            }
        }
    }
}
