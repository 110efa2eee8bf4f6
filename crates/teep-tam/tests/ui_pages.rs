//! The web UI's pages over HTTP, without a browser: after one exchange the audit keeps the
//! Update the TAM sent (its token is the Success's, which ties the session together), and the
//! device, exchange, catalog and inspector pages show it by name. The browser test
//! (`ui_browser.rs`) clicks through the same pages when Chromium is there.

mod common;

use common::*;
use teep_bench::sim::{ExchangeResult, SimDevice};
use teep_cose::KeyType;
use teep_tam::Enroll;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// The cookie a log-in with the admin token sets.
fn cookie() -> String {
    format!(
        "teep_ui={}",
        hex::encode(teep_cose::sha256(
            format!("teep-ui-session:{ADMIN_TOKEN}").as_bytes()
        ))
    )
}

async fn get(url: String, logged_in: bool) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let mut req = agent().get(&url);
        if logged_in {
            req = req.header("Cookie", &cookie());
        }
        let mut r = req.call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    })
    .await
    .unwrap()
}

/// Posts the inspector form (multipart, as the browser sends it) with `hex` in its textarea.
async fn inspect(url: String, hex: &str) -> (u16, String) {
    let boundary = "teep-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"hex\"\r\n\r\n{hex}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n\r\n--{boundary}--\r\n"
    );
    tokio::task::spawn_blocking(move || {
        let mut r = agent()
            .post(&url)
            .header("Cookie", &cookie())
            .header(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send(body.as_bytes())
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_reads_back_whole_and_the_pages_show_it_by_name() {
    let tam = start(Enroll::Registered).await;
    let mut dev = SimDevice::new(KeyType::P256);
    let d = teep_tam::ops::add_device(
        tam.store(),
        dev.public_key().to_spki_pem().as_bytes(),
        None,
        Some("page-device"),
        &[],
        0,
    )
    .await
    .unwrap();
    add_assigned_ta(&tam, "hello", b"Hello, Secure World!").await;
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);

    // The audit: the QueryResponse row holds the Update sent, whose token the Success carries.
    let audit = tam.store().recent_audit(10, None).await.unwrap();
    let row = |t: &str| {
        audit
            .iter()
            .find(|r| r.entry.message_type == t)
            .unwrap_or_else(|| panic!("no {t} in the audit"))
    };
    let (qr, success) = (row("QueryResponse"), row("Success"));
    let sent = qr.entry.response.as_deref().expect("Update not kept");
    let update = teep_proto::view::view_message(sent, None, Default::default()).unwrap();
    assert_eq!(update.message().type_name(), "Update");
    assert_eq!(update.message().token(), success.entry.token.as_deref());
    assert_eq!(success.entry.response, None);

    // Not logged in: every page sends to the login.
    for path in ["/ui/inspect", "/ui/tcs/1", &format!("/ui/devices/{}", d.id)] {
        let (status, _) = get(tam.url(path), false).await;
        assert_eq!(status, 303, "{path}");
    }

    let (status, page) = get(tam.url(&format!("/ui/devices/{}", d.id)), true).await;
    assert_eq!(status, 200);
    assert!(page.contains("<td class=\"value\">sim-tee</td>"), "hwmodel");
    let seen = page.split("id=\"last-seen\">").nth(1).unwrap();
    assert!(
        seen.starts_with("20") && seen[..20].ends_with('Z'),
        "{seen}"
    );
    assert!(page.contains("QueryResponse → Update → Success"));
    assert!(page.contains("data-message=\"Update\""));
    assert!(page.contains("No Update: it holds everything assigned to it"));
    assert!(page.contains(">hello</a>"), "installed TC by name");

    let (status, page) = get(tam.url("/ui/log"), true).await;
    assert_eq!(status, 200);
    assert!(page.contains("QueryResponse → Update → Success"));

    let tc = tam.store().list_tcs().await.unwrap()[0].id;
    let (status, page) = get(tam.url(&format!("/ui/tcs/{tc}")), true).await;
    assert_eq!(status, 200);
    assert!(page.contains("SecureFS") && page.contains("data-name=\"SUIT_Envelope\""));
    assert_eq!(get(tam.url("/ui/tcs/999"), true).await.0, 404);
    assert_eq!(get(tam.url("/ui/tcs/x"), true).await.0, 404);

    // The inspector names the Update the TAM sent, and reports bad input on the page.
    let (status, page) = inspect(tam.url("/ui/inspect"), &hex::encode(sent)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"inspect-summary\"><strong>Update"),
        "inspector"
    );
    let (status, page) = inspect(tam.url("/ui/inspect"), "# not a message\n a1").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"inspect-error\">not a TEEP message"),
        "bad input"
    );
    tam.handle.shutdown().await;
}

/// Posts a urlencoded form of the UI.
async fn post_form(url: String, form: Vec<(&'static str, String)>) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut r = agent()
            .post(&url)
            .header("Cookie", &cookie())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(body.as_bytes())
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    })
    .await
    .unwrap()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The endorsement roots page (RFC 9360 x5chain trust): add a maker's root, see it listed,
/// refuse an intermediate, remove the root.
#[tokio::test(flavor = "multi_thread")]
async fn endorsers_page_adds_lists_and_removes_roots() {
    use teep_tee::endorsement::{cert_to_pem, CertOptions, CertificateAuthority};
    let tam = start(Enroll::Tofu).await;
    let now = teep_tam::server::now_ms() / 1000;
    let root = CertificateAuthority::create_root(
        KeyType::P256,
        &CertOptions::valid_for("Page Maker Root", now, 30),
    )
    .unwrap();
    let line = root
        .create_intermediate(KeyType::P256, &CertOptions::valid_for("Page Line", now, 30))
        .unwrap();
    let (status, html) = get(tam.url("/ui/endorsers"), true).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<strong id=\"enroll\">tofu</strong>"),
        "{html}"
    );
    let (status, html) = post_form(
        tam.url("/ui/endorsers/add"),
        vec![("pem", cert_to_pem(root.cert_der()))],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Added Page Maker Root"), "{html}");
    assert!(html.contains("class=\"endorser\""), "{html}");
    let (_, html) = post_form(
        tam.url("/ui/endorsers/add"),
        vec![("pem", cert_to_pem(line.cert_der()))],
    )
    .await;
    assert!(
        html.contains("Add failed") && html.contains("self-issued"),
        "{html}"
    );
    let sha = hex::encode(teep_cose::sha256(root.cert_der()));
    let (_, html) = post_form(tam.url("/ui/endorsers/remove"), vec![("sha256", sha)]).await;
    assert!(html.contains("Removed Page Maker Root"), "{html}");
    assert!(!html.contains("class=\"endorser\""), "{html}");
    // Not logged in: the login page.
    let (status, _) = get(tam.url("/ui/endorsers"), false).await;
    assert_ne!(status, 200);
    tam.handle.shutdown().await;
}
