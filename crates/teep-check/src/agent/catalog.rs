//! The cases run against a TEEP Agent, in the order they run. Ids are stable: reports, CI jobs
//! and bug reports refer to them.

use crate::{case, Case, Level};

pub const EMPTY_POST: &str = "agent.http.empty-post";
pub const CONTENT_TYPE: &str = "agent.http.content-type";
pub const QRESP_ANSWERED: &str = "agent.query-response.answered";
pub const QRESP_SUITE: &str = "agent.query-response.suite-mirrored";
pub const QRESP_NUMBERING: &str = "agent.query-response.numbering-mirrored";
pub const QRESP_LEGACY: &str = "agent.query-response.legacy-numbering-mirrored";
pub const QRESP_TOKEN: &str = "agent.query-response.token-echoed";
pub const QRESP_TC_LIST: &str = "agent.query-response.tc-list";
pub const QRESP_NO_TOKEN: &str = "agent.query-response.no-token-when-none-sent";
pub const QRESP_EVIDENCE: &str = "agent.query-response.evidence-nonce";
pub const QR_UNKNOWN_OPTIONS: &str = "agent.query-request.unknown-options-ignored";
pub const QR_VERSIONS: &str = "agent.query-request.unsupported-versions";
pub const QR_SUITES: &str = "agent.query-request.unsupported-suites";
pub const QR_FRESHNESS: &str = "agent.query-request.unsupported-freshness";
pub const QR_BAD_SIGNATURE: &str = "agent.query-request.bad-signature";
pub const QR_UNTRUSTED_KEY: &str = "agent.query-request.untrusted-key";
pub const UPDATE_INSTALL: &str = "agent.update.install";
pub const UPDATE_SUCCESS_TOKEN: &str = "agent.update.success-token-echoed";
pub const UPDATE_BAD_SIGNATURE: &str = "agent.update.bad-signature";
pub const UPDATE_UNTRUSTED_KEY: &str = "agent.update.untrusted-tam-key";
pub const UPDATE_ROLLBACK: &str = "agent.update.rollback-refused";
pub const UPDATE_ERROR_TOKEN: &str = "agent.update.error-token-echoed";
pub const UPDATE_TAMPERED: &str = "agent.update.tampered-manifest";
pub const UPDATE_SUIT_REPORT: &str = "agent.update.error-suit-report";
pub const UPDATE_UNTRUSTED_SIGNER: &str = "agent.update.untrusted-tc-signer";
pub const UPDATE_UNNEEDED: &str = "agent.update.unneeded-deleted";

/// Every agent case.
pub static CATALOG: &[Case] = &[
    case(
        EMPTY_POST,
        "TEEP-HTTP §5.1.1, §7",
        Level::Must,
        "(the agent opens a session with the checker's TAM URI)",
        "a POST with an empty body and Accept: application/teep+cbor",
    ),
    case(
        CONTENT_TYPE,
        "TEEP-HTTP §5.2, §7",
        Level::Must,
        "a QueryRequest",
        "the answer POSTed with Content-Type: application/teep+cbor",
    ),
    case(
        QRESP_ANSWERED,
        "TEEP-26 §4.3; Agent behaviour (QueryRequest)",
        Level::Must,
        "a QueryRequest (COSE_Sign1 ESP256, token, trusted-components bit, suite sign1-esp256)",
        "a QueryResponse, COSE_Sign1 or COSE_Sign",
    ),
    case(
        QRESP_SUITE,
        "TEEP-26 §8.1",
        Level::Must,
        "(the QueryRequest offering only sign1-esp256)",
        "the QueryResponse signed COSE_Sign1 with ESP256 (-9)",
    ),
    case(
        QRESP_NUMBERING,
        "TEEP-26 §4",
        Level::Must,
        "(the QueryRequest, in the numbering of TEEP-26)",
        "the QueryResponse in the same numbering",
    ),
    case(
        QRESP_LEGACY,
        "TEEP-26 §4 (numbering of drafts -20 to -25)",
        Level::Informative,
        "a QueryRequest (token, trusted-components) in the numbering of drafts -20 to -25 (token 20)",
        "a QueryResponse in the same numbering (n/a when the agent speaks TEEP-26 only)",
    ),
    case(
        QRESP_TOKEN,
        "TEEP-26 §4.3 (token)",
        Level::Must,
        "(the QueryRequest with a token)",
        "the QueryResponse carries the same token",
    ),
    case(
        QRESP_TC_LIST,
        "TEEP-26 §4.3 (tc-list)",
        Level::Must,
        "(the QueryRequest with the trusted-components bit)",
        "tc-list present; on a fresh agent the draft contradicts itself (prose: present; CDDL: no empty list), so [] or none is a deviation",
    ),
    case(
        QRESP_NO_TOKEN,
        "TEEP-26 §4.3 (token)",
        Level::Must,
        "a QueryRequest with the attestation bit, a challenge and no token",
        "a QueryResponse without token",
    ),
    case(
        QRESP_EVIDENCE,
        "TEEP-26 §4.3 (attestation-payload), §5",
        Level::Must,
        "(the QueryRequest with the attestation bit and a challenge)",
        "attestation-payload present; an EAT's eat_nonce equals the challenge",
    ),
    case(
        QR_UNKNOWN_OPTIONS,
        "TEEP-26 §4 (unknown labels)",
        Level::Should,
        "a QueryRequest with options 99 and 1000 that no draft defines",
        "a QueryResponse (the options ignored)",
    ),
    case(
        QR_VERSIONS,
        "TEEP-26 §4.6; Agent behaviour (QueryRequest)",
        Level::Must,
        "a QueryRequest whose versions are [7]",
        "an Error ERR_UNSUPPORTED_MSG_VERSION listing the versions the agent supports",
    ),
    case(
        QR_SUITES,
        "TEEP-26 §4.6, §8.1",
        Level::Must,
        "a QueryRequest whose only suite is [[18, -65537]] (a private-use algorithm)",
        "an Error ERR_UNSUPPORTED_CIPHER_SUITES listing the suites the agent supports",
    ),
    case(
        QR_FRESHNESS,
        "TEEP-26 §4.6, §5",
        Level::Must,
        "a QueryRequest with the attestation bit whose only freshness mechanism is timestamp",
        "an Error ERR_UNSUPPORTED_FRESHNESS_MECHANISMS listing the agent's (n/a when it supports timestamps)",
    ),
    case(
        QR_BAD_SIGNATURE,
        "TEEP-26 §4.1; RFC 9052 §4",
        Level::Must,
        "a QueryRequest whose signature has one bit flipped",
        "no QueryResponse (an Error, or nothing)",
    ),
    case(
        QR_UNTRUSTED_KEY,
        "TEEP-26 §4.1",
        Level::Must,
        "a QueryRequest signed by a key the agent was not told to trust",
        "no QueryResponse (an Error, or nothing)",
    ),
    case(
        UPDATE_INSTALL,
        "TEEP-26 §4.4, §4.5; Agent behaviour (Update)",
        Level::Must,
        "an Update with a valid manifest (integrated payload), then a QueryRequest for the tc-list",
        "a Success, then the component in the tc-list",
    ),
    case(
        UPDATE_SUCCESS_TOKEN,
        "TEEP-26 §4.5 (token)",
        Level::Must,
        "(the Update with a token)",
        "the Success carries the Update's token",
    ),
    case(
        UPDATE_BAD_SIGNATURE,
        "TEEP-26 §4.1",
        Level::Must,
        "an Update with a valid manifest whose TEEP signature has one bit flipped; in a second session a QueryRequest",
        "no Success; the component not in the tc-list",
    ),
    case(
        UPDATE_UNTRUSTED_KEY,
        "TEEP-26 §4.1",
        Level::Must,
        "an Update with a valid manifest signed by a TAM key the agent does not trust; in a second session a QueryRequest",
        "no Success; the component not in the tc-list",
    ),
    case(
        UPDATE_ROLLBACK,
        "TEEP-26 Agent behaviour (Update); SUIT manifest (suit-manifest-sequence-number)",
        Level::Must,
        "the component installed at sequence number 2, then an Update with sequence number 1, then a QueryRequest",
        "an Error; the tc-list still shows the installed image",
    ),
    case(
        UPDATE_ERROR_TOKEN,
        "TEEP-26 §4.6 (token)",
        Level::Must,
        "(the Update with sequence number 1, with a token)",
        "the Error carries the Update's token",
    ),
    case(
        UPDATE_TAMPERED,
        "TEEP-26 Agent behaviour (Update); SUIT manifest (authentication)",
        Level::Must,
        "the component installed, then an Update whose manifest has one byte altered after signing, then a QueryRequest",
        "an Error; the tc-list still shows the installed image",
    ),
    case(
        UPDATE_SUIT_REPORT,
        "TEEP-26 §4.6 (suit-reports)",
        Level::Should,
        "(the Update with the altered manifest)",
        "the Error carries suit-reports, each nonce the Update's token",
    ),
    case(
        UPDATE_UNTRUSTED_SIGNER,
        "TEEP-26 Agent behaviour (Update); SUIT manifest (authentication)",
        Level::Must,
        "the component installed, then an Update whose manifest is signed by a TC signer the agent does not trust, then a QueryRequest",
        "an Error; the tc-list still shows the installed image",
    ),
    case(
        UPDATE_UNNEEDED,
        "TEEP-26 §4.4 (unneeded-manifest-list); Agent behaviour (Update)",
        Level::Must,
        "the component installed, then an Update listing its manifest component id in unneeded-manifest-list, then a QueryRequest",
        "a Success; the component no longer in the tc-list",
    ),
];
