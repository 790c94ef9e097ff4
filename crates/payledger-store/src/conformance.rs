//! The conformance suite every [`EventStore`] implementation must pass.
//!
//! An implementation provides a [`Harness`] that opens a fresh store and can
//! reopen it (for durable stores: close and open the same directory), then
//! invokes [`event_store_conformance!`](crate::event_store_conformance) in a
//! test module. Each check is a plain function, so a failure names the rule
//! that broke.

use crate::memory_only::memory_only;
use crate::{
    AppendError, AppendRequest, EventStore, GENESIS_HASH, KvWrite, NewEvent, StoreError, Table,
    VersionRange, envelope_hash,
};
use payledger_domain::{
    Actor, Event, EventId, EventMeta, PaymentId, ProjectKey, StreamId, StreamKind, Timestamp,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Opens stores for the suite.
pub trait Harness {
    type Store: EventStore;
    /// A new, empty store.
    fn open(&mut self) -> Self::Store;
    /// Closes `store` and opens it again from where it keeps its data.
    fn reopen(&mut self, store: Self::Store) -> Self::Store;
}

/// Runs the whole suite as one `#[test]` per rule.
#[macro_export]
macro_rules! event_store_conformance {
    ($harness:expr) => {
        $crate::event_store_conformance!(@tests $harness;
            versions_are_contiguous,
            stale_or_future_versions_conflict_and_change_nothing,
            multi_event_appends_are_atomic_under_contention,
            log_order_equals_commit_order_per_partition,
            conflicts_in_one_queue_resolve_in_queue_order,
            reads_survive_reopen,
            events_form_a_hash_chain,
            empty_and_oversized_appends_are_refused,
            reads_of_unknown_streams_are_empty,
            streams_of_different_kinds_never_share_events,
            inline_writes_commit_with_their_append_only,
            tables_scan_in_key_order_within_bounds,
            progress_writes_read_at_once_apply_whole_and_outlive_a_reopen,
            a_commit_notifies_its_partition_before_the_appender_hears_back,
            memory_only_reads_answer_from_memory_or_would_block,
        );
    };
    (@tests $harness:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let mut harness = $harness;
                $crate::conformance::$name(&mut harness);
            }
        )*
    };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn unique_bytes() -> [u8; 16] {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&std::process::id().to_be_bytes().repeat(2));
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    bytes
}

/// The stream of a payment no other check uses.
pub fn new_payment() -> StreamId {
    StreamId::payment(PaymentId::from_bytes(unique_bytes()))
}

/// A small event whose correlation id names the batch it belongs to.
pub fn event(batch: &str) -> NewEvent {
    NewEvent {
        meta: EventMeta {
            event_id: EventId::from_bytes(unique_bytes()),
            project: ProjectKey::parse("conformance").expect("valid project key"),
            recorded_at: Timestamp(1_767_225_600_000),
            actor: Actor::Client("conformance".into()),
            correlation_id: Some(batch.to_owned()),
            idempotency_key: None,
        },
        event: Event::StatusInterfaceTextSet(Some(format!("batch {batch}"))),
    }
}

fn request(stream: StreamId, expected_version: u64, count: usize, batch: &str) -> AppendRequest {
    AppendRequest::events(
        stream,
        expected_version,
        (0..count).map(|_| event(batch)).collect(),
    )
}

fn versions<S: EventStore>(store: &S, payment: StreamId) -> Vec<u64> {
    let events = store
        .read_stream(payment, VersionRange::ALL)
        .expect("read stream");
    events.iter().map(|e| e.version).collect()
}

pub fn versions_are_contiguous<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let payment = new_payment();
    let first = store.append(request(payment, 0, 1, "a")).expect("create");
    assert_eq!((first.first_version, first.last_version), (1, 1));
    let second = store
        .append(request(payment, 1, 3, "b"))
        .expect("append three");
    assert_eq!((second.first_version, second.last_version), (2, 4));
    assert_eq!(versions(&store, payment), vec![1, 2, 3, 4]);
    let middle = store
        .read_stream(payment, VersionRange::new(2, 3))
        .expect("read range");
    assert_eq!(
        middle.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![2, 3]
    );
    let head = store
        .stream_head(payment)
        .expect("head")
        .expect("stream exists");
    assert_eq!(head.version, 4);
}

pub fn stale_or_future_versions_conflict_and_change_nothing<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let payment = new_payment();
    store.append(request(payment, 0, 2, "a")).expect("create");
    let partition = store
        .stream_head(payment)
        .expect("head")
        .expect("exists")
        .partition;
    let log_before = store.log_head(partition).expect("log head");
    for expected in [0, 1, 3, 99] {
        match store.append(request(payment, expected, 1, "x")) {
            Err(AppendError::Conflict { current_version }) => assert_eq!(current_version, 2),
            other => panic!("expected a conflict for version {expected}, got {other:?}"),
        }
    }
    assert_eq!(versions(&store, payment), vec![1, 2]);
    assert_eq!(store.log_head(partition).expect("log head"), log_before);
}

pub fn multi_event_appends_are_atomic_under_contention<H: Harness>(harness: &mut H) {
    const WRITERS: usize = 8;
    const ROUNDS: usize = 20;
    const BATCH: usize = 5;
    let store = Arc::new(harness.open());
    let payment = new_payment();
    let threads: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut won = 0;
                for round in 0..ROUNDS {
                    // Retry with the observed version until this batch lands.
                    let mut expected = store
                        .stream_head(payment)
                        .expect("head")
                        .map_or(0, |h| h.version);
                    loop {
                        let batch = format!("{writer}-{round}");
                        match store.append(request(payment, expected, BATCH, &batch)) {
                            Ok(_) => break,
                            Err(AppendError::Conflict { current_version }) => {
                                expected = current_version
                            }
                            Err(other) => panic!("append failed: {other}"),
                        }
                    }
                    won += 1;
                }
                won
            })
        })
        .collect();
    let won: usize = threads.into_iter().map(|t| t.join().expect("writer")).sum();
    let events = store.read_stream(payment, VersionRange::ALL).expect("read");
    assert_eq!(events.len(), won * BATCH);
    for (index, chunk) in events.chunks(BATCH).enumerate() {
        let batch = &chunk[0].meta.correlation_id;
        assert!(
            chunk.iter().all(|e| &e.meta.correlation_id == batch),
            "batch {index} was interleaved with another append"
        );
        for (offset, e) in chunk.iter().enumerate() {
            assert_eq!(e.version, (index * BATCH + offset + 1) as u64);
        }
    }
}

pub fn log_order_equals_commit_order_per_partition<H: Harness>(harness: &mut H) {
    const WRITERS: usize = 8;
    const STREAMS_PER_WRITER: usize = 8;
    const APPENDS_PER_STREAM: usize = 4;
    let store = Arc::new(harness.open());
    let heads_before: Vec<u64> = (0..store.partition_count())
        .map(|p| store.log_head(p).expect("log head"))
        .collect();
    let threads: Vec<_> = (0..WRITERS)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                let payments: Vec<_> = (0..STREAMS_PER_WRITER).map(|_| new_payment()).collect();
                for round in 0..APPENDS_PER_STREAM {
                    for payment in &payments {
                        let appended = store
                            .append(request(*payment, (round * 2) as u64, 2, "log"))
                            .expect("append");
                        for (i, position) in appended.positions.iter().enumerate() {
                            acknowledged.push((
                                *payment,
                                appended.first_version + i as u64,
                                *position,
                            ));
                        }
                    }
                }
                acknowledged
            })
        })
        .collect();
    let acknowledged: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("writer"))
        .collect();
    let mut by_position = HashMap::new();
    for (payment, version, position) in &acknowledged {
        assert!(
            by_position
                .insert(*position, (*payment, *version))
                .is_none(),
            "position reused"
        );
    }
    let mut seen = 0;
    for partition in 0..store.partition_count() {
        let from = heads_before[usize::from(partition)] + 1;
        let log = store
            .read_log(partition, from, usize::MAX)
            .expect("read log");
        assert_eq!(
            store.log_head(partition).expect("log head"),
            from - 1 + log.len() as u64
        );
        let mut last_version: HashMap<StreamId, u64> = HashMap::new();
        for (offset, e) in log.iter().enumerate() {
            assert_eq!(e.partition, partition);
            assert_eq!(e.partition_sequence, from + offset as u64, "gap in the log");
            let position = crate::LogPosition {
                partition,
                sequence: e.partition_sequence,
            };
            assert_eq!(by_position.get(&position), Some(&(e.stream, e.version)));
            let previous = last_version.insert(e.stream, e.version).unwrap_or(0);
            assert_eq!(
                e.version,
                previous + 1,
                "a stream's events are out of order in the log"
            );
        }
        seen += log.len();
    }
    assert_eq!(seen, acknowledged.len());
}

pub fn conflicts_in_one_queue_resolve_in_queue_order<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let payment = new_payment();
    // Submitted without waiting, so they can share one group commit.
    let chain: Vec<_> = (0..5u64)
        .map(|v| store.submit(request(payment, v, 1, &format!("chain-{v}"))))
        .collect();
    let racing: Vec<_> = (0..5)
        .map(|n| store.submit(request(payment, 5, 1, &format!("race-{n}"))))
        .collect();
    for (v, pending) in chain.into_iter().enumerate() {
        let appended = pending
            .wait()
            .expect("each link of the chain lands in order");
        assert_eq!(appended.last_version, v as u64 + 1);
    }
    let outcomes: Vec<_> = racing.into_iter().map(|p| p.wait()).collect();
    assert!(
        outcomes[0].is_ok(),
        "the first racer in queue order wins: {:?}",
        outcomes[0]
    );
    for outcome in &outcomes[1..] {
        assert!(
            matches!(outcome, Err(AppendError::Conflict { current_version: 6 })),
            "{outcome:?}"
        );
    }
    assert_eq!(versions(&store, payment), (1..=6).collect::<Vec<_>>());
}

pub fn reads_survive_reopen<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let payment = new_payment();
    store
        .append(request(payment, 0, 3, "before"))
        .expect("append");
    let head = store.stream_head(payment).expect("head").expect("exists");
    let events = store.read_stream(payment, VersionRange::ALL).expect("read");
    let log_head = store.log_head(head.partition).expect("log head");
    let store = harness.reopen(store);
    assert_eq!(store.stream_head(payment).expect("head"), Some(head));
    assert_eq!(
        store.read_stream(payment, VersionRange::ALL).expect("read"),
        events
    );
    assert_eq!(store.log_head(head.partition).expect("log head"), log_head);
    let log = store
        .read_log(head.partition, log_head - 2, 3)
        .expect("read log");
    assert_eq!(log, events);
    let appended = store
        .append(request(payment, 3, 1, "after"))
        .expect("append after reopen");
    assert_eq!(appended.last_version, 4);
    assert_eq!(appended.positions[0].sequence, log_head + 1);
}

pub fn events_form_a_hash_chain<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let payment = new_payment();
    store.append(request(payment, 0, 2, "a")).expect("append");
    store.append(request(payment, 2, 2, "b")).expect("append");
    let events = store.read_stream(payment, VersionRange::ALL).expect("read");
    assert_eq!(events[0].previous_hash, GENESIS_HASH);
    for pair in events.windows(2) {
        let encoded = payledger_codec::encode_envelope(&pair[0]);
        assert_eq!(pair[1].previous_hash, envelope_hash(&encoded));
    }
    let last = payledger_codec::encode_envelope(&events[3]);
    let head = store.stream_head(payment).expect("head").expect("exists");
    assert_eq!(head.last_hash, envelope_hash(&last));
}

pub fn empty_and_oversized_appends_are_refused<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let payment = new_payment();
    assert!(matches!(
        store.append(request(payment, 0, 0, "none")),
        Err(AppendError::Empty)
    ));
    let too_many = request(payment, 0, crate::APPEND_EVENTS_MAX + 1, "many");
    assert!(matches!(
        store.append(too_many),
        Err(AppendError::TooManyEvents { .. })
    ));
    assert_eq!(store.stream_head(payment).expect("head"), None);
}

pub fn reads_of_unknown_streams_are_empty<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let payment = new_payment();
    assert_eq!(store.stream_head(payment).expect("head"), None);
    assert!(
        store
            .read_stream(payment, VersionRange::ALL)
            .expect("read")
            .is_empty()
    );
    let partitions: HashSet<u16> = (0..store.partition_count()).collect();
    assert_eq!(partitions.len(), usize::from(store.partition_count()));
}

/// Every kind's stream of one id is its own stream: its own versions, head
/// and hash chain, and the log names the kind of each event it lists. All
/// of it survives a reopen.
pub fn streams_of_different_kinds_never_share_events<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let payment = new_payment();
    let order = StreamId::new(StreamKind::Order, payment.id);
    store
        .append(request(payment, 0, 2, "payment"))
        .expect("payment");
    store.append(request(order, 0, 1, "order")).expect("order");
    assert!(
        matches!(
            store.append(request(order, 0, 1, "again")),
            Err(AppendError::Conflict { current_version: 1 })
        ),
        "the order stream has its own version"
    );
    store
        .append(request(payment, 2, 1, "payment"))
        .expect("payment");
    let store = harness.reopen(store);

    for (stream, batch, count) in [(payment, "payment", 3), (order, "order", 1)] {
        let events = store.read_stream(stream, VersionRange::ALL).expect("read");
        assert_eq!(events.len(), count, "{stream}");
        assert!(
            events
                .iter()
                .all(|e| e.stream == stream && e.meta.correlation_id.as_deref() == Some(batch))
        );
        assert_eq!(
            events[0].previous_hash, GENESIS_HASH,
            "{stream} starts its own chain"
        );
        let head = store.stream_head(stream).expect("head").expect("exists");
        assert_eq!(head.version, count as u64);
        assert_eq!(
            head.partition,
            crate::partition_of(stream, store.partition_count())
        );
    }
    let partition = crate::partition_of(payment, store.partition_count());
    let logged: Vec<(StreamId, u64)> = store
        .read_log(partition, 1, 100)
        .expect("read log")
        .iter()
        .filter(|e| e.stream.id == payment.id)
        .map(|e| (e.stream, e.version))
        .collect();
    assert_eq!(
        logged,
        vec![(payment, 1), (payment, 2), (order, 1), (payment, 3)],
        "the log keeps commit order and each event's kind"
    );
}

fn put(table: Table, key: &[u8], value: &[u8]) -> KvWrite {
    KvWrite {
        table,
        key: key.to_vec(),
        value: Some(value.to_vec()),
    }
}

pub fn inline_writes_commit_with_their_append_only<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let payment = new_payment();
    let view_key = payment.id_bytes().to_vec();
    let mut create = request(payment, 0, 1, "create");
    create.inline = vec![
        put(Table::Views, &view_key, b"v1"),
        put(Table::KeyIndex, b"p/k1", &view_key),
    ];
    store.append(create).expect("create");
    assert_eq!(
        store.get(Table::Views, &view_key).expect("get"),
        Some(b"v1".to_vec())
    );
    assert_eq!(
        store.get(Table::KeyIndex, b"p/k1").expect("get"),
        Some(view_key.clone())
    );

    let mut stale = request(payment, 0, 1, "stale");
    stale.inline = vec![put(Table::Views, &view_key, b"stale")];
    assert!(matches!(
        store.append(stale),
        Err(AppendError::Conflict { .. })
    ));
    assert_eq!(
        store.get(Table::Views, &view_key).expect("get"),
        Some(b"v1".to_vec())
    );

    let mut update = request(payment, 1, 1, "update");
    update.inline = vec![
        put(Table::Views, &view_key, b"v2"),
        KvWrite {
            table: Table::KeyIndex,
            key: b"p/k1".to_vec(),
            value: None,
        },
    ];
    store.append(update).expect("update");
    let store = harness.reopen(store);
    assert_eq!(
        store.get(Table::Views, &view_key).expect("get"),
        Some(b"v2".to_vec())
    );
    assert_eq!(store.get(Table::KeyIndex, b"p/k1").expect("get"), None);
    // Tables are separate namespaces.
    assert_eq!(store.get(Table::Idempotency, &view_key).expect("get"), None);
}

pub fn tables_scan_in_key_order_within_bounds<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let prefix = new_payment();
    let key = |suffix: &[u8]| [prefix.id_bytes().as_slice(), suffix].concat();
    store
        .write(vec![
            put(Table::Catalog, &key(b"c"), b"3"),
            put(Table::Catalog, &key(b"a"), b"1"),
            put(Table::Catalog, &key(b"b"), b"2"),
            put(Table::Catalog, &key(b"d"), b"4"),
            put(Table::Cursors, &key(b"b"), b"other table"),
        ])
        .expect("write");
    let found = store
        .scan(Table::Catalog, &key(b"b"), &key(b"d"), 10)
        .expect("scan");
    assert_eq!(
        found,
        vec![(key(b"b"), b"2".to_vec()), (key(b"c"), b"3".to_vec())]
    );
    let limited = store
        .scan(Table::Catalog, &key(b""), &key(b"z"), 3)
        .expect("scan");
    assert_eq!(
        limited.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]
    );
    store
        .write(vec![KvWrite {
            table: Table::Catalog,
            key: key(b"a"),
            value: None,
        }])
        .expect("delete");
    let store = harness.reopen(store);
    assert_eq!(store.get(Table::Catalog, &key(b"a")).expect("get"), None);
    assert_eq!(
        store.get(Table::Cursors, &key(b"b")).expect("get"),
        Some(b"other table".to_vec())
    );
}

/// `write_progress` is a table write like `write` in all but when it
/// reaches the disk: readable as soon as it returns, all of it or nothing,
/// ordered after the writes before it, and kept across a close and reopen.
pub fn progress_writes_read_at_once_apply_whole_and_outlive_a_reopen<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let prefix = new_payment();
    let key = |suffix: &[u8]| [prefix.id_bytes().as_slice(), suffix].concat();
    store
        .write(vec![
            put(Table::Cursors, &key(b"cursor"), b"1"),
            put(Table::Catalog, &key(b"row"), b"old"),
            put(Table::Catalog, &key(b"gone"), b"to delete"),
        ])
        .expect("write");
    store
        .write_progress(vec![
            put(Table::Cursors, &key(b"cursor"), b"2"),
            put(Table::Catalog, &key(b"row"), b"new"),
            KvWrite {
                table: Table::Catalog,
                key: key(b"gone"),
                value: None,
            },
        ])
        .expect("progress write");
    let read = |store: &H::Store| {
        [key(b"cursor"), key(b"row"), key(b"gone")].map(|k| {
            let table = if k == key(b"cursor") {
                Table::Cursors
            } else {
                Table::Catalog
            };
            store.get(table, &k).expect("get")
        })
    };
    let expected = [Some(b"2".to_vec()), Some(b"new".to_vec()), None];
    assert_eq!(read(&store), expected, "readable as soon as it returns");
    let store = harness.reopen(store);
    assert_eq!(read(&store), expected, "kept across a close and reopen");
}

pub fn a_commit_notifies_its_partition_before_the_appender_hears_back<H: Harness>(harness: &mut H) {
    let store = harness.open();
    let count = store.partition_count();
    let payment = new_payment();
    let partition = crate::partition_of(payment, count);
    let signal = store.log_signal();
    let mut waiter = signal.subscribe(partition);
    let others: Vec<_> = (0..count)
        .filter(|p| *p != partition)
        .map(|p| signal.subscribe(p))
        .collect();
    assert!(!waiter.is_notified(), "nothing was committed yet");

    // A refused append commits nothing and notifies nobody.
    let refused = store.append(request(payment, 7, 1, "refused"));
    assert!(matches!(refused, Err(AppendError::Conflict { .. })));
    assert!(!waiter.is_notified(), "a refused append notified");

    store.append(request(payment, 0, 2, "a")).expect("append");
    assert!(waiter.is_notified(), "the commit did not notify");
    // What woke the consumer is readable by then.
    let log = store.read_log(partition, 1, 10).expect("read log");
    assert!(log.iter().any(|e| e.stream == payment));
    assert!(
        others.iter().all(|w| !w.is_notified()),
        "a commit notified another partition"
    );

    // Many commits while a consumer is busy are one wake-up, none lost.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(waiter.wait());
    assert!(!waiter.is_notified());
    store.append(request(payment, 2, 1, "b")).expect("append");
    store.append(request(payment, 3, 1, "c")).expect("append");
    runtime.block_on(waiter.wait());
    assert!(!waiter.is_notified());
}

/// Inside memory-only reads a read answers what a normal read answers, or
/// fails with `WouldBlock`, never with a wrong answer (an absent row); a
/// durable write fails with `WouldBlock` and writes nothing.
pub fn memory_only_reads_answer_from_memory_or_would_block<H: Harness>(harness: &mut H) {
    fn same_or_would_block<T: PartialEq + std::fmt::Debug>(
        read: Result<T, StoreError>,
        expected: &T,
    ) {
        match read {
            Ok(value) => assert_eq!(&value, expected),
            Err(StoreError::WouldBlock) => {}
            Err(other) => panic!("a memory-only read failed: {other}"),
        }
    }
    let check = |store: &H::Store, stream: StreamId, key: &[u8]| {
        // Memory-only first, while nothing has been read into memory yet.
        let (row_read, events_read, head_read, written) = memory_only(|| {
            (
                store.get(Table::Views, key),
                store.read_stream(stream, VersionRange::ALL),
                store.stream_head(stream),
                store.write(vec![put(Table::Views, key, b"not written")]),
            )
        });
        assert!(matches!(written, Err(StoreError::WouldBlock)));
        let row = store.get(Table::Views, key).expect("get");
        same_or_would_block(row_read, &row);
        let events = store.read_stream(stream, VersionRange::ALL).expect("read");
        assert_eq!(events.len(), 1);
        same_or_would_block(events_read, &events);
        same_or_would_block(head_read, &store.stream_head(stream).expect("head"));
        assert_eq!(
            row.as_deref(),
            Some(&b"v1"[..]),
            "the refused write left no trace"
        );
    };
    let store = harness.open();
    let payment = new_payment();
    let key = payment.id_bytes().to_vec();
    let mut create = request(payment, 0, 1, "create");
    create.inline = vec![put(Table::Views, &key, b"v1")];
    store.append(create).expect("create");
    check(&store, payment, &key);
    let store = harness.reopen(store);
    check(&store, payment, &key);
}
