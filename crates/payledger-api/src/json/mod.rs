//! JSON ↔ domain conversions (placeholder while being written).

use payledger_domain::payment::FieldValue;
use serde_json::Value;

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
