//! Bounded delivery retries end to end: the real server, configured from a
//! TOML file, and a real HTTP receiver that refuses deliveries until told
//! otherwise. Past the configured attempts (or age) the Subscription's
//! deliveries stop with `ConfigurationErrorDeliveryStopped`, which its
//! resource, its health route and the metrics show, and which a restart
//! keeps; `resumeDeliveries` delivers every held Message, in order per
//! payment, nothing skipped. A restart goes on with a failing Message's
//! count of attempts. Bounds out of range are refused by name.

use payledger_e2e::{Api, Server, create_client, payledger_bin};
use payledger_webhooks::testing::{Mode, Received, Receiver, taken};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const PROJECT: &str = "shop";
const SECRET: &str = "receiver-secret-0123";
const STOPPED: &str = "ConfigurationErrorDeliveryStopped";
/// How long a test waits for what it expects.
const WAIT: Duration = Duration::from_secs(90);
/// How often a condition is polled until its deadline.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A server whose `[webhooks]` table is `webhooks` (fast retries besides).
fn setup(dir: &Path, webhooks: &str) -> (Server, Api) {
    setup_table(
        dir,
        &format!("backoff_min_ms = 20\nbackoff_max_ms = 200\n{webhooks}"),
    )
}

/// A server whose `[webhooks]` table is `table`.
fn setup_table(dir: &Path, table: &str) -> (Server, Api) {
    let data = dir.join("data");
    create_client(
        &data,
        "merchant",
        "merchant-secret-1",
        "manage_project:shop",
    );
    let config = dir.join("payledger.toml");
    let table = format!("[webhooks]\n{table}");
    std::fs::write(&config, table).expect("write the configuration");
    let config = config.display().to_string();
    let server = Server::start_with(&data, &["--config", &config]);
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

/// Polls `probe` until it gives a value, failing the test after [`WAIT`].
fn poll<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn subscribe(api: &Api, key: &str, url: &str) -> Value {
    let reply = api.post(
        "/subscriptions",
        &json!({
            "key": key,
            "destination": {"type": "HTTP", "url": url, "secret": SECRET},
            "messages": [{"resourceTypeId": "payment"}]
        }),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

/// A new payment with `renames` more Messages after its creation.
fn payment_with_messages(api: &Api, renames: usize) -> Value {
    let reply = api.post(
        "/payments",
        &json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 1000}}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let mut payment = reply.body;
    for round in 0..renames {
        let reply = api.post(
            &format!("/payments/{}", payment["id"].as_str().expect("payment id")),
            &json!({
                "version": payment["version"],
                "actions": [{"action": "setStatusInterfaceText", "interfaceText": format!("r{round}")}]
            }),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        payment = reply.body;
    }
    payment
}

/// The Message ids the API knows for `payment`, oldest first.
fn message_ids(api: &Api, payment: &Value) -> Vec<String> {
    let id = payment["id"].as_str().expect("payment id");
    let reply = api.get(&format!(
        "/messages?where=resource(id%3D%22{id}%22)&sort=sequenceNumber%20asc&limit=500"
    ));
    assert_eq!(reply.status, 200, "{}", reply.body);
    (reply.body["results"].as_array().expect("results").iter())
        .map(|m| m["id"].as_str().expect("message id").to_owned())
        .collect()
}

/// The Subscription at `path` once its status is `status`.
fn once_status(api: &Api, path: &str, status: &str) -> Value {
    poll(&format!("{path} becomes {status}"), || {
        let shown = api.get(path).body;
        (shown["status"] == status).then_some(shown)
    })
}

fn health(api: &Api, path: &str) -> u16 {
    let url = format!("{}/{PROJECT}{path}/health", api.base);
    reqwest::blocking::get(url)
        .expect("health")
        .status()
        .as_u16()
}

/// The gauge of Subscriptions in `status`, as `GET /metrics` shows it.
fn subscriptions_in(server: &Server, status: &str) -> f64 {
    let text = reqwest::blocking::get(format!("{}/metrics", server.url()))
        .and_then(|response| response.text())
        .expect("scrape /metrics");
    let series = format!("payledger_webhook_subscriptions{{status=\"{status}\"}} ");
    let line = text.lines().find(|l| l.starts_with(&series));
    let line = line.unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[series.len()..].trim().parse().expect("a number")
}

/// Most attempts any one Message got, by the count of requests and by the
/// `X-Payledger-Attempt` numbers.
fn most_attempts(received: &[Received]) -> (usize, u32) {
    let mut requests: HashMap<&str, usize> = HashMap::new();
    for request in received {
        *requests.entry(&request.delivery_id).or_default() += 1;
    }
    let numbered = received.iter().map(|r| r.attempt).max().unwrap_or(0);
    (requests.into_values().max().unwrap_or(0), numbered)
}

#[test]
fn deliveries_stop_after_the_configured_attempts_and_resume_with_every_held_message_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(SECRET, Mode::Answer(503)).unwrap();
    let (server, api) = setup(dir.path(), "attempts_max = 3\n");
    let subscription = subscribe(&api, "refused-hook", &receiver.url());
    let path = format!("/subscriptions/{}", subscription["id"].as_str().unwrap());
    let mut payments: Vec<Value> = (0..6).map(|_| payment_with_messages(&api, 2)).collect();
    let held: u64 = payments
        .iter()
        .map(|p| p["version"].as_u64().unwrap())
        .sum();

    // Stopped past the third attempt, visibly, with nothing taken.
    let shown = once_status(&api, &path, STOPPED);
    let reason = shown["delivery"]["stopped"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("3 attempts failed (webhooks.attempts_max = 3)") && reason.contains("503"),
        "{shown}"
    );
    assert!(shown["delivery"]["stopped"]["at"].is_string(), "{shown}");
    assert_eq!(
        shown["delivery"]["lag"], held,
        "nothing taken, nothing skipped"
    );
    assert_eq!(shown["version"], 1, "a stop is not a client's change");
    assert_eq!(health(&api, &path), 400);
    assert_eq!(subscriptions_in(&server, STOPPED), 1.0);
    let (requests, numbered) = most_attempts(&receiver.received());
    assert!(requests <= 3 && numbered <= 3, "{requests} {numbered}");

    // A restart keeps them stopped: a second Subscription, whose receiver
    // takes everything, gets a new payment's Message while the stopped one
    // attempts nothing, even with its receiver taking deliveries again.
    let server = server.restart();
    let api = connect(&server);
    assert_eq!(api.get(&path).body["status"], STOPPED);
    let attempted = receiver.received().len();
    receiver.set_mode(Mode::Accept);
    let witness = Receiver::start(SECRET, Mode::Accept).unwrap();
    subscribe(&api, "witness-hook", &witness.url());
    let late = payment_with_messages(&api, 0);
    let late_id = late["id"].clone();
    let seen = witness.wait_until(WAIT, |r| {
        taken(r)
            .iter()
            .any(|t| t.json()["resource"]["id"] == late_id)
    });
    assert!(
        taken(&seen)
            .iter()
            .any(|t| t.json()["resource"]["id"] == late_id)
    );
    assert_eq!(
        receiver.received().len(),
        attempted,
        "stopped means no attempt"
    );
    payments.push(late);

    // Resumed: every Message from the one that stopped them, in order per
    // payment, none skipped.
    let resumed = api.post(
        &path,
        &json!({"version": 1, "actions": [{"action": "resumeDeliveries"}]}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!(resumed.body["version"], 2);
    assert_ne!(resumed.body["status"], STOPPED, "{}", resumed.body);
    assert!(
        resumed.body["delivery"].get("stopped").is_none(),
        "{}",
        resumed.body
    );
    let total: u64 = payments
        .iter()
        .map(|p| p["version"].as_u64().unwrap())
        .sum();
    let received = receiver.wait_until(WAIT, |r| taken(r).len() as u64 >= total);
    let taken = taken(&received);
    assert_eq!(taken.len() as u64, total, "every held Message, none lost");
    assert!(received.iter().all(|r| r.signature_ok));
    for payment in &payments {
        let delivered: Vec<String> = (taken.iter())
            .filter(|t| t.json()["resource"]["id"] == payment["id"])
            .map(|t| t.delivery_id.clone())
            .collect();
        assert_eq!(
            delivered,
            message_ids(&api, payment),
            "in order, none skipped"
        );
    }
    let shown = once_status(&api, &path, "Healthy");
    assert_eq!(shown["delivery"]["lag"], 0, "{shown}");
    assert_eq!(health(&api, &path), 200);
    assert_eq!(subscriptions_in(&server, STOPPED), 0.0);
}

#[test]
fn a_restart_goes_on_with_the_count_of_attempts_instead_of_starting_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(SECRET, Mode::Answer(503)).unwrap();
    // Attempts half a second to a second apart: the crash below comes
    // within milliseconds of the second attempt's record, long before the
    // third.
    let table = "backoff_min_ms = 1000\nbackoff_max_ms = 1000\nattempts_max = 4\n";
    let (server, api) = setup_table(dir.path(), table);
    let subscription = subscribe(&api, "restarted-hook", &receiver.url());
    let path = format!("/subscriptions/{}", subscription["id"].as_str().unwrap());
    payment_with_messages(&api, 0);
    poll("the second failed attempt is recorded", || {
        let shown = api.get(&path).body;
        let error = shown["delivery"]["lastError"]["message"].as_str()?;
        error.contains("attempt 2 of message").then_some(())
    });

    // Killed: the server that follows carries on with the count and the
    // age stored on the cursor with the failure.
    let server = server.restart();
    let api = connect(&server);
    let shown = once_status(&api, &path, STOPPED);
    let reason = shown["delivery"]["stopped"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("4 attempts failed (webhooks.attempts_max = 4)"),
        "{shown}"
    );
    let numbers: Vec<u32> = receiver.received().iter().map(|r| r.attempt).collect();
    assert_eq!(
        numbers,
        [1, 2, 3, 4],
        "four attempts in all, numbered on across the restart"
    );

    // Resumed while the receiver still refuses: the count starts again.
    let resumed = api.post(
        &path,
        &json!({"version": 1, "actions": [{"action": "resumeDeliveries"}]}),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    once_status(&api, &path, STOPPED);
    let numbers: Vec<u32> = receiver.received().iter().map(|r| r.attempt).collect();
    assert_eq!(numbers[4..], [1, 2, 3, 4], "four more after the resume");
}

#[test]
fn a_message_refused_for_longer_than_the_age_bound_stops_the_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(SECRET, Mode::Answer(410)).unwrap();
    let (_server, api) = setup(dir.path(), "attempts_max = 1000000\nretry_age_max_s = 1\n");
    let subscription = subscribe(&api, "gone-hook", &receiver.url());
    let path = format!("/subscriptions/{}", subscription["id"].as_str().unwrap());
    payment_with_messages(&api, 0);

    let shown = once_status(&api, &path, STOPPED);
    let reason = shown["delivery"]["stopped"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("(webhooks.retry_age_max_s = 1)") && reason.contains("410"),
        "{shown}"
    );
    let received = receiver.received();
    assert!(received.len() >= 2, "retried within the age: {received:?}");
    assert!(taken(&received).is_empty());
    assert_eq!(shown["delivery"]["lag"], 1, "{shown}");
}

#[test]
fn retry_bounds_out_of_range_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (table, named) in [
        ("attempts_max = 0", "webhooks.attempts_max"),
        ("retry_age_max_s = 0", "webhooks.retry_age_max_s"),
        ("retry_age_max_s = 2592001", "webhooks.retry_age_max_s"),
    ] {
        let config = dir.path().join("bounds.toml");
        std::fs::write(&config, format!("[webhooks]\n{table}\n")).unwrap();
        let output = Command::new(payledger_bin())
            .args(["config", "check"])
            .arg(&config)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{table} accepted");
        assert!(stderr.contains(named), "{table}: {stderr}");
    }
}
