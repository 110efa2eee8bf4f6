//! Trusted Component identifiers as typed on a command line.
//!
//! One parser serves `teep agent request`, `unrequest` and `teep ta invoke`:
//!
//! * a SUIT component identifier in the text form every teep tool prints (teep-cbor's
//!   [`ComponentId`]): `['TEEP-Device', 'SecureFS', h'8d82573a926d4754935332dc29997f74', 'ta']`;
//! * the same as `/`-joined segments, each plain text or `h'hex'`, which needs no shell quoting:
//!   `TEEP-Device/SecureFS/h'8d82573a926d4754935332dc29997f74'/ta`;
//! * a bare UUID (`8d82573a-926d-4754-9353-32dc29997f74`) or a bare name (`hello`), which maps to
//!   the conventional TEEP id `['TEEP-Device', 'SecureFS', <16 UUID bytes>, 'ta']`. A name stands
//!   for the UUID the TAM derives from it when it wraps a TA (`teep tam add-ta --name`):
//!   UUIDv5(vendor-id, name) with vendor-id = UUIDv5(DNS, "teep.tam.local"), so `hello` names the
//!   same TC on the TAM and on the device.
//!
//! The manifest component id of a TC (what `unneeded-manifest-list` carries) is the same id with
//! the last segment `suit` instead of `ta` (DIGEST §9.13).

use alloc::{
    string::{String, ToString},
    vec,
    vec::Vec,
};
use core::fmt;

pub use teep_cbor::ComponentId;

/// Longest text accepted, and most segments: far above any real id, low enough to bound work.
pub const MAX_TC_ID_LEN: usize = 1024;
pub const MAX_SEGMENTS: usize = 16;

/// A SUIT_Component_Identifier as a TC-ID: the [`ComponentId`] with the parser above.
/// Serialized (JSON, local API) in the component id's text form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TcId(pub ComponentId);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcIdError {
    #[error("TC-ID: empty")]
    Empty,
    #[error("TC-ID: {0}")]
    Text(teep_cbor::ComponentIdError),
    #[error("TC-ID: longer than {MAX_TC_ID_LEN} characters")]
    TooLong,
    #[error("TC-ID: more than {MAX_SEGMENTS} segments")]
    TooManySegments,
    #[error("TC-ID segment {index}: empty (use h'' for an empty byte string)")]
    EmptySegment { index: usize },
    #[error("TC-ID segment {index}: {text:?} is not valid h'hex': {reason}")]
    BadHex {
        index: usize,
        text: String,
        reason: String,
    },
}

/// Help text for the CLI, kept beside the parser it describes.
pub const TC_ID_HELP: &str = "TC-ID: a component id as printed (e.g. \
\"['TEEP-Device', 'SecureFS', h'8d82573a926d4754935332dc29997f74', 'ta']\"), or as '/'-joined segments, \
each text or h'hex' (e.g. TEEP-Device/SecureFS/h'8d82573a926d4754935332dc29997f74'/ta), or a bare UUID or name (e.g. hello), \
which means ['TEEP-Device','SecureFS',h'<uuid>','ta']; a name stands for the UUID the TAM gives a TA of that \
name: UUIDv5(UUIDv5(DNS,'teep.tam.local'), name)";

/// The vendor id under which the TAM derives TA class ids from names.
pub fn vendor_uuid() -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_DNS,
        teep_cbor::TAM_TC_NAMESPACE_DNS.as_bytes(),
    )
}

/// The class UUID of a TA named `name` (see the module documentation).
pub fn name_uuid(name: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&vendor_uuid(), name.as_bytes())
}

impl TcId {
    /// The conventional TEEP id of a TA named by UUID bytes or by a name.
    pub fn conventional(key: &[u8]) -> Self {
        TcId(ComponentId::new(vec![
            b"TEEP-Device".to_vec(),
            b"SecureFS".to_vec(),
            key.to_vec(),
            b"ta".to_vec(),
        ]))
    }

    pub fn parse(text: &str) -> Result<Self, TcIdError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TcIdError::Empty);
        }
        if text.len() > MAX_TC_ID_LEN {
            return Err(TcIdError::TooLong);
        }
        if text.starts_with('[') {
            let id = ComponentId::parse(text).map_err(TcIdError::Text)?;
            if id.len() > MAX_SEGMENTS {
                return Err(TcIdError::TooManySegments);
            }
            return Ok(TcId(id));
        }
        if !text.contains('/') {
            if let Ok(uuid) = uuid::Uuid::parse_str(text) {
                return Ok(Self::conventional(uuid.as_bytes()));
            }
            if !text.starts_with("h'") {
                return Ok(Self::conventional(name_uuid(text).as_bytes()));
            }
        }
        let parts: Vec<&str> = text.split('/').collect();
        if parts.len() > MAX_SEGMENTS {
            return Err(TcIdError::TooManySegments);
        }
        let mut segments = Vec::with_capacity(parts.len());
        for (index, part) in parts.iter().enumerate() {
            segments.push(parse_segment(index, part)?);
        }
        Ok(TcId(ComponentId::new(segments)))
    }

    /// The id of the manifest that installs this TC: last segment `ta` becomes `suit`.
    pub fn manifest_id(&self) -> TcId {
        let mut segs = self.0.clone();
        match segs.last_mut() {
            Some(last) if last.as_slice() == b"ta" => *last = b"suit".to_vec(),
            _ => {}
        }
        TcId(segs)
    }

    /// The TC id that a manifest id names: last segment `suit` becomes `ta`.
    pub fn component_of_manifest(&self) -> TcId {
        let mut segs = self.0.clone();
        match segs.last_mut() {
            Some(last) if last.as_slice() == b"suit" => *last = b"ta".to_vec(),
            _ => {}
        }
        TcId(segs)
    }
}

fn parse_segment(index: usize, part: &str) -> Result<Vec<u8>, TcIdError> {
    if let Some(rest) = part.strip_prefix("h'") {
        let hex_text = rest.strip_suffix('\'').ok_or_else(|| TcIdError::BadHex {
            index,
            text: part.to_string(),
            reason: "missing closing quote".into(),
        })?;
        return hex::decode(hex_text).map_err(|e| TcIdError::BadHex {
            index,
            text: part.to_string(),
            reason: e.to_string(),
        });
    }
    if part.is_empty() {
        return Err(TcIdError::EmptySegment { index });
    }
    Ok(part.as_bytes().to_vec())
}

impl core::str::FromStr for TcId {
    type Err = TcIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TcId::parse(s)
    }
}

/// The component id's one text form, which `parse` reads back.
impl fmt::Display for TcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl serde::Serialize for TcId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for TcId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        TcId::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl From<Vec<Vec<u8>>> for TcId {
    fn from(v: Vec<Vec<u8>>) -> Self {
        TcId(ComponentId::new(v))
    }
}

impl From<ComponentId> for TcId {
    fn from(id: ComponentId) -> Self {
        TcId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "8d82573a-926d-4754-9353-32dc29997f74";

    #[test]
    fn bare_uuid_maps_to_conventional_id() {
        let id = TcId::parse(UUID).unwrap();
        assert_eq!(
            id.0[2],
            hex::decode("8d82573a926d4754935332dc29997f74").unwrap()
        );
        assert_eq!(id.0[0], b"TEEP-Device");
        assert_eq!(id.0[3], b"ta");
    }

    #[test]
    fn bare_name_maps_to_the_uuid_the_tam_derives() {
        let id = TcId::parse("hello").unwrap();
        assert_eq!(id, TcId::conventional(name_uuid("hello").as_bytes()));
        // Fixed value: a change here breaks agreement with TAMs already deployed.
        let vendor = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"teep.tam.local");
        assert!(TC_ID_HELP.contains(&format!("'{}'", teep_cbor::TAM_TC_NAMESPACE_DNS)));
        assert_eq!(
            id.0[2],
            uuid::Uuid::new_v5(&vendor, b"hello").as_bytes().to_vec()
        );
    }

    #[test]
    fn segments_with_hex_parse() {
        let id =
            TcId::parse("TEEP-Device/SecureFS/h'8d82573a926d4754935332dc29997f74'/ta").unwrap();
        assert_eq!(id, TcId::parse(UUID).unwrap());
    }

    #[test]
    fn single_hex_segment_is_a_one_segment_id() {
        assert_eq!(
            TcId::parse("h'00ff'").unwrap(),
            TcId::from(vec![vec![0, 0xff]])
        );
    }

    #[test]
    fn display_round_trips() {
        for text in [
            UUID,
            "hello",
            "a/h'00'/h''/c",
            "TEEP-Device/SecureFS/config.json",
            "h'6869'",
        ] {
            let id = TcId::parse(text).unwrap();
            assert_eq!(TcId::parse(&id.to_string()).unwrap(), id, "{text}");
        }
    }

    #[test]
    fn prints_and_reads_the_component_id_text_form() {
        let id = TcId::parse("TEEP-Device/SecureFS/h'8d82573a'/ta").unwrap();
        let text = "['TEEP-Device', 'SecureFS', h'8d82573a', 'ta']";
        assert_eq!(id.to_string(), text);
        assert_eq!(TcId::parse(text).unwrap(), id);
        assert_eq!(
            TcId::parse("['a' 'b']").unwrap_err().to_string(),
            "TC-ID: component id: expected ',' or ']' at byte 5"
        );
        let many = format!("[{}]", vec!["'a'"; MAX_SEGMENTS + 1].join(", "));
        assert_eq!(TcId::parse(&many), Err(TcIdError::TooManySegments));
    }

    #[test]
    fn rejects_bad_input_with_the_segment_named() {
        assert_eq!(TcId::parse("  "), Err(TcIdError::Empty));
        assert_eq!(
            TcId::parse("a//b"),
            Err(TcIdError::EmptySegment { index: 1 })
        );
        assert!(matches!(
            TcId::parse("a/h'zz'"),
            Err(TcIdError::BadHex { index: 1, .. })
        ));
        assert!(matches!(
            TcId::parse("a/h'00"),
            Err(TcIdError::BadHex { index: 1, .. })
        ));
        assert_eq!(
            TcId::parse(&"x".repeat(MAX_TC_ID_LEN + 1)),
            Err(TcIdError::TooLong)
        );
        assert_eq!(
            TcId::parse(&vec!["a"; MAX_SEGMENTS + 1].join("/")),
            Err(TcIdError::TooManySegments)
        );
    }

    #[test]
    fn manifest_id_swaps_ta_for_suit() {
        let id = TcId::parse("hello").unwrap();
        assert_eq!(id.manifest_id().0[3], b"suit");
        assert_eq!(id.manifest_id().component_of_manifest(), id);
    }
}
