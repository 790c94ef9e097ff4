//! Deliveries over real HTTP from a real RocksDB store: payments written
//! through the ledger reach a signature-checking receiver in order per
//! payment, failed attempts are retried and recorded, and the status a
//! subscription shows follows what the receiver does; past the retry
//! bound the deliveries stop, stay stopped across a restart, and resume
//! from where they stopped.

#![allow(clippy::unwrap_used)]

use payledger_app::clock::{Clock, ManualClock, SystemClock};
use payledger_app::subscriptions::{
    self, DeliveryFormat, Destination, HealthStatus, MessageFilter, SubscriptionAction,
    SubscriptionDraft, SubscriptionMeta, SubscriptionRecord,
};
use payledger_app::{CommandMeta, Ledger, PaymentCommand, PaymentRef};
use payledger_domain::command::PaymentDraftInput;
use payledger_domain::{
    Actor, CurrencyCode, Money, Payment, ProjectKey, ResourceRef, Timestamp, UpdateAction,
};
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::EventStore;
use payledger_webhooks::testing::{Mode, Received, Receiver, TEST_CA_PEM, taken};
use payledger_webhooks::{Backoff, Deliveries, DeliveryConfig, RetryLimit};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const SECRET: &str = "receiver-secret-0123";
/// How long a test waits for the receiver to see what it expects.
const WAIT: Duration = Duration::from_secs(60);
const TYPES: &[&str] = &payledger_wire::json::MESSAGE_TYPES;

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<dyn EventStore>,
    ledger: Ledger<dyn EventStore>,
    changes: watch::Sender<u64>,
    runtime: tokio::runtime::Runtime,
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = RocksConfig {
            partitions_for_new_store: 4,
            ..RocksConfig::default()
        };
        let store: Arc<dyn EventStore> = Arc::new(RocksStore::open(dir.path(), &config).unwrap());
        Self {
            _dir: dir,
            ledger: Ledger::new(Arc::clone(&store)),
            store,
            changes: watch::Sender::new(0),
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn start(&self) -> Deliveries {
        self.start_with(Vec::new())
    }

    /// Starts the workers trusting `roots` (PEM) besides the Mozilla roots.
    fn start_with(&self, roots: Vec<Vec<u8>>) -> Deliveries {
        self.start_config(DeliveryConfig {
            extra_root_certificates_pem: roots,
            ..fast_retries()
        })
    }

    fn start_config(&self, config: DeliveryConfig) -> Deliveries {
        let _guard = self.runtime.enter();
        Deliveries::start(Arc::clone(&self.store), self.changes.subscribe(), config).unwrap()
    }

    fn stop(&self, deliveries: Deliveries) {
        self.runtime.block_on(deliveries.stop());
    }

    fn subscribe(
        &self,
        project: &str,
        url: &str,
        types: &[&str],
        format: DeliveryFormat,
    ) -> SubscriptionRecord {
        let draft = SubscriptionDraft {
            key: None,
            destination: Destination::Http {
                url: url.to_owned(),
                secret: SECRET.to_owned(),
            },
            messages: vec![MessageFilter {
                resource_type_id: "payment".to_owned(),
                types: types.iter().map(|t| (*t).to_owned()).collect(),
            }],
            format,
        };
        let meta = SubscriptionMeta {
            now_ms: 0,
            client_id: None,
            answer: None,
        };
        let record =
            subscriptions::create(&*self.store, &project_key(project), draft, TYPES, &meta)
                .unwrap();
        self.changes.send_modify(|n| *n += 1);
        record
    }

    fn run(&self, project: &str, command: PaymentCommand) -> Payment {
        let meta = CommandMeta {
            project: project_key(project),
            actor: Actor::Client("tester".into()),
            now: Timestamp(1_767_225_600_000),
            correlation_id: None,
            idempotency: None,
        };
        let outcome = self
            .runtime
            .block_on(self.ledger.execute(meta, command))
            .unwrap();
        std::sync::Arc::unwrap_or_clone(outcome.payment)
    }

    fn create_payment(&self, project: &str) -> Payment {
        let draft = PaymentDraftInput::new(Money::new(1_000, CurrencyCode::parse("EUR").unwrap()));
        self.run(project, PaymentCommand::Create(Box::new(draft)))
    }

    fn rename(&self, project: &str, payment: &Payment, text: &str) -> Payment {
        self.run(
            project,
            PaymentCommand::Update {
                target: PaymentRef::Id(payment.id),
                version: payment.version,
                actions: vec![UpdateAction::SetStatusInterfaceText(Some(text.to_owned()))],
            },
        )
    }

    fn status(&self, record: &SubscriptionRecord) -> subscriptions::DeliveryState {
        subscriptions::delivery_state(&*self.store, &subscriptions::consumer_name(&record.id))
            .unwrap()
    }
}

/// Retries after 20 to 200 ms, so tests see several attempts quickly.
fn fast_retries() -> DeliveryConfig {
    DeliveryConfig {
        backoff: Backoff {
            min_ms: 20,
            max_ms: 200,
        },
        ..DeliveryConfig::default()
    }
}

fn project_key(text: &str) -> ProjectKey {
    ProjectKey::parse(text).unwrap()
}

#[test]
fn every_message_arrives_signed_once_taken_and_in_order_per_payment_despite_failed_attempts() {
    let harness = Harness::new();
    let receiver = Receiver::start(SECRET, Mode::FailFirst(2)).unwrap();
    let deliveries = harness.start();
    let subscription = harness.subscribe("shop", &receiver.url(), &[], DeliveryFormat::Platform);

    let mut expected = HashMap::new();
    for p in 0..6 {
        let mut payment = harness.create_payment("shop");
        for round in 0..4 {
            payment = harness.rename("shop", &payment, &format!("p{p} r{round}"));
        }
        expected.insert(payment.id.to_string(), payment.version);
    }
    let total: u64 = expected.values().sum();
    let received = receiver.wait_until(WAIT, |r| taken(r).len() as u64 >= total);
    harness.stop(deliveries);

    assert!(
        received.iter().all(|r| r.signature_ok),
        "every request is signed with the secret"
    );
    assert!(
        received
            .iter()
            .all(|r| r.subscription_id == subscription.id)
    );
    let taken = taken(&received);
    assert_eq!(taken.len() as u64, total, "every message was taken");
    assert!(
        taken.iter().all(|r| r.attempt == 3),
        "each delivery was taken on its third attempt, after two refusals"
    );
    // The failed attempts carried the same delivery id and body.
    for delivery in &taken {
        let attempts: Vec<&Received> = received
            .iter()
            .filter(|r| r.delivery_id == delivery.delivery_id)
            .collect();
        assert_eq!(attempts.len(), 3);
        assert!(attempts.iter().all(|a| a.body == delivery.body));
        assert_eq!(
            attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }
    let mut next: HashMap<String, u64> = HashMap::new();
    for delivery in &taken {
        let body = delivery.json();
        assert_eq!(body["notificationType"], "Message");
        assert_eq!(body["projectKey"], "shop");
        assert_eq!(
            body["id"],
            delivery.delivery_id.as_str(),
            "the delivery id is the Message id"
        );
        assert_eq!(delivery.content_type, "application/json");
        let payment = body["resource"]["id"].as_str().unwrap().to_owned();
        let sequence = body["sequenceNumber"].as_u64().unwrap();
        let wanted = next.entry(payment.clone()).or_insert(1);
        assert_eq!(sequence, *wanted, "payment {payment} out of order");
        *wanted += 1;
    }
    for (payment, version) in &expected {
        assert_eq!(next[payment], version + 1, "payment {payment} complete");
    }
    let state = harness.status(&subscription);
    assert_eq!(
        state.lag, 0,
        "every taken message has its cursor saved after a stop"
    );
    assert_eq!(state.status, HealthStatus::Healthy);
}

#[test]
fn filters_pick_the_project_and_the_message_types_and_cloud_events_wrap_the_message() {
    let harness = Harness::new();
    let receiver = Receiver::start(SECRET, Mode::Accept).unwrap();
    let deliveries = harness.start();
    harness.subscribe(
        "shop",
        &receiver.url(),
        &["PaymentCreated"],
        DeliveryFormat::CloudEvents {
            cloud_events_version: "1.0".to_owned(),
        },
    );
    let other = harness.create_payment("other-shop");
    harness.rename("other-shop", &other, "not for the subscriber");
    let mine = harness.create_payment("shop");
    harness.rename("shop", &mine, "filtered out");
    let last = harness.create_payment("shop");
    let received = receiver.wait_until(WAIT, |r| taken(r).len() >= 2);
    harness.stop(deliveries);

    let taken = taken(&received);
    let subjects: Vec<String> = taken
        .iter()
        .map(|r| r.json()["subject"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects.contains(&mine.id.to_string()) && subjects.contains(&last.id.to_string()));
    for delivery in &taken {
        let event = delivery.json();
        assert_eq!(delivery.content_type, "application/cloudevents+json");
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(
            event["type"],
            "com.commercetools.payment.message.PaymentCreated"
        );
        assert_eq!(event["source"], "/shop/payments");
        assert_eq!(event["id"], delivery.delivery_id.as_str());
        assert_eq!(event["data"]["notificationType"], "Message");
        assert_eq!(event["data"]["type"], "PaymentCreated");
    }
}

#[test]
fn a_receiver_that_is_down_makes_the_status_temporary_error_then_healthy_again() {
    let harness = Harness::new();
    let receiver = Receiver::start(SECRET, Mode::Drop).unwrap();
    let deliveries = harness.start();
    let subscription = harness.subscribe("shop", &receiver.url(), &[], DeliveryFormat::Platform);
    assert_eq!(harness.status(&subscription).status, HealthStatus::Healthy);

    let payment = harness.create_payment("shop");
    // A second attempt is only made after the first failure was recorded.
    receiver.wait_until(WAIT, |r| r.len() >= 2);
    let state = harness.status(&subscription);
    assert_eq!(state.status, HealthStatus::TemporaryError);
    let error = state.last_error.unwrap();
    assert!(
        error.message.starts_with("TemporaryError: attempt "),
        "{}",
        error.message
    );
    assert!(state.lag >= 1);

    receiver.set_mode(Mode::Accept);
    let renamed = harness.rename("shop", &payment, "after the outage");
    // Same payment, same partition: the second message is only sent after
    // the first one was taken and its cursor saved.
    let second = renamed_message_id(&harness, &renamed);
    receiver.wait_until(WAIT, |r| taken(r).iter().any(|t| t.delivery_id == second));
    assert_eq!(harness.status(&subscription).status, HealthStatus::Healthy);
    assert_eq!(harness.status(&subscription).last_error, None);
    harness.stop(deliveries);
}

#[test]
fn a_receiver_that_refuses_makes_the_status_configuration_error() {
    let harness = Harness::new();
    let receiver = Receiver::start(SECRET, Mode::Answer(404)).unwrap();
    let deliveries = harness.start();
    let subscription = harness.subscribe("shop", &receiver.url(), &[], DeliveryFormat::Platform);
    harness.create_payment("shop");
    receiver.wait_until(WAIT, |r| r.len() >= 2);
    let state = harness.status(&subscription);
    assert_eq!(state.status, HealthStatus::ConfigurationError);
    assert!(state.last_error.unwrap().message.contains("404"));
    harness.stop(deliveries);
}

/// The Message id of the last event of `payment`.
fn renamed_message_id(harness: &Harness, payment: &Payment) -> String {
    let events = harness
        .store
        .read_stream(
            payment.id.into(),
            payledger_store::VersionRange::new(payment.version, payment.version),
        )
        .unwrap();
    events[0].meta.event_id.to_string()
}

#[test]
fn https_destinations_are_delivered_when_their_certificate_is_trusted() {
    let harness = Harness::new();
    let receiver = Receiver::start_tls(SECRET, Mode::Accept).unwrap();
    assert!(receiver.url().starts_with("https://127.0.0.1:"));
    let deliveries = harness.start_with(vec![TEST_CA_PEM.to_vec()]);
    harness.subscribe("shop", &receiver.url(), &[], DeliveryFormat::Platform);
    let payment = harness.create_payment("shop");
    let received = receiver.wait_until(WAIT, |r| !taken(r).is_empty());
    harness.stop(deliveries);
    let taken = taken(&received);
    assert_eq!(taken.len(), 1);
    assert!(taken[0].signature_ok);
    assert_eq!(
        taken[0].json()["resource"]["id"],
        payment.id.to_string().as_str()
    );
    assert!(received.iter().all(|r| !r.handshake_failed));
}

#[test]
fn an_untrusted_certificate_is_a_configuration_error_and_nothing_is_sent() {
    let harness = Harness::new();
    let receiver = Receiver::start_tls(SECRET, Mode::Accept).unwrap();
    let deliveries = harness.start();
    let subscription = harness.subscribe("shop", &receiver.url(), &[], DeliveryFormat::Platform);
    harness.create_payment("shop");
    // A second handshake is only tried after the first failure was recorded.
    let received = receiver.wait_until(WAIT, |r| r.len() >= 2);
    assert!(
        received.iter().all(|r| r.handshake_failed),
        "no request got through"
    );
    let state = harness.status(&subscription);
    assert_eq!(state.status, HealthStatus::ConfigurationError);
    assert!(
        state.last_error.unwrap().message.contains("certificate"),
        "the reason names the certificate"
    );
    harness.stop(deliveries);
}

#[test]
fn a_filtered_out_key_change_still_names_the_new_key_in_later_messages() {
    let harness = Harness::new();
    let receiver = Receiver::start(SECRET, Mode::Accept).unwrap();
    let deliveries = harness.start();
    harness.subscribe(
        "shop",
        &receiver.url(),
        &["PaymentCreated", "PaymentStatusInterfaceTextSet"],
        DeliveryFormat::Platform,
    );
    let payment = harness.create_payment("shop");
    let keyed = harness.run(
        "shop",
        PaymentCommand::Update {
            target: PaymentRef::Id(payment.id),
            version: payment.version,
            actions: vec![UpdateAction::SetKey(Some("order-42".to_owned()))],
        },
    );
    harness.rename("shop", &keyed, "after the key");
    let received = receiver.wait_until(WAIT, |r| taken(r).len() >= 2);
    harness.stop(deliveries);
    let taken = taken(&received);
    let types: Vec<Value> = taken.iter().map(|r| r.json()["type"].clone()).collect();
    assert_eq!(types, ["PaymentCreated", "PaymentStatusInterfaceTextSet"]);
    assert_eq!(
        taken[1].json()["resourceUserProvidedIdentifiers"]["key"],
        "order-42",
        "the skipped PaymentKeySet still counts"
    );
}

/// Fast retries bounded by `attempts_max` and `retry_age_max_s`, on `clock`.
fn bounded(attempts_max: u32, retry_age_max_s: u64, clock: Arc<dyn Clock>) -> DeliveryConfig {
    DeliveryConfig {
        retry_limit: RetryLimit {
            attempts_max,
            retry_age_max_s,
        },
        clock,
        ..fast_retries()
    }
}

/// Waits until a worker reports a stop (its record says so by then).
fn wait_for_stop(harness: &Harness, stops: &mut watch::Receiver<u64>) {
    harness
        .runtime
        .block_on(async { tokio::time::timeout(WAIT, stops.changed()).await })
        .expect("deliveries stop in time")
        .unwrap();
}

/// The stored record of `subscription` now.
fn stored(harness: &Harness, subscription: &SubscriptionRecord) -> SubscriptionRecord {
    let by = ResourceRef::Id(subscription.id.clone());
    subscriptions::get(&*harness.store, &project_key("shop"), &by).unwrap()
}

/// Most attempts any one delivery got.
fn most_attempts(received: &[Received]) -> usize {
    let mut attempts: HashMap<&str, usize> = HashMap::new();
    for request in received {
        *attempts.entry(&request.delivery_id).or_default() += 1;
    }
    attempts.into_values().max().unwrap_or(0)
}

#[test]
fn past_the_attempts_bound_deliveries_stop_stay_stopped_across_a_restart_and_resume_in_full() {
    let harness = Harness::new();
    let receiver = Receiver::start(SECRET, Mode::Answer(503)).unwrap();
    let config = bounded(3, 86_400, Arc::new(SystemClock));
    let deliveries = harness.start_config(config.clone());
    let mut stops = deliveries.stops();
    let subscription = harness.subscribe("shop", &receiver.url(), &[], DeliveryFormat::Platform);
    let mut payments: Vec<Payment> = (0..3).map(|_| harness.create_payment("shop")).collect();
    payments[0] = harness.rename("shop", &payments[0], "held back behind the first");

    wait_for_stop(&harness, &mut stops);
    let record = stored(&harness, &subscription);
    let stop = record
        .delivery_stop
        .clone()
        .expect("the record says stopped");
    assert!(
        stop.reason
            .contains("3 attempts failed (webhooks.attempts_max = 3)")
            && stop.reason.contains("HTTP 503"),
        "{stop:?}"
    );
    assert_eq!(record.version, subscription.version);
    let state = subscriptions::state_of(&*harness.store, &record).unwrap();
    assert_eq!(
        state.status,
        HealthStatus::ConfigurationErrorDeliveryStopped
    );
    assert_eq!(state.stopped, Some(stop));
    let held: u64 = payments.iter().map(|p| p.version).sum();
    assert_eq!(state.lag, held, "nothing was taken, nothing skipped");
    harness.stop(deliveries);
    let before_restart = receiver.received();
    assert!(most_attempts(&before_restart) <= 3, "{before_restart:?}");

    // A restart keeps them stopped: a second subscription gets a new
    // Message while the stopped one attempts nothing.
    let deliveries = harness.start_config(config);
    let witness = Receiver::start(SECRET, Mode::Accept).unwrap();
    harness.subscribe("shop", &witness.url(), &[], DeliveryFormat::Platform);
    payments.push(harness.create_payment("shop"));
    witness.wait_until(WAIT, |r| !taken(r).is_empty());
    assert_eq!(receiver.received().len(), before_restart.len());

    // Resumed with a receiver that takes them: every Message arrives, in
    // order per payment, from the one that stopped them.
    receiver.set_mode(Mode::Accept);
    let resumed = subscriptions::update(
        &*harness.store,
        &project_key("shop"),
        &ResourceRef::Id(subscription.id.clone()),
        record.version,
        vec![SubscriptionAction::ResumeDeliveries],
        TYPES,
        &SubscriptionMeta {
            now_ms: 0,
            client_id: None,
            answer: None,
        },
    )
    .unwrap();
    assert_eq!(resumed.delivery_stop, None);
    harness.changes.send_modify(|n| *n += 1);
    let total: u64 = payments.iter().map(|p| p.version).sum();
    let received = receiver.wait_until(WAIT, |r| taken(r).len() as u64 >= total);
    harness.stop(deliveries);
    let taken = taken(&received);
    assert_eq!(taken.len() as u64, total, "every Message, none lost");
    let mut next: HashMap<String, u64> = HashMap::new();
    for delivery in &taken {
        let body = delivery.json();
        let payment = body["resource"]["id"].as_str().unwrap().to_owned();
        let wanted = next.entry(payment.clone()).or_insert(1);
        assert_eq!(
            body["sequenceNumber"], *wanted,
            "payment {payment} out of order"
        );
        *wanted += 1;
    }
    for payment in &payments {
        assert_eq!(next[&payment.id.to_string()], payment.version + 1);
    }
    let state = subscriptions::state_of(&*harness.store, &resumed).unwrap();
    assert_eq!((state.status, state.lag), (HealthStatus::Healthy, 0));
}

#[test]
fn a_message_failing_for_longer_than_the_age_bound_stops_the_deliveries() {
    let harness = Harness::new();
    let receiver = Receiver::start(SECRET, Mode::Answer(404)).unwrap();
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    let deliveries = harness.start_config(bounded(1_000, 60, Arc::clone(&clock) as Arc<dyn Clock>));
    let mut stops = deliveries.stops();
    let subscription = harness.subscribe("shop", &receiver.url(), &[], DeliveryFormat::Platform);
    harness.create_payment("shop");

    // Attempts go on while the clock stands still.
    receiver.wait_until(WAIT, |r| r.len() >= 3);
    assert!(!stops.has_changed().unwrap(), "not stopped within the age");
    assert_eq!(stored(&harness, &subscription).delivery_stop, None);
    assert_eq!(
        harness.status(&subscription).status,
        HealthStatus::ConfigurationError
    );

    clock.advance(60_000);
    wait_for_stop(&harness, &mut stops);
    let stop = stored(&harness, &subscription).delivery_stop.unwrap();
    assert!(
        stop.reason.contains("(webhooks.retry_age_max_s = 60)") && stop.reason.contains("404"),
        "{stop:?}"
    );
    assert_eq!(stop.at, "2026-01-01T00:01:00.000Z", "on the workers' clock");
    harness.stop(deliveries);
}
