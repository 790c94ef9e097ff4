//! `payledger-bench messages`: Message queries by type and time on a store
//! with many events, through the HTTP API (the Message index), against
//! the work a query did before the index in the same run: read every
//! partition log from the start, render every Message, filter and page.
//!
//! It writes `--payments` payments of five events each through the one
//! command path (64 at a time): a create and four updates, of which one in
//! every `--rare-every` payments sets a key (`PaymentKeySet`, the rare
//! type) and the rest set the status text. Then it times each query
//! `--reads` times through the API and `--scans` times as a scan.

use super::{LocalServer, create_client, latency_histogram, micros, ms};
use anyhow::Context;
use clap::Args;
use payledger_api::query::QuerySpec;
use payledger_api::request::QueryPairs;
use payledger_api::{ApiConfig, AppState};
use payledger_app::{CommandMeta, Ledger, PaymentCommand, PaymentRef};
use payledger_domain::command::{PaymentDraftInput, UpdateAction};
use payledger_domain::time::format_timestamp;
use payledger_domain::{Actor, CurrencyCode, Money, Payment, ProjectKey, Timestamp};
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::EventStore;
use payledger_wire::json::MessageKeys;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchMessagesArgs {
    /// Directory of a new store (must not hold one).
    #[arg(long)]
    pub data: PathBuf,
    /// Payments of five events each.
    #[arg(long, default_value_t = 40_000)]
    pub payments: u64,
    /// One payment in this many sets a key (the rare message type).
    #[arg(long, default_value_t = 100)]
    pub rare_every: u64,
    /// Timed API reads per query.
    #[arg(long, default_value_t = 50)]
    pub reads: u64,
    /// Timed scans per query (each reads every event).
    #[arg(long, default_value_t = 3)]
    pub scans: u64,
}

/// Payments written at once while filling the store.
const WRITERS: u64 = 64;
const PROJECT: &str = "messages-bench";

pub fn run(args: &BenchMessagesArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.data.join("CURRENT").exists(),
        "{} already holds a store: give a new directory",
        args.data.display()
    );
    anyhow::ensure!(args.rare_every >= 1, "--rare-every: at least 1");
    let store = Arc::new(RocksStore::open(&args.data, &RocksConfig::default())?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start runtime")?;
    let started = Instant::now();
    let ledger = Ledger::new(Arc::clone(&store));
    runtime.block_on(fill(&ledger, args))?;
    println!(
        "wrote {} events ({} payments of 5) in {:.1} s",
        args.payments * 5,
        args.payments,
        started.elapsed().as_secs_f64()
    );
    create_client(
        &*store,
        "bench",
        "bench-secret-1",
        "manage_project:messages-bench",
    )?;
    let state = AppState::new(store, ApiConfig::default());
    runtime.block_on(measure(&state, args))
}

async fn fill(ledger: &Ledger<RocksStore>, args: &BenchMessagesArgs) -> anyhow::Result<()> {
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let ledger = ledger.clone();
            let rare_every = args.rare_every;
            let count = args.payments / WRITERS + u64::from(writer < args.payments % WRITERS);
            tokio::spawn(async move {
                for n in 0..count {
                    let rare = (writer + n * WRITERS).is_multiple_of(rare_every);
                    let mut payment = create(&ledger).await?;
                    for step in 0..4 {
                        payment = update(&ledger, &payment, step, rare && step == 0).await?;
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// The queries timed: (name, `where`).
async fn queries(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    // The createdAt of the 500th newest PaymentCreated.
    let recent = get(
        http,
        base,
        token,
        r#"type = "PaymentCreated""#,
        "createdAt desc",
        500,
    )
    .await?;
    let since = recent["results"]
        .as_array()
        .and_then(|r| r.last())
        .and_then(|m| m["createdAt"].as_str())
        .map_or_else(|| format_timestamp(Timestamp(0)), str::to_owned);
    Ok(vec![
        (
            "type = PaymentKeySet (rare)".into(),
            r#"type = "PaymentKeySet""#.into(),
        ),
        (
            "type = PaymentCreated and createdAt >= (the 500th newest)".into(),
            format!(r#"type = "PaymentCreated" and createdAt >= "{since}""#),
        ),
        (
            "type = PaymentCreated".into(),
            r#"type = "PaymentCreated""#.into(),
        ),
    ])
}

async fn measure(state: &AppState, args: &BenchMessagesArgs) -> anyhow::Result<()> {
    let server = LocalServer::start(payledger_api::router(state.clone())).await?;
    let http = reqwest::Client::new();
    let token = super::http::token(&http, &server.base, "manage_project:messages-bench").await?;
    println!(
        "| query | Messages matched | scan p50 ms (before) | index p50 ms | index p99 ms | scan ÷ index |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, predicate) in queries(&http, &server.base, &token).await? {
        let mut indexed = latency_histogram();
        let mut matched = Value::Null;
        for _ in 0..args.reads {
            let begun = Instant::now();
            let page = get(
                &http,
                &server.base,
                &token,
                &predicate,
                "createdAt desc",
                20,
            )
            .await?;
            indexed.record(micros(begun.elapsed()))?;
            matched = page["total"].clone();
        }
        let mut scanned = latency_histogram();
        for _ in 0..args.scans {
            let store = Arc::clone(&state.store);
            let predicate = predicate.clone();
            let begun = Instant::now();
            let page = tokio::task::spawn_blocking(move || scan(&*store, &predicate)).await??;
            scanned.record(micros(begun.elapsed()))?;
            anyhow::ensure!(
                page["total"] == matched,
                "{name}: the scan and the index differ"
            );
        }
        let (scan_p50, index_p50) = (
            scanned.value_at_quantile(0.5),
            indexed.value_at_quantile(0.5),
        );
        println!(
            "| {name} | {matched} | {} | {} | {} | {:.0} |",
            ms(scan_p50),
            ms(index_p50),
            ms(indexed.value_at_quantile(0.99)),
            scan_p50 as f64 / index_p50 as f64
        );
    }
    server.stop().await
}

/// A page of the bench project's Messages through the API.
async fn get(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    predicate: &str,
    sort: &str,
    limit: u64,
) -> anyhow::Result<Value> {
    let limit = limit.clamp(1, 500).to_string();
    let reply = http
        .get(format!("{base}/{PROJECT}/messages"))
        .bearer_auth(token)
        .query(&[("where", predicate), ("sort", sort), ("limit", &limit)])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(reply)
}

/// What a Message query did before the index: every partition log read
/// from the start, every Message rendered, then filtered, sorted and paged.
fn scan(store: &dyn EventStore, predicate: &str) -> anyhow::Result<Value> {
    let mut keys = MessageKeys::default();
    let mut messages = Vec::new();
    for partition in 0..store.partition_count() {
        for event in store.read_log(partition, 1, usize::MAX)? {
            let message = keys.render(&event);
            if event.meta.project.as_str() == PROJECT {
                messages.push(message);
            }
        }
    }
    let pairs = [
        ("where", predicate),
        ("sort", "createdAt desc"),
        ("limit", "20"),
    ];
    let pairs = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let spec = QuerySpec::parse(&QueryPairs(pairs)).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    spec.page(messages).map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn meta() -> CommandMeta {
    use payledger_app::clock::{Clock, SystemClock};
    CommandMeta {
        project: ProjectKey::parse(PROJECT).expect("valid project key"),
        actor: Actor::Client("bench".into()),
        now: Timestamp(SystemClock.now_ms()),
        correlation_id: None,
        idempotency: None,
    }
}

async fn create(ledger: &Ledger<RocksStore>) -> anyhow::Result<Payment> {
    let currency = CurrencyCode::parse("EUR").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let draft = PaymentDraftInput::new(Money::new(100, currency));
    let committed = ledger
        .execute(meta(), PaymentCommand::Create(Box::new(draft)))
        .await?;
    Ok((*committed.payment).clone())
}

async fn update(
    ledger: &Ledger<RocksStore>,
    payment: &Payment,
    step: u64,
    set_key: bool,
) -> anyhow::Result<Payment> {
    let action = if set_key {
        UpdateAction::SetKey(Some(format!("k-{}", payment.id)))
    } else {
        UpdateAction::SetStatusInterfaceText(Some(format!("step {step}")))
    };
    let command = PaymentCommand::Update {
        target: PaymentRef::Id(payment.id),
        version: payment.version,
        actions: vec![action],
    };
    Ok((*ledger.execute(meta(), command).await?.payment).clone())
}
