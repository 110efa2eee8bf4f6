//! Payloads named by URI in a SUIT manifest (`directive-fetch` with parameter `uri`,
//! RFC 9124 §8.4.10.8; draft-ietf-teep-protocol-26 Appendix E Example 1 sends its TA this
//! way). The SUIT processor asks for at most `max_len` bytes (the manifest's image-size, or
//! its own limit); this fetcher adds the transport rules a device on the open internet needs:
//!
//! - `https` through rustls with the configured CA bundle (the Mozilla roots without one);
//!   plain `http` only when explicitly allowed; every other scheme refused.
//! - Redirects followed (at most [`MAX_REDIRECTS`]) only within the scheme of the request:
//!   an `https` payload never comes over `http`, nor an allowed `http` one through `file:` etc.
//! - The size bound checked against Content-Length before reading and while reading, so an
//!   endless body stops at the bound; the global cap bounds manifests without image-size.
//! - One deadline for the whole fetch (connect, redirects, headers and body): a slow or endless
//!   body ends there.
//!
//! Each refusal is a [`FetchError`] whose reason the processor puts in the SUIT report
//! (`reason (fetching URI)`), so the TAM learns why nothing was installed. The payload's digest
//! is checked by the manifest's `condition-image-match` after the fetch, as the processor
//! does for every payload.

use std::time::{Duration, Instant};

use bytes::Bytes;
use teep_suit::{FetchError, PayloadFetcher};

use crate::broker::TlsConfigError;

/// Redirects followed within one fetch.
pub const MAX_REDIRECTS: u32 = 3;

/// Largest payload fetched when the manifest gives no image-size.
pub const DEFAULT_MAX_PAYLOAD: u64 = 64 * 1024 * 1024;

/// How payloads are fetched.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// PEM bundle of CA certificates for `https` payload URIs; `None` uses the Mozilla roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept `http` URIs (a test bed or a trusted network; the digest still binds the bytes).
    pub allow_http: bool,
    /// Time allowed for one fetch, redirects and body included.
    pub timeout: Duration,
    /// Upper bound on any payload, whatever the manifest says.
    pub max_payload: u64,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            ca_pem: None,
            allow_http: false,
            timeout: Duration::from_secs(60),
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// Why a fetcher could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum FetchConfigError {
    #[error("payload CA bundle: {0}")]
    Pem(String),
    #[error("payload CA bundle: no certificate in the PEM file")]
    NoCertificate,
}

/// The real fetcher: ureq over rustls, redirects handled here (see the module text).
pub struct HttpFetcher {
    agent: ureq::Agent,
    config: FetchConfig,
}

impl HttpFetcher {
    pub fn new(config: FetchConfig) -> Result<Self, FetchConfigError> {
        let tls = crate::broker::tls_config(config.ca_pem.as_deref()).map_err(|e| match e {
            TlsConfigError::NoCertificate => FetchConfigError::NoCertificate,
            other => FetchConfigError::Pem(other.to_string()),
        })?;
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(crate::broker::USER_AGENT)
            .accept_encoding("")
            .tls_config(tls)
            .build()
            .into();
        Ok(HttpFetcher { agent, config })
    }

    fn refuse(uri: &str, reason: impl Into<String>) -> FetchError {
        FetchError {
            uri: uri.into(),
            reason: reason.into(),
        }
    }

    /// The scheme of `original` if this fetcher may use it.
    fn scheme_allowed(&self, original: &str) -> Result<String, FetchError> {
        match scheme_of(original).as_deref() {
            Some("https") => Ok("https".into()),
            Some("http") if self.config.allow_http => Ok("http".into()),
            Some("http") => Err(Self::refuse(
                original,
                "plain http refused (the device allows only https payload URIs)",
            )),
            Some(other) => Err(Self::refuse(
                original,
                format!("scheme {other:?} is not fetched (https only)"),
            )),
            None => Err(Self::refuse(original, "not an absolute URI")),
        }
    }
}

/// The scheme of a URI reference (RFC 3986 §3.1), lowercased; `None` for a relative one.
fn scheme_of(uri: &str) -> Option<String> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then(|| scheme.to_ascii_lowercase())
}

/// `location` resolved against `base` (absolute, or an absolute path on the same origin).
fn resolve(base: &ureq::http::Uri, location: &str) -> Option<ureq::http::Uri> {
    if let Ok(u) = location.parse::<ureq::http::Uri>() {
        if u.scheme().is_some() {
            return Some(u);
        }
    }
    if location.starts_with('/') && !location.starts_with("//") {
        let authority = base.authority()?;
        let scheme = base.scheme_str()?;
        return format!("{scheme}://{authority}{location}").parse().ok();
    }
    None
}

impl PayloadFetcher for HttpFetcher {
    fn fetch(&mut self, uri: &str, max_len: u64) -> Result<Bytes, FetchError> {
        let limit = max_len.min(self.config.max_payload);
        let deadline = Instant::now() + self.config.timeout;
        let scheme = self.scheme_allowed(uri)?;
        let mut current: ureq::http::Uri = uri
            .parse()
            .map_err(|e| Self::refuse(uri, format!("not a URI: {e}")))?;
        for _ in 0..=MAX_REDIRECTS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Self::refuse(uri, "timed out"));
            }
            let response = self
                .agent
                .get(current.clone())
                .config()
                .timeout_global(Some(left))
                .build()
                .call()
                .map_err(|e| match e {
                    ureq::Error::Timeout(_) => Self::refuse(uri, "timed out"),
                    other => Self::refuse(uri, other.to_string()),
                })?;
            let status = response.status().as_u16();
            if (300..400).contains(&status) {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| Self::refuse(uri, format!("HTTP {status} without Location")))?;
                if scheme_of(location).is_some_and(|s| s != scheme) {
                    return Err(Self::refuse(
                        uri,
                        format!("redirect to another scheme refused: {scheme} to {location:?}"),
                    ));
                }
                let next = resolve(&current, location).ok_or_else(|| {
                    Self::refuse(
                        uri,
                        format!("HTTP {status} to an unusable Location {location:?}"),
                    )
                })?;
                current = next;
                continue;
            }
            if status != 200 {
                return Err(Self::refuse(uri, format!("HTTP {status}")));
            }
            let declared = response
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(n) = declared.filter(|n| *n > limit) {
                return Err(Self::refuse(
                    uri,
                    format!("Content-Length {n} exceeds the limit of {limit} bytes"),
                ));
            }
            let body = response
                .into_body()
                .with_config()
                .limit(limit)
                .read_to_vec()
                .map_err(|e| match e {
                    ureq::Error::BodyExceedsLimit(_) => {
                        Self::refuse(uri, format!("body exceeds the limit of {limit} bytes"))
                    }
                    ureq::Error::Timeout(_) => Self::refuse(uri, "timed out reading the body"),
                    other => Self::refuse(uri, format!("reading the body: {other}")),
                })?;
            return Ok(Bytes::from(body));
        }
        Err(Self::refuse(
            uri,
            format!("more than {MAX_REDIRECTS} redirects"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    /// An HTTP server on loopback answering each request with what `answer` writes for its
    /// path; every answer says `Connection: close` (the connection is dropped after it, and a
    /// client that kept it for the next request would meet a reset).
    fn server(answer: fn(&str, &mut TcpStream)) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                std::thread::spawn(move || answer(&path, &mut s));
            }
        });
        format!("http://{addr}")
    }

    fn routes(path: &str, s: &mut TcpStream) {
        let _ = match path {
            "/ta" => s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"),
            "/moved" => s.write_all(b"HTTP/1.1 302 Found\r\nConnection: close\r\nLocation: /ta\r\nContent-Length: 0\r\n\r\n"),
            "/to-https" => s.write_all(
                b"HTTP/1.1 301 Moved\r\nConnection: close\r\nLocation: https://127.0.0.1:1/ta\r\nContent-Length: 0\r\n\r\n",
            ),
            "/to-file" => s.write_all(
                b"HTTP/1.1 301 Moved\r\nConnection: close\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n",
            ),
            "/loop" => s.write_all(b"HTTP/1.1 302 Found\r\nConnection: close\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n"),
            "/big" => s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1000000\r\n\r\n"),
            "/endless" => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n");
                loop {
                    if s.write_all(b"400\r\n").is_err()
                        || s.write_all(&[b'x'; 1024]).is_err()
                        || s.write_all(b"\r\n").is_err()
                    {
                        break Ok(());
                    }
                }
            }
            "/slow" => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 100\r\n\r\nabc");
                // Never sends the rest; the connection stays open until the client gives up.
                std::thread::sleep(Duration::from_secs(30));
                Ok(())
            }
            _ => s.write_all(b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
        };
    }

    fn fetcher(allow_http: bool) -> HttpFetcher {
        HttpFetcher::new(FetchConfig {
            allow_http,
            timeout: Duration::from_secs(2),
            ..FetchConfig::default()
        })
        .unwrap()
    }

    fn refusal(f: &mut HttpFetcher, uri: &str, max: u64) -> String {
        f.fetch(uri, max).unwrap_err().reason
    }

    #[test]
    fn fetches_within_the_bound_and_follows_same_scheme_redirects() {
        let base = server(routes);
        let mut f = fetcher(true);
        assert_eq!(&f.fetch(&format!("{base}/ta"), 5).unwrap()[..], b"hello");
        assert_eq!(&f.fetch(&format!("{base}/moved"), 5).unwrap()[..], b"hello");
        assert_eq!(
            refusal(&mut f, &format!("{base}/loop"), 5),
            "more than 3 redirects"
        );
        assert_eq!(refusal(&mut f, &format!("{base}/nothing"), 5), "HTTP 404");
    }

    #[test]
    fn plain_http_and_other_schemes_are_refused_unless_allowed() {
        let base = server(routes);
        let mut f = fetcher(false);
        assert_eq!(
            refusal(&mut f, &format!("{base}/ta"), 5),
            "plain http refused (the device allows only https payload URIs)"
        );
        assert_eq!(
            refusal(&mut f, "file:///etc/passwd", 5),
            "scheme \"file\" is not fetched (https only)"
        );
        let e = f.fetch("ftp://example.org/ta", 5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "fetch ftp://example.org/ta: scheme \"ftp\" is not fetched (https only)"
        );
    }

    #[test]
    fn redirects_to_another_scheme_are_refused() {
        let base = server(routes);
        let mut f = fetcher(true);
        assert!(refusal(&mut f, &format!("{base}/to-https"), 5)
            .starts_with("redirect to another scheme refused: http to \"https://127.0.0.1:1/ta\""));
        assert!(refusal(&mut f, &format!("{base}/to-file"), 5)
            .starts_with("redirect to another scheme refused: http to \"file:///etc/passwd\""));
    }

    #[test]
    fn oversized_endless_and_slow_bodies_are_refused() {
        let base = server(routes);
        let mut f = fetcher(true);
        // The manifest's image-size (here 4) bounds what is read.
        assert_eq!(
            refusal(&mut f, &format!("{base}/ta"), 4),
            "Content-Length 5 exceeds the limit of 4 bytes"
        );
        assert_eq!(
            refusal(&mut f, &format!("{base}/big"), 1000),
            "Content-Length 1000000 exceeds the limit of 1000 bytes"
        );
        assert_eq!(
            refusal(&mut f, &format!("{base}/endless"), 100_000),
            "body exceeds the limit of 100000 bytes"
        );
        let slow = refusal(&mut f, &format!("{base}/slow"), 1000);
        assert!(slow.contains("timed out"), "{slow}");
    }

    #[test]
    fn the_global_cap_bounds_manifests_without_image_size() {
        let base = server(routes);
        let mut f = HttpFetcher::new(FetchConfig {
            allow_http: true,
            max_payload: 3,
            ..FetchConfig::default()
        })
        .unwrap();
        assert_eq!(
            refusal(&mut f, &format!("{base}/ta"), u64::MAX),
            "Content-Length 5 exceeds the limit of 3 bytes"
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let e = HttpFetcher::new(FetchConfig {
            ca_pem: Some(b"not a pem".to_vec()),
            ..FetchConfig::default()
        });
        assert!(matches!(e, Err(FetchConfigError::NoCertificate)));
    }
}
