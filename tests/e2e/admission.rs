//! Admission control over the real server with a tiny limit: a request
//! that finds no slot is refused with 503 and `Retry-After` before it
//! changes anything, and every acknowledged update is in the store
//! afterwards, also after a kill -9.

use payledger_e2e::{Api, Launch, Server, create_client};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const PROJECT: &str = "adm";
const SCOPE: &str = "manage_project:adm";

fn start_with_one_slot(data: &std::path::Path) -> (Server, Api) {
    let server = Server::launch(
        data,
        Launch {
            args: [
                "--requests-in-flight-max",
                "1",
                "--requests-queued-max",
                "0",
            ]
            .map(String::from)
            .to_vec(),
            ..Launch::default()
        },
    );
    create_client(data, "adm", "adm-secret-1", SCOPE);
    let api = connect(&server);
    (server, api)
}

fn connect(server: &Server) -> Api {
    Api::connect(server.url(), PROJECT, "adm", "adm-secret-1", SCOPE)
}

/// Polls `/metrics` (never gated) until `requests` hold a slot.
fn wait_in_flight(server: &Server, requests: u64) {
    let wanted = format!("payledger_http_in_flight_requests {requests}\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = reqwest::blocking::get(format!("{}/metrics", server.url()))
            .expect("metrics")
            .text()
            .expect("metrics text");
        if metrics.contains(&wanted) {
            return;
        }
        assert!(Instant::now() < deadline, "never {requests} in flight");
    }
}

fn add_charge(version: u64) -> Value {
    json!({"version": version, "actions": [{"action": "addTransaction",
        "transaction": {"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 100}}}]})
}

fn create_payment(api: &Api) -> String {
    let created = api.post(
        "/payments",
        &json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 100}}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

/// An update whose body arrives in two parts: admitted on its head, it
/// holds the only slot until [`SlowUpdate::finish`] sends the rest.
struct SlowUpdate {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowUpdate {
    fn start(server: &Server, token: &str, id: &str, version: u64) -> Self {
        Self::start_at(server.url(), token, id, version)
    }

    fn start_at(url: &str, token: &str, id: &str, version: u64) -> Self {
        let address = url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("connect");
        let body = add_charge(version).to_string().into_bytes();
        let head = format!(
            "POST /{PROJECT}/payments/{id} HTTP/1.1\r\nhost: {address}\r\n\
             authorization: Bearer {token}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("send the head");
        stream.write_all(&body[..10]).expect("send a part");
        Self {
            stream,
            rest: body[10..].to_vec(),
        }
    }

    /// Sends the rest of the body; the status line of the answer.
    fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).expect("send the rest");
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            let read = self.stream.read(&mut chunk).expect("read the answer");
            assert!(read > 0, "closed before answering");
            answer.extend_from_slice(&chunk[..read]);
        }
        let text = String::from_utf8_lossy(&answer);
        text.lines().next().unwrap_or_default().to_owned()
    }
}

#[test]
fn with_the_only_slot_taken_updates_get_503_with_retry_after_and_change_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (server, api) = start_with_one_slot(&data);
    let id = create_payment(&api);
    let path = format!("/payments/{id}");
    let slow = SlowUpdate::start(&server, api.bearer_token(), &id, 1);
    wait_in_flight(&server, 1);

    let read = api.get(&path);
    assert_eq!(read.status, 503, "reads are gated too");
    for attempt in 0..5 {
        let refused = api.post(&path, &add_charge(1));
        assert_eq!(refused.status, 503, "attempt {attempt}: {:?}", refused.body);
        assert_eq!(refused.headers["retry-after"], "1");
        assert_eq!(refused.body["statusCode"], 503);
        assert_eq!(refused.body["errors"][0]["code"], "Overloaded");
        assert_eq!(refused.body["errors"][0]["limit"], "REQUESTS_IN_FLIGHT_MAX");
        assert_eq!(refused.body["errors"][0]["limitValue"], 1);
    }
    let health = reqwest::blocking::get(format!("{}/health", server.url())).expect("health");
    assert_eq!(health.status().as_u16(), 200, "health is never gated");
    let metrics = reqwest::blocking::get(format!("{}/metrics", server.url()))
        .expect("metrics")
        .text()
        .expect("metrics text");
    assert!(
        metrics.contains("payledger_admission_refused_total{limit=\"REQUESTS_IN_FLIGHT_MAX\"}"),
        "{metrics}"
    );

    assert_eq!(slow.finish(), "HTTP/1.1 200 OK", "the admitted update");
    let after = api.get(&path);
    assert_eq!(after.status, 200);
    assert_eq!(
        after.body["version"], 2,
        "only the admitted update was written"
    );
    assert_eq!(after.body["transactions"].as_array().map(Vec::len), Some(1));
}

/// One writer: updates its own payment until it has `acks` acknowledged
/// ones, retrying refused ones; the transaction ids acknowledged.
fn write_until_acknowledged(base: String, token: String, id: String, acks: usize) -> Vec<String> {
    let http = reqwest::blocking::Client::new();
    let url = format!("{base}/{PROJECT}/payments/{id}");
    let (mut version, mut acknowledged, mut refused) = (1u64, Vec::new(), 0u64);
    while acknowledged.len() < acks {
        let reply = http
            .post(&url)
            .bearer_auth(&token)
            .json(&add_charge(version))
            .send()
            .expect("update");
        let status = reply.status().as_u16();
        let retry_after = reply.headers().get("retry-after").cloned();
        let body: Value = reply.json().expect("JSON answer");
        match status {
            200 => {
                version = body["version"].as_u64().expect("version");
                let last = body["transactions"].as_array().and_then(|t| t.last());
                let transaction = last.and_then(|t| t["id"].as_str()).expect("transaction");
                acknowledged.push(transaction.to_owned());
            }
            503 => {
                assert!(retry_after.is_some(), "a 503 without Retry-After");
                refused += 1;
                assert!(refused < 100_000, "refused without end");
            }
            other => panic!("update answered {other}: {body}"),
        }
    }
    acknowledged
}

#[test]
fn under_concurrent_writers_every_acknowledged_update_is_stored_also_after_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (server, api) = start_with_one_slot(&data);
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let id = loop {
                let created = api.post(
                    "/payments",
                    &json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 100}}),
                );
                if created.status == 201 {
                    break created.body["id"].as_str().expect("id").to_owned();
                }
                assert_eq!(created.status, 503, "{:?}", created.body);
            };
            let (base, token) = (server.url().to_owned(), api.bearer_token().to_owned());
            let writer_id = id.clone();
            (
                id,
                std::thread::spawn(move || write_until_acknowledged(base, token, writer_id, 20)),
            )
        })
        .collect();
    let acknowledged: Vec<(String, Vec<String>)> = writers
        .into_iter()
        .map(|(id, writer)| (id, writer.join().expect("writer")))
        .collect();

    let check = |api: &Api| {
        for (id, transactions) in &acknowledged {
            let read = api.get(&format!("/payments/{id}"));
            assert_eq!(read.status, 200, "{:?}", read.body);
            assert_eq!(read.body["version"], 1 + transactions.len() as u64, "{id}");
            let stored: Vec<&str> = read.body["transactions"]
                .as_array()
                .expect("transactions")
                .iter()
                .filter_map(|t| t["id"].as_str())
                .collect();
            assert_eq!(stored, *transactions, "every acknowledged update of {id}");
        }
    };
    check(&api);
    let server = server.restart();
    check(&connect(&server));
}

/// The admission slots the server shows now.
fn slots_now(server: &Server) -> u64 {
    let metrics = reqwest::blocking::get(format!("{}/metrics", server.url()))
        .expect("metrics")
        .text()
        .expect("metrics text");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("payledger_admission_slots_requests "))
        .and_then(|value| value.trim().parse().ok())
        .expect("the slots gauge")
}

#[test]
fn with_a_latency_target_a_flood_of_slow_requests_cuts_the_slots_and_they_come_back_after_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = Server::launch(
        &data,
        Launch {
            args: [
                "--requests-in-flight-max",
                "8",
                "--requests-queued-max",
                "0",
                "--latency-target-ms",
                "100",
            ]
            .map(String::from)
            .to_vec(),
            ..Launch::default()
        },
    );
    create_client(&data, "adm", "adm-secret-1", SCOPE);
    let api = connect(&server);
    let id = create_payment(&api);
    let token = api.bearer_token().to_owned();
    let read_url = format!("{}/{PROJECT}/payments/{id}", server.url());
    assert_eq!(slots_now(&server), 8);

    // The flood: 32 clients for the eight slots, each sending updates that
    // take 300 ms in the server (three times the target: the rest of each
    // body is sent that much later). Every admitted request is a slow one,
    // and each round of answers meets about three refusals for each
    // admission, however slow the machine is. (A reader refused in a loop
    // did not do: its reads admitted in the gap between two slow updates
    // were answered fast, pulled the admitted mean under the target, and on
    // a busy machine such gaps kept the slots from ever being cut.)
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..32 {
        let (flooding, refused, server_url, token, id) = (
            std::sync::Arc::clone(&flooding),
            std::sync::Arc::clone(&refused),
            server.url().to_owned(),
            token.clone(),
            id.clone(),
        );
        clients.push(std::thread::spawn(move || {
            while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                let slow = SlowUpdate::start_at(&server_url, &token, &id, 1);
                std::thread::sleep(Duration::from_millis(300));
                // 200, 409 (another one won the version) or 503 (refused on
                // its head; the refusal is answered once the body is read).
                if slow.finish().contains(" 503 ") {
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while slots_now(&server) >= 8 {
        assert!(Instant::now() < deadline, "the flood never cut the slots");
    }
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    for client in clients {
        client.join().expect("a flooding client");
    }
    assert!(
        refused.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the slots were cut in a flood of refusals"
    );

    let http = reqwest::blocking::Client::new();
    let read = |http: &reqwest::blocking::Client| {
        http.get(&read_url)
            .bearer_auth(&token)
            .send()
            .expect("read")
            .status()
            .as_u16()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    // After it: answered requests, none refused, give the slots back.
    while slots_now(&server) < 8 {
        assert!(
            Instant::now() < deadline,
            "the slots never came back after the flood"
        );
        let status = read(&http);
        assert!(status == 200 || status == 503, "{status}");
    }
}
