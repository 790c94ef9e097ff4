//! Webhook Subscriptions end to end: the real server, its Subscriptions
//! API, and a real HTTP receiver that checks the signature of every
//! request. Deliveries must arrive signed, retried after failures, once
//! taken per Message after dedupe, in order per payment, also across a
//! SIGKILL of the server; the status the API shows follows the receiver,
//! and an update of the destination resumes where deliveries stood.

use payledger_e2e::{Api, Server, create_client, payledger_bin};
use payledger_webhooks::testing::{Mode, Receiver, taken};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const PROJECT: &str = "shop";
const SECRET: &str = "receiver-secret-0123";
/// How long a test waits for the receiver to see what it expects.
const WAIT: Duration = Duration::from_secs(90);
/// Fast retries, so the tests see several attempts quickly.
const FAST_RETRIES: [&str; 4] = [
    "--webhook-backoff-min-ms",
    "20",
    "--webhook-backoff-max-ms",
    "200",
];

fn setup(data: &Path) -> (Server, Api) {
    create_client(data, "merchant", "merchant-secret-1", "manage_project:shop");
    let server = Server::start_with(data, &FAST_RETRIES);
    let api = connect(&server);
    (server, api)
}

fn connect(server: &Server) -> Api {
    Api::connect(
        server.url(),
        PROJECT,
        "merchant",
        "merchant-secret-1",
        "manage_project:shop",
    )
}

fn subscribe(api: &Api, url: &str) -> Value {
    let reply = api.post(
        "/subscriptions",
        &json!({
            "key": "orders-hook",
            "destination": {"type": "HTTP", "url": url, "secret": SECRET},
            "messages": [{"resourceTypeId": "payment"}],
            "format": {"type": "Platform"}
        }),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

fn create_payment(api: &Api) -> Value {
    let reply = api.post(
        "/payments",
        &json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 1000}}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

fn rename(api: &Api, payment: &Value, text: &str) -> Value {
    let reply = api.post(
        &format!("/payments/{}", payment["id"].as_str().expect("payment id")),
        &json!({
            "version": payment["version"],
            "actions": [{"action": "setStatusInterfaceText", "interfaceText": text}]
        }),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// The Message ids the API knows for `payment`, oldest first.
fn message_ids(api: &Api, payment_id: &str) -> Vec<String> {
    let reply = api.get(&format!(
        "/messages?where=resource(id%3D%22{payment_id}%22)&sort=sequenceNumber%20asc&limit=500"
    ));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|m| m["id"].as_str().expect("message id").to_owned())
        .collect()
}

#[test]
fn subscriptions_are_created_shown_and_deleted_and_bad_drafts_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    create_client(
        dir.path(),
        "reader",
        "reader-secret-1",
        "view_payments:shop",
    );
    let (server, api) = setup(dir.path());

    let refused = [
        (
            json!({"destination": {"type": "HTTP", "url": "ftp://h/x", "secret": SECRET}, "messages": [{"resourceTypeId": "payment"}]}),
            "destination.url",
        ),
        (
            json!({"destination": {"type": "HTTP", "url": "http://h/x", "secret": "short"}, "messages": [{"resourceTypeId": "payment"}]}),
            "destination.secret",
        ),
        (
            json!({"destination": {"type": "HTTP", "url": "http://h/x", "secret": SECRET}, "messages": [{"resourceTypeId": "payment", "types": ["CartCreated"]}]}),
            "messages.types",
        ),
        (
            json!({"destination": {"type": "HTTP", "url": "http://h/x", "secret": SECRET}, "messages": [{"resourceTypeId": "cart"}]}),
            "messages.resourceTypeId",
        ),
    ];
    for (draft, field) in &refused {
        let reply = api.post("/subscriptions", draft);
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(
            reply.body["errors"][0]["code"], "InvalidField",
            "{}",
            reply.body
        );
        assert_eq!(reply.body["errors"][0]["field"], *field, "{}", reply.body);
    }
    for (draft, code) in [
        (
            json!({"destination": {"type": "SQS", "queueUrl": "x"}, "messages": [{"resourceTypeId": "payment"}]}),
            "InvalidJsonInput",
        ),
        (
            json!({"messages": [{"resourceTypeId": "payment"}]}),
            "InvalidJsonInput",
        ),
        (
            json!({"destination": {"type": "HTTP", "url": "http://h/x", "secret": SECRET}}),
            "InvalidInput",
        ),
        (
            json!({"destination": {"type": "HTTP", "url": "http://h/x", "secret": SECRET}, "messages": [{"resourceTypeId": "payment"}], "changes": [{"resourceTypeId": "payment"}]}),
            "InvalidInput",
        ),
    ] {
        let reply = api.post("/subscriptions", &draft);
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.body["errors"][0]["code"], code, "{}", reply.body);
    }
    let empty = api.get("/subscriptions");
    assert_eq!(empty.body["total"], 0, "refused drafts created nothing");

    let created = subscribe(&api, "http://127.0.0.1:9/hook");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["version"], 1);
    assert_eq!(created["status"], "Healthy");
    assert_eq!(created["delivery"]["lag"], 0);
    assert_eq!(created["changes"], json!([]));
    assert_eq!(
        created["destination"]["secret"], "****************0123",
        "secrets are masked"
    );
    let duplicate = api.post(
        "/subscriptions",
        &json!({"key": "orders-hook", "destination": {"type": "HTTP", "url": "http://h/x", "secret": SECRET}, "messages": [{"resourceTypeId": "payment"}]}),
    );
    assert_eq!(duplicate.status, 400);
    assert_eq!(duplicate.body["errors"][0]["code"], "DuplicateField");

    assert_eq!(
        api.get(&format!("/subscriptions/{id}")).body["id"],
        id.as_str()
    );
    assert_eq!(
        api.get("/subscriptions/key=orders-hook").body["id"],
        id.as_str()
    );
    assert_eq!(api.get("/subscriptions").body["total"], 1);
    assert_eq!(
        api.get("/subscriptions/kafka-relay").status,
        404,
        "no relay configured"
    );

    let reader = Api::connect(
        server.url(),
        PROJECT,
        "reader",
        "reader-secret-1",
        "view_payments:shop",
    );
    assert_eq!(reader.get("/subscriptions").status, 403);

    assert_eq!(
        api.delete(&format!("/subscriptions/{id}")).status,
        400,
        "version is required"
    );
    let stale = api.delete(&format!("/subscriptions/{id}?version=7"));
    assert_eq!(stale.status, 409);
    let deleted = api.delete(&format!("/subscriptions/{id}?version=1"));
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(api.get(&format!("/subscriptions/{id}")).status, 404);
    let health = format!("{}/{PROJECT}/subscriptions/{id}/health", api.base);
    let gone = reqwest::blocking::get(health).unwrap().status();
    assert_eq!(gone.as_u16(), 404);
}

#[test]
fn deliveries_are_signed_retried_and_in_order_per_payment_across_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(SECRET, Mode::FailFirst(1)).unwrap();
    let (server, api) = setup(dir.path());
    let subscription = subscribe(&api, &receiver.url());
    let id = subscription["id"].as_str().unwrap().to_owned();

    let mut payments = Vec::new();
    for p in 0..8 {
        let mut payment = create_payment(&api);
        for round in 0..5 {
            payment = rename(&api, &payment, &format!("p{p} r{round}"));
        }
        payments.push(payment);
    }
    let total: u64 = payments
        .iter()
        .map(|p| p["version"].as_u64().unwrap())
        .sum();

    // Kill the server while deliveries are under way, then restart it.
    receiver.wait_until(WAIT, |r| taken(r).len() as u64 >= total / 3);
    let mut server = server.restart();
    let api = connect(&server);
    let received = receiver.wait_until(WAIT, |r| taken(r).len() as u64 >= total);

    assert!(
        received.iter().all(|r| r.signature_ok),
        "every request verifies"
    );
    assert!(received.iter().all(|r| r.subscription_id == id));
    let taken = taken(&received);
    assert_eq!(taken.len() as u64, total, "nothing lost");
    let mut next: HashMap<String, u64> = HashMap::new();
    for delivery in &taken {
        let body = delivery.json();
        assert_eq!(body["id"], delivery.delivery_id.as_str());
        let payment = body["resource"]["id"].as_str().unwrap().to_owned();
        let wanted = next.entry(payment.clone()).or_insert(1);
        assert_eq!(
            body["sequenceNumber"], *wanted,
            "payment {payment} out of order"
        );
        *wanted += 1;
    }
    for payment in &payments {
        let payment_id = payment["id"].as_str().unwrap();
        let delivered: Vec<String> = taken
            .iter()
            .filter(|d| d.json()["resource"]["id"] == payment_id)
            .map(|d| d.delivery_id.clone())
            .collect();
        assert_eq!(
            delivered,
            message_ids(&api, payment_id),
            "delivery ids are the Message ids"
        );
    }
    for delivery in &taken {
        let first = received
            .iter()
            .find(|r| r.delivery_id == delivery.delivery_id)
            .unwrap();
        assert_eq!(
            first.answered, 503,
            "the receiver refused each first attempt"
        );
    }
    let duplicates = received
        .iter()
        .filter(|r| (200..300).contains(&r.answered))
        .count() as u64
        - total;
    eprintln!("webhooks across SIGKILL: {total} messages, {duplicates} duplicate deliveries");

    // A graceful stop saves what was taken; the offline status shows it.
    server.terminate();
    let output = Command::new(payledger_bin())
        .args(["status", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("{id}\tshop\tHealthy\t0\t"))),
        "{text}"
    );
}

#[test]
fn a_receiver_that_is_down_shows_temporary_error_then_healthy_at_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(SECRET, Mode::Drop).unwrap();
    let (_server, api) = setup(dir.path());
    let subscription = subscribe(&api, &receiver.url());
    let path = format!("/subscriptions/{}", subscription["id"].as_str().unwrap());

    let payment = create_payment(&api);
    // A second attempt is only made after the first failure was recorded.
    receiver.wait_until(WAIT, |r| r.len() >= 2);
    let shown = api.get(&path).body;
    assert_eq!(shown["status"], "TemporaryError", "{shown}");
    let health = format!("{}/{PROJECT}{path}/health", api.base);
    let monitor = reqwest::blocking::Client::new();
    let polled = monitor.get(&health).send().unwrap().status();
    assert_eq!(polled.as_u16(), 503, "health answers without a token");
    let message = shown["delivery"]["lastError"]["message"].as_str().unwrap();
    assert!(message.starts_with("TemporaryError: attempt "), "{message}");
    assert!(shown["delivery"]["lag"].as_u64().unwrap() >= 1, "{shown}");

    receiver.set_mode(Mode::Accept);
    let renamed = rename(&api, &payment, "receiver is back");
    let last = message_ids(&api, renamed["id"].as_str().unwrap())
        .pop()
        .unwrap();
    // Same payment, same partition: the last message is only sent after
    // the first one was taken and its cursor saved.
    receiver.wait_until(WAIT, |r| taken(r).iter().any(|t| t.delivery_id == last));
    let shown = api.get(&path).body;
    assert_eq!(shown["status"], "Healthy", "{shown}");
    assert_eq!(monitor.get(&health).send().unwrap().status().as_u16(), 200);
    assert!(shown["delivery"].get("lastError").is_none(), "{shown}");
}

#[test]
fn an_https_receiver_certified_by_an_internal_ca_gets_signed_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("internal-ca.pem");
    std::fs::write(&ca, payledger_webhooks::testing::TEST_CA_PEM).unwrap();
    let receiver = Receiver::start_tls(SECRET, Mode::Accept).unwrap();
    let data = dir.path().join("data");
    create_client(
        &data,
        "merchant",
        "merchant-secret-1",
        "manage_project:shop",
    );
    let ca = ca.to_string_lossy().into_owned();
    let server = Server::start_with(&data, &["--webhook-ca-file", &ca]);
    let api = connect(&server);
    subscribe(&api, &receiver.url());
    let payment = create_payment(&api);
    let received = receiver.wait_until(WAIT, |r| !taken(r).is_empty());
    let taken = taken(&received);
    assert_eq!(taken.len(), 1, "{received:?}");
    assert!(taken[0].signature_ok);
    assert_eq!(taken[0].json()["resource"]["id"], payment["id"]);
}

#[test]
fn a_receiver_that_refuses_shows_configuration_error_and_health_answers_400() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(SECRET, Mode::Answer(401)).unwrap();
    let (_server, api) = setup(dir.path());
    let subscription = subscribe(&api, &receiver.url());
    let path = format!("/subscriptions/{}", subscription["id"].as_str().unwrap());
    create_payment(&api);
    // A second attempt is only made after the first failure was recorded.
    receiver.wait_until(WAIT, |r| r.len() >= 2);
    let shown = api.get(&path).body;
    assert_eq!(shown["status"], "ConfigurationError", "{shown}");
    let message = shown["delivery"]["lastError"]["message"].as_str().unwrap();
    assert!(message.contains("401"), "{message}");
    let health = format!("{}/{PROJECT}{path}/health", api.base);
    assert_eq!(
        reqwest::blocking::get(health).unwrap().status().as_u16(),
        400
    );
}

#[test]
fn changing_the_destination_of_a_refused_subscription_delivers_what_was_held_back() {
    let dir = tempfile::tempdir().unwrap();
    let refusing = Receiver::start(SECRET, Mode::Answer(404)).unwrap();
    let (_server, api) = setup(dir.path());
    let subscription = subscribe(&api, &refusing.url());
    let path = format!("/subscriptions/{}", subscription["id"].as_str().unwrap());
    let payment = create_payment(&api);
    let renamed = rename(&api, &payment, "sent while the destination refused");
    // A second attempt is only made after the first failure was recorded.
    refusing.wait_until(WAIT, |r| r.len() >= 2);
    assert_eq!(api.get(&path).body["status"], "ConfigurationError");

    // Refused updates name what is wrong and change nothing.
    let change_to = |version: u64, url: &str, secret: &str| {
        api.post(
            &path,
            &json!({
                "version": version,
                "actions": [
                    {"action": "changeDestination",
                     "destination": {"type": "HTTP", "url": url, "secret": secret}},
                    {"action": "setKey", "key": "orders-hook-v2"}
                ]
            }),
        )
    };
    let bad = change_to(1, "ftp://hooks.example.com/", SECRET);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(
        bad.body["errors"][0]["code"], "InvalidField",
        "{}",
        bad.body
    );
    assert_eq!(bad.body["errors"][0]["field"], "destination.url");
    let unknown = api.post(
        &path,
        &json!({"version": 1, "actions": [{"action": "changeFormat"}]}),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    let events = api.post(
        &path,
        &json!({"version": 1, "actions": [{"action": "setEvents", "events": [{"resourceTypeId": "payment", "types": []}]}]}),
    );
    assert_eq!(events.status, 400, "{}", events.body);
    assert_eq!(api.get(&path).body["version"], 1);

    // The new destination, with a new secret, gets every Message from the
    // one held back on, in order, signed with the new secret.
    let new_secret = "rotated-secret-456789";
    let fixed = Receiver::start(new_secret, Mode::Accept).unwrap();
    let updated = change_to(1, &fixed.url(), new_secret);
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["version"], 2);
    assert_eq!(updated.body["key"], "orders-hook-v2");
    assert_eq!(updated.body["destination"]["url"], fixed.url());
    assert_ne!(updated.body["destination"]["secret"], new_secret);
    let expected = message_ids(&api, renamed["id"].as_str().unwrap());
    assert_eq!(expected.len(), 2);
    let last = expected.last().unwrap().clone();
    let received = fixed.wait_until(WAIT, |r| taken(r).iter().any(|t| t.delivery_id == last));
    let delivered: Vec<String> = taken(&received)
        .iter()
        .map(|t| t.delivery_id.clone())
        .collect();
    assert_eq!(delivered, expected, "{received:?}");
    assert!(received.iter().all(|r| r.signature_ok), "{received:?}");

    let stale = change_to(1, &fixed.url(), new_secret);
    assert_eq!(stale.status, 409, "{}", stale.body);
    let by_key = api.get("/subscriptions/key=orders-hook-v2");
    assert_eq!(by_key.status, 200, "{}", by_key.body);
    assert_eq!(by_key.body["id"], subscription["id"]);
}
