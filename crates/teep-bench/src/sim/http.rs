//! The two HTTP clients of the simulated device: [`TeepClient`] (hyper, pooled, for tests)
//! and [`TeepConnection`] (one hand-rolled HTTP/1.1 connection per load worker).

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{expect_status, SimError};
/// The TEEP media type (draft-ietf-teep-otrp-over-http).
const TEEP_MEDIA_TYPE: &str = "application/teep+cbor";

/// Largest response body the load generator reads (an Update carries whole TAs).
pub const MAX_RESPONSE_BODY: usize = 64 << 20;

/// Largest response head (status line and headers) the load generator reads.
const MAX_RESPONSE_HEAD: usize = 16 << 10;

/// `url` parsed; only http:// is accepted (no TLS in the simulator).
fn http_url(url: &str) -> Result<hyper::Uri, SimError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| SimError::Http(format!("URL {url:?}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(SimError::Http(
            "only http:// URLs are supported by the load generator".into(),
        ));
    }
    Ok(uri)
}

/// Keep-alive HTTP/1.1 client for the TEEP endpoint.
#[derive(Clone)]
pub struct TeepClient {
    client: Client<HttpConnector, Full<Bytes>>,
    pub url: hyper::Uri,
    /// Send `Content-Type` on the empty POST too (see [`TeepConnection::connect_with`]).
    pub empty_post_content_type: bool,
}

/// A response: status and body.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl TeepClient {
    pub fn new(url: &str) -> Result<TeepClient, SimError> {
        let url = http_url(url)?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(TeepClient {
            client,
            url,
            empty_post_content_type: false,
        })
    }

    pub async fn post(&self, body: Vec<u8>) -> Result<Reply, SimError> {
        let mut req = hyper::Request::post(self.url.clone()).header("accept", TEEP_MEDIA_TYPE);
        if !body.is_empty() || self.empty_post_content_type {
            req = req.header("content-type", TEEP_MEDIA_TYPE);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(SimError::http)?;
        let resp = self.client.request(req).await.map_err(SimError::http)?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(SimError::http)?
            .to_bytes()
            .to_vec();
        Ok(Reply { status, body })
    }

    /// POSTs `body`; the response body if the status is `want`.
    pub(super) async fn expect(&self, body: Vec<u8>, want: u16) -> Result<Vec<u8>, SimError> {
        let r = self.post(body).await?;
        expect_status(r.status, want, &r.body)?;
        Ok(r.body)
    }
}

/// One dedicated keep-alive HTTP/1.1 connection to the TEEP endpoint; a load worker owns one,
/// so there is no pool and no lock between workers.
///
/// Hand-rolled rather than hyper's client: the generator sends one kind of request and
/// reads `Content-Length` responses from one server, and per request hyper's dispatcher
/// task, channels and header maps cost as much CPU as a TEEP message's parsing. The request
/// head is built once; each POST is one write, and a response usually one read.
pub struct TeepConnection {
    stream: tokio::net::TcpStream,
    addr: String,
    /// "POST path HTTP/1.1", Host and Accept.
    head: Vec<u8>,
    /// Send `Content-Type` on the empty POST too.
    empty_post_content_type: bool,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    /// The server said `Connection: close`: the next POST fails.
    closed: bool,
}

impl TeepConnection {
    /// Connects to `url` (http:// only). The empty POST that starts a session goes as teep's
    /// broker sends it: `Accept` and `Content-Length: 0`, no `Content-Type` (there is no
    /// content to type; draft-ietf-teep-otrp-over-http-15 §5.1.1).
    pub async fn connect(url: &str) -> Result<TeepConnection, SimError> {
        Self::connect_with(url, false).await
    }

    /// [`Self::connect`]; with `empty_post_content_type`, the empty POST also carries
    /// `Content-Type: application/teep+cbor`, for TAMs that refuse a POST without one.
    pub async fn connect_with(
        url: &str,
        empty_post_content_type: bool,
    ) -> Result<TeepConnection, SimError> {
        let uri = http_url(url)?;
        let authority = uri
            .authority()
            .ok_or_else(|| SimError::Http(format!("URL {url:?}: no host")))?
            .clone();
        let addr = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: {t}\r\n",
            t = TEEP_MEDIA_TYPE
        )
        .into_bytes();
        let connect_error = |e: std::io::Error| SimError::Http(format!("connect {addr}: {e}"));
        let stream = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
        Ok(TeepConnection {
            stream,
            addr,
            head,
            empty_post_content_type,
            buf: Vec::with_capacity(64 << 10),
            closed: false,
        })
    }

    /// An error about this connection.
    fn error(&self, what: impl std::fmt::Display) -> SimError {
        SimError::Http(format!("{}: {what}", self.addr))
    }

    /// POSTs `body` (empty: start a session); returns the status and the response body.
    pub async fn post(&mut self, body: Vec<u8>) -> Result<(u16, Bytes), SimError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        if self.closed {
            return Err(self.error("the server closed the connection"));
        }
        let req = self.request(&body);
        if let Err(e) = self.stream.write_all(&req).await {
            return Err(self.error(format_args!("write: {e}")));
        }
        loop {
            if let Some(r) = self.parse_response()? {
                return Ok(r);
            }
            if self.buf.capacity() == self.buf.len() {
                self.buf.reserve(64 << 10);
            }
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => {
                    self.closed = true;
                    return Err(self.error("connection closed before a complete response"));
                }
                Ok(_) => {}
                Err(e) => return Err(self.error(format_args!("read: {e}"))),
            }
        }
    }

    /// The request that POSTs `body`: the fixed head, `Content-Type` unless the body is empty
    /// (or [`Self::connect_with`] asked for it there too), `Content-Length` and the body.
    fn request(&self, body: &[u8]) -> Vec<u8> {
        let mut req = Vec::with_capacity(self.head.len() + 80 + body.len());
        req.extend_from_slice(&self.head);
        if !body.is_empty() || self.empty_post_content_type {
            req.extend_from_slice(b"Content-Type: ");
            req.extend_from_slice(TEEP_MEDIA_TYPE.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"Content-Length: ");
        req.extend_from_slice(body.len().to_string().as_bytes());
        req.extend_from_slice(b"\r\n\r\n");
        req.extend_from_slice(body);
        req
    }

    /// A complete response at the start of the buffer, removed from it; `None` if more bytes
    /// are needed.
    fn parse_response(&mut self) -> Result<Option<(u16, Bytes)>, SimError> {
        let parsed = parse_response_head(&self.buf)
            .map_err(|e| self.error(format_args!("malformed response: {e}")))?;
        let Some(r) = parsed else {
            return Ok(None);
        };
        let end = r.body_start + r.body_len;
        if self.buf.len() < end {
            self.buf.reserve(end - self.buf.len());
            return Ok(None);
        }
        let body = Bytes::copy_from_slice(&self.buf[r.body_start..end]);
        self.buf.drain(..end);
        self.closed = r.close;
        Ok(Some((r.status, body)))
    }

    /// POSTs `body`; the response body if the status is `want`.
    pub(super) async fn expect(&mut self, body: Vec<u8>, want: u16) -> Result<Bytes, SimError> {
        let (status, body) = self.post(body).await?;
        expect_status(status, want, &body)?;
        Ok(body)
    }
}

/// What the head of an HTTP/1.1 response says about the response.
#[derive(Debug, PartialEq, Eq)]
struct ResponseHead {
    status: u16,
    /// Offset of the body in the buffer (just past the empty line).
    body_start: usize,
    body_len: usize,
    /// `Connection: close` or HTTP/1.0: no further request on this connection.
    close: bool,
}

/// Parses the response head at the start of `buf`; `None` until the empty line that ends it
/// has arrived. Only what [`TeepConnection`] needs: the status, `Content-Length` (required
/// unless the status has no body) and `Connection: close`; `Transfer-Encoding` is refused.
fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead>, String> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n");
    // Without the empty line, everything so far belongs to the head.
    if end.unwrap_or(buf.len()) > MAX_RESPONSE_HEAD {
        return Err(format!("response head exceeds {MAX_RESPONSE_HEAD} bytes"));
    }
    let Some(end) = end else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let bad_status_line = || format!("status line {status_line:?}");
    let (version, rest) = status_line.split_once(' ').ok_or_else(bad_status_line)?;
    let status = match version {
        "HTTP/1.1" | "HTTP/1.0" => rest
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(bad_status_line)?,
        _ => return Err(bad_status_line()),
    };
    let mut length = None;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let l = value
                .parse::<usize>()
                .map_err(|_| format!("Content-Length {value:?}"))?;
            if length.is_some_and(|prev| prev != l) {
                return Err("conflicting Content-Length headers".into());
            }
            length = Some(l);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!(
                "Transfer-Encoding {value:?}: only Content-Length bodies are supported"
            ));
        } else if name.eq_ignore_ascii_case("connection") {
            close |= value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"));
        }
    }
    let body_len = match (status, length) {
        (100..=199 | 204 | 304, _) => 0,
        (_, Some(l)) => l,
        (_, None) => return Err("response without Content-Length".into()),
    };
    if body_len > MAX_RESPONSE_BODY {
        return Err(format!(
            "body of {body_len} bytes exceeds the limit of {MAX_RESPONSE_BODY}"
        ));
    }
    Ok(Some(ResponseHead {
        status,
        body_start: end + 4,
        body_len,
        close,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/teep+cbor\r\ncontent-length: 3\r\n\r\nabcHTTP/1.1 204";
        assert_eq!(
            parse_response_head(ok),
            Ok(Some(ResponseHead {
                status: 200,
                body_start: ok.len() - 3 - 12,
                body_len: 3,
                close: false
            }))
        );
        // Incomplete head: wait for more bytes.
        assert_eq!(parse_response_head(&ok[..20]), Ok(None));
        let no_content = b"HTTP/1.1 204 No Content\r\nConnection: keep-alive, close\r\n\r\n";
        let h = parse_response_head(no_content).unwrap().unwrap();
        assert_eq!((h.status, h.body_len, h.close), (204, 0, true));
        let old = b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        assert!(parse_response_head(old).unwrap().unwrap().close);
        for (bad, want) in [
            (
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
                "Transfer-Encoding",
            ),
            (b"HTTP/1.1 200 OK\r\n\r\n", "without Content-Length"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "conflicting",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
                "exceeds",
            ),
            (b"HTTP/2 200\r\n\r\n", "status line"),
            (b"HTTP/1.1 2x0 OK\r\n\r\n", "status line"),
            (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "header line"),
            (b"HTTP/1.1 200 OK\r\nX: \xff\r\n\r\n", "UTF-8"),
        ] {
            let e = parse_response_head(bad).unwrap_err();
            assert!(e.contains(want), "{want}: {e}");
        }
        let endless = vec![b'a'; MAX_RESPONSE_HEAD + 1];
        assert!(parse_response_head(&endless)
            .unwrap_err()
            .contains("exceeds"));
    }

    #[tokio::test]
    async fn connection_reads_split_responses_and_honours_close() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut requests = Vec::new();
            for reply in [
                &[
                    &b"HTTP/1.1 200 OK\r\nContent-Le"[..],
                    b"ngth: 4\r\n\r\nab",
                    b"cd",
                ][..],
                &[b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"],
            ] {
                // Read one request: head, then as many body bytes as it announces.
                let mut req = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    let n = s.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "client closed mid-request");
                    req.extend_from_slice(&chunk[..n]);
                    let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&req[..end]).to_string();
                    let len: usize = head
                        .split("\r\n")
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .unwrap()
                        .parse()
                        .unwrap();
                    if req.len() >= end + 4 + len {
                        break;
                    }
                }
                requests.push(req);
                for part in reply {
                    s.write_all(part).await.unwrap();
                    s.flush().await.unwrap();
                }
            }
            requests
        });
        let mut c = TeepConnection::connect(&format!("http://{addr}/tam"))
            .await
            .unwrap();
        let (status, body) = c.post(vec![1, 2, 3]).await.unwrap();
        assert_eq!((status, &body[..]), (200, &b"abcd"[..]));
        assert_eq!(c.post(Vec::new()).await.unwrap().0, 204);
        let e = c.post(Vec::new()).await.unwrap_err().to_string();
        assert!(e.contains("closed the connection"), "{e}");
        let requests = server.await.unwrap();
        let first = String::from_utf8_lossy(&requests[0]);
        assert!(
            first.starts_with("POST /tam HTTP/1.1\r\nHost: 127.0.0.1:"),
            "{first}"
        );
        assert!(
            first.contains("Content-Type: application/teep+cbor\r\n"),
            "{first}"
        );
        assert!(requests[0].ends_with(b"Content-Length: 3\r\n\r\n\x01\x02\x03"));
        // The empty POST as teep's broker sends it: no Content-Type.
        let second = String::from_utf8_lossy(&requests[1]);
        assert!(
            second.ends_with("\r\nAccept: application/teep+cbor\r\nContent-Length: 0\r\n\r\n"),
            "{second}"
        );
        assert!(!second.contains("Content-Type"), "{second}");
    }

    #[tokio::test]
    async fn empty_post_content_type_is_optional() {
        // A listening socket accepts the connection into its backlog; nothing is sent.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/tam", listener.local_addr().unwrap());
        let plain = TeepConnection::connect(&url).await.unwrap();
        let typed = TeepConnection::connect_with(&url, true).await.unwrap();
        let text = |c: &TeepConnection, body: &[u8]| String::from_utf8(c.request(body)).unwrap();
        let ct = "Content-Type: application/teep+cbor\r\n";
        assert!(!text(&plain, b"").contains("Content-Type"));
        assert!(text(&typed, b"").ends_with(&format!("{ct}Content-Length: 0\r\n\r\n")));
        for c in [&plain, &typed] {
            assert!(text(c, b"ab").ends_with(&format!("{ct}Content-Length: 2\r\n\r\nab")));
        }
    }
}
