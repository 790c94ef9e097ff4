//! Log events → delivery bodies in the subscription's format.
//!
//! - Platform: the Message JSON (the same as `GET /{pk}/messages/{id}`)
//!   with `notificationType: "Message"` and `projectKey`, the commercetools
//!   `MessageDeliveryPayload`.
//! - CloudEvents: a CloudEvents 1.0 JSON envelope (`id`, `type`,
//!   `source`, `subject`, `time`, `sequence`, …) whose `data` is the
//!   Platform body.

use payledger_app::subscriptions::{DeliveryFormat, SubscriptionRecord};
use payledger_domain::EventEnvelope;
use payledger_store::{EventStore, StoreError, VersionRange};
use payledger_wire::json::MessageKeys;
use payledger_wire::json::{
    CLOUDEVENTS_CONTENT_TYPE, cloudevent_to_json, message_delivery_payload,
};
use serde_json::Value;

/// Content type of Platform bodies.
pub const PLATFORM_CONTENT_TYPE: &str = "application/json";
/// Most payments a renderer remembers the key of; past it, it forgets all
/// and re-reads stream starts as needed.
pub const KEYS_TRACKED_MAX: usize = 100_000;

/// One delivery: a Message for one subscription.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Delivery {
    /// The Message id: the delivery id receivers dedupe by.
    pub message_id: String,
    pub message_type: String,
    /// The event's sequence in its partition's log (the cursor position).
    pub sequence: u64,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// The correlation id the event was recorded under, if any (sent as
    /// `X-Correlation-ID`).
    pub correlation_id: Option<String>,
}

/// What one log event means for one subscription.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DeliveryStep {
    /// Not for this subscription (another project, a filtered-out type):
    /// only the cursor moves.
    Skip {
        sequence: u64,
    },
    Deliver(Delivery),
}

/// Renders the events of one partition, in log order, for one subscription.
#[derive(Debug, Default)]
pub struct DeliveryRenderer {
    keys: MessageKeys,
}

impl DeliveryRenderer {
    /// The steps for `events`, which follow each other in one log.
    pub fn steps<S: EventStore + ?Sized>(
        &mut self,
        store: &S,
        subscription: &SubscriptionRecord,
        project: &payledger_domain::ProjectKey,
        events: &[EventEnvelope],
    ) -> Result<Vec<DeliveryStep>, StoreError> {
        self.keys.make_room(events.len(), KEYS_TRACKED_MAX);
        let mut steps = Vec::with_capacity(events.len());
        for envelope in events {
            let sequence = envelope.partition_sequence;
            let message_type = payledger_wire::json::message_type(&envelope.event);
            let resource = envelope.stream.kind.type_id();
            if &envelope.meta.project != project || !subscription.wants(resource, message_type) {
                // A skipped key change still names the key of later Messages.
                self.keys.observe_if_tracked(envelope);
                steps.push(DeliveryStep::Skip { sequence });
                continue;
            }
            self.keys.learn_history(envelope, |stream, last| {
                store.read_stream(stream, VersionRange::new(1, last))
            })?;
            let message = self.keys.render(envelope);
            let (body, content_type) = body(&subscription.format, envelope, message);
            steps.push(DeliveryStep::Deliver(Delivery {
                message_id: envelope.meta.event_id.to_string(),
                message_type: message_type.to_owned(),
                sequence,
                body,
                content_type,
                correlation_id: envelope.meta.correlation_id.clone(),
            }));
        }
        Ok(steps)
    }
}

/// The body of `message` (rendered from `envelope`) in `format`.
pub fn body(
    format: &DeliveryFormat,
    envelope: &EventEnvelope,
    message: Value,
) -> (Vec<u8>, &'static str) {
    let platform = message_delivery_payload(envelope.meta.project.as_str(), message);
    let (value, content_type) = match format {
        DeliveryFormat::Platform => (platform, PLATFORM_CONTENT_TYPE),
        DeliveryFormat::CloudEvents { .. } => (
            cloudevent_to_json(envelope, platform),
            CLOUDEVENTS_CONTENT_TYPE,
        ),
    };
    // Serializing a `Value` cannot fail: its keys are strings.
    (serde_json::to_vec(&value).unwrap_or_default(), content_type)
}
