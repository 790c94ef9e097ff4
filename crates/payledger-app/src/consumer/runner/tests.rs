//! The runner's promises, with a scripted handler on the in-memory store.

use super::*;
use parking_lot::Mutex;
use payledger_store::conformance::{event, new_payment};
use payledger_store::memory::MemoryStore;
use payledger_store::{AppendRequest, partition_of};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// What the scripted handler answers to its next batches (then `All`).
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// Writes the cursor past the batch itself, as a handler does that
    /// commits its effect with it.
    Committed,
    Partly(u64),
    Failed(Option<u64>),
    Stopped(Option<u64>),
}

/// Shared by every handler the factory builds.
#[derive(Clone, Default)]
struct Script {
    /// (partition, sequence) of every event handed to `handle`.
    handled: Arc<Mutex<Vec<(u16, u64)>>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    /// `prepare` calls that panic before the next one succeeds.
    panics: Arc<AtomicU32>,
    /// Handlers built by the factory.
    built: Arc<AtomicU32>,
    /// Where a `Committed` answer writes its cursor.
    store: Option<Arc<dyn EventStore>>,
    /// Batches prepared.
    batches: Arc<AtomicU32>,
    /// How long `handle` takes (on the runtime's clock), as a durable
    /// write would.
    handle_time: Duration,
    /// What `resume` was given, by every handler.
    resumed: Arc<Mutex<Vec<RetryState>>>,
}

struct Scripted {
    script: Script,
    partition: u16,
    /// Failed answers in a row at the first item of the work.
    failing: Option<RetryState>,
}

impl Script {
    fn handler(&self, partition: u16) -> Scripted {
        self.built.fetch_add(1, Ordering::SeqCst);
        Scripted {
            script: self.clone(),
            partition,
            failing: None,
        }
    }

    fn sequences(&self) -> Vec<u64> {
        self.handled.lock().iter().map(|(_, s)| *s).collect()
    }
}

impl LogHandler for Scripted {
    type Work = Vec<u64>;
    type Error = String;

    fn batch_events_max(&self) -> usize {
        100
    }

    fn prepare(
        &mut self,
        _store: &dyn EventStore,
        events: Vec<EventEnvelope>,
    ) -> Result<Vec<u64>, String> {
        let panics = &self.script.panics;
        if panics
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("scripted panic in prepare");
        }
        self.script.batches.fetch_add(1, Ordering::SeqCst);
        Ok(events.iter().map(|e| e.partition_sequence).collect())
    }

    async fn handle(&mut self, work: &mut Vec<u64>, _stop: &Stop) -> Handled<String> {
        if !self.script.handle_time.is_zero() {
            tokio::time::sleep(self.script.handle_time).await;
        }
        let partition = self.partition;
        self.script
            .handled
            .lock()
            .extend(work.iter().map(|s| (partition, *s)));
        let answer = self.script.answers.lock().pop_front();
        // What the answer says is done leaves the work.
        let done = match answer {
            Some(Answer::Committed) => {
                let last = *work.last().expect("a batch");
                let store = self.script.store.as_ref().expect("a store to commit to");
                let cursor = Cursor::write_at("runner-test", partition, last);
                store.write(vec![cursor]).expect("commit");
                None
            }
            Some(Answer::Partly(through)) => Some(through),
            Some(Answer::Failed(through) | Answer::Stopped(through)) => through,
            None => None,
        };
        work.retain(|sequence| done.is_none_or(|through| *sequence > through));
        self.failing = match (answer, work.first()) {
            (Some(Answer::Failed(_)), Some(&sequence)) => Some(match self.failing {
                Some(f) if f.sequence == sequence => RetryState {
                    attempts: f.attempts + 1,
                    ..f
                },
                _ => RetryState {
                    sequence,
                    attempts: 1,
                    since_unix_ms: 1_000,
                },
            }),
            _ => None,
        };
        match answer {
            None => Handled::All,
            Some(Answer::Committed) => Handled::Committed,
            Some(Answer::Partly(through)) => Handled::Partly { through },
            Some(Answer::Failed(through)) => Handled::Failed {
                through,
                failure: "the receiver answered 503".to_owned(),
            },
            Some(Answer::Stopped(through)) => Handled::Stopped { through },
        }
    }

    fn retry_state(&self) -> Option<RetryState> {
        self.failing
    }

    fn resume(&mut self, retry: RetryState) {
        self.script.resumed.lock().push(retry);
        self.failing = Some(retry);
    }
}

fn config(clock_ms: i64) -> ConsumerConfig {
    ConsumerConfig {
        name: "runner-test".to_owned(),
        backoff: Backoff {
            min_ms: 1,
            max_ms: 1,
        },
        clock: Arc::new(crate::clock::ManualClock::new(clock_ms)),
        linger: std::time::Duration::ZERO,
    }
}

/// A store with `events` single-event payments, all on partition 0 of 1.
fn store_with(events: usize) -> Arc<dyn EventStore> {
    let store = MemoryStore::with_partitions(1);
    for _ in 0..events {
        store
            .append(AppendRequest::events(new_payment(), 0, vec![event("r")]))
            .unwrap();
    }
    Arc::new(store)
}

fn partition_consumer(store: &Arc<dyn EventStore>, script: &Script) -> PartitionConsumer<Scripted> {
    let cursor = Cursor::load(&**store, "runner-test", 0).unwrap();
    let script = script.clone();
    PartitionConsumer::new(Arc::clone(store), config(1_000), cursor, move || {
        script.handler(0)
    })
}

/// A store that counts its table writes.
#[derive(Debug)]
struct Counting {
    inner: MemoryStore,
    writes: AtomicU32,
}

impl EventStore for Counting {
    fn partition_count(&self) -> u16 {
        self.inner.partition_count()
    }
    fn submit(&self, request: AppendRequest) -> payledger_store::PendingAppend {
        self.inner.submit(request)
    }
    fn log_signal(&self) -> &payledger_store::LogSignal {
        self.inner.log_signal()
    }
    fn read_stream(
        &self,
        stream: payledger_domain::StreamId,
        range: payledger_store::VersionRange,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        self.inner.read_stream(stream, range)
    }
    fn read_log(
        &self,
        partition: u16,
        from: u64,
        max: usize,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        self.inner.read_log(partition, from, max)
    }
    fn stream_head(
        &self,
        stream: payledger_domain::StreamId,
    ) -> Result<Option<payledger_store::StreamHead>, StoreError> {
        self.inner.stream_head(stream)
    }
    fn known_head(
        &self,
        stream: payledger_domain::StreamId,
    ) -> Option<payledger_store::StreamHead> {
        self.inner.known_head(stream)
    }
    fn log_head(&self, partition: u16) -> Result<u64, StoreError> {
        self.inner.log_head(partition)
    }
    fn get(
        &self,
        table: payledger_store::Table,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(table, key)
    }
    fn scan(
        &self,
        table: payledger_store::Table,
        from: &[u8],
        to: &[u8],
        max: usize,
    ) -> Result<Vec<payledger_store::KeyValue>, StoreError> {
        self.inner.scan(table, from, to, max)
    }
    fn write(&self, writes: Vec<payledger_store::KvWrite>) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(writes)
    }
}

#[tokio::test]
async fn a_handler_that_committed_its_cursor_with_its_effect_gets_no_second_cursor_write() {
    let inner = MemoryStore::with_partitions(1);
    for _ in 0..3 {
        inner
            .append(AppendRequest::events(new_payment(), 0, vec![event("r")]))
            .unwrap();
    }
    let counting = Arc::new(Counting {
        inner,
        writes: AtomicU32::new(0),
    });
    let store: Arc<dyn EventStore> = counting.clone();
    let script = Script {
        store: Some(Arc::clone(&store)),
        ..Script::default()
    };
    script.answers.lock().push_back(Answer::Committed);
    let mut consumer = partition_consumer(&store, &script);

    let stepped = consumer.step(&Stop::never()).await.unwrap();
    assert!(matches!(stepped, Stepped::Done { events: 3 }));
    assert_eq!(consumer.cursor().sequence, 3);
    assert_eq!(Cursor::load(&*store, "runner-test", 0).unwrap().sequence, 3);
    assert_eq!(
        counting.writes.load(Ordering::SeqCst),
        1,
        "only the handler's own write"
    );
    assert!(matches!(
        consumer.step(&Stop::never()).await,
        Ok(Stepped::CaughtUp)
    ));
}

#[tokio::test]
async fn a_failure_moves_the_cursor_past_what_was_done_records_why_and_the_rest_is_read_again() {
    let store = store_with(5);
    let script = Script::default();
    script.answers.lock().push_back(Answer::Failed(Some(2)));
    let mut consumer = partition_consumer(&store, &script);

    let failed = consumer.step(&Stop::never()).await;
    assert!(
        matches!(failed, Err(ConsumerFailure::Handler(ref e)) if e == "the receiver answered 503")
    );
    let stored = Cursor::load(&*store, "runner-test", 0).unwrap();
    assert_eq!(stored.sequence, 2);
    let error = stored.last_error.expect("the failure is recorded");
    assert_eq!(error.message, "the receiver answered 503");
    assert_eq!(error.at_unix_ms, 1_000);

    let done = consumer.step(&Stop::never()).await.unwrap();
    assert_eq!(done, Stepped::Done { events: 3 });
    assert_eq!(script.sequences(), [1, 2, 3, 4, 5, 3, 4, 5]);
    let stored = Cursor::load(&*store, "runner-test", 0).unwrap();
    assert_eq!((stored.sequence, stored.last_error), (5, None));
    assert_eq!(
        consumer.step(&Stop::never()).await.unwrap(),
        Stepped::CaughtUp
    );
}

#[tokio::test]
async fn a_handler_that_did_part_of_a_batch_has_the_cursor_cleared_there_and_the_rest_read_at_once()
{
    let store = store_with(4);
    let script = Script::default();
    script
        .answers
        .lock()
        .extend([Answer::Failed(None), Answer::Partly(1)]);
    let mut consumer = partition_consumer(&store, &script);
    assert!(consumer.step(&Stop::never()).await.is_err());
    assert!(consumer.cursor().last_error.is_some());

    assert_eq!(
        consumer.step(&Stop::never()).await.unwrap(),
        Stepped::Done { events: 1 }
    );
    let stored = Cursor::load(&*store, "runner-test", 0).unwrap();
    assert_eq!((stored.sequence, stored.last_error), (1, None));
    assert_eq!(
        consumer.step(&Stop::never()).await.unwrap(),
        Stepped::Done { events: 3 }
    );
    assert_eq!(script.sequences(), [1, 2, 3, 4, 1, 2, 3, 4, 2, 3, 4]);
}

#[tokio::test]
async fn a_stop_keeps_what_was_done_and_nothing_more() {
    let store = store_with(3);
    let script = Script::default();
    script.answers.lock().push_back(Answer::Stopped(Some(1)));
    let mut consumer = partition_consumer(&store, &script);
    assert_eq!(
        consumer.step(&Stop::never()).await.unwrap(),
        Stepped::Stopped
    );
    let stored = Cursor::load(&*store, "runner-test", 0).unwrap();
    assert_eq!((stored.sequence, stored.last_error), (1, None));
}

#[tokio::test]
async fn a_handler_that_panics_is_replaced_and_the_batch_read_again() {
    let store = store_with(2);
    let script = Script::default();
    script.panics.store(1, Ordering::SeqCst);
    let mut consumer = partition_consumer(&store, &script);

    let failed = consumer.step(&Stop::never()).await;
    assert!(matches!(failed, Err(ConsumerFailure::Panicked)));
    let stored = Cursor::load(&*store, "runner-test", 0).unwrap();
    assert_eq!(stored.sequence, 0);
    assert!(stored.last_error.unwrap().message.contains("panicked"));

    assert_eq!(
        consumer.step(&Stop::never()).await.unwrap(),
        Stepped::Done { events: 2 }
    );
    assert_eq!(script.built.load(Ordering::SeqCst), 2);
    assert_eq!(script.sequences(), [1, 2]);
}

/// Waits (bounded) until `done` holds, re-checking after every cursor
/// write of `consumer`.
async fn until(consumer: &LogConsumer, mut done: impl FnMut() -> bool) {
    let mut writes = consumer.cursor_writes();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        tokio::time::timeout_at(deadline, writes.changed())
            .await
            .expect("the consumer made no progress within 20 s")
            .expect("the consumer is running");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_partition_is_consumed_in_log_order_and_a_commit_wakes_an_idle_consumer() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::with_partitions(3));
    let append = |count: usize| {
        for _ in 0..count {
            store
                .append(AppendRequest::events(new_payment(), 0, vec![event("r")]))
                .unwrap();
        }
    };
    let at_heads = |store: &Arc<dyn EventStore>| {
        (0..3).all(|p| {
            let head = store.log_head(p).unwrap();
            Cursor::load(&**store, "runner-test", p).unwrap().sequence == head
        })
    };
    append(30);
    let script = Script::default();
    let consumer = {
        let script = script.clone();
        LogConsumer::spawn(Arc::clone(&store), config(0), move |p| script.handler(p))
    };
    until(&consumer, || at_heads(&store)).await;

    // Idle now: only a commit can wake it (there is no poll).
    let payment = new_payment();
    store
        .append(AppendRequest::events(payment, 0, vec![event("late")]))
        .unwrap();
    until(&consumer, || at_heads(&store)).await;
    consumer.stop().await;

    let handled = script.handled.lock().clone();
    assert_eq!(handled.len(), 31);
    for partition in 0..3u16 {
        let sequences: Vec<u64> = handled
            .iter()
            .filter(|(p, _)| *p == partition)
            .map(|(_, s)| *s)
            .collect();
        let head = store.log_head(partition).unwrap();
        assert_eq!(sequences, (1..=head).collect::<Vec<_>>());
    }
    let late = partition_of(payment, 3);
    assert!(handled.contains(&(late, store.log_head(late).unwrap())));
}

/// Appends `count` single-event payments to partition 0 of `store`, one
/// every `interval` of the runtime's clock.
async fn append_steadily(store: Arc<dyn EventStore>, count: usize, interval: Duration) {
    for _ in 0..count {
        store
            .append(AppendRequest::events(new_payment(), 0, vec![event("r")]))
            .unwrap();
        tokio::time::sleep(interval).await;
    }
}

#[tokio::test(start_paused = true)]
async fn under_steady_load_a_lingering_consumer_reads_once_per_linger_not_once_per_commit() {
    // A commit every millisecond while each batch takes 5 ms to handle:
    // without the linger after a partial batch, every step would find the
    // ~5 commits of the step before and read them at once (~40 batches).
    let store = store_with(0);
    let script = Script {
        handle_time: Duration::from_millis(5),
        ..Script::default()
    };
    let consumer = {
        let script = script.clone();
        let config = config(0).with_linger(Duration::from_millis(50));
        LogConsumer::spawn(Arc::clone(&store), config, move |p| script.handler(p))
    };
    append_steadily(Arc::clone(&store), 200, Duration::from_millis(1)).await;
    let head = store.log_head(0).unwrap();
    until(&consumer, || script.sequences().last() == Some(&head)).await;
    consumer.stop().await;

    assert_eq!(script.sequences(), (1..=head).collect::<Vec<_>>());
    let batches = script.batches.load(Ordering::SeqCst);
    // 200 ms of commits in batches of ~55 (50 ms lingered + 5 handled).
    assert!(batches <= 6, "{batches} batches for 200 commits");
}

#[tokio::test(start_paused = true)]
async fn a_lingering_consumer_a_whole_batch_behind_reads_on_without_waiting() {
    let store = store_with(250);
    let script = Script::default();
    let linger = Duration::from_secs(3600);
    let started = tokio::time::Instant::now();
    let consumer = {
        let script = script.clone();
        let config = config(0).with_linger(linger);
        LogConsumer::spawn(Arc::clone(&store), config, move |p| script.handler(p))
    };
    until(&consumer, || script.sequences().len() == 250).await;
    let took = started.elapsed();
    consumer.stop().await;

    assert_eq!(script.sequences(), (1..=250).collect::<Vec<_>>());
    // Two full batches of 100, then the 50 left: no linger before them.
    assert_eq!(script.batches.load(Ordering::SeqCst), 3);
    assert!(took < linger, "waited {took:?} with full batches to read");
}

#[tokio::test]
async fn a_handlers_count_of_attempts_is_stored_with_its_failure_and_resumed_by_the_next_handler() {
    let store = store_with(3);
    let script = Script::default();
    (script.answers.lock()).extend([Answer::Failed(Some(1)), Answer::Failed(None)]);
    let mut consumer = partition_consumer(&store, &script);
    for _ in 0..2 {
        assert!(consumer.step(&Stop::never()).await.is_err());
    }
    let held = RetryState {
        sequence: 2,
        attempts: 2,
        since_unix_ms: 1_000,
    };
    let stored = Cursor::load(&*store, "runner-test", 0).unwrap();
    assert_eq!(stored.sequence, 1);
    assert_eq!(stored.last_error.and_then(|e| e.retry), Some(held));
    assert!(
        script.resumed.lock().is_empty(),
        "nothing to resume at first"
    );

    // A restart: the new handler starts from the stored count, not from 0.
    drop(consumer);
    let mut restarted = partition_consumer(&store, &script);
    assert!(matches!(
        restarted.step(&Stop::never()).await,
        Ok(Stepped::Done { events: 2 })
    ));
    assert_eq!(*script.resumed.lock(), vec![held]);
    let stored = Cursor::load(&*store, "runner-test", 0).unwrap();
    assert_eq!((stored.sequence, stored.last_error), (3, None));
}
