//! Custom fields and references on the wire.
//!
//! Field values map to [`FieldValue`] without loss: numbers keep their
//! decimal text, arrays become lists, objects become key-sorted maps, and
//! `null` (at any depth) is absent. References are written as
//! `{typeId, id}`.

use payledger_domain::payment::{CustomFields, FieldValue};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

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

/// A JSON value as a custom field value; `None` for `null`. Nulls inside
/// arrays and objects are dropped.
pub fn field_value_from_json(value: &Value) -> Option<FieldValue> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Number(n) => FieldValue::Number(n.to_string()),
        Value::String(s) => FieldValue::String(s.clone()),
        Value::Array(items) => {
            FieldValue::List(items.iter().filter_map(field_value_from_json).collect())
        }
        Value::Object(fields) => FieldValue::Object(field_map_from_json(fields)),
    })
}

/// The non-null entries of a JSON object as field values.
fn field_map_from_json(fields: &Map<String, Value>) -> BTreeMap<String, FieldValue> {
    fields
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), field_value_from_json(v)?)))
        .collect()
}

/// `{typeId, id}`.
pub fn reference_to_json(type_id: &str, id: &str) -> Value {
    json!({"typeId": type_id, "id": id})
}

/// Custom fields as commercetools `CustomFields`:
/// `{type: {typeId: "type", id}, fields: {…}}`.
pub fn custom_fields_to_json(custom: &CustomFields) -> Value {
    json!({
        "type": reference_to_json("type", &custom.type_id),
        "fields": Value::Object(
            custom
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), field_value_to_json(v)))
                .collect(),
        ),
    })
}
