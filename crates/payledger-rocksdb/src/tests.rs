//! The conformance suite on RocksDB, plus rules only a durable store has.

use crate::tail::TailRead;
use crate::{RocksConfig, RocksStore};
use payledger_domain::StreamKind;
use payledger_store::conformance::{Harness, event, new_payment};
use payledger_store::{AppendRequest, EventStore, Table};
use tempfile::TempDir;

struct RocksHarness {
    dir: TempDir,
}

impl RocksHarness {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
}

impl Harness for RocksHarness {
    type Store = RocksStore;
    fn open(&mut self) -> RocksStore {
        RocksStore::open(self.dir.path(), &RocksConfig::default()).expect("open store")
    }
    fn reopen(&mut self, store: RocksStore) -> RocksStore {
        drop(store);
        self.open()
    }
}

payledger_store::event_store_conformance!(RocksHarness::new());

#[test]
fn the_partition_count_is_fixed_when_the_store_is_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let four = RocksConfig {
        partitions_for_new_store: 4,
        ..RocksConfig::default()
    };
    let store = RocksStore::open(dir.path(), &four).expect("create with 4");
    assert_eq!(store.partition_count(), 4);
    drop(store);
    let store = RocksStore::open(dir.path(), &RocksConfig::default()).expect("reopen");
    assert_eq!(
        store.partition_count(),
        4,
        "a reopened store keeps its partitions"
    );
}

#[test]
fn a_full_queue_refuses_instead_of_growing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tiny = RocksConfig {
        partitions_for_new_store: 1,
        append_queue_requests_max: 1,
    };
    let store = RocksStore::open(dir.path(), &tiny).expect("open");
    let payment = new_payment();
    // Submit far more than the queue holds without waiting; some must be
    // refused as overloaded and none may be lost or half-written.
    let pending: Vec<_> = (0..2_000u64)
        .map(|_| {
            store.submit(AppendRequest::events(
                new_payment(),
                0,
                vec![event("flood")],
            ))
        })
        .collect();
    let outcomes: Vec<_> = pending.into_iter().map(|p| p.wait()).collect();
    let overloaded = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                Err(payledger_store::AppendError::Overloaded { partition: 0 })
            )
        })
        .count();
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(ok + overloaded, outcomes.len());
    assert!(
        overloaded > 0,
        "a one-slot queue must refuse some of 2000 submissions"
    );
    assert_eq!(store.log_head(0).expect("log head"), ok as u64);
    assert!(store.stream_head(payment).expect("head").is_none());
}

#[test]
fn memory_only_reads_answer_from_the_memtable_and_the_block_cache_only() {
    use payledger_store::memory_only::memory_only;
    use payledger_store::{KvWrite, StoreError, Table};
    let mut harness = RocksHarness::new();
    let store = harness.open();
    let stream = new_payment();
    let key = stream.id_bytes().to_vec();
    let mut create = AppendRequest::events(stream, 0, vec![event("create")]);
    create.inline = vec![KvWrite {
        table: Table::Views,
        key: key.clone(),
        value: Some(b"view".to_vec()),
    }];
    store.append(create).expect("append");
    let in_memory = || memory_only(|| store.get(Table::Views, &key));
    assert_eq!(
        in_memory().expect("a fresh write is in the memtable"),
        Some(b"view".to_vec())
    );
    // A reopened store recovers its log into files: the first read needs
    // the disk, and fills the block cache for the next one.
    let store = harness.reopen(store);
    let in_memory = || memory_only(|| store.get(Table::Views, &key));
    assert!(matches!(in_memory(), Err(StoreError::WouldBlock)));
    assert_eq!(
        store.get(Table::Views, &key).expect("get"),
        Some(b"view".to_vec())
    );
    assert_eq!(
        in_memory().expect("now in the block cache"),
        Some(b"view".to_vec())
    );
}

#[test]
fn a_new_store_records_its_derived_layout_and_a_rebuild_records_it_on_an_older_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RocksStore::open(dir.path(), &RocksConfig::default()).expect("create");
    assert_eq!(
        store.derived_layout().expect("layout"),
        crate::DERIVED_LAYOUT_VERSION
    );
    // A store made before the layout was recorded has no record at all.
    let meta = store.db().cf_handle(crate::keys::CF_META).expect("meta");
    store
        .db()
        .delete_cf(meta, b"derived_layout")
        .expect("raw delete");
    drop(store);
    let store = RocksStore::open(dir.path(), &RocksConfig::default()).expect("reopen");
    assert_eq!(
        store.derived_layout().expect("layout"),
        0,
        "reopening does not claim a layout the tables may not have"
    );
    store.begin_rebuild(&[]).expect("begin");
    assert_eq!(store.derived_layout().expect("layout"), 0);
    store.finish_rebuild().expect("finish");
    assert_eq!(
        store.derived_layout().expect("layout"),
        crate::DERIVED_LAYOUT_VERSION
    );
}

/// Appends `appends` requests of one to three events each, over a few
/// streams, without waiting between them (so they commit in groups).
fn append_mix(store: &RocksStore, appends: usize) {
    let streams: Vec<_> = (0..7).map(|_| new_payment()).collect();
    let mut versions = vec![0u64; streams.len()];
    let pending: Vec<_> = (0..appends)
        .map(|n| {
            let s = n % streams.len();
            let events: Vec<_> = (0..1 + n % 3).map(|_| event(&n.to_string())).collect();
            let expected = versions[s];
            versions[s] += events.len() as u64;
            store.submit(AppendRequest::events(streams[s], expected, events))
        })
        .collect();
    for append in pending {
        append.wait().expect("append");
    }
}

#[test]
fn the_log_read_from_memory_is_the_log_read_from_the_database() {
    let mut harness = RocksHarness::new();
    let one = RocksConfig {
        partitions_for_new_store: 1,
        ..RocksConfig::default()
    };
    let store = RocksStore::open(harness.dir.path(), &one).expect("open");
    // Twice the tail's length, so that the oldest events are only on disk.
    append_mix(&store, crate::LOG_TAIL_EVENTS_MAX);
    let head = store.log_head(0).expect("log head");
    assert!(head > 2 * crate::LOG_TAIL_EVENTS_MAX as u64 - 10, "{head}");
    let tail_start = head + 1 - crate::LOG_TAIL_EVENTS_MAX as u64;
    let froms = [
        1,
        2,
        tail_start - 1,
        tail_start,
        tail_start + 1,
        head - 3,
        head,
        head + 1,
    ];
    for from in froms {
        for max in [1, 5, 256, 10_000] {
            let read = store.read_log(0, from, max).expect("read");
            let stored = store.read_stored_log(0, from, max).expect("stored read");
            assert_eq!(read, stored, "from {from}, at most {max}");
        }
    }
    assert_eq!(
        store.tail(0).read(tail_start, 1),
        TailRead::Events(store.read_stored_log(0, tail_start, 1).expect("read")),
        "the last events are in memory"
    );
    assert_eq!(store.tail(0).read(tail_start - 1, 1), TailRead::Before);
    // A reopened store starts with an empty tail and reads the same log.
    let everything = store.read_log(0, 1, usize::MAX).expect("read all");
    assert_eq!(everything.len() as u64, head);
    drop(store);
    let store = harness.open();
    assert_eq!(store.tail(0).read(head, 1), TailRead::Before);
    assert_eq!(
        store.read_log(0, 1, usize::MAX).expect("read all"),
        everything
    );
    append_mix(&store, 3);
    let new_head = store.log_head(0).expect("log head");
    assert_eq!(
        store.tail(0).read(head + 1, usize::MAX),
        TailRead::Events(
            store
                .read_stored_log(0, head + 1, usize::MAX)
                .expect("read")
        ),
        "what the reopened store commits is in its tail"
    );
    assert_eq!(store.read_log(0, new_head + 1, 10).expect("read"), vec![]);
}

#[test]
fn the_log_events_heads_and_event_ids_insert_each_key_next_to_the_last_of_its_prefix() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(RocksStore::open(dir.path(), &RocksConfig::default()).expect("open"));
    // RocksDB writes the options it opened with to an OPTIONS file.
    let options = std::fs::read_dir(dir.path())
        .expect("list the store")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("OPTIONS-"))
        })
        .max()
        .expect("an OPTIONS file");
    let text = std::fs::read_to_string(options).expect("read OPTIONS");
    let family = |name: &str| {
        let start = text
            .find(&format!("[CFOptions \"{name}\"]"))
            .expect("the family's section");
        let rest = &text[start + 1..];
        &rest[..rest.find("\n[").unwrap_or(rest.len())]
    };
    let hint = |name: &str| {
        let section = family(name);
        let setting = "memtable_insert_with_hint_prefix_extractor=rocksdb.FixedPrefix.";
        let at = section.find(setting)? + setting.len();
        let digits: String = section[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<usize>().ok()
    };
    use crate::keys::{CF_LOG, CF_META, events_cf, heads_cf, table_cf};
    assert_eq!(hint(CF_LOG), Some(2), "{}", family(CF_LOG));
    for kind in StreamKind::ALL {
        assert_eq!(hint(events_cf(kind)), Some(16), "{kind:?}");
        assert_eq!(hint(heads_cf(kind)), Some(16), "{kind:?}");
    }
    assert_eq!(hint(table_cf(Table::EventIds)), Some(4));
    for unhinted in [CF_META, table_cf(Table::Views), table_cf(Table::ViewRows)] {
        assert_eq!(hint(unhinted), None, "{unhinted}");
    }
    // The prefix of a log key is its partition.
    let log = |partition, sequence| crate::keys::log_key(partition, sequence)[..2].to_vec();
    assert_eq!(log(3, 1), log(3, u64::MAX));
    assert_ne!(log(3, 1), log(4, 1));
    // That of an event key is its stream: every version of it shares it.
    let (a, b) = (new_payment(), new_payment());
    let event = |stream, version| crate::keys::event_key(stream, version)[..16].to_vec();
    assert_eq!(event(a, 1), event(a, u64::MAX));
    assert_ne!(event(a, 1), event(b, 1));
    // Event ids of the same 65.5 s share theirs, and sort by time.
    let id_at = |ms: u64| {
        // A version 7 UUID begins with its 48 bits of milliseconds.
        let mut id = [7u8; 16];
        id[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
        id
    };
    let minute = 1_800_000_000_000 & !0xFFFF;
    assert_eq!(id_at(minute)[..4], id_at(minute + 65_535)[..4]);
    assert_ne!(id_at(minute)[..4], id_at(minute + 65_536)[..4]);
    assert!(id_at(minute) < id_at(minute + 1));
}

#[test]
fn every_acknowledged_append_is_known_in_memory_and_a_reopened_store_reads_the_head_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RocksStore::open(dir.path(), &RocksConfig::default()).expect("open");
    let payment = new_payment();
    assert_eq!(store.known_head(payment), None);
    for version in 1..=3 {
        store
            .append(AppendRequest::events(
                payment,
                version - 1,
                vec![event("k")],
            ))
            .expect("append");
        let known = store.known_head(payment).expect("known once acknowledged");
        assert_eq!(known.version, version);
        assert_eq!(Some(known), store.stream_head(payment).expect("head"));
    }
    // A refused append changes nothing known.
    let stale = store.append(AppendRequest::events(payment, 1, vec![event("stale")]));
    assert!(stale.is_err());
    assert_eq!(store.known_head(payment).map(|h| h.version), Some(3));
    drop(store);
    let store = RocksStore::open(dir.path(), &RocksConfig::default()).expect("reopen");
    assert_eq!(store.known_head(payment), None, "memory starts empty");
    assert_eq!(
        store.stream_head(payment).expect("head").map(|h| h.version),
        Some(3)
    );
    store
        .append(AppendRequest::events(payment, 3, vec![event("after")]))
        .expect("append after reopening");
    assert_eq!(store.known_head(payment).map(|h| h.version), Some(4));
}

#[test]
fn a_full_partition_refuses_while_the_others_still_take_appends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tiny = RocksConfig {
        partitions_for_new_store: 4,
        append_queue_requests_max: 1,
    };
    let store = RocksStore::open(dir.path(), &tiny).expect("open");
    let busy = new_payment();
    let busy_partition = payledger_store::partition_of(busy, 4);
    let elsewhere = std::iter::repeat_with(new_payment)
        .find(|s| payledger_store::partition_of(*s, 4) != busy_partition)
        .expect("a stream of another partition");
    // Flood one partition without waiting: its queue holds one append.
    let flood: Vec<_> = (0..2_000u64)
        .map(|_| {
            let stream = std::iter::repeat_with(new_payment)
                .find(|s| payledger_store::partition_of(*s, 4) == busy_partition)
                .expect("a stream of the busy partition");
            store.submit(AppendRequest::events(stream, 0, vec![event("flood")]))
        })
        .collect();
    // Another partition's queue is empty: its append is taken.
    let other = store.submit(AppendRequest::events(elsewhere, 0, vec![event("other")]));
    assert!(
        other.wait().is_ok(),
        "another partition still takes appends"
    );
    let refused = flood
        .into_iter()
        .map(|p| p.wait())
        .filter(|o| {
            matches!(o, Err(payledger_store::AppendError::Overloaded { partition })
                if *partition == busy_partition)
        })
        .count();
    assert!(refused > 0, "a one-slot partition must refuse some of 2000");
}
