//! The librdkafka producer and admin client of the relay.
//!
//! Producer settings that matter for correctness are set explicitly, never
//! left to librdkafka's defaults: `enable.idempotence=true` (no duplicates
//! or reordering from librdkafka's own retries), `acks=all`,
//! `partitioner=murmur2_random` (the Java client's partitioner, so every
//! client puts a payment id in the same partition), and a bounded
//! `message.timeout.ms`.
//!
//! After a fatal producer error (possible with idempotence), or when
//! attempts keep failing with the same producer, the relay builds a new
//! producer, with a new producer id: a broker that lost or never kept the
//! idempotence state of the old one (tansu after a restart answers every
//! produce of the old producer id with an unknown server error) accepts the
//! new one. [`ProducerSlot`] holds the current one.

use crate::config::{
    ADMIN_TIMEOUT_MS, PRODUCE_BATCH_BYTES_MAX, PRODUCE_BATCH_MESSAGES_MAX, PRODUCER_QUEUE_KIB_MAX,
    PRODUCER_QUEUE_MESSAGES_MAX, RelayConfig,
};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, Producer};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The librdkafka properties of the relay's producer.
pub fn producer_config(config: &RelayConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", "payledger-relay")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("max.in.flight.requests.per.connection", "5")
        .set("message.timeout.ms", config.message_timeout_ms.to_string())
        .set("linger.ms", config.linger_ms.to_string())
        .set("batch.num.messages", PRODUCE_BATCH_MESSAGES_MAX.to_string())
        .set("batch.size", PRODUCE_BATCH_BYTES_MAX.to_string())
        .set(
            "queue.buffering.max.messages",
            PRODUCER_QUEUE_MESSAGES_MAX.to_string(),
        )
        .set(
            "queue.buffering.max.kbytes",
            PRODUCER_QUEUE_KIB_MAX.to_string(),
        )
        .set("compression.type", "none");
    for (key, value) in &config.producer_overrides {
        client.set(key, value);
    }
    client
}

/// The current producer, replaced after a fatal error.
pub struct ProducerSlot {
    config: ClientConfig,
    current: Mutex<(u64, FutureProducer)>,
}

impl std::fmt::Debug for ProducerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerSlot").finish_non_exhaustive()
    }
}

impl ProducerSlot {
    pub fn new(config: ClientConfig) -> Result<Self, KafkaError> {
        let producer = config.create()?;
        Ok(Self {
            config,
            current: Mutex::new((0, producer)),
        })
    }

    /// The generation of the current producer.
    pub fn generation(&self) -> u64 {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// The current producer and its generation.
    pub fn get(&self) -> (u64, FutureProducer) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        (current.0, current.1.clone())
    }

    /// Whether the producer of `generation` hit a fatal error.
    pub fn is_fatal(&self, generation: u64) -> bool {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.0 == generation && current.1.client().fatal_error().is_some()
    }

    /// Replaces the producer of `generation` with a new one (a new
    /// producer id for the broker) unless a worker that saw the failure
    /// first replaced it already. Only call it when none of this worker's
    /// messages are in flight: the relay re-sends from its cursor.
    pub fn replace(&self, generation: u64, reason: &str) -> Result<(), KafkaError> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.0 != generation {
            return Ok(());
        }
        let fresh: FutureProducer = self.config.create()?;
        tracing::warn!(generation, reason, "replacing the Kafka producer");
        // The old producer lives on until its users got their reports.
        *current = (generation + 1, fresh);
        Ok(())
    }
}

/// Why a topic could not be made sure of.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("cannot create topic {topic}: {code}")]
    Refused {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

/// Creates topics when first used; remembers which exist.
pub struct Topics {
    admin: AdminClient<DefaultClientContext>,
    partitions: i32,
    replication: i32,
    enabled: bool,
    known: Mutex<HashSet<String>>,
    /// One creation at a time: a worker that finds a creation under way
    /// waits for it rather than racing it (a broker may answer the racer
    /// "already exists" before the topic's partitions can take records).
    creating: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Topics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topics")
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

impl Topics {
    pub fn new(config: &RelayConfig) -> Result<Self, KafkaError> {
        let admin = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", "payledger-relay-admin")
            .create()?;
        Ok(Self {
            admin,
            partitions: config.topic_partitions,
            replication: config.topic_replication,
            enabled: config.create_topics,
            known: Mutex::new(HashSet::new()),
            creating: tokio::sync::Mutex::new(()),
        })
    }

    /// Makes sure every topic in `names` exists, creating missing ones.
    pub async fn ensure(&self, names: &[Arc<str>]) -> Result<(), TopicError> {
        if !self.enabled || self.missing(names).is_empty() {
            return Ok(());
        }
        let _creating = self.creating.lock().await;
        let missing = self.missing(names);
        if missing.is_empty() {
            return Ok(());
        }
        self.create(&missing).await
    }

    /// The topics of `names` not known to exist, sorted, without repeats.
    fn missing<'a>(&self, names: &'a [Arc<str>]) -> Vec<&'a str> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let mut missing: Vec<&str> = names
            .iter()
            .map(|name| &**name)
            .filter(|name| !known.contains(*name))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    async fn create(&self, missing: &[&str]) -> Result<(), TopicError> {
        let topics: Vec<NewTopic<'_>> = missing
            .iter()
            .map(|name| {
                NewTopic::new(
                    name,
                    self.partitions,
                    TopicReplication::Fixed(self.replication),
                )
            })
            .collect();
        let timeout = Duration::from_millis(ADMIN_TIMEOUT_MS);
        let options = AdminOptions::new()
            .request_timeout(Some(timeout))
            .operation_timeout(Some(timeout));
        let results = self.admin.create_topics(&topics, &options).await?;
        for result in results {
            let name = match result {
                Ok(name) | Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => name,
                Err((topic, code)) => return Err(TopicError::Refused { topic, code }),
            };
            tracing::info!(topic = %name, "Kafka topic ready");
            self.known
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name);
        }
        Ok(())
    }
}
