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

use teep_proto::DataItems;

use crate::wire::QueryResponseIn;

use super::rejection::{RefusalKind, Rejection};
use super::Inspected;

/// A Success or Error whose SUIT reports are bound to another token is dropped (DIGEST §4.1,
/// "On Success / Error"): refused before anything of it is recorded.
pub(super) fn check_report_nonces(msg: &Inspected, token: &[u8]) -> Result<(), Rejection> {
    let t = msg.type_name;
    match report_nonce_mismatch(t, msg.message.suit_reports(), token) {
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
/// report the TAM cannot read (encrypted, or MAC'd) is not checked: its nonce is out of reach,
/// and refusing it would refuse a conforming device.
pub(super) fn report_nonce_mismatch(
    message: &str,
    reports: &[Vec<u8>],
    token: &[u8],
) -> Option<String> {
    if reports.is_empty() {
        return None;
    }
    for (i, bytes) in reports.iter().enumerate() {
        let at = format!("{message}.suit-reports[{i}]");
        match report_nonce(bytes) {
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
            Readable::Unreadable => {}
        }
    }
    None
}

enum Readable {
    Nonce(Vec<u8>),
    NoNonce,
    Unreadable,
}

/// SUIT_Report key of the nonce (draft-ietf-suit-report: `? suit-report-nonce => bstr`).
const SUIT_REPORT_NONCE: i128 = 2;

/// The nonce of a SUIT_Report_Unprotected (a map) or of a SUIT_Report_Protected whose
/// COSE_Sign1 payload is the report in the clear.
fn report_nonce(bytes: &[u8]) -> Readable {
    let report = match bytes.first() {
        Some(b) if b >> 5 == 5 => bytes.to_vec(),
        Some(_) => match teep_cose::open(bytes) {
            Ok(opened) => match opened.payload {
                Some(p) if p.first().is_some_and(|b| b >> 5 == 5) => p,
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
