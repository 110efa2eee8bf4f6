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

/// The TAM catalog as a Markdown table (docs/CHECK.md is generated from it).
pub fn catalog_markdown() -> String {
    markdown(crate::tam::CATALOG)
}

/// The agent catalog as a Markdown table (docs/CHECK.md is generated from it).
pub fn agent_catalog_markdown() -> String {
    markdown(crate::agent::CATALOG)
}

fn markdown(cases: &[crate::Case]) -> String {
    let mut out =
        String::from("| id | level | section | sends | expects |\n|---|---|---|---|---|\n");
    for c in cases {
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

/// XML text with `&`, `<`, `>` and quotes escaped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML for CI systems: one testcase per case; a failed case is a `<failure>`, one not
/// applicable `<skipped>`, a deviation passes with its note in `<system-out>`.
pub fn junit(report: &Report) -> String {
    let failures = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail { .. }))
        .count();
    let skipped = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::NotApplicable { .. }))
        .count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"teep check {}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
        esc(&report.target),
        report.results.len()
    );
    for r in &report.results {
        let _ = write!(
            out,
            "  <testcase classname=\"{}\" name=\"{} ({})\">",
            esc(r.case.level.as_str()),
            esc(r.case.id),
            esc(r.case.section)
        );
        match &r.verdict {
            Verdict::Pass => {}
            Verdict::Fail { why } => {
                let _ = write!(out, "<failure message=\"{}\"/>", esc(why));
            }
            Verdict::NotApplicable { why } => {
                let _ = write!(out, "<skipped message=\"{}\"/>", esc(why));
            }
            Verdict::Deviation { code, why } => {
                let _ = write!(
                    out,
                    "<system-out>deviation {}: {}</system-out>",
                    esc(code),
                    esc(why)
                );
            }
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

/// A self-contained HTML page (no external assets): the summary, then each case, which opens
/// to its exchanges and their messages named all the way down.
pub fn html(report: &Report) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>teep check {}</title>\n<style>body{{font-family:sans-serif;margin:2em}}summary{{cursor:pointer}}.pass{{color:#1a7f37}}.FAIL{{color:#cf222e;font-weight:bold}}.deviation{{color:#9a6700}}.na{{color:#57606a}}pre{{background:#f6f8fa;padding:.5em;overflow:auto}}code{{font-size:90%}}</style></head><body>\n<h1>teep check</h1><p><code>{}</code></p><p>{}</p>\n",
        esc(&report.target),
        esc(&report.target),
        esc(&summary(report))
    );
    for r in &report.results {
        let class = match r.verdict {
            Verdict::NotApplicable { .. } => "na",
            _ => r.verdict.name(),
        };
        let _ = write!(
            out,
            "<details><summary><span class=\"{class}\">{}</span> {} <code>{}</code> {}</summary>\n<p>Sends: {}<br>Expects: {}</p>\n",
            esc(r.verdict.name()),
            esc(r.case.level.as_str()),
            esc(r.case.id),
            esc(r.case.section),
            esc(r.case.sends),
            esc(r.case.expects)
        );
        if !r.verdict.why().is_empty() {
            let _ = writeln!(out, "<p>{}</p>", esc(r.verdict.why()));
        }
        for e in &r.evidence {
            let _ = writeln!(out, "<p>{} {}</p>", esc(e.direction), esc(&e.http));
            if let Some(s) = &e.summary {
                let _ = writeln!(out, "<p><code>{}</code></p>", esc(s));
            }
            if let Some(m) = &e.message {
                let text = serde_json::to_string_pretty(m).unwrap_or_default();
                let _ = writeln!(out, "<pre>{}</pre>", esc(&text));
            }
        }
        out.push_str("</details>\n");
    }
    out.push_str("</body></html>\n");
    out
}
