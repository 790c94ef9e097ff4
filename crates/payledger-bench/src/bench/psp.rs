//! `payledger-bench psp`: the PSP flows under load.
//!
//! - Webhook ingestion: the server runs in this process on a fresh RocksDB
//!   store; N clients post signed `payment_intent.succeeded` events (each a
//!   new event id about one of the seeded payments' PaymentIntents) in a
//!   closed loop. Each request is verified (HMAC), deduplicated, recorded
//!   with its refresh task in one synced append, and answered; the task
//!   runner is not started, so no PSP is called. Prints req/s and p50/p99.
//! - Executor throughput (with `--stripe-url`, e.g. localstripe started by
//!   `.venv/bin/python tests/stripe/localstripe_server.py 8420`): M
//!   closed-loop merchants each create a payment with an Authorization
//!   (`pm_card_visa`) and wait until the executor has authorized it at the
//!   emulator (create + confirm). Prints authorizations/s and the
//!   create-to-Success latency p50/p99 (observed by polling every
//!   [`POLL_MS`] ms).

use super::{latency_histogram, micros, ms};
use anyhow::Context;
use clap::Args;
use hdrhistogram::Histogram;
use payledger_api::{ApiConfig, AppState};
use payledger_app::clock::SystemClock;
use payledger_app::psp::{PspAccount, PspPolicy, PspRegistry, PspService};
use payledger_app::{CommandMeta, PaymentCommand};
use payledger_domain::command::{PaymentDraftInput, TransactionDraftInput};
use payledger_domain::payment::{TransactionState, TransactionType};
use payledger_domain::{Actor, CurrencyCode, Money, PaymentId, ProjectKey, Timestamp};
use payledger_psp::{Secret, config::StripeSettings};
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::EventStore;
use payledger_stripe::StripeConnector;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROJECT: &str = "bench";
const WEBHOOK_SECRET: &str = "whsec_bench";
/// Payments whose PaymentIntents the webhooks name.
const SEEDED_PAYMENTS: usize = 1_000;
/// How often a merchant looks at its payment while the executor works.
pub const POLL_MS: u64 = 2;
/// Longest a merchant waits for one authorization.
const AUTHORIZATION_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct BenchPspArgs {
    /// Directory to benchmark in; a fresh sub-directory is created and
    /// removed afterwards.
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Seconds to run each measurement.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent webhook senders.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Base URL of a Stripe emulator; without it only webhooks are
    /// measured.
    #[arg(long)]
    pub stripe_url: Option<String>,
    /// Concurrent merchants of the executor measurement.
    #[arg(long, default_value_t = 16)]
    pub merchants: usize,
}

pub fn run(args: &BenchPspArgs) -> anyhow::Result<()> {
    let root = args.data.join(format!("bench-psp-{}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("create {}", root.display()))?;
    let runtime = payledger_api::server_runtime().context("start runtime")?;
    let outcome = runtime.block_on(async {
        let mut rows = vec![webhooks(&root.join("webhooks"), args).await?];
        if let Some(url) = &args.stripe_url {
            rows.push(executor(&root.join("executor"), url, args).await?);
        }
        anyhow::Ok(rows)
    });
    drop(runtime);
    let _ = std::fs::remove_dir_all(&root);
    println!("| workload | concurrency | ops/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for row in outcome? {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} |",
            row.name,
            row.concurrency,
            row.count as f64 / row.elapsed.as_secs_f64(),
            ms(row.latency.value_at_quantile(0.5)),
            ms(row.latency.value_at_quantile(0.99)),
            row.errors,
        );
    }
    Ok(())
}

struct Row {
    name: &'static str,
    concurrency: usize,
    count: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

pub(super) fn project() -> ProjectKey {
    ProjectKey::parse(PROJECT).unwrap_or_else(|| unreachable!("the bench project key is valid"))
}

fn eur(cents: i64) -> anyhow::Result<Money> {
    Ok(Money::new(
        cents,
        CurrencyCode::parse("EUR").map_err(|e| anyhow::anyhow!("{e:?}"))?,
    ))
}

fn now() -> Timestamp {
    SystemClock.now()
}

use payledger_app::clock::Clock;

fn meta() -> CommandMeta {
    CommandMeta {
        project: project(),
        actor: Actor::Client("bench".into()),
        now: now(),
        correlation_id: None,
        idempotency: None,
    }
}

/// A store, the app state and a PSP service with one Stripe account.
pub(super) fn service(root: &Path, stripe_url: &str) -> anyhow::Result<(AppState, PspService)> {
    std::fs::create_dir_all(root)?;
    let store: Arc<dyn EventStore> = Arc::new(RocksStore::open(root, &RocksConfig::default())?);
    let state = AppState::new(store, ApiConfig::default());
    let mut settings = StripeSettings::new(stripe_url, Secret::new("sk_test_bench"));
    settings.webhook_secrets = vec![Secret::new(WEBHOOK_SECRET)];
    let mut registry = PspRegistry::default();
    registry.insert(
        &project(),
        PspAccount {
            interface: "stripe".into(),
            connector: Arc::new(StripeConnector::new(&settings)?),
            webhook_secrets: settings.webhook_secrets.clone(),
            publishable_key: settings.publishable_key.clone(),
            js_url: Some(settings.js_url.clone()),
        },
    );
    let policy = PspPolicy::default();
    let psp = PspService::new(
        state.ledger.clone(),
        registry,
        Arc::new(SystemClock),
        policy,
    );
    Ok((state, psp))
}

async fn webhooks(root: &Path, args: &BenchPspArgs) -> anyhow::Result<Row> {
    // The connector is never called: nothing runs the refresh tasks.
    let (state, psp) = service(root, "http://127.0.0.1:9")?;
    for n in 0..SEEDED_PAYMENTS {
        let mut draft = PaymentDraftInput::new(eur(1_000)?);
        draft.payment_method_info.payment_interface = Some("stripe".into());
        let mut txn = TransactionDraftInput::new(TransactionType::Charge, eur(1_000)?);
        txn.interface_id = Some(format!("pi_bench{n}"));
        txn.state = Some(TransactionState::Pending);
        draft.transactions = vec![txn];
        create(&state, draft).await?;
    }
    let router = payledger_api::router(state).layer(axum::Extension(psp));
    let server = super::LocalServer::start(router).await?;
    let url = format!("{}/webhooks/stripe/{PROJECT}", server.base);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1_024)
        .build()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds.max(1));
    let senders: Vec<_> = (0..args.clients.max(1))
        .map(|client| tokio::spawn(send_webhooks(http.clone(), url.clone(), client, deadline)))
        .collect();
    let mut row = Row {
        name: "webhook ingestion (verify + dedupe + append)",
        concurrency: args.clients.max(1),
        count: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: latency_histogram(),
    };
    for sender in senders {
        let (count, errors, latency) = sender.await??;
        row.count += count;
        row.errors += errors;
        row.latency.add(latency)?;
    }
    row.elapsed = started.elapsed();
    server.stop().await?;
    Ok(row)
}

async fn send_webhooks(
    http: reqwest::Client,
    url: String,
    client: usize,
    deadline: Instant,
) -> anyhow::Result<(u64, u64, Histogram<u64>)> {
    let secret = Secret::new(WEBHOOK_SECRET);
    let mut latency = latency_histogram();
    let (mut count, mut errors) = (0u64, 0u64);
    let mut n = 0usize;
    while Instant::now() < deadline {
        n += 1;
        let intent = format!(
            "pi_bench{}",
            (client * 7_919 + n * 104_729) % SEEDED_PAYMENTS
        );
        let created = now().millis() / 1_000;
        let body = serde_json::json!({
            "id": format!("evt_bench_{client}_{n}"),
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": created,
            "data": {"object": {"id": intent, "object": "payment_intent", "status": "succeeded"}},
        })
        .to_string();
        let signature = payledger_psp::signature::sign(&secret, created, body.as_bytes());
        let sent = Instant::now();
        let reply = http
            .post(&url)
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(body)
            .send()
            .await;
        latency.record(micros(sent.elapsed()))?;
        count += 1;
        match reply {
            Ok(reply) if reply.status().is_success() => {}
            _ => errors += 1,
        }
    }
    Ok((count, errors, latency))
}

async fn executor(root: &Path, stripe_url: &str, args: &BenchPspArgs) -> anyhow::Result<Row> {
    let (state, psp) = service(root, stripe_url)?;
    let (executor, tasks) = psp.clone().spawn();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds.max(1));
    let merchants: Vec<_> = (0..args.merchants.max(1))
        .map(|_| tokio::spawn(authorize_until(state.clone(), deadline)))
        .collect();
    let mut row = Row {
        name: "executor: Authorization at the emulator (create + confirm)",
        concurrency: args.merchants.max(1),
        count: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: latency_histogram(),
    };
    for merchant in merchants {
        let (count, errors, latency) = merchant.await??;
        row.count += count;
        row.errors += errors;
        row.latency.add(latency)?;
    }
    row.elapsed = started.elapsed();
    executor.stop().await;
    tasks.abort();
    Ok(row)
}

/// One merchant: create a payment with an Authorization, wait for its
/// outcome, repeat.
async fn authorize_until(
    state: AppState,
    deadline: Instant,
) -> anyhow::Result<(u64, u64, Histogram<u64>)> {
    let mut latency = latency_histogram();
    let (mut count, mut errors) = (0u64, 0u64);
    while Instant::now() < deadline {
        let mut draft = PaymentDraftInput::new(eur(1_000)?);
        draft.payment_method_info.payment_interface = Some("stripe".into());
        draft.payment_method_info.token = Some("pm_card_visa".into());
        draft.transactions = vec![TransactionDraftInput::new(
            TransactionType::Authorization,
            eur(1_000)?,
        )];
        let sent = Instant::now();
        let id = create(&state, draft).await?;
        let state_reached = wait_final(&state, id, sent).await?;
        latency.record(micros(sent.elapsed()))?;
        count += 1;
        if state_reached != TransactionState::Success {
            errors += 1;
        }
    }
    Ok((count, errors, latency))
}

/// Creates a payment as the API would.
async fn create(state: &AppState, draft: PaymentDraftInput) -> anyhow::Result<PaymentId> {
    let committed = state
        .execute(meta(), PaymentCommand::Create(Box::new(draft)))
        .await
        .map_err(|error| anyhow::anyhow!("benchmark payment refused: {error:?}"))?;
    Ok(committed.payment.id)
}

async fn wait_final(
    state: &AppState,
    id: PaymentId,
    sent: Instant,
) -> anyhow::Result<TransactionState> {
    loop {
        let payment = state.ledger.view(&project(), id)?;
        let txn_state = payment
            .and_then(|p| p.transactions.first().map(|t| t.state))
            .unwrap_or_default();
        if txn_state.is_final() {
            return Ok(txn_state);
        }
        anyhow::ensure!(
            sent.elapsed() < AUTHORIZATION_TIMEOUT,
            "payment {id} was not authorized within {AUTHORIZATION_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
}
