//! Named deviations: what a tolerant receiver accepted from a peer although the specification
//! says otherwise, and why.
//!
//! teep is strict on send and tolerant, but explicit, on receive: where a peer's form departs
//! from the draft but its meaning is unambiguous, the decoder accepts it and records a
//! [`Deviation`] (a stable code from [`catalog`], the spec section it departs from, and where in
//! the message it was seen). The adapters add the peer and show it in logs, dumps, the audit log,
//! metrics and the explanation returned to the peer. With [`Tolerance::Strict`] the same form is
//! refused instead, for conformance testing. A form whose meaning is ambiguous is never a
//! deviation: it is refused with an explanation that names both readings.
//!
//! The set of codes is closed ([`catalog::ALL`]), so metrics labelled by code stay bounded.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub mod catalog;

/// One kind of tolerated departure from the specification.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DeviationKind {
    /// Stable identifier, `area.what` (e.g. `cose.kid-empty`); never reused for another meaning.
    pub code: &'static str,
    /// The rule departed from (e.g. `draft-ietf-teep-protocol-26 §4.2`).
    pub section: &'static str,
    /// What the peer sent and how teep reads it, in one sentence.
    pub reading: &'static str,
}

/// A deviation seen in one received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deviation {
    pub kind: &'static DeviationKind,
    /// Where it was seen, in the numbering that explains it (e.g.
    /// `QueryResponse.options.tc-list`, `COSE_Sign1.unprotected.kid`, `HTTP response`).
    pub at: String,
}

impl Deviation {
    pub fn code(&self) -> &'static str {
        self.kind.code
    }

    /// The rule text of a refusal under [`Tolerance::Strict`], for errors shaped `path: rule`
    /// (the path is [`Deviation::at`]): `strict mode refuses CODE (SECTION): READING`.
    pub fn refusal(&self) -> String {
        alloc::format!(
            "strict mode refuses {} ({}): {}",
            self.kind.code,
            self.kind.section,
            self.kind.reading
        )
    }
}

impl fmt::Display for Deviation {
    /// `teep.tc-list-empty at QueryResponse.options.tc-list (CDDL of draft-ietf-teep-protocol-26
    /// §4.3): …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {} ({}): {}",
            self.kind.code, self.at, self.kind.section, self.kind.reading
        )
    }
}

/// Whether a receiver accepts deviations (recording them) or refuses them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tolerance {
    /// Accept forms whose meaning is unambiguous and record each as a [`Deviation`].
    #[default]
    Tolerant,
    /// Refuse every deviation (`--strict`): conformance testing.
    Strict,
}

impl Tolerance {
    pub fn is_strict(self) -> bool {
        self == Tolerance::Strict
    }
}

/// The deviations of one received message, collected while it is decoded and checked.
///
/// Empty until a deviation is noted, so a conforming message costs no allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deviations {
    tolerance: Tolerance,
    seen: Vec<Deviation>,
}

impl Deviations {
    pub fn new(tolerance: Tolerance) -> Self {
        Deviations {
            tolerance,
            seen: Vec::new(),
        }
    }

    pub fn tolerance(&self) -> Tolerance {
        self.tolerance
    }

    /// Records `kind` seen at `at`. Under [`Tolerance::Strict`] nothing is recorded and the
    /// deviation comes back as the error the caller turns into its refusal; the caller must
    /// then stop and change nothing.
    pub fn note(
        &mut self,
        kind: &'static DeviationKind,
        at: impl Into<String>,
    ) -> Result<(), Deviation> {
        let d = Deviation {
            kind,
            at: at.into(),
        };
        if self.tolerance.is_strict() {
            return Err(d);
        }
        if !self.seen.contains(&d) {
            self.seen.push(d);
        }
        Ok(())
    }

    /// Adds deviations already accepted elsewhere (e.g. by an inner decoder).
    pub fn extend(&mut self, other: Deviations) {
        for d in other.seen {
            if !self.seen.contains(&d) {
                self.seen.push(d);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn iter(&self) -> core::slice::Iter<'_, Deviation> {
        self.seen.iter()
    }

    pub fn as_slice(&self) -> &[Deviation] {
        &self.seen
    }

    pub fn into_vec(self) -> Vec<Deviation> {
        self.seen
    }

    /// The codes seen, in order, each once.
    pub fn codes(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for d in &self.seen {
            if !out.contains(&d.kind.code) {
                out.push(d.kind.code);
            }
        }
        out
    }
}

impl<'a> IntoIterator for &'a Deviations {
    type Item = &'a Deviation;
    type IntoIter = core::slice::Iter<'a, Deviation>;
    fn into_iter(self) -> Self::IntoIter {
        self.seen.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::catalog::{self, TEEP_TC_LIST_EMPTY};
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn tolerant_records_once_strict_refuses() {
        let mut d = Deviations::new(Tolerance::Tolerant);
        assert!(d.is_empty());
        d.note(&TEEP_TC_LIST_EMPTY, "QueryResponse.options.tc-list")
            .unwrap();
        d.note(&TEEP_TC_LIST_EMPTY, "QueryResponse.options.tc-list")
            .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d.codes(), ["teep.tc-list-empty"]);

        let mut s = Deviations::new(Tolerance::Strict);
        let e = s
            .note(&TEEP_TC_LIST_EMPTY, "QueryResponse.options.tc-list")
            .unwrap_err();
        assert!(s.is_empty());
        let text = e.to_string();
        assert!(
            text.starts_with("teep.tc-list-empty at QueryResponse.options.tc-list ("),
            "{text}"
        );
    }

    #[test]
    fn catalog_codes_are_unique_and_well_formed() {
        for (i, k) in catalog::ALL.iter().enumerate() {
            let (area, what) = k.code.split_once('.').expect("area.what");
            assert!(
                ["cose", "teep", "suit", "eat", "http"].contains(&area),
                "{}",
                k.code
            );
            assert!(
                !what.is_empty()
                    && what
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                k.code
            );
            assert!(!k.section.is_empty() && !k.reading.is_empty(), "{}", k.code);
            for other in &catalog::ALL[i + 1..] {
                assert_ne!(k.code, other.code);
            }
        }
        assert_eq!(
            catalog::by_code("teep.tc-list-empty"),
            Some(&TEEP_TC_LIST_EMPTY)
        );
        assert_eq!(catalog::by_code("nope"), None);
    }
}
