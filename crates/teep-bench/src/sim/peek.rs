//! In-place readers of the TAM's QueryRequest and Update for the load generator: the few
//! fields it acts on, borrowed from the body, with the strict decoder's checks but without
//! building the message.

use teep_proto::{Label, MessageType, Numbering};

use super::cbor::CborCursor;
use super::SimError;
use teep_proto::signed;

/// The fields of a TAM message that the load generator acts on, borrowed from the body.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PeekedMessage<'a> {
    pub token: Option<&'a [u8]>,
    pub challenge: Option<&'a [u8]>,
    pub err_code: Option<u64>,
    pub err_msg: Option<&'a str>,
    /// Entries of manifest-list.
    pub manifests: usize,
    /// Signatures of the COSE structure (2 for a COSE_Sign with ESP256 and Ed25519).
    pub signatures: usize,
}

/// Reads token and challenge from a signed QueryRequest without building the message.
///
/// Generator-only: it checks what it reads as the strict decoder does (COSE_Sign1 or
/// COSE_Sign, tagged 18/98 or not; definite-length well-formed CBOR nested at most
/// [`teep_proto::MAX_DEPTH`] deep; no trailing bytes; message type 1 with 5 elements; uint
/// option labels, each once; token a bstr of 8..64 bytes, challenge 8..512) but only skips,
/// without type checks, the options and lists it does not use. A message it accepts may still
/// be one that [`teep_proto::decode`] rejects; everything `decode` accepts, it accepts with
/// the same token and challenge. Signatures are not verified.
///
/// On error, if the full decoder rejects the message too, its error is returned: it names the
/// same path and adds hints (such as the other numbering). This costs nothing on success.
pub fn peek_query_request(bytes: &[u8], n: Numbering) -> Result<PeekedMessage<'_>, SimError> {
    peek_or_explain(bytes, n, MessageType::QueryRequest)
}

/// Reads token, err-code, err-msg and the number of manifests from a signed Update, with the
/// same checks and the same limits as [`peek_query_request`] (type 3, 2 elements;
/// manifest-list a non-empty array of bstr; err-code a uint; err-msg a tstr of 1..128 bytes).
pub fn peek_update(bytes: &[u8], n: Numbering) -> Result<PeekedMessage<'_>, SimError> {
    peek_or_explain(bytes, n, MessageType::Update)
}

fn peek_or_explain(
    bytes: &[u8],
    n: Numbering,
    t: MessageType,
) -> Result<PeekedMessage<'_>, SimError> {
    peek_message(bytes, n, t).map_err(|e| match signed::open_message(bytes, n) {
        Err(full) => SimError::message(full),
        Ok(_) => e,
    })
}

fn peek_message(bytes: &[u8], n: Numbering, t: MessageType) -> Result<PeekedMessage<'_>, SimError> {
    let (payload, signatures) = peek_cose(bytes)?;
    peek_payload(payload, n, t, signatures)
}

/// The payload of a COSE_Sign1 or COSE_Sign (tagged or not) and its number of signatures.
fn peek_cose(bytes: &[u8]) -> Result<(&[u8], usize), SimError> {
    let mut c = CborCursor::new(bytes, "COSE");
    let mut kind = None;
    if c.peek_major()? == 6 {
        kind = Some(match c.head_arg(6, "tag")? {
            18 => 1,
            98 => 2,
            other => {
                return Err(c.err(format!(
                    "unexpected tag {other} (expected 18 COSE_Sign1 or 98 COSE_Sign)"
                )))
            }
        });
    }
    if c.head_arg(4, "COSE array")? != 4 {
        return Err(c.err("expected array of 4 elements"));
    }
    c.path = "COSE.protected";
    c.bytes()?;
    c.path = "COSE.unprotected";
    if c.peek_major()? != 5 {
        return Err(c.err("expected map"));
    }
    c.skip()?;
    c.path = "COSE.payload";
    if c.peek_simple() == Some(22) {
        return Err(c.err("detached (nil), but a TEEP message must be carried inside"));
    }
    let payload = c.bytes()?;
    // The fourth element tells Sign1 (signature bstr) from Sign (array of signatures).
    c.path = "COSE.signature";
    let signatures = match (kind, c.peek_major()?) {
        (None | Some(1), 2) => {
            c.bytes()?;
            1
        }
        (None | Some(2), 4) => {
            c.path = "COSE.signatures";
            let count = c.non_empty_array(
                "array of COSE_Signature",
                "at least one signature is required",
                CborCursor::skip,
            )?;
            count as usize
        }
        _ => return Err(c.err("expected bstr (COSE_Sign1) or array (COSE_Sign)")),
    };
    c.finish()?;
    Ok((payload, signatures))
}

/// The shape of a message the peek reads and the paths its errors name.
struct Shape {
    elements: u64,
    type_path: &'static str,
    options: &'static str,
    label: &'static str,
    token: &'static str,
}

const QUERY_REQUEST: Shape = Shape {
    elements: 5,
    type_path: "QueryRequest.type",
    options: "QueryRequest.options",
    label: "QueryRequest.options.label",
    token: "QueryRequest.options.token",
};

const UPDATE: Shape = Shape {
    elements: 2,
    type_path: "Update.type",
    options: "Update.options",
    label: "Update.options.label",
    token: "Update.options.token",
};

/// The fields of the TEEP message in `payload`, which must be of type `t`.
fn peek_payload(
    payload: &[u8],
    n: Numbering,
    t: MessageType,
    signatures: usize,
) -> Result<PeekedMessage<'_>, SimError> {
    let mut m = PeekedMessage {
        signatures,
        ..Default::default()
    };
    let is_query = t == MessageType::QueryRequest;
    let shape = if is_query { &QUERY_REQUEST } else { &UPDATE };
    let mut c = CborCursor::new(payload, t.name());
    let len = c.head_arg(4, "TEEP message array")?;
    c.path = shape.type_path;
    let tv = c.head_arg(0, "uint message type")?;
    if tv != t.value(n) {
        return Err(c.err(format!(
            "expected {} (type {}), got type {tv}",
            t.name(),
            t.value(n)
        )));
    }
    if len != shape.elements {
        return Err(c.err(format!(
            "expected array of {} elements, got {len}",
            shape.elements
        )));
    }
    let (token, challenge, manifests, err_code, err_msg) = (
        Label::Token.value(n),
        Label::Challenge.value(n),
        Label::ManifestList.value(n),
        Label::ErrCode.value(n),
        Label::ErrMsg.value(n),
    );
    c.path = shape.options;
    let entries = c.head_arg(5, "options map")?;
    // Labels seen so far: a map of a few entries, so a linear scan beats a set.
    let mut seen: Vec<u64> = Vec::with_capacity(entries.min(16) as usize);
    for _ in 0..entries {
        c.path = shape.label;
        let key = c.head_arg(0, "uint label (teep-option = uint => any)")?;
        if seen.contains(&key) {
            c.path = shape.options;
            return Err(c.err(format!("duplicate label {key}")));
        }
        seen.push(key);
        if key == token {
            c.path = shape.token;
            m.token = Some(c.sized_bytes(8, 64)?);
        } else if is_query && key == challenge {
            c.path = "QueryRequest.options.challenge";
            m.challenge = Some(c.sized_bytes(8, 512)?);
        } else if !is_query && key == manifests {
            c.path = "Update.options.manifest-list";
            let count = c.non_empty_array(
                "array of bstr .cbor SUIT_Envelope",
                "expected a non-empty array",
                |c| c.bytes().map(drop),
            )?;
            m.manifests = count as usize;
        } else if !is_query && key == err_code {
            c.path = "Update.options.err-code";
            m.err_code = Some(c.head_arg(0, "uint err-code")?);
        } else if !is_query && key == err_msg {
            c.path = "Update.options.err-msg";
            m.err_msg = Some(c.sized_text(1, 128)?);
        } else {
            c.skip()?;
        }
    }
    if is_query {
        c.path = "QueryRequest.supported-teep-cipher-suites";
        c.skip()?;
        c.path = "QueryRequest.supported-suit-cose-profiles";
        c.skip()?;
        c.path = "QueryRequest.data-item-requested";
        c.head_arg(0, "uint .bits data-item-requested")?;
    }
    c.finish()?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{numbered_key, DeviceAlg};
    use teep_cose::{PrivateKey, SoftwareSigner};
    use teep_proto::{
        CipherSuite, DataItems, ErrorCode, Success, SuitCoseProfile, TeepMessage, Update,
    };

    fn p256() -> PrivateKey {
        numbered_key(0, DeviceAlg::P256)
    }

    fn ed25519() -> PrivateKey {
        numbered_key(1, DeviceAlg::Ed25519)
    }

    fn query_request(token: Option<Vec<u8>>, challenge: Option<Vec<u8>>) -> TeepMessage {
        TeepMessage::QueryRequest(teep_proto::QueryRequest {
            token,
            challenge,
            supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256, CipherSuite::SIGN1_ED25519],
            supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
            data_item_requested: DataItems(DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS),
            ..Default::default()
        })
    }

    fn update(token: Option<Vec<u8>>, manifests: usize, err: Option<ErrorCode>) -> TeepMessage {
        TeepMessage::Update(Update {
            token,
            manifest_list: (0..manifests).map(|i| vec![0xa1, 0x01, i as u8]).collect(),
            err_code: err,
            err_msg: err.map(|_| "no room".to_string()),
            ..Default::default()
        })
    }

    /// Signed as the TAM does: QueryRequest with both algorithms, Update with one.
    fn signed_by_tam(msg: &TeepMessage, n: Numbering) -> Vec<u8> {
        let a = SoftwareSigner::new(p256());
        let b = SoftwareSigner::new(ed25519());
        match msg {
            TeepMessage::QueryRequest(_) => signed::sign_message_multi(msg, n, &[&a, &b]),
            _ => signed::sign_message(msg, n, &a),
        }
        .unwrap()
    }

    /// Token, challenge, err-code and number of manifests, owned.
    type Fields = (Option<Vec<u8>>, Option<Vec<u8>>, Option<u64>, usize);

    /// A decoded message's fields in the shape of [`PeekedMessage`] (owned), if it is of the
    /// kind expected.
    fn fields(msg: TeepMessage, n: Numbering, query: bool) -> Option<Fields> {
        match msg {
            TeepMessage::QueryRequest(q) if query => Some((q.token, q.challenge, None, 0)),
            TeepMessage::Update(u) if !query => Some((
                u.token,
                None,
                u.err_code.map(|c| c.value(n)),
                u.manifest_list.len(),
            )),
            _ => None,
        }
    }

    /// What the full decoder reads.
    fn full(bytes: &[u8], n: Numbering, query: bool) -> Option<Fields> {
        let (_, msg) = signed::open_message(bytes, n).ok()?;
        fields(msg, n, query)
    }

    fn peeked(bytes: &[u8], n: Numbering, query: bool) -> Option<Fields> {
        let m = if query {
            peek_query_request(bytes, n)
        } else {
            peek_update(bytes, n)
        }
        .ok()?;
        Some((
            m.token.map(<[u8]>::to_vec),
            m.challenge.map(<[u8]>::to_vec),
            m.err_code,
            m.manifests,
        ))
    }

    fn valid_messages() -> Vec<(Vec<u8>, Numbering, bool)> {
        let mut v = Vec::new();
        for n in [Numbering::Draft26, Numbering::Legacy] {
            for (t, c) in [
                (Some(vec![1u8; 8]), Some(vec![2u8; 512])),
                (None, Some(vec![3u8; 32])),
                (Some(vec![4u8; 64]), None),
                (None, None),
            ] {
                let q = query_request(t, c);
                v.push((signed_by_tam(&q, n), n, true));
                // A COSE_Sign1 QueryRequest, untagged too.
                let a = SoftwareSigner::new(ed25519());
                v.push((signed::sign_message(&q, n, &a).unwrap(), n, true));
                v.push((
                    teep_cose::sign1_untagged(&q.encode(n), &a).unwrap(),
                    n,
                    true,
                ));
            }
            v.push((
                signed_by_tam(&update(Some(vec![5u8; 20]), 1, None), n),
                n,
                false,
            ));
            v.push((
                signed_by_tam(&update(Some(vec![6u8; 8]), 3, None), n),
                n,
                false,
            ));
            v.push((
                signed_by_tam(
                    &update(None, 0, Some(ErrorCode::ManifestProcessingFailed)),
                    n,
                ),
                n,
                false,
            ));
            v.push((signed_by_tam(&update(None, 0, None), n), n, false));
        }
        v
    }

    #[test]
    fn peek_reads_what_the_full_decoder_reads() {
        for (bytes, n, query) in valid_messages() {
            let f = full(&bytes, n, query).expect("full decoder accepts the fixture");
            assert_eq!(peeked(&bytes, n, query), Some(f));
        }
        let q = signed_by_tam(
            &query_request(Some(vec![1; 8]), Some(vec![2; 8])),
            Numbering::Draft26,
        );
        assert_eq!(
            peek_query_request(&q, Numbering::Draft26)
                .unwrap()
                .signatures,
            2
        );
        let u = signed_by_tam(
            &update(None, 0, Some(ErrorCode::TemporaryError)),
            Numbering::Draft26,
        );
        let m = peek_update(&u, Numbering::Draft26).unwrap();
        assert_eq!((m.err_msg, m.signatures), (Some("no room"), 1));
    }

    #[test]
    fn peek_rejects_every_truncation_and_trailing_bytes() {
        for (bytes, n, query) in valid_messages() {
            for cut in 0..bytes.len() {
                assert_eq!(peeked(&bytes[..cut], n, query), None, "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0x00);
            assert_eq!(peeked(&longer, n, query), None);
        }
    }

    fn peek_message_q(b: &[u8], n: Numbering) -> Result<PeekedMessage<'_>, SimError> {
        peek_message(b, n, teep_proto::MessageType::QueryRequest)
    }

    fn peek_message_u(b: &[u8], n: Numbering) -> Result<PeekedMessage<'_>, SimError> {
        peek_message(b, n, teep_proto::MessageType::Update)
    }

    #[test]
    fn peek_errors_carry_the_full_decoders_hints() {
        // A draft -26 QueryRequest read as legacy: label 20 is the token in legacy numbering.
        let q = query_request(Some(vec![1; 8]), Some(vec![2; 8]));
        let q = TeepMessage::QueryRequest(match q {
            TeepMessage::QueryRequest(mut q) => {
                q.supported_freshness_mechanisms = vec![teep_proto::FreshnessMechanism::Nonce];
                q
            }
            _ => unreachable!(),
        });
        let bytes = signed_by_tam(&q, Numbering::Draft26);
        let own = peek_message_q(&bytes, Numbering::Legacy)
            .unwrap_err()
            .to_string();
        let full = signed::open_message(&bytes, Numbering::Legacy)
            .unwrap_err()
            .to_string();
        assert_eq!(
            peek_query_request(&bytes, Numbering::Legacy)
                .unwrap_err()
                .to_string(),
            format!("TAM message: {full}")
        );
        assert!(full.contains("looks like a draft-26-numbered"), "{full}");
        assert!(!own.contains("draft-26"), "{own}");
        // Accepted by the full decoder but not what was expected: our own error.
        let u = signed_by_tam(&update(Some(vec![5; 8]), 1, None), Numbering::Draft26);
        assert!(peek_query_request(&u, Numbering::Draft26)
            .unwrap_err()
            .to_string()
            .contains("expected QueryRequest"));
    }

    #[track_caller]
    fn err(r: Result<PeekedMessage<'_>, SimError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn peek_rejects_what_the_full_decoder_rejects() {
        let n = Numbering::Draft26;
        let a = SoftwareSigner::new(p256());
        let sign = |payload: &[u8]| teep_cose::sign1(payload, &a).unwrap();

        // Short token: the error names the path and the rule.
        let q = query_request(Some(vec![1; 8]), None).encode(n);
        let mut short = q.clone();
        let at = short
            .windows(9)
            .position(|w| w == [0x48, 1, 1, 1, 1, 1, 1, 1, 1])
            .unwrap();
        short.splice(at..at + 9, [0x44, 1, 1, 1, 1]);
        let e = err(peek_message_q(&sign(&short), n));
        assert!(
            e.contains("QueryRequest.options.token: expected bstr of 8..64 bytes, got 4"),
            "{e}"
        );
        assert!(signed::open_message(&sign(&short), n).is_err());

        // A message of another type, or in the other numbering.
        let u = signed_by_tam(&update(Some(vec![5; 8]), 1, None), n);
        assert!(err(peek_message_q(&u, n)).contains("expected QueryRequest"));
        let qs = signed_by_tam(&query_request(None, None), n);
        assert!(err(peek_message_u(&qs, n)).contains("expected Update"));
        let success = signed::sign_message(
            &TeepMessage::Success(Success::default()),
            Numbering::Legacy,
            &a,
        )
        .unwrap();
        assert!(peek_message_u(&success, n).is_err());

        // Hand-made payloads (all rejected by the full decoder as well).
        let bad: Vec<(&str, Vec<u8>)> = vec![
            (
                "duplicate label",
                vec![
                    0x82, 0x03, 0xa2, 0x13, 0x48, 1, 1, 1, 1, 1, 1, 1, 1, 0x13, 0x48, 1, 1, 1, 1,
                    1, 1, 1, 1,
                ],
            ),
            ("indefinite", vec![0x9f, 0x03, 0xa0, 0xff]),
            ("indefinite", vec![0x82, 0x03, 0xbf, 0xff]),
            ("non-empty array", vec![0x82, 0x03, 0xa1, 0x09, 0x80]),
            ("uint label", vec![0x82, 0x03, 0xa1, 0x20, 0x00]),
            ("expected array of 2 elements", vec![0x83, 0x03, 0xa0, 0x00]),
            ("uint err-code", vec![0x82, 0x03, 0xa1, 0x16, 0x20]),
            ("tstr of 1..128", vec![0x82, 0x03, 0xa1, 0x0b, 0x60]),
            ("UTF-8", vec![0x82, 0x03, 0xa1, 0x0b, 0x61, 0xff]),
            ("trailing", vec![0x82, 0x03, 0xa0, 0x00]),
            (
                "cannot fit",
                vec![
                    0x82, 0x03, 0xa1, 0x18, 0x63, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                    0xff,
                ],
            ),
            (
                "exceeds",
                vec![0x82, 0x03, 0xa1, 0x18, 0x63, 0x5a, 0xff, 0xff, 0xff, 0xff],
            ),
            ("reserved", vec![0x82, 0x03, 0xa1, 0x18, 0x63, 0x1c]),
            (
                "simple value",
                vec![0x82, 0x03, 0xa1, 0x18, 0x63, 0xf8, 0x01],
            ),
        ];
        for (want, payload) in bad {
            let bytes = sign(&payload);
            let e = match peek_message_u(&bytes, n) {
                Ok(m) => panic!("{want}: accepted as {m:?}"),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(want), "{want}: {e}");
            assert!(
                signed::open_message(&bytes, n).is_err(),
                "{want}: full decoder accepts"
            );
        }

        // Nesting beyond the limit inside an unknown option.
        let mut deep = vec![0x82, 0x03, 0xa1, 0x18, 0x63];
        deep.extend(std::iter::repeat_n(0x81, 40));
        deep.push(0x00);
        assert!(err(peek_message_u(&sign(&deep), n)).contains("nesting deeper"));
        assert!(signed::open_message(&sign(&deep), n).is_err());

        // COSE layer: detached payload, unknown tag, Sign1 tag around a COSE_Sign.
        let ok = update(Some(vec![5; 8]), 1, None).encode(n);
        let detached = teep_cose::sign1_detached(&ok, &a).unwrap();
        assert!(err(peek_message_u(&detached, n)).contains("detached"));
        let mut tag17 = sign(&ok);
        tag17[0] = 0xd1;
        assert!(err(peek_message_u(&tag17, n)).contains("unexpected tag 17"));
        let multi = teep_cose::sign(&ok, &[&a]).unwrap();
        assert!(peek_message_u(&multi, n).is_ok());
        assert_eq!(multi[..2], [0xd8, 0x62]);
        let mut as_sign1 = multi.clone();
        as_sign1.splice(0..2, [0xd2]);
        assert!(err(peek_message_u(&as_sign1, n)).contains("expected bstr (COSE_Sign1)"));
        assert!(signed::open_message(&as_sign1, n).is_err());
    }

    /// Random mutations of valid messages: the reader never panics, and whatever the full
    /// decoder accepts, it accepts with the same fields.
    #[test]
    fn peek_agrees_with_the_full_decoder_on_mutations() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut accepted, mut rejected) = (0, 0);
        for (bytes, n, query) in valid_messages() {
            for _ in 0..300 {
                let mut m = bytes.clone();
                for _ in 0..1 + rnd() % 3 {
                    let i = (rnd() % m.len() as u64) as usize;
                    match rnd() % 3 {
                        0 => m[i] = rnd() as u8,
                        1 => m[i] ^= 1 << (rnd() % 8),
                        _ => {
                            m.remove(i);
                        }
                    }
                    if m.is_empty() {
                        break;
                    }
                }
                let p = peeked(&m, n, query);
                match signed::open_message(&m, n) {
                    Ok((_, msg)) => {
                        if let Some(f) = fields(msg, n, query) {
                            assert_eq!(p, Some(f), "{}", hex::encode(&m));
                            accepted += 1;
                        }
                    }
                    Err(_) => rejected += 1,
                }
            }
        }
        // The mutations must reach both outcomes for the test to mean anything.
        assert!(
            accepted > 50 && rejected > 50,
            "{accepted} accepted, {rejected} rejected"
        );
    }
}
