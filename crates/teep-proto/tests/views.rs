//! The human views (`teep_proto::view`) name every label the specs name, all the way down:
//! on every example of draft-ietf-teep-protocol-26 (both numberings) and on every message
//! captured from peers (`../shared/interop/captured/`). A numeric key, or a generic
//! `{"map": …}` where a structure has names, fails the walk with its path.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use teep_proto::deviation::Tolerance;
use teep_proto::diag::from_hex_text;
use teep_proto::view::{view_message, MessageView};
use teep_proto::Numbering;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

fn spec_examples() -> Vec<(PathBuf, Numbering)> {
    let mut out = Vec::new();
    for (dir, n) in [
        ("teep-26-renumbered", Numbering::Draft26),
        ("teep-legacy-numbering", Numbering::Legacy),
    ] {
        let dir = Path::new(SHARED).join("spec/teep-protocol").join(dir);
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "hex") {
                out.push((p, n));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 10, "five examples in each numbering");
    out
}

fn captured() -> Vec<PathBuf> {
    let dir = Path::new(SHARED).join("interop/captured");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cbor"))
        .collect();
    out.sort();
    assert!(out.len() >= 14, "{} captured messages", out.len());
    out
}

/// Numeric keys the specs give no name: legacy label 5 was selected-teep-cipher-suite until
/// the drafts removed it in November 2023 (libteep still sends it; a named deviation says so).
const NO_NAME: &[&str] = &[".message.options.5"];

/// Every place the view left a label unnamed.
fn unnamed(j: &Json, path: &str, out: &mut Vec<String>) {
    match j {
        Json::Object(m) => {
            for (k, v) in m {
                let p = format!("{path}.{k}");
                if k.parse::<i64>().is_ok() && !NO_NAME.contains(&p.as_str()) {
                    out.push(format!("{p}: numeric key"));
                }
                if k == "map" {
                    out.push(format!("{p}: generic map"));
                }
                unnamed(v, &p, out);
            }
        }
        Json::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                unnamed(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn assert_named(v: &MessageView, what: &str) {
    let doc = v.json();
    let mut out = Vec::new();
    unnamed(&doc, "", &mut out);
    assert!(
        out.is_empty(),
        "{what}: unnamed labels:\n{}\n{}",
        out.join("\n"),
        serde_json::to_string_pretty(&doc).unwrap()
    );
}

#[test]
fn every_spec_example_is_named_all_the_way_down() {
    for (path, n) in spec_examples() {
        let bytes = from_hex_text(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let v = view_message(&bytes, Some(n), Tolerance::Tolerant)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_named(&v, &path.display().to_string());
    }
}

#[test]
fn every_captured_peer_message_is_named_all_the_way_down() {
    for path in captured() {
        let bytes = std::fs::read(&path).unwrap();
        // Auto first; a message auto reads wrongly (a legacy one read as draft-26) is still
        // viewed in the numbering that reads it.
        let views: Vec<MessageView> = [None, Some(Numbering::Legacy), Some(Numbering::Draft26)]
            .into_iter()
            .filter_map(|n| view_message(&bytes, n, Tolerance::Tolerant).ok())
            .collect();
        assert!(
            !views.is_empty(),
            "{}: no numbering reads it",
            path.display()
        );
        for v in &views {
            assert_named(v, &path.display().to_string());
        }
    }
}

fn example(dir: &str, name: &str, n: Numbering) -> MessageView {
    let path = Path::new(SHARED)
        .join("spec/teep-protocol")
        .join(dir)
        .join(name);
    let bytes = from_hex_text(&std::fs::read_to_string(path).unwrap()).unwrap();
    view_message(&bytes, Some(n), Tolerance::Tolerant).unwrap()
}

/// Appendix D.3 (Update): the SUIT envelope by the names `teep suit inspect` uses, the
/// component id as text segments, the command sequences by command name.
#[test]
fn update_shows_its_manifest_by_name() {
    let v = example("teep-26-renumbered", "update.hex", Numbering::Draft26);
    let doc = v.json();
    let env = &doc["message"]["options"]["manifest-list"][0]["decoded"];
    let manifest = &env["manifest"];
    assert_eq!(manifest["manifest-version"], 1, "{doc:#}");
    let components = manifest["common"]["components"].to_string();
    assert!(components.contains("TEEP-Device"), "{components}");
    let text = doc.to_string();
    assert!(text.contains("\"directive-override-parameters\""), "{text}");
    assert!(text.contains("\"condition-vendor-identifier\""), "{text}");
    // Only the bstr's own "hex" field (the bytes as received) may spell the id in hex.
    let mut readable = env.clone();
    readable
        .as_object_mut()
        .unwrap()
        .remove("authentication-wrapper");
    assert!(
        !readable.to_string().contains("544545502d446576696365"),
        "TEEP-Device shown as hex: {readable}"
    );

    let summary = v.summary();
    assert!(summary.starts_with("Update token="), "{summary}");
    assert!(
        summary.contains("manifest-list=[['TEEP-Device'"),
        "{summary}"
    );

    let diag = v.diag();
    assert!(diag.contains("/ manifest-list / "), "{diag}");
    assert!(
        diag.contains("/ authentication-wrapper / 2: << ["),
        "{diag}"
    );
    assert!(diag.contains("/ manifest-sequence-number / 2: "), "{diag}");
    assert!(diag.contains("'TEEP-Device'"), "{diag}");
}

/// Appendix D.2 (QueryResponse): the Evidence's claims by their registered names.
#[test]
fn query_response_shows_evidence_claims_by_name() {
    for (dir, n) in [
        ("teep-26-renumbered", Numbering::Draft26),
        ("teep-legacy-numbering", Numbering::Legacy),
    ] {
        let v = example(dir, "query_response.hex", n);
        let doc = v.json();
        let text = doc.to_string();
        // The example's attestation-payload is an empty placeholder: nothing to decode.
        let payload = &doc["message"]["options"]["attestation-payload"];
        if payload["hex"] != "" {
            assert!(text.contains("\"eat_nonce\""), "{doc:#}");
        }
        let diag = v.diag();
        assert!(
            diag.contains("/ token / ") || diag.contains("/ tc-list / "),
            "{diag}"
        );
        assert!(v.summary().starts_with("QueryResponse"), "{}", v.summary());
    }
}

/// A captured signed message: COSE headers by name with their bucket, alg by name and
/// number, the EAT claims and its cnf key as a JWK with its thumbprint.
#[test]
fn captured_evidence_is_named_with_its_cose_headers() {
    let bytes = std::fs::read(
        Path::new(SHARED)
            .join("interop/captured/teep_03_query_response_draft26_labels_to_legacy_tam.cbor"),
    )
    .unwrap();
    let v = view_message(&bytes, None, Tolerance::Tolerant).unwrap();
    let doc = v.json();
    assert_eq!(
        doc["cose"]["parameters"]["COSE_Sign1 protected"]["alg (1)"], "ESP256 (-9)",
        "{doc:#}"
    );
    let evidence = &doc["message"]["options"]["attestation-payload"]["decoded"];
    assert_eq!(
        evidence["cose"]["parameters"]["COSE_Sign1 protected"]["alg (1)"], "ESP256 (-9)",
        "{evidence:#}"
    );
    let claims = &evidence["claims"];
    for name in [
        "eat_nonce",
        "ueid",
        "oemid",
        "hwmodel",
        "eat_profile",
        "manifests",
    ] {
        assert!(!claims[name].is_null(), "{name} missing: {claims:#}");
    }
    assert!(claims["cnf"]["COSE_Key"]["kty"].is_string(), "{claims:#}");
    assert_eq!(claims["cnf"]["thumbprint"].as_str().unwrap().len(), 64);
    let summary = v.summary();
    assert!(
        summary.contains("evidence=EAT(ESP256 kid 59d06690…)"),
        "{summary}"
    );
    assert!(
        summary.ends_with("signed ESP256 kid 59d06690…"),
        "{summary}"
    );
    let diag = v.diag();
    assert!(diag.contains("/ alg / 1: -9 / ESP256 /"), "{diag}");
    assert!(diag.contains("/ eat_nonce / 10: "), "{diag}");
    assert!(diag.contains("/ hwmodel / 259: "), "{diag}");
}

/// The JSON view's component ids read back: `teep msg encode` takes what `decode` prints.
#[test]
fn named_view_reads_back() {
    for (path, n) in spec_examples() {
        let bytes = from_hex_text(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let v = view_message(&bytes, Some(n), Tolerance::Tolerant).unwrap();
        let back = teep_proto::json::from_json_in(&v.json()["message"], n)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&back, v.message(), "{}", path.display());
    }
}

/// The annotated notation is still diagnostic notation: it parses back (comments, `<< >>`
/// and `'text'` included) to the example's data items (map entries come in deterministic
/// order, so the comparison is of values, not bytes).
#[test]
fn annotated_diag_parses_back_to_the_bytes() {
    let examples = spec_examples().into_iter().map(|(path, n)| {
        let bytes = from_hex_text(&std::fs::read_to_string(&path).unwrap()).unwrap();
        (path, bytes, n)
    });
    let captures = captured().into_iter().map(|path| {
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes, Numbering::Legacy)
    });
    for (path, bytes, n) in examples.chain(captures) {
        let text = teep_proto::view::annotate_message(&bytes, n).unwrap();
        let back = teep_proto::diag::from_diag(&text)
            .unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
        // A re-encoded `<< >>` changes the bytes of the bstr around it when the sender's
        // map order was not deterministic; the peers' signed messages only have to parse.
        if path.extension().is_some_and(|x| x == "cbor") {
            continue;
        }
        assert_eq!(
            teep_proto::Value::from_slice(&back).unwrap(),
            teep_proto::Value::from_slice(&bytes).unwrap(),
            "{}\n{text}",
            path.display()
        );
    }
}
