//! What an operator configures about the relay: brokers, topic layout,
//! message format, and the limits of the producer and of the delivery loop.
//!
//! Settings come from defaults, then the JSON file of `serve --kafka-config
//! FILE` ([`RelayFile`]), then command-line flags and environment
//! variables, each overriding the one before:
//!
//! ```json
//! {
//!   "brokers": "kafka-1:9092,kafka-2:9092",
//!   "topic_template": "payledger.{projectKey}.payments",
//!   "topic_partitions": 12,
//!   "topic_replication": 3,
//!   "format": "json",
//!   "topic_formats": { "payledger.audit.payments": "protobuf" },
//!   "message_timeout_ms": 30000,
//!   "linger_ms": 5,
//!   "producer": { "compression.type": "lz4" }
//! }
//! ```
//!
//! Every field is optional; unknown fields are refused so a typo never
//! silently drops a setting. `producer` properties are passed to
//! librdkafka last, except the ones the relay's guarantees rest on
//! ([`PINNED_PRODUCER_PROPERTIES`]), which the file cannot change.

use payledger_app::backoff::Backoff;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The name of the relay's cursors in the cursor table.
pub const RELAY_CONSUMER_NAME: &str = "kafka-relay";

/// The default topic of a project's payment Messages.
pub const TOPIC_TEMPLATE_DEFAULT: &str = "payledger.{projectKey}.payments";

/// The placeholder of the project key in a topic template.
pub const TOPIC_TEMPLATE_PROJECT: &str = "{projectKey}";

/// Kafka partitions of a topic the relay creates, unless configured.
pub const TOPIC_PARTITIONS_DEFAULT: i32 = 8;

/// Most events the relay reads and produces in one batch of a partition
/// (as many as one log read returns); the cursor is saved (one synced
/// write) once per acknowledged batch.
pub const RELAY_BATCH_EVENTS_MAX: usize = payledger_app::consumer::LOG_BATCH_EVENTS_MAX;

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

/// The wait between two attempts at a failed batch: 100 ms doubling up
/// to 5 s (with jitter).
pub const RETRY_BACKOFF: Backoff = Backoff {
    min_ms: 100,
    max_ms: 5_000,
};

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
            Self::CloudEvents => payledger_wire::json::CLOUDEVENTS_CONTENT_TYPE,
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
}

/// Producer properties the delivery guarantees rest on; a config file may
/// not override them.
pub const PINNED_PRODUCER_PROPERTIES: [&str; 5] = [
    "enable.idempotence",
    "acks",
    "partitioner",
    "max.in.flight.requests.per.connection",
    "bootstrap.servers",
];

/// The `--kafka-config` file: every field optional.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayFile {
    pub brokers: Option<String>,
    pub topic_template: Option<String>,
    pub topic_partitions: Option<i32>,
    pub topic_replication: Option<i32>,
    /// `false` when an operator creates the topics (brokers that refuse
    /// or lack the CreateTopics API); the relay then produces to them as
    /// they are.
    pub create_topics: Option<bool>,
    pub format: Option<String>,
    #[serde(default)]
    pub topic_formats: BTreeMap<String, String>,
    pub message_timeout_ms: Option<u64>,
    pub linger_ms: Option<u64>,
    #[serde(default)]
    pub producer: BTreeMap<String, String>,
    /// Producer properties read from the environment: property → the
    /// variable that holds its value (secrets such as `sasl.password`).
    #[serde(default)]
    pub producer_env: BTreeMap<String, String>,
    /// Producer properties read from files: property → the file that
    /// holds its value (trimmed), such as a mounted Secret.
    #[serde(default)]
    pub producer_file: BTreeMap<String, std::path::PathBuf>,
}

/// Whether a producer property holds a secret (which the TOML
/// configuration takes only through `producer_env` or `producer_file`).
pub fn is_secret_property(property: &str) -> bool {
    property.contains("password") || property.contains("secret") || property == "ssl.key.pem"
}

/// Why a relay configuration file is refused.
#[derive(Debug, thiserror::Error)]
pub enum RelayFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid relay configuration: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {what}")]
    Invalid { path: String, what: String },
}

impl RelayFile {
    /// The producer properties that hold a secret inline.
    pub fn inline_secrets(&self) -> Vec<String> {
        (self.producer.keys())
            .filter(|property| is_secret_property(property))
            .map(|property| format!("producer.\"{property}\""))
            .collect()
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, RelayFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RelayFileError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: Self = serde_json::from_str(&text).map_err(|source| RelayFileError::Parse {
            path: shown.clone(),
            source,
        })?;
        file.check()
            .map_err(|what| RelayFileError::Invalid { path: shown, what })?;
        Ok(file)
    }

    /// Checks the values a type cannot: formats, counts, pinned properties.
    pub fn check(&self) -> Result<(), String> {
        if let Some(format) = &self.format {
            format.parse::<MessageFormat>().map_err(|e| e.to_string())?;
        }
        for (topic, format) in &self.topic_formats {
            format
                .parse::<MessageFormat>()
                .map_err(|e| format!("topic_formats.{topic}: {e}"))?;
        }
        if self.topic_partitions.is_some_and(|n| n < 1) {
            return Err("topic_partitions must be at least 1".to_owned());
        }
        if self.topic_replication.is_some_and(|n| n < 1) {
            return Err("topic_replication must be at least 1".to_owned());
        }
        if self.message_timeout_ms == Some(0) {
            return Err("message_timeout_ms must be at least 1".to_owned());
        }
        if let Some(pinned) = (self.producer.keys())
            .chain(self.producer_env.keys())
            .chain(self.producer_file.keys())
            .find(|key| PINNED_PRODUCER_PROPERTIES.contains(&key.as_str()))
        {
            return Err(format!(
                "producer.{pinned} is set by the relay (its delivery guarantees depend on it) and cannot be overridden"
            ));
        }
        Ok(())
    }

    /// Applies the file's settings onto `config`, reading the properties
    /// it names by reference (from the environment through `env`, or from
    /// files); refuses a variable that is not set or a file it cannot read.
    pub fn apply(
        &self,
        config: &mut RelayConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(), String> {
        let mut referenced = BTreeMap::new();
        for (property, name) in &self.producer_env {
            let value = env(name).ok_or_else(|| {
                format!("producer_env.\"{property}\": environment variable {name} is not set")
            })?;
            referenced.insert(property.clone(), value);
        }
        for (property, path) in &self.producer_file {
            let value = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "producer_file.\"{property}\": cannot read {}: {e}",
                    path.display()
                )
            })?;
            referenced.insert(property.clone(), value.trim().to_owned());
        }
        if let Some(brokers) = &self.brokers {
            config.brokers.clone_from(brokers);
        }
        if let Some(template) = &self.topic_template {
            config.topic_template.clone_from(template);
        }
        if let Some(partitions) = self.topic_partitions {
            config.topic_partitions = partitions;
        }
        if let Some(replication) = self.topic_replication {
            config.topic_replication = replication;
        }
        if let Some(create) = self.create_topics {
            config.create_topics = create;
        }
        if let Some(format) = self.format.as_deref().and_then(|f| f.parse().ok()) {
            config.format = format;
        }
        for (topic, format) in &self.topic_formats {
            if let Ok(format) = format.parse() {
                config.topic_formats.insert(topic.clone(), format);
            }
        }
        if let Some(timeout) = self.message_timeout_ms {
            config.message_timeout_ms = timeout;
        }
        if let Some(linger) = self.linger_ms {
            config.linger_ms = linger;
        }
        config
            .producer_overrides
            .extend(self.producer.iter().map(|(k, v)| (k.clone(), v.clone())));
        config.producer_overrides.extend(referenced);
        Ok(())
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;

    fn load(text: &str) -> Result<RelayFile, RelayFileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kafka.json");
        std::fs::write(&path, text).unwrap();
        RelayFile::load(&path)
    }

    #[test]
    fn a_file_sets_what_it_names_and_keeps_the_defaults_of_the_rest() {
        let file = load(
            r#"{"brokers": "k1:9092", "topic_partitions": 12, "format": "cloudevents",
                "topic_formats": {"audit": "protobuf"}, "producer": {"compression.type": "lz4"}}"#,
        )
        .unwrap();
        let mut config = RelayConfig::new("");
        file.apply(&mut config, |_| None).unwrap();
        assert_eq!(config.brokers, "k1:9092");
        assert_eq!(config.topic_partitions, 12);
        assert_eq!(config.topic_replication, 1);
        assert_eq!(config.format, MessageFormat::CloudEvents);
        assert_eq!(config.format_of("audit"), MessageFormat::Protobuf);
        assert_eq!(config.topic_template, TOPIC_TEMPLATE_DEFAULT);
        assert_eq!(config.producer_overrides["compression.type"], "lz4");
        assert!(
            config.create_topics,
            "topics are created unless the file says no"
        );
    }

    #[test]
    fn a_file_can_leave_topic_creation_to_the_operator() {
        let file = load(r#"{"create_topics": false}"#).unwrap();
        let mut config = RelayConfig::new("");
        file.apply(&mut config, |_| None).unwrap();
        assert!(!config.create_topics);
    }

    #[test]
    fn typos_bad_values_and_pinned_properties_are_refused_by_name() {
        let refused = [
            (r#"{"broker": "k1:9092"}"#, "unknown field `broker`"),
            (r#"{"format": "avro"}"#, "unknown message format"),
            (r#"{"topic_formats": {"t": "xml"}}"#, "topic_formats.t"),
            (
                r#"{"topic_partitions": 0}"#,
                "topic_partitions must be at least 1",
            ),
            (
                r#"{"producer": {"acks": "1"}}"#,
                "producer.acks is set by the relay",
            ),
            (
                r#"{"producer": {"enable.idempotence": "false"}}"#,
                "producer.enable.idempotence",
            ),
            ("not json", "not a valid relay configuration"),
            (
                r#"{"producer_env": {"acks": "ACKS"}}"#,
                "producer.acks is set by the relay",
            ),
        ];
        for (text, expected) in refused {
            let error = load(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn secret_properties_come_from_the_environment_or_a_file_and_inline_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("ssl-key-password");
        std::fs::write(&key, "from-file\n").unwrap();
        let text = format!(
            r#"{{"producer": {{"sasl.password": "inline", "compression.type": "lz4"}},
                "producer_env": {{"sasl.username": "KAFKA_USER"}},
                "producer_file": {{"ssl.key.password": {:?}}}}}"#,
            key.display().to_string()
        );
        let file = load(&text).unwrap();
        assert_eq!(file.inline_secrets(), ["producer.\"sasl.password\""]);
        let mut config = RelayConfig::new("");
        let env = |name: &str| (name == "KAFKA_USER").then(|| "ann".to_owned());
        file.apply(&mut config, env).unwrap();
        assert_eq!(config.producer_overrides["sasl.username"], "ann");
        assert_eq!(config.producer_overrides["ssl.key.password"], "from-file");
        let error = file.apply(&mut config, |_| None).unwrap_err();
        assert!(error.contains("KAFKA_USER is not set"), "{error}");
    }
}
