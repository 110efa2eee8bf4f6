//! What `teep agent status` and `teep agent tam list` show.

use serde_json::{json, Value};
use teep_agent::state::AgentState;
use teep_agent::TcId;
use teep_tee::{Tee, TrustAnchorKind};

/// The device as JSON: identity, its TEEP public key (PEM and JWK: a TAM needs it to register
/// the device), the payload-decryption key, trust anchors, components, requests and TAMs.
pub fn status_json(tee: &dyn Tee, state: &AgentState) -> anyhow::Result<Value> {
    let id = tee.identity();
    let signer = tee.teep_signer();
    let teep_public = signer.public_key();
    let anchors = |k| -> anyhow::Result<Vec<String>> {
        Ok(tee
            .trust_anchors(k)?
            .iter()
            .map(|p| hex::encode(p.thumbprint()))
            .collect())
    };
    let components: Vec<_> = tee
        .list_components()?
        .into_iter()
        .map(|c| json!({ "id": TcId(c.id).to_string(), "size": c.size, "sha256": hex::encode(c.digest) }))
        .collect();
    let manifests: Vec<_> = tee
        .list_manifests()?
        .into_iter()
        .map(|m| json!({ "id": TcId(m.manifest_component_id).to_string(), "sequence": m.sequence_number }))
        .collect();
    // The key TC signers encrypt personalization data to (`teep suit create --encrypt-to`).
    let payload_key = match tee.payload_encryption_key() {
        Some(pk) => {
            json!({ "alg": "ECDH-ES+A128KW", "thumbprint": hex::encode(pk.thumbprint()), "pem": pk.to_spki_pem() })
        }
        None => Value::Null,
    };
    Ok(json!({
        "ueid": hex::encode(&id.ueid),
        "hwmodel": String::from_utf8_lossy(&id.hwmodel),
        "hwversion": id.hwversion,
        "teep_key": {
            "alg": signer.algorithm().name(),
            "kid": hex::encode(signer.kid()),
            "pem": teep_public.to_spki_pem(),
            "jwk": teep_public.to_jwk(),
        },
        "payload_key": payload_key,
        "trust_anchors": { "tam": anchors(TrustAnchorKind::Tam)?, "tc_signer": anchors(TrustAnchorKind::TcSigner)? },
        "require_tam_attestation": state.require_tam_attestation,
        "tam_verifier_keys": tam_verifier_kids(state),
        "installed": components,
        "manifests": manifests,
        "requested": state.requested.keys().map(|t| t.to_string()).collect::<Vec<_>>(),
        "unneeded": state.unrequested.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "tams": state.all_tam_uris(),
    }))
}

/// Kids of the trusted TAM Verifier keys (a key that does not parse shows as such).
fn tam_verifier_kids(state: &AgentState) -> Vec<String> {
    state
        .tam_verifier_keys
        .iter()
        .map(
            |k| match teep_cose::PublicKey::from_bytes_any(k.as_bytes()) {
                Ok(p) => hex::encode(p.thumbprint()),
                Err(e) => format!("(unreadable: {e})"),
            },
        )
        .collect()
}

fn list(k: &Value) -> String {
    let items: Vec<&str> = k
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap_or("")).collect())
        .unwrap_or_default();
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

fn text<'v>(v: &'v Value, path: &[&str]) -> &'v str {
    path.iter().fold(v, |v, k| &v[k]).as_str().unwrap_or("")
}

pub fn print_status(v: &Value) {
    println!("ueid:        {}", text(v, &["ueid"]));
    println!(
        "hwmodel:     {}  hwversion: {}",
        text(v, &["hwmodel"]),
        text(v, &["hwversion"])
    );
    println!(
        "TEEP key:    {} kid {}",
        text(v, &["teep_key", "alg"]),
        text(v, &["teep_key", "kid"])
    );
    println!("{}", text(v, &["teep_key", "pem"]).trim_end());
    println!(
        "TEEP key (JWK): {}",
        serde_json::to_string(&v["teep_key"]["jwk"]).unwrap_or_default()
    );
    if let Some(pem) = v["payload_key"]["pem"].as_str() {
        println!(
            "payload key: {} thumbprint {}\n{}",
            text(v, &["payload_key", "alg"]),
            text(v, &["payload_key", "thumbprint"]),
            pem.trim_end()
        );
    }
    println!(
        "TAM trust anchors (kid):       {}",
        list(&v["trust_anchors"]["tam"])
    );
    println!(
        "TC Signer trust anchors (kid): {}",
        list(&v["trust_anchors"]["tc_signer"])
    );
    if v["require_tam_attestation"].as_bool() == Some(true) {
        println!(
            "TAM attestation required; TAM Verifier keys (kid): {}",
            list(&v["tam_verifier_keys"])
        );
    }
    println!("TAMs:        {}", list(&v["tams"]));
    println!("installed:");
    for c in v["installed"].as_array().into_iter().flatten() {
        println!(
            "  {}  {} bytes  sha256 {}",
            text(c, &["id"]),
            c["size"],
            text(c, &["sha256"])
        );
    }
    println!("manifests:");
    for m in v["manifests"].as_array().into_iter().flatten() {
        println!("  {}  sequence {}", text(m, &["id"]), m["sequence"]);
    }
    println!("requested:   {}", list(&v["requested"]));
    println!("unneeded:    {}", list(&v["unneeded"]));
}

/// Every TAM the agent contacts, with what it learnt of each: the numbering it reads the TAM's
/// messages in (and whether that was learnt or is a guess), the algorithm id and kid placement
/// it answers with, and whether the empty POST needs a Content-Type.
pub fn tams_json(state: &AgentState) -> Value {
    let tams: Vec<Value> = state
        .all_tam_uris()
        .into_iter()
        .map(|uri| {
            let profile = state.tam_profiles.get(&uri).map(|p| {
                json!({
                    "numbering": p.numbering,
                    "numbering_learned": p.numbering_learned,
                    "algorithm": p.algorithm,
                    "kid_placement": if p.kid_unprotected { "unprotected" } else { "protected" },
                    "tam_kid": p.kid,
                })
            });
            let http = state.tam_http.get(&uri);
            json!({
                "uri": uri,
                "remembered": state.tam_uris.contains(&uri),
                "learnt": profile,
                "empty_post_content_type": http.is_some_and(|h| h.empty_post_content_type),
            })
        })
        .collect();
    json!(tams)
}

pub fn print_tams(v: &Value) {
    let tams = v.as_array().cloned().unwrap_or_default();
    if tams.is_empty() {
        println!("(no TAM known)");
    }
    for t in tams {
        let source = if t["remembered"].as_bool().unwrap_or(false) {
            ""
        } else {
            " (hint of a request)"
        };
        println!("{}{source}", text(&t, &["uri"]));
        let l = &t["learnt"];
        if l.is_null() {
            println!("  not contacted yet");
        } else {
            let how = if l["numbering_learned"].as_bool().unwrap_or(false) {
                "learnt"
            } else {
                "guessed: its messages so far were valid in both"
            };
            println!("  numbering:  {} ({how})", text(l, &["numbering"]));
            println!(
                "  answered with algorithm {}, kid {}",
                l["algorithm"],
                text(l, &["kid_placement"])
            );
            println!("  TAM key:    {}", text(l, &["tam_kid"]));
        }
        if t["empty_post_content_type"].as_bool().unwrap_or(false) {
            println!("  empty POST sent with Content-Type (the TAM answered 415 without it)");
        }
    }
}
