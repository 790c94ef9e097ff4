//! `payledger-bench overload`: what admission control buys under
//! overload, measured from outside against two real `payledger serve`
//! processes started side by side on fresh stores: one with admission
//! control as configured, one with it off (`--requests-in-flight-max 0`).
//!
//! 1. **Normal load, both servers** (closed loop, `--calibration-connections`
//!    keep-alive connections, update then get): the fast path with and
//!    without the gate, in the same run. The update rate of the server
//!    without the gate is the *sustainable update rate* R.
//! 2. **Offered load** at each of `--levels` × R, both servers in turn
//!    (which goes first alternates from level to level): an open loop (arrivals on a fixed schedule, whatever the answers),
//!    carried by up to `--connections` connections, each updating its own
//!    payment over a connection it writes and reads by hand ([`wire`]: a
//!    general-purpose client cost the generator too much CPU to offer 5×). A request's latency counts from when the schedule said to
//!    send it, so a client that could not send for want of a free
//!    connection sees that wait too (no coordinated omission). Admitted
//!    (2xx) and refused (503/429) answers are reported apart; any other
//!    answer is an error, and a 409 would mean a refused request changed
//!    the payment. Before the first level every connection is opened (a
//!    read of each payment) and one unreported second of open loop runs,
//!    so the levels measure overload, not a storm of new connections or
//!    the generator warming up; before every measurement the harness waits
//!    until the servers are idle (flushes and compactions of the previous
//!    one done), up to `SETTLE_WAIT_MAX`.
//!    Beside the latency the generator sees, each row gives the p99 the
//!    server's own histogram saw for the same updates (to its bucket
//!    bound): the difference is time outside the request's handling
//!    (the kernel's queues, the generator).
//! 3. **Nothing acknowledged is lost**: every transaction id an update
//!    answer acknowledged is looked for in its payment afterwards.
//!
//! Why an open loop: a closed loop slows down with the server (each
//! connection waits for its answer before the next request), so it never
//! offers more than the server takes and cannot show overload; refused
//! requests there come straight back as new ones.

use super::{latency_histogram, micros, ms};
use anyhow::Context;
use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::wire;

/// The settings of an overload run.
#[derive(Debug, Args)]
pub struct OverloadArgs {
    /// The `payledger` binary to serve with.
    #[arg(long, default_value = "./target/release/payledger")]
    pub payledger: PathBuf,
    /// Directory for the two servers' stores (fresh sub-directories,
    /// removed afterwards).
    #[arg(long)]
    pub data: PathBuf,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Offered loads, as multiples of the sustainable update rate.
    #[arg(long, value_delimiter = ',', default_value = "0.25,1,2,5")]
    pub levels: Vec<f64>,
    /// Most connections (and payments) carrying the open loop.
    #[arg(long, default_value_t = 1_000)]
    pub connections: usize,
    /// Connections of the closed-loop runs at normal load.
    #[arg(long, default_value_t = 64)]
    pub calibration_connections: usize,
    /// CPUs the servers run on (`taskset -c LIST`), so that a generator
    /// run on the others (`taskset -c … payledger-bench overload`) does not
    /// take the servers' CPU while it offers them more than they can do.
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// Further `serve` flags of the server with admission control, e.g.
    /// `--requests-in-flight-max=32` (its defaults otherwise).
    #[arg(long, allow_hyphen_values = true)]
    pub admission_flag: Vec<String>,
    /// The sustainable update rate R the levels multiply, in updates per
    /// second, instead of the one measured at normal load: runs that
    /// compare two servers' admission then offer the same rates.
    #[arg(long)]
    pub sustainable_rate_per_s: Option<f64>,
}

/// Longest a single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const PROJECT: &str = "bench";
const SECRET: &str = "overload-secret-1";

pub fn run(args: &OverloadArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.connections > 0 && args.calibration_connections > 0);
    anyhow::ensure!(args.levels.iter().all(|l| *l > 0.0), "--levels must be > 0");
    let root = args.data.join(format!("overload-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    let servers = [
        ServerProcess::start(args, &root.join("on"), "on", &args.admission_flag)?,
        ServerProcess::start(
            args,
            &root.join("off"),
            "off",
            &["--requests-in-flight-max=0".to_owned()],
        )?,
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(measure(args, &servers));
    drop(servers);
    std::fs::remove_dir_all(&root).ok();
    outcome
}

async fn measure(args: &OverloadArgs, servers: &[ServerProcess; 2]) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let mut fleets = Vec::new();
    for server in servers {
        let token = server.token(&http).await?;
        fleets.push(Fleet::create(&http, server, &token, args.connections).await?);
    }
    let seconds = Duration::from_secs(args.seconds.max(1));
    println!(
        "## normal load: closed loop, {} connections\n",
        args.calibration_connections
    );
    println!(
        "| admission | workload | req/s | p50 ms | p99 ms | server CPU µs/req | refused | errors |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut sustainable = 0.0;
    for get in [false, true] {
        for (server, fleet) in servers.iter().zip(&mut fleets).rev() {
            settle(servers).await?;
            let cpu = server.cpu()?;
            let row = fleet
                .closed_loop(args.calibration_connections, seconds, get)
                .await;
            let per = server.cpu()?.saturating_sub(cpu).as_secs_f64() * 1e6 / row.answered() as f64;
            let rate = row.admitted as f64 / row.elapsed.as_secs_f64();
            if !get && server.label == "off" {
                sustainable = rate;
            }
            println!(
                "| {} | {} | {rate:.0} | {} | {} | {per:.0} | {} | {} |",
                server.label,
                if get { "get" } else { "update" },
                ms(row.admitted_latency.value_at_quantile(0.5)),
                ms(row.admitted_latency.value_at_quantile(0.99)),
                row.refused,
                row.errors,
            );
        }
    }
    anyhow::ensure!(sustainable > 0.0, "no update succeeded at normal load");
    println!(
        "\nsustainable update rate R = {sustainable:.0} updates/s (admission off, closed loop)\n"
    );
    if let Some(given) = args.sustainable_rate_per_s {
        anyhow::ensure!(given > 0.0, "--sustainable-rate-per-s must be > 0");
        sustainable = given;
        println!("the levels multiply R = {given:.0} updates/s (--sustainable-rate-per-s)\n");
    }
    println!(
        "## offered load: open loop, up to {} connections\n",
        args.connections
    );
    for fleet in &mut fleets {
        fleet.connect_all().await?;
        // The generator's first open loop runs slow (its timers and
        // connection pool warming up): one unreported second of it.
        fleet.open_loop(WARM_UP_LOAD * sustainable, WARM_UP).await;
    }
    println!(
        "| load | admission | offered/s | sent late | admitted/s | admitted p50 ms | admitted p99 ms | admitted p99 inside the server ms | refused | refused p99 ms | server CPU µs/answer | generator CPU µs/request | errors |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, &level) in args.levels.iter().enumerate() {
        let mut order: Vec<_> = servers.iter().zip(&mut fleets).collect();
        if n % 2 == 0 {
            order.reverse();
        }
        for (server, fleet) in order {
            settle(servers).await?;
            let rate = level * sustainable;
            let (cpu, generator) = (server.cpu()?, super::load::cpu_of_self()?);
            let inside = server.update_latency_buckets(&fleet.http).await?;
            let row = fleet.open_loop(rate, seconds).await;
            let inside = server_p99(&inside, &server.update_latency_buckets(&fleet.http).await?);
            let total = row.answered().max(1) as f64;
            let per = server.cpu()?.saturating_sub(cpu).as_secs_f64() * 1e6 / total;
            let generator = super::load::cpu_of_self()?
                .saturating_sub(generator)
                .as_secs_f64()
                * 1e6
                / total;
            println!(
                "| {level}× | {} | {rate:.0} | {:.1} % | {:.0} | {} | {} | {} | {:.1} % | {} | {per:.0} | {generator:.0} | {} |",
                server.label,
                100.0 * row.late as f64 / total,
                row.admitted as f64 / row.elapsed.as_secs_f64(),
                ms(row.admitted_latency.value_at_quantile(0.5)),
                ms(row.admitted_latency.value_at_quantile(0.99)),
                inside.map_or_else(|| "–".to_owned(), |bound| format!("≤ {:.1}", bound * 1e3)),
                100.0 * row.refused as f64 / total,
                ms(row.refused_latency.value_at_quantile(0.99)),
                row.errors,
            );
        }
    }
    println!("\n## acknowledged updates\n");
    for (server, fleet) in servers.iter().zip(&fleets) {
        let (acknowledged, missing) = fleet.verify().await?;
        println!(
            "admission {}: {acknowledged} acknowledged updates, {missing} missing from the store",
            server.label
        );
        anyhow::ensure!(missing == 0, "acknowledged updates are missing");
    }
    Ok(())
}

/// The unreported open loop before the first level: its length and load
/// (as a multiple of R).
const WARM_UP: Duration = Duration::from_secs(1);
const WARM_UP_LOAD: f64 = 0.25;

/// Longest the harness waits for the servers to go idle before a
/// measurement.
const SETTLE_WAIT_MAX: Duration = Duration::from_secs(20);
/// A server is idle when it used at most this share of a CPU over
/// `SETTLE_INTERVAL`.
const SETTLE_CPU_SHARE_MAX: f64 = 0.05;
const SETTLE_INTERVAL: Duration = Duration::from_millis(250);

/// Waits until neither server works any more (background flushes and
/// compactions of the previous measurement done), or `SETTLE_WAIT_MAX`.
async fn settle(servers: &[ServerProcess; 2]) -> anyhow::Result<()> {
    let deadline = Instant::now() + SETTLE_WAIT_MAX;
    let mut before = [servers[0].cpu()?, servers[1].cpu()?];
    while Instant::now() < deadline {
        tokio::time::sleep(SETTLE_INTERVAL).await;
        let now = [servers[0].cpu()?, servers[1].cpu()?];
        let busiest = now
            .iter()
            .zip(&before)
            .map(|(now, before)| now.saturating_sub(*before).as_secs_f64())
            .fold(0.0, f64::max);
        if busiest <= SETTLE_CPU_SHARE_MAX * SETTLE_INTERVAL.as_secs_f64() {
            return Ok(());
        }
        before = now;
    }
    Ok(())
}

/// A `payledger serve` child on its own store, killed when dropped.
struct ServerProcess {
    label: &'static str,
    child: Child,
    url: String,
}

impl ServerProcess {
    fn start(
        args: &OverloadArgs,
        data: &Path,
        label: &'static str,
        flags: &[String],
    ) -> anyhow::Result<Self> {
        let binary = &args.payledger;
        let created = Command::new(binary)
            .args(["clients", "create", "--data"])
            .arg(data)
            .args(["--id", "loader", "--secret", SECRET])
            .args(["--scope", &format!("manage_project:{PROJECT}")])
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("run {}", binary.display()))?;
        anyhow::ensure!(created.success(), "payledger clients create failed");
        let log = std::fs::File::create(data.join("serve.log"))?;
        let mut command = match &args.server_cpus {
            Some(cpus) => {
                let mut taskset = Command::new("taskset");
                taskset.args(["-c", cpus]).arg(binary);
                taskset
            }
            None => Command::new(binary),
        };
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()?;
        let stdout = child.stdout.take().context("piped stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .context("the server exited before listening")??;
            if let Some(url) = line.strip_prefix("payledger listening on ") {
                break url.trim().to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self { label, child, url })
    }

    async fn token(&self, http: &reqwest::Client) -> anyhow::Result<String> {
        let scope = format!("manage_project:{PROJECT}");
        let reply: Value = http
            .post(format!("{}/oauth/token", self.url))
            .basic_auth("loader", Some(SECRET))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope.as_str()),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        reply["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("no access_token")
    }

    fn cpu(&self) -> anyhow::Result<Duration> {
        super::load::cpu_of(self.child.id())
    }

    /// The server's own histogram of the updates it answered (from the
    /// request's first middleware to its answer): cumulative counts by
    /// bucket bound in seconds, from `/metrics`.
    async fn update_latency_buckets(
        &self,
        http: &reqwest::Client,
    ) -> anyhow::Result<Vec<(f64, u64)>> {
        let text = http
            .get(format!("{}/metrics", self.url))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|line| {
                line.starts_with("payledger_http_request_duration_seconds_bucket{")
                    && line.contains(r#"route="/{pk}/payments/{id}""#)
                    && line.contains(r#"method="POST""#)
            })
            .filter_map(|line| {
                let bound = line.split("le=\"").nth(1)?.split('"').next()?;
                let count = line.rsplit(' ').next()?.parse().ok()?;
                let bound = if bound == "+Inf" {
                    f64::INFINITY
                } else {
                    bound.parse().ok()?
                };
                Some((bound, count))
            })
            .collect())
    }
}

/// The bucket bound (seconds) under which 99 % of the updates answered
/// between the `before` and `after` scrapes fell: the server's own p99,
/// to the histogram's resolution (bounds double). `None` without updates.
fn server_p99(before: &[(f64, u64)], after: &[(f64, u64)]) -> Option<f64> {
    let counted = |bound: f64, of: &[(f64, u64)]| {
        of.iter()
            .find(|(b, _)| *b == bound)
            .map_or(0, |(_, count)| *count)
    };
    let mut deltas: Vec<(f64, u64)> = after
        .iter()
        .map(|&(bound, count)| (bound, count.saturating_sub(counted(bound, before))))
        .collect();
    deltas.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = deltas.last()?.1;
    if total == 0 {
        return None;
    }
    deltas
        .iter()
        .find(|(_, count)| *count as f64 >= 0.99 * total as f64)
        .map(|(bound, _)| *bound)
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One payment per connection, updated by one request at a time.
struct Writer {
    url: String,
    /// The request line's path of `url`.
    path: String,
    /// The open loop's own connection for this payment.
    wire: wire::Wire,
    version: u64,
    last_transaction: String,
    acknowledged: Vec<String>,
}

/// The payments of one server and how to reach it.
struct Fleet {
    http: reqwest::Client,
    token: String,
    writers: Vec<Writer>,
}

/// What one measurement saw.
struct Measured {
    admitted: u64,
    refused: u64,
    errors: u64,
    late: u64,
    elapsed: Duration,
    admitted_latency: Histogram<u64>,
    refused_latency: Histogram<u64>,
}

impl Measured {
    fn new() -> Self {
        Self {
            admitted: 0,
            refused: 0,
            errors: 0,
            late: 0,
            elapsed: Duration::ZERO,
            admitted_latency: latency_histogram(),
            refused_latency: latency_histogram(),
        }
    }

    fn answered(&self) -> u64 {
        self.admitted + self.refused + self.errors
    }

    fn add(&mut self, other: &Self) {
        self.admitted += other.admitted;
        self.refused += other.refused;
        self.errors += other.errors;
        self.late += other.late;
        let _ = self.admitted_latency.add(&other.admitted_latency);
        let _ = self.refused_latency.add(&other.refused_latency);
    }
}

/// How one request ended.
enum Answer {
    Admitted,
    Refused,
    Error,
}

impl Fleet {
    async fn create(
        http: &reqwest::Client,
        server: &ServerProcess,
        token: &str,
        count: usize,
    ) -> anyhow::Result<Self> {
        let base = format!("{}/{PROJECT}", server.url);
        let mut writers = Vec::with_capacity(count);
        for n in 0..count {
            let body = json!({
                "key": format!("overload-{n}"),
                "amountPlanned": {"currencyCode": "EUR", "centAmount": 100},
                "transactions": [{"type": "Authorization", "amount": {"currencyCode": "EUR", "centAmount": 100}}],
            });
            let reply = http
                .post(format!("{base}/payments"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(
                reply.status().is_success(),
                "create answered {}",
                reply.status()
            );
            let payment: Value = reply.json().await?;
            let url = format!("{base}/payments/{}", payment["id"].as_str().context("id")?);
            let (address, path) = wire::split_url(&url)?;
            writers.push(Writer {
                wire: wire::Wire::new(address),
                path: path.to_owned(),
                url,
                version: payment["version"].as_u64().context("version")?,
                last_transaction: payment["transactions"][0]["id"]
                    .as_str()
                    .context("transaction")?
                    .to_owned(),
                acknowledged: Vec::new(),
            });
        }
        Ok(Self {
            http: http.clone(),
            token: token.to_owned(),
            writers,
        })
    }

    /// Opens the open loop's connection of every writer at once (each
    /// reads its payment; a refusal opened it as well), so that the open
    /// loop finds them open.
    async fn connect_all(&mut self) -> anyhow::Result<()> {
        let tasks: Vec<_> = self
            .writers
            .drain(..)
            .map(|mut writer| {
                let token = self.token.clone();
                tokio::spawn(async move {
                    let answer = writer.read_wire(&token).await;
                    (writer, answer)
                })
            })
            .collect();
        let mut failed = 0;
        for task in tasks {
            let (writer, answer) = task.await?;
            failed += usize::from(matches!(answer, Answer::Error));
            self.writers.push(writer);
        }
        anyhow::ensure!(failed == 0, "{failed} warm-up reads failed");
        Ok(())
    }

    /// `connections` writers in a closed loop for `seconds`: updates, or
    /// reads of their payment with `get`.
    async fn closed_loop(&mut self, connections: usize, seconds: Duration, get: bool) -> Measured {
        let deadline = Instant::now() + seconds;
        let started = Instant::now();
        let writers: Vec<Writer> = self
            .writers
            .drain(..connections.min(self.writers.len()))
            .collect();
        let tasks: Vec<_> = writers
            .into_iter()
            .map(|mut writer| {
                let (http, token) = (self.http.clone(), self.token.clone());
                tokio::spawn(async move {
                    let mut measured = Measured::new();
                    while Instant::now() < deadline {
                        let begun = Instant::now();
                        let answer = match get {
                            true => read(&http, &token, &writer.url).await,
                            false => writer.update(&http, &token).await,
                        };
                        measured.record(answer, begun, begun);
                    }
                    (writer, measured)
                })
            })
            .collect();
        self.gather(tasks, started).await
    }

    /// Updates offered at `rate` per second for `seconds`, whatever the
    /// answers, by every writer of the fleet.
    async fn open_loop(&mut self, rate: f64, seconds: Duration) -> Measured {
        let started = Instant::now() + Duration::from_millis(50);
        let interval = Duration::from_secs_f64(1.0 / rate);
        let total = (seconds.as_secs_f64() * rate) as u64;
        let next = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = self
            .writers
            .drain(..)
            .map(|mut writer| {
                let (token, next) = (self.token.clone(), Arc::clone(&next));
                tokio::spawn(async move {
                    let mut measured = Measured::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= total {
                            break;
                        }
                        let due = started + interval.mul_f64(n as f64);
                        // Late because this connection was busy: the wait
                        // counts. Early: the timer's own lateness (up to a
                        // millisecond) is the generator's, not the server's.
                        let busy = Instant::now() >= due;
                        tokio::time::sleep_until(due.into()).await;
                        let sent = Instant::now();
                        if busy && sent.duration_since(due) > Duration::from_millis(1) {
                            measured.late += 1;
                        }
                        let due = if busy { due } else { sent };
                        let answer = writer.update_wire(&token).await;
                        measured.record(answer, due, sent);
                    }
                    (writer, measured)
                })
            })
            .collect();
        let mut measured = self.gather(tasks, started).await;
        measured.elapsed = seconds.max(measured.elapsed);
        measured
    }

    async fn gather(
        &mut self,
        tasks: Vec<tokio::task::JoinHandle<(Writer, Measured)>>,
        started: Instant,
    ) -> Measured {
        let mut all = Measured::new();
        for task in tasks {
            if let Ok((writer, measured)) = task.await {
                all.add(&measured);
                self.writers.push(writer);
            }
        }
        all.elapsed = started.elapsed();
        all
    }

    /// Reads every payment back: (acknowledged updates, those missing).
    async fn verify(&self) -> anyhow::Result<(usize, usize)> {
        let (mut acknowledged, mut missing) = (0, 0);
        for writer in &self.writers {
            let payment: Value = self
                .http
                .get(&writer.url)
                .bearer_auth(&self.token)
                .send()
                .await?
                .json()
                .await?;
            let stored: std::collections::HashSet<&str> = payment["transactions"]
                .as_array()
                .context("transactions")?
                .iter()
                .filter_map(|t| t["id"].as_str())
                .collect();
            acknowledged += writer.acknowledged.len();
            missing += writer
                .acknowledged
                .iter()
                .filter(|id| !stored.contains(id.as_str()))
                .count();
        }
        Ok((acknowledged, missing))
    }
}

impl Measured {
    /// Counts an answer; admitted latency from `due`, refused from `sent`.
    fn record(&mut self, answer: Answer, due: Instant, sent: Instant) {
        match answer {
            Answer::Admitted => {
                self.admitted += 1;
                let _ = self.admitted_latency.record(micros(due.elapsed()));
            }
            Answer::Refused => {
                self.refused += 1;
                let _ = self.refused_latency.record(micros(sent.elapsed()));
            }
            Answer::Error => self.errors += 1,
        }
    }
}

impl Writer {
    /// An update (see [`Writer::update_body`]) through the shared client
    /// (the closed loop).
    async fn update(&mut self, http: &reqwest::Client, token: &str) -> Answer {
        let request = http
            .post(&self.url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(self.update_body());
        let Ok(reply) = request.send().await else {
            return Answer::Error;
        };
        let status = reply.status().as_u16();
        let Ok(bytes) = reply.bytes().await else {
            return Answer::Error;
        };
        self.answered(status, &bytes)
    }

    /// The same update over the writer's own connection (the open loop).
    async fn update_wire(&mut self, token: &str) -> Answer {
        let body = self.update_body();
        let request = format!(
            "POST {} HTTP/1.1\r\nhost: {PROJECT}\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            self.path,
            body.len()
        );
        match self.wire.exchange(request.as_bytes()).await {
            Ok((status, bytes)) => self.answered(status, &bytes),
            Err(_) => Answer::Error,
        }
    }

    /// A read of the payment over the writer's own connection.
    async fn read_wire(&mut self, token: &str) -> Answer {
        let request = format!(
            "GET {} HTTP/1.1\r\nhost: {PROJECT}\r\nauthorization: Bearer {token}\r\n\r\n",
            self.path
        );
        match self.wire.exchange(request.as_bytes()).await {
            Ok((200, _)) => Answer::Admitted,
            Ok((429 | 503, _)) => Answer::Refused,
            _ => Answer::Error,
        }
    }

    /// `addTransaction` + `changeTransactionState` of the previous one,
    /// as `payledger-bench load` sends.
    fn update_body(&self) -> String {
        format!(
            r#"{{"version":{},"actions":[{{"action":"addTransaction","transaction":{{"type":"Charge","amount":{{"currencyCode":"EUR","centAmount":100}}}}}},{{"action":"changeTransactionState","transactionId":"{}","state":"Success"}}]}}"#,
            self.version, self.last_transaction
        )
    }

    /// Counts an update's answer: an admitted one moves the writer to the
    /// version and transaction it acknowledged.
    fn answered(&mut self, status: u16, bytes: &[u8]) -> Answer {
        match status {
            200 => match super::load::scan_update(bytes) {
                Some((version, last)) => {
                    self.version = version;
                    self.acknowledged.push(last.clone());
                    self.last_transaction = last;
                    Answer::Admitted
                }
                None => Answer::Error,
            },
            429 | 503 => Answer::Refused,
            _ => Answer::Error,
        }
    }
}

async fn read(http: &reqwest::Client, token: &str, url: &str) -> Answer {
    match http.get(url).bearer_auth(token).send().await {
        Ok(reply) => {
            let status = reply.status().as_u16();
            let _ = reply.bytes().await;
            match status {
                200 => Answer::Admitted,
                429 | 503 => Answer::Refused,
                _ => Answer::Error,
            }
        }
        Err(_) => Answer::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::server_p99;

    #[test]
    fn the_server_p99_is_the_first_bound_holding_99_percent_of_the_updates_between_two_scrapes() {
        let before = [(0.001, 10), (0.002, 20), (0.004, 30), (f64::INFINITY, 30)];
        // 100 more: 50 within 1 ms, 98 within 2 ms, 99 within 4 ms.
        let after = [
            (0.001, 60),
            (0.002, 118),
            (0.004, 129),
            (f64::INFINITY, 130),
        ];
        assert_eq!(server_p99(&before, &after), Some(0.004));
        assert_eq!(server_p99(&after, &after), None, "no update between");
    }
}
