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
//! Layout (32 bytes): `'Q'`, a flags byte (bit 0: numbering, 0 draft26, 1 legacy; bit 2: the
//! QueryRequest carried the TAM's own attestation-payload; bits 4..7: the QueryRequest's
//! data-item-requested), expiry in ms since the epoch (8 bytes big-endian),
//! 8 random bytes, then the first 14 bytes of HMAC-SHA-256(key, "teep-tam/query-token/1" ||
//! the 18 bytes before).
//!
//! The data items travel in the token because the QueryResponse is checked against what its
//! QueryRequest asked for (-26 §4.3: tc-list MUST be present when the trusted-components bit
//! was set, ext-list when the extensions bit was), and nothing else remembers that: deriving
//! it again from the configuration would misjudge every answer in flight when the
//! configuration changed (`require_attestation` toggled by a restart within a token's
//! lifetime, or TAM processes sharing a database with different settings). Under the MAC the
//! bits are what this TAM sent. A token whose bits are zero was minted before they were
//! recorded (a QueryRequest never asks for nothing); see [`TokenKey::data_items`].
//!
//! The challenge has the same layout with `'C'` first, the flags byte also saying whether the
//! QueryRequest carried the token (bit 1), and its own MAC label. It is derived from the token
//! and the token from it, so an answer that carries only the challenge (as the evidence's
//! `eat_nonce`, when the QueryRequest sent no token: -26 §4.2 has the token present only when
//! the attestation bit is clear; DIGEST §9.2) still finds its session without storage.

use alloc::boxed::Box;
use alloc::vec::Vec;

use teep_cose::provider::{CryptoProvider, HmacKey};
use teep_proto::{DataItems, Numbering};

pub const QUERY_TOKEN_LEN: usize = 32;
const TAG_LEN: usize = 14;
const BODY_LEN: usize = QUERY_TOKEN_LEN - TAG_LEN;
const MAGIC: u8 = b'Q';
const CHALLENGE_MAGIC: u8 = b'C';
/// Flag of a challenge's second byte: the QueryRequest carried the token beside it.
const TOKEN_SENT: u8 = 0x02;
/// Bit of the flags byte that holds the numbering.
const NUMBERING_LEGACY: u8 = 0x01;
/// Bit of the flags byte: the QueryRequest carried the TAM's own attestation (-26 §7.1.2), so
/// an ERR_ATTESTATION_REQUIRED answering it is not answered with another one (loop guard).
const TAM_ATTESTED: u8 = 0x04;
/// Shift of the data-item-requested bits in the flags byte (bits 4..7).
const DATA_ITEMS_SHIFT: u8 = 4;
const TOKEN_LABEL: &[u8] = b"teep-tam/query-token/1";
const CHALLENGE_LABEL: &[u8] = b"teep-tam/challenge/2";
const UNSOLICITED_LABEL: &[u8] = b"teep-tam/unsolicited/1";
/// Length of the token an unsolicited QueryResponse is consumed under.
const UNSOLICITED_TOKEN_LEN: usize = 16;

/// What a valid query token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryToken {
    pub numbering: Numbering,
    pub expires_at: i64,
}

/// What a valid challenge says: the token it was derived from, and whether the QueryRequest
/// carried that token too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeOf {
    pub token: Vec<u8>,
    pub token_sent: bool,
}

/// The MAC key shared by every TAM process of one database. The HMAC is the crypto
/// provider's (teep-cose), so this crate links no crypto library of its own.
pub struct TokenKey {
    /// The provider's prepared key; `None` when the provider has no HMAC (none compiled in).
    key: Option<Box<dyn HmacKey>>,
}

impl TokenKey {
    /// A key over the default crypto provider of the moment.
    pub fn new(secret: &[u8]) -> TokenKey {
        TokenKey::with_provider(secret, teep_cose::default_provider())
    }

    pub fn with_provider(secret: &[u8], provider: &'static dyn CryptoProvider) -> TokenKey {
        TokenKey {
            key: provider.hmac_sha256_key(secret).ok(),
        }
    }

    /// HMAC-SHA-256(key, label || data). A provider without HMAC (none compiled in) fails
    /// closed: the all-zero tag it stands in for is one no token carries, so every token is
    /// then refused as unknown and every challenge fails its evidence check.
    fn mac(&self, label: &[u8], data: &[u8]) -> [u8; 32] {
        match &self.key {
            Some(k) => k.sign(&[label, data]),
            None => [0u8; 32],
        }
    }

    fn tag(&self, body: &[u8]) -> [u8; 32] {
        self.mac(TOKEN_LABEL, body)
    }

    /// A new token that records no data items; `random` must be fresh random bytes.
    pub fn mint(&self, numbering: Numbering, expires_at: i64, random: [u8; 8]) -> Vec<u8> {
        self.mint_asking(numbering, DataItems(0), expires_at, random)
    }

    /// A new token for a QueryRequest that asks for `data_items` (the four bits -26 §4.2
    /// defines; others are not recorded); `random` must be fresh random bytes.
    pub fn mint_asking(
        &self,
        numbering: Numbering,
        data_items: DataItems,
        expires_at: i64,
        random: [u8; 8],
    ) -> Vec<u8> {
        self.mint_query(numbering, data_items, false, expires_at, random)
    }

    /// [`Self::mint_asking`] for a QueryRequest that carries the TAM's own attestation
    /// (`tam_attested`), which [`Self::tam_attested`] reads back.
    pub fn mint_query(
        &self,
        numbering: Numbering,
        data_items: DataItems,
        tam_attested: bool,
        expires_at: i64,
        random: [u8; 8],
    ) -> Vec<u8> {
        let mut t = Vec::with_capacity(QUERY_TOKEN_LEN);
        t.push(MAGIC);
        let numbering_bit = match numbering {
            Numbering::Draft26 => 0,
            Numbering::Legacy => NUMBERING_LEGACY,
        };
        let bits = (data_items.0 & 0x0f) as u8;
        let attested = if tam_attested { TAM_ATTESTED } else { 0 };
        t.push(numbering_bit | attested | (bits << DATA_ITEMS_SHIFT));
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
        if !same_tag(&expected[..TAG_LEN], tag) {
            return None;
        }
        let numbering = match body[1] & !(TAM_ATTESTED | 0xf0) {
            0 => Numbering::Draft26,
            NUMBERING_LEGACY => Numbering::Legacy,
            _ => return None,
        };
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&body[2..10]);
        Some(QueryToken {
            numbering,
            expires_at: i64::from_be_bytes(exp),
        })
    }

    /// The data-item-requested of the QueryRequest a token this key minted went with; `None`
    /// for a token minted before the bits were recorded (or by [`Self::mint`]), or not minted
    /// by this key.
    pub fn data_items(&self, token: &[u8]) -> Option<DataItems> {
        self.open(token)?;
        let bits = token[1] >> DATA_ITEMS_SHIFT;
        (bits != 0).then_some(DataItems(u64::from(bits)))
    }

    /// Whether the QueryRequest of a token this key minted carried the TAM's own attestation
    /// (false for anything this key did not mint).
    pub fn tam_attested(&self, token: &[u8]) -> bool {
        self.open(token).is_some() && token[1] & TAM_ATTESTED != 0
    }

    /// The attestation challenge of a token the QueryRequest also carries: unpredictable
    /// without the key, the same in every process that holds it, and leading back to the token
    /// ([`Self::open_challenge`]).
    pub fn challenge(&self, token: &[u8]) -> Vec<u8> {
        self.derive_challenge(token, true)
    }

    /// The challenge of a QueryRequest that carries no token (only the challenge).
    pub fn challenge_alone(&self, token: &[u8]) -> Vec<u8> {
        self.derive_challenge(token, false)
    }

    fn derive_challenge(&self, token: &[u8], token_sent: bool) -> Vec<u8> {
        let mut c = Vec::with_capacity(QUERY_TOKEN_LEN);
        c.push(CHALLENGE_MAGIC);
        // A token this key minted has the full body; anything shorter (never passed by the
        // core) still yields a challenge that opens to nothing.
        let body = token.get(1..BODY_LEN).unwrap_or_default();
        c.extend_from_slice(body);
        if let Some(flags) = c.get_mut(1) {
            if token_sent {
                *flags |= TOKEN_SENT;
            }
        }
        let tag = self.mac(CHALLENGE_LABEL, &c);
        c.extend_from_slice(&tag[..TAG_LEN]);
        c
    }

    /// The token an unsolicited QueryResponse (one answering no QueryRequest of this TAM) is
    /// recorded as answered under: a MAC of the message's bytes, so the same message sent
    /// again is refused as a replay while its record lasts, and no peer can pick the token.
    pub fn unsolicited_token(&self, message: &[u8]) -> Vec<u8> {
        self.mac(UNSOLICITED_LABEL, message)[..UNSOLICITED_TOKEN_LEN].to_vec()
    }

    /// Reads a challenge this key derived: the token it came from, or `None` for anything
    /// else. The token's own expiry is checked by the caller, as for [`Self::open`].
    pub fn open_challenge(&self, challenge: &[u8]) -> Option<ChallengeOf> {
        if challenge.len() != QUERY_TOKEN_LEN || challenge[0] != CHALLENGE_MAGIC {
            return None;
        }
        let (body, tag) = challenge.split_at(BODY_LEN);
        let expected = self.mac(CHALLENGE_LABEL, body);
        if expected == [0u8; 32] || !same_tag(&expected[..TAG_LEN], tag) {
            return None;
        }
        let token_sent = body[1] & TOKEN_SENT != 0;
        let mut t = Vec::with_capacity(QUERY_TOKEN_LEN);
        t.push(MAGIC);
        t.push(body[1] & !TOKEN_SENT);
        t.extend_from_slice(&body[2..]);
        let tag = self.tag(&t);
        t.extend_from_slice(&tag[..TAG_LEN]);
        self.open(&t)?;
        Some(ChallengeOf {
            token: t,
            token_sent,
        })
    }
}

/// Constant-time comparison of truncated tags.
fn same_tag(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    /// The challenge leads back to its token, says whether the token went with it, and is
    /// neither a token nor openable when changed (DIGEST §9.2).
    #[test]
    fn challenge_leads_back_to_its_token() {
        let k = TokenKey::new(&[7; 32]);
        let t = k.mint(Numbering::Legacy, 123_456, [1; 8]);
        for (c, sent) in [(k.challenge(&t), true), (k.challenge_alone(&t), false)] {
            assert_eq!(c.len(), QUERY_TOKEN_LEN);
            assert_ne!(c, t);
            assert_eq!(
                k.open_challenge(&c),
                Some(ChallengeOf {
                    token: t.clone(),
                    token_sent: sent
                })
            );
            assert_eq!(k.open(&c), None, "a challenge is not a token");
            for i in 0..c.len() {
                let mut bad = c.clone();
                bad[i] ^= 0x01;
                assert_eq!(k.open_challenge(&bad), None, "byte {i}");
            }
            assert_eq!(TokenKey::new(&[8; 32]).open_challenge(&c), None);
        }
        assert_ne!(k.challenge(&t), k.challenge_alone(&t));
        assert_eq!(k.open_challenge(&t), None, "a token is not a challenge");
    }

    /// The QueryRequest's data-item-requested rides in the token under the MAC, and its
    /// challenge leads back to the same bits (-26 §4.3 checks the answer against them).
    #[test]
    fn data_items_ride_in_the_token_and_survive_the_challenge() {
        let k = TokenKey::new(&[7; 32]);
        for n in [Numbering::Draft26, Numbering::Legacy] {
            for bits in [1u64, 2, 3, 4, 8, 15] {
                let t = k.mint_asking(n, DataItems(bits), 99, [5; 8]);
                assert_eq!(k.open(&t).map(|q| q.numbering), Some(n));
                assert_eq!(k.data_items(&t), Some(DataItems(bits)), "{n:?} {bits}");
                for c in [k.challenge(&t), k.challenge_alone(&t)] {
                    let back = k.open_challenge(&c).unwrap().token;
                    assert_eq!(back, t);
                    assert_eq!(k.data_items(&back), Some(DataItems(bits)));
                }
            }
            assert_eq!(k.data_items(&k.mint(n, 99, [5; 8])), None, "not recorded");
        }
        let t = k.mint_asking(Numbering::Draft26, DataItems(3), 99, [5; 8]);
        assert_eq!(TokenKey::new(&[8; 32]).data_items(&t), None);
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

    /// -26 §7.1.2 loop guard: whether the QueryRequest carried the TAM's attestation rides in
    /// its token under the MAC and survives the challenge; the data items and numbering stay.
    #[test]
    fn tam_attested_rides_in_the_token_and_survives_the_challenge() {
        let k = TokenKey::new(&[7; 32]);
        for n in [Numbering::Draft26, Numbering::Legacy] {
            for attested in [false, true] {
                let t = k.mint_query(n, DataItems(3), attested, 99, [5; 8]);
                assert_eq!(k.open(&t).map(|q| q.numbering), Some(n));
                assert_eq!(k.tam_attested(&t), attested, "{n:?}");
                assert_eq!(k.data_items(&t), Some(DataItems(3)));
                let back = k.open_challenge(&k.challenge(&t)).unwrap().token;
                assert_eq!(back, t);
                assert_eq!(k.tam_attested(&back), attested);
            }
        }
        let t = k.mint_asking(Numbering::Draft26, DataItems(3), 99, [5; 8]);
        assert!(!k.tam_attested(&t));
        assert!(!TokenKey::new(&[8; 32]).tam_attested(&k.mint_query(
            Numbering::Draft26,
            DataItems(3),
            true,
            99,
            [5; 8]
        )));
    }
}
