//! Payments executed at Stripe, end to end: the real binary with
//! `--psp-config`, real RocksDB, and localstripe (a stateful Stripe
//! emulator) on 127.0.0.1, sending real signed webhooks.
//!
//! One localstripe serves the whole test binary (started on first use by
//! `tests/stripe/localstripe_server.py`, which keeps its state in memory
//! and exits when this process does). localstripe delivers every event to
//! every registered webhook, so each test uses its own project and
//! webhook secret; the other tests' events reach it as orphans.

mod browser;
mod orders;
mod proxy;
mod reconcile;
mod tokenization;

use payledger_e2e::{Api, Server, create_client, python};
use payledger_webhooks::testing::{Mode as ReceiverMode, Receiver};
use proxy::{Mode, Proxy};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SECRET_KEY: &str = "sk_test_payledger";
const PUBLISHABLE_KEY: &str = "pk_test_payledger";
/// How long a condition may take before a test fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// The shared localstripe's base URL, started on first use.
fn localstripe() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("stripe/localstripe_server.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg("0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start localstripe");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("localstripe exited before listening")
                .expect("read localstripe output");
            if let Some(url) = line.strip_prefix("localstripe listening on ") {
                break url.trim().to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        // The child keeps its stdin open for as long as this process
        // lives; it exits when the pipe closes with us.
        std::mem::forget(child);
        url
    })
}

/// A request to localstripe as a merchant's backend or storefront makes it.
fn stripe(method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> Value {
    let client = reqwest::blocking::Client::new();
    let url = format!("{}{path}", localstripe());
    let request = client
        .request(method.clone(), url)
        .basic_auth(SECRET_KEY, Some(""));
    let request = if method == reqwest::Method::GET {
        request.query(form)
    } else {
        request.form(form)
    };
    let response = request.send().expect("localstripe request");
    let status = response.status();
    let body: Value = response.json().unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// A PaymentMethod for a test card number.
fn card(number: &str) -> String {
    let pm = stripe(
        reqwest::Method::POST,
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", number),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
        ],
    );
    pm["id"].as_str().expect("pm id").to_owned()
}

/// A SEPA Direct Debit PaymentMethod for an IBAN.
fn sepa(iban: &str) -> String {
    let pm = stripe(
        reqwest::Method::POST,
        "/v1/payment_methods",
        &[("type", "sepa_debit"), ("sepa_debit[iban]", iban)],
    );
    pm["id"].as_str().expect("pm id").to_owned()
}

/// Every PaymentIntent localstripe holds for a payledger transaction.
fn intents_for(transaction_id: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("limit", "100".to_owned())];
        if let Some(after) = &after {
            query.push(("starting_after", after.clone()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = stripe(reqwest::Method::GET, "/v1/payment_intents", &query);
        let data = page["data"].as_array().expect("data").clone();
        after = data
            .last()
            .and_then(|i| i["id"].as_str())
            .map(str::to_owned);
        found.extend(
            data.into_iter()
                .filter(|i| i["metadata"]["payledger_transaction_id"] == transaction_id),
        );
        if page["has_more"] != true || after.is_none() {
            return found;
        }
    }
}

/// A server with a PSP configuration for one project, registered as a
/// webhook endpoint at localstripe.
struct Setup {
    // Fields drop in order: the server (and its replay check) before the
    // directory it stores into.
    server: Server,
    dir: TempDir,
    api: Api,
    project: String,
    webhook_secret: String,
}

fn setup(project: &str) -> Setup {
    setup_with(project, localstripe())
}

/// A server whose Stripe API base URL is `api_base` (localstripe or a
/// proxy in front of it).
fn setup_with(project: &str, api_base: &str) -> Setup {
    setup_configured(project, api_base, json!({}))
}

/// A server whose project also has the `orders` settings `orders`.
fn setup_configured(project: &str, api_base: &str, orders: Value) -> Setup {
    setup_with_args(project, api_base, orders, &[])
}

/// A server with the PSP configuration and `extra` arguments.
fn setup_with_args(project: &str, api_base: &str, orders: Value, extra: &[&str]) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let scope = format!("manage_project:{project}");
    create_client(dir.path(), "merchant", "merchant-secret-1", &scope);
    let webhook_secret = format!("whsec_{project}_{}", std::process::id());
    let config = json!({
        "projects": {project: {"stripe": {
            "api_base_url": api_base,
            "secret_key": SECRET_KEY,
            "publishable_key": PUBLISHABLE_KEY,
            "js_url": format!("{}/js.stripe.com/v3/", localstripe()),
            "webhook_secrets": ["whsec_retired", webhook_secret],
            "request_timeout_ms": 5000,
        }, "orders": orders}},
        "refresh": {"first_delay_ms": 1000, "backoff_max_ms": 4000, "attempts_max": 20},
        "executor": {"retry_delay_ms": 300, "retry_delay_max_ms": 1200, "attempts_max": 50},
    });
    let path = dir.path().join("psp.json");
    std::fs::write(&path, config.to_string()).expect("write PSP config");
    let path = path.to_str().expect("UTF-8 path").to_owned();
    let mut args = vec!["--psp-config", path.as_str()];
    args.extend_from_slice(extra);
    let server = Server::start_with(dir.path(), &args);
    register_webhook(&server, project, &webhook_secret);
    let api = Api::connect(
        server.url(),
        project,
        "merchant",
        "merchant-secret-1",
        &scope,
    );
    Setup {
        dir,
        server,
        api,
        project: project.to_owned(),
        webhook_secret,
    }
}

fn register_webhook(server: &Server, project: &str, secret: &str) {
    let url = format!("{}/webhooks/stripe/{project}", server.url());
    let name = format!("{project}-{}", std::process::id());
    let client = reqwest::blocking::Client::new();
    let reply = client
        .post(format!("{}/_config/webhooks/{name}", localstripe()))
        .form(&[("url", url.as_str()), ("secret", secret)])
        .send()
        .expect("register webhook");
    assert!(reply.status().is_success(), "webhook registration failed");
}

fn money(cents: i64) -> Value {
    json!({"currencyCode": "EUR", "centAmount": cents})
}

/// Creates a payment at `stripe` paying with `token`, with transactions.
fn create(api: &Api, token: &str, method: &str, transactions: &[(&str, i64)]) -> Value {
    let transactions: Vec<Value> = transactions
        .iter()
        .map(|(kind, cents)| json!({"type": kind, "amount": money(*cents)}))
        .collect();
    let draft = json!({
        "amountPlanned": money(10_000),
        "paymentMethodInfo": {"paymentInterface": "stripe", "method": method, "token": {"value": token}},
        "transactions": transactions,
    });
    let reply = api.post("/payments", &draft);
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

/// Adds a transaction (retrying on a concurrent executor append).
fn add(api: &Api, id: &str, kind: &str, cents: i64) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let current = get(api, id);
        let body = json!({
            "version": current["version"],
            "actions": [{"action": "addTransaction", "transaction": {"type": kind, "amount": money(cents)}}],
        });
        let reply = api.post(&format!("/payments/{id}"), &body);
        if reply.status == 200 {
            return reply.body;
        }
        assert_eq!(reply.status, 409, "{}", reply.body);
        assert!(Instant::now() < deadline, "adding {kind} kept conflicting");
    }
}

fn get(api: &Api, id: &str) -> Value {
    let reply = api.get(&format!("/payments/{id}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// Waits until `done` holds for the payment, or fails at the deadline.
///
/// Every change of a payment is a Message, so the wait subscribes a
/// receiver to the project's Messages and looks at the payment again only
/// when a Message about a newer version of it arrived: no polling.
fn wait(api: &Api, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    let watch = Watch::start(api);
    loop {
        let payment = get(api, id);
        if done(&payment) {
            return payment;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(
            !remaining.is_zero(),
            "{what} did not happen within {DEADLINE:?}: {payment:#}"
        );
        let version = payment["version"].as_u64().unwrap_or(0);
        watch.receiver.wait_until(remaining, |received| {
            received.iter().any(|r| {
                let message = r.json();
                message["resource"]["id"] == id
                    && message["sequenceNumber"].as_u64().unwrap_or(0) > version
            })
        });
    }
}

/// A webhook Subscription of the project to a local receiver, removed when
/// dropped. Messages committed after it was created reach the receiver.
struct Watch<'a> {
    api: &'a Api,
    receiver: Receiver,
    subscription: String,
}

impl<'a> Watch<'a> {
    fn start(api: &'a Api) -> Self {
        const SECRET: &str = "stripe-tests-watch-secret";
        let receiver = Receiver::start(SECRET, ReceiverMode::Accept).expect("start a receiver");
        let reply = api.post(
            "/subscriptions",
            &json!({
                "destination": {"type": "HTTP", "url": receiver.url(), "secret": SECRET},
                "messages": [{"resourceTypeId": "payment"}],
            }),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let subscription = reply.body["id"]
            .as_str()
            .expect("subscription id")
            .to_owned();
        Self {
            api,
            receiver,
            subscription,
        }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let _ = self
            .api
            .delete(&format!("/subscriptions/{}?version=1", self.subscription));
    }
}

fn state(payment: &Value, index: usize) -> &str {
    payment["transactions"][index]["state"]
        .as_str()
        .unwrap_or("")
}

fn states(payment: &Value) -> Vec<(String, String)> {
    payment["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .map(|t| {
            (
                t["type"].as_str().unwrap_or("").to_owned(),
                t["state"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn pair(kind: &str, state: &str) -> (String, String) {
    (kind.to_owned(), state.to_owned())
}

/// The interactions as `source operation phase status`, `-` for absent.
fn interactions(payment: &Value) -> Vec<String> {
    payment["interfaceInteractions"]
        .as_array()
        .expect("interactions")
        .iter()
        .map(|i| {
            ["source", "operation", "phase", "status"]
                .map(|name| i["fields"][name].as_str().unwrap_or("-"))
                .join(" ")
        })
        .collect()
}

fn interaction_with<'a>(payment: &'a Value, name: &str) -> Option<&'a Value> {
    payment["interfaceInteractions"]
        .as_array()
        .expect("interactions")
        .iter()
        .find(|i| i["fields"][name].is_string())
}

fn notifications(payment: &Value) -> usize {
    interactions(payment)
        .iter()
        .filter(|i| i.contains(" notification "))
        .count()
}

/// Posts a webhook body with a `Stripe-Signature` header as given.
fn post_webhook(setup: &Setup, body: &str, signature: Option<&str>) -> (u16, Value) {
    let client = reqwest::blocking::Client::new();
    let mut request = client
        .post(format!(
            "{}/webhooks/stripe/{}",
            setup.server.url(),
            setup.project
        ))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let reply = request.send().expect("webhook request");
    let status = reply.status().as_u16();
    (status, reply.json().unwrap_or(Value::Null))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `t=…,v1=…` for `body` with `secret` at `t`.
fn sign(secret: &str, t: i64, body: &str) -> String {
    payledger_psp::signature::sign(&payledger_psp::Secret::new(secret), t, body.as_bytes())
}

/// A Stripe event about a PaymentIntent.
fn intent_event(event_id: &str, kind: &str, intent: &str, status: &str) -> String {
    json!({
        "id": event_id, "object": "event", "type": kind, "created": unix_now(),
        "data": {"object": {"id": intent, "object": "payment_intent", "status": status}},
    })
    .to_string()
}

#[test]
fn authorize_capture_and_partially_refund_at_stripe() {
    let s = setup("stripe-flow");
    let payment = create(&s.api, "pm_card_visa", "card", &[("Authorization", 4_200)]);
    let id = payment["id"].as_str().expect("id").to_owned();
    let authorized = wait(&s.api, &id, "authorization", |p| state(p, 0) == "Success");
    let intent = authorized["transactions"][0]["interfaceId"]
        .as_str()
        .expect("PaymentIntent id")
        .to_owned();
    assert!(intent.starts_with("pi_"), "{intent}");
    assert_eq!(
        authorized["paymentStatus"]["interfaceCode"],
        "requires_capture"
    );
    let at_stripe = stripe(
        reqwest::Method::GET,
        &format!("/v1/payment_intents/{intent}"),
        &[],
    );
    assert_eq!(at_stripe["status"], "requires_capture");
    assert_eq!(at_stripe["capture_method"], "manual");
    assert_eq!(at_stripe["amount"], 4_200);
    let txn = authorized["transactions"][0]["id"]
        .as_str()
        .expect("txn id");
    assert_eq!(at_stripe["metadata"]["payledger_payment_id"], id.as_str());
    assert_eq!(at_stripe["metadata"]["payledger_project"], "stripe-flow");

    add(&s.api, &id, "Charge", 4_200);
    // The capture's payment_intent.succeeded webhook arrives ~1 s later.
    let captured = wait(&s.api, &id, "capture and its webhook", |p| {
        state(p, 1) == "Success" && notifications(p) == 1
    });
    let charge = captured["transactions"][1]["interfaceId"]
        .as_str()
        .expect("charge id");
    assert!(charge.starts_with("ch_"), "{charge}");
    add(&s.api, &id, "Refund", 1_000);
    let refunded = wait(&s.api, &id, "refund", |p| state(p, 2) == "Success");
    assert_eq!(
        states(&refunded),
        [
            pair("Authorization", "Success"),
            pair("Charge", "Success"),
            pair("Refund", "Success")
        ]
    );
    let refund = refunded["transactions"][2]["interfaceId"]
        .as_str()
        .expect("refund id");
    let at_stripe = stripe(reqwest::Method::GET, &format!("/v1/refunds/{refund}"), &[]);
    assert_eq!(at_stripe["amount"], 1_000);
    assert_eq!(at_stripe["status"], "succeeded");
    assert_eq!(
        at_stripe["metadata"]["payledger_transaction_id"],
        refunded["transactions"][2]["id"]
    );
    assert_eq!(
        interactions(&refunded),
        [
            "executor authorize request -",
            "executor authorize response requires_capture",
            "executor capture request -",
            "executor capture response succeeded",
            "webhook - notification -",
            "executor refund request -",
            "executor refund response succeeded",
        ]
    );
    let webhook = &refunded["interfaceInteractions"][4]["fields"];
    assert_eq!(webhook["eventType"], "payment_intent.succeeded");
    assert_eq!(webhook["interfaceId"], intent.as_str());
    // Request interactions carry the idempotency key the PSP saw.
    let request = &refunded["interfaceInteractions"][0]["fields"];
    assert_eq!(request["idempotencyKey"], format!("payledger-{txn}-create"));
    assert_eq!(intents_for(txn).len(), 1);

    // The calls are counted by operation and outcome, with their latency.
    let metrics = reqwest::blocking::get(format!("{}/metrics", s.server.url()))
        .expect("scrape")
        .text()
        .expect("metrics");
    for operation in [
        "POST /v1/payment_intents",
        "POST /v1/payment_intents/{id}/capture",
        "POST /v1/refunds",
    ] {
        let counted = format!("psp=\"stripe\",operation=\"{operation}\",outcome=\"ok\"}}");
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("payledger_psp_calls_total{") && l.contains(&counted)),
            "{operation} not counted in\n{metrics}"
        );
        let timed = format!(
            "payledger_psp_call_duration_seconds_count{{psp=\"stripe\",operation=\"{operation}\"}}"
        );
        assert!(metrics.contains(&timed), "{operation} not timed");
    }
}

#[test]
fn three_d_secure_succeeds_by_webhook_and_fails_by_refresh() {
    let s = setup("stripe-3ds");
    let charge = create(
        &s.api,
        &card("4000002500003155"),
        "card",
        &[("Charge", 1_500)],
    );
    let auth = create(
        &s.api,
        &card("4000002500003155"),
        "card",
        &[("Authorization", 1_500)],
    );
    let mut secrets = Vec::new();
    for payment in [&charge, &auth] {
        let id = payment["id"].as_str().expect("id");
        let pending = wait(&s.api, id, "3-D Secure pending", |p| {
            interaction_with(p, "clientSecret").is_some()
        });
        assert_eq!(state(&pending, 0), "Pending");
        assert_eq!(pending["paymentStatus"]["interfaceCode"], "requires_action");
        let secret = interaction_with(&pending, "clientSecret").expect("client secret")["fields"]
            ["clientSecret"]
            .as_str()
            .expect("text")
            .to_owned();
        let intent = pending["transactions"][0]["interfaceId"]
            .as_str()
            .expect("intent");
        assert!(
            secret.starts_with(intent),
            "the client secret belongs to the intent"
        );
        secrets.push((intent.to_owned(), secret));
    }
    // The storefront finishes 3-D Secure with the publishable key.
    let authenticate = |(intent, secret): &(String, String), success: &str| {
        stripe(
            reqwest::Method::POST,
            &format!("/v1/payment_intents/{intent}/_authenticate"),
            &[
                ("key", PUBLISHABLE_KEY),
                ("client_secret", secret),
                ("success", success),
            ],
        )
    };
    authenticate(&secrets[0], "true");
    let id = charge["id"].as_str().expect("id");
    let paid = wait(&s.api, id, "webhook and refresh", |p| {
        state(p, 0) == "Success" && notifications(p) == 1
    });
    let seen = interactions(&paid);
    // The webhook's refresh (or the scheduled one, if it came first)
    // fetched the status; the webhook itself changed no state.
    assert!(
        seen.contains(&"refresh charge response succeeded".to_owned()),
        "{seen:?}"
    );
    assert_eq!(paid["paymentStatus"]["interfaceCode"], "succeeded");

    // A failed authentication sends no webhook: the refresh finds it.
    authenticate(&secrets[1], "false");
    let id = auth["id"].as_str().expect("id");
    let reply = s.api.post(&format!("/payments/{id}/refresh"), &json!({}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(state(&reply.body, 0), "Failure");
    let last = reply.body["interfaceInteractions"]
        .as_array()
        .and_then(|a| a.last())
        .expect("interaction")["fields"]
        .clone();
    assert_eq!(last["source"], "refresh");
    assert_eq!(last["code"], "payment_intent_authentication_failure");
    assert_eq!(
        reply.body["paymentStatus"]["interfaceCode"],
        "requires_payment_method"
    );
    // Refreshing again changes nothing.
    let again = s.api.post(&format!("/payments/{id}/refresh"), &json!({}));
    assert_eq!(again.body["version"], reply.body["version"]);
}

#[test]
fn a_declined_card_fails_with_its_decline_code() {
    let s = setup("stripe-declined");
    let payment = create(
        &s.api,
        &card("4000000000000341"),
        "card",
        &[("Authorization", 800)],
    );
    let id = payment["id"].as_str().expect("id");
    let failed = wait(&s.api, id, "decline", |p| state(p, 0) == "Failure");
    assert!(
        failed["transactions"][0]["interfaceId"]
            .as_str()
            .is_some_and(|i| i.starts_with("pi_"))
    );
    assert_eq!(
        failed["paymentStatus"]["interfaceCode"],
        "requires_payment_method"
    );
    let response = &failed["interfaceInteractions"][1]["fields"];
    assert_eq!(response["phase"], "response");
    assert_eq!(response["code"], "card_declined");
    assert_eq!(response["declineCode"], "card_declined");
    assert_eq!(response["message"], "Your card was declined.");
}

#[test]
fn a_sepa_debit_is_pending_then_fails_asynchronously() {
    let s = setup("stripe-sepa");
    let payment = create(
        &s.api,
        &sepa("DE62370400440532013001"),
        "sepa_debit",
        &[("Charge", 2_000)],
    );
    let id = payment["id"].as_str().expect("id");
    let failed = wait(&s.api, id, "asynchronous failure and its webhook", |p| {
        state(p, 0) == "Failure" && notifications(p) >= 1
    });
    let seen = interactions(&failed);
    assert_eq!(seen[1], "executor charge response processing", "{seen:?}");
    assert!(
        seen.contains(&"refresh charge response requires_payment_method".to_owned()),
        "{seen:?}"
    );
    let webhook =
        interaction_with(&failed, "eventType").expect("webhook")["fields"]["eventType"].clone();
    assert_eq!(webhook, "payment_intent.payment_failed");
}

#[test]
fn forged_tampered_and_stale_webhooks_are_refused_and_change_nothing() {
    let s = setup("stripe-forged");
    let payment = create(&s.api, "pm_card_visa", "card", &[("Authorization", 300)]);
    let id = payment["id"].as_str().expect("id");
    let before = wait(&s.api, id, "authorization", |p| state(p, 0) == "Success");
    let intent = before["transactions"][0]["interfaceId"]
        .as_str()
        .expect("intent");
    let body = intent_event(
        "evt_forged_1",
        "payment_intent.canceled",
        intent,
        "canceled",
    );
    let now = unix_now();
    let tampered = body.replace("canceled", "succeeded");
    let attempts = [
        (
            "forged",
            body.clone(),
            Some(sign("whsec_attacker", now, &body)),
        ),
        (
            "tampered",
            tampered,
            Some(sign(&s.webhook_secret, now, &body)),
        ),
        (
            "stale",
            body.clone(),
            Some(sign(&s.webhook_secret, now - 400, &body)),
        ),
        ("unsigned", body.clone(), None),
        (
            "garbage header",
            body.clone(),
            Some("t=abc,v1=zz".to_owned()),
        ),
    ];
    for (what, body, signature) in attempts {
        let (status, reply) = post_webhook(&s, &body, signature.as_deref());
        assert_eq!(status, 400, "{what}: {reply}");
        assert_eq!(reply["errors"][0]["code"], "InvalidInput", "{what}");
    }
    assert_eq!(
        get(&s.api, id)["version"],
        before["version"],
        "nothing was recorded"
    );
    // The retired secret of a rotation still verifies.
    let (status, reply) = post_webhook(&s, &body, Some(&sign("whsec_retired", now, &body)));
    assert_eq!((status, reply["outcome"].as_str()), (200, Some("recorded")));
    // Webhooks are hints: the refresh keeps the Success the PSP confirms.
    let after = wait(&s.api, id, "notification", |p| notifications(p) == 1);
    assert_eq!(state(&after, 0), "Success");
}

#[test]
fn duplicate_and_reordered_webhooks_end_in_the_same_state() {
    let s = setup("stripe-dupes");
    let payment = create(
        &s.api,
        &card("4000002500003155"),
        "card",
        &[("Charge", 900)],
    );
    let id = payment["id"].as_str().expect("id");
    let pending = wait(&s.api, id, "3-D Secure pending", |p| {
        interaction_with(p, "clientSecret").is_some()
    });
    let intent = pending["transactions"][0]["interfaceId"]
        .as_str()
        .expect("intent")
        .to_owned();
    let secret =
        interaction_with(&pending, "clientSecret").expect("secret")["fields"]["clientSecret"]
            .as_str()
            .expect("text")
            .to_owned();
    stripe(
        reqwest::Method::POST,
        &format!("/v1/payment_intents/{intent}/_authenticate"),
        &[
            ("key", PUBLISHABLE_KEY),
            ("client_secret", &secret),
            ("success", "true"),
        ],
    );
    // Out of order and repeated: a stale "requires_action" after the
    // success, each twice.
    let success = intent_event(
        "evt_dupe_ok",
        "payment_intent.succeeded",
        &intent,
        "succeeded",
    );
    let stale = intent_event(
        "evt_dupe_old",
        "payment_intent.requires_action",
        &intent,
        "requires_action",
    );
    let mut outcomes = Vec::new();
    for body in [&success, &stale, &success, &stale] {
        let (status, reply) =
            post_webhook(&s, body, Some(&sign(&s.webhook_secret, unix_now(), body)));
        assert_eq!(status, 200, "{reply}");
        outcomes.push(reply["outcome"].as_str().unwrap_or("").to_owned());
    }
    assert_eq!(outcomes, ["recorded", "recorded", "duplicate", "duplicate"]);
    let settled = wait(&s.api, id, "success", |p| state(p, 0) == "Success");
    let ids: Vec<&str> = settled["interfaceInteractions"]
        .as_array()
        .expect("interactions")
        .iter()
        .filter_map(|i| i["fields"]["eventId"].as_str())
        .filter(|e| e.starts_with("evt_dupe"))
        .collect();
    assert_eq!(ids, ["evt_dupe_ok", "evt_dupe_old"]);
    // Whatever else arrives (localstripe's own webhook, more refreshes),
    // the transaction stays Success.
    let final_state = wait(&s.api, id, "localstripe's webhook", |p| {
        notifications(p) >= 3
    });
    assert_eq!(state(&final_state, 0), "Success");
    let refreshed = s.api.post(&format!("/payments/{id}/refresh"), &json!({}));
    assert_eq!(state(&refreshed.body, 0), "Success");
}

#[test]
fn an_unknown_payment_intent_is_kept_as_an_orphan() {
    let s = setup("stripe-orphan");
    let body = intent_event(
        "evt_orphan_1",
        "payment_intent.succeeded",
        "pi_nobodyknows",
        "succeeded",
    );
    let (status, reply) =
        post_webhook(&s, &body, Some(&sign(&s.webhook_secret, unix_now(), &body)));
    assert_eq!((status, reply["outcome"].as_str()), (200, Some("orphaned")));
    let (status, reply) =
        post_webhook(&s, &body, Some(&sign(&s.webhook_secret, unix_now(), &body)));
    assert_eq!(
        (status, reply["outcome"].as_str()),
        (200, Some("duplicate")),
        "a repeated orphan is recognised"
    );
}

#[test]
fn a_crash_between_the_psp_call_and_the_append_creates_one_intent() {
    let proxy = Proxy::start(localstripe());
    let s = setup_with("stripe-crash", proxy.url());
    let (created, killed) = (
        std::sync::mpsc::channel::<()>(),
        std::sync::mpsc::channel::<()>(),
    );
    let (created_tx, killed_rx) = (created.0, std::sync::Mutex::new(killed.1));
    proxy.on_crash(move || {
        let _ = created_tx.send(());
        // Answer nothing until the server is dead.
        let _ = killed_rx.lock().map(|rx| rx.recv_timeout(DEADLINE));
    });
    proxy.set_mode(Mode::CrashAfterCreate);
    let payment = create(&s.api, "pm_card_visa", "card", &[("Authorization", 1_234)]);
    let id = payment["id"].as_str().expect("id").to_owned();
    let txn = payment["transactions"][0]["id"]
        .as_str()
        .expect("txn")
        .to_owned();
    created
        .1
        .recv_timeout(DEADLINE)
        .expect("the creation reached Stripe");
    let Setup {
        dir,
        mut server,
        project,
        webhook_secret,
        ..
    } = s;
    server.stop();
    let _ = killed.0.send(());
    assert_eq!(intents_for(&txn).len(), 1, "Stripe has the intent");

    proxy.set_mode(Mode::Pass);
    let server = server.restart();
    register_webhook(&server, &project, &webhook_secret);
    let scope = format!("manage_project:{project}");
    let api = Api::connect(
        server.url(),
        &project,
        "merchant",
        "merchant-secret-1",
        &scope,
    );
    let done = wait(&api, &id, "resumed authorization", |p| {
        state(p, 0) == "Success"
    });
    let intents = intents_for(&txn);
    assert_eq!(intents.len(), 1, "exactly one PaymentIntent");
    assert_eq!(done["transactions"][0]["interfaceId"], intents[0]["id"]);
    assert_eq!(intents[0]["status"], "requires_capture");
    let creations = proxy
        .forwarded()
        .iter()
        .filter(|r| *r == "POST /v1/payment_intents")
        .count();
    assert_eq!(creations, 1, "{:?}", proxy.forwarded());
    drop(dir);
}

#[test]
fn a_psp_outage_is_retried_until_the_psp_is_back() {
    let proxy = Proxy::start(localstripe());
    proxy.set_mode(Mode::Down);
    let s = setup_with("stripe-outage", proxy.url());
    let payment = create(&s.api, "pm_card_visa", "card", &[("Charge", 555)]);
    let id = payment["id"].as_str().expect("id");
    let retried = wait(&s.api, id, "retries", |p| {
        interactions(p)
            .iter()
            .filter(|i| i.contains(" error "))
            .count()
            >= 3
    });
    assert_eq!(state(&retried, 0), "Pending");
    assert!(proxy.refused() >= 3);
    proxy.set_mode(Mode::Pass);
    let paid = wait(&s.api, id, "success after the outage", |p| {
        state(p, 0) == "Success"
    });
    let txn = paid["transactions"][0]["id"].as_str().expect("txn");
    assert_eq!(intents_for(txn).len(), 1);
    let last = interactions(&paid);
    assert!(
        last.contains(&"executor charge response succeeded".to_owned()),
        "{last:?}"
    );
}
