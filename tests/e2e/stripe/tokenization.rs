//! The signed tokenization API (seed 004) end to end over the real binary
//! and localstripe, with merchant key pairs made in the test: a sale saves
//! a token, a recurring request charges it, and every way to get a request
//! wrong is refused without charging anything.

use super::{DEADLINE, Setup, card, localstripe, setup, setup_with_args};
use base64::Engine;
use payledger_e2e::kafka::TopicReader;
use payledger_e2e::payledger_bin;
use payledger_e2e::{Tansu, TansuStorage};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;

/// A merchant's key pair, made for the test.
struct MerchantKey {
    private: RsaPrivateKey,
    public_pem: String,
}

impl MerchantKey {
    fn new() -> Self {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("key");
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        Self {
            private,
            public_pem,
        }
    }

    /// The envelope of `text` signed with this key.
    fn sign(&self, text: &str) -> Value {
        let signature = SigningKey::<Sha256>::new(self.private.clone())
            .sign(text.as_bytes())
            .to_vec();
        json!({
            "request": text,
            "signature": base64::engine::general_purpose::STANDARD.encode(signature),
        })
    }
}

fn run_cli(data: &Path, args: &[&str]) -> String {
    let output = Command::new(payledger_bin())
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("run payledger");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// Registers merchant `id` of the setup's project with `key` (through the
/// running server's admin socket).
fn register(setup: &Setup, id: u64, key: &MerchantKey) {
    let pem = setup.dir.path().join(format!("merchant-{id}.pem"));
    std::fs::write(&pem, &key.public_pem).expect("write key");
    run_cli(
        setup.dir.path(),
        &[
            "merchants",
            "create",
            "--project",
            &setup.project,
            "--merchant-id",
            &id.to_string(),
            "--public-key",
            pem.to_str().expect("path"),
        ],
    );
}

/// POSTs an envelope; the status and the JSON answer.
fn post(setup: &Setup, endpoint: &str, envelope: &Value) -> (u16, Value) {
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/tokenization/{endpoint}", setup.server.url()))
        .json(envelope)
        .send()
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().expect("JSON answer"))
}

fn sale_text(merchant: u64, reference: &str, method: &str, notify: Option<&str>) -> String {
    let mut request = json!({
        "merchantId": merchant, "userId": "User1", "merchantReference": reference,
        "amount": 30, "currency": "USD", "paymentMethod": method,
        "email": "ada@example.com",
    });
    if let Some(url) = notify {
        request["callbackUrl"] = json!({"notify": url});
    }
    request.to_string()
}

/// A recurring request in the seed's shape (with the `reason` its table
/// requires), `tokenId` as a text as in the seed's example.
fn recurring_text(merchant: u64, token: &Value, reference: &str, parent: &Value) -> String {
    format!(
        r#"{{"merchantId":{merchant},"userId":"user1","tokenId":"{}","merchantReference":"{reference}","reason":"Monthly box","amount":30,"parentOrderId":{parent}}}"#,
        token.as_u64().expect("token id"),
    )
}

fn recurring_with_notify(
    merchant: u64,
    token: &Value,
    reference: &str,
    parent: &Value,
    notify: &str,
) -> String {
    let mut request: Value =
        serde_json::from_str(&recurring_text(merchant, token, reference, parent)).expect("JSON");
    request["callbackUrl"] = json!({"notify": notify});
    request.to_string()
}

/// How many PaymentIntents localstripe holds for `project` (other tests
/// share the emulator).
fn intent_count(project: &str) -> usize {
    let client = reqwest::blocking::Client::new();
    let mut count = 0;
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("limit".to_owned(), "100".to_owned())];
        if let Some(after) = &after {
            query.push(("starting_after".to_owned(), after.clone()));
        }
        let page: Value = client
            .get(format!("{}/v1/payment_intents", localstripe()))
            .basic_auth(super::SECRET_KEY, Some(""))
            .query(&query)
            .send()
            .expect("list")
            .json()
            .expect("JSON");
        let data = page["data"].as_array().expect("data");
        count += data
            .iter()
            .filter(|i| i["metadata"]["payledger_project"] == project)
            .count();
        after = data
            .last()
            .and_then(|i| i["id"].as_str())
            .map(str::to_owned);
        if page["has_more"] != true || after.is_none() {
            return count;
        }
    }
}

/// A merchant's notify endpoint: answers 500 to the first callback and 200
/// to the rest, and passes on each request's signature header and body.
struct NotifyEndpoint {
    url: String,
    received: mpsc::Receiver<(String, Vec<u8>, u16)>,
}

impl NotifyEndpoint {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/notify", listener.local_addr().expect("addr"));
        let (sender, received) = mpsc::channel();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                let (mut signature, mut length) = (String::new(), 0_usize);
                let _ = reader.read_line(&mut line);
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) <= 2 {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap_or(("", ""));
                    match name.to_ascii_lowercase().as_str() {
                        "payledger-signature" => value.trim().clone_into(&mut signature),
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let status: u16 = if n == 0 { 500 } else { 200 };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = sender.send((signature, body, status));
            }
        });
        Self { url, received }
    }

    fn next(&self) -> (String, Vec<u8>, u16) {
        self.received
            .recv_timeout(DEADLINE)
            .expect("a notify callback")
    }
}

/// Checks a `Payledger-Signature` header (`t=…,key=…,v1=…`) as a merchant
/// would: RSA-SHA256 over `<t>.<body>` with payledger's public key.
fn verify_callback(public_pem: &str, header: &str, body: &[u8]) -> bool {
    let public = RsaPublicKey::from_public_key_pem(public_pem).expect("payledger's key");
    let part = |name: &str| {
        header
            .split(',')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap_or("")
            .to_owned()
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(part("v1"))
        .ok()
        .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok());
    let Some(signature) = signature else {
        return false;
    };
    let mut signed = format!("{}.", part("t")).into_bytes();
    signed.extend_from_slice(body);
    VerifyingKey::<Sha256>::new(public)
        .verify(&signed, &signature)
        .is_ok()
}

#[test]
fn a_sale_saves_a_token_that_a_signed_recurring_request_charges() {
    let setup = setup("tokenization");
    let (key, other_key) = (MerchantKey::new(), MerchantKey::new());
    register(&setup, 3, &key);
    register(&setup, 4, &other_key);
    let notify = NotifyEndpoint::start();

    // The sale: 0000 with a token.
    let (status, sale) = post(
        &setup,
        "sale",
        &key.sign(&sale_text(3, "sale-1", &card("4242424242424242"), None)),
    );
    assert_eq!(status, 200, "{sale}");
    assert_eq!(sale["responseCode"], "0000", "{sale}");
    assert_eq!(sale["order"]["status"], "SUCCESS");
    assert_eq!(sale["order"]["recurring"], false);
    assert_eq!(sale["transaction"]["maskedPan"], "XXXXXXXXXXXX4242");
    let token = sale["token"]["id"].clone();
    let parent = sale["order"]["id"].clone();
    assert!(token.is_u64() && parent.is_u64(), "{sale}");

    // Refusals before anything is charged.
    let intents = intent_count(&setup.project);
    let text = recurring_text(3, &token, "monthly-1", &parent);
    let mut tampered = key.sign(&text);
    tampered["request"] = json!(text.replacen(',', ", ", 1));
    let (status, refused) = post(&setup, "recurring", &tampered);
    assert_eq!(
        (status, refused["responseCode"].as_str()),
        (401, Some("1002"))
    );
    let (status, refused) = post(&setup, "recurring", &other_key.sign(&text));
    assert_eq!(
        (status, refused["responseCode"].as_str()),
        (401, Some("1002"))
    );
    let (_, refused) = post(
        &setup,
        "recurring",
        &key.sign(&recurring_text(3, &json!(999), "monthly-x", &parent)),
    );
    assert_eq!(refused["responseCode"], "1004", "unknown token");
    let (_, foreign) = post(
        &setup,
        "recurring",
        &other_key.sign(&recurring_text(4, &token, "monthly-x", &parent)),
    );
    assert_eq!(
        foreign["responseCode"], refused["responseCode"],
        "another merchant's token is as unknown as no token"
    );
    let (_, mismatch) = post(
        &setup,
        "recurring",
        &key.sign(&recurring_text(3, &token, "monthly-x", &json!(999))),
    );
    assert_eq!(mismatch["responseCode"], "1005");
    assert_eq!(
        intent_count(&setup.project),
        intents,
        "nothing charged by a refusal"
    );

    // The recurring charge, notified after one refused callback.
    let text = recurring_with_notify(3, &token, "monthly-1", &parent, &notify.url);
    let envelope = key.sign(&text);
    let (status, charged) = post(&setup, "recurring", &envelope);
    assert_eq!(status, 200, "{charged}");
    assert_eq!(charged["responseCode"], "0000", "{charged}");
    assert_eq!(charged["order"]["recurring"], true);
    assert_eq!(charged["transaction"]["type"], "SALE");
    assert_eq!(charged["order"]["cardType"], "VISA");
    assert_eq!(intent_count(&setup.project), intents + 1);
    let order_number = format!(
        "tok-3-{}",
        charged["order"]["id"].as_u64().expect("order id")
    );
    assert!(
        charged["order"]["id"].as_u64() > parent.as_u64(),
        "numbers increase"
    );

    // The same request again: the same answer, nothing charged.
    let (_, replayed) = post(&setup, "recurring", &envelope);
    assert_eq!(replayed, charged);
    assert_eq!(intent_count(&setup.project), intents + 1);
    // Its reference with other content is refused.
    let (status, duplicate) = post(
        &setup,
        "recurring",
        &key.sign(&recurring_with_notify(
            3,
            &token,
            "monthly-1",
            &parent,
            "http://x.example/",
        )),
    );
    assert_eq!(
        (status, duplicate["responseCode"].as_str()),
        (409, Some("1006"))
    );

    // The order and its payment through the Orders and Payments APIs.
    let order = setup
        .api
        .get(&format!("/orders/order-number={order_number}"));
    assert_eq!(order.status, 200, "{}", order.body);
    assert_eq!(order.body["recurring"], true);
    assert_eq!(order.body["origin"], "Merchant");
    assert_eq!(order.body["paymentState"], "Paid");
    let payment_id = order.body["paymentInfo"]["payments"][0]["id"]
        .as_str()
        .expect("payment")
        .to_owned();
    let payment = setup.api.get(&format!("/payments/{payment_id}"));
    assert_eq!(payment.body["transactions"][0]["type"], "Charge");
    assert_eq!(payment.body["transactions"][0]["state"], "Success");
    let messages = setup.api.get("/messages?where=type%3D%22OrderCreated%22");
    assert!(
        messages.body["results"]
            .as_array()
            .expect("messages")
            .iter()
            .any(|m| m["order"]["orderNumber"] == order_number.as_str()),
        "the order's creation is a Message: {}",
        messages.body
    );

    // The notify callback: refused once, sent again, signed by payledger.
    let public_pem = run_cli(setup.dir.path(), &["keys", "show"]);
    let public_pem = &public_pem[public_pem.find("-----BEGIN").expect("PEM")..];
    let (signature, body, status) = notify.next();
    assert_eq!(status, 500);
    let (again_signature, again_body, again_status) = notify.next();
    assert_eq!(again_status, 200);
    assert_eq!(again_body, body, "the same answer again");
    let sent: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(sent, charged);
    assert!(verify_callback(public_pem, &signature, &body));
    assert!(verify_callback(public_pem, &again_signature, &again_body));
    assert!(!verify_callback(public_pem, &signature, b"{}"));

    // A declined card fails its order with the PSP's code.
    let (status, declined) = post(
        &setup,
        "sale",
        &key.sign(&sale_text(3, "sale-2", &card("4000000000000341"), None)),
    );
    assert_eq!(status, 200);
    assert_eq!(declined["responseCode"], "2001", "{declined}");
    assert_eq!(declined["order"]["status"], "FAILED");
    assert!(declined.get("token").is_none());

    // A revoked key stops signing at once.
    let listed = run_cli(setup.dir.path(), &["merchants", "list"]);
    let key_id = listed
        .lines()
        .find(|l| l.contains("active"))
        .and_then(|l| l.split_whitespace().find(|w| w.len() == 16))
        .unwrap_or_else(|| panic!("a key id in {listed}"))
        .to_owned();
    run_cli(
        setup.dir.path(),
        &[
            "merchants",
            "revoke-key",
            "--merchant-id",
            "3",
            "--key",
            &key_id,
        ],
    );
    let (status, revoked) = post(
        &setup,
        "recurring",
        &key.sign(&recurring_text(3, &token, "monthly-2", &parent)),
    );
    assert_eq!(
        (status, revoked["responseCode"].as_str()),
        (401, Some("1002"))
    );
}

#[test]
fn fifty_identical_recurring_requests_at_once_make_one_charge_and_its_messages_reach_kafka() {
    let kafka_dir = tempfile::tempdir().expect("temp dir");
    let broker = Tansu::start(&kafka_dir.path().join("tansu"), TansuStorage::Memory);
    let brokers = broker.brokers();
    let setup = setup_with_args(
        "tokenization-concurrent",
        localstripe(),
        json!({}),
        &["--kafka-brokers", &brokers, "--kafka-topic-partitions", "2"],
    );
    let key = MerchantKey::new();
    register(&setup, 7, &key);
    let (_, sale) = post(
        &setup,
        "sale",
        &key.sign(&sale_text(7, "sale-1", &card("4242424242424242"), None)),
    );
    assert_eq!(sale["responseCode"], "0000", "{sale}");
    let intents = intent_count(&setup.project);
    let envelope = key.sign(&recurring_text(
        7,
        &sale["token"]["id"],
        "monthly-1",
        &sale["order"]["id"],
    ));
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let running: Vec<_> = (0..50)
            .map(|_| scope.spawn(|| post(&setup, "recurring", &envelope).1))
            .collect();
        running
            .into_iter()
            .map(|t| t.join().expect("request"))
            .collect()
    });
    assert_eq!(answers[0]["responseCode"], "0000", "{}", answers[0]);
    assert!(answers.iter().all(|a| *a == answers[0]), "one answer");
    assert_eq!(
        intent_count(&setup.project),
        intents + 1,
        "one PaymentIntent"
    );

    // The recurring order's and payment's Messages on the project's topic.
    let number = format!("tok-7-{}", answers[0]["order"]["id"]);
    let order = setup.api.get(&format!("/orders/order-number={number}"));
    assert_eq!(order.status, 200, "{}", order.body);
    let payment_id = order.body["paymentInfo"]["payments"][0]["id"]
        .as_str()
        .expect("payment")
        .to_owned();
    let payment = setup.api.get(&format!("/payments/{payment_id}"));
    let expected = HashMap::from([
        (
            order.body["id"].as_str().expect("order id").to_owned(),
            order.body["version"].as_u64().expect("version"),
        ),
        (
            payment_id,
            payment.body["version"].as_u64().expect("version"),
        ),
    ]);
    let reader = TopicReader::subscribe(
        &brokers,
        &format!("tokenization-{}", std::process::id()),
        "payledger.tokenization-concurrent.payments",
    );
    let consumed = reader.read_until(&expected, std::time::Duration::from_secs(120));
    assert!(
        consumed.iter().any(|c| c.message["type"] == "OrderCreated"
            && c.message["order"]["orderNumber"] == number.as_str()),
        "the recurring order's creation is on Kafka"
    );
}

#[test]
fn a_crash_between_the_charge_and_the_answer_is_answered_by_the_repeat_with_one_charge() {
    use super::proxy::{Mode, Proxy};
    let proxy = Proxy::start(localstripe());
    let setup = super::setup_with("tokenization-crash", proxy.url());
    let key = MerchantKey::new();
    register(&setup, 9, &key);
    let (_, sale) = post(
        &setup,
        "sale",
        &key.sign(&sale_text(9, "sale-1", &card("4242424242424242"), None)),
    );
    assert_eq!(sale["responseCode"], "0000", "{sale}");
    let intents = intent_count(&setup.project);

    // The charge reaches Stripe; the server is killed (SIGKILL) before it
    // hears the answer.
    let (created, killed) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    let (created_tx, killed_rx) = (created.0, std::sync::Mutex::new(killed.1));
    proxy.on_crash(move || {
        let _ = created_tx.send(());
        let _ = killed_rx.lock().map(|rx| rx.recv_timeout(DEADLINE));
    });
    proxy.set_mode(Mode::CrashAfterCreate);
    let envelope = key.sign(&recurring_text(
        9,
        &sale["token"]["id"],
        "monthly-1",
        &sale["order"]["id"],
    ));
    let url = format!("{}/tokenization/recurring", setup.server.url());
    let sent = envelope.clone();
    let unanswered = std::thread::spawn(move || {
        reqwest::blocking::Client::new()
            .post(url)
            .json(&sent)
            .send()
            .map(|r| r.status().as_u16())
    });
    created
        .1
        .recv_timeout(DEADLINE)
        .expect("the charge reached Stripe");
    let Setup {
        dir,
        mut server,
        project,
        api,
        ..
    } = setup;
    server.stop();
    let _ = killed.0.send(());
    assert!(
        unanswered.join().expect("thread").is_err(),
        "the request was never answered"
    );
    assert_eq!(intent_count(&project), intents + 1, "Stripe has the charge");

    // After the restart the same request is answered from what happened.
    proxy.set_mode(Mode::Pass);
    let server = server.restart();
    let restarted = Setup {
        dir,
        server,
        api,
        project: project.clone(),
        webhook_secret: String::new(),
    };
    let (status, answered) = post(&restarted, "recurring", &envelope);
    assert_eq!(status, 200, "{answered}");
    assert_eq!(answered["responseCode"], "0000", "{answered}");
    assert_eq!(answered["order"]["status"], "SUCCESS");
    assert_eq!(intent_count(&project), intents + 1, "exactly one charge");
    let creations = proxy
        .forwarded()
        .iter()
        .filter(|r| *r == "POST /v1/payment_intents")
        .count();
    assert_eq!(
        creations,
        2,
        "the sale's and the recurring charge's: {:?}",
        proxy.forwarded()
    );
}
