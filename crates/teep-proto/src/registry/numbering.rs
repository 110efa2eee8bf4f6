//! Which numbering (draft -26 or legacy) the registry values on the wire follow.

use alloc::format;
use alloc::string::String;
use core::fmt;

/// Which set of registry values is on the wire.
///
/// Draft -26 renumbered message types, option labels and one error code (DIGEST 3.1, 3.7);
/// drafts -20 … -25 and the peers seen in the wild (libteep, tamproto, AttesTAM) use
/// [`Numbering::Legacy`]. Algorithm ids are independent of the numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Numbering {
    /// draft-ietf-teep-protocol-26 and the IANA "TEEP" registry.
    #[default]
    Draft26,
    /// drafts -20 … -25 (token 20, Success 5, Error 6, ERR_MANIFEST_PROCESSING_FAILED 17).
    Legacy,
}

impl Numbering {
    /// The other numbering (used to explain rejections of wrongly numbered messages).
    pub fn other(self) -> Self {
        match self {
            Numbering::Draft26 => Numbering::Legacy,
            Numbering::Legacy => Numbering::Draft26,
        }
    }

    /// Lower-case name used on the command line and in JSON (`draft26`, `legacy`).
    pub fn name(self) -> &'static str {
        match self {
            Numbering::Draft26 => "draft26",
            Numbering::Legacy => "legacy",
        }
    }

    /// Adjective used in error messages ("legacy-numbered", "draft-26-numbered").
    pub fn adjective(self) -> &'static str {
        match self {
            Numbering::Draft26 => "draft-26-numbered",
            Numbering::Legacy => "legacy-numbered",
        }
    }
}

impl fmt::Display for Numbering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Numbering {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "draft26" | "draft-26" | "26" => Ok(Numbering::Draft26),
            "legacy" => Ok(Numbering::Legacy),
            other => Err(format!(
                "unknown numbering {other:?} (expected draft26 or legacy)"
            )),
        }
    }
}
