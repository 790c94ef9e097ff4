use super::CheckpointError;
use crate::{RocksConfig, RocksStore};
use payledger_domain::{StreamId, StreamKind};
use payledger_store::conformance::{event, new_payment};
use payledger_store::{AppendRequest, EventStore, KvWrite, Table, VersionRange};

fn open(path: &std::path::Path) -> RocksStore {
    let config = RocksConfig {
        partitions_for_new_store: 4,
        ..RocksConfig::default()
    };
    RocksStore::open(path, &config).expect("open store")
}

/// Appends `events` events to a new stream of `kind`, the first with a
/// view row; the stream.
fn write_stream(store: &RocksStore, kind: StreamKind, events: u64) -> StreamId {
    let stream = StreamId::new(kind, new_payment().id);
    let mut first = AppendRequest::events(stream, 0, vec![event("create")]);
    first.inline = vec![KvWrite {
        table: Table::Views,
        key: stream.id_bytes().to_vec(),
        value: Some(b"view".to_vec()),
    }];
    store.append(first).expect("append");
    for version in 1..events {
        let next = AppendRequest::events(stream, version, vec![event("update")]);
        store.append(next).expect("append");
    }
    stream
}

#[test]
fn a_checkpoint_holds_every_acknowledged_append_of_every_column_family() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir.path().join("live"));
    let streams: Vec<(StreamId, u64)> = (0..20u64)
        .map(|n| {
            let kind = StreamKind::ALL[usize::try_from(n).expect("small") % 2];
            (write_stream(&store, kind, 1 + n % 5), 1 + n % 5)
        })
        .collect();
    let out = dir.path().join("backup");
    let summary = store.checkpoint(&out).expect("checkpoint");
    assert!(summary.files > 0 && summary.bytes > 0, "{summary:?}");
    // The live store goes on; the copy keeps what was acknowledged before.
    let later = write_stream(&store, StreamKind::Payment, 1);

    let copy = open(&out);
    assert_eq!(copy.partition_count(), 4, "the stored partition count");
    for (stream, events) in &streams {
        let head = copy.stream_head(*stream).expect("head").expect("stream");
        assert_eq!(head.version, *events, "{stream}");
        let read = copy.read_stream(*stream, VersionRange::ALL).expect("read");
        assert_eq!(read.len() as u64, *events, "{stream}");
        assert_eq!(
            copy.get(Table::Views, stream.id_bytes()).expect("get"),
            Some(b"view".to_vec())
        );
    }
    let logged: u64 = (0..4).map(|p| copy.log_head(p).expect("log head")).sum();
    assert_eq!(
        logged,
        streams.iter().map(|(_, events)| events).sum::<u64>()
    );
    assert!(copy.stream_head(later).expect("head").is_none());
}

#[test]
fn a_checkpoint_goes_into_a_new_directory_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir.path().join("live"));
    let existing = dir.path().join("existing");
    std::fs::create_dir(&existing).expect("mkdir");
    assert!(matches!(
        store.checkpoint(&existing),
        Err(CheckpointError::Exists(path)) if path == existing
    ));
    let orphan = dir.path().join("missing").join("backup");
    assert!(matches!(
        store.checkpoint(&orphan),
        Err(CheckpointError::NoParent(_))
    ));
    assert!(!orphan.exists());
}
