//! HTTP transport rules (draft-ietf-teep-otrp-over-http §5), limits, hostile input, metrics
//! and the admin API.

mod common;

use common::*;
use teep_bench::sim::{exchange, ExchangeResult, SimDevice};
use teep_cose::KeyType;
use teep_proto::Numbering;
use teep_tam::Enroll;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn post(url: &str, content_type: Option<&str>, body: &[u8]) -> ureq::http::Response<ureq::Body> {
    let mut req = agent().post(url).header("Accept", "application/teep+cbor");
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    req.send(body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn teep_responses_carry_the_transport_headers_and_no_cache_control() {
    let tam = start(Enroll::Tofu).await;
    let url = tam.url("/tam");
    let r = tokio::task::spawn_blocking(move || post(&url, None, b""))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["content-type"], "application/teep+cbor");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h.get("cache-control").is_none());
    assert!(h.get("set-cookie").is_none());
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_content_type_is_415_and_oversized_body_is_413() {
    let dir = tempfile::tempdir().unwrap();
    let tam = start_with(
        dir,
        |mut c| {
            c.body_limit = 4096;
            c
        },
        Enroll::Tofu,
    )
    .await;
    let url = tam.url("/tam");
    let (a, b, c) = tokio::task::spawn_blocking(move || {
        let a = post(&url, Some("application/json"), b"{}").status();
        let b = post(&url, Some("application/teep+cbor"), &vec![0u8; 5000]).status();
        let c = agent().get(&url).call().unwrap().status();
        (a, b, c)
    })
    .await
    .unwrap();
    assert_eq!(a, 415);
    assert_eq!(b, 413);
    assert_eq!(c, 405);

    // A chunked body announces no length: it is refused once it passes the limit, with
    // the limit named; one under the limit is read whole and judged as a TEEP message.
    let chunked = |len: usize| {
        let addr = tam.addr;
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut req = format!(
                "POST /tam HTTP/1.1\r\nHost: x\r\nContent-Type: application/teep+cbor\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{len:x}\r\n"
            )
            .into_bytes();
            req.extend(std::iter::repeat_n(0u8, len));
            req.extend_from_slice(b"\r\n0\r\n\r\n");
            // The server may answer and close before it has read everything.
            let _ = s.write_all(&req).await;
            let mut resp = Vec::new();
            let _ = s.read_to_end(&mut resp).await;
            String::from_utf8_lossy(&resp).to_string()
        }
    };
    let over = chunked(5000).await;
    assert!(over.starts_with("HTTP/1.1 413"), "{over}");
    assert!(over.contains("limit of 4096 bytes"), "{over}");
    let under = chunked(100).await;
    assert!(under.starts_with("HTTP/1.1 400"), "{under}");
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_message_gets_400_naming_the_problem_or_not_when_explanations_are_off() {
    let tam = start(Enroll::Tofu).await;
    let url = tam.url("/tam");
    let (status, text) = tokio::task::spawn_blocking(move || {
        let mut r = post(&url, Some("application/teep+cbor"), &[0x82, 0x01, 0xa0]);
        (r.status(), r.body_mut().read_to_string().unwrap())
    })
    .await
    .unwrap();
    assert_eq!(status, 400);
    assert!(text.to_lowercase().contains("cose"), "{text}");
    tam.handle.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let tam = start_with(
        dir,
        |mut c| {
            c.explain_errors = false;
            c
        },
        Enroll::Tofu,
    )
    .await;
    let url = tam.url("/tam");
    let refusals = tam.url("/admin/refusals?limit=1");
    let (text, (status, _, seen)) = tokio::task::spawn_blocking(move || {
        post(&url, Some("application/teep+cbor"), &[0x0a]);
        let text = post(&url, Some("application/teep+cbor"), &[0x82, 0x01, 0xa0])
            .body_mut()
            .read_to_string()
            .unwrap();
        let auth = format!("Bearer {ADMIN_TOKEN}");
        (text, admin("GET", &refusals, Some(&auth), None))
    })
    .await
    .unwrap();
    assert_eq!(text.trim(), "Bad Request");
    // The operator still sees what the peer was not told: the latest refusal only.
    assert_eq!(status, 200);
    let seen: serde_json::Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen[0]["status"], 400);
    let why = seen[0]["explanation"].as_str().unwrap().to_lowercase();
    assert!(why.contains("cose") && why != "bad request", "{why}");
    tam.handle.shutdown().await;
}

/// Deterministic xorshift, so a failure reproduces.
struct Xs(u64);
impl Xs {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_hostile_bodies_change_nothing_and_never_5xx() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    // Valid material to mutate: a QueryResponse and a Success of a real session.
    let mut dev = SimDevice::new(KeyType::P256);
    let qreq = client.post(Vec::new()).await.unwrap();
    let seen = dev
        .read_query_request(&qreq.body, Numbering::Draft26, &[])
        .unwrap();
    let qresp = dev.query_response(&seen, Numbering::Draft26).unwrap();
    let success = dev.success(Some(vec![1; 16]), Numbering::Draft26).unwrap();
    let before = tam.store().fingerprint().await.unwrap();

    let mut rng = Xs(0x5eed_1234_abcd_ef01);
    for i in 0..1000u32 {
        let base = if i % 2 == 0 { &qresp } else { &success };
        let body: Vec<u8> = match i % 4 {
            // Random bytes.
            0 => (0..(rng.next() % 300 + 1))
                .map(|_| rng.next() as u8)
                .collect(),
            // Bit flips.
            1 | 2 => {
                let mut b = base.clone();
                for _ in 0..(rng.next() % 4 + 1) {
                    let p = (rng.next() as usize) % b.len();
                    b[p] ^= 1 << (rng.next() % 8);
                }
                b
            }
            // Truncation.
            _ => base[..(rng.next() as usize) % base.len()].to_vec(),
        };
        if body.is_empty() {
            continue;
        }
        let r = client.post(body).await.unwrap();
        assert!(
            r.status == 400 || r.status == 200 || r.status == 204,
            "body {i}: status {}",
            r.status
        );
        // A mutation that still verifies is impossible: signatures cover everything.
        assert_eq!(r.status, 400, "body {i} was accepted");
    }
    // Only the session opened above exists; nothing else moved.
    assert_eq!(tam.store().fingerprint().await.unwrap(), before);
    // And the untouched QueryResponse still works.
    assert_eq!(client.post(qresp).await.unwrap().status, 200);
    let _ = exchange(&client, &mut dev, Numbering::Draft26, &tam.tam_keys())
        .await
        .unwrap();
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_exchanges_errors_and_devices() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    let mut dev = SimDevice::new(KeyType::P256);
    exchange(&client, &mut dev, Numbering::Draft26, &tam.tam_keys())
        .await
        .unwrap();
    client.post(vec![0xff]).await.unwrap();
    let url = tam.url("/metrics");
    let text = tokio::task::spawn_blocking(move || {
        agent()
            .get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        text.contains("teep_tam_exchanges_total{result=\"update\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("teep_tam_exchanges_total{result=\"success\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("teep_tam_errors_total{code=\"malformed\"} 1"),
        "{text}"
    );
    assert!(text.contains("teep_tam_devices 1"), "{text}");
    assert!(
        text.contains("teep_tam_request_duration_seconds_count 4"),
        "{text}"
    );
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_needs_the_token_and_drives_catalog_devices_and_policy() {
    let tam = start(Enroll::Tofu).await;
    let base = tam.url("");
    let dev = SimDevice::new(KeyType::Ed25519);
    let pem = dev.public_key().to_spki_pem();
    tokio::task::spawn_blocking(move || {
        let a = agent();
        let auth = format!("Bearer {ADMIN_TOKEN}");
        assert_eq!(
            a.get(format!("{base}/admin/tcs")).call().unwrap().status(),
            401
        );
        assert_eq!(
            a.get(format!("{base}/admin/tcs"))
                .header("Authorization", "Bearer wrong-token")
                .call()
                .unwrap()
                .status(),
            401
        );
        let spec: serde_json::Value = serde_json::from_str(
            &a.get(format!("{base}/admin/openapi.json"))
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(spec["openapi"], "3.1.0");
        let mut r = a
            .post(format!("{base}/admin/tas?name=hello"))
            .header("Authorization", &auth)
            .send(&b"Hello"[..])
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "{}",
            r.body_mut().read_to_string().unwrap()
        );
        let mut r = a
            .post(format!("{base}/admin/devices"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(serde_json::json!({ "key": pem, "name": "d1", "tags": ["lab"] }).to_string())
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "{}",
            r.body_mut().read_to_string().unwrap()
        );
        let r = a
            .post(format!("{base}/admin/assignments"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(serde_json::json!({ "tc": "hello", "target": "tag:lab" }).to_string())
            .unwrap();
        assert_eq!(r.status(), 201);
        let r = a
            .post(format!("{base}/admin/assignments"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(serde_json::json!({ "tc": "nope", "target": "all" }).to_string())
            .unwrap();
        assert_eq!(r.status(), 404);
        // A TC named by its component id: the text every view prints, and the '/'-joined
        // form earlier releases printed.
        let tcs: serde_json::Value = serde_json::from_str(
            &a.get(format!("{base}/admin/tcs"))
                .header("Authorization", &auth)
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap(),
        )
        .unwrap();
        let cid_text = tcs[0]["component_id"].as_str().unwrap().to_string();
        let cid: teep_cbor::ComponentId = cid_text.parse().unwrap();
        let slash = cid
            .iter()
            .map(|s| match std::str::from_utf8(s) {
                Ok(t) if t.bytes().all(|b| b.is_ascii_graphic()) => t.to_string(),
                _ => format!("h'{}'", hex::encode(s)),
            })
            .collect::<Vec<_>>()
            .join("/");
        assert!(slash.starts_with("TEEP-Device/SecureFS/h'"), "{slash}");
        for (spec, status) in [
            (cid_text.as_str(), 201),
            (slash.as_str(), 201),
            ("TEEP-Device/SecureFS/h'00'/ta", 404),
        ] {
            let r = a
                .post(format!("{base}/admin/assignments"))
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(serde_json::json!({ "tc": spec, "target": "tag:lab" }).to_string())
                .unwrap();
            assert_eq!(r.status(), status, "{spec}");
        }
        let devices: serde_json::Value = serde_json::from_str(
            &a.get(format!("{base}/admin/devices"))
                .header("Authorization", &auth)
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(devices[0]["name"], "d1");
        assert_eq!(devices[0]["assigned"].as_array().unwrap().len(), 1);
    })
    .await
    .unwrap();
    // The tag assignment reaches the device.
    let mut d = dev;
    let r = exchange(&tam.client(), &mut d, Numbering::Draft26, &tam.tam_keys())
        .await
        .unwrap();
    assert_eq!(r, teep_bench::sim::ExchangeResult::Updated);
    tam.handle.shutdown().await;
}

/// One admin API call with an optional Authorization header and JSON body: status, response
/// headers and body text.
fn admin(
    method: &str,
    url: &str,
    auth: Option<&str>,
    json: Option<&str>,
) -> (u16, ureq::http::HeaderMap, String) {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    if let Some(a) = auth {
        b = b.header("Authorization", a);
    }
    let r = match json {
        Some(j) => agent().run(
            b.header("Content-Type", "application/json")
                .body(j.to_string())
                .unwrap(),
        ),
        None => agent().run(b.body(()).unwrap()),
    };
    let mut r = r.unwrap();
    let text = r.body_mut().read_to_string().unwrap();
    (r.status().as_u16(), r.headers().clone(), text)
}

/// The `error` text of a JSON error body; panics on anything else.
fn json_error(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error text: {body}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_lists_exactly_the_routed_admin_operations() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"Hello").await;
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    let tc_id = tam.store().list_tcs().await.unwrap()[0].id;
    let dev_id = tam.device(&dev).await.id;
    let base = tam.url("");
    tokio::task::spawn_blocking(move || {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        // What admin::router routes (crates/teep-tam/src/admin.rs), the document itself aside,
        // and what each answers to the request below: real ids, `{}` as any body.
        let routed = [
            ("GET", "/admin/tcs", 200),
            ("POST", "/admin/tcs", 400), // not a SUIT envelope
            ("POST", "/admin/tas", 400), // no name
            ("GET", "/admin/devices", 200),
            ("POST", "/admin/devices", 422), // no key
            ("GET", "/admin/devices/{id}", 200),
            ("GET", "/admin/assignments", 200),
            ("POST", "/admin/assignments", 422), // no tc, no target
            ("DELETE", "/admin/assignments", 422),
            ("GET", "/admin/log", 200),
            ("GET", "/admin/refusals", 200),
            ("DELETE", "/admin/tcs/{id}", 200),
            ("GET", "/admin/endorsers", 200),
            ("POST", "/admin/endorsers", 400), // not a certificate
            ("DELETE", "/admin/endorsers/{sha256}", 404),
        ];
        let (status, h, text) = admin("GET", &format!("{base}/admin/openapi.json"), None, None);
        assert_eq!(
            (status, h["content-type"].to_str().unwrap()),
            (200, "application/json")
        );
        let spec: serde_json::Value = serde_json::from_str(&text).unwrap();

        // The router's own refusals, for contrast: empty bodies.
        let (status, _, text) = admin("GET", &format!("{base}/admin/nope"), Some(&auth), None);
        assert_eq!((status, text.as_str()), (404, ""));
        let (status, _, text) = admin("PUT", &format!("{base}/admin/tcs"), Some(&auth), None);
        assert_eq!((status, text.as_str()), (405, ""));

        let mut documented = Vec::new();
        for (path, ops) in spec["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                documented.push((method.to_uppercase(), path.clone()));
                if path.contains("{id}") {
                    assert!(
                        op["parameters"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|p| p["name"] == "id"
                                && p["in"] == "path"
                                && p["required"] == true),
                        "{method} {path}: no path parameter id"
                    );
                }
            }
        }
        // Every documented operation is routed behind the token.
        for (method, path) in &documented {
            let url = base.clone() + path;
            let (status, h, text) = admin(method, &url, None, None);
            assert_eq!(status, 401, "{method} {path} without token: {text}");
            assert_eq!(h["www-authenticate"], "Bearer");
            assert_eq!(
                json_error(&text),
                "Authorization: expected Bearer <admin token>"
            );
        }
        let mut documented: Vec<String> = documented
            .into_iter()
            .map(|(m, p)| format!("{m} {p}"))
            .collect();
        documented.sort();
        // ... and every routed one documented, none more.
        let mut listed: Vec<String> = routed.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
        listed.sort();
        assert_eq!(documented, listed);
        // Each is answered by its handler.
        for (method, path, want) in routed {
            let id = if path.starts_with("/admin/tcs/") {
                tc_id
            } else {
                dev_id
            };
            let url = base.clone() + &path.replace("{id}", &id.to_string());
            let json = (method != "GET").then_some("{}");
            let (status, _, text) = admin(method, &url, Some(&auth), json);
            assert_eq!(status, want, "{method} {path}: {text}");
            assert!(!text.is_empty(), "{method} {path}");
            // Whatever it answered, the document says it may, and errors are JSON.
            let op = &spec["paths"][path][method.to_lowercase()];
            assert!(
                op["responses"].get(status.to_string()).is_some()
                    && op["responses"].get("401").is_some(),
                "{method} {path}: {status} or 401 not documented"
            );
            if status >= 400 {
                assert!(!json_error(&text).is_empty());
            }
        }
    })
    .await
    .unwrap();
    // The DELETE above really removed the TC.
    assert!(tam.store().list_tcs().await.unwrap().is_empty());
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_shows_a_device_and_the_log_unassigns_and_names_each_refusal() {
    use serde_json::{json, Value};
    use std::collections::BTreeSet;
    let tam = start(Enroll::Tofu).await;
    let cid = add_assigned_ta(&tam, "hello", b"Hello").await;
    let cid_text = cid.to_string();
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    assert_eq!(dev.installed, vec![cid]);
    let kid = hex::encode(dev.kid());
    let other_pem = SimDevice::new(KeyType::Ed25519).public_key().to_spki_pem();
    let base = tam.url("");
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let get = {
        let (base, auth) = (base.clone(), auth.clone());
        move |path: &str| -> Value {
            let (status, h, text) = admin("GET", &format!("{base}{path}"), Some(&auth), None);
            assert_eq!(
                (status, h["content-type"].to_str().unwrap()),
                (200, "application/json"),
                "{path}: {text}"
            );
            serde_json::from_str(&text).unwrap()
        }
    };
    let (g, k, c) = (get.clone(), kid.clone(), cid_text.clone());
    let dev_id = tokio::task::spawn_blocking(move || {
        let (get, kid, cid_text) = (g, k, c);
        let spec = get("/admin/openapi.json");
        let props = |schema: &str| -> BTreeSet<String> {
            spec["components"]["schemas"][schema]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        let keys =
            |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };

        // The device, by key id and by number, with what it holds.
        let d = get(&format!("/admin/devices/{kid}"));
        assert_eq!(keys(&d), props("Device"));
        assert_eq!(d["kid"], kid);
        assert_eq!(d["status"], "attested");
        assert_eq!(d["assigned"], json!([cid_text]));
        let installed = d["installed"].as_array().unwrap();
        assert_eq!(installed.len(), 1, "{d}");
        assert_eq!(installed[0]["component_id"], cid_text);
        assert_eq!(installed[0]["sequence"], 1);
        assert_eq!(installed[0]["origin"], "policy");
        assert_eq!(get(&format!("/admin/devices/{}", d["id"])), d);

        // The log: newest first, each message decoded.
        let log = get("/admin/log");
        let log = log.as_array().unwrap();
        assert_eq!(log.len(), 2, "{log:?}");
        for e in log {
            assert_eq!(keys(e), props("AuditEntry"));
            assert_eq!(e["device_kid"], kid);
        }
        assert_eq!(
            (
                &log[0]["message_type"],
                &log[0]["result"],
                &log[0]["summary"]["type"]
            ),
            (&json!("Success"), &json!("success"), &json!("success"))
        );
        assert_eq!(
            (
                &log[1]["message_type"],
                &log[1]["result"],
                &log[1]["summary"]["type"]
            ),
            (
                &json!("QueryResponse"),
                &json!("update"),
                &json!("query-response")
            )
        );
        assert_eq!(get("/admin/log?limit=1"), json!([log[0]]));
        assert_eq!(get(&format!("/admin/log?device={kid}")), json!(log));
        // A device with no exchange has no entries.
        let (status, _, text) = admin(
            "POST",
            &format!("{base}/admin/devices"),
            Some(&auth),
            Some(&json!({ "key": other_pem }).to_string()),
        );
        assert_eq!(status, 201, "{text}");
        let other: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            get(&format!("/admin/log?device={}", other["id"])),
            json!([])
        );

        // Refusals name the problem.
        let call = |method: &str, path: &str, auth: Option<&str>, body: Option<&str>| {
            let (status, _, text) = admin(method, &format!("{base}{path}"), auth, body);
            (status, text)
        };
        let a = Some(auth.as_str());
        let (s, t) = call("GET", "/admin/devices/999999", a, None);
        assert_eq!((s, json_error(&t)), (404, "device 999999 not found".into()));
        let unknown_kid = "ab".repeat(32);
        let (s, t) = call("GET", &format!("/admin/devices/{unknown_kid}"), a, None);
        assert_eq!(
            (s, json_error(&t)),
            (404, format!("device with key id {unknown_kid} not found"))
        );
        let (s, t) = call("GET", "/admin/devices/not-an-id", a, None);
        assert_eq!(s, 400);
        assert!(
            json_error(&t).contains("expected a numeric id or a hex key id"),
            "{t}"
        );
        let (s, t) = call("GET", "/admin/log?device=999999", a, None);
        assert_eq!((s, json_error(&t)), (404, "device 999999 not found".into()));
        let (s, t) = call("POST", "/admin/devices", a, Some(r#"{"key": "#));
        assert_eq!(s, 400);
        let why = json_error(&t);
        assert!(
            why.contains("Failed to parse the request body as JSON"),
            "{t}"
        );
        let (s, t) = call("POST", "/admin/assignments", a, Some(r#"{"tc": "hello"}"#));
        assert_eq!(s, 422);
        assert!(json_error(&t).contains("missing field `target`"), "{t}");
        let (s, t) = call(
            "DELETE",
            "/admin/assignments",
            a,
            Some(r#"{"tc": "hello", "target": "everyone"}"#),
        );
        assert_eq!(s, 400);
        assert!(
            json_error(&t).contains("expected all, tag:NAME or device:ID"),
            "{t}"
        );
        let (s, t) = call(
            "DELETE",
            "/admin/assignments",
            a,
            Some(r#"{"tc": "nope", "target": "all"}"#),
        );
        assert_eq!(
            (s, json_error(&t)),
            (
                404,
                r#"trusted component "nope" in the catalog not found"#.into()
            )
        );
        for bad in [None, Some("Bearer wrong-token"), Some("Basic dGVzdA==")] {
            let (s, t) = call("GET", "/admin/devices", bad, None);
            assert_eq!(
                (s, json_error(&t)),
                (401, "Authorization: expected Bearer <admin token>".into()),
                "{bad:?}"
            );
        }

        // Unassigning removes the assignment, not yet the installed TC.
        let unassign = || {
            call(
                "DELETE",
                "/admin/assignments",
                a,
                Some(r#"{"tc": "hello", "target": "all"}"#),
            )
        };
        let (s, t) = unassign();
        assert_eq!(
            (s, serde_json::from_str::<Value>(&t).unwrap()),
            (200, json!({ "removed": 1 }))
        );
        let (s, t) = unassign();
        assert_eq!(
            (s, serde_json::from_str::<Value>(&t).unwrap()),
            (200, json!({ "removed": 0 }))
        );
        assert_eq!(get("/admin/assignments"), json!([]));
        let d = get(&format!("/admin/devices/{kid}"));
        assert_eq!(d["assigned"], json!([]));
        assert_eq!(d["installed"].as_array().unwrap().len(), 1);
        d["id"].as_i64().unwrap()
    })
    .await
    .unwrap();
    // ... which the device's next exchange deletes.
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    assert!(dev.installed.is_empty(), "{:?}", dev.installed);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::UpToDate);
    let d = tokio::task::spawn_blocking(move || get(&format!("/admin/devices/{dev_id}")))
        .await
        .unwrap();
    assert_eq!(d["installed"], json!([]));
    assert_eq!(d["kid"], kid);
    tam.handle.shutdown().await;
}

/// One HTTP/1.1 POST to `/tam` on a new connection with exactly `headers` (no Accept unless
/// given; the HTTP clients add one): the status, the head and the body.
async fn raw_post(
    addr: std::net::SocketAddr,
    headers: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "POST /tam HTTP/1.1\r\nHost: t\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    s.write_all(&req).await.unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, resp[split + 4..].to_vec())
}

/// TEEP-HTTP §5.1.1/§5.2/§6.1: a request without Accept is read as HTTP reads it (any media
/// type) and recorded as the deviation `http.accept-missing`: in the audit notes and the
/// deviation metric once the message is verified (not for the unverified empty POST). An
/// Accept without the TEEP media type is 406; `--strict` refuses a missing Accept with 406.
#[tokio::test]
async fn missing_accept_is_a_recorded_deviation_and_strict_mode_refuses_it() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let n = Numbering::Draft26;
    let (status, head, qreq) = raw_post(tam.addr, "", b"").await;
    assert_eq!(status, 200, "{head}");
    let mut dev = SimDevice::new(KeyType::P256);
    let seen = dev.read_query_request(&qreq, n, &[]).unwrap();
    let ct = "Content-Type: application/teep+cbor\r\n";
    let (status, head, upd) = raw_post(tam.addr, ct, &dev.query_response(&seen, n).unwrap()).await;
    assert_eq!(status, 200, "{head}");
    dev.read_update(&upd, n).unwrap();
    let log = tam.store().recent_audit(1, Some(&dev.kid())).await.unwrap();
    let notes = format!("{:?}", log[0].entry.notes);
    assert!(
        notes.contains("http.accept-missing at HTTP request header Accept"),
        "{notes}"
    );
    let metrics = tokio::task::spawn_blocking({
        let url = tam.url("/metrics");
        move || {
            agent()
                .get(&url)
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        metrics.contains("teep_tam_deviations_total{code=\"http.accept-missing\"} 1\n"),
        "counted once, for the verified QueryResponse only"
    );
    let (status, head, _) = raw_post(tam.addr, "Accept: application/json\r\n", b"").await;
    assert_eq!(status, 406, "{head}");
    tam.handle.shutdown().await;

    let tam = start_with(
        tempfile::tempdir().unwrap(),
        |c| teep_tam::Config { strict: true, ..c },
        Enroll::Tofu,
    )
    .await;
    let (status, head, body) = raw_post(tam.addr, "", b"").await;
    assert_eq!(status, 406, "{head}");
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("strict mode refuses http.accept-missing"),
        "{text}"
    );
    let (status, _, _) = raw_post(tam.addr, "Accept: application/teep+cbor\r\n", b"").await;
    assert_eq!(status, 200);
    tam.handle.shutdown().await;
}

/// TEEP-HTTP §4: only POST is defined on a TAM URI; the 405 has content, so it carries the
/// security headers every answer with content carries.
#[tokio::test(flavor = "multi_thread")]
async fn method_not_allowed_carries_the_security_headers() {
    let tam = start(Enroll::Tofu).await;
    for path in ["/tam", "/tam/legacy"] {
        let url = tam.url(path);
        let r = tokio::task::spawn_blocking(move || agent().get(&url).call().unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), 405);
        let h = r.headers();
        assert_eq!(h["allow"], "POST");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["content-security-policy"], "default-src 'none'");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h.get("cache-control").is_none());
    }
    tam.handle.shutdown().await;
}
