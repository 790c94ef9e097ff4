//! `payledger-bench webhooks`: delivery throughput to a local HTTP receiver.
//!
//! A subscription is created on a fresh store, the log is filled with
//! payment histories through the use-case layer (the workers are not
//! running yet), then the delivery workers start and the run ends when the
//! receiver has answered every Message. Baseline, measured in the same run
//! against a second receiver of the same kind: the same bodies, signed and
//! POSTed with the same client settings and the same concurrency (one
//! sequential sender per ledger partition), without reading the log,
//! rendering or saving cursors. The ratio is what the delivery machinery
//! costs on top of the HTTP exchanges themselves.

use crate::bench::relay::{PROJECT, fill};
use crate::cli::BenchWebhooksArgs;
use anyhow::Context;
use payledger_api::{ApiConfig, AppState};
use payledger_app::subscriptions::{
    self, DeliveryFormat, Destination, MessageFilter, SubscriptionDraft, SubscriptionMeta,
    SubscriptionRecord,
};
use payledger_domain::ProjectKey;
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::EventStore;
use payledger_webhooks::render::{DeliveryRenderer, DeliveryStep};
use payledger_webhooks::send::{Target, attempt};
use payledger_webhooks::testing::{Mode, Receiver};
use payledger_webhooks::{Deliveries, DeliveryConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "bench-webhook-secret";
/// Longest a run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

pub fn run(args: &BenchWebhooksArgs) -> anyhow::Result<()> {
    let root = args
        .data
        .join(format!("bench-webhooks-{}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("create {}", root.display()))?;
    let runtime = payledger_api::server_runtime().context("start runtime")?;
    let outcome = runtime.block_on(measure(&root, args.events));
    drop(runtime);
    let _ = std::fs::remove_dir_all(&root);
    let (events, baseline, deliveries) = outcome?;
    let rate = |elapsed: Duration| events as f64 / elapsed.as_secs_f64();
    println!("| measurement | value |");
    println!("|---|---:|");
    println!("| Messages delivered | {events} |");
    println!(
        "| baseline: signed POSTs of the same bodies (req/s) | {:.0} |",
        rate(baseline)
    );
    println!(
        "| webhook deliveries (Messages/s) | {:.0} |",
        rate(deliveries)
    );
    println!(
        "| deliveries / baseline | {:.2} |",
        baseline.as_secs_f64() / deliveries.as_secs_f64()
    );
    Ok(())
}

async fn measure(root: &std::path::Path, events: u64) -> anyhow::Result<(u64, Duration, Duration)> {
    let store: Arc<dyn EventStore> = Arc::new(RocksStore::open(root, &RocksConfig::default())?);
    let state = AppState::new(Arc::clone(&store), ApiConfig::default());
    let receiver = Receiver::start(SECRET, Mode::Accept)?;
    let record = subscribe(&*store, &receiver.url())?;
    fill(&state, events).await?;
    let events = (0..store.partition_count())
        .map(|p| store.log_head(p))
        .sum::<Result<u64, _>>()?;
    eprintln!("filled {events} events");

    let baseline_receiver = Receiver::start(SECRET, Mode::Accept)?;
    let baseline = baseline(&store, &record, &baseline_receiver.url()).await?;
    anyhow::ensure!(baseline_receiver.received().len() as u64 >= events);
    drop(baseline_receiver);

    let started = Instant::now();
    let deliveries = Deliveries::start(
        Arc::clone(&store),
        state.subscription_changes.subscribe(),
        DeliveryConfig::default(),
    )?;
    let received = tokio::task::spawn_blocking(move || {
        let count = receiver
            .wait_until(RUN_TIMEOUT, |r| r.len() as u64 >= events)
            .len();
        (count, receiver)
    })
    .await?;
    let elapsed = started.elapsed();
    deliveries.stop().await;
    anyhow::ensure!(
        received.0 as u64 >= events,
        "only {} of {events} deliveries arrived",
        received.0
    );
    Ok((events, baseline, elapsed))
}

fn subscribe(store: &dyn EventStore, url: &str) -> anyhow::Result<SubscriptionRecord> {
    let draft = SubscriptionDraft {
        key: None,
        destination: Destination::Http {
            url: url.to_owned(),
            secret: SECRET.to_owned(),
        },
        messages: vec![MessageFilter {
            resource_type_id: "payment".to_owned(),
            types: vec![],
        }],
        format: DeliveryFormat::Platform,
    };
    let meta = SubscriptionMeta {
        now_ms: 0,
        client_id: None,
        answer: None,
    };
    let project = ProjectKey::parse(PROJECT).context("project key")?;
    subscriptions::create(store, &project, draft, &[], &meta).context("create the subscription")
}

/// Renders every Message up front, then POSTs them signed, one sequential
/// sender per partition; returns the sending time.
async fn baseline(
    store: &Arc<dyn EventStore>,
    record: &SubscriptionRecord,
    url: &str,
) -> anyhow::Result<Duration> {
    let project = ProjectKey::parse(PROJECT).context("project key")?;
    let mut per_partition = Vec::new();
    for partition in 0..store.partition_count() {
        let events = store.read_log(partition, 1, usize::MAX)?;
        let steps = DeliveryRenderer::default().steps(&**store, record, &project, &events)?;
        let bodies: Vec<_> = steps
            .into_iter()
            .filter_map(|step| match step {
                DeliveryStep::Deliver(delivery) => Some(delivery),
                DeliveryStep::Skip { .. } => None,
            })
            .collect();
        per_partition.push(bodies);
    }
    let client = DeliveryConfig::default().client()?;
    let started = Instant::now();
    let senders: Vec<_> = per_partition
        .into_iter()
        .map(|deliveries| {
            let (client, url, id) = (client.clone(), url.to_owned(), record.id.clone());
            tokio::spawn(async move {
                let target = Target {
                    subscription_id: &id,
                    url: &url,
                    secret: SECRET.as_bytes(),
                };
                for delivery in &deliveries {
                    attempt(&client, &target, delivery, 1)
                        .await
                        .map_err(|f| anyhow::anyhow!("baseline POST failed: {}", f.detail))?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for sender in senders {
        sender.await??;
    }
    Ok(started.elapsed())
}
