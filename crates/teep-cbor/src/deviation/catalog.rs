//! Every deviation teep tolerates on receive. Add new kinds here and to [`ALL`]; codes are
//! stable (dumps, audit records and metrics keep them), so a code is never renamed or reused.
//!
//! Sections cite draft-ietf-teep-protocol-26 ("TEEP-26"), draft-ietf-teep-otrp-over-http-15
//! ("TEEP-HTTP"), RFC 9052 (COSE), draft-ietf-suit-manifest, RFC 9711 (EAT).

use super::DeviationKind;

/// `kid` present but an empty bstr (tamproto with a key that has no kid). RFC 9052 types kid as
/// any bstr; an empty one identifies nothing, so it is read as "no kid".
pub static COSE_KID_EMPTY: DeviationKind = DeviationKind {
    code: "cose.kid-empty",
    section: "RFC 9052 §3.1 (kid); TEEP-26 §5 (kid is an RFC 9679 thumbprint)",
    reading: "kid is an empty bstr; read as no kid",
};

/// A tagged SUIT_Envelope (tag 107) inside manifest-list (AttesTAM's preloaded TC). The CDDL says
/// `bstr .cbor SUIT_Envelope`; `SUIT_Envelope_Tagged` is a different rule, but the tag adds
/// nothing but its number.
pub static SUIT_ENVELOPE_TAGGED: DeviationKind = DeviationKind {
    code: "suit.envelope-tagged",
    section: "TEEP-26 §4.4 CDDL (manifest-list => [+ bstr .cbor SUIT_Envelope])",
    reading: "SUIT_Envelope carries tag 107 (SUIT_Envelope_Tagged); the tag is dropped",
};

/// `tc-list: []` (libteep). CDDL says `[+ …]`, the prose says tc-list MUST be present when the
/// trusted-components bit is set: read as "holds nothing".
pub static TEEP_TC_LIST_EMPTY: DeviationKind = DeviationKind {
    code: "teep.tc-list-empty",
    section: "TEEP-26 §4.3 CDDL (tc-list => [+ system-property-claims])",
    reading: "tc-list is an empty array; read as no Trusted Components installed",
};

/// `ext-list: []`. CDDL says `[+ uint]`, the prose says ext-list MUST be present when the
/// extensions bit is set; no extension is defined yet, so an agent asked has only `[]` to
/// send: read as "supports no extension".
pub static TEEP_EXT_LIST_EMPTY: DeviationKind = DeviationKind {
    code: "teep.ext-list-empty",
    section: "TEEP-26 §4.3 CDDL (ext-list => [+ ext-info])",
    reading: "ext-list is an empty array; read as no extension supported",
};

/// Two-element `supported-suit-cose-profiles` entries such as `[-7, 1]` (tamproto, draft-12 era),
/// accepted on the legacy path only.
pub static TEEP_SUIT_COSE_PROFILE_TWO_ELEMENTS: DeviationKind = DeviationKind {
    code: "teep.suit-cose-profile-two-elements",
    section: "TEEP-26 §8.2 ($suit-cose-profile is [digest, auth, key-exchange, encryption])",
    reading: "a two-element draft-12 SUIT COSE profile [auth, encryption]; read as that pair",
};

/// `supported-freshness-mechanisms` present while the attestation bit is clear (tamproto).
pub static TEEP_FRESHNESS_WITHOUT_ATTESTATION: DeviationKind = DeviationKind {
    code: "teep.freshness-without-attestation",
    section: "TEEP-26 §4.2 (supported-freshness-mechanisms MUST be absent if the attestation bit is clear)",
    reading: "supported-freshness-mechanisms present with the attestation bit clear; ignored",
};

/// The removed `selected-teep-cipher-suite` (legacy label 5, dropped Nov 2023) in a legacy
/// QueryResponse (libteep).
pub static TEEP_SELECTED_CIPHER_SUITE: DeviationKind = DeviationKind {
    code: "teep.selected-cipher-suite",
    section:
        "TEEP-26 §4.3 (selected-teep-cipher-suite removed after draft-16; legacy label 5 unused)",
    reading: "legacy selected-teep-cipher-suite (label 5) present; ignored",
};

/// An Error whose err-code is outside the defined codes (libteep sends uninitialised memory).
pub static TEEP_ERR_CODE_UNDEFINED: DeviationKind = DeviationKind {
    code: "teep.err-code-undefined",
    section: "TEEP-26 §4.6 (err-code uint (1..23), err-code-values)",
    reading: "err-code is not a defined code; read as ERR_PERMANENT_ERROR",
};

/// A response to a TEEP POST with `Content-Type: application/teep+cose` (tamproto).
pub static HTTP_CONTENT_TYPE_TEEP_COSE: DeviationKind = DeviationKind {
    code: "http.content-type-teep-cose",
    section: "TEEP-HTTP §4, §6.3 (Content-Type: application/teep+cbor)",
    reading: "response Content-Type is application/teep+cose; read as application/teep+cbor",
};

/// A TAM that answers 415 to the session-opening empty POST because it has no Content-Type
/// (AttesTAM); the Broker retries it once with `Content-Type: application/teep+cbor`.
pub static HTTP_EMPTY_POST_NEEDS_CONTENT_TYPE: DeviationKind = DeviationKind {
    code: "http.empty-post-needs-content-type",
    section: "TEEP-HTTP §5.1.1, §7 step 4 (the empty POST carries Accept, no Content-Type)",
    reading:
        "the TAM answered 415 to the empty POST; retried with Content-Type: application/teep+cbor",
};

/// A TAM response that carries `Cache-Control` (AttesTAM: `no-store`).
pub static HTTP_CACHE_CONTROL: DeviationKind = DeviationKind {
    code: "http.cache-control",
    section: "TEEP-HTTP §4 (the Cache-Control header MUST NOT be used)",
    reading: "response carries Cache-Control; ignored",
};

/// A QueryResponse without the token its QueryRequest carried (an agent that drops the token
/// when the attestation bit is set, reading -26 §4.2's "token iff the attestation bit is
/// clear" as its own rule). The TAM finds the session by the challenge in the evidence.
pub static TEEP_TOKEN_NOT_ECHOED: DeviationKind = DeviationKind {
    code: "teep.token-not-echoed",
    section: "TEEP-26 §4.3 (token: echo the QueryRequest's token if it had one)",
    reading: "token absent although the QueryRequest carried one; the session is the one whose challenge the evidence's eat_nonce carries",
};

/// A TEEP POST without an `Accept` header. The HTTP transport has the client send
/// `Accept: application/teep+cbor` and lets the server fail a request without a suitable one;
/// HTTP itself reads a missing Accept as "any media type" (RFC 9110 §12.5.1), so the meaning is
/// unambiguous. (An Accept that excludes the TEEP media type is refused with 406 in every mode.)
pub static HTTP_ACCEPT_MISSING: DeviationKind = DeviationKind {
    code: "http.accept-missing",
    section: "TEEP-HTTP §5.1.1, §5.2 (the client sends Accept with the TEEP media type), §6.1",
    reading:
        "request has no Accept header; read as accepting application/teep+cbor (RFC 9110 §12.5.1)",
};

/// An agent's message (QueryResponse, Success, Error) signed as COSE_Sign. Only the TAM's
/// first QueryRequest is a COSE_Sign; after it the selected suite, a COSE_Sign1 one, is used in
/// both directions and no suite is COSE_Sign. The signatures verify as they would in a
/// COSE_Sign1, so the meaning is unambiguous.
pub static TEEP_AGENT_COSE_SIGN: DeviationKind = DeviationKind {
    code: "teep.agent-cose-sign",
    section: "TEEP-26 §8.1 (the selected cipher suite is used in both directions after the first QueryRequest)",
    reading: "an agent's message is a COSE_Sign, a suite the QueryRequest did not offer; its signature is verified as usual",
};

/// An attestation-payload labelled (or, with no attestation-payload-format, defaulted to) the
/// TEEP EAT media type, which names an Attestation Result, but signed by the device's
/// attestation key: Evidence. teep's Agents before the media-type split, and others, label
/// their Evidence so. The signature says unambiguously who produced it, so it is appraised as
/// Evidence.
pub static TEEP_EVIDENCE_LABELLED_AS_RESULT: DeviationKind = DeviationKind {
    code: "teep.evidence-labelled-as-result",
    section: "TEEP-26 §4.3 (attestation-payload-format), §5 (the TEEP EAT media type is an Attestation Result's); RFC 9782",
    reading: "payload labelled as a TEEP Attestation Result is signed by the device attestation key; appraised as Evidence",
};

/// `manifests` entries as teep wrote them before: a media-type text and an array of texts
/// (`["application/suit-report+cose", ["urn:teep:manifest:…", seq]]`) instead of RFC 9711's
/// `[content-format uint, bstr-wrapped manifest]`.
pub static EAT_MANIFESTS_TEXT_FORM: DeviationKind = DeviationKind {
    code: "eat.manifests-text-form",
    section: "RFC 9711 §4.2.15 (manifest-format = [coap-content-format, bstr-wrapped manifest])",
    reading: "a manifests entry has a text content type or an unwrapped text body; counted as a manifest reference",
};

/// `manifests` written as claim 273 (RFC 9711's `measurements`), as the TEEP draft's example
/// EAT does; read as claim 272 when 272 is absent.
pub static EAT_MANIFESTS_LABEL_273: DeviationKind = DeviationKind {
    code: "eat.manifests-label-273",
    section:
        "RFC 9711 §4.2.15, §10 (manifests is claim 272; 273 is measurements); TEEP-26 §5 example",
    reading: "manifests carried as claim 273 with no claim 272; read as manifests",
};

/// A `manifests` entry whose body is a CBOR map (the TEEP draft example's SUIT_Reference)
/// instead of a bstr wrapping it.
pub static EAT_MANIFESTS_UNWRAPPED: DeviationKind = DeviationKind {
    code: "eat.manifests-unwrapped",
    section: "RFC 9711 §4.2.15 ($manifest-body-cbor is a bstr .cbor); TEEP-26 §5 example",
    reading: "a manifests entry's body is a CBOR map, not bstr-wrapped; read as the wrapped map",
};

/// A `manifests` entry's SUIT_Reference written as the TEEP draft example's map
/// `{1: uri, 0: digest}` inside the bstr, where draft-ietf-suit-report defines the array
/// `[uri, digest]`; the keys name the same two members, so the meaning is unambiguous.
pub static EAT_MANIFESTS_REFERENCE_MAP: DeviationKind = DeviationKind {
    code: "eat.manifests-reference-map",
    section: "draft-ietf-suit-report SUIT_Reference = [uri, SUIT_Digest] (DIGEST §8.6); TEEP-26 §5 example",
    reading: "a manifests entry's SUIT_Reference is a map {1: uri, 0: digest}; read as [uri, digest]",
};

/// Every kind, for metrics label sets, documentation and lookups by code.
pub static ALL: &[&DeviationKind] = &[
    &COSE_KID_EMPTY,
    &SUIT_ENVELOPE_TAGGED,
    &TEEP_TC_LIST_EMPTY,
    &TEEP_EXT_LIST_EMPTY,
    &TEEP_SUIT_COSE_PROFILE_TWO_ELEMENTS,
    &TEEP_FRESHNESS_WITHOUT_ATTESTATION,
    &TEEP_SELECTED_CIPHER_SUITE,
    &TEEP_ERR_CODE_UNDEFINED,
    &HTTP_CONTENT_TYPE_TEEP_COSE,
    &HTTP_EMPTY_POST_NEEDS_CONTENT_TYPE,
    &HTTP_CACHE_CONTROL,
    &TEEP_TOKEN_NOT_ECHOED,
    &HTTP_ACCEPT_MISSING,
    &TEEP_AGENT_COSE_SIGN,
    &TEEP_EVIDENCE_LABELLED_AS_RESULT,
    &EAT_MANIFESTS_TEXT_FORM,
    &EAT_MANIFESTS_LABEL_273,
    &EAT_MANIFESTS_UNWRAPPED,
    &EAT_MANIFESTS_REFERENCE_MAP,
];

/// The kind with this code.
pub fn by_code(code: &str) -> Option<&'static DeviationKind> {
    ALL.iter().copied().find(|k| k.code == code)
}
