//! Reads of payments for queries and Messages: which views an index names,
//! every view of a project, and an event found by its id. The API decides
//! what a query asks for; the table layouts and the decoding of stored
//! rows stay here.

use crate::error::AppError;
use crate::payments::{Ledger, corrupt_with};
use crate::table_keys;
use crate::views;
use payledger_domain::{EventEnvelope, EventId, Payment, PaymentId, ProjectKey};
use payledger_store::{EventStore, KeyValue, Table, VersionRange};
use std::sync::Arc;

/// Most rows one read of an index or of a project's views returns; a query
/// that would need more is refused ([`AppError::ScanLimit`]), never
/// answered in part.
pub const QUERY_SCAN_PAYMENTS_MAX: usize = 1_000_000;

/// An index of the payments of a project.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PaymentIndex {
    /// The payment id itself (no table read).
    Id,
    /// The unique payment key.
    Key,
    /// `interfaceId` (one per payment interface).
    InterfaceId,
    /// `customer.id`.
    CustomerId,
}

impl<S: EventStore + ?Sized> Ledger<S> {
    /// The payments `index` names for any of `values`, each once, in id
    /// order.
    pub fn find_by(
        &self,
        project: &ProjectKey,
        index: PaymentIndex,
        values: &[String],
    ) -> Result<Vec<Payment>, AppError> {
        let mut ids = Vec::new();
        for value in values {
            match index {
                PaymentIndex::Id => ids.extend(PaymentId::parse(value)),
                PaymentIndex::Key => {
                    let key = table_keys::key_index_key(project, value);
                    let found = self.store().get(Table::KeyIndex, &key)?;
                    ids.extend(found.as_deref().and_then(table_keys::decode_payment_id));
                }
                PaymentIndex::InterfaceId => {
                    // Entries: project · interfaceId · paymentInterface → payment id.
                    let prefix = table_keys::interface_prefix(project, value);
                    let found = self.scan_prefix(Table::InterfaceIndex, &prefix)?;
                    ids.extend(
                        found
                            .iter()
                            .filter_map(|(_, v)| table_keys::decode_payment_id(v)),
                    );
                }
                PaymentIndex::CustomerId => {
                    // Entries: project · customer · payment id → ().
                    let prefix = table_keys::customer_prefix(project, value);
                    let found = self.scan_prefix(Table::CustomerIndex, &prefix)?;
                    ids.extend(
                        found
                            .iter()
                            .filter_map(|(k, _)| table_keys::view_key_payment(k)),
                    );
                }
            }
        }
        ids.sort();
        ids.dedup();
        let mut payments = Vec::with_capacity(ids.len());
        for id in ids {
            payments.extend(self.view(project, id)?);
        }
        Ok(payments)
    }

    /// Every payment view of the project; refused when there are more than
    /// [`QUERY_SCAN_PAYMENTS_MAX`].
    pub fn all_views(&self, project: &ProjectKey) -> Result<Vec<Payment>, AppError> {
        self.all_views_within(project, QUERY_SCAN_PAYMENTS_MAX)
    }

    /// [`Ledger::all_views`] with the limit `max` (tests use a small one).
    pub fn all_views_within(
        &self,
        project: &ProjectKey,
        max: usize,
    ) -> Result<Vec<Payment>, AppError> {
        let prefix = table_keys::project_prefix(project);
        let headers = self.scan_within(
            Table::Views,
            &prefix,
            max,
            "a payment query without an index",
        )?;
        let cache = Some(self.view_cache());
        (headers.iter())
            .map(|(key, bytes)| {
                let view = views::view_from_header(&**self.store(), project, cache, key, bytes)?;
                Ok(Arc::unwrap_or_clone(view.payment))
            })
            .collect()
    }

    /// The event with id `event_id` and the events of its stream before
    /// it (oldest first, the event last), if it exists.
    pub fn event_with_history(
        &self,
        event_id: EventId,
    ) -> Result<Option<Vec<EventEnvelope>>, AppError> {
        let Some(bytes) = self.store().get(Table::EventIds, event_id.as_bytes())? else {
            return Ok(None);
        };
        let (stream, version) = table_keys::decode_event_stream_value(&bytes)
            .ok_or_else(|| corrupt_with("event id row", &event_id))?;
        let stream = self
            .store()
            .read_stream(stream, VersionRange::new(1, version))?;
        Ok(Some(stream).filter(|s| s.last().is_some_and(|e| e.version == version)))
    }

    fn scan_prefix(&self, table: Table, prefix: &[u8]) -> Result<Vec<KeyValue>, AppError> {
        self.scan_within(
            table,
            prefix,
            QUERY_SCAN_PAYMENTS_MAX,
            "an index read of a payment query",
        )
    }

    /// The rows of `table` under `prefix`, refused when more than `max`.
    fn scan_within(
        &self,
        table: Table,
        prefix: &[u8],
        max: usize,
        what: &'static str,
    ) -> Result<Vec<KeyValue>, AppError> {
        let end = table_keys::prefix_end(prefix);
        let rows = self
            .store()
            .scan(table, prefix, &end, max.saturating_add(1))?;
        if rows.len() > max {
            return Err(AppError::ScanLimit {
                what,
                limit: "QUERY_SCAN_PAYMENTS_MAX",
                max,
                narrow: "narrow the query with key, interfaceId, customer(id) or id",
            });
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CommandMeta, PaymentCommand};
    use payledger_domain::command::PaymentDraftInput;
    use payledger_domain::{Actor, CurrencyCode, Money, Timestamp};
    use payledger_store::memory::MemoryStore;

    #[test]
    fn a_query_past_the_scan_limit_is_refused_whole_never_answered_in_part() {
        let ledger = Ledger::new(Arc::new(MemoryStore::new()));
        let project = ProjectKey::parse("scan").expect("key");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for _ in 0..3 {
            let meta = CommandMeta {
                project: project.clone(),
                actor: Actor::Client("test".into()),
                now: Timestamp(0),
                correlation_id: None,
                idempotency: None,
            };
            let draft =
                PaymentDraftInput::new(Money::new(1, CurrencyCode::parse("EUR").expect("EUR")));
            runtime
                .block_on(ledger.execute(meta, PaymentCommand::Create(Box::new(draft))))
                .expect("create");
        }
        assert_eq!(
            ledger
                .all_views_within(&project, 3)
                .expect("at the limit")
                .len(),
            3
        );
        let refused = ledger
            .all_views_within(&project, 2)
            .expect_err("past the limit");
        assert!(
            matches!(
                refused,
                AppError::ScanLimit {
                    limit: "QUERY_SCAN_PAYMENTS_MAX",
                    max: 2,
                    ..
                }
            ),
            "{refused:?}"
        );
        assert!(
            refused.to_string().contains("narrow the query"),
            "{refused}"
        );
    }
}
