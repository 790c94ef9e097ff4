//! HTTP tests of Message queries through the real router over a real
//! RocksDB store, with a small `message_scan_events_max`: queries the
//! Message index narrows answer exactly what rendering every event of the
//! project and filtering it would; a query is served whole up to the limit
//! and refused past it with a 400 naming the limit; a query the index
//! narrows is served whole on a store holding far more than the limit.
//!
//! Every request goes through [`Api::call`], so a change to how the routes
//! are reached edits one helper.

// The helpers below run only inside tests; a failed step should panic.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use payledger_api::query::QuerySpec;
use payledger_api::request::QueryPairs;
use payledger_api::{ApiConfig, AppState};
use payledger_app::auth::{Secret, create_client};
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::EventStore;
use payledger_wire::json::MessageKeys;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt as _;

const CLIENT_ID: &str = "message-tests";
const CLIENT_SECRET: &str = "message-tests-secret";
/// The limit of these tests, in Messages.
const SCAN_MAX: usize = 12;

/// A server over a fresh RocksDB store, and a token for one client.
struct Api {
    router: Router,
    store: Arc<dyn EventStore>,
    token: String,
    _dir: tempfile::TempDir,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap())
        .unwrap()
}

impl Api {
    /// A server whose Message queries read at most [`SCAN_MAX`] Messages.
    async fn new() -> Self {
        Self::with_scan_max(SCAN_MAX).await
    }

    async fn with_scan_max(message_scan_events_max: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = RocksConfig {
            partitions_for_new_store: 4,
            ..RocksConfig::default()
        };
        let store: Arc<dyn EventStore> = Arc::new(RocksStore::open(dir.path(), &config).unwrap());
        let scope = "manage_project:shop manage_project:other";
        create_client(
            &*store,
            CLIENT_ID,
            &Secret::new(CLIENT_SECRET),
            scope,
            now_ms(),
        )
        .unwrap();
        let config = ApiConfig {
            message_scan_events_max,
            ..ApiConfig::default()
        };
        let router = payledger_api::router(AppState::new(Arc::clone(&store), config));
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
        let request = Request::post("/oauth/token")
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("grant_type=client_credentials"))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let token: Value = serde_json::from_slice(&body).unwrap();
        Self {
            router,
            store,
            token: token["access_token"].as_str().unwrap().to_owned(),
            _dir: dir,
        }
    }

    /// Sends a request with the bearer token; the body, if any, as JSON.
    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, json)
    }

    /// Posts `body` and returns the answer; fails the test unless 2xx.
    async fn post(&self, uri: &str, body: Value) -> Value {
        let (status, json) = self.call("POST", uri, Some(body)).await;
        assert!(status.is_success(), "{uri}: {status} {json}");
        json
    }

    /// A payment of `project`, then `updates` more Messages of it: keys
    /// set and changed, transactions added.
    async fn payment(&self, project: &str, n: usize, updates: usize) -> Value {
        let mut payment = self
            .post(
                &format!("/{project}/payments"),
                json!({"key": format!("p-{n}"), "amountPlanned": {"currencyCode": "EUR", "centAmount": 100}}),
            )
            .await;
        for u in 0..updates {
            let action = if u % 2 == 0 {
                json!({"action": "setKey", "key": format!("p-{n}-{u}")})
            } else {
                json!({"action": "addTransaction", "transaction": {"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 10}}})
            };
            let uri = format!("/{project}/payments/{}", payment["id"].as_str().unwrap());
            payment = self
                .post(
                    &uri,
                    json!({"version": payment["version"], "actions": [action]}),
                )
                .await;
        }
        payment
    }

    /// `GET /{project}/messages` with these query parameters.
    async fn messages(&self, project: &str, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
        let query = serde_urlencoded::to_string(pairs).unwrap();
        self.call("GET", &format!("/{project}/messages?{query}"), None)
            .await
    }

    /// What the query answers when every event of the project is rendered
    /// and the predicate, sort and page are applied to all of them.
    fn expected(&self, project: &str, pairs: &[(&str, &str)]) -> Value {
        let mut keys = MessageKeys::default();
        let mut all = Vec::new();
        for partition in 0..self.store.partition_count() {
            for event in self.store.read_log(partition, 1, usize::MAX).unwrap() {
                let message = keys.render(&event);
                if event.meta.project.as_str() == project {
                    all.push(message);
                }
            }
        }
        let pairs = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        QuerySpec::parse(&QueryPairs(pairs))
            .unwrap()
            .page(all)
            .unwrap()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn error_message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

#[test]
fn a_query_is_served_whole_up_to_the_limit_and_refused_past_it_naming_the_limit() {
    runtime().block_on(async {
        let api = Api::new().await;
        // Another project's Messages never count against this one's.
        for n in 0..4 {
            api.payment("other", n, 5).await;
        }
        for n in 0..3 {
            api.payment("shop", n, 3).await;
        }
        let (status, page) = api.messages("shop", &[]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], SCAN_MAX, "exactly the limit is served");

        api.payment("shop", 3, 0).await;
        let (status, refused) = api.messages("shop", &[("withTotal", "false")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["errors"][0]["code"], "InvalidInput");
        let message = error_message(&refused);
        assert!(
            message.contains(&format!("MESSAGE_SCAN_EVENTS_MAX = {SCAN_MAX}"))
                && message.contains("narrow it by type or createdAt"),
            "{message}"
        );

        // Narrowed by type, the same project is served whole again.
        let by_type = [("where", r#"type in ("PaymentCreated", "PaymentKeySet")"#)];
        let (status, page) = api.messages("shop", &by_type).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 4 + 3 * 2);
        assert_eq!(page, api.expected("shop", &by_type));
    });
}

#[test]
fn a_query_by_type_and_time_is_served_whole_on_a_store_far_past_the_limit() {
    runtime().block_on(async {
        let api = Api::new().await;
        for n in 0..12 {
            api.payment("shop", n, 4).await;
        }
        let (status, _) = api.messages("shop", &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "60 Messages, limit 12");
        let by_type = [
            ("where", r#"type = "PaymentCreated""#),
            ("sort", "createdAt desc"),
            ("limit", "5"),
            ("offset", "2"),
        ];
        let (status, page) = api.messages("shop", &by_type).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 12);
        assert_eq!(page, api.expected("shop", &by_type));

        // A type with more Messages than the limit: refused, whole, with
        // the way to narrow it.
        let (status, refused) = api
            .messages("shop", &[("where", r#"type = "PaymentKeySet""#)])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(
            error_message(&refused).contains("narrow its createdAt range"),
            "{refused}"
        );
        let (_, created) = api
            .messages(
                "shop",
                &[
                    ("where", r#"type = "PaymentCreated""#),
                    ("sort", "createdAt asc"),
                    ("limit", "500"),
                ],
            )
            .await;
        let sixth = created["results"][5]["createdAt"]
            .as_str()
            .unwrap()
            .to_owned();
        let recent = format!(r#"type = "PaymentCreated" and createdAt >= "{sixth}""#);
        let by_time = [("where", recent.as_str())];
        let (status, page) = api.messages("shop", &by_time).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page, api.expected("shop", &by_time));
        assert!(page["total"].as_u64().unwrap() >= 7);
    });
}

/// Random predicates over the Message fields: what the index narrows
/// (`type`, `createdAt`) mixed with what it must leave to the evaluation
/// (`or`, `not`, other fields).
fn predicate(created: Vec<String>) -> impl Strategy<Value = String> {
    let types = [
        "PaymentCreated",
        "PaymentKeySet",
        "PaymentTransactionAdded",
        "OrderCreated",
        "Nothing",
    ];
    let created = proptest::sample::select(created);
    let at = (created, 0..=25usize, 0..3usize).prop_map(|(text, cut, tail)| {
        format!(
            "{}{}",
            &text[..cut.min(text.len())],
            ["", "~", "\\u0001"][tail]
        )
    });
    let op = proptest::sample::select(vec!["=", "<", "<=", ">", ">=", "!="]);
    let ty = proptest::sample::select(types.to_vec());
    let conjunct = prop_oneof![
        ty.clone().prop_map(|t| format!(r#"type = "{t}""#)),
        (ty.clone(), ty.clone()).prop_map(|(a, b)| format!(r#"type in ("{a}", "{b}")"#)),
        (op, at).prop_map(|(op, at)| format!(r#"createdAt {op} "{at}""#)),
        (0..4u64).prop_map(|n| format!("sequenceNumber > {n}")),
        ty.clone()
            .prop_map(|t| format!(r#"(type = "{t}" or sequenceNumber = 1)"#)),
        ty.prop_map(|t| format!(r#"not(type = "{t}")"#)),
        Just(r#"resource(typeId = "order")"#.to_owned()),
    ];
    proptest::collection::vec(conjunct, 1..4).prop_map(|parts| parts.join(" and "))
}

#[test]
fn indexed_queries_answer_what_filtering_every_message_of_the_project_answers() {
    let rt = runtime();
    let api = rt.block_on(async {
        // Limits are the business of the tests above.
        let api = Api::with_scan_max(1_000).await;
        for n in 0..8 {
            api.payment(if n % 3 == 0 { "other" } else { "shop" }, n, n % 4)
                .await;
        }
        for n in 0..2 {
            api.post(
                "/shop/orders",
                json!({"orderNumber": format!("O-{n}"), "totalPrice": {"currencyCode": "EUR", "centAmount": 100}}),
            )
            .await;
        }
        api
    });
    let (_, all) = rt.block_on(api.messages("shop", &[("where", "sequenceNumber = 1")]));
    let created: Vec<String> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["createdAt"].as_str().unwrap().to_owned())
        .collect();
    let mut runner = TestRunner::new(Config::with_cases(96));
    runner
        .run(&(predicate(created), 0..3usize), |(predicate, sort)| {
            let sort = ["createdAt desc", "type asc", "sequenceNumber asc"][sort];
            let pairs = [
                ("where", predicate.as_str()),
                ("sort", sort),
                ("limit", "7"),
            ];
            let (status, page) = rt.block_on(api.messages("shop", &pairs));
            prop_assert_eq!(status, StatusCode::OK, "{} {}", predicate, page);
            prop_assert_eq!(page, api.expected("shop", &pairs), "{}", predicate);
            Ok(())
        })
        .unwrap();
}
