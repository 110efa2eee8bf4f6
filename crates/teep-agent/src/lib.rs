//! teep-agent: the TEEP Agent, sans-IO.
//!
//! The protocol logic of the device side: [`agent`] answers the TAM's messages through an
//! [`agent::AgentDevice`] (keys, installed components, SUIT processing), with randomness
//! passed in; [`evidence`] builds the EAT it attests with; [`state`] is what it remembers
//! between sessions; [`tc_id`] is the one parser for Trusted Component ids typed by people.
//! The HTTP transport, the local API, the state file and the TEE glue are the `teep-broker`
//! crate.
//!
//! Without the default `std` feature the crate is `no_std` + `alloc`, so the Agent's protocol
//! logic can run where there is no operating system (inside a TEE, for one); `std` only turns
//! on the dependencies' std support.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod agent;
pub mod evidence;
pub mod state;
pub mod tc_id;

pub use tc_id::TcId;
