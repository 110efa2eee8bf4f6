//! `teep check tam URL`: the checker acts as TEEP Agents (simulated devices with fresh keys,
//! or the one of `--agent-key`) and runs [`CATALOG`] against the TAM at `url`.

mod catalog;
mod exchange;
mod http;
mod update;

use std::collections::HashMap;
use std::time::Duration;

use teep_bench::sim::{QueryRequestSeen, SimDevice};
use teep_cbor::Tolerance;
use teep_cose::{CoseKind, KeyType, PrivateKey, PublicKey};
use teep_proto::view::{view_message, MessageView};
use teep_proto::{CipherSuite, Numbering, TeepMessage};

pub use catalog::*;
use http::{Answer, Http, TEEP};

use crate::{CaseResult, Evidence, Report, Verdict};

/// What to check and how.
pub struct TamTarget {
    /// The TAM URI.
    pub url: String,
    /// The TAM's public keys, when known: the QueryRequest's signature is then checked.
    pub tam_keys: Vec<PublicKey>,
    /// The numbering to read the TAM in; `None`: detected from its first QueryRequest.
    pub numbering: Option<Numbering>,
    /// The agent key to answer with (a device the TAM knows); `None`: a fresh P-256 key, for
    /// TAMs that enroll devices they have not met.
    pub agent_key: Option<PrivateKey>,
    /// Time allowed for each HTTP exchange.
    pub timeout: Duration,
}

impl TamTarget {
    pub fn new(url: impl Into<String>) -> TamTarget {
        TamTarget {
            url: url.into(),
            tam_keys: Vec::new(),
            numbering: None,
            agent_key: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Verdicts so far, by case id.
struct Run<'a> {
    target: &'a TamTarget,
    http: Http,
    done: HashMap<&'static str, (Verdict, Vec<Evidence>)>,
}

/// Runs every case against `target`; a case whose prerequisite failed is not applicable.
pub fn check_tam(target: &TamTarget) -> Report {
    let mut run = Run {
        target,
        http: Http::new(&target.url, target.timeout),
        done: HashMap::new(),
    };
    run.transport();
    if let Some(view) = run.first_query_request() {
        run.query_request(&view);
        run.query_response(&view);
    }
    let results = CATALOG
        .iter()
        .map(|c| {
            let (verdict, evidence) = run.done.remove(c.id).unwrap_or_else(|| {
                (
                    Verdict::na(format!("not run: {EMPTY_POST} did not give a QueryRequest")),
                    Vec::new(),
                )
            });
            CaseResult {
                case: *c,
                verdict,
                evidence,
            }
        })
        .collect();
    Report {
        target: target.url.clone(),
        results,
    }
}

impl Run<'_> {
    fn record(&mut self, id: &'static str, verdict: Verdict, evidence: Vec<Evidence>) {
        self.done.insert(id, (verdict, evidence));
    }

    /// The answer to `sent` as evidence, its TEEP message decoded when there is one.
    fn evidence(&self, sent: Evidence, answer: &Result<Answer, String>) -> Vec<Evidence> {
        let got = match answer {
            Ok(a) => {
                let view = (a.status == 200 && !a.body.is_empty())
                    .then(|| view_message(&a.body, self.target.numbering, Tolerance::Tolerant).ok())
                    .flatten();
                Evidence {
                    direction: "TAM → checker",
                    http: a.line(),
                    summary: view.as_ref().map(|v| v.summary()),
                    message: view.as_ref().map(|v| v.json()),
                }
            }
            Err(e) => Evidence {
                direction: "TAM → checker",
                http: format!("no answer: {e}"),
                summary: None,
                message: None,
            },
        };
        vec![sent, got]
    }

    fn transport(&mut self) {
        let sent = Http::sent("POST (empty body, Content-Type: application/json)", None);
        let a = self
            .http
            .post(Some(TEEP), Some("application/json"), &[0xa0]);
        let v = match &a {
            Ok(a) if a.status == 415 => Verdict::Pass,
            Ok(a) => Verdict::fail(format!("got {}, not 415", a.status)),
            Err(e) => Verdict::fail(e.clone()),
        };
        let ev = self.evidence(sent, &a);
        self.record(UNSUPPORTED_MEDIA_TYPE, v, ev);

        let sent = Http::sent("POST (empty body, Accept: application/json)", None);
        let a = self.http.post(Some("application/json"), None, &[]);
        let v = match &a {
            Ok(a) if a.status == 406 => Verdict::Pass,
            Ok(a) if a.status >= 400 => Verdict::Pass,
            Ok(a) => Verdict::fail(format!(
                "got {}: answered a client that does not accept TEEP",
                a.status
            )),
            Err(e) => Verdict::fail(e.clone()),
        };
        let ev = self.evidence(sent, &a);
        self.record(NOT_ACCEPTABLE, v, ev);

        let sent = Http::sent("GET", None);
        let a = self.http.get();
        let v = match &a {
            Ok(a) if a.status == 405 => Verdict::Pass,
            Ok(a) => Verdict::fail(format!("got {}, not 405", a.status)),
            Err(e) => Verdict::fail(e.clone()),
        };
        let ev = self.evidence(sent, &a);
        self.record(POST_ONLY, v, ev);

        // A bare (unsigned) QueryResponse: valid CBOR, a TEEP message, no COSE.
        let bare = [0x82, 0x02, 0xa0];
        let sent = Http::sent("POST (an unsigned QueryResponse [2, {}])", Some(&bare));
        let a = self.http.post(Some(TEEP), Some(TEEP), &bare);
        let v = match &a {
            Ok(a) if a.status == 200 && !a.body.is_empty() => {
                Verdict::fail("answered an unsigned message with a TEEP message")
            }
            Ok(_) => Verdict::Pass,
            Err(e) => Verdict::fail(e.clone()),
        };
        let ev = self.evidence(sent, &a);
        self.record(INVALID_DROPPED, v, ev);
        self.too_large();
    }

    /// The empty POST and its answer's transport cases; the QueryRequest when it decodes.
    fn first_query_request(&mut self) -> Option<MessageView> {
        let sent = Http::sent("POST (empty body, Accept: application/teep+cbor)", None);
        let mut a = self.http.post(Some(TEEP), None, &[]);
        let mut verdict = None;
        if matches!(&a, Ok(a) if a.status == 415) {
            // AttesTAM wants a Content-Type on the empty POST too.
            a = self.http.post(Some(TEEP), Some(TEEP), &[]);
            verdict = Some(Verdict::Deviation {
                code: "http.empty-post-needs-content-type".into(),
                why: "415 to the empty POST without Content-Type; answered once one was added"
                    .into(),
            });
        }
        let ev = self.evidence(sent, &a);
        let answer = match a {
            Ok(a) => a,
            Err(e) => {
                self.record(EMPTY_POST, Verdict::fail(e), ev);
                return None;
            }
        };
        let v = if answer.status != 200 {
            Verdict::fail(format!("got {}, not 200", answer.status))
        } else if answer.media_type().as_deref() != Some(TEEP) {
            Verdict::fail(format!(
                "Content-Type is {:?}",
                answer.header("content-type")
            ))
        } else if answer.body.is_empty() {
            Verdict::fail("200 without a message")
        } else {
            verdict.unwrap_or(Verdict::Pass)
        };
        let ok = !matches!(v, Verdict::Fail { .. });
        self.record(EMPTY_POST, v, ev.clone());

        let missing: Vec<&str> = [
            ("x-content-type-options", "nosniff"),
            ("content-security-policy", "default-src 'none'"),
            ("referrer-policy", "no-referrer"),
        ]
        .into_iter()
        .filter(|(h, want)| answer.header(h).as_deref() != Some(*want))
        .map(|(h, _)| h)
        .collect();
        let v = if missing.is_empty() {
            Verdict::Pass
        } else {
            Verdict::fail(format!("missing or different: {}", missing.join(", ")))
        };
        self.record(SECURITY_HEADERS, v, ev.clone());
        let v = match answer.header("cache-control") {
            None => Verdict::Pass,
            Some(c) => Verdict::Deviation {
                code: "http.cache-control".into(),
                why: format!("Cache-Control: {c}"),
            },
        };
        self.record(NO_CACHE_CONTROL, v, ev.clone());
        if !ok {
            return None;
        }
        match view_message(&answer.body, self.target.numbering, Tolerance::Tolerant) {
            Ok(view) if matches!(view.message(), TeepMessage::QueryRequest(_)) => {
                self.record(QR_DECODES, decoded_verdict(&view), ev);
                Some(view)
            }
            Ok(view) => {
                let why = format!("a {}, not a QueryRequest", view.message().type_name());
                self.record(QR_DECODES, Verdict::fail(why), ev);
                None
            }
            Err(e) => {
                self.record(QR_DECODES, Verdict::fail(e.to_string()), ev);
                None
            }
        }
    }
}

/// Pass, or the deviations the tolerant decoder accepted.
fn decoded_verdict(view: &MessageView) -> Verdict {
    let codes = view.decoded.deviations.codes();
    if codes.is_empty() {
        return Verdict::Pass;
    }
    Verdict::Deviation {
        code: codes.join(","),
        why: view
            .decoded
            .deviations
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

impl Run<'_> {
    fn query_request(&mut self, view: &MessageView) {
        let ev = vec![Evidence {
            direction: "TAM → checker",
            http: "the QueryRequest answering the empty POST".into(),
            summary: Some(view.summary()),
            message: Some(view.json()),
        }];
        let TeepMessage::QueryRequest(q) = view.message() else {
            return;
        };
        let v = match &view.opened {
            None => Verdict::fail("a bare message, not COSE_Sign1 or COSE_Sign"),
            Some(o) if o.signatures.is_empty() => Verdict::fail("no signature"),
            Some(_) => Verdict::Pass,
        };
        self.record(QR_SIGNED, v, ev.clone());

        let v = match (&view.opened, self.target.tam_keys.is_empty()) {
            (_, true) => Verdict::na("no --tam-key given"),
            (None, false) => Verdict::fail("not signed"),
            (Some(o), false) => {
                if self.target.tam_keys.iter().any(|k| o.verify(k).is_ok()) {
                    Verdict::Pass
                } else {
                    Verdict::fail("no signature verifies with the --tam-key keys")
                }
            }
        };
        self.record(QR_VERIFIES, v, ev.clone());

        let suites = &q.supported_cipher_suites;
        let has = |s: &CipherSuite| suites.contains(s);
        let v = if has(&CipherSuite::SIGN1_ESP256) && has(&CipherSuite::SIGN1_ED25519) {
            Verdict::Pass
        } else if (has(&CipherSuite::SIGN1_ESP256) || has(&CipherSuite::SIGN1_ES256))
            && (has(&CipherSuite::SIGN1_ED25519) || has(&CipherSuite::SIGN1_EDDSA))
        {
            Verdict::Deviation {
                code: "alg-ids-before-26".into(),
                why: "both curves offered, one with the identifier of older drafts (ES256 -7 or EdDSA -8)".into(),
            }
        } else {
            Verdict::fail(format!("suites offered: {}", suite_names(suites)))
        };
        self.record(QR_SUITES, v, ev.clone());
        self.suit_profiles(q, ev.clone());

        let v = match &view.opened {
            None => Verdict::na("not signed"),
            Some(o) => signature_per_suite(o, suites),
        };
        self.record(QR_SIGNATURE_PER_SUITE, v, ev.clone());

        let attest = q.data_item_requested.attestation();
        let v = match (attest, q.token.is_some()) {
            (false, true) | (true, false) => Verdict::Pass,
            (false, false) => Verdict::fail("no token although the attestation bit is clear"),
            (true, true) => Verdict::Deviation {
                code: "teep.token-with-attestation".into(),
                why: "token with the attestation bit set: §4.2's text forbids it, the draft's own example (Appendix D.1) does it (docs/INTEROP.md)".into(),
            },
        };
        self.record(QR_TOKEN_RULE, v, ev.clone());

        let v = if attest || (q.supported_freshness_mechanisms.is_empty() && q.challenge.is_none())
        {
            Verdict::Pass
        } else {
            Verdict::fail(
                "supported-freshness-mechanisms or challenge with the attestation bit clear",
            )
        };
        self.record(QR_FRESHNESS_RULE, v, ev.clone());

        // A second session: its request must differ.
        let sent = Http::sent(
            "POST (empty body, Accept: application/teep+cbor), a second time",
            None,
        );
        let a = self.http.post(Some(TEEP), None, &[]);
        let ev2 = self.evidence(sent, &a);
        let second = a
            .ok()
            .and_then(|a| view_message(&a.body, Some(view.numbering()), Tolerance::Tolerant).ok());
        let v = match second.as_ref().map(|s| s.message()) {
            Some(TeepMessage::QueryRequest(q2)) => {
                let same_token = q.token.is_some() && q.token == q2.token;
                let same_challenge = q.challenge.is_some() && q.challenge == q2.challenge;
                if same_token || same_challenge {
                    Verdict::fail(
                        "the second QueryRequest repeats the first one's token or challenge",
                    )
                } else if q.token.is_none() && q.challenge.is_none() {
                    Verdict::na("neither token nor challenge")
                } else {
                    Verdict::Pass
                }
            }
            _ => Verdict::fail("the second empty POST got no QueryRequest"),
        };
        self.record(QR_FRESH_TOKENS, v, ev2);
    }
}

fn suite_names(suites: &[CipherSuite]) -> String {
    suites
        .iter()
        .map(|s| {
            s.name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{s:?}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// §8.1: unless the TAM knows the agent's suite, one signature per algorithm of its suites.
fn signature_per_suite(o: &teep_cose::Opened, suites: &[CipherSuite]) -> Verdict {
    let algs: Vec<i64> = suites.iter().filter_map(|s| s.sign1_alg()).collect();
    let signed: Vec<i64> = o.signatures.iter().map(|s| s.alg.to_cose()).collect();
    match o.kind {
        CoseKind::Sign1 if algs.len() > 1 => Verdict::fail(format!(
            "a COSE_Sign1 ({:?}) although {} suites are offered to a device the TAM has not met",
            signed,
            algs.len()
        )),
        _ if algs.iter().all(|a| signed.contains(a)) => Verdict::Pass,
        _ => Verdict::fail(format!(
            "signature algorithms {signed:?} do not cover the suites' {algs:?}"
        )),
    }
}

impl Run<'_> {
    /// A simulated agent: the `--agent-key` device, or a fresh one.
    fn device(&self) -> SimDevice {
        match &self.target.agent_key {
            Some(k) => SimDevice::from_key(k.clone()),
            None => SimDevice::new(KeyType::P256),
        }
    }

    /// A fresh QueryRequest, read as `n`.
    fn fresh_query(&self, n: Numbering) -> Option<QueryRequestSeen> {
        let a = self.http.post(Some(TEEP), None, &[]).ok()?;
        let v = view_message(&a.body, Some(n), Tolerance::Tolerant).ok()?;
        match v.message() {
            TeepMessage::QueryRequest(q) => Some(QueryRequestSeen {
                token: q.token.clone(),
                challenge: q.challenge.clone(),
                multi_signed: false,
            }),
            _ => None,
        }
    }

    /// Sends `body` as the agent; verdict `refused` expects no Update back.
    fn answer(&self, what: &str, body: &[u8]) -> (Result<Answer, String>, Vec<Evidence>) {
        let sent = Http::sent(what, Some(body));
        let a = self.http.post(Some(TEEP), Some(TEEP), body);
        let mut ev = self.evidence(sent, &a);
        if let Ok(v) = view_message(body, self.target.numbering, Tolerance::Tolerant) {
            ev[0].summary = Some(v.summary());
            ev[0].message = Some(v.json());
        }
        (a, ev)
    }

    fn query_response(&mut self, first: &MessageView) {
        let n = first.numbering();
        let mut dev = self.device();
        let TeepMessage::QueryRequest(q) = first.message() else {
            return;
        };
        let seen = QueryRequestSeen {
            token: q.token.clone(),
            challenge: q.challenge.clone(),
            multi_signed: false,
        };
        let body = match dev.query_response(&seen, n) {
            Ok(b) => b,
            Err(e) => {
                self.record(
                    QRESP_ANSWERED,
                    Verdict::fail(format!("building it: {e}")),
                    Vec::new(),
                );
                return;
            }
        };
        let (a, ev) = self.answer("POST (QueryResponse)", &body);
        let refused_by_update = a.as_ref().ok().and_then(|a| error_update(a, n));
        let (v, admitted) = match &a {
            // An error Update is a right answer, but the device was not admitted (-26 §4.4:
            // err-code in an Update ends the session), so nothing that needs it is checked.
            Ok(_) if refused_by_update.is_some() => (
                Verdict::na(format!(
                    "the TAM answered with an error Update ({}): it did not admit the simulated device, whose Evidence no endorsement root vouches for; register the key given with --agent-key, or enable enrollment without a root of trust (teep: --enroll tofu)",
                    refused_by_update.as_deref().unwrap_or_default()
                )),
                false,
            ),
            Ok(a) if a.status == 204 || (a.status == 200 && !a.body.is_empty()) => (Verdict::Pass, true),
            Ok(a) if (400..500).contains(&a.status) => (
                Verdict::na(format!(
                    "{}: the TAM did not admit the simulated device; register the key given with --agent-key, or enable enrollment (teep: --enroll tofu)",
                    a.status
                )),
                false,
            ),
            Ok(a) => (Verdict::fail(format!("got {}", a.status)), false),
            Err(e) => (Verdict::fail(e.clone()), false),
        };
        self.record(QRESP_ANSWERED, v, ev.clone());
        self.update(a.as_ref().ok(), q.token.as_deref(), n, ev);
        if !admitted {
            for id in [
                QRESP_REPLAY,
                QRESP_BAD_SIGNATURE,
                QRESP_UNKNOWN_TOKEN,
                QRESP_WRONG_KEY,
                QRESP_UNOFFERED_SUITE,
                QRESP_UNKNOWN_OPTION,
                QRESP_MISSING_ITEM,
                SUCCESS_ACCEPTED,
                ERROR_ACCEPTED,
                REFUSAL_EXPLAINED,
            ] {
                self.record(
                    id,
                    Verdict::na(format!("needs {QRESP_ANSWERED}")),
                    Vec::new(),
                );
            }
            return;
        }
        let got_update = a
            .as_ref()
            .is_ok_and(|a| a.status == 200 && !a.body.is_empty());
        let first_answer = a.ok();
        let mut refusals = Vec::new();
        let (a, ev) = self.answer("POST (the same QueryResponse again)", &body);
        self.record(QRESP_REPLAY, no_update(&a), ev.clone());
        refusals.push((a, ev));

        let v_ev = match self.fresh_query(n).map(|s| dev.query_response(&s, n)) {
            Some(Ok(mut b)) => {
                if let Some(last) = b.last_mut() {
                    *last ^= 0x01;
                }
                let (a, ev) = self.answer("POST (QueryResponse, signature altered)", &b);
                let v = no_update(&a);
                refusals.push((a, ev.clone()));
                (v, ev)
            }
            _ => (Verdict::fail("no fresh QueryRequest to answer"), Vec::new()),
        };
        self.record(QRESP_BAD_SIGNATURE, v_ev.0, v_ev.1);

        let forged = QueryRequestSeen {
            token: q
                .token
                .as_ref()
                .map(|t| t.iter().map(|b| b ^ 0x5a).collect()),
            challenge: q
                .challenge
                .as_ref()
                .map(|c| c.iter().map(|b| b ^ 0x5a).collect()),
            multi_signed: false,
        };
        let v_ev = match dev.query_response(&forged, n) {
            Ok(b) => {
                let (a, ev) = self.answer("POST (QueryResponse, token never issued)", &b);
                let v = no_update(&a);
                refusals.push((a, ev.clone()));
                (v, ev)
            }
            Err(e) => (Verdict::fail(format!("building it: {e}")), Vec::new()),
        };
        self.record(QRESP_UNKNOWN_TOKEN, v_ev.0, v_ev.1);
        self.wrong_key(n, &mut refusals);
        self.unoffered_suite(n, &q.supported_cipher_suites, &mut refusals);
        self.refusal_explained(refusals);
        self.unknown_option(n, got_update);
        self.missing_item(n, q.data_item_requested.trusted_components());
        self.session_end(&mut dev, first_answer.as_ref(), n);
    }
}

/// Pass when the TAM sent no TEEP message back.
fn no_update(a: &Result<Answer, String>) -> Verdict {
    match a {
        Ok(a) if a.status == 200 && !a.body.is_empty() => {
            Verdict::fail("answered with a TEEP message (an Update)")
        }
        Ok(_) => Verdict::Pass,
        Err(e) => Verdict::fail(e.clone()),
    }
}

/// The err-code and err-msg of an error Update in `answer`, if it is one.
fn error_update(answer: &Answer, n: Numbering) -> Option<String> {
    if answer.status != 200 || answer.body.is_empty() {
        return None;
    }
    let view = view_message(&answer.body, Some(n), Tolerance::Tolerant).ok()?;
    let TeepMessage::Update(u) = view.message() else {
        return None;
    };
    let code = u.err_code?;
    Some(match &u.err_msg {
        Some(m) => format!("{code}: {m:?}"),
        None => code.to_string(),
    })
}
