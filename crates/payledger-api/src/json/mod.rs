//! JSON ↔ domain conversions for the commercetools wire format.
//!
//! INTERFACE PINNED BY THE LEAD: the signatures below are used by the
//! route modules; the bodies are being written.

use crate::ApiError;
use payledger_domain::command::PaymentDraftInput;
use payledger_domain::payment::FieldValue;
use payledger_domain::{Actor, EventEnvelope, Payment, Timestamp, UpdateAction};
use serde_json::Value;

/// The body of `POST /{pk}/payments/{id}`.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateRequest {
    pub version: u64,
    pub actions: Vec<UpdateAction>,
}

/// A payment in the commercetools representation.
pub fn payment_to_json(payment: &Payment) -> Value {
    let _ = payment;
    Value::Null
}

/// Parses a PaymentDraft body.
pub fn parse_payment_draft(body: &[u8]) -> Result<PaymentDraftInput, ApiError> {
    let _ = body;
    Err(ApiError::invalid_json("not implemented yet"))
}

/// Parses an update body `{version, actions}`.
pub fn parse_update(body: &[u8]) -> Result<UpdateRequest, ApiError> {
    let _ = body;
    Err(ApiError::invalid_json("not implemented yet"))
}

/// The Message an event yields (envelope per API.md Part B).
pub fn message_to_json(envelope: &EventEnvelope, payment_key: Option<&str>) -> Value {
    let _ = (envelope, payment_key);
    Value::Null
}

/// `2026-01-01T00:00:00.000Z`.
pub fn format_timestamp(timestamp: Timestamp) -> String {
    let _ = timestamp;
    String::new()
}

/// Parses an ISO 8601 UTC datetime.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let _ = text;
    None
}

/// `{clientId, isPlatformClient: false}`.
pub fn actor_to_json(actor: &Actor) -> Value {
    let _ = actor;
    Value::Null
}

/// A custom field value as JSON.
pub fn field_value_to_json(value: &FieldValue) -> Value {
    match value {
        FieldValue::Bool(b) => Value::Bool(*b),
        FieldValue::Number(n) => n
            .parse::<serde_json::Number>()
            .map_or(Value::String(n.clone()), Value::Number),
        FieldValue::String(s) => Value::String(s.clone()),
        FieldValue::List(items) => Value::Array(items.iter().map(field_value_to_json).collect()),
        FieldValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), field_value_to_json(v)))
                .collect(),
        ),
    }
}
