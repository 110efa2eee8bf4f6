//! Error (§4.6): its positional `err-code`, the options some codes require, and its encoding.

use alloc::format;
use alloc::vec::Vec;

use super::items::read_err_code;
use super::option_writer::{BorrowedField, OptionWriter};
use super::options::DecodedOptions;
use super::Result;
use crate::cbor::{self, Reader, Seg};
use crate::model::ErrorMessage;
use crate::registry::{ErrorCode, Label, MessageType, Numbering};

/// The positional `err-code` after the options, then the message from both.
pub(super) fn decode(
    r: &mut Reader<'_>,
    opts: DecodedOptions,
    n: Numbering,
) -> Result<ErrorMessage> {
    r.push(Seg::Name("err-code"));
    let err_code = read_err_code(r, n)?;
    r.pop();
    let m = ErrorMessage {
        token: opts.token,
        err_msg: opts.err_msg,
        err_lang: opts.err_lang,
        supported_cipher_suites: opts.supported_cipher_suites,
        supported_freshness_mechanisms: opts.supported_freshness_mechanisms,
        supported_suit_cose_profiles: opts.supported_suit_cose_profiles,
        challenge: opts.challenge,
        versions: opts.versions,
        suit_reports: opts.suit_reports,
        err_code,
        unknown_options: opts.unknown,
    };
    check_error(r, &m)?;
    Ok(m)
}

/// Section 4.6: the Error codes that require an accompanying option.
fn check_error(r: &Reader<'_>, m: &ErrorMessage) -> Result<()> {
    let missing = match m.err_code {
        ErrorCode::UnsupportedCipherSuites if m.supported_cipher_suites.is_empty() => {
            Some(Label::SupportedCipherSuites)
        }
        ErrorCode::UnsupportedFreshnessMechanisms
            if m.supported_freshness_mechanisms.is_empty() =>
        {
            Some(Label::SupportedFreshnessMechanisms)
        }
        ErrorCode::UnsupportedSuitReport if m.supported_suit_cose_profiles.is_empty() => {
            Some(Label::SupportedSuitCoseProfiles)
        }
        ErrorCode::UnsupportedMsgVersion if m.versions.is_empty() => Some(Label::Versions),
        _ => None,
    };
    if let Some(l) = missing {
        let mut e = r.invalid(format!("{} MUST be present with {}", l.name(), m.err_code));
        e.path = format!("{}.options.{}", MessageType::Error.name(), l.name());
        return Err(e);
    }
    Ok(())
}

/// Options map, then the positional `err-code`.
pub(super) fn encode<'a>(
    e: &'a ErrorMessage,
    mut w: OptionWriter<'a>,
    out: &mut Vec<u8>,
    n: Numbering,
) {
    w.put_some(Label::Token, e.token.as_deref().map(BorrowedField::Bytes));
    w.put_some(Label::ErrMsg, e.err_msg.as_deref().map(BorrowedField::Text));
    w.put_some(
        Label::ErrLang,
        e.err_lang.as_deref().map(BorrowedField::Text),
    );
    w.put_non_empty(
        Label::SupportedCipherSuites,
        &e.supported_cipher_suites,
        BorrowedField::Suites,
    );
    w.put_non_empty(
        Label::SupportedFreshnessMechanisms,
        &e.supported_freshness_mechanisms,
        BorrowedField::Freshness,
    );
    w.put_non_empty(
        Label::SupportedSuitCoseProfiles,
        &e.supported_suit_cose_profiles,
        BorrowedField::Profiles,
    );
    w.put_some(
        Label::Challenge,
        e.challenge.as_deref().map(BorrowedField::Bytes),
    );
    w.put_non_empty(Label::Versions, &e.versions, BorrowedField::U32List);
    w.put_non_empty(
        Label::SuitReports,
        &e.suit_reports,
        BorrowedField::BytesList,
    );
    w.finish(out, &e.unknown_options);
    cbor::write_uint(out, e.err_code.value(n));
}
