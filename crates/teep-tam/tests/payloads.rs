//! Payloads of by-URI manifests (draft-ietf-teep-protocol-26 Appendix E Example 1): a TA added
//! through the admin API with `by_uri=true` gets a manifest whose suit-parameter-uri names
//! `{public_url}/tam/payloads/{sha256-hex}`, and the TAM serves the bytes there to anyone.

mod common;

use common::*;
use teep_tam::Enroll;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn post_ta(base: &str, query: &str, body: &[u8]) -> (u16, String) {
    let mut r = agent()
        .post(format!("{base}/admin/tas?{query}"))
        .header("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .header("Content-Type", "application/octet-stream")
        .send(body)
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

/// Status, headers of interest (Content-Type, ETag, Cache-Control) and body of a GET.
fn get(url: &str, if_none_match: Option<&str>) -> (u16, [Option<String>; 3], Vec<u8>) {
    let mut req = agent().get(url);
    if let Some(tag) = if_none_match {
        req = req.header("If-None-Match", tag);
    }
    let mut r = req.call().unwrap();
    let h = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let heads = [h("content-type"), h("etag"), h("cache-control")];
    let body = r.body_mut().read_to_vec().unwrap();
    (r.status().as_u16(), heads, body)
}

/// The suit-parameter-uri of the install sequence of a catalog envelope.
fn install_uri(envelope: &[u8]) -> String {
    let env =
        teep_suit::decode_envelope_unverified(envelope.to_vec(), &Default::default()).unwrap();
    let install = env.manifest.install.as_ref().and_then(|s| s.get()).unwrap();
    install
        .commands
        .iter()
        .find_map(|c| match &c.arg {
            teep_suit::CommandArg::Parameters(ps) => ps.iter().find_map(|p| match p {
                teep_suit::Parameter::Uri(u) => Some(u.clone()),
                _ => None,
            }),
            _ => None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn by_uri_ta_is_refused_without_public_url() {
    let tam = start(Enroll::Tofu).await;
    let base = tam.url("");
    let (status, text) =
        tokio::task::spawn_blocking(move || post_ta(&base, "name=hello&by_uri=true", b"TA"))
            .await
            .unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("public_url"), "{text}");
    assert!(tam.store().list_tcs().await.unwrap().is_empty());
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn appendix_e_example_1_payload_is_served_at_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let tam = start_with(
        dir,
        |c| teep_tam::Config {
            public_url: Some("https://tam.example.org".into()),
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    let ta = b"Hello, Secure World!".to_vec();
    let sha = hex::encode(teep_suit::Digest::sha256(&ta).bytes);
    let base = tam.url("");
    let body = ta.clone();
    let (status, text) =
        tokio::task::spawn_blocking(move || post_ta(&base, "name=hello&by_uri=true", &body))
            .await
            .unwrap();
    assert_eq!(status, 201, "{text}");
    let tc = tam.store().list_tcs().await.unwrap().remove(0);
    assert_eq!(
        install_uri(&tc.envelope),
        format!("https://tam.example.org/tam/payloads/{sha}")
    );
    // The envelope carries no payload: it is smaller than the TA would make it... and the
    // TA's bytes are not in it.
    assert!(!tc.envelope.windows(ta.len()).any(|w| w == ta));

    let url = tam.url(&format!("/tam/payloads/{sha}"));
    let etag = format!("\"{sha}\"");
    let (ok, ok_heads, bytes) = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || get(&url, None))
            .await
            .unwrap()
    };
    assert_eq!(ok, 200);
    assert_eq!(bytes, ta);
    assert_eq!(ok_heads[0].as_deref(), Some("application/octet-stream"));
    assert_eq!(ok_heads[1].as_deref(), Some(etag.as_str()));
    assert!(ok_heads[2].as_deref().unwrap().contains("immutable"));
    let cached = {
        let (url, etag) = (url.clone(), etag.clone());
        tokio::task::spawn_blocking(move || get(&url, Some(&etag)))
            .await
            .unwrap()
    };
    assert_eq!((cached.0, cached.2.len()), (304, 0));

    // Unknown digests and anything that is not exactly 64 hex digits: 404.
    for path in [
        format!("/tam/payloads/{}", "0".repeat(64)),
        format!("/tam/payloads/{}", &sha[..63]),
        format!("/tam/payloads/{sha}0"),
        format!("/tam/payloads/{}", "z".repeat(64)),
        "/tam/payloads/".to_string(),
    ] {
        let url = tam.url(&path);
        let (status, _, _) = tokio::task::spawn_blocking(move || get(&url, None))
            .await
            .unwrap();
        assert_eq!(status, 404, "{path}");
    }
    tam.handle.shutdown().await;
}
