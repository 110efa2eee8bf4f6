//! The operating system's randomness for the sans-IO core.

use teep_tam_core::Random;

/// A CSPRNG seeded by the operating system (aws-lc's, with the OS generator as fallback).
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // aws-lc's generator, seeded from the OS, answers in user space: a getrandom system
        // call per token was measurable under load. It fails only when the OS has no entropy
        // source at all; the OS is asked directly then, and nothing sensible can continue if
        // that fails too.
        if aws_lc_rs::rand::fill(buf).is_err() {
            getrandom::fill(buf).expect("operating system random source");
        }
    }
}
