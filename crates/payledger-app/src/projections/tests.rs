//! Rows from scratch against stored rows: a changed or missing row is a
//! difference naming its table.

use super::*;
use crate::{CommandMeta, Ledger, PaymentCommand};
use payledger_domain::command::{PaymentDraftInput, TransactionDraftInput};
use payledger_domain::payment::TransactionType;
use payledger_domain::{Actor, CurrencyCode, Money, ProjectKey, StreamId, Timestamp};
use payledger_store::VersionRange;
use payledger_store::memory::MemoryStore;
use std::sync::Arc;

fn project() -> ProjectKey {
    ProjectKey::parse("projections").expect("project key")
}

fn eur(cents: i64) -> Money {
    Money::new(cents, CurrencyCode::parse("EUR").expect("EUR"))
}

fn meta() -> CommandMeta {
    CommandMeta {
        project: project(),
        actor: Actor::Client("test".into()),
        now: Timestamp(1_767_225_600_000),
        correlation_id: None,
        idempotency: None,
    }
}

/// A stored payment with a key and two transactions, and its events.
fn stored_payment() -> (Ledger<MemoryStore>, Vec<EventEnvelope>) {
    let ledger = Ledger::new(Arc::new(MemoryStore::new()));
    let mut draft = PaymentDraftInput::new(eur(300));
    draft.key = Some("p-1".into());
    draft.transactions = vec![
        TransactionDraftInput::new(TransactionType::Authorization, eur(300)),
        TransactionDraftInput::new(TransactionType::Charge, eur(300)),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let created = runtime
        .block_on(ledger.execute(meta(), PaymentCommand::Create(Box::new(draft))))
        .expect("create");
    let events = ledger
        .store()
        .read_stream(StreamId::payment(created.payment.id), VersionRange::ALL)
        .expect("read");
    (ledger, events)
}

#[test]
fn the_rows_a_command_wrote_are_the_rows_the_events_give() {
    let (ledger, events) = stored_payment();
    let rows = derived_rows(&events).expect("rows");
    let tables: std::collections::BTreeSet<Table> = rows.iter().map(|r| r.table).collect();
    assert!(tables.contains(&Table::Views) && tables.contains(&Table::ViewRows));
    assert!(tables.contains(&Table::KeyIndex) && tables.contains(&Table::EventIds));
    assert!(tables.iter().all(|t| DERIVED_TABLES.contains(t)));
    assert_eq!(
        stored_differences(&**ledger.store(), &events).expect("compare"),
        Vec::new()
    );
}

#[test]
fn a_changed_or_missing_row_is_a_difference_in_its_table() {
    let (ledger, events) = stored_payment();
    let rows = derived_rows(&events).expect("rows");
    let row = |table| rows.iter().find(|r| r.table == table).expect("row").clone();
    let (view_row, key_row) = (row(Table::ViewRows), row(Table::KeyIndex));
    ledger
        .store()
        .write(vec![
            KvWrite {
                value: Some(b"tampered".to_vec()),
                ..view_row.clone()
            },
            KvWrite {
                value: None,
                ..key_row.clone()
            },
        ])
        .expect("raw write");
    let mut differences = stored_differences(&**ledger.store(), &events).expect("compare");
    differences.sort_by_key(|d| d.table);
    assert_eq!(
        differences,
        vec![
            RowDifference {
                table: Table::KeyIndex,
                key: key_row.key,
                expected: key_row.value,
                found: None,
            },
            RowDifference {
                table: Table::ViewRows,
                key: view_row.key,
                expected: view_row.value,
                found: Some(b"tampered".to_vec()),
            },
        ]
    );
}

/// Updates of 100 actions each carry a stream across snapshot versions in
/// the middle of a command; the snapshots written are the ones the events
/// give, and an erasing deletion removes them all.
#[test]
fn snapshots_written_mid_command_are_the_events_snapshots_and_erasure_removes_them() {
    use crate::snapshots::SNAPSHOT_INTERVAL_EVENTS;
    use payledger_domain::UpdateAction;
    let (ledger, _) = stored_payment();
    let store = ledger.store().clone();
    let snapshots = || store.scan(Table::Snapshots, &[], payledger_store::TABLE_END, 100);
    let id = match &*store
        .scan(Table::Views, &[], payledger_store::TABLE_END, 1)
        .expect("scan")
    {
        [(key, _)] => crate::table_keys::view_key_payment(key).expect("view key"),
        rows => panic!("one view expected, got {}", rows.len()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut version = 1;
    for _ in 0..3 {
        let actions = (0..100)
            .map(|n| UpdateAction::SetStatusInterfaceText(Some(format!("step {n}"))))
            .collect();
        let command = PaymentCommand::Update {
            target: crate::PaymentRef::Id(id),
            version,
            actions,
        };
        version = runtime
            .block_on(ledger.execute(meta(), command))
            .expect("update")
            .payment
            .version;
    }
    assert_eq!(version, 301);
    let events = store
        .read_stream(StreamId::payment(id), VersionRange::ALL)
        .expect("read");
    assert_eq!(snapshots().expect("scan").len(), 2, "after 128 and 256");
    assert_eq!(301 / SNAPSHOT_INTERVAL_EVENTS, 2);
    assert_eq!(
        stored_differences(&*store, &events).expect("compare"),
        Vec::new()
    );

    let delete = PaymentCommand::Delete {
        target: crate::PaymentRef::Id(id),
        version,
        data_erasure: true,
    };
    runtime
        .block_on(ledger.execute(meta(), delete))
        .expect("delete");
    assert_eq!(snapshots().expect("scan"), Vec::new());
    let events = store
        .read_stream(StreamId::payment(id), VersionRange::ALL)
        .expect("read");
    assert_eq!(
        stored_differences(&*store, &events).expect("compare"),
        Vec::new()
    );
}
