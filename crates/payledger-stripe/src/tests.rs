//! The connector against a scripted HTTP server: what it sends, how it
//! reads answers, and how failures map.

use super::*;
use payledger_psp::{CaptureMethod, IntentStatus, RefundStatus};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

/// A request as the scripted server saw it.
#[derive(Debug)]
struct Seen {
    line: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// One scripted answer: status, extra headers, body.
type Answer = (u16, Vec<(&'static str, &'static str)>, String);

/// Serves `answers` in order, one connection each, and reports requests.
fn scripted(answers: Vec<Answer>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (status, headers, body) in answers {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut seen_headers = BTreeMap::new();
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap();
                seen_headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
            }
            let length: usize = seen_headers
                .get("content-length")
                .map_or(0, |v| v.parse().unwrap());
            let mut request_body = vec![0; length];
            reader.read_exact(&mut request_body).unwrap();
            let _ = tx.send(Seen {
                line: line.trim_end().to_owned(),
                headers: seen_headers,
                body: String::from_utf8(request_body).unwrap(),
            });
            let mut stream = stream;
            let mut response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            stream.write_all(response.as_bytes()).unwrap();
        }
    });
    (url, rx)
}

fn connector(url: &str) -> StripeConnector {
    let mut settings = StripeSettings::new(url, Secret::new("sk_test_key"));
    settings.request_timeout_ms = 2_000;
    settings.find_pages_max = 3;
    StripeConnector::new(&settings).unwrap()
}

fn intent_json(id: &str, status: &str, txn: &str) -> String {
    format!(
        r#"{{"id":"{id}","object":"payment_intent","status":"{status}","amount":4200,
        "currency":"eur","capture_method":"manual","client_secret":"{id}_secret_x",
        "latest_charge":{{"id":"ch_1","object":"charge"}},"customer":"cus_1",
        "next_action":null,"last_payment_error":null,
        "metadata":{{"payledger_transaction_id":"{txn}"}}}}"#
    )
}

fn ok(body: String) -> Answer {
    (200, Vec::new(), body)
}

fn create_request() -> CreateIntent {
    CreateIntent {
        amount: 4200,
        currency: "EUR".into(),
        payment_method: Some("pm_card_visa".into()),
        payment_method_types: vec!["card".into()],
        customer: Some("cus_1".into()),
        capture_method: CaptureMethod::Manual,
        confirm: false,
        off_session: false,
        metadata: BTreeMap::from([("payledger_transaction_id".into(), "t-1".into())]),
        idempotency_key: "payledger-t-1-create".into(),
    }
}

#[tokio::test]
async fn create_sends_a_form_with_key_and_reads_expanded_fields() {
    let (url, seen) = scripted(vec![ok(intent_json(
        "pi_1",
        "requires_confirmation",
        "t-1",
    ))]);
    let intent = connector(&url)
        .create_payment_intent(&create_request())
        .await
        .unwrap();
    assert_eq!(intent.id, "pi_1");
    assert_eq!(intent.status, IntentStatus::RequiresConfirmation);
    assert_eq!(intent.latest_charge.as_deref(), Some("ch_1"));
    assert_eq!(intent.customer.as_deref(), Some("cus_1"));
    assert_eq!(intent.client_secret.unwrap().expose(), "pi_1_secret_x");
    assert_eq!(intent.metadata["payledger_transaction_id"], "t-1");
    let request = seen.recv().unwrap();
    assert_eq!(request.line, "POST /v1/payment_intents HTTP/1.1");
    assert_eq!(request.headers["authorization"], "Bearer sk_test_key");
    assert_eq!(request.headers["idempotency-key"], "payledger-t-1-create");
    assert_eq!(
        request.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        request.body,
        "amount=4200&currency=eur&capture_method=manual&confirm=false\
         &payment_method_types%5B0%5D=card&payment_method=pm_card_visa&customer=cus_1\
         &metadata%5Bpayledger_transaction_id%5D=t-1"
    );
}

#[tokio::test]
async fn error_bodies_map_to_typed_failures() {
    let declined = r#"{"error":{"type":"card_error","code":"card_declined",
        "decline_code":"insufficient_funds","message":"Your card has insufficient funds.",
        "payment_intent":{"id":"pi_9","object":"payment_intent"}}}"#;
    let answers: Vec<Answer> = vec![
        (402, vec![], declined.into()),
        (
            401,
            vec![],
            r#"{"error":{"type":"invalid_request_error"}}"#.into(),
        ),
        (
            429,
            vec![],
            r#"{"error":{"type":"invalid_request_error"}}"#.into(),
        ),
        (500, vec![], "oops".into()),
        (
            404,
            vec![],
            r#"{"error":{"type":"invalid_request_error","code":"resource_missing"}}"#.into(),
        ),
        (
            409,
            vec![("stripe-should-retry", "false")],
            r#"{"error":{"type":"invalid_request_error"}}"#.into(),
        ),
        ok(r#"{"id":"pi_1","status":"requires_source","amount":1,"currency":"eur"}"#.into()),
    ];
    let (url, _seen) = scripted(answers);
    let stripe = connector(&url);
    let mut results = Vec::new();
    for _ in 0..7 {
        results.push(stripe.retrieve_payment_intent("pi_1").await.unwrap_err());
    }
    assert_eq!(
        results[0],
        PspError::Declined {
            code: "card_declined".into(),
            decline_code: Some("insufficient_funds".into()),
            message: Some("Your card has insufficient funds.".into()),
            payment_intent: Some("pi_9".into()),
        }
    );
    assert_eq!(results[1], PspError::Authentication { status: 401 });
    assert_eq!(results[2], PspError::RateLimited);
    assert!(matches!(
        results[3],
        PspError::Api {
            status: Some(500),
            retryable: true,
            ..
        }
    ));
    assert!(results[4].is_not_found());
    assert!(matches!(
        results[5],
        PspError::Api {
            status: Some(409),
            retryable: false,
            ..
        }
    ));
    assert!(
        matches!(&results[6], PspError::Api { retryable: false, message, .. } if message.contains("requires_source"))
    );
}

#[tokio::test]
async fn find_falls_back_to_listing_when_there_is_no_search() {
    let page = |ids: &[(&str, &str)], more: bool| {
        let data: Vec<String> = ids
            .iter()
            .map(|(id, txn)| intent_json(id, "requires_capture", txn))
            .collect();
        ok(format!(
            r#"{{"object":"list","data":[{}],"has_more":{more}}}"#,
            data.join(",")
        ))
    };
    let answers = vec![
        (
            404,
            vec![],
            r#"{"error":{"type":"invalid_request_error","message":"Not Found"}}"#.into(),
        ),
        page(&[("pi_1", "a"), ("pi_2", "b")], true),
        page(&[("pi_3", "t-7")], false),
        // The second find goes straight to the list.
        page(&[("pi_1", "a")], false),
    ];
    let (url, seen) = scripted(answers);
    let stripe = connector(&url);
    let found = stripe.find_payment_intent("t-7").await.unwrap().unwrap();
    assert_eq!(found.id, "pi_3");
    assert!(stripe.find_payment_intent("t-8").await.unwrap().is_none());
    let lines: Vec<String> = seen.try_iter().map(|s| s.line).collect();
    assert!(lines[0].starts_with("GET /v1/payment_intents/search?query=metadata"));
    assert_eq!(lines[1], "GET /v1/payment_intents?limit=100 HTTP/1.1");
    assert_eq!(
        lines[2],
        "GET /v1/payment_intents?limit=100&starting_after=pi_2 HTTP/1.1"
    );
    assert_eq!(lines[3], "GET /v1/payment_intents?limit=100 HTTP/1.1");
}

#[tokio::test]
async fn refunds_name_a_charge_or_an_intent_and_read_their_status() {
    let refund = r#"{"id":"re_1","object":"refund","status":"succeeded","amount":500,
        "currency":"eur","charge":"ch_1","payment_intent":null,"metadata":{}}"#;
    let (url, seen) = scripted(vec![ok(refund.into()), ok(refund.into())]);
    let stripe = connector(&url);
    for charged in ["ch_1", "pi_1"] {
        let request = CreateRefund {
            charged: charged.into(),
            amount: Some(500),
            metadata: BTreeMap::new(),
            idempotency_key: "k".into(),
        };
        let refund = stripe.create_refund(&request).await.unwrap();
        assert_eq!(refund.status, RefundStatus::Succeeded);
        assert_eq!(refund.charge.as_deref(), Some("ch_1"));
    }
    let bodies: Vec<String> = seen.try_iter().map(|s| s.body).collect();
    assert_eq!(
        bodies,
        ["charge=ch_1&amount=500", "payment_intent=pi_1&amount=500"]
    );
}

#[tokio::test]
async fn unreachable_and_silent_servers_are_network_errors() {
    // A port that was free a moment ago: connection refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = connector(&format!("http://127.0.0.1:{port}"))
        .retrieve_payment_intent("pi_1")
        .await
        .unwrap_err();
    assert!(matches!(refused, PspError::Network { .. }), "{refused:?}");
    assert!(refused.retryable() && refused.outcome_unknown());

    // A server that accepts and never answers: the request timeout fires.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = StripeSettings::new(
        format!("http://{}", silent.local_addr().unwrap()),
        Secret::new("sk"),
    );
    settings.request_timeout_ms = 200;
    let timed_out = StripeConnector::new(&settings)
        .unwrap()
        .retrieve_payment_intent("pi_1")
        .await
        .unwrap_err();
    assert!(
        matches!(&timed_out, PspError::Network { message } if message.starts_with("timed out")),
        "{timed_out:?}"
    );
    drop(silent);
}

#[test]
fn ids_with_path_characters_are_refused_before_sending() {
    assert!(check_id("pi_1-a").is_ok());
    for bad in ["", "pi/../x", "pi 1", "pi?x=1"] {
        assert!(check_id(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_debug_form_hides_the_secret_key() {
    let stripe = connector("http://127.0.0.1:1");
    assert!(!format!("{stripe:?}").contains("sk_test_key"));
}

#[test]
fn operations_name_paths_without_object_ids() {
    assert_eq!(
        operation(&Method::POST, "/v1/payment_intents/pi_3QbXk2Lk/confirm"),
        "POST /v1/payment_intents/{id}/confirm"
    );
    assert_eq!(
        operation(&Method::GET, "/v1/payment_intents/search?query=x"),
        "GET /v1/payment_intents/search"
    );
    assert_eq!(
        operation(&Method::GET, "/v1/refunds/re_9Z"),
        "GET /v1/refunds/{id}"
    );
    assert_eq!(
        operation(&Method::POST, "/v1/payment_intents"),
        "POST /v1/payment_intents"
    );
}
