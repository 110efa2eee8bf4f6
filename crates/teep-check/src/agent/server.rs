//! The checker's TAM side of TEEP-HTTP: a small HTTP/1.1 server that plays one case's script.
//! An empty POST opens the next session of the script and is answered with its first message;
//! each message the agent POSTs is recorded as the answer to the last one sent and answered
//! with the next; a session whose messages are all sent ends with 204 (TEEP-HTTP §6.3). One
//! request per connection (`Connection: close`), bodies bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

pub const TEEP: &str = "application/teep+cbor";

/// Largest request read: an agent's message with its Evidence and reports fits many times over.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Longest wait for one request on an accepted connection.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One message the checker sends, and what it is.
#[derive(Clone, Debug)]
pub struct Step {
    pub what: String,
    pub body: Vec<u8>,
}

/// What the agent sent in one session.
#[derive(Clone, Debug, Default)]
pub struct SessionLog {
    /// The header fields of the empty POST that opened it (names lower case).
    pub opening_headers: Vec<(String, String)>,
    /// Per step sent: the agent's answer, with its header fields.
    pub answers: Vec<Option<Received>>,
    /// All steps were sent and answered, and the session ended with 204.
    pub completed: bool,
}

/// A non-empty POST from the agent.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The script of a case and what happened so far.
#[derive(Default)]
struct Play {
    sessions: Vec<Vec<Step>>,
    logs: Vec<SessionLog>,
    /// Steps sent in the current session.
    sent: usize,
    /// Requests outside any script (between cases, or sessions beyond the script).
    stray: usize,
}

impl Play {
    fn done(&self) -> bool {
        !self.sessions.is_empty()
            && self.logs.len() == self.sessions.len()
            && self.logs.last().is_some_and(|l| l.completed)
    }

    /// The answer to one request: the next message, or none (204).
    fn handle(&mut self, headers: Vec<(String, String)>, body: Vec<u8>) -> Option<Vec<u8>> {
        if body.is_empty() {
            let index = self.logs.len();
            let Some(steps) = self.sessions.get(index) else {
                self.stray += 1;
                return None;
            };
            self.logs.push(SessionLog {
                opening_headers: headers,
                answers: vec![None; steps.len()],
                completed: steps.is_empty(),
            });
            self.sent = 0;
            let first = steps.first().map(|s| s.body.clone());
            if first.is_some() {
                self.sent = 1;
            }
            return first;
        }
        let index = self.logs.len().saturating_sub(1);
        let (Some(log), Some(steps)) = (self.logs.last_mut(), self.sessions.get(index)) else {
            self.stray += 1;
            return None;
        };
        if self.sent == 0 || log.completed {
            self.stray += 1;
            return None;
        }
        if let Some(slot) = log.answers.get_mut(self.sent - 1) {
            *slot = Some(Received { headers, body });
        }
        match steps.get(self.sent) {
            Some(next) => {
                self.sent += 1;
                Some(next.body.clone())
            }
            None => {
                log.completed = true;
                None
            }
        }
    }
}

/// The server; dropping it stops it.
pub struct Server {
    pub url: String,
    addr: SocketAddr,
    play: Arc<(Mutex<Play>, Condvar)>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn lock(m: &Mutex<Play>) -> MutexGuard<'_, Play> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Server {
    /// Listens on `addr` (`127.0.0.1:0` for a free port); the TAM URI is `http://ADDR/tam`.
    pub fn start(addr: &str) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let play = Arc::new((Mutex::new(Play::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let play = play.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    serve(conn, &play);
                }
            })
        };
        Ok(Server {
            url: format!("http://{addr}/tam"),
            addr,
            play,
            stop,
            thread: Some(thread),
        })
    }

    /// Starts a case: its sessions, each a list of messages.
    pub fn script(&self, sessions: Vec<Vec<Step>>) {
        let mut p = lock(&self.play.0);
        *p = Play {
            sessions,
            ..Play::default()
        };
    }

    /// Waits until the script was played to its end or `timeout` passed.
    pub fn wait(&self, timeout: Duration) {
        let (m, cv) = &*self.play;
        let p = lock(m);
        let _ = cv.wait_timeout_while(p, timeout, |p| !p.done());
    }

    /// Whether the script was played to its end.
    pub fn done(&self) -> bool {
        lock(&self.play.0).done()
    }

    /// What the agent sent during the case, per session.
    pub fn take(&self) -> Vec<SessionLog> {
        let mut p = lock(&self.play.0);
        let logs = std::mem::take(&mut p.logs);
        p.sessions.clear();
        logs
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, play: &(Mutex<Play>, Condvar)) {
    let _ = conn.set_read_timeout(Some(READ_TIMEOUT));
    let response = match read_request(&conn) {
        Ok((method, _, _)) if method != "POST" => Response::status(405),
        Ok((_, headers, body)) => {
            let (m, cv) = play;
            let answer = lock(m).handle(headers, body);
            cv.notify_all();
            match answer {
                Some(body) => Response { status: 200, body },
                None => Response::status(204),
            }
        }
        Err(status) => Response::status(status),
    };
    write_response(conn, &response);
}

struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Response {
    fn status(status: u16) -> Response {
        Response {
            status,
            body: Vec::new(),
        }
    }
}

type Request = (String, Vec<(String, String)>, Vec<u8>);

/// Method, header fields (names lower case) and body; an error status when unreadable.
fn read_request(conn: &TcpStream) -> Result<Request, u16> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|_| 400u16)?;
    let method = line.split_whitespace().next().ok_or(400u16)?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).map_err(|_| 400u16)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').ok_or(400u16)?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        if headers.len() > 100 {
            return Err(431);
        }
    }
    if header(&headers, "transfer-encoding").is_some() {
        // The agents seen send Content-Length; chunked bodies are not read here.
        return Err(411);
    }
    let len: usize = match header(&headers, "content-length") {
        Some(v) => v.parse().map_err(|_| 400u16)?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err(413);
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).map_err(|_| 400u16)?;
    Ok((method, headers, body))
}

fn write_response(mut conn: TcpStream, r: &Response) {
    let reason = match r.status {
        200 => "OK",
        204 => "No Content",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        _ => "Bad Request",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", r.status);
    if r.status == 200 {
        head.push_str(&format!(
            "Content-Type: {TEEP}\r\nContent-Length: {}\r\n",
            r.body.len()
        ));
    } else if r.status != 204 {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("X-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&r.body);
    let _ = conn.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(b: u8) -> Step {
        Step {
            what: format!("message {b}"),
            body: vec![b],
        }
    }

    /// TEEP-HTTP §5.1.1, §6.3: an empty POST opens a session and gets its first message, each
    /// answer gets the next, and the last answer ends the session with no message (204).
    #[test]
    fn play_follows_the_script() {
        let mut p = Play {
            sessions: vec![vec![step(1), step(2)], vec![step(3)]],
            ..Play::default()
        };
        assert_eq!(p.handle(Vec::new(), Vec::new()), Some(vec![1]));
        assert_eq!(p.handle(Vec::new(), vec![0xa1]), Some(vec![2]));
        assert!(!p.done());
        assert_eq!(p.handle(Vec::new(), vec![0xa2]), None);
        assert!(p.logs[0].completed);
        assert_eq!(p.handle(Vec::new(), Vec::new()), Some(vec![3]));
        assert_eq!(p.handle(Vec::new(), vec![0xa3]), None);
        assert!(p.done());
        let answers: Vec<Vec<u8>> = p
            .logs
            .iter()
            .flat_map(|l| l.answers.iter().flatten().map(|r| r.body.clone()))
            .collect();
        assert_eq!(answers, vec![vec![0xa1], vec![0xa2], vec![0xa3]]);
        // Sessions beyond the script get nothing and are counted, not recorded.
        assert_eq!(p.handle(Vec::new(), Vec::new()), None);
        assert_eq!(p.stray, 1);
        assert_eq!(p.logs.len(), 2);
    }

    /// A message POSTed before any session opened, or after the session ended, is not taken
    /// for an answer.
    #[test]
    fn answers_outside_a_session_are_stray() {
        let mut p = Play {
            sessions: vec![vec![step(1)]],
            ..Play::default()
        };
        assert_eq!(p.handle(Vec::new(), vec![0xa0]), None);
        assert_eq!(p.stray, 1);
        assert!(p.logs.is_empty());
        p.handle(Vec::new(), Vec::new());
        p.handle(Vec::new(), vec![0xa1]);
        assert_eq!(p.handle(Vec::new(), vec![0xa2]), None);
        assert_eq!(p.stray, 2);
        assert_eq!(p.logs[0].answers.len(), 1);
    }

    #[test]
    fn header_names_are_matched_lower_case() {
        let h = vec![("accept".to_string(), TEEP.to_string())];
        assert_eq!(header(&h, "accept"), Some(TEEP));
        assert_eq!(header(&h, "content-type"), None);
    }
}
