//! HTTP peers that answer as the TAMs of the cross-tests were seen to (captured README, "HTTP-level
//! behaviour seen"), replaying their captured messages.

use std::sync::{Arc, Mutex};

use teep_proto::{Numbering, TeepMessage};

use super::captured;
use super::http_peer::{Peer, Request, Response};

/// The token of a captured legacy message (read tolerantly).
pub fn legacy_token(file: &str) -> Option<Vec<u8>> {
    let opened = teep_cose::open(&captured(file)).unwrap();
    let m = teep_proto::decode(opened.payload.as_deref().unwrap(), Numbering::Legacy).unwrap();
    m.token().map(|t| t.to_vec())
}

/// How an AttesTAM build behaves.
#[derive(Debug, Clone, Copy)]
pub struct AttesTam {
    /// The interop build: the empty POST is accepted without Content-Type, and the kid is read
    /// from the protected header too. The unmodified build answers 415 and 500 instead.
    pub interop_build: bool,
}

/// What AttesTAM has seen of the device.
#[derive(Debug, Default)]
pub struct AttesTamState {
    pub attested: bool,
    pub installed: bool,
}

/// AttesTAM a8bed7d in demo mode: `attestam_01` opens each session, `attestam_02` asks a device
/// that is not yet attested for Evidence, `attestam_04` installs `['hello.txt']` sequence 1, a
/// Success ends with a bare 204. Its 200s carry `Cache-Control: no-store` and the other headers
/// recorded; what it cannot read gets a 500 (`text/plain`, "Internal Server Error"): a message
/// that is not legacy-numbered, a kid outside the unprotected header (unmodified build), an
/// answer it cannot match to a message it sent.
pub fn attestam(build: AttesTam) -> (Peer, Arc<Mutex<AttesTamState>>) {
    let state = Arc::new(Mutex::new(AttesTamState::default()));
    let seen = state.clone();
    let query_token = legacy_token("attestam_01_query_request.cbor");
    let update_token = legacy_token("attestam_04_update_untagged_envelope.cbor");
    let peer = Peer::start("/tam", move |req: &Request| {
        let mut s = seen.lock().unwrap();
        let teep = |file: &str| {
            Response::new(
                200,
                &[
                    ("Cache-Control", "no-store"),
                    ("Content-Security-Policy", "default-src 'none'"),
                    ("Content-Type", "application/teep+cbor"),
                    ("Referrer-Policy", "no-referrer"),
                    ("Server", "Bar/2.2"),
                    ("X-Content-Type-Options", "nosniff"),
                ],
                captured(file),
            )
        };
        let failed = || {
            Response::new(
                500,
                &[("Content-Type", "text/plain; charset=utf-8")],
                "Internal Server Error\n",
            )
        };
        if req.header("content-type") != Some("application/teep+cbor") && !build.interop_build {
            return Response::new(
                415,
                &[("Content-Type", "text/plain; charset=utf-8")],
                "This endpoint only accepts Content-Type: application/teep+cbor\n",
            );
        }
        if req.body.is_empty() {
            return teep("attestam_01_query_request.cbor");
        }
        let Ok(opened) = teep_cose::open(&req.body) else {
            return failed();
        };
        let kid_readable = opened
            .signatures
            .first()
            .is_some_and(|sig| sig.kid.is_some() && (!sig.kid_protected || build.interop_build));
        if !kid_readable {
            return failed(); // "kid is missing"
        }
        let payload = opened.payload.as_deref().unwrap_or_default();
        let Ok(message) = teep_proto::decode(payload, Numbering::Legacy) else {
            return failed(); // "not a TEEP Message"
        };
        match message {
            TeepMessage::QueryResponse(r) if r.token == query_token => {
                if s.attested {
                    Response::new(204, &[("Server", "Bar/2.2")], Vec::new())
                } else {
                    teep("attestam_02_query_request_attestation_challenge.cbor")
                }
            }
            TeepMessage::QueryResponse(r)
                if r.token.is_none() && r.attestation_payload.is_some() =>
            {
                s.attested = true;
                if s.installed {
                    Response::new(204, &[("Server", "Bar/2.2")], Vec::new())
                } else {
                    teep("attestam_04_update_untagged_envelope.cbor")
                }
            }
            TeepMessage::Success(ok) if ok.token == update_token => {
                s.installed = true;
                Response::new(204, &[("Server", "Bar/2.2")], Vec::new())
            }
            // "corresponding sent message not found"
            _ => failed(),
        }
    });
    (peer, state)
}

/// How a tamproto setup behaves.
#[derive(Debug, Clone, Copy)]
pub struct Tamproto {
    /// Patch 0003 undone: responses typed `application/teep+cose`.
    pub teep_cose_content_type: bool,
    /// The captured QueryRequest it opens sessions with: `tamproto_01` (fixed config),
    /// `tamproto_02` (its original key setting: empty kid), ...
    pub query: &'static str,
}

/// tamproto 6192d67 with attestation off: every empty POST (whatever its Content-Type) gets
/// its QueryRequest (ES256; `tamproto_01`: kid 'hoge' unprotected); a COSE message signed with
/// ESP256 gets a 400
/// ("Unknown algorithm, -9"); a legacy QueryResponse ends the session with a 204 that still
/// carries `Content-Type: application/teep+cbor`. 200s carry Express's headers.
pub fn tamproto(setup: Tamproto) -> Peer {
    Peer::start("/api/tam_cose", move |req: &Request| {
        let content_type = if setup.teep_cose_content_type {
            "application/teep+cose"
        } else {
            "application/teep+cbor"
        };
        if req.body.is_empty() {
            return Response::new(
                200,
                &[
                    ("X-Powered-By", "Express"),
                    ("Content-Type", content_type),
                    ("ETag", "W/\"70-tamproto\""),
                    ("Keep-Alive", "timeout=5"),
                ],
                captured(setup.query),
            );
        }
        let bad = |text: &str| {
            Response::new(
                400,
                &[
                    ("X-Powered-By", "Express"),
                    ("Content-Type", "text/html; charset=utf-8"),
                ],
                text.as_bytes().to_vec(),
            )
        };
        let Ok(opened) = teep_cose::open(&req.body) else {
            return bad("COSE parse error");
        };
        if opened.signatures.iter().any(|s| s.alg.to_cose() == -9) {
            return bad("COSE parse error: Error: Unknown algorithm, -9");
        }
        let payload = opened.payload.as_deref().unwrap_or_default();
        match teep_proto::decode(payload, Numbering::Legacy) {
            Ok(TeepMessage::QueryResponse(_)) => Response::new(
                204,
                &[
                    ("X-Powered-By", "Express"),
                    ("Content-Type", "application/teep+cbor"),
                ],
                Vec::new(),
            ),
            _ => bad("unexpected message"),
        }
    })
}
