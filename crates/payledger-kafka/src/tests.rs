//! Fault injection with librdkafka's mock cluster: request errors and a
//! broker that goes down. Every test checks the same contract: after
//! dedupe by `message-id`, each payment's Messages arrive exactly once
//! with contiguous versions in consumption order, and a cursor never moves
//! past a record the broker did not acknowledge.

use super::*;
use payledger_app::consumer::Cursor;
use payledger_domain::{PaymentId, StreamId};
use payledger_store::conformance::{event, new_payment};
use payledger_store::memory::MemoryStore;
use payledger_store::{AppendRequest, EventStore};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOPIC: &str = "payledger.conformance.payments";
const KAFKA_PARTITIONS: i32 = 3;
const LEDGER_PARTITIONS: u16 = 4;
const DEADLINE: Duration = Duration::from_secs(60);

/// A store whose logs interleave `payments` streams of `events` each.
fn filled_store(payments: usize, events: u64) -> (Arc<dyn EventStore>, HashMap<String, u64>) {
    let store = MemoryStore::with_partitions(LEDGER_PARTITIONS);
    let ids: Vec<StreamId> = (0..payments).map(|_| new_payment()).collect();
    for version in 0..events {
        for id in &ids {
            store
                .append(AppendRequest::events(*id, version, vec![event("relay")]))
                .unwrap();
        }
    }
    let expected = ids.iter().map(|id| (id.id.to_string(), events)).collect();
    (Arc::new(store), expected)
}

fn config(cluster: &MockCluster<'_, impl rdkafka::ClientContext>) -> RelayConfig {
    cluster.create_topic(TOPIC, KAFKA_PARTITIONS, 1).unwrap();
    let mut config = RelayConfig::new(cluster.bootstrap_servers());
    // The mock broker has no CreateTopics API; the topic exists already.
    config.create_topics = false;
    config.message_timeout_ms = 2_000;
    config.batch_events_max = 50;
    config
}

fn start(store: &Arc<dyn EventStore>, config: RelayConfig) -> Relay {
    Relay::start(Arc::clone(store), config).unwrap()
}

fn cursors(store: &Arc<dyn EventStore>) -> Vec<Cursor> {
    (0..store.partition_count())
        .map(|p| Cursor::load(&**store, RELAY_CONSUMER_NAME, p).unwrap())
        .collect()
}

fn caught_up(store: &Arc<dyn EventStore>) -> bool {
    cursors(store).iter().all(|c| c.lag(&**store).unwrap() == 0)
}

/// Waits until `condition` (about the cursors) holds, looking again after
/// every cursor write of `relay`, or fails at the deadline.
async fn eventually(relay: &Relay, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    let mut writes = relay.cursor_writes();
    while !condition() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let written = tokio::time::timeout(remaining, writes.changed()).await;
        assert!(
            matches!(written, Ok(Ok(()))),
            "timed out waiting until {what}"
        );
    }
}

/// One consumed record: message id, payment, version, value.
struct Consumed {
    message_id: String,
    payment: String,
    version: u64,
    value: serde_json::Value,
}

/// Reads the topic from the beginning until `unique` distinct message ids
/// arrived (and then drains what is left for a moment, to count
/// duplicates).
fn consume(bootstrap: &str, unique: usize) -> Vec<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "relay-tests")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..KAFKA_PARTITIONS {
        assignment
            .add_partition_offset(TOPIC, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut consumed = Vec::new();
    let mut ids = HashSet::new();
    let deadline = Instant::now() + DEADLINE;
    let mut drained_at = None;
    loop {
        let now = Instant::now();
        assert!(now < deadline, "only {} of {unique} messages", ids.len());
        if drained_at.is_some_and(|at| now >= at) {
            return consumed;
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.unwrap();
        let header = |name: &str| {
            let headers = message.headers().unwrap();
            let found = headers.iter().find(|h| h.key == name).unwrap();
            String::from_utf8(found.value.unwrap().to_vec()).unwrap()
        };
        let record = Consumed {
            message_id: header("message-id"),
            payment: String::from_utf8(message.key().unwrap().to_vec()).unwrap(),
            version: header("resource-version").parse().unwrap(),
            value: serde_json::from_slice(message.payload().unwrap()).unwrap(),
        };
        assert_eq!(header("content-type"), "application/json");
        assert!(!header("message-type").is_empty());
        assert!(header("partition-sequence").parse::<u64>().unwrap() > 0);
        ids.insert(record.message_id.clone());
        consumed.push(record);
        if ids.len() == unique && drained_at.is_none() {
            drained_at = Some(Instant::now() + Duration::from_millis(300));
        }
    }
}

/// Checks the delivery contract; returns the number of duplicates.
fn check(consumed: &[Consumed], expected: &HashMap<String, u64>) -> usize {
    let mut seen = HashSet::new();
    let mut last: HashMap<&str, u64> = HashMap::new();
    let mut duplicates = 0;
    for record in consumed {
        if !seen.insert(&record.message_id) {
            duplicates += 1;
            continue;
        }
        assert_eq!(record.value["id"], record.message_id.as_str());
        assert_eq!(record.value["sequenceNumber"], record.version);
        assert_eq!(record.value["resource"]["id"], record.payment.as_str());
        let previous = last.entry(&record.payment).or_insert(0);
        assert_eq!(
            record.version,
            *previous + 1,
            "payment {} out of order",
            record.payment
        );
        *previous = record.version;
    }
    let delivered: HashMap<String, u64> =
        last.into_iter().map(|(p, v)| (p.to_owned(), v)).collect();
    assert_eq!(&delivered, expected, "every Message exactly once");
    duplicates
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_published_once_in_order_per_payment() {
    let cluster = MockCluster::new(1).unwrap();
    let (store, expected) = filled_store(40, 6);
    let relay = start(&store, config(&cluster));
    eventually(&relay, "the relay caught up", || caught_up(&store)).await;
    let stats = relay.stats();
    relay.stop().await;
    assert_eq!(stats.acknowledged, 240);
    assert_eq!(stats.failed_attempts, 0);
    let bootstrap = cluster.bootstrap_servers();
    let consumed = tokio::task::spawn_blocking(move || consume(&bootstrap, 240))
        .await
        .unwrap();
    assert_eq!(
        check(&consumed, &expected),
        0,
        "no duplicates without faults"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retriable_produce_errors_are_retried_without_loss_or_reordering() {
    let cluster = MockCluster::new(1).unwrap();
    let config = config(&cluster);
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        ],
    );
    let (store, expected) = filled_store(30, 5);
    let relay = start(&store, config);
    eventually(&relay, "the relay caught up", || caught_up(&store)).await;
    relay.stop().await;
    let bootstrap = cluster.bootstrap_servers();
    let consumed = tokio::task::spawn_blocking(move || consume(&bootstrap, 150))
        .await
        .unwrap();
    check(&consumed, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_batches_keep_the_cursor_and_are_sent_again() {
    let cluster = MockCluster::new(1).unwrap();
    let config = config(&cluster);
    // Not retriable by librdkafka: the messages of these requests fail and
    // the relay itself must send them again.
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS,
        ],
    );
    let (store, expected) = filled_store(30, 5);
    let relay = start(&store, config);
    eventually(&relay, "the relay caught up", || caught_up(&store)).await;
    let stats = relay.stats();
    relay.stop().await;
    assert!(stats.failed_attempts >= 1, "{stats:?}");
    assert!(stats.sent > stats.acknowledged, "{stats:?}");
    let bootstrap = cluster.bootstrap_servers();
    let consumed = tokio::task::spawn_blocking(move || consume(&bootstrap, 150))
        .await
        .unwrap();
    check(&consumed, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_holds_the_cursors_until_the_broker_returns() {
    let cluster = MockCluster::new(1).unwrap();
    let config = config(&cluster);
    cluster.broker_down(1).unwrap();
    let (store, expected) = filled_store(20, 4);
    let relay = start(&store, config);
    eventually(&relay, "a worker recorded the outage", || {
        cursors(&store).iter().any(|c| c.last_error.is_some())
    })
    .await;
    assert!(
        cursors(&store).iter().all(|c| c.sequence == 0),
        "a cursor moved while the broker was down"
    );
    assert_eq!(relay.stats().acknowledged, 0);
    cluster.broker_up(1).unwrap();
    eventually(&relay, "the relay caught up", || caught_up(&store)).await;
    assert!(cursors(&store).iter().all(|c| c.last_error.is_none()));
    relay.stop().await;
    let bootstrap = cluster.bootstrap_servers();
    let consumed = tokio::task::spawn_blocking(move || consume(&bootstrap, 80))
        .await
        .unwrap();
    check(&consumed, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_relay_resumes_from_its_cursors() {
    let cluster = MockCluster::new(1).unwrap();
    let (store, mut expected) = filled_store(10, 3);
    let config = config(&cluster);
    let relay = start(&store, config.clone());
    eventually(&relay, "the relay caught up", || caught_up(&store)).await;
    relay.stop().await;
    // More events while the relay is stopped, then a new relay.
    for (payment, version) in &mut expected {
        let id = StreamId::payment(PaymentId::parse(payment).unwrap());
        store
            .append(AppendRequest::events(id, *version, vec![event("more")]))
            .unwrap();
        *version += 1;
    }
    let relay = start(&store, config);
    eventually(&relay, "the relay caught up", || caught_up(&store)).await;
    let stats = relay.stats();
    relay.stop().await;
    assert_eq!(stats.acknowledged, 10, "only the new events are sent");
    let bootstrap = cluster.bootstrap_servers();
    let consumed = tokio::task::spawn_blocking(move || consume(&bootstrap, 40))
        .await
        .unwrap();
    assert_eq!(check(&consumed, &expected), 0);
}

#[test]
fn formats_parse_from_their_names() {
    for format in MessageFormat::ALL {
        assert_eq!(format.name().parse::<MessageFormat>().unwrap(), format);
    }
    assert!("xml".parse::<MessageFormat>().is_err());
    let config = RelayConfig::new("b:1");
    assert_eq!(config.topic("shop"), "payledger.shop.payments");
}

/// A payment whose key is set at version 1, then two more events.
fn keyed_store() -> (MemoryStore, StreamId) {
    let store = MemoryStore::with_partitions(1);
    let id = new_payment();
    let mut key_set = event("key");
    key_set.event = payledger_domain::Event::KeySet(Some("order-1".into()));
    let events = vec![key_set, event("a"), event("b")];
    store.append(AppendRequest::events(id, 0, events)).unwrap();
    (store, id)
}

#[test]
fn a_renderer_starting_mid_stream_learns_the_payments_key() {
    let (store, id) = keyed_store();
    let tail = store.read_log(0, 3, 10).unwrap();
    let mut renderer = render::RecordRenderer::new(Arc::new(RelayConfig::new("b:1")));
    let records = renderer.render(&store, &tail).unwrap();
    let message: serde_json::Value = serde_json::from_slice(&records[0].value).unwrap();
    assert_eq!(message["resourceUserProvidedIdentifiers"]["key"], "order-1");
    assert_eq!(message["resource"]["id"], id.id.to_string());
    assert_eq!(records[0].key, id.id.to_string());
    assert_eq!(records[0].sequence, 3);
    assert_eq!(records[0].resource_version, 3);
    assert_eq!(&*records[0].topic, "payledger.conformance.payments");
}

#[test]
fn cloudevents_and_protobuf_topics_wrap_the_same_message() {
    let (store, id) = keyed_store();
    let log = store.read_log(0, 1, 10).unwrap();
    let mut config = RelayConfig::new("b:1");
    config.format = MessageFormat::CloudEvents;
    let mut renderer = render::RecordRenderer::new(Arc::new(config.clone()));
    let records = renderer.render(&store, &log).unwrap();
    let cloud: serde_json::Value = serde_json::from_slice(&records[2].value).unwrap();
    assert_eq!(cloud["specversion"], "1.0");
    assert_eq!(cloud["id"], records[2].message_id.as_str());
    assert_eq!(
        cloud["type"],
        format!(
            "com.commercetools.payment.message.{}",
            records[2].message_type
        )
    );
    assert_eq!(cloud["source"], "/conformance/payments");
    assert_eq!(cloud["subject"], id.id.to_string());
    assert_eq!(cloud["sequence"], "3");
    assert_eq!(cloud["time"], cloud["data"]["createdAt"]);
    assert_eq!(
        cloud["data"]["resourceUserProvidedIdentifiers"]["key"],
        "order-1"
    );
    assert_eq!(records[2].content_type, "application/cloudevents+json");

    config.topic_formats.insert(
        "payledger.conformance.payments".into(),
        MessageFormat::Protobuf,
    );
    let mut renderer = render::RecordRenderer::new(Arc::new(config));
    let records = renderer.render(&store, &log).unwrap();
    let decoded = payledger_codec::decode_envelope(&records[1].value).unwrap();
    assert_eq!(decoded, log[1]);
    assert!(
        records[1]
            .content_type
            .starts_with("application/x-protobuf")
    );
}

#[test]
fn an_erasing_deletion_is_followed_by_a_tombstone_of_the_payment_key() {
    let store = MemoryStore::with_partitions(1);
    let id = new_payment();
    let mut erased = event("erase");
    erased.event = payledger_domain::Event::Deleted { data_erasure: true };
    let mut kept = event("keep");
    kept.event = payledger_domain::Event::Deleted {
        data_erasure: false,
    };
    store
        .append(AppendRequest::events(id, 0, vec![event("a"), erased]))
        .unwrap();
    let other = new_payment();
    store
        .append(AppendRequest::events(other, 0, vec![event("b"), kept]))
        .unwrap();
    let events = store.read_log(0, 1, 10).unwrap();
    let mut renderer = render::RecordRenderer::new(Arc::new(RelayConfig::new("b:1")));
    let records = renderer.render(&store, &events).unwrap();
    let kinds: Vec<(bool, &str)> = records
        .iter()
        .map(|r| (r.tombstone, r.message_type))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (false, "PaymentStatusInterfaceTextSet"),
            (false, "PaymentDeleted"),
            (true, render::TOMBSTONE_MESSAGE_TYPE),
            (false, "PaymentStatusInterfaceTextSet"),
            (false, "PaymentDeleted"),
        ],
        "only the erasing deletion gets a tombstone, right after its Message"
    );
    assert_eq!(records[2].key, id.id.to_string());
    assert!(records[2].value.is_empty());
}
