//! Update (§4.4): options only (its `err-code` is an option, not positional).

use alloc::vec::Vec;

use super::option_writer::{BorrowedField, OptionWriter};
use super::options::DecodedOptions;
use crate::model::Update;
use crate::registry::{Label, Numbering};

pub(super) fn from_options(opts: DecodedOptions) -> Update {
    Update {
        token: opts.token,
        unneeded_manifest_list: opts.unneeded_manifest_list,
        manifest_list: opts.manifest_list,
        attestation_payload_format: opts.attestation_payload_format,
        attestation_payload: opts.attestation_payload,
        err_code: opts.err_code,
        err_msg: opts.err_msg,
        err_lang: opts.err_lang,
        unknown_options: opts.unknown,
    }
}

pub(super) fn encode<'a>(u: &'a Update, mut w: OptionWriter<'a>, out: &mut Vec<u8>, n: Numbering) {
    w.put_some(Label::Token, u.token.as_deref().map(BorrowedField::Bytes));
    w.put_non_empty(
        Label::UnneededManifestList,
        &u.unneeded_manifest_list,
        BorrowedField::ComponentIds,
    );
    w.put_non_empty(
        Label::ManifestList,
        &u.manifest_list,
        BorrowedField::BytesList,
    );
    w.put_some(
        Label::AttestationPayloadFormat,
        u.attestation_payload_format
            .as_deref()
            .map(BorrowedField::Text),
    );
    w.put_some(
        Label::AttestationPayload,
        u.attestation_payload.as_deref().map(BorrowedField::Bytes),
    );
    w.put_some(
        Label::ErrCode,
        u.err_code.map(|c| BorrowedField::Uint(c.value(n))),
    );
    w.put_some(Label::ErrMsg, u.err_msg.as_deref().map(BorrowedField::Text));
    w.put_some(
        Label::ErrLang,
        u.err_lang.as_deref().map(BorrowedField::Text),
    );
    w.finish(out, &u.unknown_options);
}
