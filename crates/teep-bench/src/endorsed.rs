//! Endorsed simulated devices (`teep bench tam --endorsed-by DIR`): each gets an
//! attestation key certified by a manufacturer CA, so a TAM under open enrollment appraises
//! an X.509 chain (RFC 9360 x5chain) per new device, as it would for a real fleet.

use anyhow::Context as _;

use crate::sim::DeviceAlg;

/// The CA of `--endorsed-by`.
pub fn load_ca(
    dir: &std::path::Path,
) -> anyhow::Result<teep_tee::endorsement::CertificateAuthority> {
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read_to_string(&p).with_context(|| format!("--endorsed-by {}", p.display()))
    };
    Ok(teep_tee::endorsement::CertificateAuthority::from_pem(
        &read("ca.key")?,
        &read("ca.pem")?,
    )?)
}

/// Device `i`'s attestation key (derived like its TEEP key, from another number) and the
/// chain `ca` issues for it.
pub fn endorse(
    ca: &teep_tee::endorsement::CertificateAuthority,
    i: u64,
) -> Result<(teep_cose::SoftwareSigner, Vec<Vec<u8>>), crate::sim::SimError> {
    let key = crate::sim::numbered_key(i | 1 << 62, DeviceAlg::P256);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let opts = teep_tee::endorsement::CertOptions::valid_for(&format!("bench-{i}"), now, 30);
    let chain = ca
        .issue_device(&key.public_key(), &opts)
        .map_err(|e| crate::sim::SimError::Message(format!("--endorsed-by: {e}")))?;
    Ok((teep_cose::SoftwareSigner::new(key), chain))
}
