//! The options map of a message: which labels each message type allows (Appendix C), and
//! reading every allowed option into [`DecodedOptions`].

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::items::{
    read_cipher_suite, read_component_id, read_err_code, read_ext_list, read_manifest,
    read_nonempty_list, read_requested_tc_info, read_sized_bytes, read_sized_text,
    read_suit_cose_profile, read_tc_list, read_u32,
};
use super::layout::OptionKey;
use super::Result;
use teep_cbor::deviation::catalog;

use crate::cbor::{check_embedded, Reader, Seg, Type, Value};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::model::{ComponentId, RequestedTcInfo, SystemPropertyClaims};
use crate::registry::{
    CipherSuite, ErrorCode, FreshnessMechanism, Label, MessageType, Numbering, SuitCoseProfile,
};

/// Options allowed per message type (Appendix C).
fn option_allowed(t: MessageType, l: Label) -> bool {
    use Label::*;
    match t {
        MessageType::QueryRequest => matches!(
            l,
            Token
                | SupportedFreshnessMechanisms
                | Challenge
                | Versions
                | AttestationPayloadFormat
                | AttestationPayload
                | SuitReports
        ),
        MessageType::QueryResponse => matches!(
            l,
            Token
                | SelectedVersion
                | AttestationPayloadFormat
                | AttestationPayload
                | SuitReports
                | TcList
                | RequestedTcList
                | UnneededManifestList
                | ExtList
        ),
        MessageType::Update => matches!(
            l,
            Token
                | UnneededManifestList
                | ManifestList
                | AttestationPayloadFormat
                | AttestationPayload
                | ErrCode
                | ErrMsg
                | ErrLang
        ),
        MessageType::Success => matches!(l, Token | Msg | SuitReports),
        MessageType::Error => matches!(
            l,
            Token
                | ErrMsg
                | ErrLang
                | SupportedCipherSuites
                | SupportedFreshnessMechanisms
                | SupportedSuitCoseProfiles
                | Challenge
                | Versions
                | SuitReports
        ),
    }
}

/// Every option of every message type, filled while reading the options map.
#[derive(Default)]
pub(super) struct DecodedOptions {
    pub(super) token: Option<Vec<u8>>,
    pub(super) supported_cipher_suites: Vec<CipherSuite>,
    pub(super) challenge: Option<Vec<u8>>,
    pub(super) versions: Vec<u32>,
    pub(super) supported_suit_cose_profiles: Vec<SuitCoseProfile>,
    pub(super) selected_version: Option<u32>,
    pub(super) attestation_payload: Option<Vec<u8>>,
    pub(super) tc_list: Option<Vec<SystemPropertyClaims>>,
    pub(super) ext_list: Option<Vec<u32>>,
    pub(super) manifest_list: Vec<Vec<u8>>,
    pub(super) msg: Option<String>,
    pub(super) err_msg: Option<String>,
    pub(super) attestation_payload_format: Option<String>,
    pub(super) requested_tc_list: Vec<RequestedTcInfo>,
    pub(super) unneeded_manifest_list: Vec<ComponentId>,
    pub(super) suit_reports: Vec<Vec<u8>>,
    pub(super) supported_freshness_mechanisms: Vec<FreshnessMechanism>,
    pub(super) err_lang: Option<String>,
    pub(super) err_code: Option<ErrorCode>,
    pub(super) unknown: BTreeMap<u64, Value>,
    pub(super) order: Vec<OptionKey>,
}

/// Reads the options map of a message of type `t`: duplicate labels and known labels the type
/// does not allow are rejected, unknown labels kept with their values.
pub(super) fn read_options(
    r: &mut Reader<'_>,
    t: MessageType,
    n: Numbering,
) -> Result<DecodedOptions> {
    let len = r.map("options map")?;
    let mut o = DecodedOptions::default();
    // A set, not a list: a peer may send many unknown labels.
    let mut seen = BTreeSet::new();
    r.push(Seg::Name("label"));
    for _ in 0..len {
        r.replace_last(Seg::Name("label"));
        let key = match r.peek()? {
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => r.uint("uint label")?,
            _ => {
                return Err(r.invalid(format!(
                    "expected uint label (teep-option = uint => any), got {}",
                    r.peek_name()
                )))
            }
        };
        if !seen.insert(key) {
            return Err(DecodeError::new(
                DecodeErrorKind::Strictness,
                r.path_string().trim_end_matches(".label").to_string(),
                format!("duplicate label {key}"),
            ));
        }
        match Label::from_value(key, n) {
            Some(l) if option_allowed(t, l) => {
                r.replace_last(Seg::Name(l.name()));
                read_option(r, l, n, &mut o)?;
                o.order.push(OptionKey::Known(l));
            }
            Some(l) => {
                r.replace_last(Seg::Name(l.name()));
                return Err(r.invalid(format!(
                    "label {key} ({}) is not defined for {} in {} numbering",
                    l.name(),
                    t.name(),
                    n.name()
                )));
            }
            None => {
                if n == Numbering::Legacy && key == 5 && t == MessageType::QueryResponse {
                    // Drafts up to -16 had selected-teep-cipher-suite here; kept as an
                    // unknown option, like any label we do not read.
                    r.replace_last(Seg::Name("selected-teep-cipher-suite"));
                    r.note(&catalog::TEEP_SELECTED_CIPHER_SUITE)?;
                }
                r.replace_last(Seg::Key(key as i128));
                let v = r.value()?;
                o.unknown.insert(key, v);
                o.order.push(OptionKey::Unknown(key));
            }
        }
    }
    r.pop();
    r.leave();
    Ok(o)
}

/// Value of the allowed option `l`, by that option's CDDL.
fn read_option(r: &mut Reader<'_>, l: Label, n: Numbering, o: &mut DecodedOptions) -> Result<()> {
    match l {
        Label::Token => o.token = Some(read_sized_bytes(r, 8, 64)?),
        Label::Challenge => o.challenge = Some(read_sized_bytes(r, 8, 512)?),
        Label::Versions => o.versions = read_nonempty_list(r, read_u32)?,
        Label::ExtList => o.ext_list = Some(read_ext_list(r)?),
        Label::SelectedVersion => o.selected_version = Some(read_u32(r)?),
        Label::SupportedCipherSuites => {
            o.supported_cipher_suites = read_nonempty_list(r, read_cipher_suite)?
        }
        Label::SupportedSuitCoseProfiles => {
            o.supported_suit_cose_profiles =
                read_nonempty_list(r, |r| read_suit_cose_profile(r, n))?
        }
        Label::SupportedFreshnessMechanisms => {
            o.supported_freshness_mechanisms = read_nonempty_list(r, |r| {
                Ok(FreshnessMechanism::from_value(
                    r.uint("uint freshness mechanism")?,
                ))
            })?
        }
        Label::AttestationPayload => o.attestation_payload = Some(r.bytes("bstr")?.to_vec()),
        Label::AttestationPayloadFormat => {
            o.attestation_payload_format = Some(r.text("tstr media type")?.to_string())
        }
        Label::Msg => o.msg = Some(read_sized_text(r, 1, 128)?),
        Label::ErrMsg => o.err_msg = Some(read_sized_text(r, 1, 128)?),
        Label::ErrLang => o.err_lang = Some(read_sized_text(r, 1, 35)?),
        Label::ErrCode => o.err_code = Some(read_err_code(r, n)?),
        Label::SuitReports => {
            o.suit_reports = read_nonempty_list(r, |r| {
                let b = r.bytes("bstr .cbor SUIT_Report")?;
                let t = check_embedded(r, b, "(SUIT_Report_Protected / SUIT_Report_Unprotected)")?;
                if !matches!(t, Type::Map | Type::Array | Type::Tag) {
                    return Err(r.invalid(
                        "expected bstr .cbor SUIT_Report: a COSE structure or a SUIT_Report map",
                    ));
                }
                Ok(b.to_vec())
            })?
        }
        Label::ManifestList => o.manifest_list = read_nonempty_list(r, read_manifest)?,
        Label::UnneededManifestList => {
            o.unneeded_manifest_list = read_nonempty_list(r, read_component_id)?
        }
        Label::TcList => o.tc_list = Some(read_tc_list(r)?),
        Label::RequestedTcList => {
            o.requested_tc_list = read_nonempty_list(r, |r| read_requested_tc_info(r, n))?
        }
        // Only inside requested-tc-info; never allowed at the options level.
        Label::ComponentId | Label::TcManifestSequenceNumber | Label::HaveBinary => {
            return Err(r.invalid("only allowed inside requested-tc-info"))
        }
    }
    Ok(())
}
