//! Glue between the sans-IO [`Agent`] and the [`Broker`]: an [`AgentEndpoint`] that owns the
//! configuration, state and device, and the policy-check loop over every known TAM.

use crate::broker::{
    AgentEndpoint, Broker, BrokerError, EndpointError, SessionReport, Transport, TransportError,
};
use teep_agent::agent::{Agent, AgentConfig, AgentDevice, AgentEvent};
use teep_agent::state::{AgentState, TamHttp};
use teep_cbor::Deviation;
use teep_proto::Numbering;

/// Fills a buffer from the default crypto provider's generator (the operating system's,
/// through aws-lc-rs or getrandom).
pub fn provider_random(buf: &mut [u8]) {
    // The Agent takes an infallible source. A provider fails only without any random source
    // (a no_std build that installed none), where nothing here could run safely.
    if let Err(e) = teep_cose::default_provider().fill_random(buf) {
        panic!("no random source: {e}");
    }
}

/// An Agent ready to be driven by a Broker.
pub struct AgentRunner<D: AgentDevice> {
    pub config: AgentConfig,
    pub state: AgentState,
    pub device: D,
    /// Every event of every message, in order (the caller drains it).
    pub events: Vec<AgentEvent>,
    /// Transport failures reported by the Broker (ProcessError), by TAM URI.
    pub transport_errors: Vec<(String, TransportError)>,
    /// What the Agent tolerated since the Broker last asked.
    deviations: Vec<Deviation>,
    random: fn(&mut [u8]),
}

impl<D: AgentDevice> AgentRunner<D> {
    pub fn new(config: AgentConfig, state: AgentState, device: D) -> Self {
        AgentRunner {
            config,
            state,
            device,
            events: Vec::new(),
            transport_errors: Vec::new(),
            deviations: Vec::new(),
            random: provider_random,
        }
    }

    /// Replaces the random source (deterministic tests).
    pub fn with_random(mut self, random: fn(&mut [u8])) -> Self {
        self.random = random;
        self
    }

    /// RequestPolicyCheck: one session with each TAM the Agent knows; returns what each did.
    pub fn policy_check<T: Transport>(
        &mut self,
        broker: &mut Broker<'_, T>,
    ) -> Vec<(String, Result<SessionReport, BrokerError>)> {
        let uris = self.state.all_tam_uris();
        self.sessions(broker, &uris)
    }

    /// One session with each of `uris`, in order; one failing does not stop the others. A
    /// session opens with the Agent's own QueryResponse where the draft allows one (see
    /// [`Agent::unsolicited_query_response`]), else with the empty POST.
    pub fn sessions<T: Transport>(
        &mut self,
        broker: &mut Broker<'_, T>,
        uris: &[String],
    ) -> Vec<(String, Result<SessionReport, BrokerError>)> {
        uris.iter()
            .map(|uri| {
                let opening = self.unsolicited_query_response(uri);
                (uri.clone(), broker.session(self, uri, opening))
            })
            .collect()
    }

    /// The Agent's unsolicited QueryResponse for `uri`, if it may send one and has something
    /// to ask.
    pub fn unsolicited_query_response(&mut self, uri: &str) -> Option<Vec<u8>> {
        let random = self.random;
        let mut rng = |b: &mut [u8]| random(b);
        let outcome = Agent::new(&self.config, &mut self.state, &mut self.device)
            .unsolicited_query_response(uri, &mut rng)?;
        self.events.extend(outcome.events);
        outcome.reply
    }
}

impl<D: AgentDevice> AgentEndpoint for AgentRunner<D> {
    fn process_teep_message(
        &mut self,
        tam_uri: &str,
        message: &[u8],
    ) -> Result<Option<Vec<u8>>, EndpointError> {
        let random = self.random;
        let mut rng = |b: &mut [u8]| random(b);
        let outcome = Agent::new(&self.config, &mut self.state, &mut self.device)
            .handle_message(tam_uri, message, &mut rng);
        // An install may have been a trust-anchor update: the next message is verified with
        // what the device holds now.
        if outcome
            .events
            .iter()
            .any(|e| matches!(e, AgentEvent::Installed { .. }))
        {
            if let Some((tam, tc_signers)) = self.device.trust_anchors() {
                self.config.tam_trust_anchors = tam;
                self.config.tc_signer_trust_anchors = tc_signers;
            }
        }
        self.events.extend(outcome.events);
        self.deviations.extend(outcome.deviations);
        // An answer that was due but could not be made is a failure, not the end of the session.
        match outcome.error {
            Some(error) => Err(Box::new(error)),
            None => Ok(outcome.reply),
        }
    }

    fn process_error(&mut self, tam_uri: &str, error: &TransportError) {
        tracing::warn!(%tam_uri, %error, "TEEP message not delivered");
        self.state.transport_failed(tam_uri);
        self.transport_errors
            .push((tam_uri.to_string(), error.clone()));
    }

    fn tam_http(&self, tam_uri: &str) -> TamHttp {
        self.state
            .tam_http
            .get(tam_uri)
            .cloned()
            .unwrap_or_default()
    }

    fn remember_tam_http(&mut self, tam_uri: &str, http: TamHttp) {
        if http == TamHttp::default() {
            self.state.tam_http.remove(tam_uri);
        } else {
            self.state.tam_http.insert(tam_uri.to_string(), http);
        }
    }

    fn take_deviations(&mut self) -> Vec<Deviation> {
        std::mem::take(&mut self.deviations)
    }

    fn known_numbering(&self, tam_uri: &str) -> Option<Numbering> {
        self.state.learnt_numbering(tam_uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teep_agent::agent::test_device::{signer, Broken, KeyGone};
    use teep_cose::Signer;
    use teep_proto::{CipherSuite, DataItems, Numbering, QueryRequest, TeepMessage};

    #[test]
    fn an_answer_the_agent_cannot_sign_fails_the_message_instead_of_ending_the_session() {
        let tam = signer(0x11);
        let device = Broken {
            signer: Box::new(KeyGone(signer(0x22))),
            store_readable: true,
        };
        let config = AgentConfig {
            tam_trust_anchors: vec![tam.public_key()],
            ..Default::default()
        };
        let mut runner =
            AgentRunner::new(config, AgentState::default(), device).with_random(|b| b.fill(0));
        let qr = TeepMessage::QueryRequest(QueryRequest {
            token: Some(vec![4; 16]),
            supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
            data_item_requested: DataItems(DataItems::TRUSTED_COMPONENTS),
            ..Default::default()
        });
        let bytes = teep_cose::sign1(&qr.encode(Numbering::Draft26), &tam).unwrap();
        let err = runner
            .process_teep_message("http://tam", &bytes)
            .unwrap_err();
        assert_eq!(err.to_string(), "signing: crypto provider: key unavailable");
    }
}
