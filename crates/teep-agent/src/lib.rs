//! The device side of TEEP: the Agent state machine and the Broker.
//!
//! * [`broker`]: the HTTP transport client (draft-ietf-teep-otrp-over-http) that carries
//!   opaque TEEP messages between a TAM and the Agent.
//! * [`local_api`]: RFC 9397's RequestTA / UnrequestTA / RequestPolicyCheck on a Unix socket.
//! * [`tc_id`]: the one parser for Trusted Component ids typed by people.

pub mod agent;
pub mod broker;
pub mod device;
pub mod evidence;
pub mod local_api;
pub mod runner;
pub mod state;
pub mod tc_id;

pub use tc_id::TcId;
