//! The OpenAPI document against the real server: `deploy/openapi.yaml` is
//! valid OpenAPI (openapi-spec-validator), `GET /openapi.json` serves it,
//! and real answers of payledger's routes, its extensions above all
//! (history, analytics, Subscriptions and their health, refresh, webhooks
//! intake, orders and their flows, the payment page, tokenization, health,
//! readiness, metrics), match the documented statuses, content types and
//! schemas (`tests/openapi/check.py`). The copy of the commercetools
//! schemas in the document equals the vendor's (`vendor_schemas.py`).

use payledger_e2e::{Server, create_client, python};
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const PROJECT: &str = "shop";
const WEBHOOK_SECRET: &str = "whsec_openapi_test";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Sends requests and records each exchange for check.py.
struct Recorder {
    http: Client,
    base: String,
    token: Option<String>,
    exchanges: Vec<Value>,
}

impl Recorder {
    /// Sends `request` (to `path`, for the record) and returns status and
    /// body text.
    fn send(&mut self, method: &str, path: &str, request: RequestBuilder) -> (u16, String) {
        let response = request.send().expect("HTTP request");
        let status = response.status().as_u16();
        let content_type = (response.headers().get("content-type"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().expect("response body");
        self.exchanges.push(json!({
            "method": method, "path": path, "status": status,
            "contentType": content_type, "body": body,
        }));
        (status, body)
    }

    /// A request with the bearer token (when there is one) and an
    /// optional JSON body.
    fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let method_value = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method_value, url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let (status, text) = self.send(method, path, request);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn anonymous(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let token = self.token.take();
        let answer = self.call(method, path, body);
        self.token = token;
        answer
    }
}

/// Whether a route for `path` is registered anywhere in the server's
/// sources (`GET /metrics` lands beside the document's issue).
fn registered(path: &str) -> bool {
    let needle = format!(".route(\"{path}\"");
    ["crates/payledger-api/src", "crates/payledger/src"]
        .iter()
        .any(|dir| contains_in_tree(&root().join(dir), &needle))
}

fn contains_in_tree(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).expect("read sources").any(|entry| {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            contains_in_tree(&path, needle)
        } else {
            std::fs::read_to_string(&path).is_ok_and(|text| text.contains(needle))
        }
    })
}

/// A PSP configuration whose Stripe nobody answers (port 9): the PSP
/// routes exist, and a call to Stripe fails at once. Nothing this module's
/// test does calls Stripe; the schema-driven test's generated requests may.
pub(crate) fn psp_config(dir: &Path, project: &str) -> String {
    let config = json!({"projects": {project: {"stripe": {
        "api_base_url": "http://127.0.0.1:9",
        "secret_key": "sk_test_openapi",
        "publishable_key": "pk_test_openapi",
        "webhook_secrets": [WEBHOOK_SECRET],
        "request_timeout_ms": 1000,
    }}}});
    let path = dir.join("psp.json");
    std::fs::write(&path, config.to_string()).expect("write the PSP config");
    path.to_str().expect("UTF-8 path").to_owned()
}

fn token(recorder: &mut Recorder, secret: &str) -> (u16, Value) {
    let path = "/oauth/token?grant_type=client_credentials&scope=manage_project:shop";
    let request = (recorder.http.post(format!("{}{path}", recorder.base)))
        .basic_auth("merchant", Some(secret));
    let (status, text) = recorder.send("POST", path, request);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn exercise(recorder: &mut Recorder) {
    for path in ["/health", "/ready", "/openapi.json"] {
        assert_eq!(recorder.anonymous("GET", path, None).0, 200, "{path}");
    }
    if registered("/metrics") {
        assert_eq!(recorder.anonymous("GET", "/metrics", None).0, 200);
    }
    assert_eq!(token(recorder, "wrong").0, 401);
    let (status, issued) = token(recorder, "s3cret-merchant");
    assert_eq!(status, 200);
    recorder.token = Some(issued["access_token"].as_str().expect("token").to_owned());
    assert_eq!(recorder.anonymous("GET", "/shop/payments", None).0, 401);

    payments(recorder);
    subscriptions(recorder);
    orders(recorder);
    psp_routes(recorder);
}

fn payments(r: &mut Recorder) {
    let draft = json!({"key": "oa-1",
        "amountPlanned": {"currencyCode": "EUR", "centAmount": 4200},
        "paymentMethodInfo": {"paymentInterface": "invoice", "method": "bank"},
        "transactions": [{"type": "Charge", "state": "Success",
            "amount": {"currencyCode": "EUR", "centAmount": 4200}}]});
    let (status, payment) = r.call("POST", "/shop/payments", Some(&draft));
    assert_eq!(status, 201, "{payment}");
    let id = payment["id"].as_str().expect("id").to_owned();
    let update = json!({"version": 1, "actions": [
        {"action": "setStatusInterfaceCode", "interfaceCode": "paid"}]});
    assert_eq!(
        r.call("POST", "/shop/payments/key=oa-1", Some(&update)).0,
        200
    );
    assert_eq!(r.call("POST", "/shop/payments", Some(&json!({}))).0, 400);
    for (method, path, status) in [
        ("GET", "/shop/payments?where=key%3D%22oa-1%22", 200),
        ("HEAD", "/shop/payments?where=key%3D%22oa-1%22", 200),
        ("GET", &format!("/shop/payments/{id}"), 200),
        ("GET", "/shop/payments/key=oa-1?asOfVersion=1", 200),
        ("GET", "/shop/payments/key=missing", 404),
        ("GET", "/shop/payments/key=oa-1/events", 200),
        ("GET", &format!("/shop/payments/{id}/events?limit=1"), 200),
        ("GET", "/shop/payments/key=oa-1/events?fromVersion=0", 400),
        ("POST", "/shop/payments/key=oa-1/refresh", 200),
        (
            "GET",
            "/shop/analytics/transactions?from=2025-01-01&to=2034-12-31",
            200,
        ),
        (
            "GET",
            "/shop/analytics/transactions?from=2025-01-01&to=2034-12-31&groupBy=day,currency,psp,type,state",
            200,
        ),
        (
            "GET",
            "/shop/analytics/transactions?from=2025-01-01&to=2034-12-31&groupBy=day",
            400,
        ),
        ("GET", "/shop/types", 200),
        ("GET", "/shop/states", 200),
    ] {
        assert_eq!(r.call(method, path, None).0, status, "{method} {path}");
    }
    let (status, messages) = r.call("GET", "/shop/messages?limit=2", None);
    assert_eq!(status, 200);
    let message = messages["results"][0]["id"].as_str().expect("a message");
    let message_path = format!("/shop/messages/{message}");
    assert_eq!(r.call("GET", &message_path, None).0, 200);
    assert_eq!(r.call("HEAD", &message_path, None).0, 200);
}

fn subscriptions(r: &mut Recorder) {
    let draft = json!({"key": "oa-hook",
        "destination": {"type": "HTTP", "url": "http://127.0.0.1:9/hook",
            "secret": "whsec_subscription_secret"},
        "messages": [{"resourceTypeId": "payment"}]});
    assert_eq!(r.call("POST", "/shop/subscriptions", Some(&draft)).0, 201);
    assert_eq!(r.call("GET", "/shop/subscriptions", None).0, 200);
    assert_eq!(
        r.call("GET", "/shop/subscriptions/key=oa-hook", None).0,
        200
    );
    let (status, _) = r.anonymous("GET", "/shop/subscriptions/key=oa-hook/health", None);
    assert!(matches!(status, 200 | 503), "{status}");
    assert_eq!(
        r.anonymous("GET", "/shop/subscriptions/key=none/health", None)
            .0,
        404
    );
    // Resuming deliveries that are not stopped changes nothing.
    let resume = json!({"version": 1, "actions": [{"action": "resumeDeliveries"}]});
    let (status, resumed) = r.call("POST", "/shop/subscriptions/key=oa-hook", Some(&resume));
    assert_eq!((status, &resumed["version"]), (200, &json!(1)));
    assert_eq!(
        r.call("DELETE", "/shop/subscriptions/key=oa-hook?version=1", None)
            .0,
        200
    );
}

fn orders(r: &mut Recorder) {
    let draft = json!({"orderNumber": "OA-1",
        "totalPrice": {"currencyCode": "EUR", "centAmount": 4200}, "customerEmail": "ann@example.com"});
    let (status, _) = r.call("POST", "/shop/orders", Some(&draft));
    assert_eq!(status, 201);
    let (_, payment) = r.call("GET", "/shop/payments/key=oa-1", None);
    let add = json!({"version": 1, "actions": [{"action": "addPayment",
        "payment": {"typeId": "payment", "id": payment["id"]}}]});
    assert_eq!(
        r.call("POST", "/shop/orders/order-number=OA-1", Some(&add))
            .0,
        200
    );
    for (path, status) in [
        ("/shop/orders?where=paymentState%20%3D%20%22Paid%22", 200),
        ("/shop/orders/order-number=OA-1", 200),
        ("/shop/orders/order-number=OA-1/events", 200),
        ("/shop/orders/order-number=none", 404),
    ] {
        assert_eq!(r.call("GET", path, None).0, status, "{path}");
    }
}

fn psp_routes(r: &mut Recorder) {
    let retry = json!({"payment_method": {"payment_provider_slug": "nope",
        "integration_type": "card", "action": "paymentPage", "return_url": "https://shop.example/r"}});
    assert_eq!(
        r.call("POST", "/shop/orders/OA-1/retry-payment", Some(&retry))
            .0,
        400
    );
    assert_eq!(
        r.call("POST", "/shop/orders/OA-1/collect-payment", None).0,
        400
    );
    // An unsigned webhook is refused and records nothing.
    let event = json!({"id": "evt_1", "type": "payment_intent.succeeded"});
    assert_eq!(
        r.anonymous("POST", "/webhooks/stripe/shop", Some(&event)).0,
        400
    );
    assert_eq!(r.anonymous("GET", "/pay/not-a-link", None).0, 404);
    assert_eq!(
        r.anonymous("POST", "/pay/not-a-link/confirm", Some(&json!({})))
            .0,
        404
    );
    assert_eq!(r.anonymous("GET", "/pay/assets/page.js", None).0, 200);
    assert_eq!(r.anonymous("GET", "/pay/assets/page.css", None).0, 200);
    let envelope = json!({"request": "{}", "signature": "AAAA"});
    assert_eq!(
        r.anonymous("POST", "/tokenization/sale", Some(&envelope)).0,
        400
    );
    assert_eq!(
        r.anonymous("POST", "/shop/tokenization/recurring", Some(&json!({})))
            .0,
        400
    );
}

fn run_python(args: &[&Path]) -> (bool, String) {
    let output = Command::new(python())
        .args(args)
        .output()
        .expect("run python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn the_document_is_valid_openapi_and_real_answers_match_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    create_client(&data, "merchant", "s3cret-merchant", "manage_project:shop");
    let config = psp_config(dir.path(), PROJECT);
    let server = Server::start_with(&data, &["--psp-config", &config]);
    let mut recorder = Recorder {
        http: Client::new(),
        base: server.url().to_owned(),
        token: None,
        exchanges: Vec::new(),
    };
    exercise(&mut recorder);

    let served = (recorder.exchanges.iter())
        .find(|e| e["path"] == "/openapi.json")
        .and_then(|e| e["body"].as_str())
        .expect("the document was fetched")
        .to_owned();
    let served_path = dir.path().join("served.json");
    std::fs::write(&served_path, served).expect("write served.json");
    let exchanges_path = dir.path().join("exchanges.json");
    std::fs::write(
        &exchanges_path,
        Value::Array(recorder.exchanges).to_string(),
    )
    .expect("write exchanges.json");
    let (ok, report) = run_python(&[
        &root().join("tests/openapi/check.py"),
        &root().join("deploy/openapi.yaml"),
        &served_path,
        &exchanges_path,
    ]);
    println!("{report}");
    assert!(ok, "the answers or the document do not match:\n{report}");
}

#[test]
fn the_copied_commercetools_schemas_equal_the_vendors() {
    let vendor = root().join("../shared/conformance/commercetools/openapi.yaml");
    assert!(
        vendor.exists(),
        "{} is missing (shared/ beside the repository)",
        vendor.display()
    );
    let (ok, report) = run_python(&[
        &root().join("tests/openapi/vendor_schemas.py"),
        &vendor,
        &root().join("deploy/openapi.yaml"),
    ]);
    assert!(ok, "{report}");
}
