//! The one log-consumer runner: every consumer of the partition logs (the
//! Kafka relay, webhook deliveries, the PSP executor, later analytics)
//! supplies only a [`LogHandler`]; the runner owns the rest.
//!
//! Per partition, a worker task:
//! 1. loads its durable [`Cursor`] (retrying with backoff);
//! 2. reads the next batch after the cursor and lets the handler
//!    [`prepare`](LogHandler::prepare) it on a blocking thread (rendering,
//!    filtering, reading history);
//! 3. lets the handler [`handle`](LogHandler::handle) the work and moves
//!    the cursor to what the handler reports done, in one write that also
//!    records the failure holding it back, if any;
//! 4. after a failure waits a [`Backoff`] with jitter (the count restarts
//!    when the cursor moves) and hands the handler the rest of the same
//!    work again (it is neither read nor prepared twice); when the log has
//!    nothing new, waits on the store's commit signal ([`LogWaiter`]), so
//!    there is no poll;
//! 5. stops when asked: between batches, during a wait, or inside a
//!    handler that watches [`Stop`].
//!
//! A handler that bounds its retries reports its count of attempts
//! ([`LogHandler::retry_state`]); the runner stores it with each failure
//! on the cursor and hands it to every handler it makes after
//! ([`LogHandler::resume`]), so neither a restart nor a panic resets it.
//!
//! Delivery is at least once: the cursor moves only past effects the
//! handler reports done, so a crash repeats at most the batch in progress.
//! Store failures are recorded and retried like handler failures; a
//! panicking handler is replaced by a new one from the factory.

use super::{Cursor, CursorError, LOG_BATCH_EVENTS_MAX, RetryState};
use crate::backoff::Backoff;
use crate::clock::{Clock, SystemClock};
use payledger_domain::EventEnvelope;
use payledger_store::{EventStore, LogWaiter, StoreError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// What one log consumer does with its batches.
pub trait LogHandler: Send + 'static {
    /// What a batch becomes before it is acted on (rendered records, the
    /// payments to work on, …).
    type Work: Send + 'static;
    /// Why a batch could not be finished; its text is recorded on the
    /// cursor (`payledger status`).
    type Error: std::fmt::Display + Send + 'static;

    /// Most events one batch reads (at most [`LOG_BATCH_EVENTS_MAX`]).
    fn batch_events_max(&self) -> usize;

    /// Turns a non-empty batch into work, on a blocking thread (may read
    /// the store). An error is recorded and the batch read again after a
    /// backoff.
    fn prepare(
        &mut self,
        store: &dyn EventStore,
        events: Vec<EventEnvelope>,
    ) -> Result<Self::Work, Self::Error>;

    /// Acts on the work, removes from it what is done, and says how far it
    /// got. What is left is handed back on the next step (after a backoff
    /// when it failed). A handler that waits long (on a broker, a
    /// receiver) should give up when `stop` is requested.
    fn handle(
        &mut self,
        work: &mut Self::Work,
        stop: &Stop,
    ) -> impl Future<Output = Handled<Self::Error>> + Send;

    /// The handler's count of attempts at the item it is retrying, stored
    /// with every failure the runner records on the cursor. None by
    /// default.
    fn retry_state(&self) -> Option<RetryState> {
        None
    }

    /// Takes back the count the cursor held when this handler was made
    /// (after a restart, or in place of a handler that panicked), so that
    /// a bound on retries is not reset by either.
    fn resume(&mut self, _retry: RetryState) {}
}

/// How far a handler got with a batch.
#[derive(Debug)]
pub enum Handled<E> {
    /// Every event of the batch is done.
    All,
    /// Every event of the batch is done, and the handler wrote the cursor
    /// past it (`Cursor::write_at`) in the same write as its effect, so
    /// the effect is never applied twice: the runner writes nothing more.
    Committed,
    /// The events up to `through` (an event of the batch) are done and the
    /// cursor should say so before anything else happens (e.g. a failure
    /// just cleared); the rest of the work is handled at once.
    Partly { through: u64 },
    /// The events up to `through` (none: `None`) are done; `failure` holds
    /// the rest back. It is recorded on the cursor and the rest of the
    /// work is handled again after a backoff.
    Failed { through: Option<u64>, failure: E },
    /// A stop was requested; the events up to `through` are done.
    Stopped { through: Option<u64> },
}

/// Why a step of a consumer failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerFailure<E: std::fmt::Display> {
    #[error("{0}")]
    Handler(E),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a blocking task of the consumer panicked")]
    Panicked,
}

/// Asks workers and handlers to stop; cheap to clone.
#[derive(Clone, Debug)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A stop that is never requested (single steps in tests and tools).
    pub fn never() -> Self {
        let (sender, receiver) = watch::channel(false);
        drop(sender);
        Self(receiver)
    }

    /// Whether a stop was requested.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop is requested (never, if it cannot be any more).
    pub async fn requested(&self) {
        let mut receiver = self.0.clone();
        if receiver.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Who a consumer is and how it retries.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// The cursor name (one cursor per partition).
    pub name: String,
    /// The wait after failures in a row.
    pub backoff: Backoff,
    /// The clock failures are recorded with.
    pub clock: Arc<dyn Clock>,
    /// How long a worker lets commits gather before it reads again, after
    /// the first one wakes it and after any batch that was not full, so
    /// one batch carries them (zero: at once). A consumer that need not
    /// act at once trades this much lag for far fewer wake-ups, reads and
    /// cursor writes under load.
    pub linger: Duration,
}

impl ConsumerConfig {
    /// A consumer named `name` retrying with `backoff`, on the wall clock.
    pub fn new(name: impl Into<String>, backoff: Backoff) -> Self {
        Self {
            name: name.into(),
            backoff,
            clock: Arc::new(SystemClock),
            linger: Duration::ZERO,
        }
    }

    /// The same consumer, lingering `linger` after each wake-up.
    #[must_use]
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }
}

/// What one step of a partition worker did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stepped {
    /// Nothing new after the cursor.
    CaughtUp,
    /// `events` events are done (all that were read, or the part the
    /// handler finished before it asked for the rest to be handled at once).
    Done { events: usize },
    /// A stop was requested during the step.
    Stopped,
}

/// One consumer on one partition: the cursor, the handler and the step
/// that moves one from the other. [`LogConsumer::spawn`] runs one per
/// partition; tests drive [`PartitionConsumer::step`] directly.
pub struct PartitionConsumer<H: LogHandler> {
    store: Arc<dyn EventStore>,
    config: ConsumerConfig,
    cursor: Cursor,
    /// Built by `make` when first needed and again after one panicked.
    handler: Option<H>,
    make: Arc<dyn Fn() -> H + Send + Sync>,
    /// A batch the handler has not finished: its last sequence and the
    /// work left.
    unfinished: Option<(u64, H::Work)>,
    /// Failures since the cursor last moved.
    failures: u32,
    cursor_writes: Arc<watch::Sender<u64>>,
}

impl<H: LogHandler> std::fmt::Debug for PartitionConsumer<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionConsumer")
            .field("cursor", &self.cursor)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl<H: LogHandler> PartitionConsumer<H> {
    /// A consumer at `cursor` with handlers from `make`.
    pub fn new(
        store: Arc<dyn EventStore>,
        config: ConsumerConfig,
        cursor: Cursor,
        make: impl Fn() -> H + Send + Sync + 'static,
    ) -> Self {
        Self::with_writes(
            store,
            config,
            cursor,
            Arc::new(make),
            Arc::new(watch::Sender::new(0)),
        )
    }

    fn with_writes(
        store: Arc<dyn EventStore>,
        config: ConsumerConfig,
        cursor: Cursor,
        make: Arc<dyn Fn() -> H + Send + Sync>,
        cursor_writes: Arc<watch::Sender<u64>>,
    ) -> Self {
        Self {
            store,
            config,
            cursor,
            handler: None,
            make,
            unfinished: None,
            failures: 0,
            cursor_writes,
        }
    }

    /// Where the consumer stands.
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// A handler from the factory, resumed from the count of attempts the
    /// cursor's failure holds.
    fn new_handler(&self) -> H {
        let mut handler = (self.make)();
        if let Some(retry) = self.cursor.last_error.as_ref().and_then(|e| e.retry) {
            handler.resume(retry);
        }
        handler
    }

    /// Reads, prepares and handles the next batch, then saves the cursor
    /// (with the failure, if one held the batch back).
    pub async fn step(&mut self, stop: &Stop) -> Result<Stepped, ConsumerFailure<H::Error>> {
        let outcome = self.try_step(stop).await;
        let unrecorded = match &outcome {
            Ok(_) => None,
            Err(failure) => {
                tracing::warn!(%failure, cursor = self.cursor.sequence, "log consumer step failed");
                // Handler failures were recorded with the cursor's move.
                let recorded = matches!(failure, ConsumerFailure::Handler(_));
                (!recorded).then(|| failure.to_string())
            }
        };
        if let Some(text) = unrecorded {
            self.record(text).await;
        }
        outcome
    }

    async fn try_step(&mut self, stop: &Stop) -> Result<Stepped, ConsumerFailure<H::Error>> {
        let (last, mut work) = match self.unfinished.take() {
            Some(unfinished) => unfinished,
            None => match self.read_and_prepare().await? {
                Some(batch) => batch,
                None => return Ok(Stepped::CaughtUp),
            },
        };
        let handler = match self.handler.take() {
            Some(handler) => handler,
            None => self.new_handler(),
        };
        let handled = self.handler.insert(handler).handle(&mut work, stop).await;
        let before = self.cursor.sequence;
        // The events a step is done with: those its cursor moved past.
        let moved = |cursor: &Cursor| Stepped::Done {
            events: usize::try_from(cursor.sequence - before).unwrap_or(usize::MAX),
        };
        match handled {
            Handled::All => {
                self.save(Some(last), None).await?;
                Ok(moved(&self.cursor))
            }
            Handled::Committed => {
                self.adopt(last);
                Ok(moved(&self.cursor))
            }
            Handled::Partly { through } => {
                self.unfinished = Some((last, work));
                self.save(Some(through), None).await?;
                Ok(moved(&self.cursor))
            }
            Handled::Stopped { through } => {
                self.save(through, None).await?;
                Ok(Stepped::Stopped)
            }
            Handled::Failed { through, failure } => {
                self.unfinished = Some((last, work));
                self.save(through, Some(failure.to_string())).await?;
                Err(ConsumerFailure::Handler(failure))
            }
        }
    }

    /// Reads the next batch after the cursor and prepares it, off the
    /// async workers; `None` when the log has nothing new.
    async fn read_and_prepare(
        &mut self,
    ) -> Result<Option<(u64, H::Work)>, ConsumerFailure<H::Error>> {
        let handler = self.handler.take().unwrap_or_else(|| self.new_handler());
        let (store, cursor) = (Arc::clone(&self.store), self.cursor.clone());
        let read = tokio::task::spawn_blocking(move || {
            let mut handler = handler;
            let max = handler.batch_events_max().clamp(1, LOG_BATCH_EVENTS_MAX);
            let prepared = match cursor.next_batch(&*store, max) {
                Ok(events) if events.is_empty() => Ok(None),
                Ok(events) => {
                    let last = events[events.len() - 1].partition_sequence;
                    handler
                        .prepare(&*store, events)
                        .map(|work| Some((last, work)))
                        .map_err(ConsumerFailure::Handler)
                }
                Err(error) => Err(ConsumerFailure::Store(error)),
            };
            (handler, prepared)
        })
        .await;
        let Ok((handler, prepared)) = read else {
            return Err(ConsumerFailure::Panicked);
        };
        self.handler = Some(handler);
        if let Err(ConsumerFailure::Handler(error)) = &prepared {
            // Recorded here: `step` records only what is not the handler's.
            self.save(None, Some(error.to_string())).await?;
        }
        prepared
    }

    /// Moves the cursor to `through` (if further) and records `failure`,
    /// in one write; nothing is written when neither changes anything.
    async fn save(
        &mut self,
        through: Option<u64>,
        failure: Option<String>,
    ) -> Result<(), StoreError> {
        let sequence = through.map_or(self.cursor.sequence, |t| t.max(self.cursor.sequence));
        let moved = sequence > self.cursor.sequence;
        if moved {
            self.failures = 0;
        }
        if !moved && failure.is_none() {
            return Ok(());
        }
        let retry = self.handler.as_ref().and_then(LogHandler::retry_state);
        let error =
            failure.map(|text| CursorError::at(self.config.clock.now_ms(), text).with_retry(retry));
        let (store, mut cursor) = (Arc::clone(&self.store), self.cursor.clone());
        let saved = tokio::task::spawn_blocking(move || {
            match error {
                None => cursor.save(&*store, sequence)?,
                Some(error) => cursor.save_error_at(&*store, sequence, error)?,
            }
            Ok::<_, StoreError>(cursor)
        })
        .await
        .map_err(|_| StoreError::Engine("a cursor write panicked".into()))??;
        self.cursor = saved;
        self.cursor_writes
            .send_modify(|count| *count = count.wrapping_add(1));
        Ok(())
    }

    /// Takes the cursor a handler wrote with its effect ([`Handled::Committed`]):
    /// at `sequence`, with no failure.
    fn adopt(&mut self, sequence: u64) {
        if sequence > self.cursor.sequence {
            self.failures = 0;
            self.cursor.sequence = sequence;
        }
        self.cursor.last_error = None;
        self.cursor_writes
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Records a failure that is not the handler's on the cursor, best
    /// effort (the store may be what failed).
    async fn record(&mut self, failure: String) {
        if let Err(error) = self.save(None, Some(failure)).await {
            tracing::error!(%error, "cannot record a consumer failure on its cursor");
        }
    }

    /// Runs until `stop` is requested: steps, waits on the commit signal
    /// when caught up, backs off after failures.
    async fn run(mut self, mut waiter: LogWaiter, stop: Stop) {
        tracing::info!(cursor = self.cursor.sequence, "log consumer started");
        while !stop.is_requested() {
            match self.step(&stop).await {
                // Under steady load a worker never catches up: commits
                // land while it handles a batch, so it would read about one
                // commit per step. A lingering worker waits after a batch
                // that was not full as after a wake-up; a full one means it
                // is behind, and it reads on at once.
                Ok(Stepped::Done { events }) => {
                    if events < self.batch_events_max() && !linger(self.config.linger, &stop).await
                    {
                        break;
                    }
                }
                Ok(Stepped::Stopped) => break,
                Ok(Stepped::CaughtUp) => {
                    tokio::select! {
                        () = waiter.wait() => {}
                        () = stop.requested() => break,
                    }
                    if !linger(self.config.linger, &stop).await {
                        break;
                    }
                }
                Err(_) => {
                    if !self.back_off(&stop).await {
                        break;
                    }
                }
            }
        }
        tracing::info!(cursor = self.cursor.sequence, "log consumer stopped");
    }

    /// Most events one batch of this worker reads.
    fn batch_events_max(&self) -> usize {
        self.handler
            .as_ref()
            .map_or(LOG_BATCH_EVENTS_MAX, LogHandler::batch_events_max)
            .clamp(1, LOG_BATCH_EVENTS_MAX)
    }

    /// Waits the backoff of one more failure; `false` when stopped.
    async fn back_off(&mut self, stop: &Stop) -> bool {
        self.failures = self.failures.saturating_add(1);
        let wait = self.config.backoff.next(self.failures);
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = stop.requested() => false,
        }
    }
}

/// Lets commits gather for `linger`; `false` when stopped meanwhile.
async fn linger(linger: Duration, stop: &Stop) -> bool {
    if linger.is_zero() {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(linger) => true,
        () = stop.requested() => false,
    }
}

/// A running consumer: one worker task per partition of the store.
#[derive(Debug)]
pub struct LogConsumer {
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    cursor_writes: Arc<watch::Sender<u64>>,
}

impl LogConsumer {
    /// Starts a worker per partition of `store`; `make(partition)` builds
    /// its handler (again, if one panicked).
    pub fn spawn<H, F>(store: Arc<dyn EventStore>, config: ConsumerConfig, make: F) -> Self
    where
        H: LogHandler,
        F: Fn(u16) -> H + Send + Sync + 'static,
    {
        let (stop, stopped) = watch::channel(false);
        let cursor_writes = Arc::new(watch::Sender::new(0));
        let make = Arc::new(make);
        let workers = (0..store.partition_count())
            .map(|partition| {
                let span = tracing::info_span!("consumer", consumer = %config.name, partition);
                let worker = start_partition(
                    Arc::clone(&store),
                    config.clone(),
                    partition,
                    {
                        let make = Arc::clone(&make);
                        move || make(partition)
                    },
                    Arc::clone(&cursor_writes),
                    Stop(stopped.clone()),
                );
                tokio::spawn(worker.instrument(span))
            })
            .collect();
        Self {
            stop,
            workers,
            cursor_writes,
        }
    }

    /// Changes after every cursor write of any worker (progress or a
    /// recorded failure): what waits for the consumer waits on this.
    pub fn cursor_writes(&self) -> watch::Receiver<u64> {
        self.cursor_writes.subscribe()
    }

    /// Asks every worker to stop after what it is doing.
    pub fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until every worker stopped.
    pub async fn join(self) {
        for worker in self.workers {
            let _ = worker.await;
        }
    }

    /// Stops every worker and waits for them.
    pub async fn stop(self) {
        self.signal_stop();
        self.join().await;
    }
}

/// Loads a partition's cursor (retrying with backoff) and runs it.
async fn start_partition<H: LogHandler>(
    store: Arc<dyn EventStore>,
    config: ConsumerConfig,
    partition: u16,
    make: impl Fn() -> H + Send + Sync + 'static,
    cursor_writes: Arc<watch::Sender<u64>>,
    stop: Stop,
) {
    // Subscribed before the first read: no commit after it goes unseen.
    let waiter = store.log_signal().subscribe(partition);
    let mut failures = 0u32;
    let cursor = loop {
        let (from, name) = (Arc::clone(&store), config.name.clone());
        let loaded =
            tokio::task::spawn_blocking(move || Cursor::load(&*from, &name, partition)).await;
        match loaded {
            Ok(Ok(cursor)) => break cursor,
            Ok(Err(error)) => tracing::warn!(%error, "cannot load the consumer's cursor"),
            Err(_) => tracing::warn!("loading the consumer's cursor panicked"),
        }
        failures = failures.saturating_add(1);
        tokio::select! {
            () = tokio::time::sleep(config.backoff.next(failures)) => {}
            () = stop.requested() => return,
        }
    };
    PartitionConsumer::with_writes(store, config, cursor, Arc::new(make), cursor_writes)
        .run(waiter, stop)
        .await;
}

#[cfg(test)]
mod tests;
