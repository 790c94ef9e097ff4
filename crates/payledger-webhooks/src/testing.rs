//! A real HTTP receiver for tests: it listens on 127.0.0.1, over plain
//! HTTP or HTTPS, verifies the signature of every request it reads,
//! records what arrived, and answers according to its [`Mode`] (take
//! everything, fail the first attempts of each delivery, refuse with a
//! status, or drop connections unanswered as a receiver that is down
//! does). Tests wait on its condition variable, never on the clock.
//!
//! HTTPS uses a certificate for `127.0.0.1` / `localhost` issued by a test
//! CA ([`TEST_CA_PEM`], valid until 2126); clients trust it by adding that
//! CA as a root. The key is a test key and secures nothing.

use crate::send::{ATTEMPT_HEADER, DELIVERY_HEADER, SUBSCRIPTION_HEADER};
use crate::signature::{SIGNATURE_HEADER, verify};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The CA that issued the HTTPS receiver's certificate.
pub const TEST_CA_PEM: &[u8] = include_bytes!("testing/test-ca.pem");
const RECEIVER_CERT_PEM: &[u8] = include_bytes!("testing/receiver-cert.pem");
const RECEIVER_KEY_PEM: &[u8] = include_bytes!("testing/receiver-key.pem");

/// Largest request body the receiver reads, in bytes.
pub const RECEIVED_BODY_BYTES_MAX: usize = 1 << 20;

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// 200 to everything.
    Accept,
    /// 503 to the first `n` attempts of each delivery id, then 200.
    FailFirst(u32),
    /// This status to everything.
    Answer(u16),
    /// Reads the request and closes the connection without an answer.
    Drop,
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub delivery_id: String,
    pub subscription_id: String,
    pub attempt: u32,
    pub body: Vec<u8>,
    /// Whether `X-Payledger-Signature` verified against the body.
    pub signature_ok: bool,
    pub content_type: String,
    /// The status answered; 0 when the connection was dropped.
    pub answered: u16,
    /// The TLS handshake failed (the client did not trust the
    /// certificate); nothing else was read.
    pub handshake_failed: bool,
}

impl Received {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The requests answered with 2xx, the first of each delivery id, in
/// arrival order: what a receiver that dedupes would have applied.
pub fn taken(received: &[Received]) -> Vec<Received> {
    let mut seen = std::collections::HashSet::new();
    received
        .iter()
        .filter(|r| (200..300).contains(&r.answered) && seen.insert(r.delivery_id.clone()))
        .cloned()
        .collect()
}

#[derive(Debug)]
struct State {
    mode: Mode,
    received: Vec<Received>,
    attempts: HashMap<String, u32>,
}

#[derive(Debug)]
struct Shared {
    secret: Vec<u8>,
    state: Mutex<State>,
    arrived: Condvar,
    closing: AtomicBool,
}

/// The running receiver; stopped on drop.
#[derive(Debug)]
pub struct Receiver {
    shared: Arc<Shared>,
    address: std::net::SocketAddr,
    scheme: &'static str,
    acceptor: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on a free port of 127.0.0.1, plain HTTP.
    pub fn start(secret: &str, mode: Mode) -> std::io::Result<Self> {
        Self::listen(secret, mode, None)
    }

    /// Listens on a free port of 127.0.0.1, HTTPS with the test
    /// certificate (see [`TEST_CA_PEM`]).
    pub fn start_tls(secret: &str, mode: Mode) -> std::io::Result<Self> {
        Self::listen(secret, mode, Some(tls_config()?))
    }

    fn listen(
        secret: &str,
        mode: Mode,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            secret: secret.as_bytes().to_vec(),
            state: Mutex::new(State {
                mode,
                received: Vec::new(),
                attempts: HashMap::new(),
            }),
            arrived: Condvar::new(),
            closing: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.closing.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let shared = Arc::clone(&accepting);
                    let tls = tls.clone();
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                        match tls {
                            None => serve(&shared, stream),
                            Some(config) => serve_tls(&shared, stream, config),
                        }
                    });
                }
            }
        });
        Ok(Self {
            shared,
            address,
            scheme,
            acceptor: Some(acceptor),
        })
    }

    /// The URL deliveries should go to.
    pub fn url(&self) -> String {
        format!("{}://{}/hooks/payledger", self.scheme, self.address)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.state.lock().mode = mode;
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.state.lock().received.clone()
    }

    /// Blocks until `done` holds for what was received, or `timeout`
    /// passes; returns what was received either way.
    pub fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock();
        while !done(&state.received) {
            if self
                .shared
                .arrived
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                break;
            }
        }
        state.received.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(self.address);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn tls_config() -> std::io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let chain = CertificateDer::pem_slice_iter(RECEIVER_CERT_PEM)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&e))?;
    let key = PrivateKeyDer::from_pem_slice(RECEIVER_KEY_PEM).map_err(|e| invalid(&e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(&e))?;
    Ok(Arc::new(config))
}

fn serve_tls(shared: &Shared, stream: TcpStream, config: Arc<rustls::ServerConfig>) {
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            let mut state = shared.state.lock();
            state.received.push(Received {
                delivery_id: String::new(),
                subscription_id: String::new(),
                attempt: 0,
                body: Vec::new(),
                signature_ok: false,
                content_type: String::new(),
                answered: 0,
                handshake_failed: true,
            });
            drop(state);
            shared.arrived.notify_all();
            return;
        }
    }
    serve(shared, &mut tls);
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// Reads one request from `stream`, records it, answers it.
fn serve<S: Read + Write>(shared: &Shared, mut stream: S) {
    let Some((headers, body)) = read_request(&mut stream) else {
        return;
    };
    let header = |name: &str| {
        headers
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let signature_ok = verify(&shared.secret, &header(SIGNATURE_HEADER), &body, now).is_ok();
    let delivery_id = header(DELIVERY_HEADER);
    let answered = {
        let mut state = shared.state.lock();
        let seen = state.attempts.entry(delivery_id.clone()).or_insert(0);
        *seen += 1;
        let seen = *seen;
        let answered = match state.mode {
            Mode::Accept => 200,
            Mode::FailFirst(n) if seen <= n => 503,
            Mode::FailFirst(_) => 200,
            Mode::Answer(status) => status,
            Mode::Drop => 0,
        };
        state.received.push(Received {
            delivery_id,
            subscription_id: header(SUBSCRIPTION_HEADER),
            attempt: header(ATTEMPT_HEADER).parse().unwrap_or(0),
            body,
            signature_ok,
            content_type: header("content-type"),
            answered,
            handshake_failed: false,
        });
        answered
    };
    if answered != 0 {
        let response = format!(
            "HTTP/1.1 {answered} Receiver\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let _ = stream.write_all(response.as_bytes());
        let _ = stream.flush();
    }
    // Wake waiters only after the answer left, so a waiter that sees a
    // request knows its answer is on the wire.
    shared.arrived.notify_all();
}

/// The headers (lower-case names) and body of one HTTP/1.1 request.
fn read_request(stream: &mut impl Read) -> Option<(HashMap<String, String>, Vec<u8>)> {
    let mut reader = BufReader::new(stream);
    let mut headers: HashMap<String, String> = HashMap::new();
    let mut line = String::new();
    // Request line, then headers up to the empty line.
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(RECEIVED_BODY_BYTES_MAX);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}
