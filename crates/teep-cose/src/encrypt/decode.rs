//! Strict reading of the COSE_Encrypt of an encrypted EAT or SUIT report: every error names
//! the path and the rule; sizes and counts are bounded before anything is allocated.

use alloc::{format, string::String, vec::Vec};

use teep_cbor::{Reader, Type};

use super::{ContentAlgorithm, ECDH_ES_A128KW, TAG_ENCRYPT, TAG_ENCRYPT0};
use crate::{CoseError, PublicKey};

/// Largest COSE_Encrypt read (an Update's SUIT reports and an EAT are far smaller).
pub const MAX_ENCRYPTED: usize = 1024 * 1024;
/// Most recipients read; -26 §8.2 has one.
const MAX_RECIPIENTS: u64 = 8;

/// The sender's ephemeral key: a P-256 point or an X25519 u-coordinate.
#[derive(Debug, Clone)]
pub(super) enum Ephemeral {
    P256(PublicKey),
    X25519([u8; 32]),
}

/// One ECDH-ES+A128KW recipient.
#[derive(Debug, Clone)]
pub(super) struct Recipient {
    /// The protected header as received (bound into the KDF context).
    pub protected: Vec<u8>,
    pub kid: Option<Vec<u8>>,
    pub ephemeral: Ephemeral,
    pub wrapped: Vec<u8>,
}

/// A parsed COSE_Encrypt; nothing is decrypted until [`Encrypted::decrypt`].
#[derive(Debug, Clone)]
pub struct Encrypted {
    /// The protected header as received (AES-GCM authenticates it).
    pub(super) protected: Vec<u8>,
    pub(super) content: ContentAlgorithm,
    pub(super) iv: Vec<u8>,
    pub(super) ciphertext: Vec<u8>,
    pub(super) recipient: Recipient,
    pub(super) recipients: Vec<Recipient>,
}

impl Encrypted {
    /// The content encryption algorithm.
    pub fn content_algorithm(&self) -> ContentAlgorithm {
        self.content
    }

    /// The recipients' kids (RFC 9679 thumbprints of the keys encrypted to), in order.
    pub fn recipient_kids(&self) -> impl Iterator<Item = Option<&[u8]>> {
        self.recipients.iter().map(|r| r.kid.as_deref())
    }

    /// This object with only the recipient at `index` (the one whose key decrypts).
    pub fn select_recipient(&mut self, index: usize) -> bool {
        match self.recipients.get(index) {
            Some(r) => {
                self.recipient = r.clone();
                true
            }
            None => false,
        }
    }
}

/// Whether `bytes` starts as a COSE_Encrypt (tag 96): one byte compare, so plain payloads cost
/// nothing.
pub fn is_encrypted(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xd8, TAG_ENCRYPT as u8])
}

/// Whether `bytes` starts as a COSE_Encrypt0 (tag 16).
pub fn is_encrypt0(bytes: &[u8]) -> bool {
    bytes.first() == Some(&(0xc0 | TAG_ENCRYPT0 as u8))
}

fn bad(path: &str, reason: impl Into<String>) -> CoseError {
    CoseError::malformed(path, reason)
}

fn cbor(path: &str) -> impl Fn(teep_cbor::Error) -> CoseError + '_ {
    move |e| bad(path, format!("{e}"))
}

/// Parses a tagged COSE_Encrypt (RFC 9052 §5.1) with ECDH-ES+A128KW recipients and an
/// A128GCM, A128CTR or ChaCha20/Poly1305 content layer.
pub fn open_encrypted(bytes: &[u8]) -> Result<Encrypted, CoseError> {
    if bytes.len() > MAX_ENCRYPTED {
        return Err(CoseError::TooLarge {
            len: bytes.len(),
            max: MAX_ENCRYPTED,
        });
    }
    const TOP: &str = "COSE_Encrypt";
    if is_encrypt0(bytes) {
        return Err(bad(
            "COSE_Encrypt0",
            "has no recipient, so it needs a key shared in advance, which TEEP does not \
             provision; -26 §8.2 uses COSE_Encrypt (tag 96) with an ECDH-ES+A128KW recipient",
        ));
    }
    let mut r = Reader::new(bytes);
    match r.datatype().map_err(cbor(TOP))? {
        Type::Tag => {
            let tag = r.tag().map_err(cbor(TOP))?;
            if tag != TAG_ENCRYPT {
                return Err(bad(TOP, format!("tag {tag}, expected 96")));
            }
        }
        _ => {
            return Err(bad(
                TOP,
                "untagged; a COSE_Encrypt carried as an encrypted EAT or SUIT report must be \
                 tagged 96 (an untagged one reads like a COSE_Sign1)",
            ))
        }
    }
    let n = r.array().map_err(cbor(TOP))?;
    if n != 4 {
        return Err(bad(TOP, format!("array of {n}, expected 4")));
    }
    let protected = r.bytes().map_err(cbor("COSE_Encrypt.protected"))?.to_vec();
    let prot = read_protected(&protected, "COSE_Encrypt.protected")?;
    let unprot = read_headers(&mut r, "COSE_Encrypt.unprotected")?;
    let alg = match (prot.alg, unprot.alg) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "COSE_Encrypt.unprotected.alg",
                "alg (1) in both header buckets (RFC 9052 §3)",
            ))
        }
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return Err(bad("COSE_Encrypt.protected", "no alg (1)")),
    };
    let content = ContentAlgorithm::from_cose(alg).ok_or(CoseError::UnsupportedAlgorithm(alg))?;
    if content.is_aead() && prot.alg.is_none() {
        return Err(bad(
            "COSE_Encrypt.protected",
            format!(
                "{}'s alg must be protected (it is authenticated)",
                content.name()
            ),
        ));
    }
    if prot.iv.is_some() {
        return Err(bad(
            "COSE_Encrypt.protected.iv",
            "the IV (5) goes unprotected",
        ));
    }
    let iv = unprot
        .iv
        .ok_or_else(|| bad("COSE_Encrypt.unprotected", "no IV (5)"))?;
    if iv.len() != content.iv_len() {
        return Err(bad(
            "COSE_Encrypt.unprotected.iv",
            format!(
                "{} needs a {}-byte IV, got {}",
                content.name(),
                content.iv_len(),
                iv.len()
            ),
        ));
    }
    let ciphertext = match r.datatype().map_err(cbor("COSE_Encrypt.ciphertext"))? {
        Type::Null => {
            return Err(bad(
                "COSE_Encrypt.ciphertext",
                "detached (nil); -26 §8.2 carries the content in the COSE_Encrypt",
            ))
        }
        _ => r.bytes().map_err(cbor("COSE_Encrypt.ciphertext"))?.to_vec(),
    };
    let count = r.array().map_err(cbor("COSE_Encrypt.recipients"))?;
    if count == 0 || count > MAX_RECIPIENTS {
        return Err(bad(
            "COSE_Encrypt.recipients",
            format!("{count} recipients, expected 1 to {MAX_RECIPIENTS}"),
        ));
    }
    let mut recipients = Vec::new();
    for i in 0..count {
        recipients.push(read_recipient(&mut r, i, content)?);
    }
    if !r.at_end() {
        return Err(bad(
            TOP,
            format!("{} bytes after the COSE_Encrypt", r.remaining()),
        ));
    }
    Ok(Encrypted {
        protected,
        content,
        iv,
        ciphertext,
        recipient: recipients[0].clone(),
        recipients,
    })
}

fn read_recipient(
    r: &mut Reader<'_>,
    i: u64,
    content: ContentAlgorithm,
) -> Result<Recipient, CoseError> {
    let path = format!("COSE_Encrypt.recipients[{i}]");
    let n = r.array().map_err(cbor(&path))?;
    if n != 3 {
        return Err(bad(
            &path,
            format!("array of {n}, expected 3 (nested recipients are not used by ECDH-ES+A128KW)"),
        ));
    }
    let ppath = format!("{path}.protected");
    let protected = r.bytes().map_err(cbor(&ppath))?.to_vec();
    let prot = read_protected(&protected, &ppath)?;
    let upath = format!("{path}.unprotected");
    let unprot = read_headers(r, &upath)?;
    if unprot.alg.is_some() {
        return Err(bad(
            &upath,
            "alg (1) of an ECDH-ES recipient goes protected (it is bound into the KDF context)",
        ));
    }
    match prot.alg {
        Some(ECDH_ES_A128KW) => {}
        Some(a) => return Err(CoseError::UnsupportedAlgorithm(a)),
        None => return Err(bad(&ppath, "no alg (1); expected ECDH-ES+A128KW (-29)")),
    }
    if prot.ephemeral.is_some() || prot.kid.is_some() {
        return Err(bad(&ppath, "ephemeral key (-1) and kid (4) go unprotected"));
    }
    let ephemeral = unprot
        .ephemeral
        .ok_or_else(|| bad(&upath, "no ephemeral key (-1)"))?;
    let wpath = format!("{path}.ciphertext");
    let wrapped = r.bytes().map_err(cbor(&wpath))?.to_vec();
    if wrapped.len() != content.key_len() + 8 {
        return Err(bad(
            &wpath,
            format!(
                "a wrapped {} content key is {} bytes, got {}",
                content.name(),
                content.key_len() + 8,
                wrapped.len()
            ),
        ));
    }
    Ok(Recipient {
        protected,
        kid: unprot.kid,
        ephemeral,
        wrapped,
    })
}

#[derive(Default)]
struct Headers {
    alg: Option<i64>,
    kid: Option<Vec<u8>>,
    iv: Option<Vec<u8>>,
    ephemeral: Option<Ephemeral>,
}

/// A protected bucket: an empty bstr is an empty map (RFC 9052 §3).
fn read_protected(bytes: &[u8], path: &str) -> Result<Headers, CoseError> {
    if bytes.is_empty() {
        return Ok(Headers::default());
    }
    let mut r = Reader::new(bytes);
    let h = read_headers(&mut r, path)?;
    if !r.at_end() {
        return Err(bad(path, "bytes after the header map"));
    }
    Ok(h)
}

fn read_headers(r: &mut Reader<'_>, path: &str) -> Result<Headers, CoseError> {
    let n = r.map().map_err(cbor(path))?;
    let mut h = Headers::default();
    let mut seen: Vec<i128> = Vec::new();
    for _ in 0..n {
        let label = match r.datatype().map_err(cbor(path))? {
            t if t.is_int() => r.int().map_err(cbor(path))?,
            _ => {
                // Text labels are private-use: skipped with their value.
                r.skip().map_err(cbor(path))?;
                r.skip().map_err(cbor(path))?;
                continue;
            }
        };
        if seen.contains(&label) {
            return Err(bad(path, format!("label {label} twice (RFC 9052 §3)")));
        }
        seen.push(label);
        let at = format!("{path}.{label}");
        match label {
            1 => {
                let v = r.int().map_err(cbor(&at))?;
                h.alg = Some(i64::try_from(v).map_err(|_| bad(&at, "alg out of range"))?);
            }
            4 => h.kid = Some(r.bytes().map_err(cbor(&at))?.to_vec()),
            5 => h.iv = Some(r.bytes().map_err(cbor(&at))?.to_vec()),
            6 => return Err(bad(&at, "Partial IV (6) is not used here")),
            2 => return Err(bad(&at, "crit (2): no critical header is understood here")),
            -1 => h.ephemeral = Some(read_ephemeral(r, &at)?),
            _ => r.skip().map_err(cbor(&at))?,
        }
    }
    Ok(h)
}

/// The ephemeral COSE_Key: `{1: 2 (EC2), -1: 1 (P-256), -2: x, -3: y}`, a point on the curve,
/// or `{1: 1 (OKP), -1: 4 (X25519), -2: u}` (RFC 9053 §7.2).
fn read_ephemeral(r: &mut Reader<'_>, path: &str) -> Result<Ephemeral, CoseError> {
    let n = r.map().map_err(cbor(path))?;
    if n > 8 {
        return Err(bad(path, format!("COSE_Key of {n} entries")));
    }
    let (mut kty, mut crv, mut x, mut y) = (None, None, None, None);
    for _ in 0..n {
        let label = r.int().map_err(cbor(path))?;
        let at = format!("{path}.{label}");
        match label {
            1 => kty = Some(r.int().map_err(cbor(&at))?),
            -1 => crv = Some(r.int().map_err(cbor(&at))?),
            -2 => x = Some(r.bytes().map_err(cbor(&at))?),
            -3 => match r.datatype().map_err(cbor(&at))? {
                Type::Bytes => y = Some(r.bytes().map_err(cbor(&at))?),
                _ => return Err(bad(&at, "compressed points (a bool y) are not supported")),
            },
            -4 => {
                return Err(bad(
                    &at,
                    "an ephemeral key must not carry its private part (d)",
                ))
            }
            _ => r.skip().map_err(cbor(&at))?,
        }
    }
    if kty == Some(1) && crv == Some(4) {
        if y.is_some() {
            return Err(bad(path, "an OKP key has no y (-3)"));
        }
        let u = x.ok_or_else(|| bad(path, "ephemeral X25519 key needs x (-2)"))?;
        let u: [u8; 32] = u
            .try_into()
            .map_err(|_| bad(path, "an X25519 key is 32 bytes"))?;
        return Ok(Ephemeral::X25519(u));
    }
    if kty != Some(2) || crv != Some(1) {
        return Err(bad(
            path,
            "ephemeral key must be EC2 (kty 2) on P-256 (crv 1) or OKP (kty 1) on X25519 (crv 4)",
        ));
    }
    let (Some(x), Some(y)) = (x, y) else {
        return Err(bad(path, "ephemeral key needs x (-2) and y (-3)"));
    };
    if x.len() != 32 || y.len() != 32 {
        return Err(bad(path, "P-256 coordinates are 32 bytes each"));
    }
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(4);
    sec1.extend_from_slice(x);
    sec1.extend_from_slice(y);
    PublicKey::from_p256_sec1(&sec1)
        .map(Ephemeral::P256)
        .map_err(|_| bad(path, "not a point on P-256"))
}
