//! teep-broker: the normal-world side of a TEEP device, around the sans-IO Agent of
//! `teep-agent`.
//!
//! * [`broker`]: the HTTP transport client (draft-ietf-teep-otrp-over-http) that carries
//!   opaque TEEP messages between a TAM and the Agent.
//! * [`runner`]: the Agent as the Broker's endpoint, one session per known TAM.
//! * [`device`]: the Agent's device over a [`teep_tee::Tee`], running teep-suit's processor
//!   against the TEE's component store.
//! * [`fetch`]: payloads named by URI in SUIT manifests, fetched over https (rustls).
//! * [`dump`]: `--dump`'s text view of each HTTP exchange, in the TAM dump's format.
//! * [`local_api`]: RFC 9397's RequestTA / UnrequestTA / RequestPolicyCheck on a Unix socket.
//! * [`state_file`]: the Agent's state on disk, replaced atomically.

pub mod broker;
pub mod device;
pub mod dump;
pub mod fetch;
pub mod local_api;
pub mod runner;
pub mod state_file;
pub mod trust_anchors;
