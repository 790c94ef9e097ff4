//! What an operator configures about the relay: brokers, topic layout,
//! message format, and the limits of the producer and of the delivery loop.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The name of the relay's cursors in the cursor table.
pub const RELAY_CONSUMER_NAME: &str = "kafka-relay";

/// The default topic of a project's payment Messages.
pub const TOPIC_TEMPLATE_DEFAULT: &str = "payledger.{projectKey}.payments";

/// The placeholder of the project key in a topic template.
pub const TOPIC_TEMPLATE_PROJECT: &str = "{projectKey}";

/// Kafka partitions of a topic the relay creates, unless configured.
pub const TOPIC_PARTITIONS_DEFAULT: i32 = 8;

/// Most events the relay reads and produces in one batch of a partition;
/// the cursor is saved (one synced write) once per acknowledged batch.
pub const RELAY_BATCH_EVENTS_MAX: usize = 5_000;

/// How long librdkafka keeps trying to deliver one message before it
/// reports the message as failed (the relay then retries the batch).
pub const MESSAGE_TIMEOUT_MS_DEFAULT: u64 = 30_000;

/// How long the producer waits to fill a batch before sending it.
pub const LINGER_MS_DEFAULT: u64 = 5;

/// Most messages in one produce request batch.
pub const PRODUCE_BATCH_MESSAGES_MAX: u32 = 10_000;

/// Most bytes in one produce request batch.
pub const PRODUCE_BATCH_BYTES_MAX: u32 = 1_000_000;

/// Most messages the producer queues in memory (all partition workers
/// together); a full queue makes a worker wait for its earlier deliveries.
pub const PRODUCER_QUEUE_MESSAGES_MAX: u32 = 200_000;

/// Most kibibytes the producer queues in memory.
pub const PRODUCER_QUEUE_KIB_MAX: u32 = 262_144;

/// First and longest wait between two attempts at a failed batch.
pub const RETRY_BACKOFF_MS_MIN: u64 = 100;
pub const RETRY_BACKOFF_MS_MAX: u64 = 5_000;

/// Longest wait for a topic creation answer.
pub const ADMIN_TIMEOUT_MS: u64 = 10_000;

/// Longest wait for in-flight messages when the relay stops.
pub const SHUTDOWN_FLUSH_MS: u64 = 5_000;

/// Most payments whose key a partition worker remembers; past it the
/// worker forgets them all and reads a stream's start again when needed.
pub const KEYS_TRACKED_MAX: usize = 1_000_000;

/// How a Message is written into a Kafka record value.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum MessageFormat {
    /// The Message JSON, exactly as `GET /{pk}/messages/{id}` returns it.
    #[default]
    Json,
    /// A CloudEvents 1.0 structured JSON envelope whose `data` is the
    /// Message.
    CloudEvents,
    /// The stored protobuf event envelope (`payledger.v1.EventEnvelope`).
    Protobuf,
}

impl MessageFormat {
    pub const ALL: [Self; 3] = [Self::Json, Self::CloudEvents, Self::Protobuf];

    /// The name used on the command line and in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::CloudEvents => "cloudevents",
            Self::Protobuf => "protobuf",
        }
    }

    /// The `content-type` header of records in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::CloudEvents => payledger_api::json::CLOUDEVENTS_CONTENT_TYPE,
            Self::Protobuf => "application/x-protobuf; messageType=payledger.v1.EventEnvelope",
        }
    }
}

impl fmt::Display for MessageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown message format name.
#[derive(Debug, thiserror::Error)]
#[error("unknown message format {0:?} (expected json, cloudevents or protobuf)")]
pub struct UnknownFormat(String);

impl FromStr for MessageFormat {
    type Err = UnknownFormat;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownFormat(text.to_owned()))
    }
}

/// The relay's configuration.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// `HOST:PORT[,HOST:PORT…]`.
    pub brokers: String,
    /// Topic name with `{projectKey}` where the project key goes.
    pub topic_template: String,
    /// Partitions of the topics the relay creates.
    pub topic_partitions: i32,
    /// Replication factor of the topics the relay creates.
    pub topic_replication: i32,
    /// Create missing topics with the admin API before producing.
    pub create_topics: bool,
    /// The format of every topic not named in `topic_formats`.
    pub format: MessageFormat,
    /// Per-topic formats, by full topic name.
    pub topic_formats: BTreeMap<String, MessageFormat>,
    /// The cursor name (one cursor per partition).
    pub consumer_name: String,
    pub batch_events_max: usize,
    pub message_timeout_ms: u64,
    pub linger_ms: u64,
    /// Further librdkafka producer properties, applied last.
    pub producer_overrides: BTreeMap<String, String>,
}

impl RelayConfig {
    /// The defaults for `brokers`.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic_template: TOPIC_TEMPLATE_DEFAULT.to_owned(),
            topic_partitions: TOPIC_PARTITIONS_DEFAULT,
            topic_replication: 1,
            create_topics: true,
            format: MessageFormat::default(),
            topic_formats: BTreeMap::new(),
            consumer_name: RELAY_CONSUMER_NAME.to_owned(),
            batch_events_max: RELAY_BATCH_EVENTS_MAX,
            message_timeout_ms: MESSAGE_TIMEOUT_MS_DEFAULT,
            linger_ms: LINGER_MS_DEFAULT,
            producer_overrides: BTreeMap::new(),
        }
    }

    /// The topic of a project's Messages.
    pub fn topic(&self, project: &str) -> String {
        self.topic_template.replace(TOPIC_TEMPLATE_PROJECT, project)
    }

    /// The format of a topic.
    pub fn format_of(&self, topic: &str) -> MessageFormat {
        self.topic_formats
            .get(topic)
            .copied()
            .unwrap_or(self.format)
    }

    pub fn message_timeout(&self) -> Duration {
        Duration::from_millis(self.message_timeout_ms)
    }
}
