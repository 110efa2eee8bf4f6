//! Strict decoding and deterministic encoding of TEEP messages.
//!
//! Decoding enforces the CDDL of Appendix C (types, sizes, presence, array arity) and the
//! section-4 rules that the draft does not contradict, plus RFC 8949 strictness (definite
//! lengths, no duplicate keys, no trailing bytes, bounded nesting). Labels we do not know are
//! kept; labels we know but that the CDDL does not allow in this message type are rejected,
//! which is also what tells the two numberings apart.

use std::collections::BTreeMap;

use crate::cbor::Type;

use crate::cbor::{self, check_embedded, Reader, Seg, Value};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::model::*;
use crate::registry::*;

type Result<T> = std::result::Result<T, DecodeError>;

/// Options allowed per message type (Appendix C).
fn allowed(t: MessageType, l: Label) -> bool {
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
struct Options {
    token: Option<Vec<u8>>,
    supported_cipher_suites: Vec<CipherSuite>,
    challenge: Option<Vec<u8>>,
    versions: Vec<u32>,
    supported_suit_cose_profiles: Vec<SuitCoseProfile>,
    selected_version: Option<u32>,
    attestation_payload: Option<Vec<u8>>,
    tc_list: Vec<SystemPropertyClaims>,
    ext_list: Vec<u32>,
    manifest_list: Vec<Vec<u8>>,
    msg: Option<String>,
    err_msg: Option<String>,
    attestation_payload_format: Option<String>,
    requested_tc_list: Vec<RequestedTcInfo>,
    unneeded_manifest_list: Vec<ComponentId>,
    suit_reports: Vec<Vec<u8>>,
    supported_freshness_mechanisms: Vec<FreshnessMechanism>,
    err_lang: Option<String>,
    err_code: Option<ErrorCode>,
    unknown: BTreeMap<u64, Value>,
    order: Vec<OptionKey>,
}

/// An option as it appears in [`Layout::option_order`]: by meaning, so a layout taken in one
/// numbering applies in the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionKey {
    Known(Label),
    Unknown(u64),
}

/// How a received message was laid out, beyond its content: the order of its options.
///
/// [`TeepMessage::encode`] always writes deterministic CBOR (labels ascending). Senders are
/// not required to (the draft's own examples put `token` first), so re-encoding a received
/// message byte for byte needs this order: see [`decode_with_layout`] and
/// [`TeepMessage::encode_with_layout`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub option_order: Vec<OptionKey>,
}

/// Decode one TEEP message in the given numbering, strictly. On failure, when the bytes are a
/// valid message in the other numbering, the error says so.
pub fn decode(bytes: &[u8], numbering: Numbering) -> Result<TeepMessage> {
    decode_with_layout(bytes, numbering).map(|(m, _)| m)
}

/// [`decode`], also returning the option order of the input.
pub fn decode_with_layout(bytes: &[u8], numbering: Numbering) -> Result<(TeepMessage, Layout)> {
    match decode_strict(bytes, numbering) {
        Ok(m) => Ok(m),
        Err(mut e) => {
            if e.kind != DecodeErrorKind::Malformed {
                let other = numbering.other();
                if let Ok((m, _)) = decode_strict(bytes, other) {
                    e.other_numbering = Some((other, m.message_type()));
                }
            }
            Err(e)
        }
    }
}

/// Decode trying draft -26 first, then legacy; returns which numbering matched.
///
/// Some messages are valid in both (e.g. a QueryResponse with no options, or a QueryRequest
/// whose options are only versions): they are reported as [`Numbering::Draft26`], the
/// standard. When neither matches, the draft -26 error is returned (with the legacy one as
/// a hint if the message type only exists in legacy numbering).
pub fn decode_auto(bytes: &[u8]) -> Result<(TeepMessage, Numbering)> {
    match decode_strict(bytes, Numbering::Draft26) {
        Ok((m, _)) => Ok((m, Numbering::Draft26)),
        Err(e26) => match decode_strict(bytes, Numbering::Legacy) {
            Ok((m, _)) => Ok((m, Numbering::Legacy)),
            Err(mut elegacy) => {
                // The message type only exists in legacy numbering: the legacy error is the
                // one that explains what is wrong.
                if e26.kind != DecodeErrorKind::Malformed
                    && e26.hint.is_some()
                    && elegacy.hint.is_none()
                {
                    elegacy.hint = Some("read in legacy numbering".into());
                    Err(elegacy)
                } else {
                    Err(e26)
                }
            }
        },
    }
}

fn decode_strict(bytes: &[u8], n: Numbering) -> Result<(TeepMessage, Layout)> {
    let mut r = Reader::new(bytes, "TeepMessage");
    let len = r.array("TEEP message array")?;
    if len < 2 {
        return Err(r.invalid(format!(
            "expected array of at least 2 elements (type, options), got {len}"
        )));
    }
    r.push(Seg::Name("type"));
    let tv = r.uint("uint message type")?;
    let t = match MessageType::from_value(tv, n) {
        Some(t) => t,
        None => {
            let mut e = r.invalid(format!("unknown {} message type {tv}", n.adjective()));
            if let Some(other) = MessageType::from_value(tv, n.other()) {
                e.hint = Some(format!(
                    "{} numbering uses {tv} for {}",
                    n.other().name(),
                    other.name()
                ));
            } else if tv == 4 && n == Numbering::Legacy {
                e.hint =
                    Some("4 is reserved in legacy numbering; draft -26 uses 4 for Success".into());
            }
            return Err(e);
        }
    };
    r.pop();
    r.set_root(t.name());
    let arity = match t {
        MessageType::QueryRequest => 5,
        MessageType::Error => 3,
        _ => 2,
    };
    if len != arity {
        let mut e = r.invalid(format!("expected array of {arity} elements, got {len}"));
        // A type value shared by both numberings with a different arity is the common
        // symptom of a wrongly numbered Success/Error.
        if let Some(other) = MessageType::from_value(tv, n.other()) {
            if other != t {
                e.hint = Some(format!(
                    "{} numbering uses type {tv} for {}",
                    n.other().name(),
                    other.name()
                ));
            }
        }
        return Err(e);
    }
    r.push(Seg::Name("options"));
    let mut opts = read_options(&mut r, t, n)?;
    r.pop();
    let layout = Layout {
        option_order: std::mem::take(&mut opts.order),
    };
    let msg = match t {
        MessageType::QueryRequest => {
            r.push(Seg::Name("supported-teep-cipher-suites"));
            let suites = read_nonempty_list(&mut r, read_cipher_suite)?;
            r.replace_last(Seg::Name("supported-suit-cose-profiles"));
            let profiles = read_nonempty_list(&mut r, read_suit_cose_profile)?;
            r.replace_last(Seg::Name("data-item-requested"));
            let bits = r.uint("uint .bits data-item-requested")?;
            r.pop();
            let m = QueryRequest {
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
            check_query_request(&r, &m)?;
            TeepMessage::QueryRequest(m)
        }
        MessageType::QueryResponse => TeepMessage::QueryResponse(QueryResponse {
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
        }),
        MessageType::Update => TeepMessage::Update(Update {
            token: opts.token,
            unneeded_manifest_list: opts.unneeded_manifest_list,
            manifest_list: opts.manifest_list,
            attestation_payload_format: opts.attestation_payload_format,
            attestation_payload: opts.attestation_payload,
            err_code: opts.err_code,
            err_msg: opts.err_msg,
            err_lang: opts.err_lang,
            unknown_options: opts.unknown,
        }),
        MessageType::Success => TeepMessage::Success(Success {
            token: opts.token,
            msg: opts.msg,
            suit_reports: opts.suit_reports,
            unknown_options: opts.unknown,
        }),
        MessageType::Error => {
            r.push(Seg::Name("err-code"));
            let code = r.uint("uint err-code")?;
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
                err_code: ErrorCode::from_value(code, n),
                unknown_options: opts.unknown,
            };
            check_error(&r, &m)?;
            TeepMessage::Error(m)
        }
    };
    r.leave();
    r.finish()?;
    Ok((msg, layout))
}

/// Section 4.2 rules that the draft does not contradict.
fn check_query_request(r: &Reader<'_>, m: &QueryRequest) -> Result<()> {
    if !m.data_item_requested.attestation() && !m.supported_freshness_mechanisms.is_empty() {
        let mut e = r.invalid(
            "supported-freshness-mechanisms MUST be absent when the attestation bit of data-item-requested is clear",
        );
        e.path = format!(
            "{}.options.supported-freshness-mechanisms",
            MessageType::QueryRequest.name()
        );
        return Err(e);
    }
    // Not enforced: "token iff attestation bit clear" and "challenge absent if the bit is
    // clear" contradict the example and the passport model (DIGEST §9 item 2); both
    // readings are accepted.
    Ok(())
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

fn read_options(r: &mut Reader<'_>, t: MessageType, n: Numbering) -> Result<Options> {
    let len = r.map("options map")?;
    let mut o = Options::default();
    // A set, not a list: a peer may send many unknown labels.
    let mut seen = std::collections::BTreeSet::new();
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
            Some(l) if allowed(t, l) => {
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

fn read_option(r: &mut Reader<'_>, l: Label, n: Numbering, o: &mut Options) -> Result<()> {
    match l {
        Label::Token => o.token = Some(read_sized_bytes(r, 8, 64)?),
        Label::Challenge => o.challenge = Some(read_sized_bytes(r, 8, 512)?),
        Label::Versions => o.versions = read_nonempty_list(r, read_u32)?,
        Label::ExtList => o.ext_list = read_nonempty_list(r, read_u32)?,
        Label::SelectedVersion => o.selected_version = Some(read_u32(r)?),
        Label::SupportedCipherSuites => {
            o.supported_cipher_suites = read_nonempty_list(r, read_cipher_suite)?
        }
        Label::SupportedSuitCoseProfiles => {
            o.supported_suit_cose_profiles = read_nonempty_list(r, read_suit_cose_profile)?
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
        Label::ErrCode => o.err_code = Some(ErrorCode::from_value(r.uint("uint err-code")?, n)),
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
        Label::ManifestList => {
            o.manifest_list = read_nonempty_list(r, |r| {
                let b = r.bytes("bstr .cbor SUIT_Envelope")?;
                let t = check_embedded(r, b, "SUIT_Envelope")?;
                if t != Type::Map {
                    return Err(r.invalid(format!(
                        "expected bstr .cbor SUIT_Envelope (an untagged map), got {}",
                        if t == Type::Tag {
                            "a tagged item"
                        } else {
                            "another CBOR type"
                        }
                    )));
                }
                Ok(b.to_vec())
            })?
        }
        Label::UnneededManifestList => {
            o.unneeded_manifest_list = read_nonempty_list(r, read_component_id)?
        }
        Label::TcList => o.tc_list = read_nonempty_list(r, read_system_property_claims)?,
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

fn read_sized_bytes(r: &mut Reader<'_>, min: usize, max: usize) -> Result<Vec<u8>> {
    let expected = format!("bstr of {min}..{max} bytes");
    let b = r.bytes(&expected)?;
    if b.len() < min || b.len() > max {
        return Err(r.invalid(format!("expected {expected}, got {}", b.len())));
    }
    Ok(b.to_vec())
}

fn read_sized_text(r: &mut Reader<'_>, min: usize, max: usize) -> Result<String> {
    let expected = format!("tstr of {min}..{max} bytes");
    let s = r.text(&expected)?;
    if s.len() < min || s.len() > max {
        return Err(r.invalid(format!("expected {expected}, got {}", s.len())));
    }
    Ok(s.to_string())
}

/// `uint .size 4`.
fn read_u32(r: &mut Reader<'_>) -> Result<u32> {
    let v = r.uint("uint .size 4")?;
    u32::try_from(v).map_err(|_| {
        r.invalid(format!(
            "expected uint .size 4 (at most 4294967295), got {v}"
        ))
    })
}

/// `[+ item]`: a definite, non-empty array.
fn read_nonempty_list<'b, T>(
    r: &mut Reader<'b>,
    mut item: impl FnMut(&mut Reader<'b>) -> Result<T>,
) -> Result<Vec<T>> {
    let len = r.array("non-empty array")?;
    if len == 0 {
        return Err(r.invalid("expected non-empty array ([+ ...]), got 0 elements"));
    }
    let mut out = Vec::with_capacity(r.capacity(len));
    for i in 0..len {
        r.push(Seg::Index(i as usize));
        out.push(item(r)?);
        r.pop();
    }
    r.leave();
    Ok(out)
}

fn read_cipher_suite(r: &mut Reader<'_>) -> Result<CipherSuite> {
    let ops = read_nonempty_list(r, |r| {
        let len = r.array("[cose-type, cose-alg]")?;
        if len != 2 {
            return Err(r.invalid(format!(
                "expected [cose-type, cose-alg] of 2 elements, got {len}"
            )));
        }
        let cose_type = r.int("int cose-type")?;
        let alg = r.int("int cose-alg")?;
        r.leave();
        Ok(CipherOperation { cose_type, alg })
    })?;
    Ok(CipherSuite::new(ops))
}

fn read_suit_cose_profile(r: &mut Reader<'_>) -> Result<SuitCoseProfile> {
    let len = r.array("SUIT COSE profile [digest, auth, key-exchange, encryption]")?;
    if len != 4 {
        return Err(r.invalid(format!(
            "expected SUIT COSE profile [digest, auth, key-exchange, encryption] of 4 ints, got {len} elements"
        )));
    }
    let mut p = [0i64; 4];
    for (i, slot) in p.iter_mut().enumerate() {
        r.push(Seg::Index(i));
        *slot = r.int("int COSE algorithm")?;
        r.pop();
    }
    r.leave();
    Ok(SuitCoseProfile(p))
}

/// `SUIT_Component_Identifier = [* bstr]`.
fn read_component_id(r: &mut Reader<'_>) -> Result<ComponentId> {
    let len = r.array("SUIT_Component_Identifier [* bstr]")?;
    let mut out = Vec::with_capacity(r.capacity(len));
    for i in 0..len {
        r.push(Seg::Index(i as usize));
        out.push(r.bytes("bstr")?.to_vec());
        r.pop();
    }
    r.leave();
    Ok(out)
}

/// `system-property-claims = { system-component-id(0) => SUIT_Component_Identifier,
/// + $$SUIT_Parameters }`.
fn read_system_property_claims(r: &mut Reader<'_>) -> Result<SystemPropertyClaims> {
    let len = r.map("system-property-claims map")?;
    let mut component_id = None;
    let mut parameters = BTreeMap::new();
    for _ in 0..len {
        let key = r.int("int SUIT parameter label")?;
        if key == 0 {
            if component_id.is_some() {
                return Err(r.invalid("duplicate key 0 (system-component-id)"));
            }
            r.push(Seg::Name("component-id"));
            component_id = Some(read_component_id(r)?);
            r.pop();
        } else {
            if parameters.contains_key(&key) {
                let mut e = r.invalid(format!("duplicate SUIT parameter label {key}"));
                e.kind = DecodeErrorKind::Strictness;
                return Err(e);
            }
            r.push(Seg::Key(key as i128));
            let v = r.value()?;
            r.pop();
            parameters.insert(key, v);
        }
    }
    let Some(component_id) = component_id else {
        return Err(r.invalid("missing system-component-id (key 0)"));
    };
    if parameters.is_empty() {
        return Err(r.invalid("expected at least one SUIT parameter besides system-component-id (+ $$SUIT_Parameters)"));
    }
    r.leave();
    Ok(SystemPropertyClaims {
        component_id,
        parameters,
    })
}

fn read_requested_tc_info(r: &mut Reader<'_>, n: Numbering) -> Result<RequestedTcInfo> {
    let len = r.map("requested-tc-info map")?;
    let mut info = RequestedTcInfo::default();
    let mut have_cid = false;
    let mut seen = Vec::new();
    for _ in 0..len {
        let key = r.uint("uint label")?;
        if seen.contains(&key) {
            let mut e = r.invalid(format!("duplicate label {key}"));
            e.kind = DecodeErrorKind::Strictness;
            return Err(e);
        }
        seen.push(key);
        match Label::from_value(key, n) {
            Some(Label::ComponentId) => {
                r.push(Seg::Name("component-id"));
                info.component_id = read_component_id(r)?;
                have_cid = true;
                r.pop();
            }
            Some(Label::TcManifestSequenceNumber) => {
                r.push(Seg::Name("tc-manifest-sequence-number"));
                info.tc_manifest_sequence_number = Some(r.uint("uint")?);
                r.pop();
            }
            Some(Label::HaveBinary) => {
                r.push(Seg::Name("have-binary"));
                info.have_binary = Some(r.bool("bool")?);
                r.pop();
            }
            _ => {
                return Err(r.invalid(format!(
                    "label {key} is not allowed in requested-tc-info ({} numbering)",
                    n.name()
                )))
            }
        }
    }
    if !have_cid {
        return Err(r.invalid("missing component-id"));
    }
    if info.have_binary == Some(true) && info.tc_manifest_sequence_number.is_none() {
        return Err(
            r.invalid("tc-manifest-sequence-number MUST be present when have-binary is true")
        );
    }
    r.leave();
    Ok(info)
}

// ---------------------------------------------------------------------------------------
// Encoding

/// A borrowed option value, so encoding needs no copies of the message.
enum Field<'a> {
    Bytes(&'a [u8]),
    Text(&'a str),
    Uint(u64),
    U32List(&'a [u32]),
    Suites(&'a [CipherSuite]),
    Profiles(&'a [SuitCoseProfile]),
    Freshness(&'a [FreshnessMechanism]),
    BytesList(&'a [Vec<u8>]),
    ComponentIds(&'a [ComponentId]),
    TcList(&'a [SystemPropertyClaims]),
    RequestedTcList(&'a [RequestedTcInfo]),
    Raw(&'a Value),
}

struct OptWriter<'a> {
    n: Numbering,
    fields: Vec<(u64, Field<'a>)>,
    layout: Option<&'a Layout>,
}

impl<'a> OptWriter<'a> {
    fn new(n: Numbering) -> Self {
        OptWriter {
            n,
            fields: Vec::with_capacity(8),
            layout: None,
        }
    }
    fn opt(&mut self, l: Label, f: Option<Field<'a>>) {
        if let Some(f) = f {
            self.fields.push((l.value(self.n), f));
        }
    }
    fn list<T>(&mut self, l: Label, v: &'a [T], f: impl FnOnce(&'a [T]) -> Field<'a>) {
        if !v.is_empty() {
            self.fields.push((l.value(self.n), f(v)));
        }
    }
    fn finish(mut self, out: &mut Vec<u8>, unknown: &'a UnknownOptions) {
        for (k, v) in unknown {
            // A label known in this numbering never lands in `unknown_options` on decode; if
            // one is there (set by a caller, or a legacy-only label such as 5 re-encoded in
            // draft -26), it would change meaning, so it is dropped.
            if Label::from_value(*k, self.n).is_none() {
                self.fields.push((*k, Field::Raw(v)));
            }
        }
        match self.layout {
            // uint keys: numeric order is bytewise order of their shortest encodings.
            None => self.fields.sort_by_key(|(k, _)| *k),
            Some(layout) => {
                let n = self.n;
                let rank = |k: u64| {
                    let key = match Label::from_value(k, n) {
                        Some(l) => OptionKey::Known(l),
                        None => OptionKey::Unknown(k),
                    };
                    let pos = layout
                        .option_order
                        .iter()
                        .position(|o| *o == key)
                        .unwrap_or(usize::MAX);
                    (pos, k)
                };
                self.fields.sort_by_key(|(k, _)| rank(*k));
            }
        }
        cbor::write_map_head(out, self.fields.len());
        let n = self.n;
        for (k, f) in &self.fields {
            cbor::write_uint(out, *k);
            write_field(out, f, n);
        }
    }
}

fn write_component_id(out: &mut Vec<u8>, c: &ComponentId) {
    cbor::write_array_head(out, c.len());
    for b in c {
        cbor::write_bytes(out, b);
    }
}

fn write_suite(out: &mut Vec<u8>, s: &CipherSuite) {
    cbor::write_array_head(out, s.operations().len());
    for op in s.operations() {
        cbor::write_array_head(out, 2);
        cbor::write_int(out, op.cose_type);
        cbor::write_int(out, op.alg);
    }
}

fn write_profile(out: &mut Vec<u8>, p: &SuitCoseProfile) {
    cbor::write_array_head(out, 4);
    for a in p.0 {
        cbor::write_int(out, a);
    }
}

fn write_field(out: &mut Vec<u8>, f: &Field<'_>, n: Numbering) {
    match f {
        Field::Bytes(b) => cbor::write_bytes(out, b),
        Field::Text(s) => cbor::write_text(out, s),
        Field::Uint(v) => cbor::write_uint(out, *v),
        Field::U32List(l) => {
            cbor::write_array_head(out, l.len());
            for v in l.iter() {
                cbor::write_uint(out, u64::from(*v));
            }
        }
        Field::Suites(l) => {
            cbor::write_array_head(out, l.len());
            for s in l.iter() {
                write_suite(out, s);
            }
        }
        Field::Profiles(l) => {
            cbor::write_array_head(out, l.len());
            for p in l.iter() {
                write_profile(out, p);
            }
        }
        Field::Freshness(l) => {
            cbor::write_array_head(out, l.len());
            for m in l.iter() {
                cbor::write_uint(out, m.value());
            }
        }
        Field::BytesList(l) => {
            cbor::write_array_head(out, l.len());
            for b in l.iter() {
                cbor::write_bytes(out, b);
            }
        }
        Field::ComponentIds(l) => {
            cbor::write_array_head(out, l.len());
            for c in l.iter() {
                write_component_id(out, c);
            }
        }
        Field::TcList(l) => {
            cbor::write_array_head(out, l.len());
            for c in l.iter() {
                write_system_property_claims(out, c);
            }
        }
        Field::RequestedTcList(l) => {
            cbor::write_array_head(out, l.len());
            for i in l.iter() {
                let mut fields = 1;
                fields += usize::from(i.tc_manifest_sequence_number.is_some());
                fields += usize::from(i.have_binary.is_some());
                cbor::write_map_head(out, fields);
                cbor::write_uint(out, Label::ComponentId.value(n));
                write_component_id(out, &i.component_id);
                if let Some(s) = i.tc_manifest_sequence_number {
                    cbor::write_uint(out, Label::TcManifestSequenceNumber.value(n));
                    cbor::write_uint(out, s);
                }
                if let Some(b) = i.have_binary {
                    cbor::write_uint(out, Label::HaveBinary.value(n));
                    cbor::write_bool(out, b);
                }
            }
        }
        Field::Raw(v) => cbor::write_value(out, v),
    }
}

fn write_system_property_claims(out: &mut Vec<u8>, c: &SystemPropertyClaims) {
    // Keys sorted by their encoding: 0 first, then positive labels, then negative ones.
    let mut keys: Vec<(Vec<u8>, Option<&Value>)> = Vec::with_capacity(c.parameters.len() + 1);
    let mut k0 = Vec::new();
    cbor::write_int(&mut k0, 0);
    keys.push((k0, None));
    for (k, v) in &c.parameters {
        if *k == 0 {
            continue;
        }
        let mut kb = Vec::new();
        cbor::write_int(&mut kb, *k);
        keys.push((kb, Some(v)));
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    cbor::write_map_head(out, keys.len());
    for (kb, v) in keys {
        out.extend_from_slice(&kb);
        match v {
            None => write_component_id(out, &c.component_id),
            Some(v) => cbor::write_value(out, v),
        }
    }
}

/// Deterministic encoding (RFC 8949 §4.2.1) of `m` in numbering `n`.
pub fn encode(m: &TeepMessage, n: Numbering, layout: Option<&Layout>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let t = m.message_type();
    let arity = match t {
        MessageType::QueryRequest => 5,
        MessageType::Error => 3,
        _ => 2,
    };
    cbor::write_array_head(&mut out, arity);
    cbor::write_uint(&mut out, t.value(n));
    let mut w = OptWriter::new(n);
    w.layout = layout;
    match m {
        TeepMessage::QueryRequest(q) => {
            w.opt(Label::Token, q.token.as_deref().map(Field::Bytes));
            w.list(
                Label::SupportedFreshnessMechanisms,
                &q.supported_freshness_mechanisms,
                Field::Freshness,
            );
            w.opt(Label::Challenge, q.challenge.as_deref().map(Field::Bytes));
            w.list(Label::Versions, &q.versions, Field::U32List);
            w.opt(
                Label::AttestationPayloadFormat,
                q.attestation_payload_format.as_deref().map(Field::Text),
            );
            w.opt(
                Label::AttestationPayload,
                q.attestation_payload.as_deref().map(Field::Bytes),
            );
            w.list(Label::SuitReports, &q.suit_reports, Field::BytesList);
            w.finish(&mut out, &q.unknown_options);
            write_field(&mut out, &Field::Suites(&q.supported_cipher_suites), n);
            write_field(
                &mut out,
                &Field::Profiles(&q.supported_suit_cose_profiles),
                n,
            );
            cbor::write_uint(&mut out, q.data_item_requested.0);
        }
        TeepMessage::QueryResponse(q) => {
            w.opt(Label::Token, q.token.as_deref().map(Field::Bytes));
            w.opt(
                Label::SelectedVersion,
                q.selected_version.map(|v| Field::Uint(u64::from(v))),
            );
            w.opt(
                Label::AttestationPayloadFormat,
                q.attestation_payload_format.as_deref().map(Field::Text),
            );
            w.opt(
                Label::AttestationPayload,
                q.attestation_payload.as_deref().map(Field::Bytes),
            );
            w.list(Label::SuitReports, &q.suit_reports, Field::BytesList);
            w.list(Label::TcList, &q.tc_list, Field::TcList);
            w.list(
                Label::RequestedTcList,
                &q.requested_tc_list,
                Field::RequestedTcList,
            );
            w.list(
                Label::UnneededManifestList,
                &q.unneeded_manifest_list,
                Field::ComponentIds,
            );
            w.list(Label::ExtList, &q.ext_list, Field::U32List);
            w.finish(&mut out, &q.unknown_options);
        }
        TeepMessage::Update(u) => {
            w.opt(Label::Token, u.token.as_deref().map(Field::Bytes));
            w.list(
                Label::UnneededManifestList,
                &u.unneeded_manifest_list,
                Field::ComponentIds,
            );
            w.list(Label::ManifestList, &u.manifest_list, Field::BytesList);
            w.opt(
                Label::AttestationPayloadFormat,
                u.attestation_payload_format.as_deref().map(Field::Text),
            );
            w.opt(
                Label::AttestationPayload,
                u.attestation_payload.as_deref().map(Field::Bytes),
            );
            w.opt(Label::ErrCode, u.err_code.map(|c| Field::Uint(c.value(n))));
            w.opt(Label::ErrMsg, u.err_msg.as_deref().map(Field::Text));
            w.opt(Label::ErrLang, u.err_lang.as_deref().map(Field::Text));
            w.finish(&mut out, &u.unknown_options);
        }
        TeepMessage::Success(s) => {
            w.opt(Label::Token, s.token.as_deref().map(Field::Bytes));
            w.opt(Label::Msg, s.msg.as_deref().map(Field::Text));
            w.list(Label::SuitReports, &s.suit_reports, Field::BytesList);
            w.finish(&mut out, &s.unknown_options);
        }
        TeepMessage::Error(e) => {
            w.opt(Label::Token, e.token.as_deref().map(Field::Bytes));
            w.opt(Label::ErrMsg, e.err_msg.as_deref().map(Field::Text));
            w.opt(Label::ErrLang, e.err_lang.as_deref().map(Field::Text));
            w.list(
                Label::SupportedCipherSuites,
                &e.supported_cipher_suites,
                Field::Suites,
            );
            w.list(
                Label::SupportedFreshnessMechanisms,
                &e.supported_freshness_mechanisms,
                Field::Freshness,
            );
            w.list(
                Label::SupportedSuitCoseProfiles,
                &e.supported_suit_cose_profiles,
                Field::Profiles,
            );
            w.opt(Label::Challenge, e.challenge.as_deref().map(Field::Bytes));
            w.list(Label::Versions, &e.versions, Field::U32List);
            w.list(Label::SuitReports, &e.suit_reports, Field::BytesList);
            w.finish(&mut out, &e.unknown_options);
            cbor::write_uint(&mut out, e.err_code.value(n));
        }
    }
    out
}
