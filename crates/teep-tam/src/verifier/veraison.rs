//! A remote Verifier speaking Veraison's challenge-response API (RFC 9334 background-check
//! model; Veraison's `challenge-response/v1`), in relying-party mode: the TAM's challenge is
//! the session nonce.
//!
//! 1. `POST {url}/challenge-response/v1/newSession?nonce=<base64url>` → 201 and `Location`;
//! 2. `POST {session}` with the Evidence, `Content-Type` its media type → 200 with the session
//!    (`status` `complete` and `result`, the EAR), or 202 while it is `processing` (then the
//!    session is read with GET until it is not);
//! 3. `DELETE {session}`, always, once a session exists.
//!
//! Blocking (ureq over rustls): the server runs it on the blocking pool. Every request shares
//! one deadline; responses are read up to a size limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use teep_cose::PublicKey;
use teep_tam_core::attest::{EvidenceForVerifier, VerifierVerdict};

use super::ear::{self, Status};

/// Veraison's session media type.
const SESSION_MEDIA_TYPE: &str = "application/vnd.veraison.challenge-response-session+json";

/// Settings of a [`Veraison`] client.
#[derive(Clone, Debug)]
pub struct VeraisonOptions {
    /// Base URL (`https://veraison.example:8443`), without the API path.
    pub url: String,
    /// Key that signs the Verifier's EARs.
    pub ear_key: PublicKey,
    /// Time for the whole appraisal.
    pub timeout: Duration,
    /// CA certificates (PEM) for an https URL; without, the Mozilla roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Largest response body read.
    pub max_response: u64,
}

/// The client.
pub struct Veraison {
    agent: ureq::Agent,
    options: VeraisonOptions,
}

impl Veraison {
    pub fn new(options: VeraisonOptions) -> Result<Veraison, String> {
        let mut tls = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::Rustls);
        if let Some(pem) = &options.ca_pem {
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(pem) {
                if let ureq::tls::PemItem::Certificate(c) =
                    item.map_err(|e| format!("verifier CA: {e}"))?
                {
                    certs.push(c);
                }
            }
            if certs.is_empty() {
                return Err("verifier CA: no certificate in the PEM file".into());
            }
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
        }
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .accept_encoding("")
            .tls_config(tls.build())
            .build()
            .into();
        Ok(Veraison { agent, options })
    }

    /// Appraises `e`; every failure is a [`VerifierVerdict::Failed`] that says why.
    pub fn appraise(&self, e: &EvidenceForVerifier) -> VerifierVerdict {
        let deadline = Instant::now() + self.options.timeout;
        let session = match self.new_session(&e.nonce, deadline) {
            Ok(s) => s,
            Err(why) => return VerifierVerdict::Failed(why),
        };
        let verdict = self.submit(&session, e, deadline);
        // Best effort: Veraison also expires sessions on its own.
        let _ = self
            .agent
            .delete(&session)
            .config()
            .timeout_global(Some(self.options.timeout.min(Duration::from_secs(2))))
            .build()
            .call();
        match verdict {
            Ok(v) => v,
            Err(why) => VerifierVerdict::Failed(why),
        }
    }

    fn left(deadline: Instant) -> Result<Duration, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("timed out".into());
        }
        Ok(left)
    }

    fn new_session(&self, nonce: &[u8], deadline: Instant) -> Result<String, String> {
        let base = self.options.url.trim_end_matches('/');
        let n = base64::engine::general_purpose::URL_SAFE.encode(nonce);
        let url = format!("{base}/challenge-response/v1/newSession?nonce={n}");
        let response = self
            .agent
            .post(&url)
            .config()
            .timeout_global(Some(Self::left(deadline)?))
            .build()
            .header("accept", SESSION_MEDIA_TYPE)
            .send_empty()
            .map_err(describe)?;
        let status = response.status().as_u16();
        if status != 201 {
            return Err(format!("newSession: HTTP {status}"));
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or("newSession: 201 without Location")?;
        Ok(absolute(base, location))
    }

    fn submit(
        &self,
        session: &str,
        e: &EvidenceForVerifier,
        deadline: Instant,
    ) -> Result<VerifierVerdict, String> {
        let response = self
            .agent
            .post(session)
            .config()
            .timeout_global(Some(Self::left(deadline)?))
            .build()
            .header("accept", SESSION_MEDIA_TYPE)
            .header("content-type", &e.media_type)
            .send(&e.evidence[..])
            .map_err(describe)?;
        let mut status = response.status().as_u16();
        let mut body = self.read(response)?;
        // 202: still processing; read the session until it is done or time is up.
        while status == 202 || session_state(&body).as_deref() == Some("processing") {
            std::thread::sleep(Duration::from_millis(100).min(Self::left(deadline)?));
            let r = self
                .agent
                .get(session)
                .config()
                .timeout_global(Some(Self::left(deadline)?))
                .build()
                .header("accept", SESSION_MEDIA_TYPE)
                .call()
                .map_err(describe)?;
            status = r.status().as_u16();
            body = self.read(r)?;
        }
        if status != 200 {
            return Err(format!("evidence: HTTP {status}"));
        }
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| "session is not JSON")?;
        match json.get("status").and_then(|s| s.as_str()) {
            Some("complete") => {}
            Some(s) => return Err(format!("session {s}")),
            None => return Err("session without status".into()),
        }
        let result = json
            .get("result")
            .and_then(|r| r.as_str())
            .ok_or("session complete without result")?;
        let ear = ear::verify(result, &self.options.ear_key)?;
        if ear.nonce.as_deref() != Some(&e.nonce[..]) {
            return Err("EAR eat_nonce is not the challenge".into());
        }
        Ok(match ear.status {
            Status::Affirming => VerifierVerdict::Affirmed {
                by: format!("veraison {}", self.options.url),
            },
            s => VerifierVerdict::Failed(format!("ear.status is {}", s.as_str())),
        })
    }

    fn read(&self, r: ureq::http::Response<ureq::Body>) -> Result<Vec<u8>, String> {
        let limit = self.options.max_response;
        r.into_body()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => {
                    format!("response exceeds {limit} bytes")
                }
                other => describe(other),
            })
    }
}

fn session_state(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("status")?.as_str().map(str::to_string)
}

fn describe(e: ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        other => format!("unreachable: {other}"),
    }
}

/// `location` against `base` (an absolute URL, or an absolute path on its origin).
fn absolute(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let origin_end = base
        .find("://")
        .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(base.len());
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        format!("/challenge-response/v1/{location}")
    };
    format!("{}{path}", &base[..origin_end])
}

#[cfg(test)]
mod tests {
    use super::absolute;

    #[test]
    fn session_location_resolves_against_the_origin() {
        let b = "http://v.example:8080";
        assert_eq!(
            absolute(b, "/challenge-response/v1/session/1"),
            "http://v.example:8080/challenge-response/v1/session/1"
        );
        assert_eq!(
            absolute(b, "session/1"),
            "http://v.example:8080/challenge-response/v1/session/1"
        );
        assert_eq!(absolute(b, "https://x/s/1"), "https://x/s/1");
        assert_eq!(absolute("http://v/base/", "/s"), "http://v/s");
    }
}
