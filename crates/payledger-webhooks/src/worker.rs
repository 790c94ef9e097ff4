//! The delivery workers: one manager that follows the subscription list,
//! and per subscription one log consumer (on the one runner, a worker per
//! partition) whose handler delivers in log order.
//!
//! Retries are bounded ([`RetryLimit`]): a worker whose Message passes the
//! bound stops its subscription's deliveries in the subscription's record
//! (`ConfigurationErrorDeliveryStopped`) and tells the manager, which stops
//! the subscription's other workers and starts none for it until an update
//! ends the stop. The cursors stay where they are.

use crate::backoff::Backoff;
use crate::render::{DeliveryRenderer, DeliveryStep};
use crate::retry_limit::{Failing, Passed, RetryLimit};
use crate::send::{Target, attempt};
use payledger_app::clock::{Clock, SystemClock};
use payledger_app::consumer::{ConsumerConfig, Handled, LogConsumer, LogHandler, RetryState, Stop};
use payledger_app::subscriptions::{self, DeliveryFailure, DeliveryStop, SubscriptionRecord};
use payledger_domain::time::format_timestamp;
use payledger_domain::{EventEnvelope, ProjectKey, Timestamp};
use payledger_store::{EventStore, StoreError};
use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    /// When a failing Message stops its subscription's deliveries.
    pub retry_limit: RetryLimit,
    /// The clock failures, their age and stops are read from.
    pub clock: Arc<dyn Clock>,
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
            retry_limit: RetryLimit::default(),
            clock: Arc::new(SystemClock),
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
    client: reqwest::Client,
    config: DeliveryConfig,
    /// Bumped after a worker stopped its subscription's deliveries.
    stops: watch::Sender<u64>,
}

/// The running delivery workers.
#[derive(Debug)]
pub struct Deliveries {
    stop: watch::Sender<bool>,
    manager: JoinHandle<()>,
    stops: watch::Receiver<u64>,
}

impl Deliveries {
    /// Starts delivering to every stored subscription; `changes` is bumped
    /// by the API when subscriptions are created, updated or deleted.
    pub fn start(
        store: Arc<dyn EventStore>,
        changes: watch::Receiver<u64>,
        config: DeliveryConfig,
    ) -> Result<Self, DeliveryError> {
        let client = config.client()?;
        let stops = watch::Sender::new(0);
        let shared = Arc::new(Shared {
            store,
            client,
            config,
            stops,
        });
        let stops = shared.stops.subscribe();
        let (stop, stopped) = watch::channel(false);
        let manager = tokio::spawn(manage(shared, changes, stopped));
        Ok(Self {
            stop,
            manager,
            stops,
        })
    }

    /// Changes after a worker stopped a subscription's deliveries (its
    /// record says so by then): what waits for a stop waits on this.
    pub fn stops(&self) -> watch::Receiver<u64> {
        self.stops.clone()
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
    consumer: LogConsumer,
}

impl Running {
    /// Asks every worker to stop after its current attempt.
    fn signal_stop(&self) {
        self.consumer.signal_stop();
    }

    /// Waits until every worker stopped.
    async fn join(self) {
        self.consumer.join().await;
    }
}

async fn manage(
    shared: Arc<Shared>,
    mut changes: watch::Receiver<u64>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut running: HashMap<String, Running> = HashMap::new();
    let rescan = Duration::from_millis(shared.config.rescan_interval_ms.max(1));
    let mut stops = shared.stops.subscribe();
    loop {
        changes.mark_unchanged();
        stops.mark_unchanged();
        match list(&shared).await {
            Ok(listed) => reconcile(&shared, &mut running, listed).await,
            Err(error) => tracing::error!(%error, "cannot read the subscriptions"),
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = stops.changed() => {}
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

/// Starts workers for new subscriptions, stops those of deleted ones and
/// of stopped ones, and restarts those of updated ones (their cursors
/// stay: the new workers go on from where the old ones stopped).
async fn reconcile(
    shared: &Arc<Shared>,
    running: &mut HashMap<String, Running>,
    listed: Vec<(ProjectKey, SubscriptionRecord)>,
) {
    let existing: HashSet<&str> = listed.iter().map(|(_, r)| r.id.as_str()).collect();
    // Subscriptions whose deliveries are stopped get no workers.
    let versions: HashMap<&str, u64> = listed
        .iter()
        .filter(|(_, r)| r.delivery_stop.is_none())
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
        if !existing.contains(id.as_str()) {
            // A worker may have saved its cursor after the deletion.
            forget_cursors(shared, &id).await;
            tracing::info!(subscription = %id, "stopped deliveries of a deleted subscription");
        } else if !versions.contains_key(id.as_str()) {
            tracing::warn!(subscription = %id, "stopped deliveries past the retry bound");
        }
    }
    for (project, record) in listed {
        if running.contains_key(&record.id) || record.delivery_stop.is_some() {
            continue;
        }
        let subscription = Arc::new((project, record));
        let mut config = ConsumerConfig::new(
            subscriptions::consumer_name(&subscription.1.id),
            shared.config.backoff,
        );
        config.clock = Arc::clone(&shared.config.clock);
        let handlers = (Arc::clone(shared), Arc::clone(&subscription));
        let consumer = LogConsumer::spawn(Arc::clone(&shared.store), config, move |_partition| {
            DeliveryHandler::new(Arc::clone(&handlers.0), Arc::clone(&handlers.1))
        });
        tracing::info!(subscription = %subscription.1.id, url = subscription.1.destination.url(), "delivering");
        running.insert(
            subscription.1.id.clone(),
            Running {
                version: subscription.1.version,
                consumer,
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

/// One partition's deliveries for one subscription, on the one
/// log-consumer runner: renders a batch into steps, then delivers them in
/// order, one attempt each; the first failure holds the rest back (the
/// runner records it and reads the rest again after a backoff).
struct DeliveryHandler {
    shared: Arc<Shared>,
    subscription: Arc<(ProjectKey, SubscriptionRecord)>,
    renderer: DeliveryRenderer,
    /// The Message that failed last, its attempts so far and since when:
    /// the next attempt at it carries the next number.
    failing: Option<Failing>,
    /// This worker stopped the subscription's deliveries: it attempts
    /// nothing more and waits for the manager to stop it.
    stopped: bool,
}

impl DeliveryHandler {
    fn new(shared: Arc<Shared>, subscription: Arc<(ProjectKey, SubscriptionRecord)>) -> Self {
        Self {
            shared,
            subscription,
            renderer: DeliveryRenderer::default(),
            failing: None,
            stopped: false,
        }
    }
}

/// Why a batch of deliveries stopped short.
#[derive(Debug, thiserror::Error)]
enum HandlerFailure {
    /// The receiver did not take a Message (recorded as the subscription's
    /// status).
    #[error("{0}")]
    Delivery(DeliveryFailure),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LogHandler for DeliveryHandler {
    type Work = Vec<DeliveryStep>;
    type Error = HandlerFailure;

    fn batch_events_max(&self) -> usize {
        BATCH_EVENTS_MAX
    }

    fn prepare(
        &mut self,
        store: &dyn EventStore,
        events: Vec<EventEnvelope>,
    ) -> Result<Vec<DeliveryStep>, HandlerFailure> {
        let (project, record) = &*self.subscription;
        Ok(self.renderer.steps(store, record, project, &events)?)
    }

    /// Delivers in order; the steps done leave `steps`, the rest is tried
    /// again by the next call.
    async fn handle(
        &mut self,
        steps: &mut Vec<DeliveryStep>,
        stop: &Stop,
    ) -> Handled<HandlerFailure> {
        if self.stopped {
            // Stopped deliveries attempt nothing until the manager, told
            // of the stop, ends this worker.
            stop.requested().await;
            return Handled::Stopped { through: None };
        }
        let mut taken = 0;
        let handled = self.deliver(steps, &mut taken, stop).await;
        steps.drain(..taken);
        handled
    }

    /// The failing Message's attempts and age go onto the cursor with each
    /// failure, so a restart does not start the retry bound again.
    fn retry_state(&self) -> Option<RetryState> {
        self.failing.map(|failing| RetryState {
            sequence: failing.sequence,
            attempts: failing.attempts,
            since_unix_ms: u64::try_from(failing.since_ms).unwrap_or(0),
        })
    }

    fn resume(&mut self, retry: RetryState) {
        self.failing = Some(Failing {
            sequence: retry.sequence,
            attempts: retry.attempts,
            since_ms: i64::try_from(retry.since_unix_ms).unwrap_or(i64::MAX),
        });
    }
}

impl DeliveryHandler {
    /// The attempts of [`DeliveryHandler::handle`]; `taken` counts the
    /// steps done, from the front.
    async fn deliver(
        &mut self,
        steps: &[DeliveryStep],
        taken: &mut usize,
        stop: &Stop,
    ) -> Handled<HandlerFailure> {
        let record = &self.subscription.1;
        let target = Target {
            subscription_id: &record.id,
            url: record.destination.url(),
            secret: record.destination.secret().as_bytes(),
        };
        let mut done = None;
        for step in steps {
            let delivery = match step {
                DeliveryStep::Skip { sequence } => {
                    done = Some(*sequence);
                    *taken += 1;
                    continue;
                }
                DeliveryStep::Deliver(delivery) => delivery,
            };
            if stop.is_requested() {
                return Handled::Stopped { through: done };
            }
            let number = Failing::next_attempt(self.failing, delivery.sequence);
            // An attempt under way is finished even when a stop comes (the
            // request timeout bounds it), so what a receiver took is saved.
            let outcome = attempt(&self.shared.client, &target, delivery, number).await;
            let counted = match &outcome {
                Ok(()) => "delivered",
                Err(failure) => failure.status.as_str(),
            };
            (payledger_metrics::metrics().webhook_deliveries)
                .get_or_create(&payledger_metrics::OutcomeLabels {
                    outcome: counted.to_owned(),
                })
                .inc();
            match outcome {
                Ok(()) if self.failing.take().is_some() => {
                    // The failure recorded on the cursor is over: say so
                    // before the next Message goes out.
                    *taken += 1;
                    return Handled::Partly {
                        through: delivery.sequence,
                    };
                }
                Ok(()) => {
                    done = Some(delivery.sequence);
                    *taken += 1;
                }
                Err(failure) => {
                    let now_ms = self.shared.config.clock.now_ms();
                    let failing = Failing::after(self.failing, delivery.sequence, now_ms);
                    self.failing = Some(failing);
                    let failure = DeliveryFailure {
                        status: failure.status,
                        attempt: number,
                        message_id: delivery.message_id.clone(),
                        detail: failure.detail,
                    };
                    match self.shared.config.retry_limit.passed(&failing, now_ms) {
                        Some(passed) => self.stop_deliveries(&failure, passed, now_ms).await,
                        None => tracing::warn!(%failure, "delivery failed; will retry"),
                    }
                    return Handled::Failed {
                        through: done,
                        failure: HandlerFailure::Delivery(failure),
                    };
                }
            }
        }
        Handled::All
    }

    /// Records in the subscription's record that its deliveries stop
    /// because `failure` passed the retry bound, and tells the manager. A
    /// store failure leaves the worker retrying: the next failure tries
    /// again.
    async fn stop_deliveries(&mut self, failure: &DeliveryFailure, passed: Passed, now_ms: i64) {
        let (project, record) = &*self.subscription;
        let stop = DeliveryStop {
            at: format_timestamp(Timestamp(now_ms)),
            reason: format!("message {}: {passed}; last: {failure}", failure.message_id),
        };
        let (store, project, id, version) = (
            Arc::clone(&self.shared.store),
            project.clone(),
            record.id.clone(),
            record.version,
        );
        let written = tokio::task::spawn_blocking(move || {
            subscriptions::stop_deliveries(&*store, &project, &id, version, stop)
        })
        .await;
        match written {
            Ok(Ok(stopped)) => {
                if stopped {
                    tracing::error!(%failure, %passed, "delivery failed past the retry bound; deliveries stopped");
                }
                // Stopped now, before, or by an update since: either way
                // the manager decides what runs next.
                self.stopped = true;
                self.shared
                    .stops
                    .send_modify(|count| *count = count.wrapping_add(1));
            }
            Ok(Err(error)) => {
                tracing::error!(%error, %failure, "cannot record the stop of deliveries; will retry");
            }
            Err(_) => tracing::error!(%failure, "recording the stop of deliveries panicked"),
        }
    }
}
