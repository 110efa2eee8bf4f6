//! The message inspector (`/ui/inspect`): paste hex or upload a file, get the message named
//! (`teep_proto::view`), its COSE header parameters, the deviations accepted, the annotated
//! diagnostic notation, and whether a given public key verifies it. Bad input is reported on
//! the page; nothing is stored.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::tree::json_html;
use super::{logged_in_or_redirect, page};
use crate::state::AppState;
use teep_proto::deviation::Tolerance;
use teep_proto::Numbering;

#[derive(Template, Default)]
#[template(path = "inspect.html")]
pub struct InspectPage {
    pub flash: String,
    /// The form as submitted, shown again.
    pub hex: String,
    pub key: String,
    pub numbering: String,
    /// Why the input could not be shown (empty when it could).
    pub error: String,
    pub shown: bool,
    pub size: usize,
    pub summary: String,
    pub tree: String,
    pub headers: Vec<String>,
    pub deviations: Vec<String>,
    pub diag: String,
    /// Empty when no key was given.
    pub verdict: String,
    pub verified: bool,
}

pub async fn form(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(r) = logged_in_or_redirect(&st, &headers) {
        return r;
    }
    page(InspectPage::default().render())
}

/// What was submitted.
#[derive(Default)]
pub struct Submitted {
    pub hex: String,
    pub file: Option<Vec<u8>>,
    pub key: String,
    pub numbering: String,
}

pub async fn submit(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if let Some(r) = logged_in_or_redirect(&st, &headers) {
        return r;
    }
    let mut sub = Submitted::default();
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                match field.bytes().await {
                    Ok(b) => match name.as_str() {
                        "hex" => sub.hex = String::from_utf8_lossy(&b).into_owned(),
                        "file" if !b.is_empty() => sub.file = Some(b.to_vec()),
                        "key" => sub.key = String::from_utf8_lossy(&b).into_owned(),
                        "numbering" => sub.numbering = String::from_utf8_lossy(&b).into_owned(),
                        _ => {}
                    },
                    Err(e) => return page(failed(&sub, format!("the form did not read: {e}"))),
                }
            }
            Ok(None) => break,
            Err(e) => return page(failed(&sub, format!("the form did not read: {e}"))),
        }
    }
    page(
        inspect(&sub, st.config.body_limit, &|b, p| {
            st.core.open_for_view(b, p)
        })
        .render(),
    )
}

fn failed(sub: &Submitted, error: String) -> Result<String, askama::Error> {
    InspectPage {
        hex: sub.hex.clone(),
        key: sub.key.clone(),
        numbering: sub.numbering.clone(),
        error,
        ..Default::default()
    }
    .render()
}

/// The page for a submission; `limit` bounds the message size (the TAM's body limit: no
/// message it would accept is larger).
pub fn inspect(sub: &Submitted, limit: usize, opener: teep_proto::view::Opener<'_>) -> InspectPage {
    let mut p = InspectPage {
        hex: sub.hex.clone(),
        key: sub.key.clone(),
        numbering: sub.numbering.clone(),
        ..Default::default()
    };
    let bytes = match &sub.file {
        Some(f) => f.clone(),
        None if sub.hex.trim().is_empty() => {
            p.error = "Nothing to inspect: paste hex or choose a file.".into();
            return p;
        }
        None => match teep_proto::diag::from_hex_text(&sub.hex) {
            Ok(b) => b,
            Err(e) => {
                p.error = format!("hex: {e}");
                return p;
            }
        },
    };
    if bytes.len() > limit {
        p.error = format!(
            "{} bytes, limit {limit} (the TAM's body limit)",
            bytes.len()
        );
        return p;
    }
    p.size = bytes.len();
    let numbering = match sub.numbering.as_str() {
        "" | "auto" => None,
        n => match n.parse::<Numbering>() {
            Ok(n) => Some(n),
            Err(e) => {
                p.error = format!("numbering: {e}");
                return p;
            }
        },
    };
    let view = match teep_proto::view::view_message(&bytes, numbering, Tolerance::Tolerant) {
        Ok(v) => v,
        Err(e) => {
            p.error = format!("not a TEEP message: {e}");
            p.diag = teep_proto::diag::to_diag(&bytes).unwrap_or_default();
            return p;
        }
    };
    p.shown = true;
    p.summary = view.summary();
    // What an Agent encrypted to this TAM (-26 §8.2) is shown opened too.
    let json = view.json_with(&teep_proto::view::OpeningRender(opener));
    p.tree = json_html(view.message().type_name(), &json, 2);
    p.deviations = view
        .decoded
        .deviations
        .iter()
        .map(|d| d.to_string())
        .collect();
    p.diag = view.diag();
    if let Some(o) = &view.opened {
        p.headers = o
            .header_parameters()
            .iter()
            .map(|h| h.to_string())
            .collect();
    }
    if !sub.key.trim().is_empty() {
        match (
            teep_cose::PublicKey::from_bytes_any(sub.key.trim().as_bytes()),
            &view.opened,
        ) {
            (Err(e), _) => p.verdict = format!("The key does not read: {e}"),
            (Ok(_), None) => p.verdict = "Not signed: a bare message has no signature.".into(),
            (Ok(k), Some(o)) => match o.verify(&k) {
                Ok(sig) => {
                    p.verified = true;
                    p.verdict = format!(
                        "Verifies: the {} signature{} checks with this key.",
                        sig.alg,
                        sig.kid
                            .as_ref()
                            .map(|k| format!(" (kid {})", hex::encode(k)))
                            .unwrap_or_default()
                    );
                }
                Err(e) => p.verdict = format!("Does not verify with this key: {e}"),
            },
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_KEY: teep_proto::view::Opener<'static> = &|_, _| Err("no key".into());

    fn sub(hex: &str) -> Submitted {
        Submitted {
            hex: hex.into(),
            ..Default::default()
        }
    }

    #[test]
    fn bad_input_is_a_message_on_the_page() {
        assert!(inspect(&sub(""), 100, NO_KEY)
            .error
            .starts_with("Nothing to inspect"));
        assert!(inspect(&sub("zz"), 100, NO_KEY).error.starts_with("hex:"));
        assert!(inspect(&sub("00 11 22"), 2, NO_KEY)
            .error
            .contains("limit 2"));
        let p = inspect(&sub("# a comment\n a1 00"), 100, NO_KEY);
        assert!(p.error.starts_with("not a TEEP message"), "{}", p.error);
        assert!(!p.shown);
        let p = inspect(
            &Submitted {
                numbering: "draft99".into(),
                ..sub("00")
            },
            100,
            NO_KEY,
        );
        assert!(p.error.starts_with("numbering:"), "{}", p.error);
    }

    #[test]
    fn a_captured_message_is_named_and_a_wrong_key_does_not_verify() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/interop/captured/teep_01_query_request_cose_sign.cbor");
        let bytes = std::fs::read(&path).unwrap();
        let key = teep_cose::PrivateKey::generate(teep_cose::KeyType::P256)
            .public_key()
            .to_spki_pem();
        let p = inspect(
            &Submitted {
                hex: hex::encode(&bytes),
                key,
                ..Default::default()
            },
            1 << 20,
            NO_KEY,
        );
        assert!(p.shown, "{}", p.error);
        assert!(p.tree.contains("data-name=\"QueryRequest\""));
        assert!(!p.headers.is_empty());
        assert!(!p.verified);
        assert!(p.verdict.starts_with("Does not verify"), "{}", p.verdict);
    }
}
