//! The stored view: what an update writes, what a read gives back, and
//! when the cache may answer.

use super::*;
use payledger_domain::payment::{FieldValue, TransactionState, TransactionType};
use payledger_domain::{Actor, CurrencyCode, Money, Timestamp, TransactionId};
use payledger_domain::{Event, EventId, EventMeta};
use payledger_store::memory::MemoryStore;
use payledger_store::{AppendRequest, NewEvent, StoreError};
use std::collections::BTreeMap;

fn project() -> ProjectKey {
    ProjectKey::parse("shop").expect("project key")
}

fn transaction(n: u8) -> Transaction {
    Transaction {
        id: TransactionId::from_bytes([n; 16]),
        timestamp: Some(Timestamp(1_000 + i64::from(n))),
        kind: TransactionType::Charge,
        amount: Money::new(100 + i64::from(n), CurrencyCode::parse("EUR").expect("EUR")),
        interaction_id: Some(format!("interaction-{n}")),
        interface_id: None,
        state: TransactionState::Initial,
        custom: None,
    }
}

fn interaction(n: u8) -> CustomFields {
    CustomFields {
        type_id: format!("type-{n}"),
        fields: BTreeMap::from([("n".to_owned(), FieldValue::Number(n.to_string()))]),
    }
}

/// A payment at `version` with `transactions` transactions and one
/// interface interaction.
fn payment(version: u64, transactions: u8) -> Payment {
    Payment {
        version,
        key: Some("order-7".into()),
        interface_interactions: vec![interaction(0)],
        last_modified_at: Timestamp(2_000 + i64::try_from(version).expect("small")),
        ..crate::test_payments::payment([7; 16], (0..transactions).map(transaction).collect())
    }
}

fn stored(payment: &Payment) -> StoredView {
    StoredView {
        payment: Arc::new(payment.clone()),
        whole: false,
    }
}

/// A write in brief: its table, its list and index if a row, put or delete.
type Shape = (Table, Option<(ViewList, u32)>, bool);

/// Each write in brief, in order.
fn shape(writes: &[KvWrite]) -> Vec<Shape> {
    writes
        .iter()
        .map(|w| {
            let row = (w.table == Table::ViewRows)
                .then(|| table_keys::decode_view_row_key(&w.key).expect("row key"));
            (w.table, row, w.value.is_some())
        })
        .collect()
}

fn read(store: &MemoryStore, cache: Option<&ViewCache>) -> Result<Option<Payment>, AppError> {
    let view = read_view(store, cache, &project(), PaymentId::from_bytes([7; 16]))?;
    Ok(view.map(|v| Arc::unwrap_or_clone(v.payment)))
}

#[test]
fn a_new_payment_writes_its_header_and_a_row_per_item() {
    let created = payment(1, 2);
    assert_eq!(
        shape(&view_writes(&project(), None, &created)),
        vec![
            (Table::Views, None, true),
            (Table::ViewRows, Some((ViewList::Transactions, 0)), true),
            (Table::ViewRows, Some((ViewList::Transactions, 1)), true),
            (Table::ViewRows, Some((ViewList::Interactions, 0)), true),
        ]
    );
}

#[test]
fn an_update_writes_the_header_and_only_the_rows_it_changed() {
    let before = payment(100, 100);
    let added = payment(101, 101);
    assert_eq!(
        shape(&view_writes(&project(), Some(&stored(&before)), &added)),
        vec![
            (Table::Views, None, true),
            (Table::ViewRows, Some((ViewList::Transactions, 100)), true),
        ],
        "adding a transaction to a payment of 100 writes one row"
    );
    let mut changed = payment(101, 100);
    let id = changed.transactions[42].id;
    changed
        .transactions
        .update(id, |t| t.state = TransactionState::Success);
    assert_eq!(
        shape(&view_writes(&project(), Some(&stored(&before)), &changed)),
        vec![
            (Table::Views, None, true),
            (Table::ViewRows, Some((ViewList::Transactions, 42)), true),
        ],
        "changing one transaction's state writes its row"
    );
    let renamed = Payment {
        key: Some("order-8".into()),
        ..payment(101, 100)
    };
    assert_eq!(
        shape(&view_writes(&project(), Some(&stored(&before)), &renamed)),
        vec![(Table::Views, None, true)],
        "a header field writes the header alone"
    );
}

#[test]
fn a_view_stored_whole_gets_every_row_at_its_next_write() {
    let before = StoredView {
        payment: Arc::new(payment(3, 2)),
        whole: true,
    };
    let after = payment(4, 2);
    assert_eq!(
        shape(&view_writes(&project(), Some(&before), &after)).len(),
        4,
        "header, two transactions, one interaction"
    );
}

#[test]
fn deleting_removes_the_header_and_every_row() {
    let before = payment(5, 2);
    let deleted = Payment {
        deleted: true,
        ..payment(6, 2)
    };
    assert_eq!(
        shape(&view_writes(&project(), Some(&stored(&before)), &deleted)),
        vec![
            (Table::Views, None, false),
            (Table::ViewRows, Some((ViewList::Transactions, 0)), false),
            (Table::ViewRows, Some((ViewList::Transactions, 1)), false),
            (Table::ViewRows, Some((ViewList::Interactions, 0)), false),
        ]
    );
}

#[test]
fn a_view_reads_back_from_its_header_and_rows_and_writes_compose() {
    let store = MemoryStore::new();
    let first = payment(1, 3);
    store
        .write(view_writes(&project(), None, &first))
        .expect("write");
    assert_eq!(read(&store, None).expect("read"), Some(first.clone()));
    let mut second = payment(2, 4);
    let changed = second.transactions[1].id;
    second
        .transactions
        .update(changed, |t| t.state = TransactionState::Failure);
    store
        .write(view_writes(&project(), Some(&stored(&first)), &second))
        .expect("write");
    assert_eq!(read(&store, None).expect("read"), Some(second.clone()));
    let deleted = Payment {
        deleted: true,
        ..payment(3, 4)
    };
    store
        .write(view_writes(&project(), Some(&stored(&second)), &deleted))
        .expect("write");
    assert_eq!(read(&store, None).expect("read"), None);
    let rows = store
        .scan(Table::ViewRows, &[], &[0xff; 64], 100)
        .expect("scan");
    assert!(rows.is_empty(), "no row outlives its payment: {rows:?}");
}

#[test]
fn a_view_stored_whole_still_reads() {
    let store = MemoryStore::new();
    let whole = payment(9, 2);
    let key = table_keys::view_key(&project(), whole.id);
    store
        .write(vec![KvWrite {
            table: Table::Views,
            key,
            value: Some(payledger_codec::encode_payment(&whole)),
        }])
        .expect("write");
    let view = read_view(&store, None, &project(), whole.id)
        .expect("read")
        .expect("live");
    assert!(view.whole);
    assert_eq!(*view.payment, whole);
}

#[test]
fn the_cache_answers_only_at_the_headers_version() {
    let store = MemoryStore::new();
    let cache = ViewCache::default();
    let first = payment(1, 2);
    store
        .write(view_writes(&project(), None, &first))
        .expect("write");
    let read_once = read_view(&store, Some(&cache), &project(), first.id)
        .expect("read")
        .expect("live");
    let read_twice = read_view(&store, Some(&cache), &project(), first.id)
        .expect("read")
        .expect("live");
    assert!(
        Arc::ptr_eq(&read_once.payment, &read_twice.payment),
        "the second read is the cached view"
    );
    // Another writer moves the payment on without telling this cache.
    let second = payment(2, 3);
    store
        .write(view_writes(&project(), Some(&stored(&first)), &second))
        .expect("write");
    assert_eq!(read(&store, Some(&cache)).expect("read"), Some(second));
    // An older version never replaces a newer one.
    cache.put(&project(), &Arc::new(first));
    assert_eq!(cache.get(PaymentId::from_bytes([7; 16]), 1), None);
    assert_eq!(cache.len(), 1);
}

/// Appends `count` events to the stream of the test payment, so that the
/// store knows its head at version `count` (and holds no view of it).
fn stream_at(store: &MemoryStore, count: u64) {
    let events = (0..count)
        .map(|n| NewEvent {
            meta: EventMeta {
                event_id: EventId::from_bytes((u128::from(n) + 1).to_be_bytes()),
                project: project(),
                recorded_at: Timestamp(0),
                actor: Actor::Client("shop".into()),
                correlation_id: None,
                idempotency_key: None,
            },
            event: Event::StatusInterfaceTextSet(None),
        })
        .collect();
    let stream = StreamId::payment(PaymentId::from_bytes([7; 16]));
    store
        .append(AppendRequest::events(stream, 0, events))
        .expect("append");
}

#[test]
fn a_view_cached_at_the_known_head_is_answered_without_reading_the_header() {
    // The store holds no view at all: only the cache can answer.
    let store = MemoryStore::new();
    stream_at(&store, 3);
    let cache = ViewCache::default();
    let cached = Arc::new(payment(3, 2));
    cache.put(&project(), &cached);
    let view = read_view(&store, Some(&cache), &project(), cached.id)
        .expect("read")
        .expect("the cached view");
    assert!(Arc::ptr_eq(&view.payment, &cached));
    assert!(!view.whole);
}

#[test]
fn a_cached_view_behind_the_known_head_or_of_another_project_is_not_answered() {
    let store = MemoryStore::new();
    stream_at(&store, 3);
    let cache = ViewCache::default();
    cache.put(&project(), &Arc::new(payment(2, 2)));
    assert_eq!(read(&store, Some(&cache)).expect("read"), None);
    // At the head's version, but asked for from another project.
    cache.put(&project(), &Arc::new(payment(3, 2)));
    let other = ProjectKey::parse("other-shop").expect("project key");
    let view = read_view(&store, Some(&cache), &other, PaymentId::from_bytes([7; 16]));
    assert_eq!(view.expect("read").map(|v| v.payment), None);
}

#[test]
fn the_cache_holds_at_most_its_limit_of_items() {
    let cache = ViewCache::default();
    // Payments of 1 + 9 + 1 items, twice as many items as the limit.
    let payments = 2 * VIEW_CACHE_ITEMS_MAX / 11;
    for n in 0..payments {
        let mut id = [0; 16];
        id[..8].copy_from_slice(&(n as u64).to_be_bytes());
        id[15] = (n % 251) as u8;
        let p = Payment {
            id: PaymentId::from_bytes(id),
            ..payment(1, 9)
        };
        cache.put(&project(), &Arc::new(p));
    }
    assert!(cache.items() <= VIEW_CACHE_ITEMS_MAX, "{}", cache.items());
    assert!(
        cache.items() >= VIEW_CACHE_ITEMS_MAX * 3 / 4,
        "a full cache stays nearly full: {}",
        cache.items()
    );
    assert_eq!(cache.items(), cache.len() * 11);
    // A payment bigger than a shard's share is not kept.
    let huge = Payment {
        transactions: (0..VIEW_CACHE_ITEMS_MAX)
            .map(|_| Arc::new(transaction(1)))
            .collect(),
        ..payment(1, 0)
    };
    cache.put(&project(), &Arc::new(huge.clone()));
    assert_eq!(cache.get(huge.id, 1), None);
}

#[test]
fn a_deleted_payment_leaves_the_cache() {
    let cache = ViewCache::default();
    cache.put(&project(), &Arc::new(payment(1, 2)));
    let deleted = Payment {
        deleted: true,
        ..payment(2, 2)
    };
    cache.put(&project(), &Arc::new(deleted));
    assert_eq!((cache.len(), cache.items()), (0, 0));
}

#[test]
fn a_missing_row_is_corruption_not_a_shorter_payment() {
    let store = MemoryStore::new();
    let first = payment(1, 3);
    store
        .write(view_writes(&project(), None, &first))
        .expect("write");
    store
        .write(vec![KvWrite {
            table: Table::ViewRows,
            key: table_keys::view_row_key(&project(), first.id, ViewList::Transactions, 1),
            value: None,
        }])
        .expect("write");
    match read(&store, None) {
        Err(AppError::Store(StoreError::Corrupt(what))) => {
            assert!(what.contains("view row"), "{what}")
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_write_between_the_header_read_and_the_rows_scan_is_read_again_not_called_corruption() {
    let store = MemoryStore::new();
    let first = payment(1, 1);
    store
        .write(view_writes(&project(), None, &first))
        .expect("write");
    let key = table_keys::view_key(&project(), first.id);
    // A reader took the header of version 1 ...
    let header = store.get(Table::Views, &key).expect("get").expect("header");
    // ... then a write added a transaction and an interaction before it
    // scanned the rows.
    let mut second = payment(2, 2);
    second.interface_interactions.push(interaction(1));
    store
        .write(view_writes(&project(), Some(&stored(&first)), &second))
        .expect("write");
    let view = view_from_header(&store, &project(), None, &key, &header).expect("read again");
    assert_eq!(*view.payment, second);
}
