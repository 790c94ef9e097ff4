//! The relay: a log consumer on payledger's one runner
//! ([`payledger_app::consumer::LogConsumer`], one worker per ledger
//! partition) whose handler produces every event's record.
//!
//! The runner reads at most `batch_events_max` events after the cursor;
//! the handler renders them (on a blocking thread), sends them in attempts
//! of at most `attempt_records_max` (halved after a failure, so a
//! struggling broker gets less at once), and awaits every delivery report
//! in log order. It reports the last event of the longest prefix the
//! broker acknowledged; the runner moves the cursor there, never further,
//! records the failure, and hands the rest back after a backoff, so a
//! record may be duplicated but never lost. Re-sending starts only after
//! every report of the attempt arrived, so an old attempt never races a
//! new one. With the idempotent producer, librdkafka's own retries neither
//! reorder nor duplicate, so the records of one payment reach their Kafka
//! partition in version order.
//!
//! The relay never touches the write path: it reads the log and saves its
//! cursors off the async workers, and an unreachable broker only makes it
//! fall behind. It wakes on the store's commit signal.

use crate::config::{RETRY_BACKOFF, RelayConfig, SHUTDOWN_FLUSH_MS};
use crate::producer::{ProducerSlot, TopicError, Topics, producer_config};
use crate::render::{KafkaRecord, RecordRenderer};
use payledger_app::consumer::{ConsumerConfig, Handled, LogConsumer, LogHandler, Stop};
use payledger_domain::EventEnvelope;
use payledger_store::{EventStore, StoreError};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureRecord, Producer};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How long a worker waits when the producer queue is full and it has no
/// delivery of its own to wait for.
const QUEUE_FULL_WAIT_MS: u64 = 10;

/// Failed attempts in a row after which a worker replaces the producer
/// (see [`crate::producer`] for why).
const PRODUCER_FAILURES_BEFORE_REPLACE: u32 = 3;

/// Fewest records an attempt sends after failures have shrunk it.
const ATTEMPT_RECORDS_MIN: usize = 100;

/// Why a step of the relay failed; every one is retried.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Topic(#[from] TopicError),
    #[error("the producer queue stayed full")]
    QueueFull,
    #[error("the producer dropped a delivery report")]
    ReportLost,
}

/// What every worker shares.
struct Shared {
    config: Arc<RelayConfig>,
    producer: ProducerSlot,
    topics: Topics,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acknowledged: AtomicU64,
    failed_attempts: AtomicU64,
}

/// Counts since the relay started, over all partitions.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RelayStats {
    /// Records handed to the producer (re-sent ones counted again).
    pub sent: u64,
    /// Records the broker acknowledged (counted just before the cursor
    /// moves past them; again if they are re-sent after a failed save).
    pub acknowledged: u64,
    /// Attempts that failed and were retried after a backoff.
    pub failed_attempts: u64,
}

/// The running relay: one consumer worker per ledger partition.
pub struct Relay {
    shared: Arc<Shared>,
    consumer: LogConsumer,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Starts a worker per partition of `store` on the current runtime.
    /// Fails only on an invalid configuration; an unreachable broker is
    /// retried by the workers.
    pub fn start(store: Arc<dyn EventStore>, config: RelayConfig) -> Result<Self, RelayError> {
        let producer = ProducerSlot::new(producer_config(&config))?;
        let topics = Topics::new(&config)?;
        let shared = Arc::new(Shared {
            config: Arc::new(config),
            producer,
            topics,
            counters: Counters::default(),
        });
        let consumer_config = ConsumerConfig::new(&shared.config.consumer_name, RETRY_BACKOFF);
        let handlers = Arc::clone(&shared);
        let consumer = LogConsumer::spawn(store, consumer_config, move |partition| {
            RelayHandler::new(Arc::clone(&handlers), partition)
        });
        Ok(Self { shared, consumer })
    }

    /// What the relay did so far.
    pub fn stats(&self) -> RelayStats {
        let counters = &self.shared.counters;
        RelayStats {
            sent: counters.sent.load(Ordering::Relaxed),
            acknowledged: counters.acknowledged.load(Ordering::Relaxed),
            failed_attempts: counters.failed_attempts.load(Ordering::Relaxed),
        }
    }

    /// Changes after every cursor write of any worker: what waits for the
    /// relay to make progress (tests, benchmarks) waits on this.
    pub fn cursor_writes(&self) -> watch::Receiver<u64> {
        self.consumer.cursor_writes()
    }

    /// Stops the workers and waits for in-flight messages (bounded). What
    /// was not acknowledged stays behind the cursors and is sent again by
    /// the next start.
    pub async fn stop(self) {
        self.consumer.stop().await;
        let shared = self.shared;
        // Flushing and dropping the producer block: off the async workers.
        let flushed = tokio::task::spawn_blocking(move || {
            let (_, producer) = shared.producer.get();
            let flushed = producer.flush(Duration::from_millis(SHUTDOWN_FLUSH_MS));
            drop(producer);
            drop(shared);
            flushed
        })
        .await;
        if let Ok(Err(error)) = flushed {
            tracing::info!(%error, "relay stopped with messages in flight");
        }
    }
}

/// One partition's handler: renders batches and produces their records.
struct RelayHandler {
    shared: Arc<Shared>,
    renderer: RecordRenderer,
    /// Failed attempts since the last success with the current producer.
    failures_in_a_row: u32,
    /// Most records the next attempt sends: halved after a failure,
    /// doubled after a success, within [`ATTEMPT_RECORDS_MIN`] and the
    /// configured batch size.
    attempt_records_max: usize,
    /// The metric labels of its store partition.
    partition: payledger_metrics::PartitionLabels,
}

impl RelayHandler {
    fn new(shared: Arc<Shared>, partition: u16) -> Self {
        Self {
            attempt_records_max: shared.config.batch_events_max.max(1),
            renderer: RecordRenderer::new(Arc::clone(&shared.config)),
            shared,
            failures_in_a_row: 0,
            partition: payledger_metrics::PartitionLabels { partition },
        }
    }
}

impl LogHandler for RelayHandler {
    type Work = Vec<KafkaRecord>;
    type Error = RelayError;

    fn batch_events_max(&self) -> usize {
        self.shared.config.batch_events_max
    }

    fn prepare(
        &mut self,
        store: &dyn EventStore,
        events: Vec<EventEnvelope>,
    ) -> Result<Vec<KafkaRecord>, RelayError> {
        Ok(self.renderer.render(store, &events)?)
    }

    /// Sends `records` in attempts until the broker acknowledged all of
    /// them, or an attempt failed (reporting the acknowledged prefix).
    /// Acknowledged records leave `records`; the rest is sent again by the
    /// next call.
    async fn handle(&mut self, records: &mut Vec<KafkaRecord>, stop: &Stop) -> Handled<RelayError> {
        let mut acked_total = 0;
        let handled = self.send(records, &mut acked_total, stop).await;
        records.drain(..acked_total);
        handled
    }
}

impl RelayHandler {
    /// The attempts of [`RelayHandler::handle`]; `acked_total` counts the
    /// records the broker acknowledged, from the front.
    async fn send(
        &mut self,
        records: &[KafkaRecord],
        acked_total: &mut usize,
        stop: &Stop,
    ) -> Handled<RelayError> {
        let mut done: Option<u64> = None;
        while *acked_total < records.len() {
            let pending = &records[*acked_total..];
            // A struggling broker gets fewer records per attempt.
            let chunk = &pending[..pending.len().min(self.attempt_records_max)];
            let attempt = tokio::select! {
                outcome = self.attempt(chunk) => outcome,
                () = stop.requested() => return Handled::Stopped { through: done },
            };
            let (acked, failure) = match attempt {
                Ok(()) => (chunk.len(), None),
                Err((acked, error)) => (acked, Some(error)),
            };
            if let Some(last) = acked.checked_sub(1).map(|i| &chunk[i]) {
                // Counted before the cursor moves: whoever sees a cursor at
                // its head also sees what got it there.
                let counters = &self.shared.counters;
                counters
                    .acknowledged
                    .fetch_add(acked as u64, Ordering::Relaxed);
                (payledger_metrics::metrics().kafka_records_published)
                    .get_or_create(&self.partition)
                    .inc_by(acked as u64);
                done = Some(last.sequence);
                *acked_total += acked;
            }
            if let Some(failure) = failure {
                self.attempt_records_max = (self.attempt_records_max / 2).max(ATTEMPT_RECORDS_MIN);
                let counters = &self.shared.counters;
                counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                (payledger_metrics::metrics().kafka_publish_errors)
                    .get_or_create(&self.partition)
                    .inc();
                return Handled::Failed {
                    through: done,
                    failure,
                };
            }
            self.attempt_records_max =
                (self.attempt_records_max * 2).min(self.shared.config.batch_events_max.max(1));
        }
        Handled::All
    }

    /// One attempt at `records`: `Err((n, error))` when only the first `n`
    /// were acknowledged.
    async fn attempt(&mut self, records: &[KafkaRecord]) -> Result<(), (usize, RelayError)> {
        // The renderer hands out one `Arc` per topic: a batch names few.
        let mut topics: Vec<Arc<str>> = Vec::new();
        for record in records {
            if !topics.iter().any(|topic| Arc::ptr_eq(topic, &record.topic)) {
                topics.push(Arc::clone(&record.topic));
            }
        }
        self.shared
            .topics
            .ensure(&topics)
            .await
            .map_err(|error| (0, error.into()))?;
        let (generation, producer) = self.shared.producer.get();
        let counters = &self.shared.counters;
        counters
            .sent
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        let outcome = produce(&producer, records).await;
        self.failures_in_a_row = match outcome {
            Ok(()) => 0,
            Err(_) => self.failures_in_a_row + 1,
        };
        let slot = &self.shared.producer;
        let reason = if slot.is_fatal(generation) {
            Some("fatal producer error")
        } else if self.failures_in_a_row >= PRODUCER_FAILURES_BEFORE_REPLACE {
            Some("attempts keep failing")
        } else {
            None
        };
        if let Some(reason) = reason {
            self.failures_in_a_row = 0;
            slot.replace(generation, reason)
                .map_err(|error| (0, error.into()))?;
        }
        if slot.generation() != generation {
            // Dropping the last handle of a producer flushes it (bounded,
            // blocking): never on an async worker.
            tokio::task::spawn_blocking(move || drop(producer));
        }
        outcome
    }
}

/// Sends every record, then awaits every delivery report in order.
async fn produce(
    producer: &rdkafka::producer::FutureProducer,
    records: &[KafkaRecord],
) -> Result<(), (usize, RelayError)> {
    let mut deliveries: VecDeque<DeliveryFuture> = VecDeque::with_capacity(records.len());
    let mut acked = 0usize;
    let mut failure: Option<RelayError> = None;
    let mut settle = |outcome: Result<(), RelayError>, failure: &mut Option<RelayError>| match (
        outcome,
        failure.is_some(),
    ) {
        (Ok(()), false) => acked += 1,
        (Ok(()), true) => {}
        (Err(error), false) => *failure = Some(error),
        (Err(_), true) => {}
    };
    let queue_full_waits_max = 1 + records.len() as u64;
    'send: for record in records {
        let mut queue_full_waits = 0u64;
        loop {
            match producer.send_result(future_record(record)) {
                Ok(delivery) => {
                    deliveries.push_back(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // Make room by waiting for this worker's oldest message.
                    if let Some(oldest) = deliveries.pop_front() {
                        settle(report(oldest.await), &mut failure);
                        continue;
                    }
                    queue_full_waits += 1;
                    if queue_full_waits > queue_full_waits_max {
                        failure.get_or_insert(RelayError::QueueFull);
                        break 'send;
                    }
                    tokio::time::sleep(Duration::from_millis(QUEUE_FULL_WAIT_MS)).await;
                }
                Err((error, _)) => {
                    failure.get_or_insert(RelayError::Kafka(error));
                    break 'send;
                }
            }
        }
    }
    // Await every report, also after a failure: a new attempt must not
    // race messages of this one still in flight.
    while let Some(delivery) = deliveries.pop_front() {
        settle(report(delivery.await), &mut failure);
    }
    match failure {
        None => Ok(()),
        Some(error) => Err((acked, error)),
    }
}

fn report(
    outcome: Result<rdkafka::producer::future_producer::OwnedDeliveryResult, impl Sized>,
) -> Result<(), RelayError> {
    match outcome {
        Ok(Ok(_delivery)) => Ok(()),
        Ok(Err((error, _message))) => Err(RelayError::Kafka(error)),
        Err(_canceled) => Err(RelayError::ReportLost),
    }
}

fn future_record(record: &KafkaRecord) -> FutureRecord<'_, str, [u8]> {
    let headers = record.headers().iter().fold(
        OwnedHeaders::new_with_capacity(6),
        |headers, (key, value)| headers.insert(header(key, value)),
    );
    let record_to = FutureRecord::to(&record.topic)
        .key(record.key.as_str())
        .headers(headers);
    if record.tombstone {
        record_to
    } else {
        record_to.payload(record.value.as_slice())
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}
