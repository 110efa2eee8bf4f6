//! The X.509 field readers (subject key, keyUsage, common name, self-issued) and the ECDSA
//! DER signature reader must never panic on any bytes; the x5chain header reader neither.
//! An ECDSA signature that reads back re-encodes to the same raw form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_cose::x509;

fuzz_target!(|data: &[u8]| {
    let _ = x509::certificate_public_key(data);
    let _ = x509::public_key_from_spki(data);
    let _ = x509::key_usage(data);
    let _ = x509::subject_common_name(data);
    let _ = x509::is_self_issued(data);
    if let Some(raw) = x509::ecdsa_der_to_raw(data) {
        let der = x509::ecdsa_raw_to_der(&raw).expect("64 bytes encode");
        assert_eq!(x509::ecdsa_der_to_raw(&der), Some(raw));
    }
    if let Ok(opened) = teep_cose::open(data) {
        let _ = opened.x5chain();
    }
});
