//! teep-bench: the TAM load generator (`teep bench tam`) and the simulated device it drives.
//!
//! Apart from the TAM server so that the server does not ship it, and usable against any TAM:
//! [`sim`] speaks TEEP over HTTP with nothing but teep-proto and teep-cose, and [`tam`] runs
//! many simulated devices through full exchanges and reports throughput and latency; [`any_tam`]
//! holds what a TAM other than teep's asks of the devices (exported keys, TCs requested by
//! name, the kid's header bucket).

pub mod any_tam;
pub mod endorsed;
pub mod sim;
pub mod tam;
