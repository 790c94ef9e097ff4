//! Subscriptions as the API answers them (commercetools `Subscription`),
//! written field by field like Types and States: the stored row
//! (`payledger_app::subscriptions::SubscriptionRecord`, its own golden
//! files) can change without changing what clients see. The secret is
//! never answered in full.

use super::catalog::resource_fields;
use payledger_app::subscriptions::{
    DeliveryFormat, Destination, MessageFilter, SubscriptionRecord,
};
use payledger_wire::json::mask_token;
use serde_json::{Map, Value, json};

/// The fields of a Subscription that its stored row holds; the caller adds
/// `status` and `delivery`, which come from the cursors.
pub fn subscription_fields(record: &SubscriptionRecord) -> Map<String, Value> {
    let mut object = resource_fields(
        &record.id,
        record.version,
        &record.created_at,
        &record.last_modified_at,
        record.created_by.as_ref(),
        record.last_modified_by.as_ref(),
    );
    if let Some(key) = &record.key {
        object.insert("key".into(), json!(key));
    }
    object.insert(
        "destination".into(),
        destination_to_json(&record.destination),
    );
    let messages: Vec<Value> = record.messages.iter().map(filter_to_json).collect();
    object.insert("messages".into(), Value::Array(messages));
    object.insert("changes".into(), json!([]));
    object.insert("events".into(), json!([]));
    object.insert("format".into(), format_to_json(&record.format));
    object
}

fn destination_to_json(destination: &Destination) -> Value {
    match destination {
        Destination::Http { url, secret } => {
            json!({ "type": "HTTP", "url": url, "secret": mask_token(secret) })
        }
    }
}

fn filter_to_json(filter: &MessageFilter) -> Value {
    let mut object = Map::new();
    object.insert("resourceTypeId".into(), json!(filter.resource_type_id));
    if !filter.types.is_empty() {
        object.insert("types".into(), json!(filter.types));
    }
    Value::Object(object)
}

fn format_to_json(format: &DeliveryFormat) -> Value {
    match format {
        DeliveryFormat::Platform => json!({ "type": "Platform" }),
        DeliveryFormat::CloudEvents {
            cloud_events_version,
        } => json!({ "type": "CloudEvents", "cloudEventsVersion": cloud_events_version }),
    }
}
