//! `payledger-bench http`: the HTTP API under a closed-loop load.
//!
//! The server runs in this process on a fresh RocksDB store and 127.0.0.1
//! port 0; N client tasks each own their payments and send one request at
//! a time. Workloads: create; update (addTransaction plus
//! changeTransactionState of the previous transaction, in one request; a
//! payment is replaced after [`UPDATES_PER_PAYMENT`] updates so views stay
//! realistic); get by id; query by key. Client and server share the
//! machine's cores, as they would on one host.

use super::load::Connection;
use super::{latency_histogram, micros, ms};
use crate::cli::BenchHttpArgs;
use anyhow::Context;
use hdrhistogram::Histogram;
use payledger_api::{ApiConfig, AppState};
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::EventStore;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Updates sent to one payment before a client moves to a fresh one.
const UPDATES_PER_PAYMENT: u32 = 10;
const PROJECT: &str = "bench";
pub(super) const SCOPE: &str = "manage_project:bench";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Workload {
    Create,
    Update,
    Get,
    QueryByKey,
}

impl Workload {
    const ALL: [Self; 4] = [Self::Create, Self::Update, Self::Get, Self::QueryByKey];

    fn flag(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Get => "get",
            Self::QueryByKey => "query",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update (addTransaction + changeTransactionState)",
            Self::Get => "get by id",
            Self::QueryByKey => "query by key",
        }
    }
}

pub fn run(args: &BenchHttpArgs) -> anyhow::Result<()> {
    let root = args.data.join(format!("bench-http-{}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("create {}", root.display()))?;
    let runtime = payledger_api::server_runtime().context("start runtime")?;
    let outcome = runtime.block_on(measure_all(&root, args));
    drop(runtime);
    let _ = std::fs::remove_dir_all(&root);
    let rows = outcome?;
    println!("| workload | clients | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} |",
            row.workload.name(),
            row.clients,
            row.requests as f64 / row.elapsed.as_secs_f64(),
            ms(row.latency.value_at_quantile(0.5)),
            ms(row.latency.value_at_quantile(0.99)),
            row.errors,
        );
    }
    Ok(())
}

struct Row {
    workload: Workload,
    clients: usize,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

async fn measure_all(root: &std::path::Path, args: &BenchHttpArgs) -> anyhow::Result<Vec<Row>> {
    let store: Arc<dyn EventStore> = Arc::new(RocksStore::open(root, &RocksConfig::default())?);
    super::create_client(&*store, "bench", "bench-secret-1", SCOPE)?;
    let state = AppState::new(Arc::clone(&store), ApiConfig::default());
    let server = super::LocalServer::start(payledger_api::router(state)).await?;
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1_024)
        .build()?;
    let token = token(&http, &base, SCOPE).await?;
    let seconds = Duration::from_secs(args.seconds.max(1));
    let mut rows = Vec::new();
    let chosen: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| args.workloads.iter().any(|name| name == w.flag()))
        .collect();
    anyhow::ensure!(
        !chosen.is_empty(),
        "no known workload in {:?}",
        args.workloads
    );
    for &clients in &args.clients {
        for &workload in &chosen {
            rows.push(measure(&base, &token, workload, clients, seconds).await?);
        }
    }
    server.stop().await?;
    Ok(rows)
}

/// A token of the benchmark's API client (`bench`) for `scope`.
pub(super) async fn token(
    http: &reqwest::Client,
    base: &str,
    scope: &str,
) -> anyhow::Result<String> {
    let reply: Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth("bench", Some("bench-secret-1"))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    reply["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("token response without access_token")
}

async fn measure(
    base: &str,
    token: &str,
    workload: Workload,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Row> {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|n| {
            let client = Client(Connection::new(
                &format!("{base}/{PROJECT}"),
                Some(token.to_owned()),
                format!(
                    "{}-{n}-{}",
                    workload.name().len(),
                    uuid::Uuid::new_v4().simple()
                ),
            )?);
            Ok(tokio::spawn(
                async move { client.run(workload, deadline).await },
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut row = Row {
        workload,
        clients,
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: latency_histogram(),
    };
    for task in tasks {
        let (requests, errors, histogram) = task.await??;
        row.requests += requests;
        row.errors += errors;
        row.latency.add(histogram)?;
    }
    row.elapsed = started.elapsed();
    Ok(row)
}

/// One closed-loop client of the in-process server: the load generator's
/// connection, replacing a payment after [`UPDATES_PER_PAYMENT`] updates.
struct Client(Connection);

impl Client {
    async fn run(
        mut self,
        workload: Workload,
        deadline: Instant,
    ) -> anyhow::Result<(u64, u64, Histogram<u64>)> {
        let mut latency = latency_histogram();
        let (mut requests, mut errors) = (0u64, 0u64);
        let mut owned = self.0.create(1).await?;
        let mut updates = 0;
        while Instant::now() < deadline {
            if workload == Workload::Update && updates >= UPDATES_PER_PAYMENT {
                owned = self.0.create(1).await?;
                updates = 0;
            }
            let begun = Instant::now();
            let ok = match workload {
                Workload::Create => self.0.create(1).await.is_ok(),
                Workload::Update => {
                    let ok = self.0.update(&mut owned).await?;
                    updates += u32::from(ok);
                    ok
                }
                Workload::Get => self.0.get(&format!("/payments/{}", owned.id)).await?,
                Workload::QueryByKey => {
                    let path = format!("/payments?where=key%3D%22{}%22", owned.key);
                    self.0.get(&path).await?
                }
            };
            latency.record(micros(begun.elapsed()))?;
            requests += 1;
            errors += u64::from(!ok);
        }
        Ok((requests, errors, latency))
    }
}
