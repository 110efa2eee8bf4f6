//! SUIT_Report (draft-ietf-suit-report): what ran, the result, and where and why it failed.

use crate::cbor::{Reader, Writer};
use crate::codec::write_digest;
use crate::error::DecodeError;
use crate::model::Digest;

/// SUIT_Report_Reason_Code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportReason {
    Ok,
    CborParse,
    CoseUnsupported,
    AlgUnsupported,
    Unauthorised,
    CommandUnsupported,
    ComponentUnsupported,
    ComponentUnauthorised,
    ParameterUnsupported,
    SeveringUnsupported,
    ConditionFailed,
    OperationFailed,
    InvokePending,
    Unknown(u64),
}

impl ReportReason {
    pub fn to_cbor(self) -> u64 {
        use ReportReason::*;
        match self {
            Ok => 0,
            CborParse => 1,
            CoseUnsupported => 2,
            AlgUnsupported => 3,
            Unauthorised => 4,
            CommandUnsupported => 5,
            ComponentUnsupported => 6,
            ComponentUnauthorised => 7,
            ParameterUnsupported => 8,
            SeveringUnsupported => 9,
            ConditionFailed => 10,
            OperationFailed => 11,
            InvokePending => 12,
            Unknown(n) => n,
        }
    }
    pub fn from_cbor(n: u64) -> Self {
        use ReportReason::*;
        match n {
            0 => Ok,
            1 => CborParse,
            2 => CoseUnsupported,
            3 => AlgUnsupported,
            4 => Unauthorised,
            5 => CommandUnsupported,
            6 => ComponentUnsupported,
            7 => ComponentUnauthorised,
            8 => ParameterUnsupported,
            9 => SeveringUnsupported,
            10 => ConditionFailed,
            11 => OperationFailed,
            12 => InvokePending,
            n => Unknown(n),
        }
    }
    pub fn name(self) -> &'static str {
        use ReportReason::*;
        match self {
            Ok => "suit-report-reason-ok",
            CborParse => "suit-report-reason-cbor-parse",
            CoseUnsupported => "suit-report-reason-cose-unsupported",
            AlgUnsupported => "suit-report-reason-alg-unsupported",
            Unauthorised => "suit-report-reason-unauthorised",
            CommandUnsupported => "suit-report-reason-command-unsupported",
            ComponentUnsupported => "suit-report-reason-component-unsupported",
            ComponentUnauthorised => "suit-report-reason-component-unauthorised",
            ParameterUnsupported => "suit-report-reason-parameter-unsupported",
            SeveringUnsupported => "suit-report-reason-severing-unsupported",
            ConditionFailed => "suit-report-reason-condition-failed",
            OperationFailed => "suit-report-reason-operation-failed",
            InvokePending => "suit-report-reason-invoke-pending",
            Unknown(_) => "unknown",
        }
    }
}

/// SUIT_Record = [manifest-id, manifest-section, section-offset, component-index, properties].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SuitRecord {
    /// Path of dependency indices from the root manifest (empty for the root).
    pub manifest_id: Vec<u64>,
    /// Manifest key of the section (e.g. 20 install; 3 for the shared sequence in common).
    pub section: i64,
    /// Byte offset of the command inside the section.
    pub offset: u64,
    pub component_index: u64,
    /// Recorded parameters as (label, raw CBOR value).
    pub properties: Vec<(i64, Vec<u8>)>,
    /// Command code (not on the wire; kept for human output).
    pub command: Option<i64>,
}

/// The SUIT_Report result: `true` or the failure details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportResult {
    Success,
    Failure {
        /// suit-report-result-code: the command code that failed (or 0 before processing).
        code: i64,
        record: SuitRecord,
        reason: ReportReason,
        /// Human explanation (not on the wire).
        detail: String,
    },
}

/// SUIT_Report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuitReport {
    /// SUIT_Reference: manifest reference-uri and manifest digest.
    pub reference_uri: String,
    pub digest: Option<Digest>,
    pub nonce: Option<Vec<u8>>,
    pub records: Vec<SuitRecord>,
    pub result: ReportResult,
}

impl SuitReport {
    pub fn new() -> Self {
        SuitReport {
            reference_uri: String::new(),
            digest: None,
            nonce: None,
            records: Vec::new(),
            result: ReportResult::Success,
        }
    }

    pub fn is_success(&self) -> bool {
        self.result == ReportResult::Success
    }

    /// Deterministic CBOR encoding of the report.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        let n = 3 + usize::from(self.nonce.is_some());
        w.map(n);
        if let Some(nonce) = &self.nonce {
            w.uint(2).bytes(nonce);
        }
        w.uint(3).array(self.records.len());
        for r in &self.records {
            write_record(&mut w, r);
        }
        w.uint(4);
        match &self.result {
            ReportResult::Success => {
                w.bool(true);
            }
            ReportResult::Failure {
                code,
                record,
                reason,
                ..
            } => {
                w.map(3).uint(5).int(*code).uint(6);
                write_record(&mut w, record);
                w.uint(7).uint(reason.to_cbor());
            }
        }
        w.uint(99).array(2).text(&self.reference_uri);
        match &self.digest {
            Some(d) => write_digest(&mut w, d),
            None => {
                w.array(2).int(-16).bytes(&[0u8; 32]);
            }
        }
        w.finish()
    }

    /// SUIT_Report_Protected: the report as the payload of a COSE_Sign1 (tag 18) signed by the
    /// device (media type `application/suit-report+cose`).
    pub fn sign(&self, signer: &dyn teep_cose::Signer) -> Result<Vec<u8>, teep_cose::CoseError> {
        teep_cose::sign1(&self.encode(), signer)
    }

    /// Decodes a SUIT_Report (for tests and the TAM).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, "SUIT_Report");
        let n = r.map()?;
        let mut rep = SuitReport::new();
        for _ in 0..n {
            let k = r.i64()?;
            match k {
                2 => rep.nonce = Some(r.bytes()?.to_vec()),
                3 => {
                    let m = r.array()?;
                    for _ in 0..m {
                        rep.records.push(read_record(&mut r)?);
                    }
                }
                4 => {
                    if r.is_type(|t| t == crate::cbor::Type::Bool) {
                        if !r.bool()? {
                            return Err(r.err("suit-report-result must be true or a map"));
                        }
                    } else {
                        let m = r.map()?;
                        let (mut code, mut record, mut reason) =
                            (0, SuitRecord::default(), ReportReason::Ok);
                        for _ in 0..m {
                            match r.i64()? {
                                5 => code = r.i64()?,
                                6 => record = read_record(&mut r)?,
                                7 => reason = ReportReason::from_cbor(r.u64()?),
                                _ => {
                                    r.raw()?;
                                }
                            }
                        }
                        rep.result = ReportResult::Failure {
                            code,
                            record,
                            reason,
                            detail: String::new(),
                        };
                    }
                }
                99 => {
                    if r.array()? != 2 {
                        return Err(r.err("SUIT_Reference must be [uri, digest]"));
                    }
                    rep.reference_uri = r.str()?.to_string();
                    let raw = r.raw()?;
                    rep.digest = Some(crate::codec::decode_digest(
                        raw,
                        "SUIT_Report.reference.digest",
                    )?);
                }
                _ => {
                    r.raw()?;
                }
            }
        }
        r.expect_end()?;
        Ok(rep)
    }

    /// JSON view with every field named.
    pub fn to_json(&self) -> serde_json::Value {
        let rec = |r: &SuitRecord| {
            serde_json::json!({
                "manifest-id": r.manifest_id,
                "section": r.section,
                "section-name": crate::codec::manifest_member_name(r.section),
                "offset": r.offset,
                "component-index": r.component_index,
                "command": r.command.map(|c| crate::model::CommandCode::from_cbor(c).name()),
                "properties": r.properties.iter().map(|(k, v)| (crate::model::Parameter::name(*k).to_string(), serde_json::Value::String(hex::encode(v)))).collect::<serde_json::Map<_, _>>(),
            })
        };
        serde_json::json!({
            "reference": {
                "uri": self.reference_uri,
                "digest": self.digest.as_ref().map(|d| hex::encode(&d.bytes)),
            },
            "nonce": self.nonce.as_ref().map(hex::encode),
            "records": self.records.iter().map(rec).collect::<Vec<_>>(),
            "result": match &self.result {
                ReportResult::Success => serde_json::json!(true),
                ReportResult::Failure { code, record, reason, detail } => serde_json::json!({
                    "result-code": code,
                    "command": crate::model::CommandCode::from_cbor(*code).name(),
                    "record": rec(record),
                    "reason": reason.name(),
                    "detail": detail,
                }),
            }
        })
    }
}

impl Default for SuitReport {
    fn default() -> Self {
        Self::new()
    }
}

fn write_record(w: &mut Writer, r: &SuitRecord) {
    w.array(5).array(r.manifest_id.len());
    for i in &r.manifest_id {
        w.uint(*i);
    }
    w.int(r.section)
        .uint(r.offset)
        .uint(r.component_index)
        .map(r.properties.len());
    for (k, v) in &r.properties {
        w.int(*k).raw(v);
    }
}

fn read_record(r: &mut Reader<'_>) -> Result<SuitRecord, DecodeError> {
    if r.array()? != 5 {
        return Err(r.err("SUIT_Record must have 5 elements"));
    }
    let n = r.array()?;
    let mut rec = SuitRecord::default();
    for _ in 0..n {
        rec.manifest_id.push(r.u64()?);
    }
    rec.section = r.i64()?;
    rec.offset = r.u64()?;
    rec.component_index = r.u64()?;
    let m = r.map()?;
    for _ in 0..m {
        let k = r.i64()?;
        rec.properties.push((k, r.raw()?.to_vec()));
    }
    Ok(rec)
}
