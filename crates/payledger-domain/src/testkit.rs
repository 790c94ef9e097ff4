//! Fixtures shared by the unit tests: a catalog of Types and States, money,
//! deterministic ids, envelopes, and payments built through the real
//! decide → evolve path (so fixtures can never hold a state the rules would
//! not produce).

use crate::catalog::InMemoryCatalog;
use crate::command::{PaymentDraftInput, UpdateAction};
use crate::decide::{Context, CountingIds, decide_create, decide_update};
use crate::event::{Actor, Event, EventEnvelope, EventMeta};
use crate::evolve::evolve;
use crate::ids::{EventId, PaymentId, ProjectKey, TransactionId};
use crate::money::{CurrencyCode, Money};
use crate::payment::{FieldValue, Payment, Timestamp};
use crate::types::{FieldDefinition, FieldType, StateDefinition, StateType, TypeDefinition};
use std::collections::BTreeMap;

pub const PAYMENT_ID: PaymentId = PaymentId::from_bytes([0xAB; 16]);

pub fn money(cents: i64, currency: &str) -> Money {
    Money::new(cents, CurrencyCode::parse(currency).unwrap())
}

pub fn eur(cents: i64) -> Money {
    money(cents, "EUR")
}

pub fn usd(cents: i64) -> Money {
    money(cents, "USD")
}

/// The `n`-th id a fresh [`CountingIds`] hands out.
pub fn tx(n: u128) -> TransactionId {
    TransactionId::from_bytes(n.to_be_bytes())
}

/// The id source for deciding against `payment`: it continues after the
/// payment's transactions, which fixtures number 1, 2, 3, …
pub fn ids_after(payment: &Payment) -> CountingIds {
    CountingIds::starting_after(payment.transactions.len() as u128)
}

pub fn text(value: &str) -> FieldValue {
    FieldValue::String(value.to_owned())
}

pub fn number(value: &str) -> FieldValue {
    FieldValue::Number(value.to_owned())
}

pub fn object(entries: &[(&str, FieldValue)]) -> FieldValue {
    FieldValue::Object(fields(entries))
}

pub fn fields(entries: &[(&str, FieldValue)]) -> BTreeMap<String, FieldValue> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn field(name: &str, field_type: FieldType, required: bool) -> FieldDefinition {
    FieldDefinition {
        name: name.to_owned(),
        field_type,
        required,
    }
}

fn type_def(id: &str, key: &str, resource: &str, defs: Vec<FieldDefinition>) -> TypeDefinition {
    TypeDefinition {
        id: id.to_owned(),
        key: key.to_owned(),
        resource_type_ids: vec![resource.to_owned()],
        field_definitions: defs,
    }
}

fn state(id: &str, key: &str, initial: bool, transitions: Option<&[&str]>) -> StateDefinition {
    StateDefinition {
        id: id.to_owned(),
        key: key.to_owned(),
        state_type: StateType::PaymentState,
        initial,
        transitions: transitions.map(|ids| ids.iter().map(|s| (*s).to_owned()).collect()),
    }
}

/// Types: `payment-fields` (orderNumber required), `txn-fields`,
/// `method-fields`, `interaction-fields` (status required), `order-fields`.
/// States: open (initial) → paid → refunded (final), and an OrderState.
pub fn catalog() -> InMemoryCatalog {
    let enum_keys = |keys: &[&str]| keys.iter().map(|k| (*k).to_owned()).collect();
    let payment_fields = vec![
        field("orderNumber", FieldType::String, true),
        field("note", FieldType::String, false),
        field("flag", FieldType::Boolean, false),
        field(
            "color",
            FieldType::Enum {
                keys: enum_keys(&["red", "green"]),
            },
            false,
        ),
        field("tags", FieldType::Set(Box::new(FieldType::String)), false),
    ];
    let txn_fields = vec![field("pspReference", FieldType::String, false)];
    let method_fields = vec![
        field("last4", FieldType::Number, false),
        field("brand", FieldType::String, false),
    ];
    let interaction_fields = vec![
        field("status", FieldType::String, true),
        field("body", FieldType::String, false),
    ];
    let mut order_state = state("state-order", "order-open", true, None);
    order_state.state_type = StateType::OrderState;
    InMemoryCatalog::new()
        .with_type(type_def(
            "type-payment",
            "payment-fields",
            "payment",
            payment_fields,
        ))
        .with_type(type_def(
            "type-txn",
            "txn-fields",
            "transaction",
            txn_fields,
        ))
        .with_type(type_def(
            "type-method",
            "method-fields",
            "payment-method-info",
            method_fields,
        ))
        .with_type(type_def(
            "type-interaction",
            "interaction-fields",
            "payment-interface-interaction",
            interaction_fields,
        ))
        .with_type(type_def("type-order", "order-fields", "order", vec![]))
        .with_state(state("state-open", "open", true, Some(&["state-paid"])))
        .with_state(state("state-paid", "paid", false, None))
        .with_state(state("state-refunded", "refunded", false, Some(&[])))
        .with_state(order_state)
}

pub fn envelope(version: u64, event: Event) -> EventEnvelope {
    EventEnvelope {
        meta: EventMeta {
            event_id: EventId::from_bytes((u128::from(version)).to_be_bytes()),
            project: ProjectKey::parse("test").unwrap(),
            recorded_at: Timestamp(1_000 * version as i64),
            actor: Actor::Client(format!("client-{version}")),
            correlation_id: None,
            idempotency_key: None,
        },
        stream: crate::StreamId::payment(PAYMENT_ID),
        version,
        partition: 0,
        partition_sequence: version,
        previous_hash: [0; 32],
        event,
    }
}

/// Folds `events` onto `state`, numbering them after its version.
pub fn fold_onto(state: Option<Payment>, events: Vec<Event>) -> Payment {
    let start = state.as_ref().map_or(0, |p| p.version);
    let mut state = state;
    for (i, event) in events.into_iter().enumerate() {
        state = Some(evolve(state, &envelope(start + 1 + i as u64, event)));
    }
    state.unwrap()
}

/// A payment created from `draft`.
pub fn created(draft: &PaymentDraftInput) -> Payment {
    let catalog = catalog();
    let mut ids = CountingIds::default();
    let mut ctx = Context {
        catalog: &catalog,
        ids: &mut ids,
    };
    let event = decide_create(draft, &mut ctx).unwrap();
    fold_onto(None, vec![event])
}

/// A fresh EUR 10.00 payment without anything else.
pub fn payment() -> Payment {
    created(&PaymentDraftInput::new(eur(1000)))
}

/// `payment` after `actions`, which must all be accepted.
pub fn after(payment: Payment, actions: &[UpdateAction]) -> Payment {
    let catalog = catalog();
    let mut ids = ids_after(&payment);
    let mut ctx = Context {
        catalog: &catalog,
        ids: &mut ids,
    };
    let events = decide_update(&payment, actions, &mut ctx).unwrap();
    fold_onto(Some(payment), events)
}
