//! Log events → Kafka records: topic, key, value in the topic's format, and
//! the headers consumers use to dedupe and order without parsing the value.
//!
//! | header | value |
//! |---|---|
//! | `message-id` | the Message id (the event id): the dedupe key |
//! | `message-type` | e.g. `PaymentTransactionAdded` |
//! | `resource-version` | the payment version (= `sequenceNumber`) |
//! | `partition-sequence` | the event's sequence in its ledger partition's log |
//! | `ledger-partition` | the ledger partition of the payment |
//! | `content-type` | the media type of the value |
//! | `correlation-id` | the correlation id of the request that recorded the event, when it had one |
//!
//! The Message JSON is rendered by `payledger-wire` ([`MessageKeys::render`]), the
//! same code that answers `GET /{pk}/messages`, so both always agree. A
//! Message names the payment's key at its version; a worker that starts
//! mid-stream reads the stream's earlier events once to learn it.

use crate::config::{KEYS_TRACKED_MAX, MessageFormat, RelayConfig};
use payledger_domain::{EventEnvelope, ProjectKey};
use payledger_store::{EventStore, StoreError, VersionRange};
use payledger_wire::json::MessageKeys;
use payledger_wire::json::{cloudevent_to_json, message_type};
use std::collections::HashMap;
use std::sync::Arc;

/// The `message-type` header of the tombstone that follows the Message of
/// a deletion with `dataErasure=true`.
pub const TOMBSTONE_MESSAGE_TYPE: &str = "PaymentDataErased";

/// One Kafka record, owning its bytes so a failed batch can be re-sent.
#[derive(Clone, Debug)]
pub struct KafkaRecord {
    pub topic: Arc<str>,
    /// The payment id: Kafka keeps one payment's records in one partition.
    pub key: String,
    pub value: Vec<u8>,
    /// A tombstone: no value at all (a compacted topic then drops every
    /// record of the key). Follows the Message of an erasing deletion.
    pub tombstone: bool,
    pub message_id: String,
    pub message_type: &'static str,
    pub resource_version: u64,
    pub ledger_partition: u16,
    /// The event's position in its ledger partition's log.
    pub sequence: u64,
    pub content_type: &'static str,
    /// The correlation id the event was recorded under, if any.
    pub correlation_id: Option<String>,
}

impl KafkaRecord {
    /// The record's headers, in the order they are produced.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("message-id", self.message_id.clone()),
            ("message-type", self.message_type.to_owned()),
            ("resource-version", self.resource_version.to_string()),
            ("partition-sequence", self.sequence.to_string()),
            ("ledger-partition", self.ledger_partition.to_string()),
            ("content-type", self.content_type.to_owned()),
        ];
        if let Some(id) = &self.correlation_id {
            headers.push(("correlation-id", id.clone()));
        }
        headers
    }
}

/// Renders the events of one ledger partition, in log order.
#[derive(Debug)]
pub struct RecordRenderer {
    config: Arc<RelayConfig>,
    keys: MessageKeys,
    topics: HashMap<ProjectKey, (Arc<str>, MessageFormat)>,
}

impl RecordRenderer {
    pub fn new(config: Arc<RelayConfig>) -> Self {
        Self {
            config,
            keys: MessageKeys::default(),
            topics: HashMap::new(),
        }
    }

    /// The records of `events`, which follow each other in one partition's
    /// log. Reads a stream's start from `store` for a payment first seen
    /// mid-stream.
    pub fn render<S: EventStore + ?Sized>(
        &mut self,
        store: &S,
        events: &[EventEnvelope],
    ) -> Result<Vec<KafkaRecord>, StoreError> {
        self.keys.make_room(events.len(), KEYS_TRACKED_MAX);
        let mut records = Vec::with_capacity(events.len());
        for envelope in events {
            let (topic, format) = self.topic(&envelope.meta.project);
            // A protobuf value carries no payment key: nothing to learn.
            if format != MessageFormat::Protobuf {
                self.keys.learn_history(envelope, |stream, last| {
                    store.read_stream(stream, VersionRange::new(1, last))
                })?;
            }
            let record = self.record(envelope, topic, format);
            let erased = envelope.event.erases_data();
            if erased {
                let tombstone = KafkaRecord {
                    value: Vec::new(),
                    tombstone: true,
                    message_type: TOMBSTONE_MESSAGE_TYPE,
                    ..record.clone()
                };
                records.push(record);
                records.push(tombstone);
            } else {
                records.push(record);
            }
        }
        Ok(records)
    }

    fn record(
        &mut self,
        envelope: &EventEnvelope,
        topic: Arc<str>,
        format: MessageFormat,
    ) -> KafkaRecord {
        let value = match format {
            MessageFormat::Json => to_bytes(&self.keys.render(envelope)),
            MessageFormat::CloudEvents => {
                let message = self.keys.render(envelope);
                to_bytes(&cloudevent_to_json(envelope, message))
            }
            MessageFormat::Protobuf => payledger_codec::encode_envelope(envelope),
        };
        KafkaRecord {
            topic,
            key: envelope.stream.id.to_string(),
            value,
            tombstone: false,
            message_id: envelope.meta.event_id.to_string(),
            message_type: message_type(&envelope.event),
            resource_version: envelope.version,
            ledger_partition: envelope.partition,
            sequence: envelope.partition_sequence,
            content_type: format.content_type(),
            correlation_id: envelope.meta.correlation_id.clone(),
        }
    }

    fn topic(&mut self, project: &ProjectKey) -> (Arc<str>, MessageFormat) {
        if let Some((topic, format)) = self.topics.get(project) {
            return (Arc::clone(topic), *format);
        }
        let name = self.config.topic(project.as_str());
        let format = self.config.format_of(&name);
        let topic: Arc<str> = name.into();
        self.topics
            .insert(project.clone(), (Arc::clone(&topic), format));
        (topic, format)
    }
}

fn to_bytes(value: &serde_json::Value) -> Vec<u8> {
    // Serializing a `Value` cannot fail: its keys are strings.
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use payledger_domain::{Actor, Event, EventId, EventMeta, PaymentId, Timestamp};

    /// A record as consumers see it: topic, key, headers, value (text for
    /// the JSON formats, hex for protobuf).
    fn wire_text(format: MessageFormat) -> String {
        let envelope = EventEnvelope {
            meta: EventMeta {
                event_id: EventId::from_bytes([0x2a; 16]),
                project: ProjectKey::parse("shop").unwrap(),
                recorded_at: Timestamp(1_767_225_600_000),
                actor: Actor::Client("shop-backend".into()),
                correlation_id: None,
                idempotency_key: None,
            },
            stream: PaymentId::from_bytes([0x11; 16]).into(),
            version: 3,
            partition: 5,
            partition_sequence: 42,
            previous_hash: [0; 32],
            event: Event::StatusInterfaceCodeSet(Some("succeeded".into())),
        };
        let mut config = RelayConfig::new("127.0.0.1:9092");
        config.format = format;
        let mut renderer = RecordRenderer::new(Arc::new(config));
        let (topic, format) = renderer.topic(&envelope.meta.project);
        let record = renderer.record(&envelope, topic, format);
        let mut text = format!("topic: {}\nkey: {}\n", record.topic, record.key);
        for (name, value) in record.headers() {
            text.push_str(&format!("header {name}: {value}\n"));
        }
        let value = match format {
            MessageFormat::Protobuf => record.value.iter().map(|b| format!("{b:02x}")).collect(),
            MessageFormat::Json | MessageFormat::CloudEvents => {
                String::from_utf8(record.value).unwrap()
            }
        };
        text.push_str(&format!("value: {value}\n"));
        text
    }

    /// What consumers parse. Written once with `PAYLEDGER_BLESS=1` when
    /// missing; never edited: a change breaks every consumer.
    #[test]
    fn a_record_carries_the_correlation_id_its_event_was_recorded_under() {
        let record = |correlation_id: Option<&str>| KafkaRecord {
            topic: Arc::from("t"),
            key: "k".into(),
            value: Vec::new(),
            tombstone: false,
            message_id: "m".into(),
            message_type: "PaymentCreated",
            resource_version: 1,
            ledger_partition: 0,
            sequence: 1,
            content_type: "application/json",
            correlation_id: correlation_id.map(str::to_owned),
        };
        let with = record(Some("checkout-7")).headers();
        assert_eq!(
            with.last(),
            Some(&("correlation-id", "checkout-7".to_owned()))
        );
        assert_eq!(record(None).headers().len(), with.len() - 1);
    }

    #[test]
    fn the_record_wire_format_is_stable() {
        for format in MessageFormat::ALL {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("src/golden/record_{}_v1.txt", format.name()));
            let text = wire_text(format);
            if !path.exists() && std::env::var_os("PAYLEDGER_BLESS").is_some_and(|v| v == "1") {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let golden = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("{} is missing", path.display()));
            assert_eq!(
                text,
                golden,
                "{} records changed on the wire",
                format.name()
            );
        }
    }
}
