//! The report for a person (a table and a summary line) and for a program (JSON).

use std::fmt::Write as _;

use crate::{Level, Report, Verdict};

/// The terminal table: one line per case (verdict, level, id, section), the reason under a
/// case that did not pass, and the summary line.
pub fn table(report: &Report, verbose: bool) -> String {
    let mut out = format!("teep check: {}\n\n", report.target);
    for r in &report.results {
        let _ = writeln!(
            out,
            "{:<9} {:<6} {:<50} {}",
            r.verdict.name(),
            r.case.level.as_str(),
            r.case.id,
            r.case.section
        );
        let why = r.verdict.why();
        if !why.is_empty() {
            let _ = writeln!(out, "          {why}");
        }
        if verbose || matches!(r.verdict, Verdict::Fail { .. }) {
            for e in &r.evidence {
                let _ = writeln!(out, "          {:<14} {}", e.direction, e.http);
                if let Some(s) = &e.summary {
                    let _ = writeln!(out, "          {:<14} {s}", "");
                }
            }
        }
    }
    out.push('\n');
    out.push_str(&summary(report));
    out.push('\n');
    out
}

/// `18 cases: 15 pass, 1 FAIL (MUST: 1), 1 deviation, 1 n/a`.
pub fn summary(report: &Report) -> String {
    let count =
        |f: &dyn Fn(&Verdict) -> bool| report.results.iter().filter(|r| f(&r.verdict)).count();
    let must_failed = report
        .results
        .iter()
        .filter(|r| r.case.level == Level::Must && matches!(r.verdict, Verdict::Fail { .. }))
        .count();
    format!(
        "{} cases: {} pass, {} FAIL (MUST: {must_failed}), {} deviation, {} n/a",
        report.results.len(),
        count(&|v| *v == Verdict::Pass),
        count(&|v| matches!(v, Verdict::Fail { .. })),
        count(&|v| matches!(v, Verdict::Deviation { .. })),
        count(&|v| matches!(v, Verdict::NotApplicable { .. })),
    )
}

/// The whole report as JSON: target, summary, and each case with its verdict and evidence.
pub fn json(report: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(report).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("summary".into(), summary(report).into());
        o.insert("must_failed".into(), report.must_failed().into());
    }
    v
}

/// The catalog as a Markdown table (docs/CHECK.md is generated from it).
pub fn catalog_markdown() -> String {
    let mut out =
        String::from("| id | level | section | sends | expects |\n|---|---|---|---|---|\n");
    for c in crate::tam::CATALOG {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            c.id,
            c.level.as_str(),
            c.section,
            c.sends,
            c.expects
        );
    }
    out
}
