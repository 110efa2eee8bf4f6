//! QueryRequest (§4.2): its positional fields, its section-4 rule, and its encoding.

use alloc::format;
use alloc::vec::Vec;

use super::items::{read_cipher_suite, read_nonempty_list, read_suit_cose_profile};
use super::option_writer::{write_field, BorrowedField, OptionWriter};
use super::options::DecodedOptions;
use super::Result;
use crate::cbor::{self, Reader, Seg};
use crate::model::QueryRequest;
use crate::registry::{DataItems, Label, MessageType, Numbering};
use teep_cbor::deviation::catalog;

/// The positional fields after the options, then the message from both.
pub(super) fn decode(
    r: &mut Reader<'_>,
    opts: DecodedOptions,
    n: Numbering,
) -> Result<QueryRequest> {
    r.push(Seg::Name("supported-teep-cipher-suites"));
    let suites = read_nonempty_list(r, read_cipher_suite)?;
    r.replace_last(Seg::Name("supported-suit-cose-profiles"));
    let profiles = read_nonempty_list(r, |r| read_suit_cose_profile(r, n))?;
    r.replace_last(Seg::Name("data-item-requested"));
    let bits = r.uint("uint .bits data-item-requested")?;
    r.pop();
    let mut m = QueryRequest {
        token: opts.token,
        supported_freshness_mechanisms: opts.supported_freshness_mechanisms,
        challenge: opts.challenge,
        versions: opts.versions,
        attestation_payload_format: opts.attestation_payload_format,
        attestation_payload: opts.attestation_payload,
        suit_reports: opts.suit_reports,
        supported_cipher_suites: suites,
        supported_suit_cose_profiles: profiles,
        data_item_requested: DataItems(bits),
        unknown_options: opts.unknown,
    };
    check_query_request(r, &mut m)?;
    Ok(m)
}

/// Section 4.2 rules that the draft does not contradict.
fn check_query_request(r: &mut Reader<'_>, m: &mut QueryRequest) -> Result<()> {
    if !m.data_item_requested.attestation() && !m.supported_freshness_mechanisms.is_empty() {
        // "MUST be absent if the attestation bit is clear" (tamproto sends it anyway): the
        // mechanisms serve attestation only, so they are ignored.
        r.note_at(
            &catalog::TEEP_FRESHNESS_WITHOUT_ATTESTATION,
            format!(
                "{}.options.supported-freshness-mechanisms",
                MessageType::QueryRequest.name()
            ),
        )?;
        m.supported_freshness_mechanisms.clear();
    }
    // Not enforced: "token iff attestation bit clear" and "challenge absent if the bit is
    // clear" contradict the example and the passport model (DIGEST §9 item 2); both
    // readings are accepted.
    Ok(())
}

/// Options map, then the positional fields.
pub(super) fn encode<'a>(
    q: &'a QueryRequest,
    mut w: OptionWriter<'a>,
    out: &mut Vec<u8>,
    n: Numbering,
) {
    w.put_some(Label::Token, q.token.as_deref().map(BorrowedField::Bytes));
    w.put_non_empty(
        Label::SupportedFreshnessMechanisms,
        &q.supported_freshness_mechanisms,
        BorrowedField::Freshness,
    );
    w.put_some(
        Label::Challenge,
        q.challenge.as_deref().map(BorrowedField::Bytes),
    );
    w.put_non_empty(Label::Versions, &q.versions, BorrowedField::U32List);
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
    w.finish(out, &q.unknown_options);
    write_field(out, &BorrowedField::Suites(&q.supported_cipher_suites), n);
    write_field(
        out,
        &BorrowedField::Profiles(&q.supported_suit_cose_profiles),
        n,
    );
    cbor::write_uint(out, q.data_item_requested.0);
}
