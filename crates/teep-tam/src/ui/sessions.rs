//! The audit log read as sessions: a QueryResponse, the Update the TAM answered it with, and
//! the Success or Error that answered that Update, tied together by the token chain (the
//! Success's token is the Update's). Each message is one summary line that opens to its named
//! view, all rendered by `teep_proto::view`.

use std::collections::HashMap;

use teep_proto::deviation::Tolerance;
use teep_proto::view::{view_message, MessageView, Opener, OpeningRender};
use teep_proto::Numbering;

use super::tree::members_html;
use super::when;
use crate::model::AuditRecord;

/// How one audit row ties into the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The token the received message carried (the request it answers).
    pub token: Option<Vec<u8>>,
    /// The token of the message the TAM answered with (an Update's), if it sent one.
    pub answered_with: Option<Vec<u8>>,
}

/// Groups rows given oldest first into sessions, each a list of row indices oldest first; a
/// row whose token is the token of a message an earlier row was answered with joins that
/// row's session. Sessions come newest first (by their latest row).
pub fn group(links: &[Link]) -> Vec<Vec<usize>> {
    let mut sessions: Vec<Vec<usize>> = Vec::new();
    let mut by_token: HashMap<&[u8], usize> = HashMap::new();
    for (i, l) in links.iter().enumerate() {
        let s = match l.token.as_deref().and_then(|t| by_token.remove(t)) {
            Some(s) => {
                sessions[s].push(i);
                s
            }
            None => {
                sessions.push(vec![i]);
                sessions.len() - 1
            }
        };
        if let Some(t) = l.answered_with.as_deref() {
            by_token.insert(t, s);
        }
    }
    sessions.sort_by_key(|s| std::cmp::Reverse(s.last().copied()));
    sessions
}

/// One message of a session.
pub struct Step {
    /// `Broker → TAM` or `TAM → Broker`.
    pub direction: &'static str,
    /// The message type, as stored or decoded.
    pub name: String,
    /// One line: `MessageView::summary`, or why the bytes do not read.
    pub line: String,
    /// The named view as nested `<details>` (already escaped HTML).
    pub tree: String,
    pub when: String,
    /// The exchange result (on received messages).
    pub result: String,
    pub notes: Vec<String>,
}

pub struct SessionView {
    /// Anchor of the session (`s` and the audit id of its first row).
    pub anchor: String,
    pub when: String,
    /// Device kid, first 8 bytes in hex.
    pub device: String,
    /// The message names in order, e.g. `QueryResponse → Update → Success`.
    pub title: String,
    /// The result of its last received message.
    pub result: String,
    pub steps: Vec<Step>,
}

fn numbering(stored: Option<&str>) -> Option<Numbering> {
    stored.and_then(|n| n.parse().ok())
}

fn open(bytes: &[u8], n: Option<Numbering>) -> Result<MessageView, String> {
    view_message(bytes, n, Tolerance::Tolerant).map_err(|e| e.to_string())
}

/// `open`: the TAM's opener for what Agents encrypted to it (received messages only).
fn step(
    direction: &'static str,
    name: &str,
    view: &Result<MessageView, String>,
    at: i64,
    open: Option<Opener<'_>>,
) -> Step {
    let (line, tree, name) = match view {
        Ok(v) => (
            // The summary starts with the type, which the step shows already.
            v.summary()
                .strip_prefix(v.message().type_name())
                .map(|l| l.trim_start().to_string())
                .unwrap_or_else(|| v.summary()),
            members_html(
                &match open {
                    Some(o) => v.json_with(&OpeningRender(o)),
                    None => v.json(),
                },
                0,
            ),
            v.message().type_name().to_string(),
        ),
        Err(e) => (
            format!("does not read: {e}"),
            String::new(),
            name.to_string(),
        ),
    };
    Step {
        direction,
        name,
        line,
        tree,
        when: when(at),
        result: String::new(),
        notes: Vec::new(),
    }
}

/// The rows (newest first, as the audit query returns them) as sessions, newest first.
/// Evidence and SUIT reports an Agent encrypted to the TAM (-26 §8.2) are shown opened
/// through `opener` as well as sealed.
pub fn sessions(records: &[AuditRecord], opener: Opener<'_>) -> Vec<SessionView> {
    let rows: Vec<&AuditRecord> = records.iter().rev().collect();
    let mut views = Vec::with_capacity(rows.len());
    let mut links = Vec::with_capacity(rows.len());
    for r in &rows {
        let n = numbering(r.entry.numbering.as_deref());
        let received = r.entry.message.as_deref().map(|m| open(m, n));
        let sent = r.entry.response.as_deref().map(|m| open(m, n));
        links.push(Link {
            token: r.entry.token.clone(),
            answered_with: sent
                .as_ref()
                .and_then(|s| s.as_ref().ok())
                .and_then(|v| v.message().token().map(<[u8]>::to_vec)),
        });
        views.push((received, sent));
    }
    group(&links)
        .into_iter()
        .map(|idx| {
            let first = rows[idx[0]];
            let mut steps = Vec::new();
            let mut result = String::new();
            for &i in &idx {
                let r = rows[i];
                let (received, sent) = &views[i];
                let mut s = match received {
                    Some(v) => step(
                        "Broker → TAM",
                        &r.entry.message_type,
                        v,
                        r.entry.at,
                        Some(opener),
                    ),
                    None => Step {
                        direction: "Broker → TAM",
                        name: r.entry.message_type.clone(),
                        line: "message not kept".into(),
                        tree: String::new(),
                        when: when(r.entry.at),
                        result: String::new(),
                        notes: Vec::new(),
                    },
                };
                s.result = r.entry.result.clone();
                s.notes = r.entry.notes.clone();
                result = r.entry.result.clone();
                steps.push(s);
                if let Some(v) = sent {
                    steps.push(step("TAM → Broker", "response", v, r.entry.at, None));
                }
            }
            SessionView {
                anchor: format!("s{}", first.id),
                when: when(first.entry.at),
                device: first
                    .entry
                    .device_kid
                    .as_ref()
                    .map(|k| hex::encode(&k[..k.len().min(8)]))
                    .unwrap_or_default(),
                title: steps
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" → "),
                result,
                steps,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(token: &[u8], answered_with: Option<&[u8]>) -> Link {
        Link {
            token: Some(token.to_vec()),
            answered_with: answered_with.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn a_success_joins_the_query_response_whose_update_it_answers() {
        // Oldest first: device A's QueryResponse (answered with Update u1), device B's
        // QueryResponse (nothing to send), A's Success for u1, and an Error for an unknown token.
        let links = [
            link(b"q1", Some(b"u1")),
            link(b"q2", None),
            link(b"u1", None),
            link(b"zz", None),
        ];
        assert_eq!(group(&links), vec![vec![3], vec![0, 2], vec![1]]);
    }

    #[test]
    fn a_token_joins_once_and_tokenless_rows_stand_alone() {
        let links = [
            link(b"q1", Some(b"u1")),
            link(b"u1", None),
            // A replayed Success with the same token opens a session of its own.
            link(b"u1", None),
            Link {
                token: None,
                answered_with: None,
            },
        ];
        assert_eq!(group(&links), vec![vec![3], vec![2], vec![0, 1]]);
    }

    #[test]
    fn an_update_answered_by_a_query_response_chains_on() {
        // An Error answering the Update, whose own answer (if any) continues the chain.
        let links = [
            link(b"q1", Some(b"u1")),
            link(b"u1", Some(b"u2")),
            link(b"u2", None),
        ];
        assert_eq!(group(&links), vec![vec![0, 1, 2]]);
    }

    /// An audit row of a QueryResponse (token 02…) received as `message`.
    fn query_response_row(
        id: i64,
        result: &str,
        message: Vec<u8>,
        response: Option<Vec<u8>>,
    ) -> AuditRecord {
        AuditRecord {
            id,
            entry: crate::model::AuditEntry {
                at: 0,
                device_kid: Some(vec![1; 32]),
                token: Some(vec![2; 8]),
                message_type: "QueryResponse".into(),
                summary: String::new(),
                result: result.into(),
                message: Some(message),
                numbering: Some("draft26".into()),
                response,
                notes: vec![],
            },
        }
    }

    #[test]
    fn undecodable_rows_become_sessions_of_one_with_their_error() {
        let rec = query_response_row(7, "updated", vec![0xff, 0x00], Some(b"<script>".to_vec()));
        let s = sessions(&[rec], &|_, _| Err("no key".into()));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].anchor, "s7");
        assert_eq!(s[0].steps.len(), 2);
        assert_eq!(s[0].steps[0].direction, "Broker → TAM");
        assert!(s[0].steps[0].line.starts_with("does not read"));
        assert_eq!(s[0].steps[1].direction, "TAM → Broker");
        assert_eq!(s[0].title, "QueryResponse → response");
    }

    /// -26 §8.2: Evidence an Agent encrypted to the TAM is shown sealed and, through the
    /// TAM's opener, opened with its claims by name; the TAM's own answer is not opened.
    #[test]
    fn encrypted_evidence_is_shown_opened() {
        use teep_cose::encrypt::{encrypt, ContentAlgorithm, Purpose};
        let tam = teep_cose::PrivateKey::from_p256_scalar(&[7; 32]).unwrap();
        let device = teep_cose::SoftwareSigner::new(
            teep_cose::PrivateKey::from_p256_scalar(&[8; 32]).unwrap(),
        );
        let eat = teep_cose::eat::EatClaims {
            ueid: Some(vec![0x01; 17]),
            eat_nonce: Some(vec![0x05; 16]),
            ..Default::default()
        }
        .sign(&device)
        .unwrap();
        let sealed = encrypt(
            &eat,
            &tam.public_key(),
            ContentAlgorithm::A128Gcm,
            Purpose::Eat,
            &[0x21; teep_cose::encrypt::RANDOM_LEN],
        )
        .unwrap();
        let qr = teep_proto::TeepMessage::QueryResponse(teep_proto::QueryResponse {
            token: Some(vec![2; 8]),
            attestation_payload: Some(sealed),
            ..Default::default()
        });
        let rec = query_response_row(9, "attested", qr.encode(Numbering::Draft26), None);
        let opener = |b: &[u8], p: Purpose| {
            teep_cose::encrypt::open_encrypted(b)
                .and_then(|e| e.decrypt(&tam, p))
                .map_err(|e| e.to_string())
        };
        let s = sessions(std::slice::from_ref(&rec), &opener);
        let tree = &s[0].steps[0].tree;
        assert!(tree.contains("opened"), "{tree}");
        assert!(tree.contains("ueid"), "{tree}");
        let s = sessions(&[rec], &|_, _| Err("no key".into()));
        let tree = &s[0].steps[0].tree;
        assert!(tree.contains("not_opened"), "{tree}");
        assert!(!tree.contains("ueid"), "{tree}");
    }
}
