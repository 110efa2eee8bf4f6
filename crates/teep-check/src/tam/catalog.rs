//! The cases run against a TAM, in the order they run. Ids are stable: reports, CI jobs and
//! bug reports refer to them.

use crate::{case, Case, Level};

pub const EMPTY_POST: &str = "tam.http.empty-post";
pub const SECURITY_HEADERS: &str = "tam.http.security-headers";
pub const NO_CACHE_CONTROL: &str = "tam.http.no-cache-control";
pub const UNSUPPORTED_MEDIA_TYPE: &str = "tam.http.unsupported-media-type";
pub const NOT_ACCEPTABLE: &str = "tam.http.not-acceptable";
pub const POST_ONLY: &str = "tam.http.post-only";
pub const INVALID_DROPPED: &str = "tam.message.invalid-dropped";
pub const PAYLOAD_TOO_LARGE: &str = "tam.http.payload-too-large";
pub const QR_DECODES: &str = "tam.query-request.decodes";
pub const QR_SIGNED: &str = "tam.query-request.signed";
pub const QR_VERIFIES: &str = "tam.query-request.signature-verifies";
pub const QR_SUITES: &str = "tam.query-request.mandatory-suites";
pub const QR_SIGNATURE_PER_SUITE: &str = "tam.query-request.signature-per-suite";
pub const QR_TOKEN_RULE: &str = "tam.query-request.token-and-attestation-bit";
pub const QR_FRESHNESS_RULE: &str = "tam.query-request.freshness-with-attestation-only";
pub const QR_FRESH_TOKENS: &str = "tam.query-request.fresh-tokens";
pub const QR_SUIT_PROFILES: &str = "tam.query-request.suit-cose-profiles";
pub const QRESP_ANSWERED: &str = "tam.query-response.answered";
pub const QRESP_REPLAY: &str = "tam.query-response.replay-refused";
pub const QRESP_BAD_SIGNATURE: &str = "tam.query-response.bad-signature-refused";
pub const QRESP_UNKNOWN_TOKEN: &str = "tam.query-response.unknown-token-refused";
pub const QRESP_WRONG_KEY: &str = "tam.query-response.wrong-key-refused";
pub const QRESP_UNOFFERED_SUITE: &str = "tam.query-response.unoffered-suite-refused";
pub const QRESP_UNKNOWN_OPTION: &str = "tam.query-response.unknown-option-ignored";
pub const QRESP_MISSING_ITEM: &str = "tam.query-response.requested-item-missing";
pub const REFUSAL_EXPLAINED: &str = "tam.refusal.explained";
pub const UPDATE_SUITE: &str = "tam.update.signed-in-the-agent-suite";
pub const UPDATE_TOKEN: &str = "tam.update.fresh-token";
pub const UPDATE_ENVELOPES: &str = "tam.update.manifest-list-envelopes";
pub const SUCCESS_ACCEPTED: &str = "tam.success.accepted";
pub const ERROR_ACCEPTED: &str = "tam.error.accepted";

/// Every TAM case.
pub static CATALOG: &[Case] = &[
    case(
        EMPTY_POST,
        "TEEP-HTTP §5.1.1, §6.1, §6.3",
        Level::Must,
        "POST with Accept: application/teep+cbor and an empty body (no Content-Type, as §7 step 4)",
        "200 with Content-Type application/teep+cbor and a TEEP message",
    ),
    case(
        SECURITY_HEADERS,
        "TEEP-HTTP §4",
        Level::Should,
        "(the answer to the empty POST)",
        "X-Content-Type-Options: nosniff, Content-Security-Policy: default-src 'none', Referrer-Policy: no-referrer",
    ),
    case(
        NO_CACHE_CONTROL,
        "TEEP-HTTP §4",
        Level::Must,
        "(the answer to the empty POST)",
        "no Cache-Control header (one present is a deviation: POST answers are not cached anyway)",
    ),
    case(
        UNSUPPORTED_MEDIA_TYPE,
        "TEEP-HTTP §6.1",
        Level::Should,
        "POST of a body with Content-Type: application/json",
        "415",
    ),
    case(
        NOT_ACCEPTABLE,
        "TEEP-HTTP §6.1",
        Level::Should,
        "empty POST with Accept: application/json",
        "an error status (406), no TEEP message",
    ),
    case(
        POST_ONLY,
        "TEEP-HTTP §4",
        Level::Should,
        "GET of the TAM URI",
        "405",
    ),
    case(
        INVALID_DROPPED,
        "TEEP-26 §4.1; TEEP-HTTP §6.4",
        Level::Must,
        "POST of an unsigned TEEP message (a bare QueryResponse)",
        "no TEEP message back (the TAM drops it): an error status or an empty 2xx",
    ),
    case(
        PAYLOAD_TOO_LARGE,
        "TEEP-HTTP §6.1; RFC 9110 §15.5.14",
        Level::Should,
        "POST of a 32 MiB body with Content-Type: application/teep+cbor and Expect: 100-continue",
        "413 (another 4xx, or a closed connection, is a deviation): a body limit far below it",
    ),
    case(
        QR_DECODES,
        "TEEP-26 §4.2",
        Level::Must,
        "(the answer to the empty POST)",
        "a QueryRequest valid under the CDDL, in the numbering chosen or detected",
    ),
    case(
        QR_SIGNED,
        "TEEP-26 §4.1, §8.1",
        Level::Must,
        "(the answer to the empty POST)",
        "a COSE_Sign1 or COSE_Sign, every signature with an algorithm",
    ),
    case(
        QR_VERIFIES,
        "TEEP-26 §4.1; RFC 9052 §4",
        Level::Must,
        "(the answer to the empty POST; needs --tam-key)",
        "a signature that the TAM's key verifies",
    ),
    case(
        QR_SUITES,
        "TEEP-26 §8.1",
        Level::Must,
        "(the answer to the empty POST)",
        "supported-teep-cipher-suites offers sign1-esp256 and sign1-ed25519 (a TAM supports both)",
    ),
    case(
        QR_SIGNATURE_PER_SUITE,
        "TEEP-26 §8.1",
        Level::Must,
        "(the answer to the empty POST, to a device the TAM has not met)",
        "one suite: COSE_Sign1 or COSE_Sign in it; several: a COSE_Sign with one signature per suite's algorithm",
    ),
    case(
        QR_TOKEN_RULE,
        "TEEP-26 §4.2",
        Level::Must,
        "(the answer to the empty POST)",
        "token present if and only if the attestation bit is clear",
    ),
    case(
        QR_FRESHNESS_RULE,
        "TEEP-26 §4.2",
        Level::Must,
        "(the answer to the empty POST)",
        "supported-freshness-mechanisms and challenge absent when the attestation bit is clear",
    ),
    case(
        QR_FRESH_TOKENS,
        "TEEP-26 §4.2",
        Level::Must,
        "a second empty POST",
        "a QueryRequest whose token (and challenge) differ from the first one's",
    ),
    case(
        QR_SUIT_PROFILES,
        "TEEP-26 §8.2",
        Level::Must,
        "(the answer to the empty POST)",
        "supported-suit-cose-profiles lists the four mandatory profiles (ESP256 and Ed25519 with A128CTR, ESP256 with A128GCM, Ed25519 with ChaCha20-Poly1305)",
    ),
    case(
        QRESP_ANSWERED,
        "TEEP-26 §7.1.1 (handling a QueryResponse)",
        Level::Must,
        "a valid QueryResponse from a simulated agent (fresh key, or --agent-key), with Evidence for the challenge",
        "200 with an Update, or 204",
    ),
    case(
        QRESP_REPLAY,
        "TEEP-26 §4.1 (a token expires after its first validly signed answer)",
        Level::Must,
        "the same QueryResponse again",
        "no Update",
    ),
    case(
        QRESP_BAD_SIGNATURE,
        "TEEP-26 §4.1; RFC 9052 §4",
        Level::Must,
        "a QueryResponse to a fresh QueryRequest whose signature has one bit flipped",
        "no Update",
    ),
    case(
        QRESP_UNKNOWN_TOKEN,
        "TEEP-26 §4.3",
        Level::Must,
        "a validly signed QueryResponse carrying a token the TAM never issued",
        "no Update",
    ),
    case(
        QRESP_WRONG_KEY,
        "TEEP-26 §4.1, §7.1",
        Level::Must,
        "a fresh QueryRequest answered with one device's QueryResponse (its Evidence) signed by another, unknown key",
        "no Update",
    ),
    case(
        QRESP_UNOFFERED_SUITE,
        "TEEP-26 §8.1",
        Level::Should,
        "a fresh QueryRequest answered with a validly signed QueryResponse in a suite it did not offer (COSE_Sign with ESP256, [[98, -9]])",
        "no Update (an Update is the deviation tam.unoffered-suite-accepted; n/a when the TAM offers a COSE_Sign suite)",
    ),
    case(
        QRESP_UNKNOWN_OPTION,
        "TEEP-26 §4 (unknown labels are ignored; extension sockets)",
        Level::Should,
        "a valid QueryResponse to a fresh QueryRequest with an extra option, label 1000 = \"teep-check\"",
        "the answer the same QueryResponse gets without it (an Update, or 204)",
    ),
    case(
        QRESP_MISSING_ITEM,
        "TEEP-26 §7.1.1 (handling a QueryResponse)",
        Level::Must,
        "a QueryResponse without tc-list to a QueryRequest that set the trusted-components bit",
        "an Update carrying err-code (and err-msg), not holdings guessed from the absence",
    ),
    case(
        REFUSAL_EXPLAINED,
        "TEEP-HTTP §6.4; docs/CONFORMANCE.md",
        Level::Informative,
        "(the answers to the replayed, altered and unknown-token QueryResponses)",
        "a reason a developer can read: a text or JSON body naming the rule",
    ),
    case(
        UPDATE_SUITE,
        "TEEP-26 §8.1",
        Level::Must,
        "(the Update answering the valid QueryResponse, signed ESP256)",
        "a COSE_Sign1 in the agent's suite (ESP256, or ES256, the same computation), verified by --tam-key when given",
    ),
    case(
        UPDATE_TOKEN,
        "TEEP-26 §4.4",
        Level::Must,
        "(the Update answering the valid QueryResponse)",
        "a token, different from the QueryRequest's",
    ),
    case(
        UPDATE_ENVELOPES,
        "TEEP-26 §4.4 (manifest-list => [+ bstr .cbor SUIT_Envelope])",
        Level::Must,
        "(the Update answering the valid QueryResponse)",
        "every manifest-list entry an untagged SUIT_Envelope whose manifest digest matches (tag 107 is a deviation)",
    ),
    case(
        SUCCESS_ACCEPTED,
        "TEEP-26 §4.5",
        Level::Must,
        "Success echoing the Update's token",
        "2xx (no TEEP message, or the TAM's next one)",
    ),
    case(
        ERROR_ACCEPTED,
        "TEEP-26 §4.6",
        Level::Must,
        "on a second device's Update: Error ERR_TEMPORARY_ERROR echoing its token",
        "2xx (no TEEP message, or the TAM's next one)",
    ),
];
