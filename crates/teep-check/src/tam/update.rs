//! The Update cases, on the TAM's answer to the checker's valid QueryResponse.

use teep_cbor::Tolerance;
use teep_cose::CoseKind;
use teep_proto::view::view_message;
use teep_proto::{Numbering, TeepMessage};

use super::http::Answer;
use super::{Run, QRESP_ANSWERED, UPDATE_ENVELOPES, UPDATE_SUITE, UPDATE_TOKEN};
use crate::{Evidence, Verdict};

/// The decoder's deviation code for a tagged manifest-list entry.
const TAGGED: &str = "suit.envelope-tagged";

impl Run<'_> {
    /// The Update cases, on the TAM's answer to the valid QueryResponse.
    pub(super) fn update(
        &mut self,
        answer: Option<&Answer>,
        query_token: Option<&[u8]>,
        n: Numbering,
        ev: Vec<Evidence>,
    ) {
        let ids = [UPDATE_SUITE, UPDATE_TOKEN, UPDATE_ENVELOPES];
        let body = match answer {
            Some(a) if a.status == 200 && !a.body.is_empty() => &a.body,
            Some(a) if a.status == 204 => {
                for id in ids {
                    let why = "the TAM had nothing to send this device (assign it a Trusted Component to check the Update)";
                    self.record(id, Verdict::na(why), ev.clone());
                }
                return;
            }
            _ => {
                for id in ids {
                    self.record(
                        id,
                        Verdict::na(format!("needs {QRESP_ANSWERED}")),
                        Vec::new(),
                    );
                }
                return;
            }
        };
        let view = match view_message(body, Some(n), Tolerance::Tolerant) {
            Ok(v) => v,
            Err(e) => {
                for id in ids {
                    self.record(
                        id,
                        Verdict::fail(format!("the answer does not decode: {e}")),
                        ev.clone(),
                    );
                }
                return;
            }
        };
        let TeepMessage::Update(u) = view.message() else {
            let why = format!("a {}, not an Update", view.message().type_name());
            for id in ids {
                self.record(id, Verdict::fail(why.clone()), ev.clone());
            }
            return;
        };
        let v = match &view.opened {
            None => Verdict::fail("not signed"),
            Some(o) if o.kind != CoseKind::Sign1 => Verdict::fail(
                "a COSE_Sign: the suite was selected, one signature in it is expected",
            ),
            Some(o) => {
                let alg = o.signatures.first().map(|s| s.alg.to_cose());
                if !matches!(alg, Some(-9) | Some(-7)) {
                    Verdict::fail(format!(
                        "signed with algorithm {alg:?}, the agent signed ESP256 (-9)"
                    ))
                } else if !self.target.tam_keys.is_empty()
                    && !self.target.tam_keys.iter().any(|k| o.verify(k).is_ok())
                {
                    Verdict::fail("no --tam-key verifies it")
                } else {
                    Verdict::Pass
                }
            }
        };
        self.record(UPDATE_SUITE, v, ev.clone());
        let v = match (&u.token, query_token) {
            (None, _) => Verdict::fail("no token"),
            (Some(t), Some(q)) if t == q => Verdict::fail("the QueryRequest's token again"),
            _ => Verdict::Pass,
        };
        self.record(UPDATE_TOKEN, v, ev.clone());
        let limits = teep_suit::Limits::default();
        let bad: Vec<String> = u
            .manifest_list
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                teep_suit::decode_envelope_unverified(e.clone(), &limits)
                    .err()
                    .map(|err| format!("[{i}]: {err}"))
            })
            .collect();
        let v = if u.manifest_list.is_empty() {
            Verdict::na("the Update carries no manifest")
        } else if !bad.is_empty() {
            Verdict::fail(format!("manifest-list{}", bad.join("; ")))
        } else if view.decoded.deviations.codes().contains(&TAGGED) {
            // The decoder reads `#6.107(envelope)` as the envelope and notes it: tolerated
            // (AttesTAM sends it), not what the CDDL says.
            Verdict::Deviation {
                code: TAGGED.into(),
                why: "manifest-list entries tagged SUIT_Envelope_Tagged (107); the CDDL has bstr .cbor SUIT_Envelope".into(),
            }
        } else {
            Verdict::Pass
        };
        self.record(UPDATE_ENVELOPES, v, ev);
    }
}
