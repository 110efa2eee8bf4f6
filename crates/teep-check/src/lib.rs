//! `teep check`: numbered conformance cases, each tied to a section of draft-ietf-teep-protocol-26
//! ("TEEP-26") or draft-ietf-teep-otrp-over-http-15 ("TEEP-HTTP"), run against any TAM over
//! HTTP ([`tam`]: the checker is a simulated TEEP Agent) or any TEEP Agent ([`agent`]: the
//! checker is a scripted TAM). Nothing sent depends on the peer being teep's. Each case ends in
//! a verdict with its evidence (the exchanges, decoded by name), and the report says, per
//! requirement level, what failed.

pub mod agent;
pub mod report;
pub mod tam;

use serde::Serialize;

/// The requirement level of a case (RFC 2119 keywords of the section it checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
    May,
    /// Not a requirement: what a peer's developer will want to know.
    Informative,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Informative => "info",
        }
    }
}

/// One case of the catalog.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Case {
    /// Stable identifier, e.g. `tam.http.empty-post`.
    pub id: &'static str,
    pub section: &'static str,
    pub level: Level,
    /// What is sent.
    pub sends: &'static str,
    /// What the specification expects back.
    pub expects: &'static str,
}

/// A catalog entry, in the order the catalogs write them.
pub(crate) const fn case(
    id: &'static str,
    section: &'static str,
    level: Level,
    sends: &'static str,
    expects: &'static str,
) -> Case {
    Case {
        id,
        section,
        level,
        sends,
        expects,
    }
}

/// How a case ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail {
        why: String,
    },
    /// Departs from the text in a way teep tolerates from peers (a named deviation, see
    /// docs/INTEROP.md) or where the draft contradicts itself: not conformant, not broken.
    Deviation {
        code: String,
        why: String,
    },
    NotApplicable {
        why: String,
    },
}

impl Verdict {
    pub fn fail(why: impl Into<String>) -> Verdict {
        Verdict::Fail { why: why.into() }
    }

    pub fn na(why: impl Into<String>) -> Verdict {
        Verdict::NotApplicable { why: why.into() }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail { .. } => "FAIL",
            Verdict::Deviation { .. } => "deviation",
            Verdict::NotApplicable { .. } => "n/a",
        }
    }

    /// The reason given, if any.
    pub fn why(&self) -> &str {
        match self {
            Verdict::Pass => "",
            Verdict::Fail { why }
            | Verdict::Deviation { why, .. }
            | Verdict::NotApplicable { why } => why,
        }
    }
}

/// One message or HTTP exchange a case saw.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    /// `checker → TAM` or `TAM → checker`.
    pub direction: &'static str,
    /// The HTTP line: `POST /tam (empty body)`, `200 application/teep+cbor, 94 bytes`.
    pub http: String,
    /// The TEEP message on one line, when there is one that decodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The TEEP message named all the way down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<serde_json::Value>,
}

/// A case and how it ended.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    #[serde(flatten)]
    pub case: Case,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub evidence: Vec<Evidence>,
}

/// Every case run against one implementation.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub target: String,
    pub results: Vec<CaseResult>,
}

impl Report {
    /// Whether any MUST case failed (the exit status of `teep check`).
    pub fn must_failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.case.level == Level::Must && matches!(r.verdict, Verdict::Fail { .. }))
    }

    /// The result of the case `id`.
    pub fn get(&self, id: &str) -> Option<&CaseResult> {
        self.results.iter().find(|r| r.case.id == id)
    }
}
