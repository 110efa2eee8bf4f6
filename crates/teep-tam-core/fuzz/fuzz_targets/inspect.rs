//! Any request body: `TamCore::inspect` opens COSE and decodes the TEEP message in either
//! numbering without panicking, and whatever it accepts can be read (token, kids, fields).
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use teep_cose::{PrivateKey, Signer, SoftwareSigner};
use teep_proto::Numbering;
use teep_tam_core::session::CoreConfig;
use teep_tam_core::token::TokenKey;
use teep_tam_core::wire::Incoming;
use teep_tam_core::TamCore;

fn core() -> &'static TamCore {
    static CORE: OnceLock<TamCore> = OnceLock::new();
    CORE.get_or_init(|| {
        let p256: Arc<dyn Signer> = Arc::new(SoftwareSigner::new(
            PrivateKey::from_p256_scalar(&[0x42; 32]).unwrap(),
        ));
        let ed: Arc<dyn Signer> = Arc::new(SoftwareSigner::new(
            PrivateKey::from_ed25519_seed(&[0x43; 32]).unwrap(),
        ));
        TamCore::new(
            vec![p256, ed],
            Vec::new(),
            CoreConfig::default(),
            TokenKey::new(&[0x44; 32]),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let core = core();
    for n in [Numbering::Draft26, Numbering::Legacy] {
        match core.inspect(data, n) {
            Ok(m) => {
                assert_eq!(m.numbering, n);
                assert_eq!(m.raw, data);
                let _ = m.token().map(<[u8]>::len);
                for kid in m.kids() {
                    std::hint::black_box(kid);
                }
                match &m.message {
                    Incoming::QueryResponse(q) => {
                        std::hint::black_box((
                            q.tc_list.as_ref().map(Vec::len),
                            q.requested.len(),
                            q.unneeded.len(),
                            q.attestation_payload.as_ref().map(Vec::len),
                            q.attestation_payload_format
                                .as_deref()
                                .map(teep_tam_core::wire::is_eat_format),
                        ));
                        // Reported component ids are the TAM's own encoding: they decode back.
                        for r in q.tc_list.iter().flatten() {
                            assert!(teep_tam_core::model::ComponentId::decode(&r.component_id).is_ok());
                        }
                    }
                    Incoming::Success { token, .. } => {
                        std::hint::black_box(token);
                    }
                    Incoming::Error {
                        code,
                        name,
                        err_msg,
                        ..
                    } => {
                        std::hint::black_box((code, name.len(), err_msg));
                    }
                    Incoming::Other(_) => panic!("inspect accepted a message a TAM never takes"),
                }
                assert!(!m.type_name.is_empty());
            }
            Err(r) => {
                let refusal = r.refusal().unwrap_or_else(|| panic!("{r:?}"));
                assert!(!refusal.explanation.is_empty());
            }
        }
    }
});
