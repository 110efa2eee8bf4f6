//! The real transport: ureq 3 over rustls. No redirects are followed and no cookies are kept
//! (ureq keeps none without its `cookies` feature); TLS refusals are told apart from other
//! network failures because retrying cannot help them.
//!
//! Every request header is set here rather than left to the client library (which would add
//! Accept-Encoding and its own User-Agent), so the headers `--dump` shows are the ones sent:
//! Host, Accept, Content-Type when there is a body, Content-Length, User-Agent, as in the
//! binding's sample flow (draft-ietf-teep-otrp-over-http-15 §7).

use std::sync::Arc;
use std::time::Duration;

use super::transport::{
    Exchange, Post, TlsConfigError, Transport, TransportError, TEEP_MEDIA_TYPE,
};

/// The User-Agent the Broker sends.
pub const USER_AGENT: &str = concat!("teep-broker/", env!("CARGO_PKG_VERSION"));

/// Largest response body the Broker reads; a TAM answer with manifests stays well below.
pub const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;

/// How the HTTP client is set up.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// PEM bundle of CA certificates for `https` TAM URIs; `None` uses the Mozilla roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Time allowed for one request and its answer.
    pub timeout: Duration,
    pub max_body: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            ca_pem: None,
            timeout: Duration::from_secs(30),
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// The real transport: ureq 3 over rustls.
pub struct HttpTransport {
    agent: ureq::Agent,
    max_body: u64,
}

impl HttpTransport {
    pub fn new(config: &HttpConfig) -> Result<Self, TransportError> {
        let tls = tls_config(config.ca_pem.as_deref()).map_err(TransportError::Tls)?;
        let agent_config = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .user_agent("")
            .accept_encoding("")
            .tls_config(tls)
            .build();
        Ok(HttpTransport {
            agent: agent_config.into(),
            max_body: config.max_body,
        })
    }
}

/// rustls with the CA certificates of `ca_pem` as the roots (the Mozilla roots without it);
/// shared by the TAM transport and the payload fetcher.
pub(crate) fn tls_config(ca_pem: Option<&[u8]>) -> Result<ureq::tls::TlsConfig, TlsConfigError> {
    let mut tls = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::Rustls);
    if let Some(pem) = ca_pem {
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(pem) {
            match item.map_err(|e| TlsConfigError::Pem(Arc::new(e)))? {
                ureq::tls::PemItem::Certificate(c) => certs.push(c),
                _ => continue,
            }
        }
        if certs.is_empty() {
            return Err(TlsConfigError::NoCertificate);
        }
        tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
    }
    Ok(tls.build())
}

/// The rustls error behind a failed request, if TLS itself refused the peer (ureq reports
/// handshake failures as I/O errors wrapping it).
fn tls_refusal(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    }
}

/// The request header fields of `post`, in the order they are set.
fn request_headers(post: &Post<'_>) -> Vec<(String, String)> {
    let mut h = Vec::with_capacity(6);
    if let Ok(uri) = post.uri.parse::<ureq::http::Uri>() {
        if let Some(host) = uri.host() {
            // The port is named when it is not the scheme's default (RFC 9110 §7.2).
            let default = match uri.scheme_str() {
                Some("https") => 443,
                _ => 80,
            };
            let host = match uri.port_u16() {
                Some(p) if p != default => format!("{host}:{p}"),
                _ => host.to_string(),
            };
            h.push(("Host".into(), host));
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            // The client sends the URI's userinfo as Basic credentials; never shown.
            h.push(("Authorization".into(), "Basic (from the URI)".into()));
        }
    }
    h.push(("Accept".into(), TEEP_MEDIA_TYPE.into()));
    if !post.body.is_empty() || post.empty_with_content_type {
        h.push(("Content-Type".into(), TEEP_MEDIA_TYPE.into()));
    }
    h.push(("Content-Length".into(), post.body.len().to_string()));
    h.push(("User-Agent".into(), USER_AGENT.into()));
    h
}

impl Transport for HttpTransport {
    fn send(&self, post: &Post<'_>) -> Result<Exchange, TransportError> {
        let uri = post.uri;
        let network = |e: ureq::Error| match e {
            ureq::Error::BodyExceedsLimit(limit) => TransportError::TooLarge {
                uri: uri.to_string(),
                limit,
            },
            other => match tls_refusal(&other) {
                Some(tls) => TransportError::Handshake {
                    uri: uri.to_string(),
                    cause: tls.clone(),
                },
                None => TransportError::Network {
                    uri: uri.to_string(),
                    cause: Arc::new(other),
                },
            },
        };
        let request_headers = request_headers(post);
        let mut request = self.agent.post(uri);
        for (name, value) in &request_headers {
            // Content-Length comes from the body, the credentials from the URI.
            if name != "Content-Length" && name != "Authorization" {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        let response = request.send(post.body).map_err(network)?;
        let status = response.status().as_u16();
        let response_headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let response_body = response
            .into_body()
            .with_config()
            .limit(self.max_body)
            .read_to_vec()
            .map_err(network)?;
        Ok(Exchange {
            uri: uri.to_string(),
            request_headers,
            request_body: post.body.to_vec(),
            status,
            response_headers,
            response_body,
            deviations: Vec::new(),
            tam_numbering: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_transport_reports_refused_connection() {
        // Port 9 (discard) on loopback is closed on test machines; either way it is not a TAM.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let t = HttpTransport::new(&HttpConfig::default()).unwrap();
        let err = t
            .post(&format!("http://127.0.0.1:{port}/tam"), b"")
            .unwrap_err();
        assert!(matches!(err, TransportError::Network { .. }), "{err}");
    }

    #[test]
    fn request_headers_are_those_of_the_binding_and_the_empty_post_has_no_content_type() {
        let names = |post: &Post<'_>| -> Vec<(String, String)> { request_headers(post) };
        let empty = Post {
            uri: "http://127.0.0.1:8080/tam",
            body: b"",
            empty_with_content_type: false,
        };
        let h = names(&empty);
        let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("Host", "127.0.0.1:8080"),
                ("Accept", "application/teep+cbor"),
                ("Content-Length", "0"),
                ("User-Agent", USER_AGENT),
            ]
        );
        let h = names(&Post {
            empty_with_content_type: true,
            ..empty
        });
        assert!(h.contains(&("Content-Type".into(), TEEP_MEDIA_TYPE.into())));
        let h = names(&Post {
            uri: "https://user:secret@tam.example/tam",
            body: b"x",
            empty_with_content_type: false,
        });
        assert_eq!(h[0], ("Host".into(), "tam.example".into()));
        assert_eq!(h[1].0, "Authorization");
        assert!(!h.iter().any(|(_, v)| v.contains("secret")));
        assert!(h.contains(&("Content-Length".into(), "1".into())));
    }

    #[test]
    fn ca_file_without_certificates_is_rejected() {
        let cfg = HttpConfig {
            ca_pem: Some(b"not a pem".to_vec()),
            ..HttpConfig::default()
        };
        assert!(matches!(
            HttpTransport::new(&cfg),
            Err(TransportError::Tls(_))
        ));
    }
}
