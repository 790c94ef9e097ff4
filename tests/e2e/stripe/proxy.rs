//! A small HTTP proxy between payledger and localstripe that can take the
//! PSP down, or forward one PaymentIntent creation and then "crash" the
//! caller before it sees the answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What the proxy does with the next requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Close every connection without answering: the PSP is down.
    Down,
    /// Forward a PaymentIntent creation, run the crash hook, answer
    /// nothing; then act as `Down`.
    CrashAfterCreate,
}

type Hook = Box<dyn FnMut() + Send>;

struct Shared {
    mode: Mode,
    hook: Option<Hook>,
    /// Requests that reached the upstream, as `METHOD path`.
    forwarded: Vec<String>,
    refused: usize,
}

/// The running proxy.
#[derive(Clone)]
pub struct Proxy {
    url: String,
    shared: Arc<Mutex<Shared>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").field("url", &self.url).finish()
    }
}

/// Longest accepted request head, in bytes.
const HEAD_BYTES_MAX: usize = 64 * 1024;

impl Proxy {
    /// Starts a proxy to `upstream` (`http://host:port`) on a free port.
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::new(Mutex::new(Shared {
            mode: Mode::Pass,
            hook: None,
            forwarded: Vec::new(),
            refused: 0,
        }));
        let proxy = Self { url, shared };
        let worker = proxy.clone();
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let worker = worker.clone();
                let upstream = upstream.clone();
                std::thread::spawn(move || worker.serve(stream, &upstream));
            }
        });
        proxy
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.lock().expect("proxy state").mode = mode;
    }

    /// Runs `hook` when a creation was forwarded in `CrashAfterCreate`.
    pub fn on_crash(&self, hook: impl FnMut() + Send + 'static) {
        self.shared.lock().expect("proxy state").hook = Some(Box::new(hook));
    }

    pub fn forwarded(&self) -> Vec<String> {
        self.shared.lock().expect("proxy state").forwarded.clone()
    }

    pub fn refused(&self) -> usize {
        self.shared.lock().expect("proxy state").refused
    }

    fn serve(&self, stream: TcpStream, upstream: &str) {
        let Some((line, headers, body)) = read_request(&stream) else {
            return;
        };
        let mode = self.shared.lock().expect("proxy state").mode;
        let creation = line.starts_with("POST /v1/payment_intents ");
        match mode {
            Mode::Down => {
                self.shared.lock().expect("proxy state").refused += 1;
            }
            Mode::Pass => {
                let answer = forward(upstream, &line, &headers, body);
                self.note(&line);
                write_answer(stream, answer);
            }
            Mode::CrashAfterCreate if creation => {
                let _ = forward(upstream, &line, &headers, body);
                self.note(&line);
                let hook = {
                    let mut shared = self.shared.lock().expect("proxy state");
                    shared.mode = Mode::Down;
                    shared.hook.take()
                };
                if let Some(mut hook) = hook {
                    hook();
                }
            }
            Mode::CrashAfterCreate => {
                let answer = forward(upstream, &line, &headers, body);
                self.note(&line);
                write_answer(stream, answer);
            }
        }
    }

    fn note(&self, line: &str) {
        let request: String = line.split(' ').take(2).collect::<Vec<_>>().join(" ");
        self.shared
            .lock()
            .expect("proxy state")
            .forwarded
            .push(request);
    }
}

/// Request line, lower-cased headers and body.
type Request = (String, Vec<(String, String)>, Vec<u8>);

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    let mut size = line.len();
    loop {
        let mut header = String::new();
        size += reader.read_line(&mut header).ok()?;
        if size > HEAD_BYTES_MAX {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((line.trim_end().to_owned(), headers, body))
}

/// Status, content type and body of the upstream's answer.
type Answer = Option<(u16, String, Vec<u8>)>;

fn forward(upstream: &str, line: &str, headers: &[(String, String)], body: Vec<u8>) -> Answer {
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let path = parts.next()?;
    let client = reqwest::blocking::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).ok()?;
    let mut request = client
        .request(method, format!("{upstream}{path}"))
        .body(body);
    for (name, value) in headers {
        if matches!(
            name.as_str(),
            "authorization" | "content-type" | "idempotency-key"
        ) {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    let response = request.send().ok()?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    Some((status, content_type, response.bytes().ok()?.to_vec()))
}

fn write_answer(mut stream: TcpStream, answer: Answer) {
    let Some((status, content_type, body)) = answer else {
        return;
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}
