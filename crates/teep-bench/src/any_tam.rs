//! What `teep bench tam` needs to drive a TAM other than teep's: the devices' public keys
//! exported for the TAM to register, TCs requested by name, and where the kid goes.

use std::path::Path;

use anyhow::Context as _;
use clap::ValueEnum;
use teep_proto::ComponentId;

use crate::sim::{numbered_key, DeviceAlg};

/// Where the simulated devices put the kid of their signatures (RFC 9052 §3.1 allows either
/// header bucket).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum KidPlacement {
    /// In the protected header, as teep's agent does.
    #[default]
    Protected,
    /// In the unprotected header (AttesTAM reads the kid only from there).
    Unprotected,
}

/// The component ids of the TCs named on the command line, read as teep's agent reads them
/// (`teep agent request`): a component id, `/`-joined segments, a UUID, or a name standing for
/// `['TEEP-Device', 'SecureFS', UUIDv5(UUIDv5(DNS, "teep.tam.local"), name), 'ta']`.
pub fn requested_tcs(names: &[String]) -> anyhow::Result<Vec<ComponentId>> {
    names
        .iter()
        .map(|name| {
            teep_agent::TcId::parse(name)
                .map(|id| id.0)
                .with_context(|| format!("--request-tc {name:?}"))
        })
        .collect()
}

/// Writes the public key of devices `0..devices` as SPKI PEM to `dir/device-N.pem` (the
/// directory is created), for a TAM that registers devices by key. Returns the files written.
pub fn export_keys(dir: &Path, devices: u64, alg: DeviceAlg) -> anyhow::Result<u64> {
    std::fs::create_dir_all(dir).with_context(|| format!("--export-keys {}", dir.display()))?;
    for i in 0..devices {
        let path = dir.join(format!("device-{i}.pem"));
        let pem = numbered_key(i, alg).public_key().to_spki_pem();
        std::fs::write(&path, pem).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tc_names_map_to_the_agents_component_ids() {
        let ids = requested_tcs(&["hello".into(), "app/h'00ff'/ta".into()]).unwrap();
        // The same id the agent requests for `teep agent request hello`.
        assert_eq!(
            ids[0],
            teep_agent::TcId::conventional(teep_agent::tc_id::name_uuid("hello").as_bytes()).0
        );
        assert_eq!(ids[0].len(), 4);
        assert_eq!(
            ids[1],
            ComponentId::new(vec![b"app".to_vec(), vec![0x00, 0xff], b"ta".to_vec()])
        );
        let e = format!("{:#}", requested_tcs(&["a/h'0'/b".into()]).unwrap_err());
        assert!(
            e.starts_with("--request-tc \"a/h'0'/b\": TC-ID segment 1"),
            "{e}"
        );
        let e = format!("{:#}", requested_tcs(&["  ".into()]).unwrap_err());
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn exported_keys_are_the_devices_keys() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("keys");
        assert_eq!(export_keys(&out, 3, DeviceAlg::Mixed).unwrap(), 3);
        for i in 0..3u64 {
            let path = out.join(format!("device-{i}.pem"));
            let loaded = teep_cose::PublicKey::load(&path).unwrap();
            assert_eq!(loaded, numbered_key(i, DeviceAlg::Mixed).public_key());
        }
        assert!(!out.join("device-3.pem").exists());
        // A file where the directory should be: the error names the flag and the path.
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = format!("{:#}", export_keys(&file, 1, DeviceAlg::P256).unwrap_err());
        assert!(
            e.starts_with(&format!("--export-keys {}", file.display())),
            "{e}"
        );
    }
}
