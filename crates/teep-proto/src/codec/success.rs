//! Success (§4.5): options only.

use alloc::vec::Vec;

use super::option_writer::{BorrowedField, OptionWriter};
use super::options::DecodedOptions;
use crate::model::Success;
use crate::registry::Label;

pub(super) fn from_options(opts: DecodedOptions) -> Success {
    Success {
        token: opts.token,
        msg: opts.msg,
        suit_reports: opts.suit_reports,
        unknown_options: opts.unknown,
    }
}

pub(super) fn encode<'a>(s: &'a Success, mut w: OptionWriter<'a>, out: &mut Vec<u8>) {
    w.put_some(Label::Token, s.token.as_deref().map(BorrowedField::Bytes));
    w.put_some(Label::Msg, s.msg.as_deref().map(BorrowedField::Text));
    w.put_non_empty(
        Label::SuitReports,
        &s.suit_reports,
        BorrowedField::BytesList,
    );
    w.finish(out, &s.unknown_options);
}
