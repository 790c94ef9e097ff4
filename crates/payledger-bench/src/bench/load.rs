//! `payledger-bench load`: an external closed-loop HTTP load generator.
//!
//! It runs in its own process against any server that speaks the
//! commercetools Payments API at `--url`: payledger, or the in-memory
//! commercetools mock, so both are measured the same way and the figures
//! are what an outside client sees (`payledger-bench http` runs client and
//! server in one process).
//!
//! Each of `--connections` tasks keeps one keep-alive connection busy with
//! one request at a time and owns `--payments-per-connection` payments.
//! For every payment size in `--transactions` the payments are created
//! with that many transactions first, outside the measurement; then each
//! workload runs for `--seconds`:
//!
//! - `create`: a new payment with one transaction;
//! - `update`: `addTransaction` + `changeTransactionState` of the previous
//!   transaction, in one request (payments grow during the run: the table
//!   states the size they ended at);
//! - `get`: a payment by id; `query`: a payment by `where=key="…"`;
//! - `mixed`: 50 % get, 20 % update, 20 % query, 10 % create;
//! - `order-create`: a new order (`POST /orders`);
//! - `order-retry`: a new order, then its `retry-payment` (seed 000): only
//!   the retry is timed and counted, but the window holds both requests.
//!   It needs a server with a PSP (a retry creates a PaymentIntent and
//!   reads its client secret: two PSP calls).
//!
//! Requests go out over the generator's own HTTP/1.1 connections
//! ([`super::wire`]), written and read by hand so the generator takes as
//! little CPU as it can from the cores it shares with the server.
//!
//! With `--server-pid` the server's CPU time over the measured window
//! (user + system, from `/proc/<pid>/stat`) is divided by the requests
//! answered: the server's CPU cost per request. The generator's own cost is
//! reported the same way, so a reader sees whether the client was the
//! bottleneck.

use super::wire::{self, Wire};
use super::{latency_histogram, micros, ms};
use anyhow::Context;
use clap::Args;
use hdrhistogram::Histogram;
use memchr::memmem;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The settings of one load run.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Base URL of the server, e.g. `http://127.0.0.1:8080` (plain HTTP).
    #[arg(long)]
    pub url: String,
    /// Project key the payments are written in.
    #[arg(long, default_value = "bench")]
    pub project: String,
    /// API client id: with `--client-secret`, a token is fetched from
    /// `URL/oauth/token` first. Without it (and without `--token`) requests
    /// carry no `Authorization` header (the commercetools mock needs none).
    #[arg(long, requires = "client_secret")]
    pub client_id: Option<String>,
    /// API client secret.
    #[arg(long, env = "PAYLEDGER_BENCH_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// A bearer token to send as is.
    #[arg(long, conflicts_with = "client_id")]
    pub token: Option<String>,
    /// A name for the server in the output (defaults to the URL).
    #[arg(long)]
    pub label: Option<String>,
    /// Workloads to run, comma separated: create, update, get, query, mixed,
    /// order-create, order-retry.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "create,update,get,query,mixed"
    )]
    pub workloads: Vec<String>,
    /// Concurrent connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Payments each connection owns and cycles through.
    #[arg(long, default_value_t = 4)]
    pub payments_per_connection: usize,
    /// Transactions per payment before the measurement, comma separated
    /// (one run of every workload per size).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub transactions: Vec<usize>,
    /// Seconds to measure each workload.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// The server's process id, to report its CPU time per request.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// After each run's set-up, create `PATH.ready` and wait until
    /// `PATH.go` exists (then remove both) before measuring: a profiler
    /// started in between counts exactly the measured requests.
    #[arg(long, value_name = "PATH")]
    pub hold_before_measuring: Option<std::path::PathBuf>,
}

/// Longest a single request may take; a request that takes longer counts
/// as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Workload {
    Create,
    Update,
    Get,
    Query,
    Mixed,
    OrderCreate,
    OrderRetry,
}

impl Workload {
    const ALL: [Self; 7] = [
        Self::Create,
        Self::Update,
        Self::Get,
        Self::Query,
        Self::Mixed,
        Self::OrderCreate,
        Self::OrderRetry,
    ];

    const fn flag(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Get => "get",
            Self::Query => "query",
            Self::Mixed => "mixed",
            Self::OrderCreate => "order-create",
            Self::OrderRetry => "order-retry",
        }
    }

    /// The request the `n`-th step of this workload sends.
    const fn step(self, n: u64) -> Request {
        /// 5 get, 2 update, 2 query, 1 create in every 10 steps.
        const MIXED: [Request; 10] = [
            Request::Get,
            Request::Update,
            Request::Get,
            Request::Query,
            Request::Get,
            Request::Create,
            Request::Get,
            Request::Update,
            Request::Query,
            Request::Get,
        ];
        match self {
            Self::Create => Request::Create,
            Self::Update => Request::Update,
            Self::Get => Request::Get,
            Self::Query => Request::Query,
            Self::Mixed => MIXED[(n % 10) as usize],
            Self::OrderCreate => Request::OrderCreate,
            Self::OrderRetry => Request::OrderRetry,
        }
    }
}

/// One request of a workload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Request {
    Create,
    Update,
    Get,
    Query,
    OrderCreate,
    OrderRetry,
}

pub fn run(args: &LoadArgs) -> anyhow::Result<()> {
    let chosen: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| args.workloads.iter().any(|name| name == w.flag()))
        .collect();
    anyhow::ensure!(
        chosen.len() == args.workloads.len(),
        "unknown workload in {:?}; known: create, update, get, query, mixed, order-create, \
         order-retry",
        args.workloads
    );
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(
        args.payments_per_connection > 0,
        "--payments-per-connection must be at least 1"
    );
    anyhow::ensure!(
        args.transactions.iter().all(|n| *n > 0),
        "--transactions: every payment has at least one transaction"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start runtime")?;
    let rows = runtime.block_on(measure_all(args, &chosen))?;
    let label = args.label.as_deref().unwrap_or(&args.url);
    println!(
        "| server | workload | transactions/payment (start → end) | connections | req/s | p50 ms | p99 ms | max ms | server CPU µs/req | generator CPU µs/req | errors |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let rate = row.requests as f64 / row.elapsed.as_secs_f64();
        let per_request = |cpu: Option<Duration>| {
            cpu.map_or_else(
                || "–".to_owned(),
                |cpu| {
                    format!(
                        "{:.0}",
                        cpu.as_secs_f64() * 1e6 / row.requests.max(1) as f64
                    )
                },
            )
        };
        println!(
            "| {label} | {} | {} → {:.1} | {} | {rate:.0} | {} | {} | {} | {} | {} | {} |",
            row.workload.flag(),
            row.transactions,
            row.transactions_at_end,
            args.connections,
            ms(row.latency.value_at_quantile(0.5)),
            ms(row.latency.value_at_quantile(0.99)),
            ms(row.latency.max()),
            per_request(row.server_cpu),
            per_request(row.generator_cpu),
            row.errors,
        );
    }
    Ok(())
}

struct Row {
    workload: Workload,
    transactions: usize,
    transactions_at_end: f64,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
    server_cpu: Option<Duration>,
    generator_cpu: Option<Duration>,
}

async fn measure_all(args: &LoadArgs, chosen: &[Workload]) -> anyhow::Result<Vec<Row>> {
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let token = match (&args.token, &args.client_id, &args.client_secret) {
        (Some(token), _, _) => Some(token.clone()),
        (None, Some(id), Some(secret)) => Some(fetch_token(&http, args, id, secret).await?),
        _ => None,
    };
    let ticks = ClockTicks::read()?;
    let mut rows = Vec::new();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    for &transactions in &args.transactions {
        for &workload in chosen {
            let connections = (0..args.connections)
                .map(|n| {
                    Connection::new(
                        &format!("{}/{}", args.url.trim_end_matches('/'), args.project),
                        token.clone(),
                        format!("{run_id}-{transactions}-{}-{n}", workload.flag()),
                    )
                })
                .collect::<anyhow::Result<Vec<Connection>>>()?;
            rows.push(measure(args, &ticks, connections, workload, transactions).await?);
        }
    }
    Ok(rows)
}

async fn fetch_token(
    http: &reqwest::Client,
    args: &LoadArgs,
    id: &str,
    secret: &str,
) -> anyhow::Result<String> {
    let scope = format!("manage_project:{}", args.project);
    let reply: Value = http
        .post(format!("{}/oauth/token", args.url.trim_end_matches('/')))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", &scope)])
        .send()
        .await
        .context("request a token")?
        .error_for_status()
        .context("the token request was refused")?
        .json()
        .await?;
    reply["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("token response without access_token")
}

/// Creates `PATH.ready`, waits for `PATH.go`, removes both.
async fn hold_until_told(path: &std::path::Path) -> anyhow::Result<()> {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    let (ready, go) = (with(".ready"), with(".go"));
    std::fs::write(&ready, b"").with_context(|| format!("create {}", ready.display()))?;
    // Polled: the party that starts the profiler is a shell script.
    while !go.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::fs::remove_file(&ready).with_context(|| format!("remove {}", ready.display()))?;
    std::fs::remove_file(&go).with_context(|| format!("remove {}", go.display()))?;
    Ok(())
}

async fn measure(
    args: &LoadArgs,
    ticks: &ClockTicks,
    connections: Vec<Connection>,
    workload: Workload,
    transactions: usize,
) -> anyhow::Result<Row> {
    // Set-up, not measured: every connection creates its payments.
    let prepared = connections.into_iter().map(|mut connection| {
        let count = args.payments_per_connection;
        tokio::spawn(async move {
            let mut payments = Vec::with_capacity(count);
            for _ in 0..count {
                payments.push(connection.create(transactions).await?);
            }
            anyhow::Ok((connection, payments))
        })
    });
    let mut ready = Vec::new();
    for task in prepared.collect::<Vec<_>>() {
        ready.push(task.await??);
    }
    if let Some(hold) = &args.hold_before_measuring {
        hold_until_told(hold).await?;
    }
    let server_before = args.server_pid.map(|pid| ticks.cpu_of(pid)).transpose()?;
    let generator_before = ticks.cpu_of_self()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds.max(1));
    let tasks: Vec<_> = ready
        .into_iter()
        .map(|(connection, payments)| tokio::spawn(connection.run(workload, payments, deadline)))
        .collect();
    let mut row = Row {
        workload,
        transactions,
        transactions_at_end: 0.0,
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: latency_histogram(),
        server_cpu: None,
        generator_cpu: None,
    };
    let (mut owned, mut owned_transactions) = (0usize, 0usize);
    for task in tasks {
        let outcome = task.await??;
        row.requests += outcome.requests;
        row.errors += outcome.errors;
        row.latency.add(outcome.latency)?;
        owned += outcome.payments.len();
        owned_transactions += outcome
            .payments
            .iter()
            .map(|p| p.transactions)
            .sum::<usize>();
    }
    row.elapsed = started.elapsed();
    row.server_cpu = match (args.server_pid, server_before) {
        (Some(pid), Some(before)) => Some(ticks.cpu_of(pid)?.saturating_sub(before)),
        _ => None,
    };
    row.generator_cpu = Some(ticks.cpu_of_self()?.saturating_sub(generator_before));
    row.transactions_at_end = owned_transactions as f64 / owned.max(1) as f64;
    Ok(row)
}

/// One closed-loop connection and the payments it owns (also the client of
/// `payledger-bench http`).
pub(super) struct Connection {
    wire: Wire,
    /// The server's `host:port`.
    host: String,
    /// The path of `URL/PROJECT`, which every request's path starts with.
    prefix: String,
    token: Option<String>,
    name: String,
    serial: u64,
    /// Whether update answers are read by [`scan_update`]: set once a
    /// full parse of this server's answer agreed with the scan.
    scan_agreed: bool,
}

/// A payment a connection owns.
pub(super) struct Owned {
    pub(super) id: String,
    pub(super) key: String,
    version: u64,
    /// The id of its last transaction (the next update changes its state).
    last_transaction: String,
    transactions: usize,
}

/// What one connection measured.
struct Outcome {
    requests: u64,
    errors: u64,
    latency: Histogram<u64>,
    payments: Vec<Owned>,
}

impl Connection {
    /// A connection to `base` (`http://HOST:PORT/PROJECT`); `name`
    /// prefixes its keys.
    pub(super) fn new(base: &str, token: Option<String>, name: String) -> anyhow::Result<Self> {
        let (host, prefix) = wire::split_url(base)?;
        Ok(Self {
            wire: Wire::new(host),
            host: host.to_owned(),
            prefix: prefix.to_owned(),
            token,
            name,
            serial: 0,
            scan_agreed: false,
        })
    }

    /// Sends `method path` (under the project) with an optional JSON body;
    /// the answer's status and body. Past [`REQUEST_TIMEOUT`] the exchange
    /// fails and the connection is opened again for the next one.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let request = wire::request(
            method,
            &format!("{}{path}", self.prefix),
            &self.host,
            self.token.as_deref(),
            body,
        );
        match tokio::time::timeout(REQUEST_TIMEOUT, self.wire.exchange(&request)).await {
            Ok(answer) => answer.with_context(|| format!("{method} {path}")),
            Err(_) => {
                self.wire.close();
                anyhow::bail!("{method} {path}: no answer within {REQUEST_TIMEOUT:?}")
            }
        }
    }

    async fn run(
        mut self,
        workload: Workload,
        mut payments: Vec<Owned>,
        deadline: Instant,
    ) -> anyhow::Result<Outcome> {
        let mut outcome = Outcome {
            requests: 0,
            errors: 0,
            latency: latency_histogram(),
            payments: Vec::new(),
        };
        let mut n = 0u64;
        while Instant::now() < deadline {
            let index = (n as usize) % payments.len();
            let mut begun = Instant::now();
            let ok = match workload.step(n) {
                Request::OrderCreate => self.create_order().await.is_ok(),
                Request::OrderRetry => match self.create_order().await {
                    Ok(number) => {
                        begun = Instant::now();
                        self.retry_order(&number).await.unwrap_or(false)
                    }
                    Err(_) => false,
                },
                // A refused or failed request (a timeout too) counts as an
                // error and the loop goes on: the table says how many.
                Request::Create => self.create(1).await.is_ok(),
                Request::Update => {
                    let ok = self.update(&mut payments[index]).await.unwrap_or(false);
                    if !ok {
                        // Learn the version the server has before the next try.
                        self.refresh(&mut payments[index]).await;
                    }
                    ok
                }
                Request::Get => {
                    let path = format!("/payments/{}", payments[index].id);
                    self.get(&path).await.unwrap_or(false)
                }
                Request::Query => {
                    let path = format!("/payments?where=key%3D%22{}%22", payments[index].key);
                    self.get(&path).await.unwrap_or(false)
                }
            };
            outcome.latency.record(micros(begun.elapsed()))?;
            outcome.requests += 1;
            outcome.errors += u64::from(!ok);
            n += 1;
        }
        outcome.payments = payments;
        Ok(outcome)
    }

    pub(super) async fn create(&mut self, transactions: usize) -> anyhow::Result<Owned> {
        self.serial += 1;
        let key = format!("{}-{}", self.name, self.serial);
        let money = json!({"currencyCode": "EUR", "centAmount": 100});
        let drafts: Vec<Value> = (0..transactions)
            .map(|n| {
                let kind = if n == 0 { "Authorization" } else { "Charge" };
                json!({"type": kind, "amount": money})
            })
            .collect();
        let body = json!({
            "key": key,
            "amountPlanned": {"currencyCode": "EUR", "centAmount": 100 * transactions},
            "paymentMethodInfo": {"paymentInterface": "bench-psp", "method": "card"},
            "transactions": drafts,
        });
        let (status, reply) = self
            .send("POST", "/payments", Some(&serde_json::to_vec(&body)?))
            .await
            .context("create a payment")?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "creating a payment answered {status}: {}",
            String::from_utf8_lossy(&reply)
        );
        owned(&reply, key)
    }

    pub(super) async fn update(&mut self, payment: &mut Owned) -> anyhow::Result<bool> {
        let body = update_body(payment.version, &payment.last_transaction);
        let (status, reply) = self
            .send(
                "POST",
                &format!("/payments/{}", payment.id),
                Some(body.as_bytes()),
            )
            .await
            .context("update a payment")?;
        if !(200..300).contains(&status) {
            return Ok(false);
        }
        if self.scan_agreed
            && let Some((version, last_transaction)) = scan_update(&reply)
        {
            payment.version = version;
            payment.last_transaction = last_transaction;
            payment.transactions += 1;
            return Ok(true);
        }
        let before = payment.transactions;
        *payment = owned(&reply, std::mem::take(&mut payment.key))?;
        self.scan_agreed = payment.transactions == before + 1
            && scan_update(&reply).is_some_and(|(version, last)| {
                version == payment.version && last == payment.last_transaction
            });
        Ok(true)
    }

    /// Re-reads `payment` (after a failed update); keeps it as it was when
    /// that fails too.
    async fn refresh(&mut self, payment: &mut Owned) {
        let Ok((200, reply)) = self
            .send("GET", &format!("/payments/{}", payment.id), None)
            .await
        else {
            return;
        };
        if let Ok(fresh) = owned(&reply, payment.key.clone()) {
            *payment = fresh;
        }
    }

    /// Creates an order of 1.00 EUR; its order number.
    async fn create_order(&mut self) -> anyhow::Result<String> {
        self.serial += 1;
        // Order numbers are at most 64 of [A-Za-z0-9-_.]: the connection's
        // name, hashed (FNV-1a), keeps them short and unique.
        let tag = self
            .name
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        let number = format!("o{tag:016x}-{}", self.serial);
        let body = json!({
            "orderNumber": number,
            "totalPrice": {"currencyCode": "EUR", "centAmount": 100},
            "customerEmail": "bench@example.com",
        });
        let (status, _) = self
            .send("POST", "/orders", Some(&serde_json::to_vec(&body)?))
            .await
            .context("create an order")?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "creating an order answered {status}"
        );
        Ok(number)
    }

    /// Seed 000's retry-payment of order `number` at the `stripe` PSP.
    async fn retry_order(&mut self, number: &str) -> anyhow::Result<bool> {
        let body = json!({"payment_method": {
            "payment_provider_slug": "stripe",
            "integration_type": "card",
            "action": "paymentPage",
            "return_url": "https://shop.example/return",
        }});
        let (status, _) = self
            .send(
                "POST",
                &format!("/orders/{number}/retry-payment"),
                Some(&serde_json::to_vec(&body)?),
            )
            .await
            .context("retry an order's payment")?;
        Ok((200..300).contains(&status))
    }

    pub(super) async fn get(&mut self, path: &str) -> anyhow::Result<bool> {
        let (status, _) = self.send("GET", path, None).await?;
        Ok((200..300).contains(&status))
    }
}

/// `addTransaction` (a 1.00 EUR Charge) + `changeTransactionState` of the
/// previous transaction to `Success`, expecting `version`.
fn update_body(version: u64, last_transaction: &str) -> String {
    format!(
        r#"{{"version":{version},"actions":[{{"action":"addTransaction","transaction":{{"type":"Charge","amount":{{"currencyCode":"EUR","centAmount":100}}}}}},{{"action":"changeTransactionState","transactionId":"{last_transaction}","state":"Success"}}]}}"#
    )
}

/// The fields of a payment answer a connection reads; serde skips the
/// rest without building it, so the generator spends little CPU on the
/// answers (as large as 40 kB for 150 transactions) and leaves the cores
/// to the server it measures.
#[derive(serde::Deserialize)]
struct PaymentReply {
    id: String,
    version: u64,
    transactions: Vec<TransactionReply>,
}

#[derive(serde::Deserialize)]
struct TransactionReply {
    id: String,
}

/// What a connection keeps of a payment answer.
fn owned(reply: &[u8], key: String) -> anyhow::Result<Owned> {
    let reply: PaymentReply = serde_json::from_slice(reply).context("read a payment answer")?;
    let last_transaction = reply
        .transactions
        .last()
        .context("payment without transactions")?;
    Ok(Owned {
        id: reply.id,
        key,
        version: reply.version,
        last_transaction: last_transaction.id.clone(),
        transactions: reply.transactions.len(),
    })
}

/// The version and last transaction id of an update's answer, found by
/// searching the text instead of parsing it (a 250-transaction answer is
/// 60 kB; parsing it cost the generator half as much CPU as the server
/// spent on the whole update). It relies on what the generator writes: no
/// custom fields or interactions, so `"version":` occurs once, and the last
/// `"id":"` is the last transaction's (payledger writes keys sorted, the
/// mock writes `interfaceInteractions: []` after the transactions). Each
/// connection checks that against a full parse of its first answer and
/// keeps parsing fully if they differ.
///
/// The search is on bytes (SIMD, no UTF-8 pass over the answer), and
/// `"version":` is looked for in the answer's tail first, where payledger's
/// sorted keys put it, then anywhere (the mock writes it near the start).
pub(super) fn scan_update(reply: &[u8]) -> Option<(u64, String)> {
    const VERSION: &[u8] = b"\"version\":";
    const ID: &[u8] = b"\"id\":\"";
    const TAIL_BYTES: usize = 512;
    let tail = reply.len().saturating_sub(TAIL_BYTES);
    let at = memmem::find(&reply[tail..], VERSION)
        .map(|at| tail + at)
        .or_else(|| memmem::find(reply, VERSION))?
        + VERSION.len();
    let digits = &reply[at..];
    let digits = &digits[..digits.iter().position(|b| !b.is_ascii_digit())?];
    let version = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let at = memmem::rfind(reply, ID)? + ID.len();
    let id = reply.get(at..at + uuid::fmt::Hyphenated::LENGTH)?;
    Some((version, std::str::from_utf8(id).ok()?.to_owned()))
}

/// CPU time (user + system) of process `pid` so far.
pub(super) fn cpu_of(pid: u32) -> anyhow::Result<Duration> {
    ClockTicks::read()?.cpu_of(pid)
}

/// CPU time this process (the load generator) has used.
pub(super) fn cpu_of_self() -> anyhow::Result<Duration> {
    ClockTicks::read()?.cpu_of_self()
}

/// CPU time of processes, from `/proc/<pid>/stat` in clock ticks.
struct ClockTicks {
    per_second: u64,
}

impl ClockTicks {
    fn read() -> anyhow::Result<Self> {
        let output = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .context("run getconf CLK_TCK")?;
        let per_second = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .context("getconf CLK_TCK printed no number")?;
        Ok(Self { per_second })
    }

    /// User plus system CPU time of process `pid` so far.
    fn cpu_of(&self, pid: u32) -> anyhow::Result<Duration> {
        self.cpu_in(&format!("/proc/{pid}/stat"))
    }

    fn cpu_of_self(&self) -> anyhow::Result<Duration> {
        self.cpu_in("/proc/self/stat")
    }

    fn cpu_in(&self, path: &str) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(path).with_context(|| format!("read {path}"))?;
        let ticks = stat_cpu_ticks(&stat).with_context(|| format!("malformed {path}"))?;
        Ok(Duration::from_secs_f64(
            ticks as f64 / self.per_second as f64,
        ))
    }
}

/// `utime + stime` of a `/proc/<pid>/stat` line: fields 14 and 15, counted
/// after the command name (in parentheses, and it may contain spaces).
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `after_name` starts at field 3 (state): utime is field 14.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests;
