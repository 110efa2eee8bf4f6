//! A TEEP session (draft-ietf-teep-otrp-over-http-15): an empty POST opens it (the TAM's
//! `ProcessConnect`), or a message the Agent already has (an unsolicited QueryResponse). Every
//! non-empty response body goes to the Agent; whatever the Agent answers is POSTed back; an
//! empty 2xx ends the session. An HTTP error status or a network failure is reported to the
//! Agent (`ProcessError`) and ends the attempt; whole sessions are retried per [`RetryPolicy`].
//!
//! Strict on send, tolerant and explicit on receive: where a TAM departs from the binding but
//! its meaning is plain (a response typed `application/teep+cose`, a `Cache-Control` header, a
//! 415 to the empty POST because it has no Content-Type), the Broker goes on and records a named
//! deviation (`teep_cbor::deviation::catalog`) in the exchange, the session's log span and its
//! report; with [`Tolerance::Strict`] it refuses instead.

use std::time::Duration;

use teep_agent::state::TamHttp;
use teep_cbor::deviation::catalog::{
    HTTP_CACHE_CONTROL, HTTP_CONTENT_TYPE_TEEP_COSE, HTTP_EMPTY_POST_NEEDS_CONTENT_TYPE,
};
use teep_cbor::{Deviation, Deviations, Tolerance};
use teep_proto::Numbering;

use super::retry::RetryPolicy;
use super::transport::{header, Exchange, Post, Transport, TransportError, TEEP_MEDIA_TYPE};

/// The media type tamproto answers with (draft-12 era); read as [`TEEP_MEDIA_TYPE`].
const TEEP_COSE_MEDIA_TYPE: &str = "application/teep+cose";

/// Most round trips in one session; a TAM that never ends a session is cut off here.
pub const MAX_ROUND_TRIPS: usize = 32;

/// Why the Agent could not produce anything from a TAM message: the endpoint's own error.
pub type EndpointError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a session failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The Agent could not produce anything from a TAM message (RFC 9397 "local failure").
    #[error("agent could not process the message from {uri}: {cause}")]
    Agent { uri: String, cause: EndpointError },
    #[error("{uri}: session did not end after {MAX_ROUND_TRIPS} round trips")]
    TooManyRoundTrips { uri: String },
}

/// What the Broker needs from the Agent (RFC 9397 §6.2.1).
pub trait AgentEndpoint {
    /// `ProcessTeepMessage`: `Ok(None)` means the Agent has nothing more to send.
    fn process_teep_message(
        &mut self,
        tam_uri: &str,
        message: &[u8],
    ) -> Result<Option<Vec<u8>>, EndpointError>;
    /// `ProcessError`: the last outbound message to this TAM was not delivered.
    fn process_error(&mut self, tam_uri: &str, error: &TransportError);
    /// What the Broker learnt of this TAM's HTTP side in earlier sessions.
    fn tam_http(&self, _tam_uri: &str) -> TamHttp {
        TamHttp::default()
    }
    /// Keeps what the Broker learnt of this TAM's HTTP side for later sessions.
    fn remember_tam_http(&mut self, _tam_uri: &str, _http: TamHttp) {}
    /// The numbering the Agent reads this TAM's messages in, if it knows it (for the dump).
    fn known_numbering(&self, _tam_uri: &str) -> Option<Numbering> {
        None
    }
    /// What the Agent tolerated in the messages it processed since the last call.
    fn take_deviations(&mut self) -> Vec<Deviation> {
        Vec::new()
    }
}

/// What one successful session did.
#[derive(Debug, Clone, Default)]
pub struct SessionReport {
    pub uri: String,
    pub round_trips: usize,
    /// The attempt that succeeded (1 = first).
    pub attempt: u32,
    /// What was tolerated during that attempt, each once: on the HTTP side by the Broker, in
    /// the TAM's messages by the Agent.
    pub deviations: Vec<Deviation>,
}

type DumpFn<'a> = Box<dyn FnMut(&Exchange) + 'a>;
type SleepFn<'a> = Box<dyn FnMut(Duration) + 'a>;

/// Drives TEEP sessions between an Agent and TAMs over a [`Transport`].
pub struct Broker<'a, T: Transport> {
    transport: T,
    retry: RetryPolicy,
    dump: Option<DumpFn<'a>>,
    sleep: SleepFn<'a>,
    tolerance: Tolerance,
}

impl<'a, T: Transport> Broker<'a, T> {
    pub fn new(transport: T) -> Self {
        Broker {
            transport,
            retry: RetryPolicy::default(),
            dump: None,
            sleep: Box::new(std::thread::sleep),
            tolerance: Tolerance::Tolerant,
        }
    }

    /// [`Tolerance::Strict`] refuses every departure from the binding (`--strict`).
    pub fn with_tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Calls `dump` with every HTTP exchange (for `--dump` and the demo's packet view).
    pub fn with_dump(mut self, dump: impl FnMut(&Exchange) + 'a) -> Self {
        self.dump = Some(Box::new(dump));
        self
    }

    /// Replaces the wait between attempts (tests pass a recorder instead of sleeping).
    pub fn with_sleep(mut self, sleep: impl FnMut(Duration) + 'a) -> Self {
        self.sleep = Box::new(sleep);
        self
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Runs one session with retries; `initial` is a message to open with instead of the empty POST.
    ///
    /// Only transport failures are retried: an Agent that cannot process a message would fail the
    /// same way again.
    pub fn session(
        &mut self,
        agent: &mut dyn AgentEndpoint,
        uri: &str,
        initial: Option<Vec<u8>>,
    ) -> Result<SessionReport, BrokerError> {
        let span = tracing::info_span!("teep_session", tam = %uri);
        let _in_span = span.enter();
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            let mut deviations = Vec::new();
            match self.session_once(agent, uri, initial.clone(), &mut deviations) {
                Ok(round_trips) => {
                    return Ok(SessionReport {
                        uri: uri.to_string(),
                        round_trips,
                        attempt,
                        deviations,
                    })
                }
                Err(BrokerError::Transport(e)) if attempt < attempts && e.is_retryable() => {
                    tracing::warn!(%uri, attempt, error = %e, "TEEP session failed; retrying");
                    attempt += 1;
                    let wait = self.retry.backoff(attempt);
                    (self.sleep)(wait);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn session_once(
        &mut self,
        agent: &mut dyn AgentEndpoint,
        uri: &str,
        initial: Option<Vec<u8>>,
        deviations: &mut Vec<Deviation>,
    ) -> Result<usize, BrokerError> {
        let mut outbound = initial.unwrap_or_default();
        let mut http = agent.tam_http(uri);
        for round_trip in 1..=MAX_ROUND_TRIPS {
            let learnt = http.clone();
            let numbering = agent.known_numbering(uri);
            let result = self.post_checked(uri, &outbound, &mut http, numbering);
            if http != learnt {
                agent.remember_tam_http(uri, http.clone());
            }
            let exchange = match result {
                Ok(x) => x,
                Err(e) => {
                    agent.process_error(uri, &e);
                    return Err(e.into());
                }
            };
            for d in &exchange.deviations {
                if !deviations.contains(d) {
                    deviations.push(d.clone());
                }
            }
            if exchange.response_body.is_empty() {
                return Ok(round_trip);
            }
            let processed = agent.process_teep_message(uri, &exchange.response_body);
            for d in agent.take_deviations() {
                if !deviations.contains(&d) {
                    deviations.push(d);
                }
            }
            match processed {
                Ok(Some(reply)) => outbound = reply,
                Ok(None) => return Ok(round_trip),
                Err(cause) => {
                    return Err(BrokerError::Agent {
                        uri: uri.to_string(),
                        cause,
                    })
                }
            }
        }
        Err(BrokerError::TooManyRoundTrips {
            uri: uri.to_string(),
        })
    }

    /// One POST and the checks of its answer; every exchange goes to the dump, refused or not.
    fn post_checked(
        &mut self,
        uri: &str,
        body: &[u8],
        http: &mut TamHttp,
        numbering: Option<Numbering>,
    ) -> Result<Exchange, TransportError> {
        let strict = self.tolerance.is_strict();
        let mut seen = Deviations::new(self.tolerance);
        let empty = body.is_empty();
        // A TAM known to refuse the bare empty POST gets it with a Content-Type, which is still
        // a departure from the binding, so it is noted each time (and not done under --strict).
        let remembered = empty && http.empty_post_content_type && !strict;
        let post = Post {
            uri,
            body,
            empty_with_content_type: remembered,
        };
        let mut exchange = self.transport.send(&post)?;
        exchange.tam_numbering = numbering;
        if remembered {
            let _ = seen.note(
                &HTTP_EMPTY_POST_NEEDS_CONTENT_TYPE,
                "HTTP request (empty POST, Content-Type remembered for this TAM)",
            );
        } else if empty && exchange.status == 415 {
            // -15 §6.1 has a TAM answer 415 without "the appropriate Content-Type", and the
            // empty POST has none; one retry with it tells whether that was the reason.
            let noted = seen.note(
                &HTTP_EMPTY_POST_NEEDS_CONTENT_TYPE,
                "HTTP response 415 to the empty POST",
            );
            exchange.deviations = seen.as_slice().to_vec();
            self.show(&exchange);
            if let Err(deviation) = noted {
                return Err(TransportError::Strict {
                    uri: uri.to_string(),
                    deviation,
                });
            }
            exchange = self.transport.send(&Post {
                empty_with_content_type: true,
                ..post
            })?;
            exchange.tam_numbering = numbering;
            if (200..300).contains(&exchange.status) {
                http.empty_post_content_type = true;
                tracing::info!(
                    "the TAM accepts the empty POST with a Content-Type only; remembered"
                );
            }
        }
        let verdict = check_response(uri, &exchange, &mut seen);
        exchange.deviations = seen.into_vec();
        self.show(&exchange);
        for d in &exchange.deviations {
            tracing::info!(deviation = %d, "tolerated");
        }
        verdict.map(|()| exchange)
    }

    fn show(&mut self, exchange: &Exchange) {
        if let Some(dump) = self.dump.as_mut() {
            dump(exchange);
        }
    }
}

/// The status, Content-Type and caching rules of draft-ietf-teep-otrp-over-http-15 §4, §6 on
/// one answer. A 204 may carry a Content-Type (tamproto's does): the rules are for responses
/// with content.
fn check_response(
    uri: &str,
    exchange: &Exchange,
    seen: &mut Deviations,
) -> Result<(), TransportError> {
    let strict = |deviation| TransportError::Strict {
        uri: uri.to_string(),
        deviation,
    };
    if !(200..300).contains(&exchange.status) {
        return Err(TransportError::Status {
            uri: uri.to_string(),
            status: exchange.status,
        });
    }
    if header(&exchange.response_headers, "cache-control").is_some() {
        seen.note(&HTTP_CACHE_CONTROL, "HTTP response Cache-Control")
            .map_err(strict)?;
    }
    if !exchange.response_body.is_empty() {
        let content_type = header(&exchange.response_headers, "content-type").unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case(TEEP_COSE_MEDIA_TYPE) {
            seen.note(&HTTP_CONTENT_TYPE_TEEP_COSE, "HTTP response Content-Type")
                .map_err(strict)?;
        } else if !essence.eq_ignore_ascii_case(TEEP_MEDIA_TYPE) {
            return Err(TransportError::ContentType {
                uri: uri.to_string(),
                got: content_type.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::sync::Arc;

    type Answer = Result<(u16, Vec<u8>), TransportError>;

    /// Answers from a script and records what was posted.
    struct Scripted {
        answers: RefCell<VecDeque<Answer>>,
        posted: RefCell<Vec<Vec<u8>>>,
    }

    impl Scripted {
        fn new(answers: Vec<Answer>) -> Self {
            Scripted {
                answers: RefCell::new(answers.into()),
                posted: RefCell::new(Vec::new()),
            }
        }
    }

    impl Transport for &Scripted {
        fn send(&self, post: &Post<'_>) -> Result<Exchange, TransportError> {
            let (uri, body) = (post.uri, post.body);
            self.posted.borrow_mut().push(body.to_vec());
            let (status, response_body) = self
                .answers
                .borrow_mut()
                .pop_front()
                .expect("script too short")?;
            Ok(Exchange {
                uri: uri.into(),
                request_headers: Vec::new(),
                request_body: body.to_vec(),
                status,
                response_headers: vec![("Content-Type".into(), TEEP_MEDIA_TYPE.into())],
                response_body,
                deviations: Vec::new(),
                tam_numbering: None,
            })
        }
    }

    /// Echoes each message with a prefix until it sees "last".
    #[derive(Default)]
    struct Echo {
        seen: Vec<Vec<u8>>,
        errors: usize,
    }

    impl AgentEndpoint for Echo {
        fn process_teep_message(
            &mut self,
            _: &str,
            m: &[u8],
        ) -> Result<Option<Vec<u8>>, EndpointError> {
            self.seen.push(m.to_vec());
            match m {
                b"last" => Ok(None),
                b"bad" => Err("cannot parse".into()),
                _ => Ok(Some([b"re:", m].concat())),
            }
        }
        fn process_error(&mut self, _: &str, _: &TransportError) {
            self.errors += 1;
        }
    }

    fn net_err() -> TransportError {
        TransportError::Network {
            uri: "u".into(),
            cause: Arc::new(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            )),
        }
    }

    #[test]
    fn session_opens_with_empty_post_and_ends_on_empty_2xx() {
        let script = Scripted::new(vec![
            Ok((200, b"qr".to_vec())),
            Ok((200, b"up".to_vec())),
            Ok((204, vec![])),
        ]);
        let mut agent = Echo::default();
        let report = Broker::new(&script)
            .session(&mut agent, "http://tam", None)
            .unwrap();
        assert_eq!(report.round_trips, 3);
        assert_eq!(
            *script.posted.borrow(),
            vec![b"".to_vec(), b"re:qr".to_vec(), b"re:up".to_vec()]
        );
        assert_eq!(agent.seen, vec![b"qr".to_vec(), b"up".to_vec()]);
    }

    #[test]
    fn session_ends_when_agent_has_nothing_to_send() {
        let script = Scripted::new(vec![Ok((200, b"last".to_vec()))]);
        let mut agent = Echo::default();
        let report = Broker::new(&script)
            .session(&mut agent, "http://tam", None)
            .unwrap();
        assert_eq!(report.round_trips, 1);
    }

    #[test]
    fn initial_message_replaces_empty_post() {
        let script = Scripted::new(vec![Ok((204, vec![]))]);
        let mut agent = Echo::default();
        Broker::new(&script)
            .session(&mut agent, "http://tam", Some(b"qresp".to_vec()))
            .unwrap();
        assert_eq!(*script.posted.borrow(), vec![b"qresp".to_vec()]);
    }

    #[test]
    fn http_error_status_calls_process_error_and_retries_with_backoff() {
        let script = Scripted::new(vec![Ok((500, vec![])), Err(net_err()), Ok((204, vec![]))]);
        let mut agent = Echo::default();
        let waits = RefCell::new(Vec::new());
        let report = Broker::new(&script)
            .with_retry(RetryPolicy {
                attempts: 3,
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
            })
            .with_sleep(|d| waits.borrow_mut().push(d))
            .session(&mut agent, "http://tam", None)
            .unwrap();
        assert_eq!(report.attempt, 3);
        assert_eq!(agent.errors, 2);
        assert_eq!(
            *waits.borrow(),
            vec![Duration::from_millis(100), Duration::from_millis(200)]
        );
    }

    #[test]
    fn gives_up_after_the_last_attempt() {
        let script = Scripted::new(vec![Err(net_err()), Err(net_err())]);
        let mut agent = Echo::default();
        let err = Broker::new(&script)
            .with_retry(RetryPolicy {
                attempts: 2,
                ..RetryPolicy::default()
            })
            .with_sleep(|_| {})
            .session(&mut agent, "http://tam", None)
            .unwrap_err();
        assert!(
            matches!(err, BrokerError::Transport(TransportError::Network { .. })),
            "{err}"
        );
        assert_eq!(agent.errors, 2);
    }

    #[test]
    fn a_refused_certificate_is_not_retried() {
        let refused = TransportError::Handshake {
            uri: "u".into(),
            cause: rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        };
        let script = Scripted::new(vec![Err(refused), Err(net_err())]);
        let mut agent = Echo::default();
        let err = Broker::new(&script)
            .with_retry(RetryPolicy {
                attempts: 3,
                ..RetryPolicy::default()
            })
            .with_sleep(|_| panic!("no wait: nothing to retry"))
            .session(&mut agent, "https://tam", None)
            .unwrap_err();
        assert!(err.to_string().contains("TLS refused the TAM"), "{err}");
        assert!(
            err.to_string()
                .ends_with("invalid peer certificate: UnknownIssuer"),
            "{err}"
        );
        assert_eq!(agent.errors, 1);
    }

    #[test]
    fn redirect_status_is_an_error_not_followed() {
        let script = Scripted::new(vec![Ok((302, vec![]))]);
        let mut agent = Echo::default();
        let err = Broker::new(&script)
            .with_retry(RetryPolicy::once())
            .session(&mut agent, "http://tam", None)
            .unwrap_err();
        assert!(err.to_string().contains("HTTP status 302"), "{err}");
        assert_eq!(script.posted.borrow().len(), 1);
    }

    #[test]
    fn agent_failure_is_not_retried() {
        let script = Scripted::new(vec![Ok((200, b"bad".to_vec()))]);
        let mut agent = Echo::default();
        let err = Broker::new(&script)
            .session(&mut agent, "http://tam", None)
            .unwrap_err();
        assert!(matches!(err, BrokerError::Agent { .. }));
        assert_eq!(script.posted.borrow().len(), 1);
    }

    #[test]
    fn dump_sees_every_exchange() {
        let script = Scripted::new(vec![Ok((200, b"qr".to_vec())), Ok((204, vec![]))]);
        let mut agent = Echo::default();
        let mut statuses = Vec::new();
        Broker::new(&script)
            .with_dump(|x| statuses.push(x.status))
            .session(&mut agent, "http://tam", None)
            .unwrap();
        assert_eq!(statuses, vec![200, 204]);
    }
}
