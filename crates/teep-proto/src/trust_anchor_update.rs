//! Trust-anchor updates carried as Trusted Components (RFC 9397 §5: the trust anchors on a
//! device may be updated). Not part of the TEEP drafts: teep's own format, delivered in an
//! Update's manifest-list like any TC, so it needs no new TEEP message.
//!
//! A SUIT manifest for the reserved component `['TEEP-Agent', 'trust-anchors', KIND]` (KIND
//! `'tam'` or `'tc-signer'`; manifest component id with `'suit'` appended) whose payload is
//!
//! ```cddl
//! trust-anchor-update = {
//!   1 => "add" / "replace" / "remove",   ; op
//!   2 => bstr .cbor COSE_Key,            ; the anchor added, the replacement, or the one removed
//! }
//! ```
//!
//! must be signed by an anchor of the same KIND the device already holds. "add" adds the key;
//! "replace" puts it in place of the anchor that signed the manifest (rotation); "remove"
//! removes it, unless it is the last anchor of its KIND. One component per KIND, so SUIT's
//! sequence number orders every change of that KIND and an old manifest cannot be replayed.

use alloc::{format, string::String, vec::Vec};

use teep_cbor::{ComponentId, Reader};

/// First segment of every reserved trust-anchor component id.
pub const TRUST_ANCHOR_DOMAIN: &[u8] = b"TEEP-Agent";
/// Second segment.
pub const TRUST_ANCHOR_SEGMENT: &[u8] = b"trust-anchors";

/// Which set of trust anchors an update changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnchorKind {
    /// Keys that may sign TEEP messages of a TAM.
    Tam,
    /// Keys that may sign SUIT manifests (TC Signers).
    TcSigner,
}

impl AnchorKind {
    /// The last segment of the component id: `tam` or `tc-signer`.
    pub fn name(self) -> &'static str {
        match self {
            AnchorKind::Tam => "tam",
            AnchorKind::TcSigner => "tc-signer",
        }
    }

    /// The component id a trust-anchor update of this kind installs.
    pub fn component_id(self) -> ComponentId {
        ComponentId::from_iter([
            TRUST_ANCHOR_DOMAIN.to_vec(),
            TRUST_ANCHOR_SEGMENT.to_vec(),
            self.name().as_bytes().to_vec(),
        ])
    }

    /// The kind whose reserved component `id` is, if it is one.
    pub fn of_component(id: &[Vec<u8>]) -> Option<AnchorKind> {
        match id {
            [d, s, k] if d == TRUST_ANCHOR_DOMAIN && s == TRUST_ANCHOR_SEGMENT => {
                [AnchorKind::Tam, AnchorKind::TcSigner]
                    .into_iter()
                    .find(|kind| kind.name().as_bytes() == k.as_slice())
            }
            _ => None,
        }
    }
}

impl core::str::FromStr for AnchorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tam" => Ok(AnchorKind::Tam),
            "tc-signer" => Ok(AnchorKind::TcSigner),
            _ => Err(format!(
                "trust anchor kind {s:?}: expected tam or tc-signer"
            )),
        }
    }
}

/// What an update does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnchorOp {
    Add,
    /// In place of the anchor that signed the manifest.
    Replace,
    Remove,
}

impl AnchorOp {
    pub fn name(self) -> &'static str {
        match self {
            AnchorOp::Add => "add",
            AnchorOp::Replace => "replace",
            AnchorOp::Remove => "remove",
        }
    }
}

impl core::str::FromStr for AnchorOp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "add" => Ok(AnchorOp::Add),
            "replace" => Ok(AnchorOp::Replace),
            "remove" => Ok(AnchorOp::Remove),
            _ => Err(format!(
                "trust anchor op {s:?}: expected add, replace or remove"
            )),
        }
    }
}

/// The payload of a trust-anchor update manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustAnchorUpdate {
    pub op: AnchorOp,
    /// The COSE_Key, as carried.
    pub cose_key: Vec<u8>,
}

/// Why a payload is not a trust-anchor update; `path` names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TrustAnchorUpdateError {
    pub path: String,
    pub reason: String,
}

fn err(path: &str, reason: impl Into<String>) -> TrustAnchorUpdateError {
    TrustAnchorUpdateError {
        path: format!("trust-anchor-update{path}"),
        reason: reason.into(),
    }
}

impl TrustAnchorUpdate {
    /// Deterministic encoding: `{1: op, 2: COSE_Key}`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        teep_cbor::write_map_head(&mut out, 2);
        teep_cbor::write_uint(&mut out, 1);
        teep_cbor::write_text(&mut out, self.op.name());
        teep_cbor::write_uint(&mut out, 2);
        teep_cbor::write_bytes(&mut out, &self.cose_key);
        out
    }

    /// Strict decoding: exactly the two fields, in order, nothing after.
    pub fn decode(bytes: &[u8]) -> Result<TrustAnchorUpdate, TrustAnchorUpdateError> {
        let mut r = Reader::new(bytes);
        let cbor = |e: teep_cbor::Error| format!("{} at byte {}", e.kind, e.offset);
        let n = r.map().map_err(|e| err("", cbor(e)))?;
        if n != 2 {
            return Err(err("", format!("a map of 2 entries (op, key), not {n}")));
        }
        let key = r.uint().map_err(|e| err("", cbor(e)))?;
        if key != 1 {
            return Err(err("", format!("first key {key}; expected 1 (op)")));
        }
        let op = r
            .text()
            .map_err(|e| err(".op", cbor(e)))?
            .parse::<AnchorOp>()
            .map_err(|e| err(".op", e))?;
        let key = r.uint().map_err(|e| err("", cbor(e)))?;
        if key != 2 {
            return Err(err("", format!("second key {key}; expected 2 (key)")));
        }
        let cose_key = r.bytes().map_err(|e| err(".key", cbor(e)))?.to_vec();
        r.finish().map_err(|e| err("", cbor(e)))?;
        Ok(TrustAnchorUpdate { op, cose_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_anchor_update_round_trips_and_refuses_what_it_does_not_define() {
        for op in [AnchorOp::Add, AnchorOp::Replace, AnchorOp::Remove] {
            let u = TrustAnchorUpdate {
                op,
                cose_key: alloc::vec![0xa1, 0x01, 0x02],
            };
            assert_eq!(TrustAnchorUpdate::decode(&u.encode()), Ok(u));
        }
        let mut bad = TrustAnchorUpdate {
            op: AnchorOp::Add,
            cose_key: alloc::vec![1],
        }
        .encode();
        bad[3] = b'x'; // "add" → "xdd"
        assert_eq!(
            TrustAnchorUpdate::decode(&bad).unwrap_err().to_string(),
            "trust-anchor-update.op: trust anchor op \"xdd\": expected add, replace or remove"
        );
        let mut long = TrustAnchorUpdate {
            op: AnchorOp::Add,
            cose_key: alloc::vec![1],
        }
        .encode();
        long.push(0);
        assert!(TrustAnchorUpdate::decode(&long).is_err());
        assert!(TrustAnchorUpdate::decode(&[0xa0]).is_err());
        assert!(TrustAnchorUpdate::decode(&[]).is_err());
    }

    #[test]
    fn reserved_component_ids_name_their_kind() {
        for kind in [AnchorKind::Tam, AnchorKind::TcSigner] {
            assert_eq!(AnchorKind::of_component(&kind.component_id()), Some(kind));
            assert_eq!(kind.name().parse::<AnchorKind>(), Ok(kind));
        }
        let ta: ComponentId = "['TEEP-Device', 'hello', 'ta']".parse().unwrap();
        assert_eq!(AnchorKind::of_component(&ta), None);
        let other: ComponentId = "['TEEP-Agent', 'trust-anchors', 'other']".parse().unwrap();
        assert_eq!(AnchorKind::of_component(&other), None);
    }
}
