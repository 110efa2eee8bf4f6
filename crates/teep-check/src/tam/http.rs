//! The checker's HTTP client: exactly the header fields each case names, no redirects, every
//! status handed back (a 4xx is an answer to judge, not an error), bodies bounded.

use std::time::Duration;

use crate::Evidence;

pub const TEEP: &str = "application/teep+cbor";

/// Largest answer read: a TEEP message with its manifests fits many times over.
const MAX_BODY: u64 = 16 * 1024 * 1024;

pub struct Http {
    agent: ureq::Agent,
    url: String,
}

/// An HTTP answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of `name` (lower case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// The Content-Type without parameters, lower case.
    pub fn media_type(&self) -> Option<String> {
        let ct = self.header("content-type")?;
        Some(
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase(),
        )
    }

    /// `200 application/teep+cbor, 94 bytes`.
    pub fn line(&self) -> String {
        format!(
            "{} {}, {} bytes",
            self.status,
            self.header("content-type")
                .unwrap_or_else(|| "(no Content-Type)".into()),
            self.body.len()
        )
    }
}

impl Http {
    pub fn new(url: &str, timeout: Duration) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Http {
            agent,
            url: url.to_string(),
        }
    }

    /// What the checker sent, as evidence.
    pub fn sent(what: &str, body: Option<&[u8]>) -> Evidence {
        Evidence {
            direction: "checker → TAM",
            http: match body {
                Some(b) => format!("{what}, {} bytes", b.len()),
                None => what.to_string(),
            },
            summary: None,
            message: None,
        }
    }

    pub fn post(
        &self,
        accept: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Answer, String> {
        self.post_with(accept, content_type, false, body)
    }

    /// A POST that asks for `Expect: 100-continue` (RFC 9110 §10.1.1), so that a server
    /// refusing the body on its headers answers before it is sent, rather than closing the
    /// connection under the upload (which loses the status on the client's side).
    pub fn post_expecting(&self, content_type: &str, body: &[u8]) -> Result<Answer, String> {
        self.post_with(Some(TEEP), Some(content_type), true, body)
    }

    fn post_with(
        &self,
        accept: Option<&str>,
        content_type: Option<&str>,
        expect: bool,
        body: &[u8],
    ) -> Result<Answer, String> {
        let mut req = self.agent.post(&self.url);
        if expect {
            req = req.header("Expect", "100-continue");
        }
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(c) = content_type {
            req = req.header("Content-Type", c);
        }
        let r = if body.is_empty() {
            req.send_empty()
        } else {
            req.send(body)
        };
        read(r)
    }

    pub fn get(&self) -> Result<Answer, String> {
        read(self.agent.get(&self.url).header("Accept", TEEP).call())
    }
}

fn read(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Answer, String> {
    let mut r = r.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = r
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}
