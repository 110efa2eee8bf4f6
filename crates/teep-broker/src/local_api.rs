//! The Broker's local API for untrusted applications (RFC 9397 §6.2.1) on a Unix socket.
//!
//! One request per connection: a JSON object on one line, answered by one JSON line.
//! `{"op":"request_ta","tc":"hello","tam_uris":["http://..."]}`, `{"op":"unrequest_ta","tc":"hello"}`,
//! `{"op":"request_policy_check"}`, `{"op":"status"}`; for the operator,
//! `{"op":"add_tam","uri":"http://..."}` and `{"op":"remove_tam","uri":"http://..."}` (the
//! running agent owns the state file, so changes go through it). The socket file is created
//! with the process umask; who may connect is decided by the directory's permissions.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use teep_agent::tc_id::TcId;

/// Longest request line read from a client.
pub const MAX_REQUEST: u64 = 64 * 1024;
/// Longest answer line read back by [`call`].
pub const MAX_RESPONSE: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum LocalRequest {
    /// A UA needs this TC; `tam_uris` are hints from its metadata.
    RequestTa {
        tc: TcId,
        #[serde(default)]
        tam_uris: Vec<String>,
    },
    /// A UA no longer needs this TC.
    UnrequestTa { tc: TcId },
    /// Contact every TAM now.
    RequestPolicyCheck,
    /// Identity and installed TCs, for `teep agent status`.
    Status,
    /// Operator: remember a TAM URI (`teep agent tam add`).
    AddTam { uri: String },
    /// Operator: forget a TAM URI and what was learnt of it (`teep agent tam remove`).
    RemoveTam { uri: String },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocalResponse {
    pub ok: bool,
    pub message: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

impl LocalResponse {
    pub fn ok(message: impl Into<String>) -> Self {
        LocalResponse {
            ok: true,
            message: message.into(),
            detail: serde_json::Value::Null,
        }
    }
    pub fn error(message: impl Into<String>) -> Self {
        LocalResponse {
            ok: false,
            message: message.into(),
            detail: serde_json::Value::Null,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocalApiError {
    #[error("local API socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("local API socket {path}: another agent is already listening")]
    InUse { path: PathBuf },
    #[error("local API answer: {0}")]
    BadAnswer(serde_json::Error),
}

/// A request waiting for the agent's main loop, with the way back to its client.
pub struct Pending {
    pub request: LocalRequest,
    reply: mpsc::Sender<LocalResponse>,
}

impl Pending {
    pub fn answer(self, response: LocalResponse) {
        // The client may have gone; nothing to do then.
        let _ = self.reply.send(response);
    }
}

/// Listens on the socket in a background thread and hands requests to the main loop, which
/// owns the Agent: requests are therefore serialised with policy checks.
pub struct LocalApiServer {
    path: PathBuf,
    pub requests: mpsc::Receiver<Pending>,
}

impl LocalApiServer {
    pub fn bind(path: &Path) -> Result<Self, LocalApiError> {
        let io = |source| LocalApiError::Io {
            path: path.to_path_buf(),
            source,
        };
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(LocalApiError::InUse {
                    path: path.to_path_buf(),
                });
            }
            // A socket left by an agent that died: nobody answers it, so it can go.
            std::fs::remove_file(path).map_err(io)?;
        }
        let listener = UnixListener::bind(path).map_err(io)?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || accept_loop(listener, tx));
        Ok(LocalApiServer {
            path: path.to_path_buf(),
            requests: rx,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LocalApiServer {
    fn drop(&mut self) {
        // Nothing to return to in a destructor; a socket left behind is replaced by the next bind.
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "local API socket not removed");
        }
    }
}

fn accept_loop(listener: UnixListener, tx: mpsc::Sender<Pending>) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "local API: accepting a client failed");
                continue;
            }
        };
        let tx = tx.clone();
        // One short-lived thread per client so a slow client cannot stall the others.
        std::thread::spawn(move || serve_client(stream, &tx));
    }
}

fn serve_client(stream: UnixStream, tx: &mpsc::Sender<Pending>) {
    if let Err(e) = stream.set_read_timeout(Some(Duration::from_secs(10))) {
        tracing::warn!(error = %e, "local API: no read timeout on a client");
    }
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "local API: cannot answer a client");
            return;
        }
    };
    let mut line = String::new();
    let read = BufReader::new(stream)
        .take(MAX_REQUEST)
        .read_line(&mut line);
    let response = match read {
        Err(e) => LocalResponse::error(format!("request: {e}")),
        Ok(_) if !line.ends_with('\n') => LocalResponse::error(format!(
            "request: expected one JSON line of at most {MAX_REQUEST} bytes"
        )),
        Ok(_) => match serde_json::from_str::<LocalRequest>(&line) {
            Err(e) => LocalResponse::error(format!("request: {e}")),
            Ok(request) => {
                let (reply, answer) = mpsc::channel();
                if tx.send(Pending { request, reply }).is_err() {
                    LocalResponse::error("agent is shutting down")
                } else {
                    answer
                        .recv()
                        .unwrap_or_else(|_| LocalResponse::error("agent dropped the request"))
                }
            }
        },
    };
    let written = serde_json::to_string(&response)
        .map_err(std::io::Error::from)
        .and_then(|mut text| {
            text.push('\n');
            writer.write_all(text.as_bytes())
        });
    if let Err(e) = written {
        // The client may have gone; it is the one that learns nothing.
        tracing::debug!(error = %e, "local API: answer not delivered");
    }
}

/// Sends one request to a running agent and waits for its answer.
pub fn call(path: &Path, request: &LocalRequest) -> Result<LocalResponse, LocalApiError> {
    let io = |source| LocalApiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(path).map_err(io)?;
    let mut text = serde_json::to_string(request).map_err(LocalApiError::BadAnswer)?;
    text.push('\n');
    stream.write_all(text.as_bytes()).map_err(io)?;
    let mut line = String::new();
    BufReader::new(stream)
        .take(MAX_RESPONSE)
        .read_line(&mut line)
        .map_err(io)?;
    serde_json::from_str(&line).map_err(LocalApiError::BadAnswer)
}

/// True when an agent answers on `path`.
pub fn is_listening(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_through_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let server = LocalApiServer::bind(&path).unwrap();
        let client = {
            let path = path.clone();
            std::thread::spawn(move || {
                call(
                    &path,
                    &LocalRequest::RequestTa {
                        tc: TcId::parse("hello").unwrap(),
                        tam_uris: vec![],
                    },
                )
            })
        };
        let pending = server.requests.recv().unwrap();
        assert_eq!(
            pending.request,
            LocalRequest::RequestTa {
                tc: TcId::parse("hello").unwrap(),
                tam_uris: vec![]
            }
        );
        pending.answer(LocalResponse::ok("queued"));
        let answer = client.join().unwrap().unwrap();
        assert_eq!(answer, LocalResponse::ok("queued"));
    }

    #[test]
    fn bad_json_gets_an_error_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let _server = LocalApiServer::bind(&path).unwrap();
        let mut s = UnixStream::connect(&path).unwrap();
        s.write_all(b"{\"op\":\"launch_missiles\"}\n").unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        let answer: LocalResponse = serde_json::from_str(&line).unwrap();
        assert!(!answer.ok);
        assert!(
            answer.message.contains("launch_missiles"),
            "{}",
            answer.message
        );
    }

    #[test]
    fn second_server_on_same_socket_is_refused_and_stale_socket_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let server = LocalApiServer::bind(&path).unwrap();
        assert!(matches!(
            LocalApiServer::bind(&path),
            Err(LocalApiError::InUse { .. })
        ));
        drop(server);
        // A stale socket file (listener gone) does not block a new agent.
        let _stale = UnixListener::bind(&path).map(drop);
        assert!(LocalApiServer::bind(&path).is_ok());
    }

    #[test]
    fn tc_id_travels_as_text() {
        let req = LocalRequest::UnrequestTa {
            tc: TcId::parse("hello").unwrap(),
        };
        let json = serde_json::to_string(&req).unwrap();
        let back: LocalRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, req);
        assert!(
            json.starts_with(r#"{"op":"unrequest_ta","tc":"['TEEP-Device', 'SecureFS', h'"#),
            "{json}"
        );
    }
}
