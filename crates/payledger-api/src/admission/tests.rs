//! The admission gate: slots, the queue and its wait budget, the
//! per-client rate, and what a refused request answers and leaves behind.
//! Time is tokio's paused clock, so waits are exact and nothing sleeps.

#![allow(clippy::unwrap_used)]

use super::{AdmissionConfig, Gate, Limit, Refused, gated};
use crate::{ApiConfig, AppState};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use payledger_app::auth::{Secret, create_client};
use payledger_store::memory::MemoryStore;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::io::AsyncWriteExt as _;
use tokio::time::{Duration, Instant};
use tower::ServiceExt as _;

fn limits(in_flight: usize, queued: usize, wait_ms: u64) -> AdmissionConfig {
    AdmissionConfig {
        requests_in_flight_max: in_flight,
        requests_queued_max: queued,
        queue_wait_ms_max: wait_ms,
        ..AdmissionConfig::default()
    }
}

fn refused(limit: Limit, value: u64) -> Refused {
    Refused {
        limit,
        value,
        retry_after_s: 1,
    }
}

#[tokio::test(start_paused = true)]
async fn with_every_slot_taken_and_no_queue_the_next_request_is_refused_at_once() {
    let gate = Gate::new(limits(2, 0, 10));
    let now = Instant::now();
    let first = gate.admit(now).await.unwrap();
    let _second = gate.admit(now).await.unwrap();
    assert_eq!(
        gate.admit(now).await.unwrap_err(),
        refused(Limit::RequestsInFlight, 2)
    );
    drop(first);
    assert!(gate.admit(now).await.is_ok(), "a freed slot admits again");
}

fn paced_at(percent: u32) -> Gate {
    Gate::new(AdmissionConfig {
        requests_in_flight_max: 1,
        requests_queued_max: 0,
        cpu_percent_max: percent,
        ..AdmissionConfig::default()
    })
}

/// Admits and releases `n` requests at `now`, and makes one find the only
/// slot taken (pressure), as a sample under overload would.
async fn admit_under_pressure(gate: &Gate, n: usize, now: Instant) {
    for _ in 0..n {
        drop(gate.admit(now).await.unwrap());
    }
    let held = gate.admit(now).await.unwrap();
    assert!(gate.admit(now).await.is_err(), "the slot is taken");
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn over_its_cpu_share_under_pressure_the_gate_paces_admissions_below_what_it_admitted() {
    let gate = paced_at(90);
    let sample = Duration::from_millis(200);
    let now = Instant::now();
    admit_under_pressure(&gate, 199, now).await;
    // 200 admitted in 200 ms: 1,000/s; the CPU at 95 % of its share.
    gate.adapt(0.95, sample, now);
    assert_eq!(gate.pace_per_s(), Some(900.0), "0.9 of the admitted rate");
    // The pace lets a burst of 50 ms of its rate through, then refuses
    // with the limit named, before any slot is looked at.
    for _ in 0..45 {
        drop(gate.admit(now).await.unwrap());
    }
    assert_eq!(
        gate.admit(now).await.unwrap_err(),
        refused(Limit::CpuPercent, 90)
    );
    // It refills at its rate.
    tokio::time::advance(Duration::from_millis(10)).await;
    let later = Instant::now();
    for _ in 0..9 {
        drop(gate.admit(later).await.unwrap());
    }
    assert!(gate.admit(later).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn without_pressure_a_busy_cpu_paces_nothing() {
    // Startup, a compaction, or requests that all found a slot.
    let gate = paced_at(90);
    let now = Instant::now();
    for _ in 0..100 {
        drop(gate.admit(now).await.unwrap());
    }
    gate.adapt(1.0, Duration::from_millis(200), now);
    assert_eq!(gate.pace_per_s(), None);
}

#[tokio::test(start_paused = true)]
async fn with_cpu_headroom_the_pace_grows_and_is_lifted_once_it_no_longer_binds() {
    let gate = paced_at(90);
    let sample = Duration::from_millis(200);
    let now = Instant::now();
    admit_under_pressure(&gate, 199, now).await;
    gate.adapt(0.95, sample, now);
    assert_eq!(gate.pace_per_s(), Some(900.0));
    // Between 80 and 90 %: held.
    gate.adapt(0.85, sample, now);
    assert_eq!(gate.pace_per_s(), Some(900.0));
    // Below 80 %: grows by a tenth per sample while it binds (here 100
    // admitted in the sample, 500/s, as fast as the pace lets them).
    let mut admitted = 0;
    while admitted < 100 {
        match gate.admit(Instant::now()).await {
            Ok(slot) => {
                drop(slot);
                admitted += 1;
            }
            Err(_) => tokio::time::advance(Duration::from_millis(1)).await,
        }
    }
    let now = Instant::now();
    gate.adapt(0.5, sample, now);
    let grown = gate.pace_per_s().unwrap();
    assert!((grown - 990.0).abs() < 1e-6, "{grown}");
    // Little admitted any more: the pace is far above it, and lifted.
    gate.adapt(0.5, sample, now);
    assert_eq!(gate.pace_per_s(), None);
    assert!(gate.admit(now).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn with_cpu_percent_max_zero_nothing_is_paced() {
    let gate = paced_at(0);
    let now = Instant::now();
    admit_under_pressure(&gate, 199, now).await;
    gate.adapt(1.0, Duration::from_millis(200), now);
    assert_eq!(gate.pace_per_s(), None);
}

fn targeting(in_flight: usize, target_ms: u64) -> Gate {
    Gate::new(AdmissionConfig {
        requests_in_flight_max: in_flight,
        requests_queued_max: 0,
        latency_target_ms: target_ms,
        ..AdmissionConfig::default()
    })
}

/// One sample of the latency adaptation: `answered` requests that each
/// took `took` after their admission, and `refused` refused by the slots.
fn sample(gate: &Gate, answered: u32, took: Duration, refused: u32) {
    for _ in 0..answered {
        gate.served(took);
    }
    for _ in 0..refused {
        // Slots held by nobody cannot refuse: count what a full gate would.
        let _ = gate.overloaded(Limit::RequestsQueued);
    }
    gate.adapt_slots();
}

#[tokio::test(start_paused = true)]
async fn in_a_flood_slower_than_the_target_the_slots_shrink_in_proportion_and_come_back_after_it() {
    let gate = targeting(64, 5);
    // Twice the target with most requests refused: half the slots kept.
    sample(&gate, 10, Duration::from_millis(10), 90);
    assert_eq!(gate.slots_now(), 32);
    // Far over it: never more than half in one step.
    sample(&gate, 10, Duration::from_millis(100), 90);
    assert_eq!(gate.slots_now(), 16);
    // Just over it: at least an eighth.
    sample(
        &gate,
        10,
        Duration::from_millis(5) + Duration::from_micros(100),
        90,
    );
    assert_eq!(gate.slots_now(), 14);
    // Never under the floor.
    for _ in 0..20 {
        sample(&gate, 10, Duration::from_millis(100), 90);
    }
    assert_eq!(gate.slots_now(), super::REQUESTS_IN_FLIGHT_MIN);
    // Within the target, flood or not, a quarter (at least one) comes back.
    sample(&gate, 10, Duration::from_millis(4), 90);
    assert_eq!(gate.slots_now(), 5);
    // The flood is over: back up, whatever the requests took.
    let mut steps = 0;
    while gate.slots_now() < 64 {
        sample(&gate, 10, Duration::from_millis(100), 1);
        steps += 1;
    }
    assert_eq!(steps, 14, "a quarter per sample: 5 -> 64 in 14 samples");
    // Nothing answered: nothing learnt.
    sample(&gate, 0, Duration::ZERO, 100);
    assert_eq!(gate.slots_now(), 64);
}

#[tokio::test(start_paused = true)]
async fn slow_answers_without_a_flood_leave_the_slots_alone() {
    // Slower than the target, but fewer than half of the requests refused
    // (the sustainable rate refuses a few): the work itself is slow, and
    // fewer slots would only refuse more.
    let gate = targeting(64, 5);
    for _ in 0..10 {
        sample(&gate, 60, Duration::from_millis(50), 40);
    }
    assert_eq!(gate.slots_now(), 64);
}

#[tokio::test(start_paused = true)]
async fn on_a_machine_slower_than_the_target_the_target_follows_the_unloaded_time() {
    let gate = targeting(64, 5);
    assert_eq!(gate.latency_target_now_ms(), 5.0);
    // Too few answers to tell the unloaded time: nothing learnt.
    sample(&gate, 7, Duration::from_millis(1), 0);
    assert_eq!(gate.latency_target_now_ms(), 5.0);
    // Without a flood every request took 10 ms: the target is 4 times that.
    sample(&gate, 20, Duration::from_millis(10), 0);
    assert_eq!(gate.latency_target_now_ms(), 40.0);
    // A flood at 30 ms is within it: the slots stay.
    sample(&gate, 10, Duration::from_millis(30), 90);
    assert_eq!(gate.slots_now(), 64);
    // At 80 ms they are cut to 40 / 80 of them.
    sample(&gate, 10, Duration::from_millis(80), 90);
    assert_eq!(gate.slots_now(), 32);
    // A faster sample without a flood lowers it, never under the setting.
    sample(&gate, 20, Duration::from_micros(500), 0);
    assert_eq!(gate.latency_target_now_ms(), 5.0);
}

#[tokio::test(start_paused = true)]
async fn slow_answers_while_every_slot_was_held_do_not_teach_the_unloaded_time() {
    let gate = targeting(8, 100);
    let held = admit_many(&gate, 8).await;
    // Eight requests held every slot for 300 ms and were answered, nobody
    // else asked: few refused, but no slot was ever free.
    sample(&gate, 8, Duration::from_millis(300), 0);
    assert_eq!(gate.latency_target_now_ms(), 100.0);
    // A sample that began with every slot held does not count either.
    drop(held);
    sample(&gate, 8, Duration::from_millis(300), 0);
    assert_eq!(gate.latency_target_now_ms(), 100.0);
    // Some slot free all along: that is the unloaded time.
    sample(&gate, 8, Duration::from_millis(30), 0);
    assert_eq!(gate.latency_target_now_ms(), 120.0);
    // Slots cut down to those held leave none free: the next sample is
    // not the unloaded time either.
    let held = admit_many(&gate, 4).await;
    sample(&gate, 8, Duration::from_millis(1000), 90);
    assert_eq!(gate.slots_now(), 4);
    drop(held);
    sample(&gate, 8, Duration::from_millis(10), 0);
    assert_eq!(gate.latency_target_now_ms(), 120.0);
    sample(&gate, 8, Duration::from_millis(10), 0);
    assert_eq!(gate.latency_target_now_ms(), 100.0);
}

#[tokio::test(start_paused = true)]
async fn the_queue_shrinks_with_the_slots() {
    let gate = Gate::new(AdmissionConfig {
        requests_in_flight_max: 64,
        requests_queued_max: 64,
        queue_wait_ms_max: 1_000,
        latency_target_ms: 5,
        ..AdmissionConfig::default()
    });
    sample(&gate, 10, Duration::from_millis(100), 90);
    sample(&gate, 10, Duration::from_millis(100), 90);
    assert_eq!(gate.slots_now(), 16);
    let now = Instant::now();
    let _held = admit_many(&gate, 16).await;
    // 16 of 64 slots left: 16 of the 64 places in the queue.
    let gate = Arc::new(gate);
    let waiting: Vec<_> = (0..16)
        .map(|_| {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.admit(Instant::now()).await.map(drop) })
        })
        .collect();
    wait_until_queued(&gate, 16).await;
    assert_eq!(
        gate.admit(now).await.unwrap_err(),
        refused(Limit::RequestsQueued, 64),
        "the refusal names the configured limit"
    );
    drop(waiting);
}

#[tokio::test(start_paused = true)]
async fn slots_cut_while_held_are_retired_when_their_requests_end() {
    let gate = targeting(8, 5);
    let held = admit_many(&gate, 8).await;
    sample(&gate, 1, Duration::from_millis(50), 9);
    assert_eq!(gate.slots_now(), 4);
    drop(held);
    let now = Instant::now();
    let again = admit_many(&gate, 4).await;
    assert!(gate.admit(now).await.is_err(), "4 slots, not 8");
    drop(again);
    // Given back: 5 again.
    sample(&gate, 1, Duration::from_millis(1), 0);
    let all = admit_many(&gate, 5).await;
    assert!(gate.admit(now).await.is_err());
    drop(all);
}

#[tokio::test(start_paused = true)]
async fn without_a_latency_target_the_slots_stay() {
    let gate = targeting(8, 0);
    gate.served(Duration::from_secs(1));
    gate.adapt_slots();
    assert_eq!(gate.slots_now(), 8);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_refuses_at_once_and_a_wait_past_the_budget_is_refused() {
    let gate = Arc::new(Gate::new(limits(1, 1, 25)));
    let _slot = gate.admit(Instant::now()).await.unwrap();
    let waiting = tokio::spawn({
        let gate = Arc::clone(&gate);
        async move { gate.admit(Instant::now()).await }
    });
    wait_until_queued(&gate, 1).await;
    assert_eq!(
        gate.admit(Instant::now()).await.unwrap_err(),
        refused(Limit::RequestsQueued, 1)
    );
    let before = Instant::now();
    assert_eq!(
        waiting.await.unwrap().unwrap_err(),
        refused(Limit::QueueWait, 25)
    );
    assert_eq!(before.elapsed(), Duration::from_millis(25));
    assert_eq!(gate.queued_now(), 0, "a refused waiter leaves the queue");
}

#[tokio::test(start_paused = true)]
async fn a_slot_freed_within_the_budget_admits_the_first_waiter() {
    let gate = Arc::new(Gate::new(limits(1, 4, 25)));
    let slot = gate.admit(Instant::now()).await.unwrap();
    let waiting = tokio::spawn({
        let gate = Arc::clone(&gate);
        async move { gate.admit(Instant::now()).await.map(drop) }
    });
    wait_until_queued(&gate, 1).await;
    drop(slot);
    assert_eq!(waiting.await.unwrap(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_request_that_arrived_before_the_budget_ran_out_is_not_admitted_late() {
    let gate = Gate::new(limits(1, 4, 25));
    let _slot = gate.admit(Instant::now()).await.unwrap();
    // It arrived 30 ms ago (it waited in the runtime before the gate ran).
    let arrived = Instant::now() - Duration::from_millis(30);
    assert_eq!(
        gate.admit(arrived).await.unwrap_err(),
        refused(Limit::QueueWait, 25)
    );
}

#[tokio::test(start_paused = true)]
async fn zero_slots_turn_admission_control_off() {
    let gate = Gate::new(limits(0, 0, 0));
    let held: Vec<_> = admit_many(&gate, 1_000).await;
    assert_eq!(held.len(), 1_000);
}

async fn admit_many(gate: &Gate, n: usize) -> Vec<super::Admitted> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(gate.admit(Instant::now()).await.unwrap());
    }
    held
}

/// Polls (yielding to the spawned waiter) until `n` requests wait.
async fn wait_until_queued(gate: &Gate, n: usize) {
    for _ in 0..10_000 {
        if gate.queued_now() == n {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("{n} requests never queued");
}

#[test]
fn a_client_past_its_rate_is_refused_until_its_bucket_refills() {
    let gate = Gate::new(AdmissionConfig {
        client_requests_per_s_max: 2,
        client_burst_requests_max: 2,
        ..AdmissionConfig::default()
    });
    let t0 = Instant::now();
    assert!(gate.take_client("a", t0).is_ok());
    assert!(gate.take_client("a", t0).is_ok());
    assert_eq!(
        gate.take_client("a", t0).unwrap_err(),
        Refused {
            limit: Limit::ClientRate,
            value: 2,
            retry_after_s: 1
        }
    );
    assert!(gate.take_client("b", t0).is_ok(), "each client has its own");
    assert!(
        gate.take_client("a", t0 + Duration::from_millis(500))
            .is_ok()
    );
    assert!(
        gate.take_client("a", t0 + Duration::from_millis(500))
            .is_err()
    );
}

#[test]
fn without_a_client_rate_no_client_is_limited() {
    let gate = Gate::new(AdmissionConfig::default());
    let t0 = Instant::now();
    assert!((0..10_000).all(|_| gate.take_client("a", t0).is_ok()));
}

#[test]
fn limits_beyond_their_bounds_are_refused_by_name() {
    let huge = AdmissionConfig {
        requests_in_flight_max: 2_000_000,
        ..AdmissionConfig::default()
    };
    assert!(huge.check().unwrap_err().contains("requests_in_flight_max"));
    let slow = AdmissionConfig {
        latency_target_ms: 120_000,
        ..AdmissionConfig::default()
    };
    assert!(slow.check().unwrap_err().contains("latency_target_ms"));
    let over = AdmissionConfig {
        cpu_percent_max: 101,
        ..AdmissionConfig::default()
    };
    assert!(over.check().unwrap_err().contains("cpu_percent_max"));
    let long = AdmissionConfig {
        queue_wait_ms_max: 120_000,
        ..AdmissionConfig::default()
    };
    assert!(
        long.check()
            .unwrap_err()
            .contains("QUEUE_WAIT_MS_LIMIT_MAX")
    );
    assert_eq!(AdmissionConfig::default().check(), Ok(()));
}

// Through the router: what a refused update answers and that it changed
// nothing.

const PROJECT: &str = "shop";

struct Api {
    state: AppState,
    token: String,
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Api {
    async fn new(admission: AdmissionConfig) -> Self {
        let store = Arc::new(MemoryStore::new());
        create_client(
            &*store,
            "merchant",
            &Secret::from("s3cret-merchant"),
            "manage_project:shop",
            0,
        )
        .unwrap();
        let state = AppState::new(
            store,
            ApiConfig {
                admission,
                ..ApiConfig::default()
            },
        );
        let mut api = Self {
            state,
            token: String::new(),
        };
        let request =
            Request::post("/oauth/token?grant_type=client_credentials&scope=manage_project:shop")
                .header(
                    header::AUTHORIZATION,
                    "Basic bWVyY2hhbnQ6czNjcmV0LW1lcmNoYW50",
                )
                .body(Body::empty())
                .unwrap();
        let reply = api.send(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        api.token = reply.body["access_token"].as_str().unwrap().to_owned();
        api
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = crate::router(self.state.clone())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(format!("/{PROJECT}{path}"))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        self.send(request).await
    }

    async fn create_payment(&self) -> String {
        let draft = json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 100}});
        let reply = self.call("POST", "/payments", Some(draft)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }
}

fn add_charge(version: u64) -> Value {
    json!({"version": version, "actions": [{"action": "addTransaction",
        "transaction": {"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 100}}}]})
}

#[tokio::test]
async fn an_update_refused_for_want_of_a_slot_answers_503_with_retry_after_and_writes_nothing() {
    let api = Api::new(limits(1, 0, 10)).await;
    let id = api.create_payment().await;
    let held = api.state.admission.admit(Instant::now()).await.unwrap();
    let path = format!("/payments/{id}");

    let reply = api.call("POST", &path, Some(add_charge(1))).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    assert!(reply.headers.contains_key("x-correlation-id"));
    assert_eq!(reply.body["statusCode"], 503);
    let error = &reply.body["errors"][0];
    assert_eq!(error["code"], "Overloaded");
    assert_eq!(error["limit"], "REQUESTS_IN_FLIGHT_MAX");
    assert_eq!(error["limitValue"], 1);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("REQUESTS_IN_FLIGHT_MAX")
    );

    drop(held);
    let read = api.call("GET", &path, None).await;
    assert_eq!(read.body["version"], 1, "the refused update wrote nothing");
    assert_eq!(read.body["transactions"], json!([]));
    let retried = api.call("POST", &path, Some(add_charge(1))).await;
    assert_eq!(
        retried.status,
        StatusCode::OK,
        "the same request, sent again"
    );
    assert_eq!(retried.body["version"], 2);
}

#[tokio::test]
async fn health_readiness_metrics_and_the_openapi_document_answer_while_every_slot_is_taken() {
    let api = Api::new(limits(1, 0, 10)).await;
    let _held = api.state.admission.admit(Instant::now()).await.unwrap();
    for path in ["/health", "/ready", "/metrics", "/openapi.json"] {
        let reply = api
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
    // The payment page and the tokenization API answer on their own
    // terms (here: an unknown page token, an unsigned request), not 503.
    for (method, path) in [
        ("GET", "/pay/no-such-token"),
        ("POST", "/tokenization/sale"),
        ("POST", "/shop/tokenization/recurring"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let reply = api.send(request).await;
        assert_ne!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
    }
    // Everything else is refused, also a path no route serves.
    for path in ["/shop/payments", "/oauth/token", "/shop/no-such-route"] {
        let reply = api
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
    }
}

#[test]
fn the_gate_covers_every_path_but_the_operational_ones_the_payment_page_and_tokenization() {
    for path in [
        "/health",
        "/ready",
        "/metrics",
        "/openapi.json",
        "/pay/abc",
        "/pay/abc/confirm",
        "/pay/assets/page.js",
        "/tokenization/sale",
        "/tokenization/recurring",
        "/shop/tokenization/sale",
        "/shop/tokenization/recurring",
    ] {
        assert!(!gated(path), "{path} is not gated");
    }
    for path in [
        "/",
        "/oauth/token",
        "/shop/payments",
        "/shop/payments/key=k",
        "/shop/messages",
        "/shop/orders",
        "/shop/subscriptions",
        "/webhooks/stripe/shop",
        "/healthz",
        "/metrics/extra",
        "/pay",
        "/tokenization",
        "/shop/tokenizationx/sale",
    ] {
        assert!(gated(path), "{path} is gated");
    }
}

#[tokio::test]
async fn every_refusal_by_one_limit_answers_the_same_json_with_its_own_correlation_id() {
    let api = Api::new(limits(1, 0, 10)).await;
    let _held = api.state.admission.admit(Instant::now()).await.unwrap();
    let first = api.call("GET", "/payments", None).await;
    let second = api.call("POST", "/payments", Some(json!({}))).await;
    for reply in [&first, &second] {
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(reply.headers[header::RETRY_AFTER], "1");
        assert_eq!(reply.body["errors"][0]["limit"], "REQUESTS_IN_FLIGHT_MAX");
    }
    assert_eq!(first.body, second.body);
    assert_ne!(
        first.headers["x-correlation-id"],
        second.headers["x-correlation-id"]
    );
}

#[tokio::test]
async fn a_refused_request_with_a_body_leaves_its_keep_alive_connection_usable() {
    let api = Api::new(limits(1, 0, 10)).await;
    let _held = api.state.admission.admit(Instant::now()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(crate::drain::serve_draining(
        listener,
        crate::router(api.state.clone()),
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
        std::num::NonZeroUsize::new(1).unwrap(),
    ));
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // The head first; the body only once the gate refused the request (a
    // body still on its way when the answer goes would make hyper close
    // the connection after it).
    let body = add_charge(1).to_string();
    let head = format!(
        "POST /{PROJECT}/payments/00000000-0000-4000-8000-000000000000 HTTP/1.1\r\n\
         host: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let gate = &api.state.admission;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while gate.refused_by_slots.load(Ordering::Acquire) == 0 {
        assert!(std::time::Instant::now() < deadline, "never refused");
        tokio::task::yield_now().await;
    }
    let request = body.as_bytes();
    let (head, answer) = crate::test_http::exchange_raw(&mut stream, request).await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(answer.contains("REQUESTS_IN_FLIGHT_MAX"), "{answer}");
    assert!(!head.contains("connection: close"), "{head}");
    let (head, _) = crate::test_http::exchange(&mut stream, "/health").await;
    assert!(
        head.starts_with("http/1.1 200"),
        "the same connection answers the next request: {head}"
    );
    drop(stream);
    stop.send(()).unwrap();
    assert_eq!(served.await.unwrap().unwrap().connections_cut, 0);
}

#[test]
fn a_refusal_answers_what_the_error_mapping_makes_of_it_and_each_limit_its_own() {
    let gate = Gate::new(AdmissionConfig::default());
    let limits = [
        Limit::RequestsInFlight,
        Limit::RequestsQueued,
        Limit::QueueWait,
        Limit::ClientRate,
        Limit::CpuPercent,
    ];
    for (n, limit) in limits.into_iter().enumerate() {
        assert_eq!(limit.index(), n);
        for value in [7, 7, 8] {
            let refusal = Refused {
                limit,
                value,
                retry_after_s: 3,
            };
            let error = crate::ApiError::from(refusal);
            let expected = serde_json::to_vec(&error.body()).unwrap();
            let (status, body) = gate.refusal_body(refusal);
            assert_eq!(status, error.status, "{limit:?}");
            assert_eq!(body.as_ref(), expected.as_slice(), "{limit:?} {value}");
            let parsed: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(parsed["errors"][0]["limit"], limit.name());
            assert_eq!(parsed["errors"][0]["limitValue"], value);
        }
    }
}

#[tokio::test]
async fn a_refusal_echoes_the_correlation_id_the_client_sent() {
    let api = Api::new(limits(1, 0, 10)).await;
    let _held = api.state.admission.admit(Instant::now()).await.unwrap();
    let request = Request::get(format!("/{PROJECT}/payments"))
        .header("x-correlation-id", "checkout-42")
        .body(Body::empty())
        .unwrap();
    let reply = api.send(request).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers["x-correlation-id"], "checkout-42");
}

// Paused: the bucket refills by tokio's clock, which does not move here.
#[tokio::test(start_paused = true)]
async fn a_client_past_its_configured_rate_gets_429_with_retry_after_and_nothing_is_written() {
    let api = Api::new(AdmissionConfig {
        client_requests_per_s_max: 1,
        client_burst_requests_max: 2,
        ..AdmissionConfig::default()
    })
    .await;
    // The bucket of two: a create, then the update is one too many.
    let id = api.create_payment().await;
    let path = format!("/payments/{id}");
    let read = api.call("GET", &path, None).await;
    assert_eq!(read.status, StatusCode::OK);
    let reply = api.call("POST", &path, Some(add_charge(1))).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    assert_eq!(reply.body["errors"][0]["code"], "TooManyRequests");
    assert_eq!(
        reply.body["errors"][0]["limit"],
        "CLIENT_REQUESTS_PER_S_MAX"
    );
    let payment = api
        .state
        .ledger
        .get(
            &payledger_domain::ProjectKey::parse(PROJECT).unwrap(),
            &crate::payments::target(&id).unwrap(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(payment.version, 1, "the refused update wrote nothing");
}
