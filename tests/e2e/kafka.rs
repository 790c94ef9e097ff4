//! The Kafka relay end to end: the real server with `--kafka-brokers`, a
//! real tansu broker, HTTP load, and a real consumer group reading the
//! topic. Every test checks the same contract: after dedupe by
//! `message-id`, every Message the API knows appears on the topic exactly
//! once, with contiguous `sequenceNumber`s per payment in consumption
//! order. Crashes of the server and outages of the broker may duplicate
//! (counted) but never lose or reorder.

use payledger_e2e::kafka::{TopicReader, check_delivery};
use payledger_e2e::{Api, Server, Tansu, TansuStorage, create_client, payledger_bin};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

const PROJECT: &str = "shop";
const SCOPE: &str = "manage_project:shop";
const TOPIC: &str = "payledger.shop.payments";
const WRITERS: usize = 8;
const PAYMENTS_PER_WRITER: usize = 5;
/// How long the consumer may take to see everything.
const CONSUME_TIMEOUT: Duration = Duration::from_secs(120);
/// Update rounds sent while the broker is down (40 requests each).
/// Bounded, so the backlog the relay sends after the restart stays well
/// within the producer's message timeout: a timeout of records in flight
/// makes librdkafka bump the producer epoch, which tansu 0.6 on SQLite
/// answers with a panic of its storage task. The relay's own retries after
/// timeouts are covered by the mock-cluster tests of payledger-kafka.
const OUTAGE_ROUNDS: u64 = 10;
/// How long a load phase may wait for its acknowledgements.
const LOAD_TIMEOUT: Duration = Duration::from_secs(120);

fn kafka_args(brokers: &str) -> Vec<String> {
    ["--kafka-brokers", brokers, "--kafka-topic-partitions", "4"]
        .map(str::to_owned)
        .to_vec()
}

fn start_server(data: &Path, brokers: &str) -> Server {
    let args = kafka_args(brokers);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_with(data, &args)
}

/// A server whose relay settings come from a `--kafka-config` file.
fn start_server_from_file(dir: &Path, data: &Path, brokers: &str) -> Server {
    let file = dir.join("kafka.json");
    let settings = json!({"brokers": brokers, "topic_partitions": 4, "format": "json"});
    std::fs::write(&file, settings.to_string()).expect("write the relay settings");
    let file = file.to_string_lossy().into_owned();
    Server::start_with(data, &["--kafka-config", &file])
}

fn connect(server: &Server) -> Api {
    Api::connect(
        server.url(),
        PROJECT,
        "merchant",
        "merchant-secret-1",
        SCOPE,
    )
}

fn group() -> String {
    format!("e2e-{}-{}", std::process::id(), rand::random::<u64>())
}

/// A blocking HTTP client whose requests may fail (the server may die).
struct Writer {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl Writer {
    fn new(api: &Api) -> Self {
        Self {
            http: reqwest::blocking::Client::new(),
            base: format!("{}/{PROJECT}", api.base),
            token: api.bearer_token().to_owned(),
        }
    }

    fn post(&self, path: &str, body: &Value) -> Option<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().ok()?))
    }

    /// Creates a payment; returns its id.
    fn create(&self, key: &str) -> Option<String> {
        let draft = json!({
            "key": key,
            "amountPlanned": {"currencyCode": "EUR", "centAmount": 10_000},
            "paymentMethodInfo": {"paymentInterface": "e2e-psp", "method": "card"},
        });
        let (status, body) = self.post("/payments", &draft)?;
        assert_eq!(status, 201, "create failed: {body}");
        body["id"].as_str().map(str::to_owned)
    }

    /// Two actions, two events; returns the new version.
    fn update(&self, id: &str, version: u64) -> Option<u64> {
        let body = json!({
            "version": version,
            "actions": [
                {"action": "addTransaction", "transaction": {"type": "Charge",
                    "amount": {"currencyCode": "EUR", "centAmount": 100}}},
                {"action": "setStatusInterfaceCode", "interfaceCode": format!("after-{version}")},
            ],
        });
        let (status, body) = self.post(&format!("/payments/{id}"), &body)?;
        assert_eq!(status, 200, "update failed: {body}");
        body["version"].as_u64()
    }
}

/// Creates `WRITERS × PAYMENTS_PER_WRITER` payments; returns their ids.
fn create_payments(api: &Api, prefix: &str) -> Vec<String> {
    let writer = Writer::new(api);
    (0..WRITERS * PAYMENTS_PER_WRITER)
        .map(|n| writer.create(&format!("{prefix}-{n}")).expect("create"))
        .collect()
}

/// The version of every payment, read from the API.
fn versions(api: &Api, payments: &[String]) -> HashMap<String, u64> {
    payments
        .iter()
        .map(|id| {
            let reply = api.get(&format!("/payments/{id}"));
            assert_eq!(reply.status, 200);
            (id.clone(), reply.body["version"].as_u64().expect("version"))
        })
        .collect()
}

/// A count of acknowledged requests that a waiter can block on.
#[derive(Default)]
struct Acked {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Acked {
    fn add(&self) {
        *self.count.lock().expect("count") += 1;
        self.changed.notify_all();
    }

    fn get(&self) -> usize {
        *self.count.lock().expect("count")
    }

    /// Blocks until at least `wanted` requests were acknowledged, or fails
    /// at the deadline.
    fn wait_for(&self, wanted: usize, timeout: Duration) {
        let count = self.count.lock().expect("count");
        let (count, waited) = self
            .changed
            .wait_timeout_while(count, timeout, |count| *count < wanted)
            .expect("count");
        assert!(
            !waited.timed_out(),
            "the load stalled at {} acknowledgements",
            *count
        );
    }
}

/// `rounds` update requests per payment from `WRITERS` threads, each
/// owning its share of the payments. Stops a writer at its first failed
/// request when `may_fail`, or when `stop` is set; counts acknowledged
/// requests in `acked`.
fn load(
    api: &Api,
    payments: &[String],
    rounds: u64,
    may_fail: bool,
    stop: &AtomicBool,
    acked: &Acked,
) {
    let current = versions(api, payments);
    std::thread::scope(|scope| {
        for share in payments.chunks(PAYMENTS_PER_WRITER) {
            let writer = Writer::new(api);
            let current = &current;
            scope.spawn(move || {
                let mut own: Vec<(String, u64)> =
                    share.iter().map(|id| (id.clone(), current[id])).collect();
                for _ in 0..rounds {
                    for (id, version) in &mut own {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        match writer.update(id, *version) {
                            Some(next) => *version = next,
                            None if may_fail => return,
                            None => panic!("update of {id} failed"),
                        }
                        acked.add();
                    }
                }
            });
        }
    });
}

fn load_all(api: &Api, payments: &[String], rounds: u64) {
    let (stop, acked) = (AtomicBool::new(false), Acked::default());
    load(api, payments, rounds, false, &stop, &acked);
    assert_eq!(acked.get(), payments.len() * rounds as usize);
}

/// The API's own count of the project's Messages.
fn messages_total(api: &Api) -> u64 {
    let reply = api.get("/messages?limit=1&withTotal=true");
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["total"].as_u64().expect("total")
}

/// Consumes the topic until every payment reached its version and checks
/// the contract; returns the number of duplicates.
fn consume_and_check(brokers: &str, expected: &HashMap<String, u64>) -> usize {
    let reader = TopicReader::subscribe(brokers, &group(), TOPIC);
    let consumed = reader.read_until(expected, CONSUME_TIMEOUT);
    let delivery = check_delivery(&consumed, expected);
    assert_eq!(delivery.unique as u64, expected.values().sum::<u64>());
    delivery.duplicates
}

#[test]
fn every_message_reaches_kafka_once_in_order_per_payment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let broker = Tansu::start(&dir.path().join("tansu"), TansuStorage::Memory);
    create_client(&data, "merchant", "merchant-secret-1", SCOPE);
    let mut server = start_server_from_file(dir.path(), &data, &broker.brokers());
    let api = connect(&server);
    let payments = create_payments(&api, "e2e");
    load_all(&api, &payments, 10);
    let expected = versions(&api, &payments);
    assert!(expected.values().all(|v| *v == 21));
    assert_eq!(messages_total(&api), expected.values().sum::<u64>());
    let duplicates = consume_and_check(&broker.brokers(), &expected);
    assert_eq!(duplicates, 0, "no duplicates without faults");

    // The relay as a read-only Subscription of the project.
    let relay = api.get("/subscriptions/kafka-relay");
    assert_eq!(relay.status, 200, "{}", relay.body);
    assert_eq!(relay.body["destination"]["type"], "Kafka");
    assert_eq!(relay.body["destination"]["topic"], TOPIC);
    assert_eq!(
        relay.body["destination"]["bootstrapServer"],
        broker.brokers()
    );
    assert!(
        ["Healthy", "TemporaryError"].contains(&relay.body["status"].as_str().unwrap_or("")),
        "{}",
        relay.body
    );
    assert!(
        relay.body["delivery"]["lag"].as_u64().is_some(),
        "{}",
        relay.body
    );
    assert_eq!(
        api.get("/subscriptions").body["results"][0]["id"],
        "kafka-relay"
    );
    let removal = api.delete("/subscriptions/kafka-relay?version=1");
    assert_eq!(removal.status, 400, "{}", removal.body);

    // The operator's view: every partition of the relay, lag and errors.
    server.stop();
    let output = std::process::Command::new(payledger_bin())
        .args(["status", "--data"])
        .arg(&data)
        .output()
        .expect("run payledger status");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("log: 16 partitions, 840 events"), "{text}");
    let relay_rows = text
        .lines()
        .filter(|l| l.starts_with("kafka-relay\t"))
        .count();
    assert_eq!(relay_rows, 17, "16 partitions and a total:\n{text}");
}

#[test]
fn a_killed_server_loses_and_reorders_nothing_on_kafka() {
    const CRASHES: usize = 2;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let broker = Tansu::start(&dir.path().join("tansu"), TansuStorage::Memory);
    create_client(&data, "merchant", "merchant-secret-1", SCOPE);
    let mut server = start_server(&data, &broker.brokers());
    let payments = create_payments(&connect(&server), "crash");
    for crash in 0..CRASHES {
        let api = connect(&server);
        let (stop, acked) = (AtomicBool::new(false), Acked::default());
        let kill_after = 150 + crash * 100;
        std::thread::scope(|scope| {
            scope.spawn(|| load(&api, &payments, 1_000, true, &stop, &acked));
            acked.wait_for(kill_after, LOAD_TIMEOUT);
            // SIGKILL while writers and the relay are busy.
            server.stop();
            stop.store(true, Ordering::Relaxed);
        });
        server = server.restart();
    }
    let api = connect(&server);
    load_all(&api, &payments, 3);
    let expected = versions(&api, &payments);
    assert_eq!(messages_total(&api), expected.values().sum::<u64>());
    let duplicates = consume_and_check(&broker.brokers(), &expected);
    eprintln!(
        "crash test: {} messages, {duplicates} duplicates after {CRASHES} SIGKILLs",
        expected.values().sum::<u64>()
    );
}

#[test]
fn a_broker_outage_never_blocks_writes_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut broker = Tansu::start(&dir.path().join("tansu"), TansuStorage::Sqlite);
    // tansu 0.6 on SQLite can fail an idempotent produce (a panic of its
    // storage task) when the topic is created after the producer started;
    // created first, the relay finds it and the broker stays healthy.
    broker.create_topic(TOPIC, 4);
    create_client(&data, "merchant", "merchant-secret-1", SCOPE);
    let server = start_server(&data, &broker.brokers());
    let api = connect(&server);
    let payments = create_payments(&api, "outage");
    load_all(&api, &payments, 3);
    broker.stop();
    // Writes keep succeeding while the broker is down.
    let started = Instant::now();
    load_all(&api, &payments, OUTAGE_ROUNDS);
    let during = started.elapsed();
    broker.restart();
    load_all(&api, &payments, 2);
    let expected = versions(&api, &payments);
    assert!(
        expected
            .values()
            .all(|v| *v == 1 + 2 * (3 + OUTAGE_ROUNDS + 2))
    );
    assert_eq!(messages_total(&api), expected.values().sum::<u64>());
    let duplicates = consume_and_check(&broker.brokers(), &expected);
    eprintln!(
        "outage test: {} writes in {during:?} while the broker was down; {duplicates} duplicates",
        OUTAGE_ROUNDS * payments.len() as u64
    );
    drop(server);
}

/// A deletion with `dataErasure=true` reaches Kafka as its Message, then a
/// tombstone (a record without a value) for the payment's key, so a
/// compacted topic drops the records published before the erasure.
#[test]
fn an_erasing_deletion_is_followed_by_a_tombstone_of_the_payment_key() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let broker = Tansu::start(&dir.path().join("tansu"), TansuStorage::Memory);
    create_client(&data, "merchant", "merchant-secret-1", SCOPE);
    let server = start_server(&data, &broker.brokers());
    let api = connect(&server);
    let created = api.post(
        "/payments",
        &json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 100},
                "customer": {"typeId": "customer", "id": "cust-tombstone"}}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let erased = api.delete(&format!("/payments/{id}?version=1&dataErasure=true"));
    assert_eq!(erased.status, 200, "{:?}", erased.body);

    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("group.id", group())
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .expect("create consumer");
    consumer.subscribe(&[TOPIC]).expect("subscribe");
    let deadline = Instant::now() + CONSUME_TIMEOUT;
    // (message type, has a value) of the payment's records, in order.
    let mut seen: Vec<(String, bool)> = Vec::new();
    while seen.len() < 3 {
        assert!(Instant::now() < deadline, "only {seen:?} reached Kafka");
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        if message.key() != Some(id.as_bytes()) {
            continue;
        }
        let kind = message
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == "message-type"))
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        seen.push((kind, message.payload().is_some()));
    }
    assert_eq!(
        seen,
        vec![
            ("PaymentCreated".to_owned(), true),
            ("PaymentDeleted".to_owned(), true),
            ("PaymentDataErased".to_owned(), false),
        ]
    );
}
