//! The agent checker catches real faults: teep's TEEP Agent, whose transport makes it misbehave
//! in one named way, is checked, and the fault must be reported under the case that covers it.
//! The agent's messages are altered after it signed them and re-signed with its own TEEP key
//! (the TAM's, with the checker's TAM key, for the one fault on what the agent receives), so
//! only the fault differs from a conformant agent. `teep_agent_passes_every_must_case`
//! (against_teep_agent.rs) is the control: the same agent without a fault passes every MUST.

mod common;

use std::sync::{Arc, Mutex};

use teep_broker::broker::{Exchange, HttpTransport, Post, Transport, TransportError};
use teep_check::agent::{self, check_agent, AgentRun, AgentTarget, Launch};
use teep_check::{Report, Verdict};
use teep_cose::{KeyType, Opened, PrivateKey, Signer, SoftwareSigner};
use teep_proto::signed::{open_message_auto, sign_message};
use teep_proto::{ErrorCode, Numbering, QueryResponse, TeepMessage};

/// One way of misbehaving, each named after what a TAM would see.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// The QueryResponse carries another token than the QueryRequest's.
    TokenNotEchoed,
    /// The QueryResponse signed with an Ed25519 key although ESP256 was offered.
    AnotherSuite,
    /// The QueryResponse in the other numbering.
    AnotherNumbering,
    /// No tc-list.
    TcListDropped,
    /// A token although the QueryRequest had none.
    TokenAdded,
    /// No Evidence although the attestation bit was set.
    EvidenceDropped,
    /// A QueryRequest with options it does not know answered with an Error.
    UnknownOptionsRefused,
    /// Every Error ERR_PERMANENT_ERROR.
    ErrorCodesGeneric,
    /// Errors without the lists of what the agent supports.
    ErrorListsDropped,
    /// An Error answering a message it should refuse replaced by a QueryResponse.
    AnswersForgedQueryRequest,
    /// Success without the Update's token.
    SuccessWithoutToken,
    /// Error without the Update's token.
    ErrorWithoutToken,
    /// Error without its SUIT reports.
    ErrorWithoutReports,
    /// The Update's unneeded-manifest-list ignored.
    UnneededIgnored,
}

/// The HTTP transport with `fault` applied to what goes out (the agent's messages) and, for
/// [`Fault::UnneededIgnored`], to what comes in.
struct Faulty {
    inner: HttpTransport,
    fault: Fault,
    agent: Arc<dyn Signer>,
    tam: PrivateKey,
    /// The last message from the TAM had options the agent does not know.
    unknown_seen: Mutex<bool>,
    /// The last message from the TAM was not signed by the TAM's key.
    forged_seen: Mutex<bool>,
}

impl Faulty {
    fn resign_as(&self, msg: &TeepMessage, n: Numbering, signer: &dyn Signer) -> Vec<u8> {
        sign_message(msg, n, signer).unwrap()
    }

    fn outgoing(&self, body: &[u8]) -> Vec<u8> {
        let Ok((_, msg, n)) = open_message_auto(body) else {
            return body.to_vec();
        };
        let agent = self.agent.as_ref();
        let out = |m: TeepMessage| self.resign_as(&m, n, agent);
        if self.fault == Fault::UnknownOptionsRefused && *self.unknown_seen.lock().unwrap() {
            let mut e = teep_proto::ErrorMessage::new(ErrorCode::PermanentError);
            e.token = match &msg {
                TeepMessage::QueryResponse(q) => q.token.clone(),
                _ => None,
            };
            return out(TeepMessage::Error(e));
        }
        match (self.fault, msg) {
            (Fault::TokenNotEchoed, TeepMessage::QueryResponse(mut q)) => {
                q.token = Some(vec![0x5a; 16]);
                out(TeepMessage::QueryResponse(q))
            }
            (Fault::AnotherSuite, m @ TeepMessage::QueryResponse(_)) => {
                let other = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
                self.resign_as(&m, n, &other)
            }
            (Fault::AnotherNumbering, m @ TeepMessage::QueryResponse(_)) => {
                let other = match n {
                    Numbering::Draft26 => Numbering::Legacy,
                    _ => Numbering::Draft26,
                };
                self.resign_as(&m, other, agent)
            }
            (Fault::TcListDropped, TeepMessage::QueryResponse(mut q)) => {
                q.tc_list = None;
                out(TeepMessage::QueryResponse(q))
            }
            (Fault::TokenAdded, TeepMessage::QueryResponse(mut q)) if q.token.is_none() => {
                q.token = Some(vec![0x5a; 16]);
                out(TeepMessage::QueryResponse(q))
            }
            (Fault::EvidenceDropped, TeepMessage::QueryResponse(mut q)) => {
                q.attestation_payload = None;
                q.attestation_payload_format = None;
                out(TeepMessage::QueryResponse(q))
            }
            (Fault::ErrorCodesGeneric, TeepMessage::Error(mut e)) => {
                e.err_code = ErrorCode::PermanentError;
                out(TeepMessage::Error(e))
            }
            (Fault::ErrorListsDropped, TeepMessage::Error(mut e)) => {
                e.supported_cipher_suites.clear();
                e.supported_freshness_mechanisms.clear();
                e.versions.clear();
                out(TeepMessage::Error(e))
            }
            (Fault::AnswersForgedQueryRequest, TeepMessage::Error(e))
                if *self.forged_seen.lock().unwrap() =>
            {
                out(TeepMessage::QueryResponse(QueryResponse {
                    token: e.token,
                    ..Default::default()
                }))
            }
            (Fault::SuccessWithoutToken, TeepMessage::Success(mut s)) => {
                s.token = None;
                out(TeepMessage::Success(s))
            }
            (Fault::ErrorWithoutToken, TeepMessage::Error(mut e)) => {
                e.token = None;
                out(TeepMessage::Error(e))
            }
            (Fault::ErrorWithoutReports, TeepMessage::Error(mut e)) => {
                e.suit_reports.clear();
                out(TeepMessage::Error(e))
            }
            _ => body.to_vec(),
        }
    }

    fn incoming(&self, body: &mut Vec<u8>) {
        let Ok((opened, msg, n)) = open_message_auto(body) else {
            return;
        };
        if let TeepMessage::QueryRequest(q) = &msg {
            *self.unknown_seen.lock().unwrap() = !q.unknown_options.is_empty();
        }
        *self.forged_seen.lock().unwrap() = opened.verify(&self.tam.public_key()).is_err();
        if let (Fault::UnneededIgnored, TeepMessage::Update(mut u)) = (self.fault, msg) {
            if !u.unneeded_manifest_list.is_empty() {
                u.unneeded_manifest_list.clear();
                *body = self.resign_as(&TeepMessage::Update(u), n, &self.tam_signer(&opened));
            }
        }
    }

    /// The checker's TAM key, with the algorithm of the signature it made.
    fn tam_signer(&self, opened: &Opened) -> SoftwareSigner {
        SoftwareSigner::with_algorithm(self.tam.clone(), opened.signatures[0].alg).unwrap()
    }
}

impl Transport for Faulty {
    fn send(&self, post: &Post<'_>) -> Result<Exchange, TransportError> {
        let body = self.outgoing(post.body);
        let mut x = self.inner.send(&Post {
            body: &body,
            ..*post
        })?;
        self.incoming(&mut x.response_body);
        Ok(x)
    }
}

/// One session of teep's agent over the faulty transport.
fn session(run: &AgentRun, fault: Fault, tam: &PrivateKey) -> Result<(), String> {
    common::session_with(run, |inner, tee| Faulty {
        inner,
        fault,
        agent: tee.teep_signer(),
        tam: tam.clone(),
        unknown_seen: Mutex::new(false),
        forged_seen: Mutex::new(false),
    })
}

fn check_with(fault: Fault) -> Report {
    let tam = PrivateKey::generate(KeyType::P256);
    let key = tam.clone();
    let mut target = AgentTarget::new(Launch::Function(Box::new(move |run: &AgentRun| {
        session(run, fault, &key)
    })));
    target.tam_key = Some(tam);
    check_agent(target).unwrap()
}

/// Checks with `fault` and asserts that `case` is judged as `expected` says.
fn detected(fault: Fault, case: &str, expected: fn(&Verdict) -> bool) {
    let report = check_with(fault);
    let table = teep_check::report::table(&report, false);
    let r = report.get(case).unwrap_or_else(|| panic!("no case {case}"));
    assert!(
        expected(&r.verdict),
        "{fault:?} not reported under {case}:\n{table}"
    );
    // The fault is one: most of the catalog still passes.
    let passed = report
        .results
        .iter()
        .filter(|r| r.verdict == Verdict::Pass)
        .count();
    assert!(
        passed * 2 > report.results.len(),
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

macro_rules! faults {
    ($($name:ident: $fault:ident => $case:expr, $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            detected(Fault::$fault, $case, $expected);
        }
    )*};
}

faults! {
    // TEEP-26 §4.3
    teep_4_3_token_not_echoed: TokenNotEchoed => agent::QRESP_TOKEN, fail;
    teep_4_3_token_added: TokenAdded => agent::QRESP_NO_TOKEN, fail;
    teep_4_3_tc_list_dropped: TcListDropped => agent::QRESP_TC_LIST,
        |v| matches!(v, Verdict::Deviation { code, .. } if code == "tc-list-absent");
    teep_4_3_evidence_dropped: EvidenceDropped => agent::QRESP_EVIDENCE, fail;
    // TEEP-26 §8.1, §4
    teep_8_1_another_suite: AnotherSuite => agent::QRESP_SUITE, fail;
    teep_4_another_numbering: AnotherNumbering => agent::QRESP_NUMBERING, fail;
    teep_4_unknown_options_refused: UnknownOptionsRefused => agent::QR_UNKNOWN_OPTIONS, fail;
    // TEEP-26 §4.6
    teep_4_6_error_codes_generic: ErrorCodesGeneric => agent::QR_VERSIONS, fail;
    teep_4_6_error_lists_dropped: ErrorListsDropped => agent::QR_SUITES, fail;
    teep_4_6_error_without_token: ErrorWithoutToken => agent::UPDATE_ERROR_TOKEN, fail;
    teep_4_6_error_without_reports: ErrorWithoutReports => agent::UPDATE_SUIT_REPORT, fail;
    // TEEP-26 §4.1
    teep_4_1_forged_query_request_answered: AnswersForgedQueryRequest => agent::QR_BAD_SIGNATURE, fail;
    // TEEP-26 §4.5
    teep_4_5_success_without_token: SuccessWithoutToken => agent::UPDATE_SUCCESS_TOKEN, fail;
    // TEEP-26 §4.4
    teep_4_4_unneeded_ignored: UnneededIgnored => agent::UPDATE_UNNEEDED, fail;
}
