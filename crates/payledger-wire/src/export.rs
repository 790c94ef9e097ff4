//! One flat row per event for analysts: what `payledger export` writes as
//! NDJSON or Parquet. The README's "Export" section lists the columns;
//! `golden/export_row_v1.json` pins them.
//!
//! Money columns carry the amount an event is about (a create's planned
//! amount, an added transaction's amount, a changed planned amount, an
//! order's total); transaction columns name the transaction an event
//! adds or changes. Every event keeps its whole Message payload as JSON
//! text in `payload`.

use crate::json::message::{message_type, payload};
use payledger_domain::time::format_timestamp;
use payledger_domain::{Actor, Event, EventEnvelope, Money, OrderEvent};
use serde_json::{Value, json};

/// One event as a flat row.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ExportRow {
    pub project: String,
    /// `payment` or `order`.
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub version: i64,
    pub event_id: String,
    pub event_type: &'static str,
    /// Milliseconds since 1970-01-01 UTC.
    pub recorded_at_ms: i64,
    /// `client:<id>` or `internal:<handler>`.
    pub actor: String,
    pub correlation_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub partition: i32,
    pub partition_sequence: i64,
    pub amount_cent: Option<i64>,
    pub amount_currency: Option<String>,
    pub amount_fraction_digits: Option<i32>,
    pub transaction_id: Option<String>,
    pub transaction_type: Option<&'static str>,
    pub transaction_state: Option<&'static str>,
    /// The event's Message payload, as JSON text.
    pub payload: String,
}

impl ExportRow {
    pub fn of(envelope: &EventEnvelope) -> Self {
        let meta = &envelope.meta;
        let mut row = Self {
            project: meta.project.as_str().to_owned(),
            aggregate_type: envelope.stream.kind.type_id(),
            aggregate_id: envelope.stream.id.to_string(),
            version: i64::try_from(envelope.version).unwrap_or(i64::MAX),
            event_id: meta.event_id.to_string(),
            event_type: message_type(&envelope.event),
            recorded_at_ms: meta.recorded_at.0,
            actor: match &meta.actor {
                Actor::Client(id) => format!("client:{id}"),
                Actor::Internal(name) => format!("internal:{name}"),
            },
            correlation_id: meta.correlation_id.clone(),
            idempotency_key: meta.idempotency_key.clone(),
            partition: i32::from(envelope.partition),
            partition_sequence: i64::try_from(envelope.partition_sequence).unwrap_or(i64::MAX),
            amount_cent: None,
            amount_currency: None,
            amount_fraction_digits: None,
            transaction_id: None,
            transaction_type: None,
            transaction_state: None,
            payload: Value::Object(payload(envelope)).to_string(),
        };
        match &envelope.event {
            Event::Created(draft) => row.money(&draft.amount_planned),
            Event::TransactionAdded(t) => {
                row.money(&t.amount);
                row.transaction_id = Some(t.id.to_string());
                row.transaction_type = Some(t.kind.as_str());
                row.transaction_state = Some(t.state.as_str());
            }
            Event::TransactionStateChanged {
                transaction_id,
                state,
            } => {
                row.transaction_id = Some(transaction_id.to_string());
                row.transaction_state = Some(state.as_str());
            }
            Event::AmountPlannedChanged(money) => row.money(money),
            Event::Order(OrderEvent::Created(draft)) => row.money(&draft.total_price),
            _ => {}
        }
        row
    }

    fn money(&mut self, money: &Money) {
        self.amount_cent = Some(money.cent_amount);
        self.amount_currency = Some(money.currency.as_str().to_owned());
        self.amount_fraction_digits = Some(i32::from(money.fraction_digits()));
    }

    /// The row as one NDJSON object (absent values are `null`).
    pub fn to_json(&self) -> Value {
        json!({
            "project": self.project,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "version": self.version,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "recorded_at": format_timestamp(payledger_domain::Timestamp(self.recorded_at_ms)),
            "actor": self.actor,
            "correlation_id": self.correlation_id,
            "idempotency_key": self.idempotency_key,
            "partition": self.partition,
            "partition_sequence": self.partition_sequence,
            "amount_cent": self.amount_cent,
            "amount_currency": self.amount_currency,
            "amount_fraction_digits": self.amount_fraction_digits,
            "transaction_id": self.transaction_id,
            "transaction_type": self.transaction_type,
            "transaction_state": self.transaction_state,
            "payload": self.payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_domain::payment::{Transaction, TransactionState, TransactionType};
    use payledger_domain::{
        CurrencyCode, EventId, EventMeta, PaymentId, ProjectKey, Timestamp, TransactionId,
    };

    /// What analysts' tools parse. Written once with `PAYLEDGER_BLESS=1`
    /// when missing; never edited.
    #[test]
    fn the_export_row_format_is_stable() {
        let envelope = EventEnvelope {
            meta: EventMeta {
                event_id: EventId::from_bytes([0x2a; 16]),
                project: ProjectKey::parse("shop").expect("key"),
                recorded_at: Timestamp(1_767_225_600_000),
                actor: Actor::Client("shop-backend".into()),
                correlation_id: Some("checkout-7".into()),
                idempotency_key: None,
            },
            stream: PaymentId::from_bytes([0x11; 16]).into(),
            version: 2,
            partition: 5,
            partition_sequence: 42,
            previous_hash: [0; 32],
            event: Event::TransactionAdded(Transaction {
                id: TransactionId::from_bytes([0x33; 16]),
                timestamp: None,
                kind: TransactionType::Charge,
                amount: Money::new(1_250, CurrencyCode::parse("EUR").expect("EUR")),
                interaction_id: None,
                interface_id: None,
                state: TransactionState::Pending,
                custom: None,
            }),
        };
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/json/golden/export_row_v1.json");
        let text = serde_json::to_string_pretty(&ExportRow::of(&envelope).to_json())
            .expect("render")
            + "\n";
        if !path.exists() && std::env::var_os("PAYLEDGER_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &text).expect("write");
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is missing", path.display()));
        assert_eq!(text, golden, "the export row changed");
    }
}
