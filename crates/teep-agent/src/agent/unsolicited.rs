//! The unsolicited QueryResponse (draft-ietf-teep-protocol-26 §7.2, RequestTA and
//! UnrequestTA; DIGEST §4.2): when an application wants a TC (or gives one up), the Agent may
//! open the session with a QueryResponse of its own instead of waiting for the TAM's
//! QueryRequest, but only when
//! (a) the TAM's last QueryRequest carried neither token nor challenge, so nothing in the
//!     answer had to be bound to a request;
//! (b) no message to that TAM failed since (`ProcessError`, see
//!     [`AgentState::transport_failed`](crate::state::AgentState::transport_failed)); and
//! (c) the TAM's key that verified that QueryRequest is still a trust anchor.
//!
//! The message carries no token (there is no request to echo), the tc-list, the
//! requested-tc-list and unneeded-manifest-list, and no Evidence (nothing to bind it to). A
//! TAM that wants fresh Evidence answers with a QueryRequest, one that does not with an Update
//! (teep's TAM does either, by its `require_attestation`). An Agent that requires TAM
//! attestation sends none: it wants the TAM to attest itself in a QueryRequest every session.

use alloc::vec::Vec;
use teep_proto::{DataItems, QueryRequest};

use super::{Agent, AgentEvent, Outcome};

impl Agent<'_> {
    /// RequestTA's ready QueryResponse for `tam_uri`, signed, when the draft allows one and
    /// the Agent has something to ask (a TC wanted, or one no longer needed); `None`
    /// otherwise, and the Broker opens the session with an empty POST.
    pub fn unsolicited_query_response(
        &mut self,
        tam_uri: &str,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> Option<Outcome> {
        if !self.unsolicited_allowed(tam_uri) {
            return None;
        }
        if self.state.requested.is_empty() && self.state.unrequested.is_empty() {
            return None;
        }
        let profile = self.state.tam_profiles.get(tam_uri)?;
        let tam_kid = [hex::decode(&profile.kid).unwrap_or_default()];
        // No Evidence: with no challenge or token to bind it to, it would be a replayable
        // claim; a TAM that wants it asks with a QueryRequest.
        let mut bits = DataItems::TRUSTED_COMPONENTS;
        if profile.suit_reports {
            bits |= DataItems::SUIT_REPORTS;
        }
        let answering = self.remembered_answering(tam_uri);
        // What the Agent tells the TAM on its own, shaped as the answer to a QueryRequest
        // without token or challenge, the only kind it may answer before being asked.
        let ask = QueryRequest {
            data_item_requested: DataItems(bits),
            ..Default::default()
        };
        let events = Vec::from([AgentEvent::Received {
            message: "RequestTA",
        }]);
        // SUIT reports in it are encrypted as the TAM's last QueryRequest offered (-26 §8.2).
        let content = self
            .state
            .tam_encryption
            .get(tam_uri)
            .and_then(|id| teep_cose::encrypt::ContentAlgorithm::from_cose(*id));
        self.set_encryption(&tam_kid[0], content, random);
        Some(self.answer_query(
            events,
            answering,
            (tam_uri, &tam_kid[..]),
            ask,
            None,
            random,
        ))
    }

    /// Conditions (a), (b) and (c) of the module's comment, and no TAM attestation required.
    pub fn unsolicited_allowed(&self, tam_uri: &str) -> bool {
        let Some(profile) = self.state.tam_profiles.get(tam_uri) else {
            return false;
        };
        let key_still_trusted = self
            .config
            .tam_trust_anchors
            .iter()
            .any(|k| hex::encode(k.thumbprint()).eq_ignore_ascii_case(&profile.kid));
        profile.unsolicited_allowed && key_still_trusted && !self.config.require_tam_attestation
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use teep_proto::{DataItems, Numbering};

    use super::super::multi_tam_tests::{decode, query_response, Bench, NUMBERINGS, TAM_A, TAM_B};
    use super::*;
    use crate::tc_id::TcId;

    const TC: DataItems = DataItems(DataItems::TRUSTED_COMPONENTS);

    fn unsolicited(b: &mut Bench, uri: &str) -> Option<Outcome> {
        Agent::new(&b.config, &mut b.state, &mut b.device)
            .unsolicited_query_response(uri, &mut |x| x.fill(1))
    }

    /// A bench whose TAM A last asked with neither token nor challenge, in `n`, and an
    /// application that wants `hello`.
    fn ready(n: Numbering) -> Bench {
        let mut b = Bench::new();
        query_response(b.query(TAM_A, n, None, TC.0));
        b.state.request(&TcId::parse("hello").unwrap(), &[]);
        b
    }

    /// -26 §7.2 (RequestTA; DIGEST §4.2): after a QueryRequest with neither token nor
    /// challenge, the Agent may open a session with its own QueryResponse: no token, the
    /// tc-list, the TC wanted, no Evidence, in the TAM's numbering.
    #[test]
    fn request_ta_unsolicited_query_response_after_tokenless_query_request() {
        for n in NUMBERINGS {
            let mut b = ready(n);
            let out = unsolicited(&mut b, TAM_A).expect("allowed");
            let q = query_response(decode(out.reply.as_ref().unwrap(), n));
            assert_eq!(q.token, None, "{n:?}");
            assert_eq!(q.tc_list, Some(vec![]), "{n:?}");
            assert_eq!(q.attestation_payload, None, "{n:?}");
            assert_eq!(
                q.requested_tc_list[0].component_id,
                TcId::parse("hello").unwrap().0,
                "{n:?}"
            );
            // Nothing wanted: nothing to say.
            let mut b = Bench::new();
            query_response(b.query(TAM_A, n, None, TC.0));
            assert!(unsolicited(&mut b, TAM_A).is_none(), "{n:?}");
        }
    }

    /// -26 §7.2 (a): not after a QueryRequest that carried a token (or a challenge), nor to a
    /// TAM that never sent one.
    #[test]
    fn request_ta_no_unsolicited_query_response_after_query_request_with_token() {
        for n in NUMBERINGS {
            let mut b = ready(n);
            query_response(b.query(TAM_A, n, Some(vec![4; 16]), TC.0));
            assert!(unsolicited(&mut b, TAM_A).is_none(), "{n:?}");
            assert!(
                unsolicited(&mut b, TAM_B).is_none(),
                "{n:?}: never heard from"
            );
        }
    }

    /// -26 §7.2 (b): not after ProcessError for that TAM, until its next QueryRequest.
    #[test]
    fn request_ta_no_unsolicited_query_response_after_process_error() {
        for n in NUMBERINGS {
            let mut b = ready(n);
            b.state.transport_failed(TAM_A);
            assert!(unsolicited(&mut b, TAM_A).is_none(), "{n:?}");
            query_response(b.query(TAM_A, n, None, TC.0));
            assert!(unsolicited(&mut b, TAM_A).is_some(), "{n:?}");
        }
    }

    /// -26 §7.2 (c): not once the TAM's key is no longer a trust anchor; nor when the Agent
    /// requires TAM attestation (only a QueryRequest carries it).
    #[test]
    fn request_ta_no_unsolicited_query_response_without_cached_tam_key() {
        for n in NUMBERINGS {
            let mut b = ready(n);
            b.config.tam_trust_anchors.remove(0);
            assert!(unsolicited(&mut b, TAM_A).is_none(), "{n:?}");
            let mut b = ready(n);
            b.config.require_tam_attestation = true;
            assert!(unsolicited(&mut b, TAM_A).is_none(), "{n:?}");
        }
    }
}
