//! The consumer side of the relay's contract: a reader of the topic on the
//! mock cluster that, as a downstream service would, drops records whose
//! `message-id` it saw already and requires every new record of a payment
//! to be the version after the last one it took.

use anyhow::{Context, Result, bail, ensure};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Most records one drain reads, so a step's check stays bounded.
const DRAIN_RECORDS_MAX: usize = 100_000;

pub struct Reader {
    consumer: BaseConsumer,
    pub taken: Taken,
}

/// What a consumer took: every payment's Messages in version order, after
/// dropping the records it saw already.
#[derive(Debug, Default)]
pub struct Taken {
    seen: HashSet<String>,
    /// Payment → the message ids taken, in version order.
    pub payments: HashMap<String, Vec<String>>,
    pub duplicates: usize,
    /// Payment → the versions of every record read, repeats included.
    read: HashMap<String, Vec<u64>>,
}

impl Taken {
    /// Takes one record, or refuses it when it is not the next version of
    /// its payment.
    pub fn take(&mut self, payment: String, id: String, version: u64) -> Result<()> {
        let read = self.read.entry(payment.clone()).or_default();
        read.push(version);
        if !self.seen.insert(id.clone()) {
            self.duplicates += 1;
            return Ok(());
        }
        let taken = self.payments.entry(payment.clone()).or_default();
        ensure!(
            version == taken.len() as u64 + 1,
            "Kafka: payment {payment}: a new record of version {version} follows version {} \
             (versions read, repeats included: {read:?})",
            taken.len()
        );
        taken.push(id);
        Ok(())
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("taken", &self.taken)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// Reads every partition of `topic` from its beginning.
    pub fn assign(brokers: &str, topic: &str, partitions: i32) -> Result<Self> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "simulation")
            .set("enable.auto.commit", "false")
            // A consumer whose position is lost (a fetch error while the
            // broker is down) starts again from the beginning: repeats,
            // which it drops, never a silent skip to the end.
            .set("auto.offset.reset", "earliest")
            .create()?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
        consumer.assign(&assignment)?;
        Ok(Self {
            consumer,
            taken: Taken::default(),
        })
    }

    /// Takes what the consumer holds now (waiting at most `wait` for the
    /// first record), checking the order of each new record.
    pub fn drain(&mut self, wait: Duration) -> Result<()> {
        let mut timeout = wait;
        for _ in 0..DRAIN_RECORDS_MAX {
            let Some(polled) = self.consumer.poll(timeout) else {
                return Ok(());
            };
            timeout = Duration::ZERO;
            // Transport errors while the broker is down are expected.
            let Ok(record) = polled else { continue };
            let header = |name: &str| -> Result<String> {
                let headers = record.headers().context("record headers")?;
                let found = headers
                    .iter()
                    .find(|h| h.key == name)
                    .with_context(|| format!("header {name}"))?;
                Ok(String::from_utf8(
                    found.value.context("header value")?.to_vec(),
                )?)
            };
            let id = header("message-id")?;
            let version: u64 = header("resource-version")?.parse()?;
            let payment = String::from_utf8(record.key().context("record key")?.to_vec())?;
            self.taken.take(payment, id, version)?;
        }
        Ok(())
    }

    /// The message ids taken for `payment`, or an error naming how far it is.
    pub fn delivered(&self, payment: &str, ids: &[String]) -> Result<()> {
        let taken = (self.taken.payments.get(payment)).map_or(&[][..], Vec::as_slice);
        if taken != ids {
            bail!(
                "Kafka: payment {payment} has {} Messages, {} delivered{}",
                ids.len(),
                taken.len(),
                match taken.iter().zip(ids).position(|(a, b)| a != b) {
                    Some(at) => format!(", the record of version {} differs", at + 1),
                    None => String::new(),
                }
            );
        }
        Ok(())
    }
}

#[test]
fn the_consumer_drops_repeats_and_refuses_a_gap_or_a_step_back() {
    let mut taken = Taken::default();
    let record = |n: u64| (String::from("p"), format!("m{n}"), n);
    for n in [1, 2, 1, 2, 3] {
        let (payment, id, version) = record(n);
        taken.take(payment, id, version).unwrap();
    }
    assert_eq!((taken.payments["p"].len(), taken.duplicates), (3, 2));
    let (payment, _, _) = record(5);
    let gap = taken.take(payment.clone(), "m5".into(), 5).unwrap_err();
    assert!(
        gap.to_string().contains("version 5 follows version 3"),
        "{gap}"
    );
    // A new record (new id) of an old version is a reordering.
    let back = taken.take(payment, "m2-again".into(), 2).unwrap_err();
    assert!(
        back.to_string().contains("version 2 follows version 3"),
        "{back}"
    );
}
