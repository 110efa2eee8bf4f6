//! QueryResponse (§4.3): options only.

use alloc::vec::Vec;

use super::option_writer::{BorrowedField, OptionWriter};
use super::options::DecodedOptions;
use crate::model::QueryResponse;
use crate::registry::Label;

pub(super) fn from_options(opts: DecodedOptions) -> QueryResponse {
    QueryResponse {
        token: opts.token,
        selected_version: opts.selected_version,
        attestation_payload_format: opts.attestation_payload_format,
        attestation_payload: opts.attestation_payload,
        suit_reports: opts.suit_reports,
        tc_list: opts.tc_list,
        requested_tc_list: opts.requested_tc_list,
        unneeded_manifest_list: opts.unneeded_manifest_list,
        ext_list: opts.ext_list,
        unknown_options: opts.unknown,
    }
}

pub(super) fn encode<'a>(q: &'a QueryResponse, mut w: OptionWriter<'a>, out: &mut Vec<u8>) {
    w.put_some(Label::Token, q.token.as_deref().map(BorrowedField::Bytes));
    w.put_some(
        Label::SelectedVersion,
        q.selected_version
            .map(|v| BorrowedField::Uint(u64::from(v))),
    );
    w.put_some(
        Label::AttestationPayloadFormat,
        q.attestation_payload_format
            .as_deref()
            .map(BorrowedField::Text),
    );
    w.put_some(
        Label::AttestationPayload,
        q.attestation_payload.as_deref().map(BorrowedField::Bytes),
    );
    w.put_non_empty(
        Label::SuitReports,
        &q.suit_reports,
        BorrowedField::BytesList,
    );
    // Present when the model says so, even empty (see the fields' docs).
    w.put_some(
        Label::TcList,
        q.tc_list.as_deref().map(BorrowedField::TcList),
    );
    w.put_non_empty(
        Label::RequestedTcList,
        &q.requested_tc_list,
        BorrowedField::RequestedTcList,
    );
    w.put_non_empty(
        Label::UnneededManifestList,
        &q.unneeded_manifest_list,
        BorrowedField::ComponentIds,
    );
    w.put_some(
        Label::ExtList,
        q.ext_list.as_deref().map(BorrowedField::U32List),
    );
    w.finish(out, &q.unknown_options);
}
