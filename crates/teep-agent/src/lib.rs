//! teep-agent: the TEEP Agent, sans-IO.
//!
//! The protocol logic of the device side: [`agent`] answers the TAM's messages through an
//! [`agent::AgentDevice`] (keys, installed components, SUIT processing), with randomness
//! passed in; [`evidence`] builds the EAT it attests with; [`state`] is what it remembers
//! between sessions; [`tc_id`] is the one parser for Trusted Component ids typed by people.
//! The HTTP transport, the local API and the TEE glue are the `teep-broker` crate.

pub mod agent;
pub mod evidence;
pub mod state;
pub mod tc_id;

pub use tc_id::TcId;
