//! The human views never panic on any bytes: the TAM's web inspector renders what a user
//! pastes, and the dumps render what any peer sends. Whatever opens as a message renders in
//! all three forms, and the annotated notation of any single CBOR item parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_proto::deviation::Tolerance;
use teep_proto::view::{annotate_message, attestation_json, envelope_json, report_json, view_message};
use teep_proto::{diag, Numbering};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = view_message(data, None, Tolerance::Tolerant) {
        let _ = v.json().to_string();
        let _ = v.summary();
        let _ = v.diag();
    }
    for n in [Numbering::Draft26, Numbering::Legacy] {
        if let Some(text) = annotate_message(data, n) {
            // cbor-diag's parser does not read the escapes of text strings (`\r`, `\u0004`:
            // valid diagnostic notation, used for control characters); the rest must parse.
            if !text.contains('\\') {
                diag::from_diag(&text).expect("annotated notation parses");
            }
        }
    }
    let _ = envelope_json(data);
    let _ = report_json(data);
    let _ = attestation_json(None, data);
});
