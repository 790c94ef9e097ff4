//! The audit finds exactly the link that was broken by a raw write.

use super::{AuditError, AuditSummary, BrokenLink, Link};
use crate::keys::{self, CF_LOG};
use crate::{RocksConfig, RocksStore};
use payledger_domain::{StreamId, StreamKind};
use payledger_store::conformance::{event, new_payment};
use payledger_store::{AppendRequest, EventStore, VersionRange, envelope_hash};
use tempfile::TempDir;

/// A store of two partitions holding three payments of three events and
/// one order of two.
struct Fixture {
    _dir: TempDir,
    store: RocksStore,
    payments: Vec<StreamId>,
    order: StreamId,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = RocksConfig {
        partitions_for_new_store: 2,
        ..RocksConfig::default()
    };
    let store = RocksStore::open(dir.path(), &config).expect("open");
    let payments: Vec<StreamId> = (0..3).map(|_| new_payment()).collect();
    for payment in &payments {
        for version in 0..3 {
            store
                .append(AppendRequest::events(*payment, version, vec![event("p")]))
                .expect("append");
        }
    }
    let order = StreamId::from_bytes(StreamKind::Order, *new_payment().id_bytes());
    store
        .append(AppendRequest::events(
            order,
            0,
            vec![event("o"), event("o")],
        ))
        .expect("append order");
    Fixture {
        _dir: dir,
        store,
        payments,
        order,
    }
}

fn audit(store: &RocksStore) -> Result<AuditSummary, AuditError> {
    store.audit(&mut |_, _, _| Ok(()))
}

fn broken(store: &RocksStore) -> BrokenLink {
    match audit(store) {
        Err(AuditError::Broken(link)) => link,
        other => panic!("expected a broken link, got {other:?}"),
    }
}

impl Fixture {
    fn raw_event(&self, stream: StreamId, version: u64) -> Vec<u8> {
        let events = crate::db::cf(self.store.db(), keys::events_cf(stream.kind)).expect("cf");
        (self.store.db())
            .get_cf(events, keys::event_key(stream, version))
            .expect("get")
            .expect("stored")
    }

    fn put_event(&self, stream: StreamId, version: u64, bytes: &[u8]) {
        let events = crate::db::cf(self.store.db(), keys::events_cf(stream.kind)).expect("cf");
        (self.store.db())
            .put_cf(events, keys::event_key(stream, version), bytes)
            .expect("raw put");
    }

    fn delete_event(&self, stream: StreamId, version: u64) {
        let events = crate::db::cf(self.store.db(), keys::events_cf(stream.kind)).expect("cf");
        (self.store.db())
            .delete_cf(events, keys::event_key(stream, version))
            .expect("raw delete");
    }
}

#[test]
fn a_clean_store_passes_with_counts_and_a_root_that_only_its_heads_decide() {
    let f = fixture();
    let summary = audit(&f.store).expect("clean");
    assert_eq!(
        (
            summary.streams,
            summary.events,
            summary.log_entries,
            summary.partitions
        ),
        (4, 11, 11, 2)
    );
    let mut seen = Vec::new();
    f.store
        .audit(&mut |stream, events, _| {
            seen.push((stream, events.len()));
            Ok(())
        })
        .expect("clean");
    assert_eq!(seen.len(), 4);
    assert!(seen.contains(&(f.order, 2)));
    assert_eq!(audit(&f.store).expect("again").root, summary.root);
    f.store
        .append(AppendRequest::events(f.payments[0], 3, vec![event("p")]))
        .expect("append");
    assert_ne!(audit(&f.store).expect("clean").root, summary.root);
}

#[test]
fn every_flipped_byte_of_an_event_is_named_at_that_event_or_the_link_after_it() {
    let f = fixture();
    let stream = f.payments[1];
    let original = f.raw_event(stream, 2);
    for at in 0..original.len() {
        let mut flipped = original.clone();
        flipped[at] ^= 0x01;
        f.put_event(stream, 2, &flipped);
        let link = broken(&f.store);
        let at_event = link.link == Link::Event { stream, version: 2 };
        let next_link = link.link == Link::Event { stream, version: 3 }
            && link.check == "the previous hash is the hash of the version before"
            && link.expected == hex::encode(envelope_hash(&flipped));
        assert!(at_event || next_link, "byte {at}: {link}");
    }
    f.put_event(stream, 2, &original);
    audit(&f.store).expect("restored");
}

#[test]
fn a_changed_last_event_is_named_at_the_head() {
    let f = fixture();
    let stream = f.payments[2];
    let mut bytes = f.raw_event(stream, 3);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    f.put_event(stream, 3, &bytes);
    let link = broken(&f.store);
    assert!(
        link.link == Link::Head { stream } || link.link == Link::Event { stream, version: 3 },
        "{link}"
    );
}

#[test]
fn a_deleted_event_is_named_as_the_missing_version() {
    let f = fixture();
    let stream = f.payments[0];
    f.delete_event(stream, 2);
    let link = broken(&f.store);
    assert_eq!(link.link, Link::Event { stream, version: 2 });
    assert_eq!(link.check, "versions have no gap");
    assert_eq!(link.found, "version 3 next");
}

#[test]
fn a_deleted_last_event_is_named_at_the_head() {
    let f = fixture();
    let stream = f.order;
    f.delete_event(stream, 2);
    let link = broken(&f.store);
    assert_eq!(link.link, Link::Head { stream });
    assert_eq!(link.check, "the head is the last event");
    assert!(link.expected.starts_with("version 1 "), "{link}");
    assert!(link.found.starts_with("version 2 "), "{link}");
}

#[test]
fn a_history_rewritten_with_consistent_hashes_passes_the_chain_but_not_the_root() {
    let f = fixture();
    let root = audit(&f.store).expect("clean").root;
    // Rewrite version 2 of a payment and repair every later link and the
    // head, as a careful forger with write access would.
    let stream = f.payments[1];
    let mut events = f
        .store
        .read_stream(stream, VersionRange::ALL)
        .expect("read");
    events[1].meta.correlation_id = Some("forged".into());
    let mut previous = envelope_hash(&f.raw_event(stream, 1));
    for envelope in events.iter_mut().skip(1) {
        envelope.previous_hash = previous;
        let bytes = payledger_codec::encode_envelope(envelope);
        f.put_event(stream, envelope.version, &bytes);
        previous = envelope_hash(&bytes);
    }
    let heads = crate::db::cf(f.store.db(), keys::heads_cf(stream.kind)).expect("cf");
    let mut head = f.store.stream_head(stream).expect("head").expect("some");
    head.last_hash = previous;
    (f.store.db())
        .put_cf(heads, stream.id_bytes(), keys::encode_head(&head))
        .expect("raw head");
    let forged = audit(&f.store).expect("the chain itself is consistent");
    assert_ne!(forged.root, root, "the root digest exposes the rewrite");
}

#[test]
fn a_missing_or_misdirected_log_entry_is_named() {
    let f = fixture();
    let stream = f.payments[0];
    let envelope = f
        .store
        .read_stream(stream, VersionRange::new(2, 2))
        .expect("read")
        .remove(0);
    let (partition, sequence) = (envelope.partition, envelope.partition_sequence);
    let log = crate::db::cf(f.store.db(), CF_LOG).expect("cf");
    let key = keys::log_key(partition, sequence);
    let original = f.store.db().get_cf(log, key).expect("get").expect("entry");
    // Pointed at version 3 of the same stream instead.
    (f.store.db())
        .put_cf(log, key, keys::log_value(stream, 3))
        .expect("raw put");
    let link = broken(&f.store);
    assert_eq!(
        link.link,
        Link::Log {
            partition,
            sequence
        }
    );
    assert_eq!(link.check, "the event the log points at says this position");
    // Removed: a gap, unless it was the partition's last entry.
    f.store.db().put_cf(log, key, &original).expect("restore");
    audit(&f.store).expect("restored");
    f.store.db().delete_cf(log, key).expect("raw delete");
    let link = broken(&f.store);
    let last = f.store.log_head(partition).expect("log head") < sequence;
    if last {
        assert_eq!(link.link, Link::Event { stream, version: 2 });
        assert_eq!(link.found, "no log entry");
    } else {
        assert_eq!(
            link.link,
            Link::Log {
                partition,
                sequence
            }
        );
        assert_eq!(link.check, "log sequences have no gap");
    }
}

#[test]
fn a_secondary_instance_audits_a_store_another_handle_is_writing() {
    let f = fixture();
    let scratch = tempfile::tempdir().expect("scratch");
    let path = f.store.db().path().to_owned();
    let secondary = RocksStore::open_secondary(&path, scratch.path()).expect("secondary");
    let summary = audit(&secondary).expect("clean");
    assert_eq!(summary.events, 11);
    assert_eq!(summary.root, audit(&f.store).expect("primary").root);
    let refused = secondary.append(AppendRequest::events(new_payment(), 0, vec![event("x")]));
    assert!(refused.is_err(), "a secondary refuses appends");
}
