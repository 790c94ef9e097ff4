//! Orders paid at localstripe: retry-payment, the hosted payment page in a
//! real headless Chromium, and collect-payment (seeds 000 and 002), end to
//! end over the real binary.

use super::browser::Browser;
use super::{
    DEADLINE, PUBLISHABLE_KEY, Setup, add, get, localstripe, money, setup_configured, stripe, wait,
};
use payledger_webhooks::testing::{Mode as ReceiverMode, Receiver};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;

/// A shop's return page: records the query of every visit and answers a
/// small page, so a test learns that the shopper came back without
/// polling.
struct ReturnPage {
    url: String,
    visits: mpsc::Receiver<String>,
}

impl ReturnPage {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/return", listener.local_addr().expect("addr"));
        let (sender, visits) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let target = request_line.split_whitespace().nth(1).unwrap_or("");
                let found = target.starts_with("/return");
                if found {
                    let query = target.split_once('?').map_or("", |(_, q)| q);
                    let _ = sender.send(query.to_owned());
                }
                let (status, body) = if found {
                    (
                        "200 OK",
                        "<!doctype html><p id=\"returned\">Back at the shop</p>",
                    )
                } else {
                    ("404 Not Found", "")
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { url, visits }
    }

    /// The query of the shopper's return, within the deadline.
    fn visit(&self) -> String {
        self.visits
            .recv_timeout(DEADLINE)
            .expect("the shopper did not return to the shop in time")
    }
}

fn order(setup: &Setup, number: &str, cents: i64) -> Value {
    let reply = setup.api.post(
        "/orders",
        &json!({
            "orderNumber": number,
            "totalPrice": money(cents),
            "customerId": "customer-1",
            "customerEmail": "ada@example.com",
        }),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

fn read_order(setup: &Setup, number: &str) -> Value {
    let reply = setup.api.get(&format!("/orders/order-number={number}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

fn retry_body(return_url: &str, mandate: bool) -> Value {
    let mut method = json!({
        "payment_provider_slug": "stripe",
        "integration_type": "card",
        "return_url": return_url,
        "action": "paymentPage",
        "gateway_reference_id": "gw-7",
    });
    if mandate {
        method["mandate"] = json!({"frequency": "monthly", "max_amount": "500.00"});
    }
    json!({"payment_method": method})
}

fn retry(setup: &Setup, number: &str, body: &Value) -> payledger_e2e::Reply {
    setup
        .api
        .post(&format!("/orders/{number}/retry-payment"), body)
}

/// A retry that must succeed; its `content.payment_info`.
fn retried(setup: &Setup, number: &str, body: &Value) -> Value {
    let reply = retry(setup, number, body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], true);
    reply.body["content"]["payment_info"].clone()
}

/// What the page's script does without a browser: a card token from the
/// PSP's browser API (with the publishable key), confirmed on the page's
/// confirm route.
fn pay_without_browser(link: &str, number: &str) -> Value {
    let token = stripe(
        reqwest::Method::POST,
        "/v1/tokens",
        &[
            ("card[number]", number),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
            ("key", PUBLISHABLE_KEY),
        ],
    );
    let reply = reqwest::blocking::Client::new()
        .post(format!("{link}/confirm"))
        .json(&json!({"token": token["id"]}))
        .send()
        .expect("confirm");
    assert_eq!(reply.status(), 200);
    reply.json().expect("confirm JSON")
}

/// Fills the page's card fields (localstripe's Stripe.js renders plain
/// inputs) and pays.
fn pay_in_browser(browser: &Browser, link: &str, number: &str) {
    browser.open(link);
    browser
        .find("#card input[placeholder=number]")
        .type_text(number);
    browser
        .find("#card input[placeholder=exp_month]")
        .type_text("12");
    browser
        .find("#card input[placeholder=exp_year]")
        .type_text("30");
    browser
        .find("#card input[placeholder=cvc]")
        .type_text("123");
    browser
        .find("#card input[placeholder=postal_code]")
        .type_text("10115");
    browser.find("#pay-button").click();
}

#[test]
fn the_hosted_page_takes_a_card_in_chromium_and_returns_the_shopper_paid() {
    let setup = setup_configured("orders-page", localstripe(), json!({}));
    let shop = ReturnPage::start();
    order(&setup, "PAGE-1", 4_200);
    let info = retried(&setup, "PAGE-1", &retry_body(&shop.url, false));
    let link = info["payment_links"]["web"].as_str().expect("link");
    assert!(link.starts_with(setup.server.url()), "{link}");

    let page = reqwest::blocking::get(link).expect("page");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("CSP")
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().expect("HTML");
    assert!(
        html.contains("PAGE-1") && html.contains("42.00 EUR"),
        "{html}"
    );
    assert!(!html.contains("sk_test"), "no secret key in the page");
    assert!(!html.contains("<script>"), "no inline script");

    // The order's Messages reach a Subscription to orders.
    const SECRET: &str = "orders-page-receiver-secret";
    let receiver = Receiver::start(SECRET, ReceiverMode::Accept).expect("receiver");
    let subscribed = setup.api.post(
        "/subscriptions",
        &json!({
            "destination": {"type": "HTTP", "url": receiver.url(), "secret": SECRET},
            "messages": [{"resourceTypeId": "order", "types": ["OrderPaymentStateChanged"]}],
        }),
    );
    assert_eq!(subscribed.status, 201, "{}", subscribed.body);

    let browser = Browser::start();
    pay_in_browser(&browser, link, "4242424242424242");
    let query = shop.visit();
    assert!(query.contains("order_number=PAGE-1"), "{query}");
    assert!(query.contains("status=succeeded"), "{query}");
    let landed = browser.find("#returned");
    assert_eq!(landed.text(), "Back at the shop");
    assert!(browser.url().starts_with(&shop.url));

    let order = read_order(&setup, "PAGE-1");
    assert_eq!(order["paymentState"], "Paid", "{order:#}");
    assert_eq!(order["totalOutstanding"]["centAmount"], 0);
    // The consumer announces the new state: only order Messages of the
    // type asked for arrive.
    receiver.wait_until(DEADLINE, |received| {
        received.iter().any(|r| r.json()["paymentState"] == "Paid")
    });
    for delivery in receiver.received() {
        let message = delivery.json();
        assert_eq!(message["type"], "OrderPaymentStateChanged", "{message}");
        assert_eq!(message["resource"]["typeId"], "order");
        assert_eq!(message["resource"]["id"], order["id"]);
    }
    // Paid: the link now says so instead of taking another card.
    let again = reqwest::blocking::get(link).expect("page");
    assert_eq!(again.status(), 200);
    assert!(again.text().expect("HTML").contains("is paid"));
}

#[test]
fn a_three_d_secure_card_completes_the_dialog_in_chromium() {
    let setup = setup_configured("orders-3ds", localstripe(), json!({}));
    let shop = ReturnPage::start();
    order(&setup, "3DS-1", 1_999);
    let info = retried(&setup, "3DS-1", &retry_body(&shop.url, false));
    let link = info["payment_links"]["web"].as_str().expect("link");
    let browser = Browser::start();
    pay_in_browser(&browser, link, "4000002500003155");
    browser
        .find_xpath("//button[text()='Complete authentication']")
        .click();
    let query = shop.visit();
    assert!(query.contains("status=succeeded"), "{query}");
    let order = read_order(&setup, "3DS-1");
    assert_eq!(order["paymentState"], "Paid", "{order:#}");
}

#[test]
fn an_expired_link_answers_410_and_a_retry_cancels_the_old_intent_at_stripe() {
    // The project expires unfinished attempts at once.
    let setup = setup_configured("orders-expiry", localstripe(), json!({"retry_after_ms": 0}));
    let shop = ReturnPage::start();
    order(&setup, "EXP-1", 1_000);
    let first = retried(&setup, "EXP-1", &retry_body(&shop.url, false));
    let link = first["payment_links"]["web"].as_str().expect("link");
    let gone = reqwest::blocking::get(link).expect("page");
    assert_eq!(gone.status(), 410);
    assert!(gone.text().expect("HTML").contains("expired"));

    let second = retried(&setup, "EXP-1", &retry_body(&shop.url, false));
    assert_ne!(second["id"], first["id"]);
    let old_intent = first["sdk_payload"]["requestId"].as_str().expect("intent");
    let intent = stripe(
        reqwest::Method::GET,
        &format!("/v1/payment_intents/{old_intent}"),
        &[],
    );
    assert_eq!(intent["status"], "canceled", "{intent:#}");
    let expired = get(&setup.api, first["id"].as_str().expect("id"));
    assert_eq!(
        expired["transactions"][0]["state"], "Failure",
        "{expired:#}"
    );
    let order = read_order(&setup, "EXP-1");
    assert_eq!(
        order["paymentInfo"]["payments"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn retry_rules_over_http_decline_refusal_concurrency_and_idempotency() {
    let setup = setup_configured("orders-retry", localstripe(), json!({}));
    order(&setup, "R-1", 2_500);
    let body = retry_body("https://shop.example/return", false);
    let first = retried(&setup, "R-1", &body);
    let payload = &first["sdk_payload"]["payload"];
    assert_eq!(payload["amount"], "25.00");
    assert_eq!(payload["currency"], "EUR");
    assert_eq!(payload["merchantId"], PUBLISHABLE_KEY);
    assert_eq!(payload["environment"], "test");
    assert_eq!(payload["customerEmail"], "ada@example.com");
    assert!(
        payload["clientAuthToken"]
            .as_str()
            .is_some_and(|s| s.contains("_secret_"))
    );

    // An attempt in progress blocks a retry for 15 minutes.
    let early = retry(&setup, "R-1", &body);
    assert_eq!(early.status, 400, "{}", early.body);
    assert_eq!(early.body["errors"][0]["code"], "RetryNotYetAllowed");
    assert!(early.body["errors"][0]["retryAllowedFrom"].is_string());
    let wait_s: u64 = early.headers["retry-after"]
        .to_str()
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((890..=900).contains(&wait_s), "{wait_s}");

    // The shopper's card is declined: a retry is allowed at once.
    let link = first["payment_links"]["web"].as_str().expect("link");
    let declined = pay_without_browser(link, "4000000000000341");
    assert_eq!(declined["status"], "failed", "{declined}");
    let second = retried(&setup, "R-1", &body);
    assert_ne!(second["id"], first["id"]);

    // Bad requests name the field and change nothing.
    let mut unknown = body.clone();
    unknown["payment_method"]["payment_provider_slug"] = json!("adyen");
    let refused = retry(&setup, "R-1", &unknown);
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.body["errors"][0]["field"],
        "payment_method.payment_provider_slug"
    );
    let mut no_return = body.clone();
    no_return["payment_method"]
        .as_object_mut()
        .expect("object")
        .remove("return_url");
    let refused = retry(&setup, "R-1", &no_return);
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.body["errors"][0]["field"],
        "payment_method.return_url"
    );
    assert_eq!(
        read_order(&setup, "R-1")["paymentInfo"]["payments"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Two concurrent retries of a fresh order make one attempt.
    order(&setup, "R-2", 700);
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| retry(&setup, "R-2", &body));
        let b = scope.spawn(|| retry(&setup, "R-2", &body));
        (a.join().expect("a"), b.join().expect("b"))
    });
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{} {}", a.body, b.body);
    assert_eq!(
        read_order(&setup, "R-2")["paymentInfo"]["payments"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // The same Idempotency-Key replays the first answer.
    order(&setup, "R-3", 900);
    let keyed = |key: &str| {
        setup.api.post_with(
            "/orders/R-3/retry-payment",
            &body,
            &[("Idempotency-Key", key)],
        )
    };
    let original = keyed("retry-r3");
    assert_eq!(original.status, 200, "{}", original.body);
    let replay = keyed("retry-r3");
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.body, original.body);
}

/// A paid order with a saved card, refunded in part so a balance is due.
fn paid_then_partly_refunded(setup: &Setup, number: &str, mandate: bool) -> Value {
    order(setup, number, 10_000);
    let info = retried(
        setup,
        number,
        &retry_body("https://shop.example/r", mandate),
    );
    let link = info["payment_links"]["web"].as_str().expect("link");
    let paid = pay_without_browser(link, "4242424242424242");
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let payment = info["id"].as_str().expect("payment id");
    add(&setup.api, payment, "Refund", 3_000);
    wait(&setup.api, payment, "the refund", |p| {
        p["transactions"][1]["state"] == "Success"
    });
    let order = read_order(setup, number);
    assert_eq!(order["totalOutstanding"]["centAmount"], 3_000, "{order:#}");
    order
}

#[test]
fn collect_charges_the_balance_with_the_saved_card_off_session() {
    let setup = setup_configured("orders-collect", localstripe(), json!({}));
    let order = paid_then_partly_refunded(&setup, "COL-1", true);
    let reply = setup.api.post(
        "/orders/COL-1/collect-payment?send_payment_notification=true",
        &json!({}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = &reply.body;
    assert_eq!(answer["number"], "COL-1");
    assert_eq!(answer["payment_status"], "paid", "{answer:#}");
    assert_eq!(answer["total_outstanding"], "0.00");
    let transactions = answer["transactions"].as_array().expect("transactions");
    let collected = transactions.last().expect("the collected charge");
    assert_eq!(collected["amount"], "30.00");
    assert_eq!(collected["status"], "succeeded");
    assert_eq!(collected["payment_details"]["bankcard_last_four"], "4242");
    assert!(
        transactions
            .iter()
            .any(|t| t["type"] == "refund" && t["parent_id"].is_string())
    );
    assert_eq!(read_order(&setup, "COL-1")["paymentState"], "Paid");

    // The mailer's Message.
    let query = format!(
        "/messages?where={}",
        urlencode(&format!(
            r#"resource(id="{}") and type="PaymentNotificationRequested""#,
            order["id"].as_str().expect("order id")
        ))
    );
    let messages = setup.api.get(&query);
    assert_eq!(messages.status, 200, "{}", messages.body);
    let message = &messages.body["results"][0];
    assert_eq!(message["outcome"], "succeeded", "{:#}", messages.body);
    assert_eq!(message["customerEmail"], "ada@example.com");
    assert_eq!(message["amount"]["centAmount"], 3_000);

    // Nothing left to collect.
    let again = setup.api.post("/orders/COL-1/collect-payment", &json!({}));
    assert_eq!(again.status, 400, "{}", again.body);
}

#[test]
fn collect_refuses_a_card_not_saved_for_reuse() {
    let setup = setup_configured("orders-no-mandate", localstripe(), json!({}));
    paid_then_partly_refunded(&setup, "COL-2", false);
    let reply = setup.api.post("/orders/COL-2/collect-payment", &json!({}));
    assert_eq!(reply.status, 400, "{}", reply.body);
    let message = reply.body["message"].as_str().unwrap_or("");
    assert!(message.contains("off-session"), "{message}");
    assert_eq!(read_order(&setup, "COL-2")["paymentState"], "BalanceDue");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
