//! Query tokens and challenges: any bytes given to `TokenKey::open` or `open_challenge` (a
//! QueryResponse's evidence nonce, unverified) are refused or read without panicking, every
//! minted token opens to what it was minted with, under its own key only, and its challenges
//! lead back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_proto::Numbering;
use teep_tam_core::token::{QueryToken, TokenKey, QUERY_TOKEN_LEN};

fn key() -> &'static TokenKey {
    static KEY: std::sync::OnceLock<TokenKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| TokenKey::new(&[0x44; 32]))
}

fuzz_target!(|data: &[u8]| {
    // Arbitrary bytes: only a 32-byte token of this key could open, and the fuzzer will not
    // forge the MAC, so whatever opens must at least have the token's shape.
    if let Some(t) = key().open(data) {
        assert_eq!(data.len(), QUERY_TOKEN_LEN);
        std::hint::black_box(t);
    }
    if let Some(c) = key().open_challenge(data) {
        assert_eq!(data.len(), QUERY_TOKEN_LEN);
        assert!(key().open(&c.token).is_some());
    }

    // Round trip: numbering, expiry and random bytes from the input, under the fixed key and
    // under a key made from the input's tail.
    if data.len() < 18 {
        return;
    }
    let numbering = if data[0] & 1 == 0 {
        Numbering::Draft26
    } else {
        Numbering::Legacy
    };
    let expires_at = i64::from_be_bytes(data[1..9].try_into().unwrap());
    let random: [u8; 8] = data[9..17].try_into().unwrap();
    let flip = data[17] as usize;
    let secret = &data[18..];
    let expected = QueryToken {
        numbering,
        expires_at,
    };
    for k in [key(), &TokenKey::new(secret)] {
        let t = k.mint(numbering, expires_at, random);
        assert_eq!(t.len(), QUERY_TOKEN_LEN);
        assert_eq!(k.open(&t), Some(expected.clone()));
        assert_eq!(k.challenge(&t).len(), 32);
        for (c, sent) in [(k.challenge(&t), true), (k.challenge_alone(&t), false)] {
            let back = k.open_challenge(&c).expect("a challenge opens");
            assert_eq!((back.token, back.token_sent), (t.clone(), sent));
            let mut bad = c.clone();
            bad[flip % QUERY_TOKEN_LEN] ^= 1 << (flip / QUERY_TOKEN_LEN % 8);
            assert_eq!(k.open_challenge(&bad), None);
        }
        // Any changed bit is refused.
        let mut bad = t.clone();
        bad[flip % QUERY_TOKEN_LEN] ^= 1 << (flip / QUERY_TOKEN_LEN % 8);
        assert_eq!(k.open(&bad), None);
        // So is a token cut short or lengthened.
        assert_eq!(k.open(&t[..QUERY_TOKEN_LEN - 1]), None);
        let mut long = t.clone();
        long.push(0);
        assert_eq!(k.open(&long), None);
    }
    // A token of one key does not open under another. HMAC pads short keys with zeros, so a
    // secret that differs only by trailing zero bytes is the same key.
    let trim = |s: &[u8]| s.len() - s.iter().rev().take_while(|b| **b == 0).count();
    if secret[..trim(secret)] != [0x44; 32] {
        let t = TokenKey::new(secret).mint(numbering, expires_at, random);
        assert_eq!(key().open(&t), None);
    }
});
