//! Stateless QueryRequest tokens.
//!
//! Opening a session must not cost a database write: most first contacts are cheap to make and
//! a TAM must not let them fill its storage. So the token of a QueryRequest carries what the TAM
//! needs to recognise its answer (numbering, expiry) under a MAC, and the attestation challenge
//! is derived from the token under the same key. Nothing is stored until the QueryResponse
//! arrives; then the token is recorded as answered in the same transaction as the rest of that
//! step, which is what refuses replays. Update tokens stay random and stored, because Success
//! must find what the Update carried.
//!
//! Layout (32 bytes): `'Q'`, numbering (0 draft26, 1 legacy), expiry in ms since the epoch (8
//! bytes big-endian), 8 random bytes, then the first 14 bytes of
//! HMAC-SHA-256(key, "teep-tam/query-token/1" || the 18 bytes before).

use alloc::vec::Vec;

use teep_cose::provider::CryptoProvider;
use teep_proto::Numbering;

pub const QUERY_TOKEN_LEN: usize = 32;
const TAG_LEN: usize = 14;
const BODY_LEN: usize = QUERY_TOKEN_LEN - TAG_LEN;
const MAGIC: u8 = b'Q';
const TOKEN_LABEL: &[u8] = b"teep-tam/query-token/1";
const CHALLENGE_LABEL: &[u8] = b"teep-tam/challenge/1";

/// What a valid query token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryToken {
    pub numbering: Numbering,
    pub expires_at: i64,
}

/// The MAC key shared by every TAM process of one database. The HMAC is the crypto
/// provider's (teep-cose), so this crate links no crypto library of its own.
pub struct TokenKey {
    secret: Vec<u8>,
    provider: &'static dyn CryptoProvider,
}

impl TokenKey {
    /// A key over the default crypto provider of the moment.
    pub fn new(secret: &[u8]) -> TokenKey {
        TokenKey::with_provider(secret, teep_cose::default_provider())
    }

    pub fn with_provider(secret: &[u8], provider: &'static dyn CryptoProvider) -> TokenKey {
        TokenKey {
            secret: secret.to_vec(),
            provider,
        }
    }

    /// HMAC-SHA-256(key, label || data). A provider without HMAC (none compiled in) fails
    /// closed: the all-zero tag it stands in for is one no token carries, so every token is
    /// then refused as unknown and every challenge fails its evidence check.
    fn mac(&self, label: &[u8], data: &[u8]) -> [u8; 32] {
        let mut msg = Vec::with_capacity(label.len() + data.len());
        msg.extend_from_slice(label);
        msg.extend_from_slice(data);
        self.provider
            .hmac_sha256(&self.secret, &msg)
            .unwrap_or([0u8; 32])
    }

    fn tag(&self, body: &[u8]) -> [u8; 32] {
        self.mac(TOKEN_LABEL, body)
    }

    /// A new token; `random` must be fresh random bytes.
    pub fn mint(&self, numbering: Numbering, expires_at: i64, random: [u8; 8]) -> Vec<u8> {
        let mut t = Vec::with_capacity(QUERY_TOKEN_LEN);
        t.push(MAGIC);
        t.push(match numbering {
            Numbering::Draft26 => 0,
            Numbering::Legacy => 1,
        });
        t.extend_from_slice(&expires_at.to_be_bytes());
        t.extend_from_slice(&random);
        let tag = self.tag(&t);
        t.extend_from_slice(&tag[..TAG_LEN]);
        t
    }

    /// Reads a token this key minted; `None` for anything else (including a token of another
    /// key, or one whose bytes were changed). Expiry is the caller's check, so the error can
    /// say "expired" rather than "unknown".
    pub fn open(&self, token: &[u8]) -> Option<QueryToken> {
        if token.len() != QUERY_TOKEN_LEN || token[0] != MAGIC {
            return None;
        }
        let (body, tag) = token.split_at(BODY_LEN);
        let expected = self.tag(body);
        if expected == [0u8; 32] {
            return None;
        }
        // Constant-time comparison of the truncated tag.
        let diff = expected[..TAG_LEN]
            .iter()
            .zip(tag)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return None;
        }
        let numbering = match body[1] {
            0 => Numbering::Draft26,
            1 => Numbering::Legacy,
            _ => return None,
        };
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&body[2..10]);
        Some(QueryToken {
            numbering,
            expires_at: i64::from_be_bytes(exp),
        })
    }

    /// The attestation challenge of a token: unpredictable without the key, and the same in
    /// every process that holds it.
    pub fn challenge(&self, token: &[u8]) -> Vec<u8> {
        self.mac(CHALLENGE_LABEL, token).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_open_round_trip() {
        let k = TokenKey::new(&[7; 32]);
        let t = k.mint(Numbering::Legacy, 123_456, [1; 8]);
        assert_eq!(t.len(), QUERY_TOKEN_LEN);
        assert_eq!(
            k.open(&t),
            Some(QueryToken {
                numbering: Numbering::Legacy,
                expires_at: 123_456
            })
        );
        assert_eq!(k.challenge(&t).len(), 32);
        assert_ne!(
            k.challenge(&t),
            k.challenge(&k.mint(Numbering::Legacy, 123_456, [2; 8]))
        );
    }

    #[test]
    fn any_changed_byte_or_other_key_is_refused() {
        let k = TokenKey::new(&[7; 32]);
        let t = k.mint(Numbering::Draft26, 99, [3; 8]);
        for i in 0..t.len() {
            let mut bad = t.clone();
            bad[i] ^= 0x01;
            assert_eq!(k.open(&bad), None, "byte {i}");
        }
        assert_eq!(TokenKey::new(&[8; 32]).open(&t), None);
        assert_eq!(k.open(&t[..31]), None);
        assert_eq!(k.open(&[0u8; 16]), None);
    }
}
