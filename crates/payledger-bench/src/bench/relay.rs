//! `payledger-bench relay`: the Kafka relay against a real broker.
//!
//! Throughput: a fresh store is filled with realistic payment histories
//! through the use-case layer (create, then updates of addTransaction +
//! setStatusInterfaceCode: 2 events each), then a relay starts from empty
//! cursors and the run ends when every cursor reached its log head, i.e.
//! when the broker acknowledged every record. Messages/s = events /
//! elapsed.
//!
//! Latency: the HTTP server and the relay run in this process on another
//! fresh store; an open-loop writer sends `POST /{pk}/payments` at a fixed
//! rate, and a consumer-group member on the topic notes when each
//! payment's Message arrives. Latency = arrival − the moment the HTTP
//! response was read (a Message may even arrive before the response).
//! Client, server, relay, consumer and broker share this machine's cores.

use super::{latency_histogram, micros, ms};
use crate::cli::BenchRelayArgs;
use anyhow::Context;
use payledger_api::{ApiConfig, AppState};
use payledger_app::clock::{Clock, SystemClock};
use payledger_app::consumer::Cursor;
use payledger_app::{CommandMeta, PaymentCommand, PaymentRef};
use payledger_domain::{Actor, Payment, ProjectKey};
use payledger_kafka::{Probe, Relay, RelayConfig};
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::EventStore;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub(crate) const PROJECT: &str = "bench";
const SCOPE: &str = "manage_project:bench";
/// Concurrent writers filling the log.
const FILL_WRITERS: usize = 64;
/// Updates per payment while filling (each appends 2 events).
const FILL_UPDATES_PER_PAYMENT: u64 = 10;
/// Longest the throughput run may take.
const THROUGHPUT_TIMEOUT: Duration = Duration::from_secs(600);
/// Most HTTP writes in flight during the latency run.
const WRITES_IN_FLIGHT_MAX: usize = 1_024;
/// How long the latency run waits for the last Messages after the load.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often progress is sampled.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

pub fn run(args: &BenchRelayArgs) -> anyhow::Result<()> {
    let root = args
        .data
        .join(format!("bench-relay-{}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("create {}", root.display()))?;
    let runtime = payledger_api::server_runtime().context("start runtime")?;
    let outcome = runtime.block_on(async {
        let throughput = throughput(&root.join("throughput"), args).await?;
        let latency = latency(&root.join("latency"), args).await?;
        anyhow::Ok((throughput, latency))
    });
    drop(runtime);
    let _ = std::fs::remove_dir_all(&root);
    let (throughput, latency) = outcome?;
    println!("| measurement | value |");
    println!("|---|---:|");
    println!("| events in the log | {} |", throughput.events);
    println!(
        "| log fill (events/s, use-case layer) | {:.0} |",
        throughput.fill_rate
    );
    println!(
        "| relay throughput (messages/s, {} format) | {:.0} |",
        args.kafka_format,
        throughput.events as f64 / throughput.elapsed.as_secs_f64()
    );
    println!(
        "| relay throughput (MB/s of values) | {:.1} |",
        throughput.value_bytes as f64 / 1e6 / throughput.elapsed.as_secs_f64()
    );
    println!(
        "| latency run: writes/s offered | {} |",
        args.writes_per_second
    );
    println!(
        "| latency run: writes/s acknowledged | {:.0} |",
        latency.write_rate
    );
    println!(
        "| latency run: Messages received | {} / {} |",
        latency.received, latency.acked
    );
    println!("| end-to-end p50 ms | {} |", ms(latency.p50));
    println!("| end-to-end p99 ms | {} |", ms(latency.p99));
    println!("| end-to-end max ms | {} |", ms(latency.max));
    println!(
        "| HTTP write p50 / p99 ms | {} / {} |",
        ms(latency.write_p50),
        ms(latency.write_p99)
    );
    Ok(())
}

struct Throughput {
    events: u64,
    fill_rate: f64,
    elapsed: Duration,
    value_bytes: u64,
}

fn relay_config(args: &BenchRelayArgs, run: &str) -> RelayConfig {
    let mut config = RelayConfig::new(args.kafka_brokers.clone());
    config.topic_template = format!(
        "payledger-bench-{run}-{}.{{projectKey}}.payments",
        std::process::id()
    );
    config.topic_partitions = args.kafka_topic_partitions;
    config.format = args.kafka_format;
    config.linger_ms = args.kafka_linger_ms;
    config
}

async fn throughput(dir: &Path, args: &BenchRelayArgs) -> anyhow::Result<Throughput> {
    let store: Arc<dyn EventStore> = Arc::new(RocksStore::open(dir, &RocksConfig::default())?);
    let state = AppState::new(Arc::clone(&store), ApiConfig::default());
    let started = Instant::now();
    fill(&state, args.events).await?;
    let events = total_head(&*store)?;
    let fill_rate = events as f64 / started.elapsed().as_secs_f64();
    let value_bytes = sample_value_bytes(&*store, args)?;
    eprintln!("filled {events} events; relaying");
    let started = Instant::now();
    let relay = Relay::start(Arc::clone(&store), relay_config(args, "throughput"))?;
    let deadline = started + THROUGHPUT_TIMEOUT;
    let mut writes = relay.cursor_writes();
    loop {
        let done = relayed(&*store)?;
        if done >= events {
            break;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let written = tokio::time::timeout(remaining, writes.changed()).await;
        anyhow::ensure!(
            matches!(written, Ok(Ok(()))),
            "relay stalled at {done} of {events}: {:?}",
            relay.stats()
        );
    }
    let elapsed = started.elapsed();
    relay.stop().await;
    Ok(Throughput {
        events,
        fill_rate,
        elapsed,
        value_bytes: value_bytes * events,
    })
}

/// Mean value size of the first thousand records, in bytes.
fn sample_value_bytes(store: &dyn EventStore, args: &BenchRelayArgs) -> anyhow::Result<u64> {
    let events = store.read_log(0, 1, 1_000)?;
    let mut renderer =
        payledger_kafka::render::RecordRenderer::new(Arc::new(relay_config(args, "sample")));
    let records = renderer.render(store, &events)?;
    let bytes: usize = records.iter().map(|r| r.value.len()).sum();
    Ok((bytes / records.len().max(1)) as u64)
}

fn total_head(store: &dyn EventStore) -> anyhow::Result<u64> {
    let mut total = 0;
    for partition in 0..store.partition_count() {
        total += store.log_head(partition)?;
    }
    Ok(total)
}

/// Events behind the relay's cursors.
fn relayed(store: &dyn EventStore) -> anyhow::Result<u64> {
    let mut total = 0;
    for partition in 0..store.partition_count() {
        total += Cursor::load(store, payledger_kafka::RELAY_CONSUMER_NAME, partition)?.sequence;
    }
    Ok(total)
}

/// Appends about `events` events as payment histories.
pub(crate) async fn fill(state: &AppState, events: u64) -> anyhow::Result<()> {
    let written = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..FILL_WRITERS)
        .map(|writer| {
            let (state, written) = (state.clone(), Arc::clone(&written));
            tokio::spawn(async move {
                let mut serial = 0u64;
                while written.load(Ordering::Relaxed) < events {
                    serial += 1;
                    let key = format!("fill-{writer}-{serial}");
                    let done = write_history(&state, &key).await?;
                    written.fetch_add(done, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for writer in writers {
        writer.await??;
    }
    Ok(())
}

/// Creates one payment and updates it; returns the events appended.
async fn write_history(state: &AppState, key: &str) -> anyhow::Result<u64> {
    let draft = payledger_api::json::parse_payment_draft(draft_body(key).to_string().as_bytes())
        .map_err(|_| anyhow::anyhow!("invalid benchmark draft"))?;
    let payment = execute(state, PaymentCommand::Create(Box::new(draft))).await?;
    let mut version = payment.version;
    for update in 0..FILL_UPDATES_PER_PAYMENT {
        let body = json!({
            "version": version,
            "actions": [
                {"action": "addTransaction", "transaction": {"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 100}}},
                {"action": "setStatusInterfaceCode", "interfaceCode": format!("code-{update}")},
            ],
        });
        let request = payledger_api::json::parse_update(body.to_string().as_bytes())
            .map_err(|_| anyhow::anyhow!("invalid benchmark update"))?;
        let command = PaymentCommand::Update {
            target: PaymentRef::Id(payment.id),
            version: request.version,
            actions: request.actions,
        };
        version = execute(state, command).await?.version;
    }
    Ok(version)
}

async fn execute(state: &AppState, command: PaymentCommand) -> anyhow::Result<Arc<Payment>> {
    let meta = CommandMeta {
        project: ProjectKey::parse(PROJECT).context("project key")?,
        actor: Actor::Client("bench".into()),
        now: SystemClock.now(),
        correlation_id: None,
        idempotency: None,
    };
    let committed = state
        .execute(meta, command)
        .await
        .map_err(|error| anyhow::anyhow!("benchmark command refused: {error:?}"))?;
    Ok(committed.payment)
}

fn draft_body(key: &str) -> Value {
    json!({
        "key": key,
        "amountPlanned": {"currencyCode": "EUR", "centAmount": 10_000},
        "paymentMethodInfo": {"paymentInterface": "bench-psp", "method": "card"},
        "transactions": [{"type": "Authorization", "amount": {"currencyCode": "EUR", "centAmount": 10_000}}],
    })
}

struct Latency {
    acked: usize,
    received: usize,
    write_rate: f64,
    p50: u64,
    p99: u64,
    max: u64,
    write_p50: u64,
    write_p99: u64,
}

async fn latency(dir: &Path, args: &BenchRelayArgs) -> anyhow::Result<Latency> {
    let store: Arc<dyn EventStore> = Arc::new(RocksStore::open(dir, &RocksConfig::default())?);
    super::create_client(&*store, "bench", "bench-secret-1", SCOPE)?;
    let state = AppState::new(Arc::clone(&store), ApiConfig::default());
    let config = relay_config(args, "latency");
    let topic = config.topic(PROJECT);
    let relay = Relay::start(Arc::clone(&store), config)?;
    let server = super::LocalServer::start(payledger_api::router(state)).await?;
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(WRITES_IN_FLIGHT_MAX)
        .build()?;
    let token = super::http::token(&http, &base, super::http::SCOPE).await?;
    let writer = Writer { http, base, token };
    // Warm up: the topic exists and the consumer joined before measuring.
    writer.create("warm-up").await?;
    let probe = Probe::subscribe(
        &args.kafka_brokers,
        &format!("bench-{}", std::process::id()),
        &[&topic],
    )?;
    tokio::time::timeout(DRAIN_TIMEOUT, probe.next())
        .await
        .context("the warm-up Message did not arrive")??;
    let arrivals = Arc::new(arrivals::Arrivals::default());
    let consumer = {
        let arrivals = Arc::clone(&arrivals);
        tokio::spawn(async move {
            while let Ok(received) = probe.next().await {
                arrivals.note(received.payment_id, received.at);
            }
        })
    };
    let load = writer
        .steady(
            args.writes_per_second,
            Duration::from_secs(args.seconds.max(1)),
        )
        .await?;
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while arrivals.count_of(&load.acks) < load.acks.len() && Instant::now() < deadline {
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    consumer.abort();
    relay.stop().await;
    server.stop().await?;
    let mut histogram = latency_histogram();
    let mut received = 0;
    let arrived = arrivals.snapshot();
    for (payment, acked_at) in &load.acks {
        if let Some(at) = arrived.get(payment) {
            received += 1;
            histogram.record(micros(at.saturating_duration_since(*acked_at)))?;
        }
    }
    Ok(Latency {
        acked: load.acks.len(),
        received,
        write_rate: load.acks.len() as f64 / load.elapsed.as_secs_f64(),
        p50: histogram.value_at_quantile(0.5),
        p99: histogram.value_at_quantile(0.99),
        max: histogram.max(),
        write_p50: load.write_latency.value_at_quantile(0.5),
        write_p99: load.write_latency.value_at_quantile(0.99),
    })
}

/// Arrival times by payment id, shared with the consumer task.
mod arrivals {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Instant;

    #[derive(Default)]
    pub struct Arrivals(Mutex<HashMap<String, Instant>>);

    impl Arrivals {
        pub fn note(&self, payment: String, at: Instant) {
            let mut map = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry(payment).or_insert(at);
        }

        pub fn count_of(&self, wanted: &HashMap<String, Instant>) -> usize {
            let map = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            wanted.keys().filter(|k| map.contains_key(*k)).count()
        }

        pub fn snapshot(&self) -> HashMap<String, Instant> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        }
    }
}

struct Writer {
    http: reqwest::Client,
    base: String,
    token: String,
}

struct Load {
    /// When each created payment's response was read, by payment id.
    acks: HashMap<String, Instant>,
    elapsed: Duration,
    write_latency: hdrhistogram::Histogram<u64>,
}

impl Writer {
    async fn create(&self, key: &str) -> anyhow::Result<String> {
        let reply: Value = self
            .http
            .post(format!("{}/{PROJECT}/payments", self.base))
            .bearer_auth(&self.token)
            .json(&draft_body(key))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        reply["id"]
            .as_str()
            .map(str::to_owned)
            .context("payment without id")
    }

    /// Sends `rate` creates per second for `duration`, open loop (one
    /// batch per millisecond tick), at most [`WRITES_IN_FLIGHT_MAX`] at once.
    async fn steady(self, rate: u64, duration: Duration) -> anyhow::Result<Load> {
        let this = Arc::new(self);
        let slots = Arc::new(tokio::sync::Semaphore::new(WRITES_IN_FLIGHT_MAX));
        let mut ticks = tokio::time::interval(Duration::from_millis(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let mut tasks = Vec::new();
        let mut sent = 0u64;
        while started.elapsed() < duration {
            ticks.tick().await;
            let due =
                rate * u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX) / 1_000_000;
            while sent < due {
                sent += 1;
                let permit = Arc::clone(&slots).acquire_owned().await?;
                let writer = Arc::clone(&this);
                let key = format!("latency-{sent}-{}", std::process::id());
                tasks.push(tokio::spawn(async move {
                    let begun = Instant::now();
                    let id = writer.create(&key).await;
                    drop(permit);
                    id.map(|id| (id, begun, Instant::now()))
                }));
            }
        }
        let mut acks = HashMap::with_capacity(tasks.len());
        let mut write_latency = latency_histogram();
        for task in tasks {
            if let Ok((id, begun, at)) = task.await? {
                write_latency.record(micros(at - begun))?;
                acks.insert(id, at);
            }
        }
        Ok(Load {
            acks,
            elapsed: started.elapsed(),
            write_latency,
        })
    }
}
