//! The generator side of `payledger-bench overload`: one payment per
//! connection at a time, updated over a connection written and read by
//! hand, in a closed or an open loop; what each measurement saw; and the
//! check that every acknowledged update is in the store.

use super::{PROJECT, ServerProcess};
use crate::bench::{latency_histogram, micros, wire};
use anyhow::Context;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One payment per connection, updated by one request at a time.
pub(super) struct Writer {
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
pub(super) struct Fleet {
    pub(super) http: reqwest::Client,
    pub(super) token: String,
    base: String,
    pub(super) writers: Vec<Writer>,
    /// Payments the writers updated before their current ones: (URL,
    /// acknowledged transaction ids).
    retired: Vec<(String, Vec<String>)>,
    /// How many times the writers moved to fresh payments.
    generation: usize,
}

/// What one measurement saw.
pub(super) struct Measured {
    pub(super) admitted: u64,
    pub(super) refused: u64,
    pub(super) errors: u64,
    pub(super) late: u64,
    pub(super) elapsed: Duration,
    pub(super) admitted_latency: Histogram<u64>,
    pub(super) refused_latency: Histogram<u64>,
}

impl Measured {
    pub(super) fn new() -> Self {
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

    pub(super) fn answered(&self) -> u64 {
        self.admitted + self.refused + self.errors
    }

    pub(super) fn add(&mut self, other: &Self) {
        self.admitted += other.admitted;
        self.refused += other.refused;
        self.errors += other.errors;
        self.late += other.late;
        let _ = self.admitted_latency.add(&other.admitted_latency);
        let _ = self.refused_latency.add(&other.refused_latency);
    }
}

/// How one request ended.
pub(super) enum Answer {
    Admitted,
    Refused,
    Error,
}

/// Payments created at once when every writer gets a fresh one.
const FRESH_PAYMENT_TASKS: usize = 16;

/// A new payment of one Authorization: (its URL, version, transaction id).
async fn create_payment(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    key: &str,
) -> anyhow::Result<(String, u64, String)> {
    let body = json!({
        "key": key,
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
    let version = payment["version"].as_u64().context("version")?;
    let transaction = payment["transactions"][0]["id"]
        .as_str()
        .context("transaction")?
        .to_owned();
    Ok((url, version, transaction))
}

impl Fleet {
    pub(super) async fn create(
        http: &reqwest::Client,
        server: &ServerProcess,
        token: &str,
        count: usize,
    ) -> anyhow::Result<Self> {
        let base = format!("{}/{PROJECT}", server.url);
        let mut writers = Vec::with_capacity(count);
        for n in 0..count {
            let (url, version, last_transaction) =
                create_payment(http, &base, token, &format!("overload-0-{n}")).await?;
            let (address, path) = wire::split_url(&url)?;
            writers.push(Writer {
                wire: wire::Wire::new(address),
                path: path.to_owned(),
                url,
                version,
                last_transaction,
                acknowledged: Vec::new(),
            });
        }
        Ok(Self {
            http: http.clone(),
            token: token.to_owned(),
            base,
            writers,
            retired: Vec::new(),
            generation: 0,
        })
    }

    /// Moves every writer to a payment of its own created now, so that
    /// each measurement updates payments of the same small size: an
    /// update's answer is the whole payment, and one that had grown
    /// through the previous measurements would cost more and more.
    pub(super) async fn fresh_payments(&mut self) -> anyhow::Result<()> {
        self.generation += 1;
        let per_task = self.writers.len().div_ceil(FRESH_PAYMENT_TASKS).max(1);
        let mut tasks = Vec::new();
        let mut first = 0;
        while !self.writers.is_empty() {
            let rest = self.writers.split_off(per_task.min(self.writers.len()));
            let chunk = std::mem::replace(&mut self.writers, rest);
            let (http, base, token) = (self.http.clone(), self.base.clone(), self.token.clone());
            let generation = self.generation;
            tasks.push(tokio::spawn(async move {
                let mut retired = Vec::with_capacity(chunk.len());
                let mut moved = Vec::with_capacity(chunk.len());
                for (n, mut writer) in chunk.into_iter().enumerate() {
                    let key = format!("overload-{generation}-{}", first + n);
                    let (url, version, transaction) =
                        create_payment(&http, &base, &token, &key).await?;
                    let path = wire::split_url(&url)?.1.to_owned();
                    writer.path = path;
                    writer.version = version;
                    writer.last_transaction = transaction;
                    let url = std::mem::replace(&mut writer.url, url);
                    retired.push((url, std::mem::take(&mut writer.acknowledged)));
                    moved.push(writer);
                }
                anyhow::Ok((moved, retired))
            }));
            first += per_task;
        }
        for task in tasks {
            let (moved, retired) = task.await??;
            self.writers.extend(moved);
            self.retired.extend(retired);
        }
        Ok(())
    }

    /// Opens the open loop's connection of every writer at once (each
    /// reads its payment; a refusal opened it as well), so that the open
    /// loop finds them open.
    pub(super) async fn connect_all(&mut self) -> anyhow::Result<()> {
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
    pub(super) async fn closed_loop(
        &mut self,
        connections: usize,
        seconds: Duration,
        get: bool,
    ) -> Measured {
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
    pub(super) async fn open_loop(&mut self, rate: f64, seconds: Duration) -> Measured {
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

    pub(super) async fn gather(
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
    pub(super) async fn verify(&self) -> anyhow::Result<(usize, usize)> {
        let (mut acknowledged, mut missing) = (0, 0);
        let current = self.writers.iter().map(|w| (&w.url, &w.acknowledged));
        let retired = self.retired.iter().map(|(url, ids)| (url, ids));
        for (url, ids) in current.chain(retired) {
            let payment: Value = self
                .http
                .get(url)
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
            acknowledged += ids.len();
            missing += ids
                .iter()
                .filter(|id| !stored.contains(id.as_str()))
                .count();
        }
        Ok((acknowledged, missing))
    }
}

impl Measured {
    /// Counts an answer; admitted latency from `due`, refused from `sent`.
    pub(super) fn record(&mut self, answer: Answer, due: Instant, sent: Instant) {
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
    pub(super) async fn update(&mut self, http: &reqwest::Client, token: &str) -> Answer {
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
    pub(super) async fn update_wire(&mut self, token: &str) -> Answer {
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
    pub(super) async fn read_wire(&mut self, token: &str) -> Answer {
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
    pub(super) fn update_body(&self) -> String {
        format!(
            r#"{{"version":{},"actions":[{{"action":"addTransaction","transaction":{{"type":"Charge","amount":{{"currencyCode":"EUR","centAmount":100}}}}}},{{"action":"changeTransactionState","transactionId":"{}","state":"Success"}}]}}"#,
            self.version, self.last_transaction
        )
    }

    /// Counts an update's answer: an admitted one moves the writer to the
    /// version and transaction it acknowledged.
    pub(super) fn answered(&mut self, status: u16, bytes: &[u8]) -> Answer {
        match status {
            200 => match crate::bench::load::scan_update(bytes) {
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

pub(super) async fn read(http: &reqwest::Client, token: &str, url: &str) -> Answer {
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
