//! The cases after the first exchange: the session's end (Success, Error), a QueryResponse
//! with an option the TAM does not know or without an item it asked for, an oversized body,
//! and whether the TAM's refusals say why.

use teep_bench::sim::{QueryRequestSeen, SimDevice};
use teep_cbor::Tolerance;
use teep_cose::KeyType;
use teep_proto::view::view_message;
use teep_proto::{
    CipherSuite, ErrorCode, Numbering, QueryRequest, SuitCoseProfile, TeepMessage, Value,
};

use super::http::{Answer, Http, TEEP};
use super::{
    no_update, Run, ERROR_ACCEPTED, PAYLOAD_TOO_LARGE, QRESP_ANSWERED, QRESP_MISSING_ITEM,
    QRESP_UNKNOWN_OPTION, QRESP_UNOFFERED_SUITE, QRESP_WRONG_KEY, QR_SUIT_PROFILES,
    REFUSAL_EXPLAINED, SUCCESS_ACCEPTED,
};
use crate::{Evidence, Verdict};

/// The oversized body: larger than any TEEP message a TAM has reason to read (a QueryResponse
/// with its Evidence and reports is kilobytes).
const TOO_LARGE: usize = 32 * 1024 * 1024;

/// An option label no draft assigns (-26 reserves 23..1023 for registration).
const UNKNOWN_LABEL: u64 = 1000;

/// What the TAM answered the valid QueryResponse: an Update (its token), nothing to do, or
/// a refusal.
fn answered(a: &Result<Answer, String>, n: Numbering) -> Option<Option<Vec<u8>>> {
    let a = a.as_ref().ok()?;
    if a.status == 204 || (a.status == 200 && a.body.is_empty()) {
        return Some(None);
    }
    if a.status != 200 {
        return None;
    }
    match view_message(&a.body, Some(n), Tolerance::Tolerant)
        .ok()?
        .message()
    {
        TeepMessage::Update(u) => Some(Some(u.token.clone().unwrap_or_default())),
        _ => None,
    }
}

fn na_all(run: &mut Run<'_>, ids: &[&'static str], why: &str) {
    for id in ids {
        run.record(id, Verdict::na(why), Vec::new());
    }
}

/// Pass on a 2xx: the TAM took the message (with or without a next one).
fn accepted(a: &Result<Answer, String>) -> Verdict {
    match a {
        Ok(a) if (200..300).contains(&a.status) => Verdict::Pass,
        Ok(a) => Verdict::fail(format!("got {}: the TAM refused it", a.status)),
        Err(e) => Verdict::fail(e.clone()),
    }
}

impl Run<'_> {
    /// Success and Error, each ending a session of its own that got an Update.
    pub(super) fn session_end(
        &mut self,
        dev: &mut SimDevice,
        update: Option<&Answer>,
        n: Numbering,
    ) {
        let token = match update
            .map(|a| Ok(a.clone()))
            .as_ref()
            .and_then(|a| answered(a, n))
        {
            Some(Some(t)) => t,
            Some(None) => {
                return na_all(
                    self,
                    &[SUCCESS_ACCEPTED, ERROR_ACCEPTED],
                    "the TAM had nothing to send this device (assign it a Trusted Component)",
                )
            }
            None => {
                let why = format!("needs an Update answering {QRESP_ANSWERED}");
                return na_all(self, &[SUCCESS_ACCEPTED, ERROR_ACCEPTED], &why);
            }
        };
        let body = update.map(|a| a.body.clone()).unwrap_or_default();
        let _ = dev.read_update(&body, n);
        let token = (!token.is_empty()).then_some(token);
        match dev.success(token, n) {
            Ok(s) => {
                let (a, ev) = self.answer("POST (Success echoing the Update's token)", &s);
                self.record(SUCCESS_ACCEPTED, accepted(&a), ev);
            }
            Err(e) => self.record(SUCCESS_ACCEPTED, Verdict::fail(e.to_string()), Vec::new()),
        }

        // A second device, so that the TAM has something to send again.
        let mut other = self.device();
        let v_ev = match self.fresh_query(n).map(|s| other.query_response(&s, n)) {
            Some(Ok(q)) => {
                let (a, _) = self.answer("POST (QueryResponse)", &q);
                match answered(&a, n) {
                    Some(Some(t)) => {
                        let body = a.map(|a| a.body).unwrap_or_default();
                        let _ = other.read_update(&body, n);
                        let token = (!t.is_empty()).then_some(t);
                        match other.error(
                            token,
                            ErrorCode::TemporaryError,
                            "out of storage, try later",
                            n,
                        ) {
                            Ok(e) => {
                                let (a, ev) = self.answer(
                                    "POST (Error ERR_TEMPORARY_ERROR echoing the Update's token)",
                                    &e,
                                );
                                (accepted(&a), ev)
                            }
                            Err(e) => (Verdict::fail(e.to_string()), Vec::new()),
                        }
                    }
                    _ => (
                        Verdict::na("a second session got no Update to answer"),
                        Vec::new(),
                    ),
                }
            }
            Some(Err(e)) => (Verdict::fail(e.to_string()), Vec::new()),
            None => (Verdict::fail("no fresh QueryRequest to answer"), Vec::new()),
        };
        self.record(ERROR_ACCEPTED, v_ev.0, v_ev.1);
    }

    /// A fresh session answered by `dev` with its QueryResponse altered by `alter`.
    fn altered_answer(
        &self,
        dev: &SimDevice,
        n: Numbering,
        what: &str,
        alter: impl FnOnce(&mut teep_proto::QueryResponse),
    ) -> Result<(Result<Answer, String>, Vec<Evidence>), String> {
        let seen: QueryRequestSeen = self
            .fresh_query(n)
            .ok_or("no fresh QueryRequest to answer")?;
        let mut qr = dev
            .query_response_message(&seen)
            .map_err(|e| e.to_string())?;
        alter(&mut qr);
        let body = dev
            .sign(&TeepMessage::QueryResponse(qr), n)
            .map_err(|e| e.to_string())?;
        Ok(self.answer(what, &body))
    }

    /// An unknown option is ignored (DIGEST §3.1: receivers ignore unknown labels), so the
    /// answer is the kind the valid QueryResponse got.
    pub(super) fn unknown_option(&mut self, n: Numbering, valid_got_update: bool) {
        let dev = self.device();
        let r = self.altered_answer(
            &dev,
            n,
            "POST (QueryResponse with option 1000 = \"teep-check\")",
            |qr| {
                qr.unknown_options
                    .insert(UNKNOWN_LABEL, Value::Text("teep-check".into()));
            },
        );
        let (v, ev) = match r {
            Ok((a, ev)) => {
                let v = match (answered(&a, n), valid_got_update) {
                    (Some(Some(_)), true) | (Some(None), false) => Verdict::Pass,
                    (Some(_), _) => Verdict::fail(
                        "a different answer than the same QueryResponse without the option got",
                    ),
                    (None, _) => Verdict::fail(match &a {
                        Ok(a) => {
                            format!("refused ({}): the unknown option was not ignored", a.status)
                        }
                        Err(e) => e.clone(),
                    }),
                };
                (v, ev)
            }
            Err(e) => (Verdict::fail(e), Vec::new()),
        };
        self.record(QRESP_UNKNOWN_OPTION, v, ev);
    }

    /// §4.3: a QueryResponse without the tc-list the QueryRequest asked for gets an Update
    /// with err-code, never a guess that the device holds nothing.
    pub(super) fn missing_item(&mut self, n: Numbering, asked_tc_list: bool) {
        if !asked_tc_list {
            let why = "the QueryRequest did not set the trusted-components bit";
            return self.record(QRESP_MISSING_ITEM, Verdict::na(why), Vec::new());
        }
        let dev = self.device();
        let r = self.altered_answer(&dev, n, "POST (QueryResponse without tc-list)", |qr| {
            qr.tc_list = None;
        });
        let (v, ev) = match r {
            Ok((a, ev)) => {
                let msg = a
                    .as_ref()
                    .ok()
                    .filter(|a| a.status == 200 && !a.body.is_empty())
                    .and_then(|a| view_message(&a.body, Some(n), Tolerance::Tolerant).ok());
                let v = match msg.as_ref().map(|m| m.message()) {
                    Some(TeepMessage::Update(u)) if u.err_code.is_some() => Verdict::Pass,
                    Some(TeepMessage::Update(_)) => {
                        Verdict::fail("an Update without err-code: the missing tc-list was guessed")
                    }
                    Some(m) => Verdict::fail(format!("a {}, not an Update", m.type_name())),
                    None => Verdict::fail(match &a {
                        Ok(a) => format!("{}: no Update carrying err-code", a.status),
                        Err(e) => e.clone(),
                    }),
                };
                (v, ev)
            }
            Err(e) => (Verdict::fail(e), Vec::new()),
        };
        self.record(QRESP_MISSING_ITEM, v, ev);
    }

    /// A body no TEEP message needs: refused, not read to the end and parsed.
    pub(super) fn too_large(&mut self) {
        let sent = Http::sent(
            "POST (32 MiB body, Content-Type: application/teep+cbor, Expect: 100-continue)",
            None,
        );
        let body = vec![0u8; TOO_LARGE];
        let a = self.http.post_expecting(TEEP, &body);
        let v = match &a {
            Ok(a) if a.status == 413 => Verdict::Pass,
            Ok(a) if (400..500).contains(&a.status) => Verdict::Deviation {
                code: "http.oversized-not-413".into(),
                why: format!("refused with {}, not 413", a.status),
            },
            Ok(a) => Verdict::fail(format!("got {}", a.status)),
            // A TAM that stops reading and closes refuses it too.
            Err(e) => Verdict::Deviation {
                code: "http.oversized-connection-closed".into(),
                why: format!("no status, the connection ended: {e}"),
            },
        };
        let ev = self.evidence(sent, &a);
        self.record(PAYLOAD_TOO_LARGE, v, ev);
    }

    /// Whether the answers to the refused QueryResponses carry a reason a developer can read.
    pub(super) fn refusal_explained(
        &mut self,
        refusals: Vec<(Result<Answer, String>, Vec<Evidence>)>,
    ) {
        let mut ev = Vec::new();
        let mut unexplained = Vec::new();
        let mut refused = 0;
        for (a, e) in refusals {
            let Ok(a) = a else { continue };
            if no_update(&Ok(a.clone())) != Verdict::Pass {
                continue;
            }
            refused += 1;
            let text = a.media_type().is_some_and(|m| {
                m.starts_with("text/") || m.ends_with("json") || m.ends_with("+json")
            }) && !a.body.is_empty();
            if !text {
                unexplained.push(a.line());
            }
            ev.extend(e);
        }
        let v = if refused == 0 {
            Verdict::na("no refusal to look at")
        } else if unexplained.is_empty() {
            Verdict::Pass
        } else {
            Verdict::fail(format!(
                "refused without a reason: {}",
                unexplained.join("; ")
            ))
        };
        self.record(REFUSAL_EXPLAINED, v, ev);
    }

    /// §8.2: the TAM supports (so offers) the four mandatory SUIT COSE profiles, to read the
    /// SUIT reports and Evidence an agent encrypts with any of them.
    pub(super) fn suit_profiles(&mut self, q: &QueryRequest, ev: Vec<Evidence>) {
        let offered = &q.supported_suit_cose_profiles;
        let missing: Vec<String> = [
            SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR,
            SuitCoseProfile::SHA256_ED25519_ECDH_A128CTR,
            SuitCoseProfile::SHA256_ESP256_ECDH_A128GCM,
            SuitCoseProfile::SHA256_ED25519_ECDH_CHACHA_POLY,
        ]
        .iter()
        .filter(|p| !offered.contains(p))
        .map(|p| format!("{p:?}"))
        .collect();
        let v = if missing.is_empty() {
            Verdict::Pass
        } else {
            Verdict::fail(format!("not offered: {}", missing.join(", ")))
        };
        self.record(QR_SUIT_PROFILES, v, ev);
    }

    /// §4.1, §7.1: a QueryResponse whose Evidence and content are one device's, signed by
    /// another key, is not that device's: refused.
    pub(super) fn wrong_key(&mut self, n: Numbering, refusals: &mut Vec<Refusal>) {
        let dev = self.device();
        let other = SimDevice::new(KeyType::Ed25519);
        let r = self
            .fresh_query(n)
            .ok_or("no fresh QueryRequest to answer".to_string());
        let r = r.and_then(|seen| {
            let qr = dev
                .query_response_message(&seen)
                .map_err(|e| e.to_string())?;
            other
                .sign(&TeepMessage::QueryResponse(qr), n)
                .map_err(|e| e.to_string())
        });
        let (v, ev) = match r {
            Ok(body) => {
                let (a, ev) = self.answer(
                    "POST (one device's QueryResponse, signed by another key)",
                    &body,
                );
                let v = no_update(&a);
                refusals.push((a, ev.clone()));
                (v, ev)
            }
            Err(e) => (Verdict::fail(e), Vec::new()),
        };
        self.record(QRESP_WRONG_KEY, v, ev);
    }

    /// §8.1: the agent signs with a suite the QueryRequest offered ("the selected suite is used
    /// in both directions"); a QueryResponse in a suite it did not offer (COSE_Sign with
    /// ESP256, `[[98, -9]]`, validly signed) should be refused.
    pub(super) fn unoffered_suite(
        &mut self,
        n: Numbering,
        offered: &[CipherSuite],
        refusals: &mut Vec<Refusal>,
    ) {
        if offered
            .iter()
            .any(|s| s.operations().iter().any(|o| o.cose_type == 98))
        {
            let why = "the TAM offers a COSE_Sign suite: no suite left that it did not offer";
            return self.record(QRESP_UNOFFERED_SUITE, Verdict::na(why), Vec::new());
        }
        let dev = self.device();
        let r = self
            .fresh_query(n)
            .ok_or("no fresh QueryRequest to answer".to_string());
        let r = r.and_then(|seen| {
            let qr = dev
                .query_response_message(&seen)
                .map_err(|e| e.to_string())?;
            dev.sign_multi(&TeepMessage::QueryResponse(qr), n)
                .map_err(|e| e.to_string())
        });
        let (v, ev) = match r {
            Ok(body) => {
                let (a, ev) = self.answer(
                    "POST (QueryResponse as COSE_Sign, ESP256: [[98, -9]])",
                    &body,
                );
                // The draft binds the agent to an offered suite; it does not say the TAM must
                // refuse one it can verify. Taking it is tolerance, not breakage.
                let v = match no_update(&a) {
                    Verdict::Fail { .. } if a.is_ok() => Verdict::Deviation {
                        code: "tam.unoffered-suite-accepted".into(),
                        why: "answered a QueryResponse signed in a suite the QueryRequest did not offer".into(),
                    },
                    v => v,
                };
                refusals.push((a, ev.clone()));
                (v, ev)
            }
            Err(e) => (Verdict::fail(e), Vec::new()),
        };
        self.record(QRESP_UNOFFERED_SUITE, v, ev);
    }
}

/// A refused message's answer and evidence, for [`Run::refusal_explained`].
pub(super) type Refusal = (Result<Answer, String>, Vec<Evidence>);
