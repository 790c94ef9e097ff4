//! The CloudEvents 1.0 JSON envelope around a Message, as commercetools
//! sends it to CloudEvents subscriptions: the Message is the `data`, and
//! the envelope names the message type, the project's resource path, the
//! payment (`subject`) and the per-payment `sequence`.

use payledger_domain::EventEnvelope;
use serde_json::{Value, json};

/// Prefix of the CloudEvents `type` of a payment Message.
pub const CLOUDEVENTS_TYPE_PREFIX: &str = "com.commercetools.payment.message.";

/// The media type of a structured CloudEvents JSON body.
pub const CLOUDEVENTS_CONTENT_TYPE: &str = "application/cloudevents+json";

/// Wraps `message` (the Message of `envelope`, from
/// [`super::message_to_json`]) into a CloudEvents 1.0 envelope.
pub fn cloudevent_to_json(envelope: &EventEnvelope, message: Value) -> Value {
    let project = envelope.meta.project.as_str();
    let message_type = message["type"].as_str().unwrap_or_default().to_owned();
    json!({
        "specversion": "1.0",
        "id": message["id"],
        "type": format!("{CLOUDEVENTS_TYPE_PREFIX}{message_type}"),
        "source": format!("/{project}/{}", envelope.stream.kind.resource_path()),
        "subject": envelope.stream.id.to_string(),
        "time": message["createdAt"],
        "sequence": envelope.version.to_string(),
        "sequencetype": "Integer",
        "dataref": format!("/{project}/messages/{}", envelope.meta.event_id),
        "datacontenttype": "application/json",
        "data": message,
    })
}
