//! teep-bench: the TAM load generator (`teep bench tam`) and the simulated device it drives.
//!
//! Apart from the TAM server so that the server does not ship it, and usable against any TAM:
//! [`sim`] speaks TEEP over HTTP with nothing but teep-proto and teep-cose, and [`tam`] runs
//! many simulated devices through full exchanges and reports throughput and latency.

pub mod any_tam;
pub mod sim;
pub mod tam;
