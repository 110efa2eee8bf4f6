//! The TEEP Broker: the HTTP transport client of draft-ietf-teep-otrp-over-http-15.
//!
//! `session` drives a session between the Agent and a TAM and retries it per `retry`;
//! `transport` is the HTTP exchange it runs on, and `http` its real implementation (ureq over
//! rustls). The `--dump` view sees every exchange.

mod http;
mod retry;
mod session;
mod transport;

pub(crate) use http::tls_config;
pub use http::{HttpConfig, HttpTransport, DEFAULT_MAX_BODY, USER_AGENT};
pub use retry::RetryPolicy;
pub use session::{
    AgentEndpoint, Broker, BrokerError, EndpointError, SessionReport, MAX_ROUND_TRIPS,
};
pub use transport::{
    header, Exchange, NetworkCause, Post, TlsConfigError, Transport, TransportError,
    TEEP_MEDIA_TYPE,
};
