//! The relay loop: one worker per ledger partition tails the partition's
//! log from its durable cursor and produces every event's record.
//!
//! A worker reads at most `batch_events_max` events after its cursor,
//! renders them, sends them (in attempts of at most `attempt_records_max`,
//! which halves after a failure so a struggling broker gets less at once),
//! then awaits every delivery report in log order. The cursor moves to the last event of the longest prefix the
//! broker acknowledged, never further; the rest of the batch is sent again
//! after a bounded backoff, so a record may be duplicated but never lost.
//! Re-sending starts only after every report of the attempt arrived, so an
//! old attempt never races a new one. With the idempotent producer,
//! librdkafka's own retries neither reorder nor duplicate, so the records
//! of one payment reach their Kafka partition in version order.
//!
//! Workers never touch the write path: they read the log and save their
//! cursors through `spawn_blocking`, and an unreachable broker only makes
//! them fall behind. Each wakes on the [`LogSignal`] or after the fallback
//! interval.

use crate::config::{RETRY_BACKOFF_MS_MAX, RETRY_BACKOFF_MS_MIN, RelayConfig, SHUTDOWN_FLUSH_MS};
use payledger_app::backoff::Backoff;

/// The wait between failed attempts: 100 ms doubling up to 5 s.
const RETRY_BACKOFF: Backoff = Backoff {
    min_ms: RETRY_BACKOFF_MS_MIN,
    max_ms: RETRY_BACKOFF_MS_MAX,
};
use crate::producer::{ProducerSlot, TopicError, Topics, producer_config};
use crate::render::{Record, Renderer};
use payledger_app::consumer::{Cursor, CursorError, LogSignal, log_wait_fallback};
use payledger_store::{EventStore, StoreError};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureRecord, Producer};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

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
    #[error("a blocking task of the relay failed")]
    Task,
}

/// What every worker shares.
struct Shared {
    store: Arc<dyn EventStore>,
    signal: Arc<LogSignal>,
    config: Arc<RelayConfig>,
    producer: ProducerSlot,
    topics: Topics,
    counters: Counters,
    /// Bumped after every cursor write (progress or a recorded error).
    cursor_writes: watch::Sender<u64>,
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

/// The running relay: one worker task per ledger partition.
pub struct Relay {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Starts a worker per partition of `store` on the current runtime.
    /// Fails only on an invalid configuration; an unreachable broker is
    /// retried by the workers.
    pub fn start(
        store: Arc<dyn EventStore>,
        signal: Arc<LogSignal>,
        config: RelayConfig,
    ) -> Result<Self, RelayError> {
        let producer = ProducerSlot::new(producer_config(&config))?;
        let topics = Topics::new(&config)?;
        let shared = Arc::new(Shared {
            store,
            signal,
            config: Arc::new(config),
            producer,
            topics,
            counters: Counters::default(),
            cursor_writes: watch::Sender::new(0),
        });
        let (stop, stopped) = watch::channel(false);
        let workers = (0..shared.store.partition_count())
            .map(|partition| {
                let span = tracing::info_span!(
                    "relay",
                    consumer = %shared.config.consumer_name,
                    partition
                );
                let worker = Worker::new(Arc::clone(&shared), partition, stopped.clone());
                tokio::spawn(worker.run().instrument(span))
            })
            .collect();
        Ok(Self {
            shared,
            stop,
            workers,
        })
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
        self.shared.cursor_writes.subscribe()
    }

    /// Stops the workers and waits for in-flight messages (bounded). What
    /// was not acknowledged stays behind the cursors and is sent again by
    /// the next start.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for worker in self.workers {
            let _ = worker.await;
        }
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

/// Whether a worker goes on.
enum Flow {
    Continue,
    Stop,
}

struct Worker {
    shared: Arc<Shared>,
    partition: u16,
    stop: watch::Receiver<bool>,
    /// Backoffs since the last success (the next wait is the
    /// [`Backoff`] ceiling of this attempt).
    backoffs: u32,
    /// Failed attempts since the last success with the current producer.
    failures_in_a_row: u32,
    /// Most records the next attempt sends: halved after a failure,
    /// doubled after a success, within [`ATTEMPT_RECORDS_MIN`] and the
    /// configured batch size.
    attempt_records_max: usize,
}

impl Worker {
    fn new(shared: Arc<Shared>, partition: u16, stop: watch::Receiver<bool>) -> Self {
        Self {
            attempt_records_max: shared.config.batch_events_max.max(1),
            shared,
            partition,
            stop,
            backoffs: 0,
            failures_in_a_row: 0,
        }
    }

    async fn run(mut self) {
        let mut waiter = self.shared.signal.subscribe(self.partition);
        let Some(mut cursor) = self.load_cursor().await else {
            return;
        };
        tracing::info!(cursor = cursor.sequence, "relay worker started");
        let mut renderer = None;
        while !*self.stop.borrow() {
            let (back, next) = self.next_records(&cursor, renderer.take()).await;
            renderer = back;
            let flow = match next {
                Ok(records) if records.is_empty() => {
                    let mut stop = self.stop.clone();
                    tokio::select! {
                        () = waiter.wait(log_wait_fallback()) => Flow::Continue,
                        () = stopped(&mut stop) => Flow::Stop,
                    }
                }
                Ok(records) => self.deliver(&mut cursor, &records).await,
                Err(error) => self.failed(&mut cursor, &error).await,
            };
            if matches!(flow, Flow::Stop) {
                break;
            }
        }
        tracing::info!(cursor = cursor.sequence, "relay worker stopped");
    }

    async fn load_cursor(&mut self) -> Option<Cursor> {
        loop {
            let (store, name, partition) = (
                Arc::clone(&self.shared.store),
                self.shared.config.consumer_name.clone(),
                self.partition,
            );
            let loaded = blocking(move || Ok(Cursor::load(&*store, &name, partition)?)).await;
            match loaded {
                Ok(cursor) => return Some(cursor),
                Err(error) => {
                    tracing::warn!(%error, "cannot load the relay cursor");
                    if matches!(self.backoff().await, Flow::Stop) {
                        return None;
                    }
                }
            }
        }
    }

    /// Reads and renders the next batch. The renderer travels into the
    /// blocking task and back (it is lost only if the task panicked).
    async fn next_records(
        &self,
        cursor: &Cursor,
        renderer: Option<Renderer>,
    ) -> (Option<Renderer>, Result<Vec<Record>, RelayError>) {
        let store = Arc::clone(&self.shared.store);
        let mut renderer =
            renderer.unwrap_or_else(|| Renderer::new(Arc::clone(&self.shared.config)));
        let cursor = cursor.clone();
        let max = self.shared.config.batch_events_max;
        let task = tokio::task::spawn_blocking(move || {
            let rendered = cursor
                .next_batch(&*store, max)
                .and_then(|events| renderer.render(&*store, &events));
            (renderer, rendered)
        });
        match task.await {
            Ok((renderer, rendered)) => (Some(renderer), rendered.map_err(RelayError::from)),
            Err(_) => (None, Err(RelayError::Task)),
        }
    }

    /// Sends `records` until the broker acknowledged all of them, saving
    /// the cursor after every acknowledged prefix.
    async fn deliver(&mut self, cursor: &mut Cursor, records: &[Record]) -> Flow {
        let mut pending = records;
        while !pending.is_empty() {
            // A struggling broker gets fewer records per attempt.
            let chunk = &pending[..pending.len().min(self.attempt_records_max)];
            let mut stop = self.stop.clone();
            let attempt = tokio::select! {
                outcome = self.attempt(chunk) => outcome,
                () = stopped(&mut stop) => return Flow::Stop,
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
                if let Err(error) = self.save(cursor, last.sequence).await {
                    return self.failed(cursor, &error).await;
                }
                self.cursor_written();
                pending = &pending[acked..];
            }
            match failure {
                None => {
                    self.backoffs = 0;
                    self.attempt_records_max = (self.attempt_records_max * 2)
                        .min(self.shared.config.batch_events_max.max(1));
                }
                Some(error) => {
                    self.attempt_records_max =
                        (self.attempt_records_max / 2).max(ATTEMPT_RECORDS_MIN);
                    if matches!(self.failed(cursor, &error).await, Flow::Stop) {
                        return Flow::Stop;
                    }
                }
            }
        }
        Flow::Continue
    }

    /// One attempt at `records`: `Err((n, error))` when only the first `n`
    /// were acknowledged.
    async fn attempt(&mut self, records: &[Record]) -> Result<(), (usize, RelayError)> {
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

    async fn save(&self, cursor: &mut Cursor, sequence: u64) -> Result<(), RelayError> {
        let store = Arc::clone(&self.shared.store);
        let mut saved = cursor.clone();
        *cursor = blocking(move || {
            saved.save(&*store, sequence)?;
            Ok(saved)
        })
        .await?;
        tracing::debug!(cursor = sequence, "relay cursor saved");
        Ok(())
    }

    fn cursor_written(&self) {
        self.shared
            .cursor_writes
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Records `error` on the cursor (for `payledger status`) and backs
    /// off.
    async fn failed(&mut self, cursor: &mut Cursor, error: &RelayError) -> Flow {
        tracing::warn!(%error, cursor = cursor.sequence, "relay batch failed; retrying");
        let counters = &self.shared.counters;
        counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
        let store = Arc::clone(&self.shared.store);
        let mut noted = cursor.clone();
        let record = CursorError::now(error.to_string());
        let saved = blocking(move || {
            noted.save_error(&*store, record)?;
            Ok(noted)
        })
        .await;
        if let Ok(noted) = saved {
            *cursor = noted;
            self.cursor_written();
        }
        self.backoff().await
    }

    async fn backoff(&mut self) -> Flow {
        self.backoffs = self.backoffs.saturating_add(1);
        let wait = Duration::from_millis(RETRY_BACKOFF.ceiling(self.backoffs));
        let mut stop = self.stop.clone();
        tokio::select! {
            () = tokio::time::sleep(wait) => Flow::Continue,
            () = stopped(&mut stop) => Flow::Stop,
        }
    }
}

/// Sends every record, then awaits every delivery report in order.
async fn produce(
    producer: &rdkafka::producer::FutureProducer,
    records: &[Record],
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

fn future_record(record: &Record) -> FutureRecord<'_, str, [u8]> {
    let headers = record.headers().iter().fold(
        OwnedHeaders::new_with_capacity(6),
        |headers, (key, value)| headers.insert(header(key, value)),
    );
    FutureRecord::to(&record.topic)
        .key(record.key.as_str())
        .payload(record.value.as_slice())
        .headers(headers)
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

/// Resolves once the relay is asked to stop (or its owner is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RelayError> + Send + 'static,
) -> Result<T, RelayError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| RelayError::Task)?
}
