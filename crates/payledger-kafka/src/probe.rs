//! A small consumer of the relay's topics for benchmarks and operators:
//! joins a consumer group, and yields each record's identity (message id,
//! payment, version) and the moment it arrived. The relay itself never
//! consumes; this exists so that nothing outside this crate links
//! librdkafka.

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use std::time::Instant;

/// What a probe learns of one record.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Received {
    pub message_id: String,
    /// The record key: the payment id.
    pub payment_id: String,
    pub resource_version: u64,
    pub value_bytes: usize,
    pub at: Instant,
}

/// A consumer-group member reading topics from their beginning.
pub struct Probe {
    consumer: StreamConsumer,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").finish_non_exhaustive()
    }
}

impl Probe {
    /// Joins `group` on `brokers` and subscribes to `topics`.
    pub fn subscribe(brokers: &str, group: &str, topics: &[&str]) -> Result<Self, KafkaError> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "true")
            .set("fetch.wait.max.ms", "5")
            .set("topic.metadata.refresh.interval.ms", "1000")
            .create()?;
        consumer.subscribe(topics)?;
        Ok(Self { consumer })
    }

    /// The next record.
    pub async fn next(&self) -> Result<Received, KafkaError> {
        let message = self.consumer.recv().await?;
        let at = Instant::now();
        let mut received = Received {
            message_id: String::new(),
            payment_id: message
                .key()
                .map(|key| String::from_utf8_lossy(key).into_owned())
                .unwrap_or_default(),
            resource_version: 0,
            value_bytes: message.payload().map_or(0, <[u8]>::len),
            at,
        };
        if let Some(headers) = message.headers() {
            for header in headers.iter() {
                let text = header
                    .value
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                match header.key {
                    "message-id" => received.message_id = text.into_owned(),
                    "resource-version" => received.resource_version = text.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        Ok(received)
    }
}
