//! A JSON value as nested `<details>`: every object and array is expandable under its name, so
//! a message reads like the outline of its CDDL. Everything from the value is HTML-escaped (a
//! peer's message can carry any text).

use std::fmt::Write;

use serde_json::Value as Json;

/// Escapes text for an HTML element or a double-quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `value` as a tree headed `name`, open to depth `open` (0: closed).
pub fn json_html(name: &str, value: &Json, open: usize) -> String {
    let mut out = String::new();
    node(&mut out, name, value, open, 0);
    out
}

/// The members of an object (the elements of an array) as trees side by side, for a value
/// whose own name is already shown (a message under its summary line).
pub fn members_html(value: &Json, open: usize) -> String {
    let mut out = String::new();
    match value {
        Json::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                node(&mut out, k, v, open, 1);
            }
        }
        Json::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                node(&mut out, &i.to_string(), v, open, 1);
            }
        }
        other => out.push_str(&scalar(other)),
    }
    out
}

/// Arrays and objects nested deeper than this are shown as JSON text: the decoders bound
/// nesting already, and a page must stay finite whatever the value.
const MAX_DEPTH: usize = 64;

fn node(out: &mut String, name: &str, value: &Json, open: usize, depth: usize) {
    let key = escape(name);
    let children: Vec<(String, &Json)> = match value {
        Json::Object(m) if !m.is_empty() => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Json::Array(a) if !a.is_empty() => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => {
            let _ = write!(
                out,
                "<div class=\"leaf\"><span class=\"key\">{key}</span> {}</div>",
                scalar(value)
            );
            return;
        }
    };
    if depth >= MAX_DEPTH {
        let _ = write!(
            out,
            "<div class=\"leaf\"><span class=\"key\">{key}</span> <code>{}</code></div>",
            escape(&value.to_string())
        );
        return;
    }
    let shape = match value {
        Json::Array(_) => format!("[{}]", children.len()),
        _ => format!("{{{}}}", children.len()),
    };
    let _ = write!(
        out,
        "<details class=\"node\" data-name=\"{key}\"{}><summary><span class=\"key\">{key}</span> <span class=\"shape\">{shape}</span></summary><div class=\"children\">",
        if open > 0 { " open" } else { "" }
    );
    for (k, v) in children {
        node(out, &k, v, open.saturating_sub(1), depth + 1);
    }
    out.push_str("</div></details>");
}

/// Strings longer than this (payloads, signatures, hex of whole envelopes) are shown by
/// their start and open to the whole.
const LONG: usize = 160;

fn scalar(v: &Json) -> String {
    match v {
        Json::String(s) if s.len() > LONG => {
            let mut cut = 48;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            format!(
                "<details class=\"long\"><summary><span class=\"str\">{}…</span> <span class=\"shape\">({} characters)</span></summary><span class=\"str\">{}</span></details>",
                escape(&s[..cut]),
                s.len(),
                escape(s)
            )
        }
        Json::String(s) => format!("<span class=\"str\">{}</span>", escape(s)),
        Json::Null => "<span class=\"null\">null</span>".into(),
        Json::Object(_) => "<span class=\"shape\">{}</span>".into(),
        Json::Array(_) => "<span class=\"shape\">[]</span>".into(),
        other => format!("<span class=\"num\">{}</span>", escape(&other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_and_arrays_nest_by_name_and_text_is_escaped() {
        let v =
            json!({"type": "Update", "manifest-list": [{"x": "<script>&'\""}], "n": 3, "z": null});
        let h = json_html("message", &v, 1);
        assert!(h.starts_with("<details class=\"node\" data-name=\"message\" open><summary>"));
        // The nested array is closed, named, and its element is named by index.
        assert!(h.contains(
            "<details class=\"node\" data-name=\"manifest-list\"><summary><span class=\"key\">manifest-list</span> <span class=\"shape\">[1]</span>"
        ));
        assert!(h.contains("data-name=\"0\""));
        assert!(h.contains("&lt;script&gt;&amp;&#39;&quot;"));
        assert!(!h.contains("<script>"));
        assert!(h.contains("<span class=\"key\">n</span> <span class=\"num\">3</span>"));
        assert!(h.contains("<span class=\"null\">null</span>"));
        // Balanced: every details closes.
        assert_eq!(
            h.matches("<details").count(),
            h.matches("</details>").count()
        );
    }

    #[test]
    fn names_are_escaped_too() {
        let v = json!({"<b>": {"\"q\"": 1}});
        let h = json_html("a&b", &v, 9);
        assert!(h.contains("data-name=\"a&amp;b\""));
        assert!(h.contains("data-name=\"&lt;b&gt;\""));
        assert!(h.contains("<span class=\"key\">&quot;q&quot;</span>"));
        assert!(!h.contains("<b>"));
    }

    #[test]
    fn deep_nesting_stops_at_a_bound() {
        let mut v = json!(1);
        for _ in 0..200 {
            v = json!([v]);
        }
        let h = json_html("deep", &v, 0);
        assert_eq!(h.matches("<details").count(), MAX_DEPTH);
    }

    #[test]
    fn members_stand_side_by_side() {
        let h = members_html(
            &json!({"message": {"token": "01"}, "numbering": "draft26"}),
            0,
        );
        assert!(h.starts_with("<details class=\"node\" data-name=\"message\"><summary>"));
        assert!(h.ends_with("<div class=\"leaf\"><span class=\"key\">numbering</span> <span class=\"str\">draft26</span></div>"));
        assert_eq!(
            members_html(&json!("<x>"), 0),
            "<span class=\"str\">&lt;x&gt;</span>"
        );
    }

    #[test]
    fn long_strings_open_to_the_whole() {
        let long = format!("<{}>", "ab".repeat(100));
        let h = json_html("x", &json!({ "hex": long }), 1);
        assert!(h.contains("<details class=\"long\"><summary><span class=\"str\">&lt;abababab"));
        assert!(h.contains("(202 characters)"));
        assert!(h.contains(&format!("&lt;{}&gt;</span></details>", "ab".repeat(100))));
        // Cut at a character boundary.
        let h = json_html("x", &json!("é".repeat(100)), 0);
        assert!(h.contains(&format!("{}…", "é".repeat(24))));
    }

    #[test]
    fn empty_containers_are_leaves() {
        let h = json_html("x", &json!({"a": [], "b": {}}), 1);
        assert_eq!(h.matches("<details").count(), 1);
        assert!(h.contains("<span class=\"key\">a</span> <span class=\"shape\">[]</span>"));
    }
}
