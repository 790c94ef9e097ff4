//! The log → Kafka relay of payledger: every event of the global log is
//! published as its Message to the project's topic, at least once and in
//! order per payment. This is the only crate that links librdkafka.
//!
//! - [`config`]: brokers, topic template, message formats, limits.
//! - [`render`]: events → records (value in the topic's format, headers).
//! - [`producer`]: the producer (explicit idempotence, `acks=all`,
//!   murmur2 partitioner) and topic creation.
//! - [`relay`]: one worker per ledger partition, each tailing its log from
//!   a durable cursor that moves only past acknowledged records.
//! - [`probe`]: a consumer-group reader for benchmarks and checks.
//!
//! Architecture invariant: the relay is a projection of the log and never
//! part of the write path. It reads the store, saves its cursors, and
//! talks to Kafka; a broker outage only makes it fall behind.

pub mod config;
pub mod probe;
pub mod producer;
pub mod relay;
pub mod render;

pub use config::{MessageFormat, RELAY_CONSUMER_NAME, RelayConfig};
pub use probe::{Probe, Received};
pub use relay::{Relay, RelayError, RelayStats};

#[cfg(test)]
mod tests;
