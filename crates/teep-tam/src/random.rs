//! The randomness the sans-IO core is given: the crypto provider's generator.

use teep_tam_core::Random;

/// The default crypto provider's CSPRNG (teep-cose; aws-lc-rs's generator, seeded by the
/// operating system, unless another provider is installed).
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // aws-lc's generator answers in user space: a getrandom system call per token was
        // measurable under load. `Random` is infallible; a provider fails only when there is
        // no entropy source at all, and nothing sensible can continue then.
        if let Err(e) = teep_cose::default_provider().fill_random(buf) {
            panic!("random source: {e}");
        }
    }
}
