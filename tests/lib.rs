//! Shared helpers of the end-to-end tests: finding the built binary and
//! running it as a child process that is always stopped.

use std::path::PathBuf;
use std::process::{Child, Command};

/// The `payledger` binary of this build. `make test` builds it before the
/// tests run; set `PAYLEDGER_BIN` to test another build.
pub fn payledger_bin() -> PathBuf {
    built_binary("payledger", "PAYLEDGER_BIN")
}

/// The `payledger-bench` binary of this build (benchmarks and the crash
/// test's stress writer); `PAYLEDGER_BENCH_BIN` overrides it.
pub fn payledger_bench_bin() -> PathBuf {
    built_binary("payledger-bench", "PAYLEDGER_BENCH_BIN")
}

fn built_binary(name: &str, variable: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    // Test executables live in target/<profile>/deps; the binary one level up.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable sits in target/<profile>/deps");
    let bin = profile_dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --release --bins` (make test does)",
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
    /// Further `serve` arguments and environment, kept for restarts.
    launch: Launch,
}

/// How a server starts beyond its data directory.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Further `serve` arguments (e.g. `--kafka-brokers`).
    pub args: Vec<String>,
    /// Environment variables set for the server.
    pub env: Vec<(String, String)>,
    /// A file the server's log lines (stderr) are appended to, instead of
    /// the test's own stderr.
    pub log_file: Option<PathBuf>,
}

impl Server {
    /// Starts a server on the store in `data`.
    pub fn start(data: &Path) -> Self {
        Self::start_with(data, &[])
    }

    /// Starts a server on the store in `data` with further `serve`
    /// arguments (e.g. `--kafka-brokers`), which restarts keep.
    pub fn start_with(data: &Path, args: &[&str]) -> Self {
        Self::launch(
            data,
            Launch {
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                ..Launch::default()
            },
        )
    }

    /// Starts a server on the store in `data` as `launch` says.
    pub fn launch(data: &Path, launch: Launch) -> Self {
        let stderr = match &launch.log_file {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("open the server's log file"),
            ),
            None => Stdio::inherit(),
        };
        let mut child = ChildGuard::spawn(
            Command::new(payledger_bin())
                .args(["serve", "--listen", "127.0.0.1:0", "--data"])
                .arg(data)
                .args(&launch.args)
                .envs(launch.env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::piped())
                .stderr(stderr),
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
            launch,
        }
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|child| child.0.id())
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

    /// Stops the server with SIGTERM and waits for its graceful exit
    /// (log consumers finish what is under way and save their cursors).
    pub fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill")
                .args(["-TERM", &child.0.id().to_string()])
                .status()
                .expect("run kill -TERM");
            assert!(status.success(), "kill -TERM failed");
            let exit = child.0.wait().expect("wait for the server");
            assert!(
                exit.success(),
                "the server exited with {exit} after SIGTERM"
            );
        }
    }

    /// Stops and starts the server on the same data.
    pub fn restart(mut self) -> Self {
        self.stop();
        Self::launch(&self.data, self.launch.clone())
    }
}

/// A test that ends with its server still running also checks that every
/// view, index and event-id row of the store is what the events give
/// (`payledger replay --check`, beside the running server): every suite's
/// traffic is replayed.
impl Drop for Server {
    fn drop(&mut self) {
        // A fixture that removed its directory first has nothing to check.
        let stored = self.data.join("CURRENT").exists();
        if self.child.is_none() || std::thread::panicking() || !stored {
            return;
        }
        let check = Command::new(payledger_bin())
            .args(["replay", "--check", "--data"])
            .arg(&self.data)
            .output()
            .expect("run payledger replay --check");
        assert!(
            check.status.success(),
            "the projections differ from what the events give after this test's traffic:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
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

    /// The bearer token, for tools that call the API themselves.
    pub fn token(&self) -> &str {
        &self.token
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

/// The `tansu` Kafka-protocol broker (`make test` installs it into
/// `~/.cargo/bin`); `PAYLEDGER_TANSU` overrides it.
pub fn tansu_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PAYLEDGER_TANSU") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tansu"))
            .find(|candidate| candidate.is_file())
    });
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    let installed = cargo_home.map(|home| home.join("bin/tansu"));
    on_path
        .or(installed.filter(|path| path.is_file()))
        .expect("tansu is missing: run `make test` (scripts/ensure-tansu.sh installs it)")
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Where a [`Tansu`] broker keeps its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TansuStorage {
    /// In memory: fast, lost when the broker stops.
    Memory,
    /// SQLite under the broker's directory: survives broker restarts.
    Sqlite,
}

/// How long a broker may take to print `ready`.
pub const TANSU_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A tansu broker on 127.0.0.1, killed when dropped. It runs in `dir`,
/// so its SQLite path is relative (tansu doubles absolute paths).
#[derive(Debug)]
pub struct Tansu {
    child: Option<ChildGuard>,
    dir: PathBuf,
    port: u16,
    storage: TansuStorage,
}

impl Tansu {
    /// Starts a broker on a free port with its files under `dir`.
    pub fn start(dir: &Path, storage: TansuStorage) -> Self {
        let mut broker = Self {
            child: None,
            dir: dir.to_path_buf(),
            port: free_port(),
            storage,
        };
        broker.run();
        broker
    }

    /// `HOST:PORT` for `bootstrap.servers` and `--kafka-brokers`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the broker gracefully (SIGTERM), or kills it when it does not
    /// exit in time.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        // Wait for the exit on another thread; the guard kills the broker
        // if it is still running when the deadline passes.
        let (exited, exit) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _ = child.0.wait();
            let _ = exited.send(());
        });
        if exit.recv_timeout(TANSU_READY_TIMEOUT).is_err() {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        let _ = waiter.join();
    }

    /// Creates a topic with the broker's own command line.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(tansu_bin())
            .args(["topic", "create", "--broker"])
            .arg(format!("tcp://127.0.0.1:{}", self.port))
            .args(["--partitions", &partitions.to_string(), name])
            .stdout(Stdio::null())
            .status()
            .expect("run tansu topic create");
        assert!(status.success(), "tansu topic create {name} failed");
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    fn run(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let storage = match self.storage {
            TansuStorage::Memory => "memory://tansu/".to_owned(),
            TansuStorage::Sqlite => {
                std::fs::create_dir_all(self.dir.join("sqlite")).expect("create sqlite dir");
                "sqlite://sqlite/tansu.db".to_owned()
            }
        };
        std::fs::create_dir_all(&self.dir).expect("create broker dir");
        let mut child = ChildGuard::spawn(
            Command::new(tansu_bin())
                .current_dir(&self.dir)
                .args(["broker", "--listener-url", &url])
                .args(["--advertised-listener-url", &url])
                .args(["--storage-engine", &storage])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let (lines, ready) = std::sync::mpsc::channel::<String>();
        let stdout = child.0.stdout.take().expect("piped stdout");
        let stderr = child.0.stderr.take().expect("piped stderr");
        for pipe in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let lines = lines.clone();
            let port = self.port;
            // Drains the pipe for the broker's whole life; the broker's
            // complaints show in the output of a failing test.
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if ["ERROR", "WARN", "panicked"]
                        .iter()
                        .any(|w| line.contains(w))
                    {
                        eprintln!("tansu {port}: {line}");
                    }
                    let _ = lines.send(line);
                }
            });
        }
        let deadline = std::time::Instant::now() + TANSU_READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = ready
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("tansu on port {} never printed `ready`", self.port));
            if line.contains("ready") {
                break;
            }
        }
        self.child = Some(child);
    }
}

/// Reading the relay's topics and checking its delivery contract.
pub mod kafka {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    use std::collections::{HashMap, HashSet};
    use std::time::{Duration, Instant};

    /// One consumed record.
    #[derive(Clone, Debug)]
    pub struct Consumed {
        pub message_id: String,
        pub payment: String,
        pub version: u64,
        pub message: serde_json::Value,
    }

    /// How long a reader waits for its consumer to leave the group.
    pub const CONSUMER_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

    /// A consumer-group member subscribed to one topic from its start.
    pub struct TopicReader {
        /// Taken by `drop`, which closes it with a deadline.
        consumer: Option<BaseConsumer>,
    }

    impl Drop for TopicReader {
        /// rdkafka's own drop polls until the consumer left its group, with
        /// no deadline; after a broker restart tansu may never answer, so
        /// a consumer that did not close in time is leaked instead (its
        /// threads end with the test process).
        fn drop(&mut self) {
            let Some(consumer) = self.consumer.take() else {
                return;
            };
            if consumer.close_queue().is_ok() {
                let deadline = Instant::now() + CONSUMER_CLOSE_TIMEOUT;
                while !consumer.closed() && Instant::now() < deadline {
                    consumer.poll(Duration::from_millis(100));
                }
            }
            if consumer.closed() {
                drop(consumer);
            } else {
                std::mem::forget(consumer);
            }
        }
    }

    impl std::fmt::Debug for TopicReader {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("TopicReader")
        }
    }

    impl TopicReader {
        pub fn subscribe(brokers: &str, group: &str, topic: &str) -> Self {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", brokers)
                .set("group.id", group)
                .set("auto.offset.reset", "earliest")
                .set("enable.auto.commit", "true")
                .set("topic.metadata.refresh.interval.ms", "500")
                .create()
                .expect("create consumer");
            consumer.subscribe(&[topic]).expect("subscribe");
            Self {
                consumer: Some(consumer),
            }
        }

        /// Reads until every payment in `expected` reached its version
        /// (after dedupe), or panics at `deadline`.
        pub fn read_until(
            &self,
            expected: &HashMap<String, u64>,
            timeout: Duration,
        ) -> Vec<Consumed> {
            let consumer = self.consumer.as_ref().expect("an open consumer");
            let deadline = Instant::now() + timeout;
            let mut consumed = Vec::new();
            let mut reached: HashMap<String, u64> = HashMap::new();
            let mut complete = expected
                .iter()
                .filter(|(_, version)| **version == 0)
                .count();
            while complete < expected.len() {
                assert!(
                    Instant::now() < deadline,
                    "{complete} of {} payments complete after {timeout:?}; {} records read",
                    expected.len(),
                    consumed.len()
                );
                let Some(polled) = consumer.poll(Duration::from_millis(100)) else {
                    continue;
                };
                // Transient errors (e.g. the topic does not exist yet).
                let Ok(message) = polled else { continue };
                let record = decode(&message);
                let seen = reached.entry(record.payment.clone()).or_insert(0);
                if record.version > *seen {
                    *seen = record.version;
                    if expected.get(&record.payment) == Some(&record.version) {
                        complete += 1;
                    }
                }
                consumed.push(record);
            }
            consumed
        }
    }

    fn decode(message: &rdkafka::message::BorrowedMessage<'_>) -> Consumed {
        let header = |name: &str| -> String {
            let headers = message.headers().expect("record headers");
            let found = headers
                .iter()
                .find(|h| h.key == name)
                .unwrap_or_else(|| panic!("header {name} missing"));
            String::from_utf8(found.value.expect("header value").to_vec()).expect("UTF-8 header")
        };
        let content_type = header("content-type");
        assert_eq!(content_type, "application/json");
        let message_json: serde_json::Value =
            serde_json::from_slice(message.payload().expect("record value")).expect("JSON value");
        let record = Consumed {
            message_id: header("message-id"),
            payment: String::from_utf8(message.key().expect("record key").to_vec()).expect("key"),
            version: header("resource-version")
                .parse()
                .expect("resource-version"),
            message: message_json,
        };
        assert_eq!(record.message["id"], record.message_id.as_str());
        assert_eq!(record.message["type"], header("message-type").as_str());
        assert_eq!(record.message["sequenceNumber"], record.version);
        assert_eq!(record.message["resource"]["id"], record.payment.as_str());
        assert!(
            header("partition-sequence")
                .parse::<u64>()
                .expect("sequence")
                > 0
        );
        record
    }

    /// What [`check_delivery`] found.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Delivery {
        pub unique: usize,
        pub duplicates: usize,
    }

    /// The delivery contract: after dedupe by `message-id`, every payment's
    /// Messages are exactly versions 1..=expected, in consumption order.
    pub fn check_delivery(consumed: &[Consumed], expected: &HashMap<String, u64>) -> Delivery {
        let mut seen = HashSet::new();
        let mut last: HashMap<&str, u64> = HashMap::new();
        let mut duplicates = 0;
        for record in consumed {
            if !seen.insert(record.message_id.as_str()) {
                duplicates += 1;
                continue;
            }
            let previous = last.entry(record.payment.as_str()).or_insert(0);
            assert_eq!(
                record.version,
                *previous + 1,
                "payment {}: version {} follows {previous}",
                record.payment,
                record.version
            );
            *previous = record.version;
        }
        let delivered: HashMap<String, u64> =
            last.into_iter().map(|(p, v)| (p.to_owned(), v)).collect();
        let wanted: HashMap<String, u64> = expected
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(p, v)| (p.clone(), *v))
            .collect();
        assert_eq!(delivered, wanted, "every Message exactly once");
        Delivery {
            unique: seen.len(),
            duplicates,
        }
    }
}

impl Api {
    /// The bearer token, for clients that must survive a dying server
    /// (the crash tests send requests that are allowed to fail).
    pub fn bearer_token(&self) -> &str {
        &self.token
    }
}
