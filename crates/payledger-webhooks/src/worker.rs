//! The delivery workers: one manager that follows the subscription list,
//! and one task per subscription and partition that delivers in log order.

use crate::backoff::Backoff;
use crate::render::{Delivery, Renderer, Step};
use crate::send::{Target, attempt};
use payledger_app::consumer::{Cursor, CursorError, LogSignal, log_wait_fallback};
use payledger_app::subscriptions::{self, DeliveryFailure, SubscriptionRecord};
use payledger_domain::ProjectKey;
use payledger_store::{EventStore, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// Default time to establish a connection to a receiver, in milliseconds.
pub const CONNECT_TIMEOUT_MS_DEFAULT: u64 = 2_000;
/// Default time for a whole delivery request, in milliseconds.
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Default longest time between two reads of the subscription list, in
/// milliseconds (the API also signals every change).
pub const RESCAN_INTERVAL_MS_DEFAULT: u64 = 5_000;
/// Most log events a worker reads and renders at once.
pub const BATCH_EVENTS_MAX: usize = 256;

/// Settings of the delivery workers.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub backoff: Backoff,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub rescan_interval_ms: u64,
    /// PEM certificates trusted for `https://` destinations besides the
    /// Mozilla roots (an internal CA).
    pub extra_root_certificates_pem: Vec<Vec<u8>>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            backoff: crate::backoff::BACKOFF_DEFAULT,
            connect_timeout_ms: CONNECT_TIMEOUT_MS_DEFAULT,
            request_timeout_ms: REQUEST_TIMEOUT_MS_DEFAULT,
            rescan_interval_ms: RESCAN_INTERVAL_MS_DEFAULT,
            extra_root_certificates_pem: Vec::new(),
        }
    }
}

impl DeliveryConfig {
    /// The HTTP client deliveries use: no redirects followed, bounded
    /// connect and request times, TLS verified against the Mozilla roots
    /// and any extra roots configured.
    pub fn client(&self) -> Result<reqwest::Client, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(self.connect_timeout_ms))
            .timeout(Duration::from_millis(self.request_timeout_ms))
            .user_agent(concat!("payledger-webhooks/", env!("CARGO_PKG_VERSION")))
            .tls_built_in_webpki_certs(true);
        for pem in &self.extra_root_certificates_pem {
            for certificate in reqwest::Certificate::from_pem_bundle(pem)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        builder.build()
    }
}

/// Why the workers did not start.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// What every worker shares.
#[derive(Debug)]
struct Shared {
    store: Arc<dyn EventStore>,
    log_signal: Arc<LogSignal>,
    client: reqwest::Client,
    config: DeliveryConfig,
}

/// The running delivery workers.
#[derive(Debug)]
pub struct Deliveries {
    stop: watch::Sender<bool>,
    manager: JoinHandle<()>,
}

impl Deliveries {
    /// Starts delivering to every stored subscription; `changes` is bumped
    /// by the API when subscriptions are created, updated or deleted.
    pub fn start(
        store: Arc<dyn EventStore>,
        log_signal: Arc<LogSignal>,
        changes: watch::Receiver<u64>,
        config: DeliveryConfig,
    ) -> Result<Self, DeliveryError> {
        let client = config.client()?;
        let shared = Arc::new(Shared {
            store,
            log_signal,
            client,
            config,
        });
        let (stop, stopped) = watch::channel(false);
        let manager = tokio::spawn(manage(shared, changes, stopped));
        Ok(Self { stop, manager })
    }

    /// Stops every worker after its current attempt: what a receiver
    /// answered with 2xx before the stop has its cursor saved.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.manager.await;
    }
}

/// The workers of one subscription.
struct Running {
    /// The version of the record they deliver with.
    version: u64,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Asks every worker to stop after its current attempt.
    fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until every worker stopped.
    async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn manage(
    shared: Arc<Shared>,
    mut changes: watch::Receiver<u64>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut running: HashMap<String, Running> = HashMap::new();
    let rescan = Duration::from_millis(shared.config.rescan_interval_ms.max(1));
    loop {
        changes.mark_unchanged();
        match list(&shared).await {
            Ok(listed) => reconcile(&shared, &mut running, listed).await,
            Err(error) => tracing::error!(%error, "cannot read the subscriptions"),
        }
        tokio::select! {
            _ = changes.changed() => {}
            () = tokio::time::sleep(rescan) => {}
            _ = stopped.changed() => break,
        }
        if *stopped.borrow() {
            break;
        }
    }
    let all: Vec<Running> = running.drain().map(|(_, workers)| workers).collect();
    all.iter().for_each(Running::signal_stop);
    for workers in all {
        workers.join().await;
    }
}

async fn list(shared: &Arc<Shared>) -> Result<Vec<(ProjectKey, SubscriptionRecord)>, StoreError> {
    blocking(shared, subscriptions::list_all).await
}

/// Starts workers for new subscriptions, stops those of deleted ones, and
/// restarts those of updated ones (their cursors stay: the new workers go
/// on from where the old ones stopped).
async fn reconcile(
    shared: &Arc<Shared>,
    running: &mut HashMap<String, Running>,
    listed: Vec<(ProjectKey, SubscriptionRecord)>,
) {
    let versions: HashMap<&str, u64> = listed
        .iter()
        .map(|(_, r)| (r.id.as_str(), r.version))
        .collect();
    let stopping: Vec<(String, Running)> = running
        .extract_if(|id, workers| versions.get(id.as_str()) != Some(&workers.version))
        .collect();
    // Signal every stop first: each may wait for an attempt under way.
    for (_, workers) in &stopping {
        workers.signal_stop();
    }
    for (id, workers) in stopping {
        workers.join().await;
        if !versions.contains_key(id.as_str()) {
            // A worker may have saved its cursor after the deletion.
            forget_cursors(shared, &id).await;
            tracing::info!(subscription = %id, "stopped deliveries of a deleted subscription");
        }
    }
    for (project, record) in listed {
        if running.contains_key(&record.id) {
            continue;
        }
        let (stop, stopped) = watch::channel(false);
        let subscription = Arc::new((project, record));
        let tasks = (0..shared.store.partition_count())
            .map(|partition| {
                let span = tracing::info_span!(
                    "deliveries",
                    subscription = %subscription.1.id,
                    partition
                );
                tokio::spawn(
                    deliver_partition(
                        Arc::clone(shared),
                        Arc::clone(&subscription),
                        partition,
                        stopped.clone(),
                    )
                    .instrument(span),
                )
            })
            .collect();
        tracing::info!(subscription = %subscription.1.id, url = subscription.1.destination.url(), "delivering");
        running.insert(
            subscription.1.id.clone(),
            Running {
                version: subscription.1.version,
                stop,
                tasks,
            },
        );
    }
}

async fn forget_cursors(shared: &Arc<Shared>, id: &str) {
    let id = id.to_owned();
    let removed = blocking(shared, move |s| {
        s.write(subscriptions::remove_cursors(s, &id))
    })
    .await;
    if let Err(error) = removed {
        tracing::warn!(%error, "cannot remove the cursors of a deleted subscription");
    }
}

/// Runs blocking store work off the async workers.
async fn blocking<T: Send + 'static>(
    shared: &Arc<Shared>,
    work: impl FnOnce(&dyn EventStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = Arc::clone(&shared.store);
    tokio::task::spawn_blocking(move || work(&*store))
        .await
        .map_err(|e| StoreError::Engine(format!("store work panicked: {e}")))?
}

/// Delivers one partition's Messages for one subscription until stopped.
async fn deliver_partition(
    shared: Arc<Shared>,
    subscription: Arc<(ProjectKey, SubscriptionRecord)>,
    partition: u16,
    mut stopped: watch::Receiver<bool>,
) {
    let consumer = subscriptions::consumer_name(&subscription.1.id);
    let mut store_failures = 0u32;
    // Store failures (not receiver failures) are retried here, so a
    // transient engine error never kills the worker.
    loop {
        match run(&shared, &subscription, &consumer, partition, &mut stopped).await {
            Ok(()) => return,
            Err(error) => {
                store_failures = store_failures.saturating_add(1);
                tracing::error!(%error, "delivery worker failed; restarting it");
                let wait = shared.config.backoff.next(store_failures);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stopped.changed() => return,
                }
            }
        }
    }
}

async fn run(
    shared: &Arc<Shared>,
    subscription: &Arc<(ProjectKey, SubscriptionRecord)>,
    consumer: &str,
    partition: u16,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(), StoreError> {
    let mut waiter = shared.log_signal.subscribe(partition);
    let name = consumer.to_owned();
    let mut cursor = blocking(shared, move |s| Cursor::load(s, &name, partition)).await?;
    let mut renderer = Renderer::default();
    loop {
        if *stopped.borrow() {
            return Ok(());
        }
        let (steps, returned) = {
            let at = cursor.clone();
            let subscription = Arc::clone(subscription);
            blocking(shared, move |s| {
                let events = at.next_batch(s, BATCH_EVENTS_MAX)?;
                let steps = renderer.steps(s, &subscription.1, &subscription.0, &events)?;
                Ok((steps, renderer))
            })
            .await?
        };
        renderer = returned;
        if steps.is_empty() {
            tokio::select! {
                () = waiter.wait(log_wait_fallback()) => {}
                _ = stopped.changed() => return Ok(()),
            }
            continue;
        }
        // The cursor is saved once per batch, before a failure is recorded
        // and when the worker stops: a crash repeats at most one batch.
        let mut done = cursor.sequence;
        for step in steps {
            match step {
                Step::Skip { sequence } => done = sequence,
                Step::Deliver(delivery) => {
                    let taken =
                        deliver(shared, subscription, &mut cursor, done, &delivery, stopped)
                            .await?;
                    if !taken {
                        // Stopped while waiting to retry: `deliver` saved
                        // the cursor at `done` with the failure.
                        return Ok(());
                    }
                    done = delivery.sequence;
                }
            }
        }
        if done > cursor.sequence {
            cursor = save(shared, cursor, done).await?;
        }
    }
}

async fn save(
    shared: &Arc<Shared>,
    mut cursor: Cursor,
    sequence: u64,
) -> Result<Cursor, StoreError> {
    blocking(shared, move |s| {
        cursor.save(s, sequence)?;
        Ok(cursor)
    })
    .await
}

/// Attempts `delivery` until the receiver takes it (`true`) or the worker
/// is stopped while waiting to retry (`false`), recording every failed
/// attempt on the cursor, moved to `done` (what was delivered before).
async fn deliver(
    shared: &Arc<Shared>,
    subscription: &Arc<(ProjectKey, SubscriptionRecord)>,
    cursor: &mut Cursor,
    done: u64,
    delivery: &Delivery,
    stopped: &mut watch::Receiver<bool>,
) -> Result<bool, StoreError> {
    let record = &subscription.1;
    let target = Target {
        subscription_id: &record.id,
        url: record.destination.url(),
        secret: record.destination.secret().as_bytes(),
    };
    let mut number = 0u32;
    loop {
        number = number.saturating_add(1);
        // An attempt under way is finished even when a stop comes (the
        // request timeout bounds it), so what a receiver took is saved.
        let outcome = attempt(&shared.client, &target, delivery, number).await;
        let Err(failure) = outcome else {
            return Ok(true);
        };
        let recorded = DeliveryFailure {
            status: failure.status,
            attempt: number,
            message_id: delivery.message_id.clone(),
            detail: failure.detail,
        };
        tracing::warn!(failure = %recorded, "delivery failed; will retry");
        let error = CursorError::now(recorded.to_string());
        *cursor = {
            let mut held = cursor.clone();
            blocking(shared, move |s| {
                held.save_error_at(s, done, error)?;
                Ok(held)
            })
            .await?
        };
        let wait = shared.config.backoff.next(number);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return Ok(false),
        }
    }
}
