//! The edges: one address per resource, tokens that expire.

use payledger_e2e::{Api, Launch, Server, create_client};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn only_the_canonical_spelling_of_an_id_addresses_a_payment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = Server::start(&data);
    create_client(&data, "edges", "edges-secret-1", "manage_project:edges");
    let api = Api::connect(
        server.url(),
        "edges",
        "edges",
        "edges-secret-1",
        "manage_project:edges",
    );
    let created = api.post(
        "/payments",
        &json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 500}}),
    );
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(api.get(&format!("/payments/{id}")).status, 200);
    let spellings = [
        id.to_uppercase(),
        id.replace('-', ""),
        format!("{{{id}}}"),
        format!("urn:uuid:{id}"),
    ];
    for other in &spellings {
        let read = api.get(&format!("/payments/{other}"));
        assert_eq!(
            read.status, 404,
            "{other} addresses nothing: {:?}",
            read.body
        );
        let update = api.post_with(
            &format!("/payments/{other}"),
            &json!({"version": 1, "actions": [{"action": "setKey", "key": "edges-1"}]}),
            &[("Idempotency-Key", "edges-update-1")],
        );
        assert_eq!(update.status, 404, "{other}: {:?}", update.body);
        let events = api.get(&format!("/payments/{other}/events"));
        assert_eq!(events.status, 404, "{other}");
    }
    let unchanged = api.get(&format!("/payments/{id}"));
    assert_eq!(unchanged.body["version"], 1, "nothing was written");
}

#[test]
fn a_token_stops_working_when_its_lifetime_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = Server::launch(
        &data,
        Launch {
            args: vec!["--token-ttl-s".into(), "1".into()],
            ..Launch::default()
        },
    );
    create_client(&data, "brief", "brief-secret-1", "manage_project:brief");
    let issued = reqwest::blocking::Client::new()
        .post(format!("{}/oauth/token", server.url()))
        .basic_auth("brief", Some("brief-secret-1"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .expect("token request");
    let issued_at = Instant::now();
    let body: serde_json::Value = issued.json().expect("token body");
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().expect("token").to_owned();
    let read = |token: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{}/brief/payments", server.url()))
            .bearer_auth(token)
            .send()
            .expect("read")
            .status()
            .as_u16()
    };
    let first = read(&token);
    assert!(
        first == 200 || issued_at.elapsed() >= Duration::from_secs(1),
        "the token works until it expires: {first}"
    );
    // Wait on the condition itself: the first 401 after the lifetime.
    let deadline = issued_at + Duration::from_secs(10);
    loop {
        match read(&token) {
            401 => break,
            200 => assert!(Instant::now() < deadline, "the token outlived its lifetime"),
            other => panic!("unexpected status {other}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        issued_at.elapsed() >= Duration::from_millis(900),
        "not before its lifetime"
    );
}
