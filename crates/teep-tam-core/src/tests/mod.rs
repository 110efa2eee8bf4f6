//! The core's rules, tested in memory (quinn-proto's `src/tests/` is the model): no sockets,
//! clocks or databases. [`harness::Tam`] drives the core the way the server does: it loads
//! the [`Context`](crate::Context) each message's [`Need`](crate::Need) names from maps and
//! commits the [`Effects`](crate::Effects) to them, while a simulated device
//! (`teep_bench::sim::SimDevice`) plays the agent.
//!
//! Tests are named after the rule they check; their doc comments cite the section of
//! `../shared/spec/DIGEST.md` (the digest of draft-ietf-teep-protocol-26) it comes from.
//!
//! * `sessions`: whole sessions, the rules `crates/teep-tam/tests/flow.rs` checks over HTTP;
//! * `refusals`: one test per [`RefusalKind`](crate::RefusalKind);
//! * `internal_errors`: stored records the core cannot read, and a TAM without keys;
//! * `policy_paths`: every path through `policy.rs`, seen through the Update it yields;
//! * `attestation`: appraisal results and what they do to the device row;
//! * `captured`: libteep's captured messages, and its session emulated with their shapes;
//! * `contract`: what each message needs from storage and what each step returns;
//! * `query_response_handling`: the data items a QueryRequest asked for, and SUIT report
//!   nonces in QueryResponse, Success and Error (-26 §4.3, §4.5, §4.6);
//! * `interop`: what older and independent agents do (suites, COSE_Sign1, no kid, no token);
//! * `unsolicited`: a QueryResponse the device sends unasked (-26 §7.2);
//! * `tam_attestation`: the TAM attesting itself to an Agent that requires it (-26 §7.1.2).
//! * `encrypted`: Evidence and SUIT reports encrypted to the TAM (-26 §8.2).

mod attestation;
mod captured;
mod contract;
mod encrypted;
mod evidence_formats;
mod harness;
mod internal_errors;
mod interop;
mod manifest_references;
mod policy_paths;
mod query_response_handling;
mod refusals;
mod sessions;
mod tam_attestation;
mod unsolicited;
