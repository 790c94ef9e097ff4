//! Shared helpers of the end-to-end tests: finding the built binary and
//! running it as a child process that is always stopped.

use std::path::PathBuf;
use std::process::{Child, Command};

/// The `payledger` binary of this build. `make test` builds it before the
/// tests run; set `PAYLEDGER_BIN` to test another build.
pub fn payledger_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PAYLEDGER_BIN") {
        return PathBuf::from(path);
    }
    // Test executables live in target/<profile>/deps; the binary one level up.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable sits in target/<profile>/deps");
    let bin = profile_dir.join("payledger");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --release -p payledger` (make test does)",
        bin.display()
    );
    bin
}

/// A child process that is killed when dropped, so a failing test never
/// leaves a server behind.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn spawn(command: &mut Command) -> Self {
        Self(command.spawn().expect("spawn child process"))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

/// A running `payledger serve` on 127.0.0.1 with a port the OS picked,
/// stopped when dropped.
#[derive(Debug)]
pub struct Server {
    child: Option<ChildGuard>,
    data: PathBuf,
    base_url: String,
}

impl Server {
    /// Starts a server on the store in `data`.
    pub fn start(data: &Path) -> Self {
        let mut child = ChildGuard::spawn(
            Command::new(payledger_bin())
                .args(["serve", "--listen", "127.0.0.1:0", "--data"])
                .arg(data)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdout = child.0.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        // The server prints its bound address once it listens.
        let base_url = loop {
            let line = lines
                .next()
                .expect("the server exited before listening")
                .expect("read server output");
            if let Some(url) = line.strip_prefix("payledger listening on ") {
                break url.trim().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child: Some(child),
            data: data.to_path_buf(),
            base_url,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.base_url
    }

    /// Stops the server with SIGKILL: every acknowledged write is already
    /// durable, so no graceful shutdown is needed to keep it.
    pub fn stop(&mut self) {
        self.child = None;
    }

    /// Stops and starts the server on the same data.
    pub fn restart(mut self) -> Self {
        self.stop();
        Self::start(&self.data)
    }
}

/// Creates an API client with the CLI (the server must not be running on
/// `data`).
pub fn create_client(data: &Path, id: &str, secret: &str, scope: &str) {
    let status = Command::new(payledger_bin())
        .args(["clients", "create", "--data"])
        .arg(data)
        .args(["--id", id, "--secret", secret, "--scope", scope])
        .stdout(Stdio::null())
        .status()
        .expect("run payledger clients create");
    assert!(status.success(), "payledger clients create failed");
}

/// A client of the HTTP API with a bearer token.
#[derive(Debug)]
pub struct Api {
    pub base: String,
    pub project: String,
    token: String,
    http: reqwest::blocking::Client,
}

/// A response: status, body (JSON or Null) and headers.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Api {
    /// Fetches a token with client credentials for `scope`.
    pub fn connect(base: &str, project: &str, client_id: &str, secret: &str, scope: &str) -> Self {
        let http = reqwest::blocking::Client::new();
        let reply = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .expect("token request");
        assert_eq!(reply.status().as_u16(), 200, "token request failed");
        let body: serde_json::Value = reply.json().expect("token JSON");
        let token = body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned();
        Self {
            base: base.to_owned(),
            project: project.to_owned(),
            token,
            http,
        }
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Reply {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .expect("HTTP request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().expect("response body");
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}{}", self.base, self.project, path)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.url(path)))
    }

    pub fn head(&self, path: &str) -> Reply {
        self.send(self.http.head(self.url(path)))
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.send(self.http.post(self.url(path)).json(body))
    }

    pub fn post_with(
        &self,
        path: &str,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.http.post(self.url(path)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request)
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.send(self.http.delete(self.url(path)))
    }
}

/// The Python with the test peers' packages (`make test` creates `.venv`
/// at the workspace root); `PAYLEDGER_PYTHON` overrides it.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("PAYLEDGER_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `make test`, which installs the test peers",
        venv.display()
    );
    venv
}
