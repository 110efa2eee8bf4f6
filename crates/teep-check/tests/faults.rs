//! The checker catches real faults: teep's TAM, behind a proxy that makes it misbehave on the
//! wire in one named way, is checked, and the fault must be reported under the case that
//! covers it. Message faults are re-signed with the TAM's own keys, so that only the fault
//! differs from a conformant TAM. A control run through the same proxy without a fault passes
//! every MUST, so each failure below is the fault's.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use teep_check::tam::{self, check_tam, TamTarget};
use teep_check::{Report, Verdict};
use teep_cose::{KeyType, Opened, PrivateKey, Signer, SoftwareSigner};
use teep_proto::signed::{open_message_auto, sign_message, sign_message_multi};
use teep_proto::{DataItems, FreshnessMechanism, Numbering, TeepMessage};
use teep_tam::Enroll;

const TEEP: &str = "application/teep+cbor";

/// One way of misbehaving, each named after what a peer would see.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    /// Answers without X-Content-Type-Options and Content-Security-Policy.
    NoSecurityHeaders,
    /// Answers with Cache-Control: max-age=60.
    CacheControl,
    /// TEEP messages labelled application/cbor.
    WrongContentType,
    /// A JSON body is read as a TEEP message instead of being refused with 415.
    AcceptsJson,
    /// Accept is ignored: a TEEP message to a client that accepts only JSON.
    IgnoresAccept,
    /// GET answered like an empty POST instead of 405.
    GetAllowed,
    /// An invalid (unsigned) message answered with a QueryRequest instead of dropped.
    AnswersInvalid,
    /// A QueryRequest with a trailing byte.
    GarbledQueryRequest,
    /// The QueryRequest's payload sent bare, without COSE.
    UnsignedQueryRequest,
    /// The QueryRequest's last signature byte flipped.
    FlippedSignature,
    /// Only the first cipher suite offered.
    OneSuiteOffered,
    /// Only the first SUIT COSE profile offered.
    OneProfileOffered,
    /// No token and no attestation bit.
    NoTokenNoAttestation,
    /// A challenge and freshness mechanisms with the attestation bit clear.
    FreshnessWithoutAttestation,
    /// Every QueryRequest the same one (token reuse).
    SameQueryRequest,
    /// A refused QueryResponse (replayed, forged, unknown token) answered with the last Update.
    AcceptsForgedQueryResponse,
    /// Updates signed with an Ed25519 key although the agent chose ESP256.
    UpdateInAnotherSuite,
    /// Updates carrying the QueryResponse's token again.
    UpdateReusesToken,
    /// manifest-list entries tagged SUIT_Envelope_Tagged (107).
    TaggedEnvelope,
    /// A QueryResponse with an unknown option refused.
    UnknownOptionRefused,
    /// An Update answering a QueryResponse without the tc-list asked for, with no err-code.
    MissingItemGuessed,
    /// Success refused with 500.
    SuccessRefused,
    /// Error refused with 400.
    ErrorRefused,
    /// An oversized body refused with 400 instead of 413.
    OversizedNot413,
    /// Refusals with no body and no Content-Type.
    MuteRefusals,
}

struct Proxy {
    upstream: String,
    fault: Fault,
    signers: Vec<Arc<dyn Signer>>,
    first_query: Mutex<Option<Vec<u8>>>,
    last_update: Mutex<Option<Vec<u8>>>,
    http: ureq::Agent,
}

struct Upstream {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Proxy {
    fn forward(&self, method: &str, headers: &[(String, String)], body: Vec<u8>) -> Upstream {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(&self.upstream);
        for (n, v) in headers {
            if matches!(n.as_str(), "accept" | "content-type") {
                req = req.header(n.as_str(), v.as_str());
            }
        }
        let r = self.http.run(req.body(body).unwrap()).unwrap();
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = r.into_body().read_to_vec().unwrap();
        Upstream {
            status,
            headers,
            body,
        }
    }

    /// `msg` signed as `opened` was: COSE_Sign by every TAM key, or COSE_Sign1 by the key of
    /// the same algorithm.
    fn resign(&self, msg: &TeepMessage, n: Numbering, opened: &Opened) -> Vec<u8> {
        if opened.signatures.len() > 1 {
            let all: Vec<&dyn Signer> = self.signers.iter().map(|s| s.as_ref()).collect();
            return sign_message_multi(msg, n, &all).unwrap();
        }
        let alg = opened.signatures[0].alg;
        let s = self
            .signers
            .iter()
            .find(|s| s.algorithm() == alg)
            .expect("a TAM key of the signature's algorithm");
        sign_message(msg, n, s.as_ref()).unwrap()
    }

    /// The fault applied to a request before it is forwarded; `Err` answers it in place.
    fn on_request(
        &self,
        method: &mut String,
        headers: &mut Vec<(String, String)>,
        body: &mut Vec<u8>,
    ) -> Result<(), Upstream> {
        let set = |headers: &mut Vec<(String, String)>, name: &str, value: &str| {
            headers.retain(|(n, _)| n != name);
            headers.push((name.into(), value.into()));
        };
        let refuse = |status: u16| Upstream {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"refused".to_vec(),
        };
        let msg = open_message_auto(body).ok().map(|(_, m, _)| m);
        match self.fault {
            Fault::GetAllowed if method == "GET" => {
                *method = "POST".into();
                set(headers, "accept", TEEP);
            }
            Fault::IgnoresAccept => set(headers, "accept", TEEP),
            Fault::AcceptsJson
                if headers
                    .iter()
                    .any(|(n, v)| n == "content-type" && v.contains("json")) =>
            {
                set(headers, "content-type", TEEP);
                body.clear();
            }
            Fault::UnknownOptionRefused => {
                if let Some(TeepMessage::QueryResponse(q)) = &msg {
                    if !q.unknown_options.is_empty() {
                        return Err(refuse(400));
                    }
                }
            }
            Fault::SuccessRefused if matches!(msg, Some(TeepMessage::Success(_))) => {
                return Err(refuse(500))
            }
            Fault::ErrorRefused if matches!(msg, Some(TeepMessage::Error(_))) => {
                return Err(refuse(400))
            }
            _ => {}
        }
        Ok(())
    }

    /// The fault applied to the TAM's answer.
    fn on_answer(&self, request: &[u8], mut a: Upstream) -> Upstream {
        let request_msg = open_message_auto(request).ok();
        let refused = a.status != 200 || a.body.is_empty();
        match self.fault {
            Fault::NoSecurityHeaders => a
                .headers
                .retain(|(n, _)| n != "x-content-type-options" && n != "content-security-policy"),
            Fault::CacheControl => a
                .headers
                .push(("cache-control".into(), "max-age=60".into())),
            Fault::WrongContentType if !refused => {
                a.headers.retain(|(n, _)| n != "content-type");
                a.headers
                    .push(("content-type".into(), "application/cbor".into()));
            }
            Fault::AnswersInvalid if !request.is_empty() && request_msg.is_none() && refused => {
                let h = vec![("accept".to_string(), TEEP.to_string())];
                return self.forward("POST", &h, Vec::new());
            }
            Fault::AcceptsForgedQueryResponse if refused => {
                let is_qr = matches!(&request_msg, Some((_, TeepMessage::QueryResponse(_), _)));
                if let (true, Some(u)) = (is_qr, self.last_update.lock().unwrap().clone()) {
                    a.status = 200;
                    a.body = u;
                    a.headers.retain(|(n, _)| n != "content-type");
                    a.headers.push(("content-type".into(), TEEP.into()));
                }
            }
            Fault::OversizedNot413 | Fault::MuteRefusals if refused && a.status >= 400 => {
                a.headers.retain(|(n, _)| n != "content-type");
                a.body.clear();
            }
            _ => {}
        }
        if refused {
            return a;
        }
        let Ok((opened, msg, n)) = open_message_auto(&a.body) else {
            return a;
        };
        match msg {
            TeepMessage::QueryRequest(mut q) => match self.fault {
                Fault::GarbledQueryRequest => a.body.push(0),
                Fault::UnsignedQueryRequest => a.body = opened.payload.clone().unwrap_or_default(),
                Fault::FlippedSignature => {
                    // Every signature: one valid signature of a COSE_Sign is enough (RFC 9052 §4.1).
                    for i in 0..opened.signatures.len() {
                        let sig = opened.signature_bytes(i).unwrap().to_vec();
                        let at = a.body.windows(sig.len()).position(|w| w == sig).unwrap();
                        a.body[at + sig.len() - 1] ^= 1;
                    }
                }
                Fault::OneSuiteOffered => {
                    q.supported_cipher_suites.truncate(1);
                    a.body = self.resign(&TeepMessage::QueryRequest(q), n, &opened);
                }
                Fault::OneProfileOffered => {
                    q.supported_suit_cose_profiles.truncate(1);
                    a.body = self.resign(&TeepMessage::QueryRequest(q), n, &opened);
                }
                Fault::NoTokenNoAttestation => {
                    q.data_item_requested =
                        DataItems(q.data_item_requested.0 & !DataItems::ATTESTATION);
                    q.token = None;
                    q.challenge = None;
                    q.supported_freshness_mechanisms.clear();
                    a.body = self.resign(&TeepMessage::QueryRequest(q), n, &opened);
                }
                Fault::FreshnessWithoutAttestation => {
                    q.data_item_requested =
                        DataItems(q.data_item_requested.0 & !DataItems::ATTESTATION);
                    if q.supported_freshness_mechanisms.is_empty() {
                        q.supported_freshness_mechanisms
                            .push(FreshnessMechanism::Nonce);
                    }
                    if q.token.is_none() {
                        q.token = Some(vec![7; 16]);
                    }
                    a.body = self.resign(&TeepMessage::QueryRequest(q), n, &opened);
                }
                Fault::SameQueryRequest => {
                    let mut first = self.first_query.lock().unwrap();
                    match first.as_ref() {
                        Some(f) => a.body = f.clone(),
                        None => *first = Some(a.body.clone()),
                    }
                }
                _ => {}
            },
            TeepMessage::Update(mut u) => {
                match self.fault {
                    Fault::UpdateInAnotherSuite => {
                        let other = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
                        a.body = sign_message(&TeepMessage::Update(u), n, &other).unwrap();
                    }
                    Fault::UpdateReusesToken => {
                        if let Some((_, TeepMessage::QueryResponse(q), _)) = &request_msg {
                            u.token = q.token.clone();
                            a.body = self.resign(&TeepMessage::Update(u), n, &opened);
                        }
                    }
                    Fault::TaggedEnvelope => {
                        for m in &mut u.manifest_list {
                            m.splice(0..0, [0xd8, 0x6b]);
                        }
                        a.body = self.resign(&TeepMessage::Update(u), n, &opened);
                    }
                    Fault::MissingItemGuessed if u.err_code.is_some() => {
                        u.err_code = None;
                        u.err_msg = None;
                        u.err_lang = None;
                        a.body = self.resign(&TeepMessage::Update(u), n, &opened);
                    }
                    _ => {}
                }
                *self.last_update.lock().unwrap() = Some(a.body.clone());
            }
            _ => {}
        }
        a
    }
}

async fn proxied(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let mut method = req.method().as_str().to_string();
    let mut headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let length: u64 = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    // An oversized body is judged on its headers, as teep's TAM does; the body is never read.
    if length > 1 << 20 {
        let status = match p.fault {
            Fault::OversizedNot413 => 400,
            _ => 413,
        };
        return reply(Upstream {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"body too large".to_vec(),
        });
    }
    let mut body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec();
    let p2 = p.clone();
    let answer = tokio::task::spawn_blocking(move || {
        if let Err(a) = p2.on_request(&mut method, &mut headers, &mut body) {
            return a;
        }
        let a = p2.forward(&method, &headers, body.clone());
        p2.on_answer(&body, a)
    })
    .await
    .unwrap();
    reply(answer)
}

fn reply(a: Upstream) -> Response {
    let mut r = Response::new(Body::from(a.body));
    *r.status_mut() = StatusCode::from_u16(a.status).unwrap();
    let h: &mut HeaderMap = r.headers_mut();
    for (n, v) in a.headers {
        if matches!(
            n.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        h.append(
            axum::http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(&v).unwrap(),
        );
    }
    r
}

/// teep's TAM with one TA for every device, behind a proxy injecting `fault`; the report.
async fn check_through(fault: Fault) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let config = teep_tam::Config {
        data: dir.path().into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        enroll: Enroll::Tofu,
        ..Default::default()
    };
    let (addr, handle) = teep_tam::server::spawn(config).await.unwrap();
    let st = &handle.state;
    let tc = teep_tam::ops::add_ta(&st.store, &st.tc_signer, "hello", b"hello", 0)
        .await
        .unwrap();
    st.store
        .assign(&tc.component_id, &teep_tam::model::Target::All, 0)
        .await
        .unwrap();
    let signers: Vec<Arc<dyn Signer>> = st.core.signers().to_vec();
    let keys = signers.iter().map(|s| s.public_key()).collect();
    let proxy = Arc::new(Proxy {
        upstream: format!("http://{addr}/tam"),
        fault,
        signers,
        first_query: Mutex::new(None),
        last_update: Mutex::new(None),
        http: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/tam", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(proxied).with_state(proxy);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut target = TamTarget::new(&url);
    target.tam_keys = keys;
    let report = tokio::task::spawn_blocking(move || check_tam(&target))
        .await
        .unwrap();
    server.abort();
    handle.shutdown().await;
    report
}

fn verdict<'a>(r: &'a Report, id: &str) -> &'a Verdict {
    &r.get(id).unwrap_or_else(|| panic!("no case {id}")).verdict
}

/// Checks through `fault` and asserts that `case` is judged as `expected` says.
async fn detected(fault: Fault, case: &str, expected: fn(&Verdict) -> bool) {
    let report = check_through(fault).await;
    let table = teep_check::report::table(&report, false);
    assert!(
        expected(verdict(&report, case)),
        "{fault:?} not reported under {case}:\n{table}"
    );
    let r = report.get(case).unwrap();
    // The fault is one: the cases it does not touch pass or, when they need what it broke,
    // are not applicable. Some fail with it (a QueryRequest without token makes every later
    // QueryResponse tokenless, which a TAM reads as unsolicited), never most.
    let failed = report.results.iter().filter(|r| fail(&r.verdict)).count();
    assert!(
        failed * 2 < report.results.len(),
        "{fault:?} broke more than itself:\n{table}"
    );
    if r.case.level == teep_check::Level::Must && fail(&r.verdict) {
        assert!(
            report.must_failed(),
            "{fault:?}: the run must fail:\n{table}"
        );
    }
}

fn fail(v: &Verdict) -> bool {
    matches!(v, Verdict::Fail { .. })
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_fault_the_proxy_changes_no_verdict() {
    let report = check_through(Fault::None).await;
    let table = teep_check::report::table(&report, false);
    assert!(!report.must_failed(), "{table}");
    for r in &report.results {
        if r.case.id != tam::QR_TOKEN_RULE && r.case.id != tam::QRESP_UNOFFERED_SUITE {
            assert_eq!(r.verdict, Verdict::Pass, "{}: {table}", r.case.id);
        }
    }
}

macro_rules! faults {
    ($($name:ident: $fault:ident => $case:expr, $expected:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            detected(Fault::$fault, $case, $expected).await;
        }
    )*};
}

faults! {
    // TEEP-HTTP §4
    http_4_missing_security_headers: NoSecurityHeaders => tam::SECURITY_HEADERS, fail;
    http_4_cache_control: CacheControl => tam::NO_CACHE_CONTROL,
        |v| matches!(v, Verdict::Deviation { code, .. } if code == "http.cache-control");
    http_4_get_answered: GetAllowed => tam::POST_ONLY, fail;
    // TEEP-HTTP §5.1.1, §6.1
    http_6_1_wrong_content_type: WrongContentType => tam::EMPTY_POST, fail;
    http_6_1_json_accepted: AcceptsJson => tam::UNSUPPORTED_MEDIA_TYPE, fail;
    http_6_1_accept_ignored: IgnoresAccept => tam::NOT_ACCEPTABLE, fail;
    http_6_1_oversized_not_413: OversizedNot413 => tam::PAYLOAD_TOO_LARGE,
        |v| matches!(v, Verdict::Deviation { code, .. } if code == "http.oversized-not-413");
    // TEEP-26 §4.1, TEEP-HTTP §6.4
    teep_4_1_invalid_answered: AnswersInvalid => tam::INVALID_DROPPED, fail;
    // TEEP-26 §4.2, §8.1
    teep_4_2_query_request_garbled: GarbledQueryRequest => tam::QR_DECODES, fail;
    teep_8_1_query_request_unsigned: UnsignedQueryRequest => tam::QR_SIGNED, fail;
    teep_4_1_signature_flipped: FlippedSignature => tam::QR_VERIFIES, fail;
    teep_8_1_one_suite_offered: OneSuiteOffered => tam::QR_SUITES, fail;
    teep_8_2_one_profile_offered: OneProfileOffered => tam::QR_SUIT_PROFILES, fail;
    teep_4_2_no_token_no_attestation: NoTokenNoAttestation => tam::QR_TOKEN_RULE, fail;
    teep_4_2_freshness_without_attestation: FreshnessWithoutAttestation => tam::QR_FRESHNESS_RULE, fail;
    teep_4_2_token_reused: SameQueryRequest => tam::QR_FRESH_TOKENS, fail;
    // TEEP-26 §4.1, §4.3
    teep_4_1_forged_query_response_accepted: AcceptsForgedQueryResponse => tam::QRESP_BAD_SIGNATURE, fail;
    teep_4_1_replay_accepted: AcceptsForgedQueryResponse => tam::QRESP_REPLAY, fail;
    teep_7_1_wrong_key_accepted: AcceptsForgedQueryResponse => tam::QRESP_WRONG_KEY, fail;
    teep_4_3_unknown_option_refused: UnknownOptionRefused => tam::QRESP_UNKNOWN_OPTION, fail;
    teep_4_3_missing_item_guessed: MissingItemGuessed => tam::QRESP_MISSING_ITEM, fail;
    // TEEP-26 §4.4, §8.1
    teep_8_1_update_in_another_suite: UpdateInAnotherSuite => tam::UPDATE_SUITE, fail;
    teep_4_4_update_token_reused: UpdateReusesToken => tam::UPDATE_TOKEN, fail;
    teep_4_4_tagged_envelope: TaggedEnvelope => tam::UPDATE_ENVELOPES,
        |v| matches!(v, Verdict::Deviation { code, .. } if code == "suit.envelope-tagged");
    // TEEP-26 §4.5, §4.6
    teep_4_5_success_refused: SuccessRefused => tam::SUCCESS_ACCEPTED, fail;
    teep_4_6_error_refused: ErrorRefused => tam::ERROR_ACCEPTED, fail;
    // Informative
    refusals_unexplained: MuteRefusals => tam::REFUSAL_EXPLAINED, fail;
}
