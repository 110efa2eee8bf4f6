//! Verdicts: what the agent POSTed during a case, read against what the case expects.

use teep_cbor::Tolerance;
use teep_cose::encrypt::Purpose;
use teep_cose::CoseKind;
use teep_proto::view::{view_message, MessageView};
use teep_proto::{ErrorCode, Numbering, TeepMessage, Value};

use super::catalog::*;
use super::script::{Component, Plan};
use super::server::{header, SessionLog, TEEP};
use crate::Verdict;

/// SUIT parameter label of the image digest in a tc-list entry.
const SUIT_PARAMETER_IMAGE_DIGEST: i64 = 3;

/// The agent's answer to step `step` of session `session`, decoded.
fn answer(logs: &[SessionLog], session: usize, step: usize) -> Result<MessageView, String> {
    let log = logs.get(session).ok_or_else(|| {
        if session == 0 {
            "the agent opened no session (no empty POST)".to_string()
        } else {
            format!("the agent opened no session {}", session + 1)
        }
    })?;
    let got = log
        .answers
        .get(step)
        .and_then(|a| a.as_ref())
        .ok_or_else(|| {
            format!(
                "no answer to message {} of session {}",
                step + 1,
                session + 1
            )
        })?;
    view_message(&got.body, None, Tolerance::Tolerant)
        .map_err(|e| format!("the answer to message {} does not decode: {e}", step + 1))
}

fn type_of(v: &MessageView) -> &'static str {
    v.message().type_name()
}

/// The message when it is an Error, otherwise why not.
fn error_with(
    a: Result<MessageView, String>,
    code: ErrorCode,
) -> Result<teep_proto::ErrorMessage, Verdict> {
    let v = a.map_err(Verdict::fail)?;
    match v.message() {
        TeepMessage::Error(e) if e.err_code == code => Ok(e.clone()),
        TeepMessage::Error(e) => Err(Verdict::fail(format!(
            "an Error {}, not {code}",
            e.err_code
        ))),
        m => Err(Verdict::fail(format!(
            "a {}, not an Error {code}",
            m.type_name()
        ))),
    }
}

/// Whether the tc-list of a QueryResponse holds `c`, and the image digest it reports.
enum Held {
    No,
    Yes(Option<Vec<u8>>),
}

fn held(a: Result<MessageView, String>, c: &Component) -> Result<Held, Verdict> {
    let v = a.map_err(Verdict::fail)?;
    let TeepMessage::QueryResponse(q) = v.message() else {
        return Err(Verdict::fail(format!(
            "a {} to the QueryRequest for the tc-list",
            type_of(&v)
        )));
    };
    // An agent holding nothing may leave tc-list out: its CDDL is `[+ system-property-claims]`
    // (see agent.query-response.tc-list for the prose that wants it present).
    let Some(list) = &q.tc_list else {
        return Ok(Held::No);
    };
    Ok(
        match list
            .iter()
            .find(|e| e.component_id.encode() == c.id.encode())
        {
            None => Held::No,
            Some(e) => Held::Yes(match e.parameters.get(&SUIT_PARAMETER_IMAGE_DIGEST) {
                Some(Value::Bytes(b)) => Some(b.clone()),
                _ => None,
            }),
        },
    )
}

/// Pass when the agent answered no QueryResponse / Success (`refused` names it).
fn not_accepted(a: Result<MessageView, String>, refused: &str) -> Verdict {
    match a {
        Err(_) => Verdict::Pass,
        Ok(v) if matches!(v.message(), TeepMessage::Error(_)) => Verdict::Pass,
        Ok(v) if type_of(&v) == refused => Verdict::fail(format!("answered with a {refused}")),
        Ok(v) => Verdict::fail(format!("answered with a {}", type_of(&v))),
    }
}

/// After a refused change: the component still at `sequence` (or, `None`, never installed).
fn kept(
    logs: &[SessionLog],
    session: usize,
    step: usize,
    c: &Component,
    sequence: Option<u64>,
) -> Verdict {
    match (held(answer(logs, session, step), c), sequence) {
        (Err(v), _) => v,
        (Ok(Held::No), None) => Verdict::Pass,
        (Ok(Held::Yes(_)), None) => Verdict::fail("the component is in the tc-list"),
        (Ok(Held::No), Some(_)) => {
            Verdict::fail("the installed component is gone from the tc-list")
        }
        (Ok(Held::Yes(Some(d))), Some(n)) if d != c.digest(n) => Verdict::fail(format!(
            "the tc-list reports another image digest than version {n}'s"
        )),
        (Ok(Held::Yes(_)), Some(_)) => Verdict::Pass,
    }
}

/// The install at the start of an Update case (steps 0 and 1) must have worked.
fn installed(logs: &[SessionLog]) -> Result<(), Verdict> {
    match answer(logs, 0, 1) {
        Ok(v) if matches!(v.message(), TeepMessage::Success(_)) => Ok(()),
        Ok(v) => Err(Verdict::na(format!(
            "installing the component first gave a {} (see {UPDATE_INSTALL})",
            type_of(&v)
        ))),
        Err(e) => Err(Verdict::na(format!(
            "installing the component first: {e} (see {UPDATE_INSTALL})"
        ))),
    }
}

/// `bytes` decrypted with the checker's TAM key when the agent encrypted them to it (TEEP-26
/// §8.2: a COSE_Encrypt, tag 96); as they are otherwise.
fn opened(bytes: &[u8], key: &teep_cose::PrivateKey, purpose: Purpose) -> Result<Vec<u8>, String> {
    if !teep_cose::encrypt::is_encrypted(bytes) {
        return Ok(bytes.to_vec());
    }
    teep_cose::encrypt::open_encrypted(bytes)
        .and_then(|e| e.decrypt(key, purpose))
        .map_err(|e| {
            format!("encrypted, but not to the checker's TAM key as TEEP-26 §8.2 says: {e}")
        })
}

/// The SUIT_Report nonce of a SUIT_Report_Unprotected or a COSE_Sign1-protected one, either
/// perhaps encrypted to the checker's TAM key.
fn report_nonce(bytes: &[u8], key: &teep_cose::PrivateKey) -> Result<Option<Vec<u8>>, String> {
    let bytes = &opened(bytes, key, Purpose::SuitReport)?[..];
    let plain = match teep_cose::open(bytes) {
        Ok(o) => o.payload.ok_or("a detached report")?,
        Err(_) => bytes.to_vec(),
    };
    teep_suit::SuitReport::decode(&plain)
        .map(|r| r.nonce)
        .map_err(|e| e.to_string())
}

pub fn judge(id: &str, plan: &Plan, logs: &[SessionLog]) -> Verdict {
    let c = &plan.component;
    let first = || answer(logs, 0, 0);
    let query_response = || -> Result<teep_proto::QueryResponse, Verdict> {
        let v = first().map_err(Verdict::fail)?;
        match v.message() {
            TeepMessage::QueryResponse(q) => Ok(q.clone()),
            m => Err(Verdict::fail(format!(
                "a {}, not a QueryResponse",
                m.type_name()
            ))),
        }
    };
    match id {
        EMPTY_POST => match logs.first() {
            None => Verdict::fail("no empty POST opened a session"),
            Some(l) => match header(&l.opening_headers, "accept") {
                Some(a) if a.to_ascii_lowercase().contains(TEEP) => Verdict::Pass,
                Some(a) => Verdict::fail(format!("Accept: {a}")),
                None => Verdict::fail("no Accept header field"),
            },
        },
        CONTENT_TYPE => match logs.first().and_then(|l| l.answers.first()).cloned().flatten() {
            None => Verdict::fail("no answer to the QueryRequest"),
            Some(r) => match r.header("content-type") {
                Some(t) if t.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(TEEP) => {
                    Verdict::Pass
                }
                Some(t) => Verdict::fail(format!("Content-Type: {t}")),
                None => Verdict::fail("no Content-Type header field"),
            },
        },
        QRESP_ANSWERED => match first() {
            Err(e) => Verdict::fail(e),
            Ok(v) => match (&v.opened, v.message()) {
                (None, _) => Verdict::fail("not COSE-signed"),
                (Some(_), TeepMessage::QueryResponse(_)) => Verdict::Pass,
                (Some(_), m) => Verdict::fail(format!("a {}, not a QueryResponse", m.type_name())),
            },
        },
        QRESP_SUITE => match first() {
            Err(e) => Verdict::fail(e),
            Ok(v) => match &v.opened {
                None => Verdict::fail("not COSE-signed"),
                Some(o) if o.kind != CoseKind::Sign1 => {
                    Verdict::fail("a COSE_Sign, not the COSE_Sign1 of sign1-esp256")
                }
                Some(o) => match o.signatures.first().map(|s| s.alg.to_cose()) {
                    Some(-9) => Verdict::Pass,
                    Some(-7) => Verdict::Deviation {
                        code: "alg-ids-before-26".into(),
                        why: "ES256 (-7), the identifier of drafts before -22 for the same computation".into(),
                    },
                    alg => Verdict::fail(format!("signed with algorithm {alg:?}, not ESP256 (-9)")),
                },
            },
        },
        QRESP_NUMBERING => match first() {
            Err(e) => Verdict::fail(e),
            Ok(v) if v.numbering() == Numbering::Draft26 => Verdict::Pass,
            Ok(v) => Verdict::fail(format!("answered in the {:?} numbering", v.numbering())),
        },
        QRESP_LEGACY => match first() {
            Err(e) => Verdict::na(format!("no QueryResponse to a legacy QueryRequest: {e}")),
            Ok(v) => match (v.message(), v.numbering()) {
                (TeepMessage::QueryResponse(_), Numbering::Legacy) => Verdict::Pass,
                (TeepMessage::QueryResponse(_), n) => Verdict::fail(format!(
                    "a QueryResponse in the {n:?} numbering: a TAM of drafts -20 to -25 cannot read it"
                )),
                (m, _) => Verdict::na(format!(
                    "a {} (the agent speaks TEEP-26 only)",
                    m.type_name()
                )),
            },
        },
        QRESP_TOKEN => match query_response() {
            Err(v) => v,
            Ok(q) if q.token.as_deref() == Some(&plan.token[..]) => Verdict::Pass,
            Ok(q) => Verdict::fail(match q.token {
                None => "no token".to_string(),
                Some(t) => format!("token {} instead of {}", hex::encode(t), hex::encode(&plan.token)),
            }),
        },
        // §4.3's prose wants tc-list present when the bit is set, its CDDL forbids an empty
        // list: an agent holding nothing cannot satisfy both.
        QRESP_TC_LIST => match query_response() {
            Err(v) => v,
            Ok(q) => match q.tc_list {
                Some(l) if l.is_empty() => Verdict::Deviation {
                    code: "teep.tc-list-empty".into(),
                    why: "tc-list: [] on an agent holding nothing (the prose of §4.3 wants it present, its CDDL [+ ...] no empty list)".into(),
                },
                Some(_) => Verdict::Pass,
                None => Verdict::Deviation {
                    code: "tc-list-absent".into(),
                    why: "no tc-list on an agent holding nothing (the CDDL [+ ...] allows no empty list, the prose of §4.3 wants it present)".into(),
                },
            },
        },
        QRESP_NO_TOKEN => match query_response() {
            Err(v) => v,
            Ok(q) if q.token.is_none() => Verdict::Pass,
            Ok(_) => Verdict::fail("a token although the QueryRequest had none"),
        },
        QRESP_EVIDENCE => match query_response() {
            Err(v) => v,
            Ok(q) => evidence_nonce(&q, &plan.token, &plan.tam_key),
        },
        QR_UNKNOWN_OPTIONS => match first() {
            Err(e) => Verdict::fail(e),
            Ok(v) if matches!(v.message(), TeepMessage::QueryResponse(_)) => Verdict::Pass,
            Ok(v) => Verdict::fail(format!("a {}, not a QueryResponse", type_of(&v))),
        },
        QR_VERSIONS => match error_with(first(), ErrorCode::UnsupportedMsgVersion) {
            Err(v) => v,
            Ok(e) if e.versions.is_empty() => Verdict::fail("no versions listed"),
            Ok(_) => Verdict::Pass,
        },
        QR_SUITES => match error_with(first(), ErrorCode::UnsupportedCipherSuites) {
            Err(v) => v,
            Ok(e) if e.supported_cipher_suites.is_empty() => {
                Verdict::fail("no supported-teep-cipher-suites listed")
            }
            Ok(_) => Verdict::Pass,
        },
        QR_FRESHNESS => match first() {
            Ok(v) if matches!(v.message(), TeepMessage::QueryResponse(_)) => {
                Verdict::na("the agent supports timestamps (it answered a QueryResponse)")
            }
            a => match error_with(a, ErrorCode::UnsupportedFreshnessMechanisms) {
                Err(v) => v,
                Ok(e) if e.supported_freshness_mechanisms.is_empty() => {
                    Verdict::fail("no supported-freshness-mechanisms listed")
                }
                Ok(_) => Verdict::Pass,
            },
        },
        QR_BAD_SIGNATURE | QR_UNTRUSTED_KEY => match logs.first() {
            None => Verdict::fail("the agent opened no session"),
            Some(_) => not_accepted(first(), "QueryResponse"),
        },
        UPDATE_INSTALL => match answer(logs, 0, 1) {
            Err(e) => Verdict::fail(e),
            Ok(v) if !matches!(v.message(), TeepMessage::Success(_)) => {
                Verdict::fail(format!("a {}, not a Success", type_of(&v)))
            }
            Ok(_) => match held(answer(logs, 0, 2), c) {
                Err(v) => v,
                Ok(Held::No) => Verdict::fail("a Success, but the component is not in the tc-list"),
                Ok(Held::Yes(Some(d))) if d != c.digest(1) => {
                    Verdict::fail("the tc-list reports another image digest")
                }
                Ok(Held::Yes(_)) => Verdict::Pass,
            },
        },
        UPDATE_SUCCESS_TOKEN => match answer(logs, 0, 1) {
            Err(e) => Verdict::fail(e),
            Ok(v) => match v.message() {
                TeepMessage::Success(s) if s.token.as_deref() == Some(&plan.token[..]) => {
                    Verdict::Pass
                }
                TeepMessage::Success(_) => Verdict::fail("the Success does not carry the Update's token"),
                m => Verdict::na(format!("a {}, not a Success", m.type_name())),
            },
        },
        UPDATE_BAD_SIGNATURE | UPDATE_UNTRUSTED_KEY => match not_accepted(answer(logs, 0, 1), "Success") {
            Verdict::Pass => kept(logs, 1, 0, c, None),
            v => v,
        },
        UPDATE_ROLLBACK | UPDATE_TAMPERED | UPDATE_UNTRUSTED_SIGNER => {
            if let Err(v) = installed(logs) {
                return v;
            }
            let installed_at = if id == UPDATE_ROLLBACK { 2 } else { 1 };
            match answer(logs, 0, 3) {
                Err(e) => Verdict::fail(e),
                Ok(v) if !matches!(v.message(), TeepMessage::Error(_)) => {
                    Verdict::fail(format!("a {}, not an Error", type_of(&v)))
                }
                Ok(_) => kept(logs, 0, 4, c, Some(installed_at)),
            }
        }
        UPDATE_ERROR_TOKEN | UPDATE_SUIT_REPORT => {
            if let Err(v) = installed(logs) {
                return v;
            }
            let e = match answer(logs, 0, 3) {
                Err(e) => return Verdict::fail(e),
                Ok(v) => match v.message() {
                    TeepMessage::Error(e) => e.clone(),
                    m => return Verdict::na(format!("a {}, not an Error", m.type_name())),
                },
            };
            if id == UPDATE_ERROR_TOKEN {
                return if e.token.as_deref() == Some(&plan.token[..]) {
                    Verdict::Pass
                } else {
                    Verdict::fail("the Error does not carry the Update's token")
                };
            }
            suit_reports(&e.suit_reports, &plan.token, &plan.tam_key)
        }
        UPDATE_UNNEEDED => {
            if let Err(v) = installed(logs) {
                return v;
            }
            match answer(logs, 0, 3) {
                Err(e) => Verdict::fail(e),
                Ok(v) if !matches!(v.message(), TeepMessage::Success(_)) => {
                    Verdict::fail(format!("a {}, not a Success", type_of(&v)))
                }
                Ok(_) => kept(logs, 0, 4, c, None),
            }
        }
        other => Verdict::fail(format!("no verdict for case {other}")),
    }
}

fn evidence_nonce(
    q: &teep_proto::QueryResponse,
    challenge: &[u8],
    key: &teep_cose::PrivateKey,
) -> Verdict {
    let Some(payload) = &q.attestation_payload else {
        return Verdict::fail("no attestation-payload although the attestation bit was set");
    };
    let format = q.attestation_payload_format.as_deref().unwrap_or("");
    if !(format.is_empty() || format.contains("eat") || format.contains("cwt")) {
        return Verdict::na(format!(
            "attestation-payload-format {format}: the checker reads EAT Evidence only"
        ));
    }
    let payload = match opened(payload, key, Purpose::Eat) {
        Ok(p) => p,
        Err(e) => return Verdict::fail(format!("the attestation-payload is {e}")),
    };
    match teep_cose::eat::EatClaims::open_unverified(&payload) {
        Err(e) => Verdict::fail(format!("the attestation-payload is not an EAT: {e}")),
        Ok((_, eat)) => match eat.eat_nonce {
            Some(n) if n == challenge => Verdict::Pass,
            Some(n) => Verdict::fail(format!(
                "eat_nonce {} is not the challenge {}",
                hex::encode(n),
                hex::encode(challenge)
            )),
            None => Verdict::fail("no eat_nonce"),
        },
    }
}

fn suit_reports(reports: &[Vec<u8>], token: &[u8], key: &teep_cose::PrivateKey) -> Verdict {
    if reports.is_empty() {
        return Verdict::fail("the Error carries no suit-reports");
    }
    for (i, r) in reports.iter().enumerate() {
        match report_nonce(r, key) {
            Err(e) => return Verdict::fail(format!("suit-reports[{i}] does not decode: {e}")),
            Ok(Some(n)) if n != token => {
                return Verdict::fail(format!(
                    "suit-reports[{i}]: nonce {} is not the Update's token",
                    hex::encode(n)
                ))
            }
            Ok(_) => {}
        }
    }
    Verdict::Pass
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::script::{plan, Keys};

    /// An agent that never connected passes no case.
    #[test]
    fn no_session_passes_no_case() {
        let keys = Keys::new(None, None);
        for case in CATALOG {
            let p = plan(case.id, &keys).unwrap();
            let v = judge(case.id, &p, &[]);
            assert_ne!(v, Verdict::Pass, "{}", case.id);
        }
    }

    /// TEEP-26 §4.6: every SUIT_Report's nonce must be the Update's token.
    #[test]
    fn suit_report_nonces_are_checked() {
        let key = teep_cose::PrivateKey::from_p256_scalar(&[5; 32]).unwrap();
        assert!(matches!(
            suit_reports(&[], b"t", &key),
            Verdict::Fail { .. }
        ));
        assert!(matches!(
            suit_reports(&[vec![0xff]], b"t", &key),
            Verdict::Fail { .. }
        ));
        // TEEP-26 §8.2: a report encrypted to the checker's TAM key is read; one encrypted to
        // another key fails.
        let report = [0xa3, 0x02, 0x41, b't', 0x03, 0x80, 0x04, 0xf5];
        let seal = |to: &teep_cose::PublicKey| {
            teep_cose::encrypt::encrypt(
                &report,
                to,
                teep_cose::encrypt::ContentAlgorithm::A128Gcm,
                Purpose::SuitReport,
                &[0x21; teep_cose::encrypt::RANDOM_LEN],
            )
            .unwrap()
        };
        assert_eq!(
            suit_reports(&[seal(&key.public_key())], b"t", &key),
            Verdict::Pass
        );
        let other = teep_cose::PrivateKey::from_p256_scalar(&[6; 32]).unwrap();
        assert!(matches!(
            suit_reports(&[seal(&other.public_key())], b"t", &key),
            Verdict::Fail { .. }
        ));
    }
}
