//! The named JSON of what a TEEP message carries inside byte strings: SUIT envelopes (as
//! `teep suit inspect` names them), SUIT reports, EAT claims and Attestation Results, and the
//! COSE headers of every signed item. Nothing here verifies a signature: these are views of
//! what was received.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{json, Map, Value as Json};
use teep_cose::eat::EatClaims;
use teep_cose::{Algorithm, Opened};
use teep_suit::{Limits, SuitReport};

use crate::cbor::Value;
use crate::json::{generic_view, value_to_json, Render};

/// The [`Render`] hooks that name everything they know.
pub struct NamedRender;

impl Render for NamedRender {
    fn suit_envelope(&self, bytes: &[u8]) -> Option<Json> {
        Some(envelope_json(bytes))
    }
    fn suit_report(&self, bytes: &[u8]) -> Option<Json> {
        Some(report_json(bytes))
    }
    fn attestation_payload(&self, format: Option<&str>, bytes: &[u8]) -> Option<Json> {
        (!bytes.is_empty()).then(|| attestation_json(format, bytes))
    }
}

/// Opens a COSE_Encrypt the viewer is the recipient of (-26 §8.2): the plaintext, or why not.
pub type Opener<'a> = &'a dyn Fn(&[u8], teep_cose::encrypt::Purpose) -> Result<Vec<u8>, String>;

/// [`NamedRender`] for the receiver of encrypted EATs and SUIT reports (a TAM showing what
/// Agents sent it): each COSE_Encrypt is shown as received and, under `opened`, what it
/// holds, named as a plain one would be; `not_opened` says why not. Nothing is verified.
pub struct OpeningRender<'a>(pub Opener<'a>);

impl Render for OpeningRender<'_> {
    fn suit_envelope(&self, bytes: &[u8]) -> Option<Json> {
        Some(envelope_json(bytes))
    }
    fn suit_report(&self, bytes: &[u8]) -> Option<Json> {
        let mut j = report_json(bytes);
        if teep_cose::encrypt::is_encrypted(bytes) {
            match (self.0)(bytes, teep_cose::encrypt::Purpose::SuitReport) {
                Ok(plain) => j["opened"] = report_json(&plain),
                Err(why) => j["not_opened"] = why.into(),
            }
        }
        Some(j)
    }
    fn attestation_payload(&self, format: Option<&str>, bytes: &[u8]) -> Option<Json> {
        if bytes.is_empty() {
            return None;
        }
        let mut j = attestation_json(format, bytes);
        if teep_cose::encrypt::is_encrypted(bytes) {
            match (self.0)(bytes, teep_cose::encrypt::Purpose::Eat) {
                Ok(plain) => j["opened"] = attestation_json(format, &plain),
                Err(why) => j["not_opened"] = why.into(),
            }
        }
        Some(j)
    }
}

/// What could not be read by name: the reason, and the generic view so nothing is hidden.
fn unreadable(what: &str, error: impl ToString, bytes: &[u8]) -> Json {
    let mut m = Map::new();
    m.insert(
        "error".into(),
        json!(format!("not a valid {what}: {}", error.to_string())),
    );
    if let Some(g) = generic_view(bytes) {
        m.insert("generic".into(), g);
    }
    Json::Object(m)
}

/// A SUIT envelope named as `teep suit inspect` names it, with the COSE headers of each
/// authentication block (not verified).
pub fn envelope_json(bytes: &[u8]) -> Json {
    match teep_suit::auth::decode_envelope_lenient(bytes.to_vec(), &Limits::default()) {
        Ok((env, digest_ok)) => {
            let signatures: Vec<Json> = env
                .authentication
                .blocks
                .iter()
                .map(|b| match teep_cose::open(b) {
                    Ok(o) => cose_json(&o),
                    Err(e) => json!({ "error": e.to_string() }),
                })
                .collect();
            teep_suit::inspect::envelope_json(
                &env,
                digest_ok.map_err(|e| e.to_string()),
                json!({ "verified": "not checked", "blocks": signatures }),
            )
        }
        Err(e) => unreadable("SUIT_Envelope", e, bytes),
    }
}

/// A COSE_Encrypt to the receiver (-26 §8.2, an encrypted EAT or SUIT report): its content
/// algorithm and recipients; the content stays closed (the view holds no key).
fn encrypted_json(bytes: &[u8]) -> Json {
    match teep_cose::encrypt::open_encrypted(bytes) {
        Ok(e) => json!({
            "cose": "COSE_Encrypt (TEEP-26 §8.2: encrypted to the receiver's key)",
            "content-algorithm": e.content_algorithm().name(),
            "recipients": e
                .recipient_kids()
                .map(|kid| json!({
                    "alg": "ECDH-ES+A128KW (-29)",
                    "kid": kid.map(hex::encode),
                }))
                .collect::<Vec<_>>(),
        }),
        Err(e) => unreadable("COSE_Encrypt", e, bytes),
    }
}

/// A SUIT report: bare (SUIT_Report) or signed (SUIT_Report_Protected, a COSE_Sign1).
pub fn report_json(bytes: &[u8]) -> Json {
    if teep_cose::encrypt::is_encrypted(bytes) {
        return json!({ "encrypted": encrypted_json(bytes) });
    }
    if crate::view::looks_like_cose(bytes) {
        return match teep_cose::open(bytes) {
            Ok(o) => {
                let payload = o.payload.as_deref().unwrap_or_default();
                json!({ "cose": cose_json(&o), "report": report_json(payload) })
            }
            Err(e) => unreadable("SUIT_Report_Protected", e, bytes),
        };
    }
    match SuitReport::decode(bytes) {
        Ok(r) => r.to_json(),
        Err(e) => unreadable("SUIT_Report", e, bytes),
    }
}

/// An attestation payload: a signed EAT (Evidence, or an Attestation Result, which is an
/// EAT signed by a Verifier) with its COSE headers and claims by name, or a bare claims set.
/// `format` is the attestation-payload-format the message gave, shown as the kind.
pub fn attestation_json(format: Option<&str>, bytes: &[u8]) -> Json {
    let kind = json!(format.unwrap_or("application/eat+cwt (default)"));
    if teep_cose::encrypt::is_encrypted(bytes) {
        return json!({ "format": kind, "encrypted": encrypted_json(bytes) });
    }
    if crate::view::looks_like_cose(bytes) {
        return match teep_cose::open(bytes) {
            Ok(o) => {
                let payload = o.payload.as_deref().unwrap_or_default();
                json!({ "format": kind, "cose": cose_json(&o), "claims": claims_json(payload) })
            }
            Err(e) => unreadable("COSE-signed EAT", e, bytes),
        };
    }
    json!({ "format": kind, "claims": claims_json(bytes) })
}

/// Claims by their registered names: the EAT profile's claims through teep-cose's model;
/// a claims set that model refuses is still named key by key.
fn claims_json(bytes: &[u8]) -> Json {
    match EatClaims::decode(bytes) {
        Ok(c) => c.to_json(),
        Err(e) => match Value::from_slice(bytes) {
            Ok(Value::Map(entries)) => {
                let mut m = Map::new();
                m.insert("error".into(), json!(e.to_string()));
                for (k, v) in &entries {
                    let key = match k {
                        Value::Integer(n) => i64::try_from(*n)
                            .ok()
                            .and_then(teep_cose::eat::claim_name)
                            .map_or_else(|| n.to_string(), Into::into),
                        Value::Text(t) => t.clone(),
                        other => crate::diag::value_to_diag(other),
                    };
                    m.insert(key, value_to_json(v));
                }
                Json::Object(m)
            }
            _ => unreadable("EAT claims set", e, bytes),
        },
    }
}

/// `ESP256 (-9)`: an algorithm by name and number.
pub fn alg_text(alg: Algorithm) -> String {
    format!("{} ({})", alg.name(), alg.to_cose())
}

/// The COSE wrapper: kind, each signature's algorithm and kid, and every header parameter
/// by name in the bucket (protected or unprotected) it came from.
pub fn cose_json(o: &Opened) -> Json {
    let mut buckets = Map::new();
    for p in o.header_parameters() {
        let bucket = format!(
            "{} {}",
            p.at,
            if p.protected {
                "protected"
            } else {
                "unprotected"
            }
        );
        let value = Value::from_slice(&p.value).ok();
        let shown = match (p.name, &value) {
            (Some("alg"), Some(Value::Integer(n))) => {
                json!(alg_text(Algorithm::from_cose(*n as i64)))
            }
            (_, Some(Value::Bytes(b))) => json!(hex::encode(b)),
            (_, Some(v)) => value_to_json(v),
            (_, None) => json!(hex::encode(&p.value)),
        };
        let label = match p.name {
            Some(n) => format!("{n} ({})", p.label),
            None => p.label.clone(),
        };
        if let Json::Object(m) = buckets
            .entry(bucket)
            .or_insert_with(|| Json::Object(Map::new()))
        {
            m.insert(label, shown);
        }
    }
    json!({
        "kind": o.kind.name(),
        "tagged": o.tagged,
        "signatures": o.signatures.iter().map(|s| json!({
            "alg": s.alg.name(),
            "alg-id": s.alg.to_cose(),
            "kid": s.kid.as_ref().map(hex::encode),
            "kid_protected": s.kid_protected,
        })).collect::<Vec<_>>(),
        "parameters": Json::Object(buckets),
        "headers": o.header_parameters().iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use teep_cose::encrypt::{encrypt, ContentAlgorithm, Purpose};

    /// -26 §8.2: the receiver's view opens what was encrypted to it and names what is inside
    /// (here a SUIT report), keeping the envelope; what it cannot open says why.
    #[test]
    fn opening_render_shows_what_was_encrypted_to_the_viewer() {
        let key = teep_cose::PrivateKey::from_p256_scalar(&[5; 32]).unwrap();
        let report = [0xa1, 0x04, 0xf5]; // {4: true}: result true
        let sealed = encrypt(
            &report,
            &key.public_key(),
            ContentAlgorithm::A128Gcm,
            Purpose::SuitReport,
            &[0x21; teep_cose::encrypt::RANDOM_LEN],
        )
        .unwrap();
        let open = |b: &[u8], p: Purpose| {
            teep_cose::encrypt::open_encrypted(b)
                .and_then(|e| e.decrypt(&key, p))
                .map_err(|e| e.to_string())
        };
        let j = OpeningRender(&open).suit_report(&sealed).unwrap();
        assert_eq!(j["encrypted"]["content-algorithm"], "A128GCM");
        assert_eq!(j["opened"], report_json(&report));
        let wrong = |_: &[u8], _: Purpose| Err::<Vec<u8>, _>("not for this TAM".to_string());
        let j = OpeningRender(&wrong)
            .attestation_payload(None, &sealed)
            .unwrap();
        assert_eq!(j["not_opened"], "not for this TAM");
        assert!(j.get("opened").is_none());
    }

    /// -26 §8.2: an encrypted EAT or SUIT report is shown as what it is (algorithm, recipient
    /// kid), not as a claims set that fails to decode.
    #[test]
    fn encrypted_eat_and_report_are_named() {
        let to = teep_cose::PrivateKey::from_p256_scalar(&[5; 32])
            .unwrap()
            .public_key();
        let sealed = encrypt(
            b"x",
            &to,
            ContentAlgorithm::A128Ctr,
            Purpose::Eat,
            &[0x21; teep_cose::encrypt::RANDOM_LEN],
        )
        .unwrap();
        let v = attestation_json(None, &sealed);
        assert_eq!(v["encrypted"]["content-algorithm"], "A128CTR");
        assert_eq!(
            v["encrypted"]["recipients"][0]["kid"],
            hex::encode(to.thumbprint())
        );
        assert_eq!(
            report_json(&sealed)["encrypted"]["content-algorithm"],
            "A128CTR"
        );
        let broken = [0xd8, 0x60, 0x80];
        assert!(report_json(&broken)["encrypted"]["error"]
            .as_str()
            .unwrap()
            .starts_with("not a valid COSE_Encrypt"));
    }
}
