//! What a QueryResponse must carry for the QueryRequest it answers (-26 §4.3, "QueryResponse
//! Message"; §4.1 TAM behaviour, "Handling a QueryResponse"), and the nonces of SUIT reports
//! in QueryResponse, Success and Error.
//!
//! The TAM checks that every data item its QueryRequest asked for is there and that every SUIT
//! report's `suit-report-nonce` is the token of the request answered; failing either it drops
//! the message's content and answers with an Update carrying err-code and err-msg (DIGEST §4.1
//! step 1, §9.15: the Update is the TAM's only way to tell the agent). The code is
//! ERR_PERMANENT_ERROR: -26 §4.6 gives it for fields that are missing, incorrect or
//! inconsistent with others, and -26 defines no "bad message" code;
//! ERR_MANIFEST_PROCESSING_FAILED is for SUIT processing on the device, not for this.
//!
//! The attestation bit is not checked here: a missing attestation-payload fails appraisal,
//! which answers ERR_ATTESTATION_REQUIRED first.

use alloc::{format, string::String, vec::Vec};

use teep_cose::encrypt::is_encrypted;
use teep_proto::DataItems;

use crate::wire::QueryResponseIn;

use super::rejection::{RefusalKind, Rejection};
use super::Inspected;

/// A Success or Error whose SUIT reports are bound to another token is dropped (DIGEST §4.1,
/// "On Success / Error"): refused before anything of it is recorded.
pub(super) fn check_report_nonces(
    msg: &Inspected,
    token: &[u8],
    open: &OpenReport<'_>,
) -> Result<(), Rejection> {
    let t = msg.type_name;
    match report_nonce_mismatch(t, msg.message.suit_reports(), token, open) {
        Some(why) => Err(Rejection::refuse(
            RefusalKind::SuitReportNonce,
            Some(t),
            why,
        )),
        None => Ok(()),
    }
}

/// Why a QueryResponse does not answer its QueryRequest: the err-msg of the error Update
/// (`QueryResponse.<field>: <rule>`), or `None` when it does.
pub(super) fn missing_data_item(qr: &QueryResponseIn, asked: DataItems) -> Option<String> {
    if asked.trusted_components() && qr.tc_list.is_none() {
        return Some(
            "QueryResponse.tc-list: absent, but the QueryRequest asked for trusted-components (value 2)"
                .into(),
        );
    }
    if asked.extensions() && qr.ext_list.is_none() {
        return Some(
            "QueryResponse.ext-list: absent, but the QueryRequest asked for extensions (value 4)"
                .into(),
        );
    }
    None
}

/// The first SUIT report in `reports` whose nonce is not `token` (-26 §4.3, §4.5, §4.6: each
/// report's suit-report-nonce MUST be the token of the message answered), as the reason
/// `<message>.suit-reports[i]: …`; `None` when all match.
///
/// A report is read without verifying its COSE signature: the TEEP message around it is
/// already verified with the device's key, and that signature covers the report's bytes. A
/// report encrypted to the TAM (a COSE_Encrypt, -26 §8.2, around the report or as the payload
/// of its COSE_Sign1) is decrypted through `open` first, and refused when it cannot be. A
/// report the TAM cannot read otherwise (a COSE_Encrypt0 under a key shared in advance, which
/// TEEP does not provision, or MAC'd) is not checked: its nonce is out of reach, and refusing
/// it would refuse a conforming device.
pub(super) fn report_nonce_mismatch(
    message: &str,
    reports: &[Vec<u8>],
    token: &[u8],
    open: &OpenReport<'_>,
) -> Option<String> {
    if reports.is_empty() {
        return None;
    }
    for (i, bytes) in reports.iter().enumerate() {
        let at = format!("{message}.suit-reports[{i}]");
        match report_nonce(bytes, open) {
            Readable::Nonce(n) if n == token => {}
            Readable::Nonce(_) => {
                return Some(format!(
                    "{at}: suit-report-nonce is not the token of the request answered"
                ))
            }
            Readable::NoNonce => {
                return Some(format!(
                    "{at}: no suit-report-nonce, but the request answered had a token"
                ))
            }
            Readable::Undecryptable(why) => {
                return Some(format!("{at}: encrypted report refused: {why}"))
            }
            Readable::Unreadable => {}
        }
    }
    None
}

enum Readable {
    Nonce(Vec<u8>),
    NoNonce,
    Undecryptable(String),
    Unreadable,
}

/// Decrypts a COSE_Encrypt addressed to the TAM (the session's `decrypt_to_tam`).
pub(super) type OpenReport<'a> = dyn Fn(&[u8]) -> Result<Vec<u8>, String> + 'a;

/// SUIT_Report key of the nonce (draft-ietf-suit-report: `? suit-report-nonce => bstr`).
const SUIT_REPORT_NONCE: i128 = 2;

/// The nonce of a SUIT_Report_Unprotected (a map) or of a SUIT_Report_Protected whose
/// COSE_Sign1 payload is the report in the clear.
fn report_nonce(bytes: &[u8], open: &OpenReport<'_>) -> Readable {
    let decrypted;
    let bytes = if is_encrypted(bytes) {
        match open(bytes) {
            Ok(p) => {
                decrypted = p;
                &decrypted[..]
            }
            Err(why) => return Readable::Undecryptable(why),
        }
    } else {
        bytes
    };
    let report = match bytes.first() {
        Some(b) if b >> 5 == 5 => bytes.to_vec(),
        Some(_) => match teep_cose::open(bytes) {
            Ok(opened) => match opened.payload {
                Some(p) if p.first().is_some_and(|b| b >> 5 == 5) => p,
                Some(p) if is_encrypted(&p) => match open(&p) {
                    Ok(p) if p.first().is_some_and(|b| b >> 5 == 5) => p,
                    Ok(_) => return Readable::Unreadable,
                    Err(why) => return Readable::Undecryptable(why),
                },
                _ => return Readable::Unreadable,
            },
            Err(_) => return Readable::Unreadable,
        },
        None => return Readable::Unreadable,
    };
    let Ok(ciborium::Value::Map(entries)) =
        ciborium::from_reader::<ciborium::Value, _>(&report[..])
    else {
        return Readable::Unreadable;
    };
    for (k, v) in entries {
        if k.as_integer().map(i128::from) == Some(SUIT_REPORT_NONCE) {
            return match v {
                ciborium::Value::Bytes(b) => Readable::Nonce(b),
                _ => Readable::Unreadable,
            };
        }
    }
    Readable::NoNonce
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::Value;
    use teep_cose::{PrivateKey, SoftwareSigner};

    fn map(entries: Vec<(i64, Value)>) -> Vec<u8> {
        let m = entries
            .into_iter()
            .map(|(k, v)| (Value::Integer(k.into()), v))
            .collect();
        let mut out = Vec::new();
        ciborium::into_writer(&Value::Map(m), &mut out).unwrap();
        out
    }

    fn none(_: &[u8]) -> Result<Vec<u8>, String> {
        Err("no key".into())
    }

    fn signer() -> SoftwareSigner {
        SoftwareSigner::new(PrivateKey::from_p256_scalar(&[3; 32]).unwrap())
    }

    /// draft-ietf-suit-report: SUIT_Report_Protected is a COSE_Sign1 whose payload is the
    /// report; its nonce is read from inside.
    #[test]
    fn suit_report_nonce_read_from_a_signed_or_plain_report() {
        let report = map(vec![(2, Value::Bytes(vec![7; 16])), (4, Value::Bool(true))]);
        let signed = teep_cose::sign1(&report, &signer()).unwrap();
        for bytes in [&report, &signed] {
            assert_eq!(
                report_nonce_mismatch("Success", core::slice::from_ref(bytes), &[7; 16], &none),
                None
            );
            assert_eq!(
                report_nonce_mismatch("Success", core::slice::from_ref(bytes), &[8; 16], &none).as_deref(),
                Some(
                    "Success.suit-reports[0]: suit-report-nonce is not the token of the request answered"
                )
            );
        }
        let no_nonce = map(vec![(4, Value::Bool(true))]);
        assert_eq!(
            report_nonce_mismatch("Error", &[report.clone(), no_nonce], &[7; 16], &none).as_deref(),
            Some(
                "Error.suit-reports[1]: no suit-report-nonce, but the request answered had a token"
            )
        );
    }

    /// A report the TAM cannot open (encrypted: the Sign1 payload is a COSE_Encrypt0, or not
    /// CBOR) is not checked: its nonce is out of reach.
    #[test]
    fn suit_report_out_of_reach_is_not_checked() {
        let encrypt0 = {
            let mut out = Vec::new();
            ciborium::into_writer(
                &Value::Tag(
                    16,
                    Box::new(Value::Array(vec![
                        Value::Bytes(vec![]),
                        Value::Map(vec![]),
                        Value::Bytes(vec![1, 2, 3]),
                    ])),
                ),
                &mut out,
            )
            .unwrap();
            out
        };
        let signed = teep_cose::sign1(&encrypt0, &signer()).unwrap();
        for bytes in [signed, vec![0xff], Vec::new()] {
            assert_eq!(
                report_nonce_mismatch("Success", &[bytes], &[7; 16], &none),
                None
            );
        }
    }

    /// -26 §4.3: each requested data item is named with its field and the bit asked.
    #[test]
    fn missing_data_item_names_the_field_and_the_bit() {
        let none = QueryResponseIn::default();
        let tc = DataItems(DataItems::TRUSTED_COMPONENTS | DataItems::EXTENSIONS);
        assert!(missing_data_item(&none, tc)
            .unwrap()
            .starts_with("QueryResponse.tc-list: absent"));
        let with_tc = QueryResponseIn {
            tc_list: Some(Vec::new()),
            ..Default::default()
        };
        assert!(missing_data_item(&with_tc, tc)
            .unwrap()
            .starts_with("QueryResponse.ext-list: absent"));
        assert_eq!(
            missing_data_item(&none, DataItems(DataItems::ATTESTATION)),
            None
        );
        assert_eq!(
            missing_data_item(&none, DataItems(DataItems::SUIT_REPORTS)),
            None
        );
    }
}
