//! The inline projections as a function of the events: for one stream,
//! the rows its view, its indexes, its event-id lookups and its Message
//! index entries hold when they are written from scratch. `payledger verify` compares them with the
//! stored rows and `payledger replay` rebuilds the tables from them.
//!
//! The command paths write the same rows a change at a time
//! ([`crate::payments`], [`crate::orders`]); writing them from nothing must
//! give the same bytes, which is what the checks here rely on.

use crate::error::AppError;
use crate::payments::corrupt_with;
use crate::snapshots::SnapshotRows;
use crate::{orders, payments, table_keys, views};
use payledger_domain::order::evolve_order_envelope;
use payledger_domain::{EventEnvelope, StreamKind, evolve};
use payledger_store::{EventStore, KvWrite, Table};

/// The tables that hold nothing but what the events derive. Everything
/// else (idempotency records, cursors, clients, catalog, PSP bookkeeping)
/// is state of its own and is left alone by a replay.
pub const DERIVED_TABLES: [Table; 14] = [
    Table::Views,
    Table::ViewRows,
    Table::KeyIndex,
    Table::InterfaceIndex,
    Table::CustomerIndex,
    Table::TransactionInterfaceIndex,
    Table::EventIds,
    Table::OrderViews,
    Table::OrderNumberIndex,
    Table::OrderKeyIndex,
    Table::PaymentOrders,
    Table::Snapshots,
    Table::MessagesByType,
    Table::MessagesByTime,
];

/// The rows one stream's events give, in no particular order. A `None`
/// value is a row that must be absent (the view of a deleted payment).
pub fn derived_rows(events: &[EventEnvelope]) -> Result<Vec<KvWrite>, AppError> {
    let Some(first) = events.first() else {
        return Ok(Vec::new());
    };
    let project = &first.meta.project;
    // A stream's Messages name no key before its first event.
    let messages = crate::message_index::index_rows(
        project,
        first.stream,
        None,
        events
            .iter()
            .map(|e| (e.version, e.meta.recorded_at, &e.event)),
    );
    let event_ids = |value: &dyn Fn(u64) -> Vec<u8>| -> Vec<KvWrite> {
        events
            .iter()
            .map(|e| KvWrite {
                table: Table::EventIds,
                key: e.meta.event_id.as_bytes().to_vec(),
                value: Some(value(e.version)),
            })
            .collect()
    };
    match first.stream.kind {
        StreamKind::Payment => {
            let mut snapshots = SnapshotRows::new(first.stream);
            let payment = events
                .iter()
                .fold(None, |state, event| {
                    let payment = evolve(state, event);
                    snapshots.after(event.version, event.meta.recorded_at, || {
                        payledger_codec::encode_payment(&payment)
                    });
                    Some(payment)
                })
                .ok_or_else(|| corrupt_with("payment stream", &"no create event"))?;
            let erased = events.iter().any(|e| e.event.erases_data());
            let mut rows = snapshots.finish(erased.then_some(payment.version));
            rows.extend(payments::index_writes(project, None, &payment));
            rows.extend(views::view_writes(project, None, &payment));
            rows.extend(event_ids(&|version| {
                table_keys::event_id_value(payment.id, version)
            }));
            rows.extend(messages);
            Ok(rows)
        }
        StreamKind::Order => {
            let mut snapshots = SnapshotRows::new(first.stream);
            let mut order = None;
            for event in events {
                order = Some(evolve_order_envelope(order, event));
                snapshots.after(event.version, event.meta.recorded_at, || {
                    payledger_codec::encode_order(order.as_ref().expect("just folded"))
                });
            }
            let order = order.ok_or_else(|| corrupt_with("order stream", &"no create event"))?;
            let erased = events.iter().any(|e| e.event.erases_data());
            let mut rows = snapshots.finish(erased.then_some(order.version));
            // A deleted order has no view and holds no index row (another
            // order may hold its number or payments since).
            rows.extend(orders::index_writes(project, None, &order));
            let live = !order.deleted;
            rows.push(KvWrite {
                table: Table::OrderViews,
                key: table_keys::order_view_key(project, order.id),
                value: live.then(|| payledger_codec::encode_order(&order)),
            });
            rows.extend(event_ids(&|version| {
                table_keys::order_event_id_value(order.id, version)
            }));
            rows.extend(messages);
            Ok(rows)
        }
    }
}

/// A stored row that is not what the events give.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RowDifference {
    pub table: Table,
    pub key: Vec<u8>,
    /// What the events give (`None`: no row).
    pub expected: Option<Vec<u8>>,
    /// What is stored (`None`: no row).
    pub found: Option<Vec<u8>>,
}

/// The rows of one stream's projections that differ from what its events
/// give.
pub fn stored_differences<S: EventStore + ?Sized>(
    store: &S,
    events: &[EventEnvelope],
) -> Result<Vec<RowDifference>, AppError> {
    let mut differences = Vec::new();
    for row in derived_rows(events)? {
        let found = store.get(row.table, &row.key)?;
        if found != row.value {
            differences.push(RowDifference {
                table: row.table,
                key: row.key,
                expected: row.value,
                found,
            });
        }
    }
    Ok(differences)
}

#[cfg(test)]
mod tests;
