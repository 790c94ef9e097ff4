//! The real system one simulation run drives: a `payledger serve` child
//! on its own data directory (killed with SIGKILL and restarted on the
//! same directory), its own localstripe (the Stripe emulator, state in
//! memory, sending real signed webhooks), and librdkafka's mock cluster as
//! the Kafka broker the relay produces to, with its faults.

use anyhow::{Context, Result, bail, ensure};
use payledger_e2e::{ChildGuard, Launch, Server, create_client, python};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const PROJECT: &str = "sim";
pub const TOPIC: &str = "payledger.sim.payments";
pub const TOPIC_PARTITIONS: i32 = 4;
pub const WEBHOOK_SECRET: &str = "whsec_sim_payledger";
const SCOPE: &str = "manage_project:sim";
const CLIENT: &str = "merchant";
const CLIENT_SECRET: &str = "merchant-secret-sim";
const STRIPE_SECRET_KEY: &str = "sk_test_sim";
pub const STRIPE_PUBLISHABLE_KEY: &str = "pk_test_sim";
/// How long one HTTP request of the simulation may take.
const HTTP_TIMEOUT_MS: u64 = 20_000;
/// How long the relay's producer tries one record: short, so a broker
/// outage of a few steps times records out and the relay re-sends.
const KAFKA_MESSAGE_TIMEOUT_MS: u64 = 3_000;

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// A client of the server's API whose requests may fail (the server may be
/// killed while they are in flight).
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl Http {
    fn connect(base: &str) -> Result<Self> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_millis(HTTP_TIMEOUT_MS))
            .build()?;
        let reply = client
            .post(format!("{base}/oauth/token"))
            .basic_auth(CLIENT, Some(CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials"), ("scope", SCOPE)])
            .send()?;
        ensure!(reply.status().is_success(), "token: {}", reply.status());
        let body: Value = reply.json()?;
        let token = body["access_token"]
            .as_str()
            .context("access_token")?
            .to_owned();
        Ok(Self {
            client,
            base: base.to_owned(),
            token,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Result<Reply> {
        let response = request.bearer_auth(&self.token).send()?;
        let status = response.status().as_u16();
        let text = response.text()?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply { status, body })
    }

    /// `path` under the project, e.g. `/payments`.
    pub fn get(&self, path: &str) -> Result<Reply> {
        self.send(self.client.get(format!("{}/{PROJECT}{path}", self.base)))
    }

    pub fn get_query(&self, path: &str, query: &[(&str, &str)]) -> Result<Reply> {
        let url = format!("{}/{PROJECT}{path}", self.base);
        self.send(self.client.get(url).query(query))
    }

    /// A POST with an optional `Idempotency-Key`.
    pub fn post(&self, path: &str, body: &Value, key: Option<&str>) -> Result<Reply> {
        let url = format!("{}/{PROJECT}{path}", self.base);
        let mut request = self.client.post(url).json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        self.send(request)
    }

    /// A webhook body as Stripe posts it, with `signature` as given.
    pub fn webhook(&self, body: &str, signature: &str) -> Result<Reply> {
        let response = self
            .client
            .post(format!("{}/webhooks/stripe/{PROJECT}", self.base))
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(body.to_owned())
            .send()?;
        let status = response.status().as_u16();
        Ok(Reply {
            status,
            body: response.json().unwrap_or(Value::Null),
        })
    }
}

/// A localstripe of its own, stopped when dropped.
pub struct Localstripe {
    _child: ChildGuard,
    url: String,
    client: reqwest::blocking::Client,
}

impl std::fmt::Debug for Localstripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Localstripe {
    fn start() -> Result<Self> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("stripe/localstripe_server.py");
        let mut child = ChildGuard::spawn(
            Command::new(python())
                .arg(script)
                .arg("0")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let stdout = child.0.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .context("localstripe exited before listening")??;
            if let Some(url) = line.strip_prefix("localstripe listening on ") {
                break url.trim().to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self {
            _child: child,
            url,
            client: reqwest::blocking::Client::new(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A request as a merchant's backend or storefront makes it.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Value> {
        let request = self
            .client
            .request(method.clone(), format!("{}{path}", self.url))
            .basic_auth(STRIPE_SECRET_KEY, Some(""));
        let request = match method == reqwest::Method::GET {
            true => request.query(form),
            false => request.form(form),
        };
        let response = request.send()?;
        let status = response.status();
        let body: Value = response.json().unwrap_or(Value::Null);
        ensure!(status.is_success(), "localstripe {path}: {status} {body}");
        Ok(body)
    }

    /// Every object of a list endpoint (`/v1/payment_intents`, `/v1/refunds`).
    pub fn list(&self, path: &str) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![("limit", "100".to_owned())];
            if let Some(after) = &after {
                query.push(("starting_after", after.clone()));
            }
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = self.call(reqwest::Method::GET, path, &query)?;
            let data = page["data"].as_array().context("list data")?.clone();
            after = data
                .last()
                .and_then(|o| o["id"].as_str())
                .map(str::to_owned);
            all.extend(data);
            if page["has_more"] != true || after.is_none() {
                return Ok(all);
            }
        }
    }

    /// A PaymentMethod of a test card number.
    pub fn card(&self, number: &str) -> Result<String> {
        let pm = self.call(
            reqwest::Method::POST,
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"),
                ("card[cvc]", "123"),
            ],
        )?;
        Ok(pm["id"].as_str().context("pm id")?.to_owned())
    }

    /// Sends localstripe's webhooks to `server`.
    fn register(&self, server: &str) -> Result<()> {
        let url = format!("{server}/webhooks/stripe/{PROJECT}");
        self.call(
            reqwest::Method::POST,
            "/_config/webhooks/payledger",
            &[("url", url.as_str()), ("secret", WEBHOOK_SECRET)],
        )?;
        Ok(())
    }
}

/// The peers and the server of one run. Fields drop in order: the server
/// before the broker and the directory.
pub struct World {
    server: Option<Server>,
    pub http: Http,
    pub stripe: Localstripe,
    pub cluster: MockCluster<'static, DefaultProducerContext>,
    pub broker_down: bool,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl World {
    pub fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let stripe = Localstripe::start()?;
        let cluster = MockCluster::new(1)?;
        cluster.create_topic(TOPIC, TOPIC_PARTITIONS, 1)?;
        create_client(&data_dir(dir.path()), CLIENT, CLIENT_SECRET, SCOPE);
        write_configs(dir.path(), stripe.url(), &cluster.bootstrap_servers())?;
        let server = launch(dir.path())?;
        stripe.register(server.url())?;
        let http = Http::connect(server.url())?;
        Ok(Self {
            server: Some(server),
            http,
            stripe,
            cluster,
            broker_down: false,
            dir,
        })
    }

    pub fn data(&self) -> PathBuf {
        data_dir(self.dir.path())
    }

    /// The server's log file (stderr of every start).
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// SIGKILL, then a start on the same data directory.
    pub fn crash_and_restart(&mut self) -> Result<()> {
        self.kill();
        let server = launch(self.dir.path())?;
        self.stripe.register(server.url())?;
        self.http = Http::connect(server.url())?;
        self.server = Some(server);
        Ok(())
    }

    /// SIGKILL of the server (every acknowledged write is already durable).
    pub fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
    }

    /// The server answers `/health`.
    pub fn alive(&self) -> Result<()> {
        let reply = reqwest::blocking::get(format!("{}/health", self.http.base()))
            .context("the server does not answer /health")?;
        ensure!(reply.status().is_success(), "/health: {}", reply.status());
        Ok(())
    }

    /// Runs a `payledger` command on the data directory beside the server.
    pub fn payledger(&self, args: &[&str]) -> Result<String> {
        let output = Command::new(payledger_e2e::payledger_bin())
            .args(args)
            .arg("--data")
            .arg(self.data())
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            bail!("payledger {}: {text}", args.join(" "));
        }
        Ok(text)
    }
}

fn data_dir(dir: &Path) -> PathBuf {
    dir.join("data")
}

fn launch(dir: &Path) -> Result<Server> {
    let psp = dir.join("psp.json").to_string_lossy().into_owned();
    let kafka = dir.join("kafka.json").to_string_lossy().into_owned();
    let launch = Launch {
        args: vec!["--psp-config".into(), psp, "--kafka-config".into(), kafka],
        env: Vec::new(),
        log_file: Some(dir.join("server.log")),
    };
    let data = data_dir(dir);
    std::panic::catch_unwind(|| Server::launch(&data, launch)).map_err(|_| {
        anyhow::anyhow!(
            "the server did not start (see {}/server.log)",
            dir.display()
        )
    })
}

fn write_configs(dir: &Path, stripe: &str, brokers: &str) -> Result<()> {
    let psp = json!({
        "projects": {PROJECT: {"stripe": {
            "api_base_url": stripe,
            "secret_key": STRIPE_SECRET_KEY,
            "publishable_key": STRIPE_PUBLISHABLE_KEY,
            "webhook_secrets": [WEBHOOK_SECRET],
            "request_timeout_ms": 5000,
        }}},
        "refresh": {"first_delay_ms": 500, "backoff_max_ms": 2000, "attempts_max": 40},
        "executor": {"retry_delay_ms": 300, "retry_delay_max_ms": 1200, "attempts_max": 50},
    });
    std::fs::write(dir.join("psp.json"), psp.to_string())?;
    let kafka = json!({
        "brokers": brokers,
        "create_topics": false,
        "topic_partitions": TOPIC_PARTITIONS,
        "message_timeout_ms": KAFKA_MESSAGE_TIMEOUT_MS,
    });
    std::fs::write(dir.join("kafka.json"), kafka.to_string())?;
    Ok(())
}
