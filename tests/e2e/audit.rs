//! The audit side on the real binary: `payledger verify` beside a serving
//! server, after a raw write changed one byte of one stored event, and
//! against a root digest kept from an earlier run.

use payledger_e2e::{Api, Server, create_client, payledger_bin};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

fn verify(data: &Path, args: &[&str]) -> Output {
    Command::new(payledger_bin())
        .args(["verify", "--data"])
        .arg(data)
        .args(args)
        .output()
        .expect("run payledger verify")
}

/// The root digest a successful run printed.
fn root_of(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "verify failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let root = stdout
        .lines()
        .find_map(|line| line.strip_prefix("root digest: "))
        .expect("a root digest line")
        .to_owned();
    assert_eq!(root.len(), 64, "{root}");
    root
}

/// Flips one byte in the middle of version `version` of payment `id`'s
/// stored event (the `events` column family keys an event by the
/// payment's 16 id bytes and its big-endian version); the original bytes.
fn flip_event_byte(data: &Path, id: &str, version: u64) -> Vec<u8> {
    let options = rocksdb::Options::default();
    let families = rocksdb::DB::list_cf(&options, data).expect("list column families");
    let db = rocksdb::DB::open_cf(&options, data, &families).expect("open the store raw");
    let events = db.cf_handle("events").expect("events column family");
    let mut key = uuid_bytes(id).to_vec();
    key.extend_from_slice(&version.to_be_bytes());
    let original = db.get_cf(events, &key).expect("get").expect("stored event");
    let mut changed = original.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x20;
    db.put_cf(events, &key, &changed).expect("raw put");
    original
}

fn put_event(data: &Path, id: &str, version: u64, bytes: &[u8]) {
    let options = rocksdb::Options::default();
    let families = rocksdb::DB::list_cf(&options, data).expect("list column families");
    let db = rocksdb::DB::open_cf(&options, data, &families).expect("open the store raw");
    let events = db.cf_handle("events").expect("events column family");
    let mut key = uuid_bytes(id).to_vec();
    key.extend_from_slice(&version.to_be_bytes());
    db.put_cf(events, &key, bytes).expect("raw put");
}

fn uuid_bytes(id: &str) -> [u8; 16] {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    let mut bytes = [0u8; 16];
    for (n, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * n..2 * n + 2], 16).expect("hex id");
    }
    bytes
}

#[test]
fn verify_checks_a_serving_store_then_names_a_tampered_event_and_a_changed_root() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    create_client(&data, "auditor", "auditor-secret-1", "manage_project:audit");
    let mut server = Server::start(&data);
    let api = reconnect(&server, "auditor");
    let created = api.post(
        "/payments",
        &json!({"key": "audited", "amountPlanned": {"currencyCode": "EUR", "centAmount": 4200}}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    for (version, text) in [(1, "one"), (2, "two"), (3, "three")] {
        let updated = api.post(
            &format!("/payments/{id}"),
            &json!({"version": version, "actions": [{"action": "setStatusInterfaceText", "interfaceText": text}]}),
        );
        assert_eq!(updated.status, 200, "{:?}", updated.body);
    }

    // Beside the serving server, while another client keeps writing.
    let writer = {
        let api = reconnect(&server, "auditor");
        std::thread::spawn(move || {
            for n in 0..100 {
                let draft = json!({"key": format!("busy-{n}"), "amountPlanned": {"currencyCode": "EUR", "centAmount": 100}});
                assert_eq!(api.post("/payments", &draft).status, 201);
            }
        })
    };
    let live = verify(&data, &[]);
    root_of(&live);
    writer.join().expect("writer");
    server.stop();

    let root = root_of(&verify(&data, &[]));
    root_of(&verify(&data, &["--expect-root", &root]));

    let original = flip_event_byte(&data, &id, 2);
    let broken = verify(&data, &["--no-views"]);
    assert_eq!(broken.status.code(), Some(1), "{broken:?}");
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains(&format!("broken link at payment/{id} version 2"))
            || stderr.contains(&format!("broken link at payment/{id} version 3")),
        "names the changed event or the link after it: {stderr}"
    );

    put_event(&data, &id, 2, &original);
    root_of(&verify(&data, &["--expect-root", &root]));
    let other = "0".repeat(64);
    let mismatch = verify(&data, &["--expect-root", &other]);
    assert_eq!(mismatch.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&mismatch.stderr).contains("root digest differs"),
        "{mismatch:?}"
    );
}

/// A new token of client `id` (made by [`client`] with `manage_project`).
fn reconnect(server: &Server, id: &str) -> Api {
    let scope = "manage_project:audit";
    Api::connect(server.url(), "audit", id, &format!("{id}-secret-1"), scope)
}

/// A client of project `audit` with `scope`.
fn client(server: &Server, data: &Path, id: &str, scope: &str) -> Api {
    create_client(data, id, &format!("{id}-secret-1"), scope);
    Api::connect(server.url(), "audit", id, &format!("{id}-secret-1"), scope)
}

#[test]
fn events_are_paged_with_their_links_and_as_of_reads_answer_the_past_even_after_deletion() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let api = client(&server, &data, "historian", "manage_project:audit");
    let created = api.post_with(
        "/payments",
        &json!({"key": "h-1", "amountPlanned": {"currencyCode": "EUR", "centAmount": 900}}),
        &[
            ("X-Correlation-ID", "audit-create"),
            ("Idempotency-Key", "h-1-create"),
        ],
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let mut answered = vec![created.body];
    let actions = [
        json!({"action": "addTransaction", "transaction": {"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 900}}}),
        json!({"action": "setStatusInterfaceText", "interfaceText": "charged"}),
        json!({"action": "setStatusInterfaceCode", "interfaceCode": "00"}),
    ];
    for action in actions {
        let version = answered.last().expect("answers")["version"].clone();
        let updated = api.post(
            &format!("/payments/{id}"),
            &json!({"version": version, "actions": [action]}),
        );
        assert_eq!(updated.status, 200, "{:?}", updated.body);
        answered.push(updated.body);
    }

    // Two pages of two events.
    let first = api.get(&format!("/payments/{id}/events?limit=2"));
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(
        (
            &first.body["count"],
            &first.body["total"],
            &first.body["nextFromVersion"]
        ),
        (&json!(2), &json!(4), &json!(3))
    );
    let events = first.body["results"].as_array().expect("results").clone();
    assert_eq!(events[0]["type"], "PaymentCreated");
    assert_eq!(events[0]["version"], 1);
    assert_eq!(events[0]["previousHash"], "0".repeat(64));
    assert_eq!(events[0]["correlationId"], "audit-create");
    assert_eq!(events[0]["idempotencyKey"], "h-1-create");
    assert_eq!(events[0]["actor"]["clientId"], "historian");
    assert_eq!(events[1]["type"], "PaymentTransactionAdded");
    assert_eq!(events[1]["previousHash"], events[0]["hash"]);
    assert_eq!(
        events[1]["payload"]["transaction"]["amount"]["centAmount"],
        900
    );
    assert!(events[1]["partitionSequence"].as_u64().is_some());
    let second = api.get("/payments/key=h-1/events?fromVersion=3&limit=2");
    assert_eq!(second.status, 200, "{:?}", second.body);
    let later = second.body["results"].as_array().expect("results");
    assert_eq!(later.len(), 2);
    assert_eq!(later[0]["previousHash"], events[1]["hash"]);
    assert!(second.body.get("nextFromVersion").is_none());
    for bad in ["fromVersion=0", "limit=501", "limit=x"] {
        let refused = api.get(&format!("/payments/{id}/events?{bad}"));
        assert_eq!(refused.status, 400, "{bad}: {:?}", refused.body);
    }

    // As of every version and of every moment: the answer given then.
    for then in &answered {
        let version = then["version"].as_u64().expect("version");
        let by_version = api.get(&format!("/payments/{id}?asOfVersion={version}"));
        assert_eq!(by_version.status, 200);
        assert_eq!(&by_version.body, then, "as of version {version}");
        let at = then["lastModifiedAt"].as_str().expect("lastModifiedAt");
        let by_time = api.get(&format!("/payments/key=h-1?asOf={at}"));
        assert_eq!(by_time.status, 200);
        // The last version recorded by then (updates may share a millisecond).
        let last_then = answered
            .iter()
            .rfind(|a| a["lastModifiedAt"].as_str() <= Some(at))
            .expect("this one at least");
        assert_eq!(&by_time.body, last_then, "as of {at}");
    }
    let before = api.get(&format!("/payments/{id}?asOf=2000-01-01T00:00:00Z"));
    assert_eq!(before.status, 404, "before creation");
    let past = api.get(&format!("/payments/{id}?asOfVersion=99"));
    assert_eq!(past.status, 400);
    assert_eq!(
        past.body["errors"][0]["currentVersion"], 4,
        "{:?}",
        past.body
    );
    for bad in [
        "asOf=yesterday",
        "asOfVersion=1&asOf=2026-01-01T00:00:00Z",
        "asOfVersion=-1",
    ] {
        assert_eq!(
            api.get(&format!("/payments/{id}?{bad}")).status,
            400,
            "{bad}"
        );
    }

    // Deleted: gone now, as it was before, and its history stays.
    let deleted = api.delete(&format!("/payments/{id}?version=4"));
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(api.get(&format!("/payments/{id}")).status, 404);
    let before_deletion = api.get(&format!("/payments/{id}?asOfVersion=4"));
    assert_eq!(&before_deletion.body, &answered[3]);
    assert_eq!(
        api.get(&format!("/payments/{id}?asOfVersion=5")).status,
        404
    );
    let history = api.get(&format!("/payments/{id}/events?fromVersion=5"));
    assert_eq!(history.body["results"][0]["type"], "PaymentDeleted");

    // Orders alike; another scope sees nothing of payments.
    let order = api.post(
        "/orders",
        &json!({"orderNumber": "H-1", "totalPrice": {"currencyCode": "EUR", "centAmount": 500}}),
    );
    assert_eq!(order.status, 201, "{:?}", order.body);
    let order_id = order.body["id"].as_str().expect("id").to_owned();
    let payment = api.post(
        "/payments",
        &json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 500}}),
    );
    let linked = api.post(
        &format!("/orders/{order_id}"),
        &json!({"version": 1, "actions": [{"action": "addPayment", "payment": {"typeId": "payment", "id": payment.body["id"]}}]}),
    );
    assert_eq!(linked.status, 200, "{:?}", linked.body);
    let order_events = api.get("/orders/order-number=H-1/events");
    assert_eq!(order_events.body["total"], 2, "{:?}", order_events.body);
    assert_eq!(order_events.body["results"][1]["type"], "OrderPaymentAdded");
    let first_order = api.get(&format!("/orders/{order_id}?asOfVersion=1"));
    assert_eq!(first_order.status, 200, "{:?}", first_order.body);
    assert_eq!(first_order.body, order.body, "the order as created");
    let orders_only = client(&server, &data, "clerk", "view_orders:audit");
    assert_eq!(
        orders_only.get(&format!("/payments/{id}/events")).status,
        403
    );
    assert_eq!(
        orders_only
            .get(&format!("/orders/{order_id}/events"))
            .status,
        200
    );
}

fn replay(data: &Path, args: &[&str]) -> Output {
    Command::new(payledger_bin())
        .args(["replay", "--data"])
        .arg(data)
        .args(args)
        .output()
        .expect("run payledger replay")
}

fn raw_db(data: &Path) -> rocksdb::DB {
    let options = rocksdb::Options::default();
    let families = rocksdb::DB::list_cf(&options, data).expect("list column families");
    rocksdb::DB::open_cf(&options, data, &families).expect("open the store raw")
}

#[test]
fn replay_checks_rebuilds_what_was_damaged_and_an_interrupted_rebuild_blocks_serving() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let api = client(&server, &data, "replayer", "manage_project:audit");
    let mut ids = Vec::new();
    for n in 0..20 {
        let created = api.post(
            "/payments",
            &json!({"key": format!("r-{n}"), "customer": {"typeId": "customer", "id": format!("c-{}", n % 3)},
                    "interfaceId": format!("psp-{n}"),
                    "paymentMethodInfo": {"paymentInterface": "psp", "method": "card"},
                    "amountPlanned": {"currencyCode": "EUR", "centAmount": 100 + n},
                    "transactions": [{"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 100 + n}, "interactionId": format!("tx-{n}")}]}),
        );
        assert_eq!(created.status, 201, "{:?}", created.body);
        ids.push(created.body["id"].as_str().expect("id").to_owned());
    }
    let deleted = api.delete(&format!("/payments/{}?version=1", ids[19]));
    assert_eq!(deleted.status, 200);
    let order = api.post(
        "/orders",
        &json!({"orderNumber": "R-1", "key": "order-r-1", "totalPrice": {"currencyCode": "EUR", "centAmount": 100}}),
    );
    assert_eq!(order.status, 201);
    let linked = api.post(
        &format!("/orders/{}", order.body["id"].as_str().expect("id")),
        &json!({"version": 1, "actions": [{"action": "addPayment", "payment": {"typeId": "payment", "id": ids[0]}}]}),
    );
    assert_eq!(linked.status, 200);
    let before = api.get(&format!("/payments/{}", ids[3])).body;

    // Beside the serving server: clean.
    let clean = replay(&data, &["--check"]);
    assert!(clean.status.success(), "{clean:?}");
    let refused = replay(&data, &[]);
    assert!(
        !refused.status.success(),
        "a rebuild needs the store to itself"
    );
    server.stop();

    // Damage: a view header removed, a stale key index row added.
    {
        let db = raw_db(&data);
        let views = db.cf_handle("views").expect("views");
        let view_key = audit_key(&uuid_bytes(&ids[3]));
        let header = db.get_cf(views, &view_key).expect("get");
        assert!(header.is_some(), "a view is keyed by project and id");
        db.delete_cf(views, &view_key).expect("raw delete");
        let index = db.cf_handle("idx_key").expect("idx_key");
        db.put_cf(index, audit_key(b"\x00\x09stale-key"), uuid_bytes(&ids[4]))
            .expect("raw put");
    }
    let damaged = replay(&data, &["--check"]);
    assert_eq!(damaged.status.code(), Some(1), "{damaged:?}");
    let report = String::from_utf8_lossy(&damaged.stdout);
    assert!(
        report.contains(&format!("payment/{}: Views row", ids[3])),
        "{report}"
    );
    assert!(
        report.contains("KeyIndex row") && report.contains("no stream's events give it"),
        "{report}"
    );

    let rebuilt = replay(&data, &[]);
    assert!(rebuilt.status.success(), "{rebuilt:?}");
    assert!(replay(&data, &["--check"]).status.success());
    assert!(verify(&data, &[]).status.success());

    let server = Server::start(&data);
    let api = reconnect(&server, "replayer");
    assert_eq!(api.get(&format!("/payments/{}", ids[3])).body, before);
    assert_eq!(api.get("/payments/key=stale-key").status, 404);
    assert_eq!(api.get(&format!("/payments/{}", ids[19])).status, 404);
    assert_eq!(api.get("/orders/key=order-r-1").status, 200);
    drop(server);

    // A rebuild that stopped half way leaves a mark the server refuses.
    {
        let db = raw_db(&data);
        let meta = db.cf_handle("meta").expect("meta");
        db.put_cf(meta, b"replay_unfinished", [1u8])
            .expect("raw put");
    }
    let serve = Command::new(payledger_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .expect("run payledger serve");
    assert!(!serve.status.success());
    assert!(
        String::from_utf8_lossy(&serve.stderr).contains("a replay of"),
        "{serve:?}"
    );
    assert!(replay(&data, &[]).status.success());
    let server = Server::start(&data);
    let api = reconnect(&server, "replayer");
    assert_eq!(api.get(&format!("/payments/{}", ids[3])).body, before);
}

/// A store written before the Message index (its layout unrecorded, the
/// index empty) is refused by `serve` with the way out; `replay` builds
/// the index, and the same queries answer as before.
#[test]
fn a_store_without_the_message_index_is_refused_until_a_replay_builds_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let api = client(&server, &data, "indexer", "manage_project:audit");
    for n in 0..3 {
        let created = api.post(
            "/payments",
            &json!({"key": format!("m-{n}"), "amountPlanned": {"currencyCode": "EUR", "centAmount": 100}}),
        );
        assert_eq!(created.status, 201, "{:?}", created.body);
        let id = created.body["id"].as_str().expect("id");
        let changed = api.post(
            &format!("/payments/{id}"),
            &json!({"version": 1, "actions": [{"action": "setKey", "key": format!("m-{n}-2")}]}),
        );
        assert_eq!(changed.status, 200, "{:?}", changed.body);
    }
    let query = "/messages?where=type%3D%22PaymentKeySet%22&sort=createdAt+asc";
    let before = api.get(query);
    assert_eq!(before.body["total"], 3, "{:?}", before.body);
    server.stop();

    {
        let db = raw_db(&data);
        let meta = db.cf_handle("meta").expect("meta");
        db.delete_cf(meta, b"derived_layout").expect("raw delete");
        for index in ["idx_message_type", "idx_message_time"] {
            let cf = db.cf_handle(index).expect(index);
            db.delete_range_cf(cf, [0u8].as_slice(), [0xffu8; 64].as_slice())
                .expect("raw delete");
        }
    }
    let serve = Command::new(payledger_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .expect("run payledger serve");
    assert!(!serve.status.success());
    let refusal = String::from_utf8_lossy(&serve.stderr);
    assert!(
        refusal.contains("have layout 0") && refusal.contains("payledger replay --data"),
        "{serve:?}"
    );
    let missing = replay(&data, &["--check"]);
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert!(
        String::from_utf8_lossy(&missing.stdout).contains("MessagesByType row"),
        "{missing:?}"
    );

    assert!(replay(&data, &[]).status.success());
    assert!(replay(&data, &["--check"]).status.success());
    let server = Server::start(&data);
    let api = reconnect(&server, "indexer");
    assert_eq!(api.get(query).body, before.body);
}

/// A key of project `audit`: its length-prefixed name, then `rest`.
fn audit_key(rest: &[u8]) -> Vec<u8> {
    let mut key = vec![0, 5];
    key.extend_from_slice(b"audit");
    key.extend_from_slice(rest);
    key
}

/// The analytics answer once the consumer counted every event.
fn analytics(api: &Api, query: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let reply = api.get(&format!("/analytics/transactions?{query}"));
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        if reply.body["pendingEvents"] == 0 {
            return reply.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the analytics consumer did not catch up: {:?}",
            reply.body
        );
        std::thread::yield_now();
    }
}

#[test]
fn analytics_count_transactions_by_currency_psp_type_and_state_and_survive_a_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let api = client(&server, &data, "analyst", "manage_project:audit");
    let mut expected: std::collections::BTreeMap<(String, String, String, String), (i64, i64)> =
        Default::default();
    for n in 0..12i64 {
        let currency = ["EUR", "USD"][(n % 2) as usize];
        let psp = ["stripe", "adyen", "stripe"][(n % 3) as usize];
        let cents = 100 * (n + 1);
        let created = api.post(
            "/payments",
            &json!({"amountPlanned": {"currencyCode": currency, "centAmount": cents},
                    "paymentMethodInfo": {"paymentInterface": psp},
                    "transactions": [{"type": "Charge", "amount": {"currencyCode": currency, "centAmount": cents}}]}),
        );
        assert_eq!(created.status, 201, "{:?}", created.body);
        let mut state = "Initial";
        if n % 4 != 0 {
            let txn = created.body["transactions"][0]["id"].clone();
            state = if n % 4 == 1 { "Failure" } else { "Success" };
            let changed = api.post(
                &format!("/payments/{}", created.body["id"].as_str().expect("id")),
                &json!({"version": 1, "actions": [{"action": "changeTransactionState", "transactionId": txn, "state": state}]}),
            );
            assert_eq!(changed.status, 200, "{:?}", changed.body);
        }
        let entry = expected
            .entry((currency.into(), psp.into(), "Charge".into(), state.into()))
            .or_default();
        entry.0 += 1;
        entry.1 += cents;
    }
    let today = created_day(&api);
    let query = format!("from={today}&to={today}&groupBy=currency,psp,type,state");
    let answer = analytics(&api, &query);
    let got: std::collections::BTreeMap<(String, String, String, String), (i64, i64)> =
        answer["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                let text = |name: &str| r[name].as_str().expect("text").to_owned();
                (
                    (text("currency"), text("psp"), text("type"), text("state")),
                    (
                        r["count"].as_i64().expect("count"),
                        r["centAmount"].as_i64().expect("amount"),
                    ),
                )
            })
            .collect();
    assert_eq!(got, expected);
    let by_day = analytics(
        &api,
        &format!("from={today}&to={today}&groupBy=day,currency"),
    );
    assert_eq!(by_day["results"][0]["day"], today.as_str());
    for bad in [
        format!("from={today}&to={today}&groupBy=day"),
        format!("from={today}"),
        format!("from={today}&to=2000-01-01"),
        format!("from={today}&to={today}&groupBy=currency,weather"),
        "from=yesterday&to=today".to_owned(),
    ] {
        let refused = api.get(&format!("/analytics/transactions?{bad}"));
        assert_eq!(refused.status, 400, "{bad}: {:?}", refused.body);
    }
    let payments_only = client(&server, &data, "viewer", "view_payments:audit");
    assert_eq!(
        payments_only
            .get(&format!("/analytics/transactions?{query}"))
            .status,
        403
    );
    let analyst = client(&server, &data, "counter", "view_analytics:audit");
    assert_eq!(analytics(&analyst, &query)["results"], answer["results"]);

    let check = replay(&data, &["--check"]);
    assert!(check.status.success(), "{check:?}");
    assert!(
        !String::from_utf8_lossy(&check.stdout).contains("analytics not checked"),
        "the consumer had caught up: {check:?}"
    );
    drop(server);
    let rebuilt = replay(&data, &[]);
    assert!(rebuilt.status.success(), "{rebuilt:?}");
    let server = Server::start(&data);
    let api = reconnect(&server, "analyst");
    assert_eq!(analytics(&api, &query)["results"], answer["results"]);
}

/// Today's UTC date as the server records it (a new payment's createdAt).
fn created_day(api: &Api) -> String {
    let probe = api.post(
        "/payments",
        &json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 1}}),
    );
    probe.body["createdAt"].as_str().expect("createdAt")[..10].to_owned()
}

fn export(data: &Path, args: &[&str]) -> Output {
    Command::new(payledger_bin())
        .args(["export", "--data"])
        .arg(data)
        .args(args)
        .output()
        .expect("run payledger export")
}

/// Runs a DuckDB query with the test peers' Python; its rows as JSON.
fn duckdb(query: &str) -> serde_json::Value {
    let script = format!(
        "import duckdb, json\nprint(json.dumps(duckdb.sql({query:?}).fetchall(), default=str))"
    );
    let output = Command::new(payledger_e2e::python())
        .args(["-c", &script])
        .output()
        .expect("run python");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("JSON rows")
}

#[test]
fn export_writes_every_event_as_a_row_that_duckdb_reads_back_with_the_apis_counts_and_sums() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let api = client(&server, &data, "exporter", "manage_project:audit");
    let other_dir = "other";
    create_client(
        &data,
        "elsewhere",
        "elsewhere-secret-1",
        &format!("manage_project:{other_dir}"),
    );
    let elsewhere = Api::connect(
        server.url(),
        other_dir,
        "elsewhere",
        "elsewhere-secret-1",
        &format!("manage_project:{other_dir}"),
    );
    assert_eq!(
        elsewhere
            .post(
                "/payments",
                &json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 1}})
            )
            .status,
        201
    );
    let mut ids = Vec::new();
    for n in 1..=9i64 {
        let created = api.post(
            "/payments",
            &json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 1000 * n},
                    "transactions": [{"type": "Authorization", "amount": {"currencyCode": "EUR", "centAmount": 1000 * n}}]}),
        );
        assert_eq!(created.status, 201, "{:?}", created.body);
        let id = created.body["id"].as_str().expect("id").to_owned();
        let charged = api.post(
            &format!("/payments/{id}"),
            &json!({"version": 1, "actions": [{"action": "addTransaction", "transaction": {"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 10 * n}}}]}),
        );
        assert_eq!(charged.status, 200, "{:?}", charged.body);
        ids.push(id);
    }
    // What the API says: events are versions; added charges sum up.
    let (mut events, mut charged) = (0i64, 0i64);
    for id in &ids {
        let payment = api.get(&format!("/payments/{id}")).body;
        events += payment["version"].as_i64().expect("version");
        charged += payment["transactions"]
            .as_array()
            .expect("transactions")
            .iter()
            .filter(|t| t["type"] == "Charge")
            .map(|t| t["amount"]["centAmount"].as_i64().expect("cents"))
            .sum::<i64>();
    }
    let parquet = dir.path().join("events.parquet");
    let ndjson = dir.path().join("events.ndjson");
    for (format, path) in [("parquet", &parquet), ("ndjson", &ndjson)] {
        let written = export(
            &data,
            &[
                "--format",
                format,
                "--project",
                "audit",
                "--out",
                path.to_str().expect("utf-8"),
            ],
        );
        assert!(written.status.success(), "{written:?}");
        assert!(!path.with_extension(format!("{format}.partial")).exists());
    }
    drop(server);

    let from_parquet = duckdb(&format!(
        "select count(*), sum(amount_cent) filter (where event_type = 'PaymentTransactionAdded'), \
         count(distinct aggregate_id), min(project), max(project), \
         count(*) filter (where event_type = 'PaymentCreated' and transaction_type is null) \
         from '{}'",
        parquet.display()
    ));
    assert_eq!(
        from_parquet,
        json!([[events, charged, 9, "audit", "audit", 9]]),
        "the Parquet file holds the project's events, the API's count and sums"
    );
    let from_ndjson = duckdb(&format!(
        "select count(*), sum(amount_cent) filter (where event_type = 'PaymentTransactionAdded') \
         from read_json_auto('{}')",
        ndjson.display()
    ));
    assert_eq!(from_ndjson, json!([[events, charged]]));
    let types = duckdb(&format!(
        "select typeof(recorded_at), typeof(version), typeof(payload) from '{}' limit 1",
        parquet.display()
    ));
    assert_eq!(
        types,
        json!([["TIMESTAMP WITH TIME ZONE", "BIGINT", "JSON"]])
    );

    // A time window in the future holds nothing; a bad bound is refused.
    let empty = dir.path().join("empty.ndjson");
    let window = export(
        &data,
        &[
            "--format",
            "ndjson",
            "--from",
            "2999-01-01T00:00:00Z",
            "--out",
            empty.to_str().expect("utf-8"),
        ],
    );
    assert!(window.status.success(), "{window:?}");
    assert_eq!(std::fs::read_to_string(&empty).expect("read"), "");
    let refused = export(
        &data,
        &["--format", "ndjson", "--to", "soon", "--out", "/dev/null"],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--to"),
        "{refused:?}"
    );
}

/// Every file of `data` after a flush and a full compaction of every
/// column family, read whole.
fn compacted_bytes(data: &Path) -> Vec<u8> {
    {
        let db = raw_db(data);
        let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), data).expect("list");
        let mut compact = rocksdb::CompactOptions::default();
        compact.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
        for name in &families {
            let family = db.cf_handle(name).expect("family");
            db.flush_cf(family).expect("flush");
            db.compact_range_cf_opt(family, None::<&[u8]>, None::<&[u8]>, &compact);
        }
    }
    // RocksDB's manifest records the first and last key of every file it
    // ever made (the customer index's keys hold customer ids) until it is
    // rewritten, which every open does.
    drop(raw_db(data));
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(data).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).expect("read file"));
        }
    }
    bytes
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn erasure_shreds_personal_data_from_the_files_while_events_hashes_and_replay_stay_whole() {
    const ERASED_CUSTOMER: &str = "cust-SHRED-ME-8b1f";
    const ERASED_TOKEN: &str = "tok-SHRED-ME-51c2";
    const KEPT_CUSTOMER: &str = "cust-KEEP-ME-77a0";
    const LIVE_CUSTOMER: &str = "cust-LIVE-ONE-3d9e";
    const ERASED_EMAIL: &str = "shred-me-41f7@example.com";
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let api = client(&server, &data, "privacy", "manage_project:audit");
    let draft = |customer: &str, token: &str| {
        json!({"amountPlanned": {"currencyCode": "EUR", "centAmount": 700},
               "customer": {"typeId": "customer", "id": customer},
               "paymentMethodInfo": {"paymentInterface": "psp", "token": {"value": token}},
               "transactions": [{"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 700}}]})
    };
    let erased = api.post("/payments", &draft(ERASED_CUSTOMER, ERASED_TOKEN));
    assert_eq!(erased.status, 201, "{:?}", erased.body);
    let live = api.post("/payments", &draft(LIVE_CUSTOMER, "tok-LIVE-ONE-0000"));
    assert_eq!(live.status, 201, "{:?}", live.body);
    let kept = api.post("/payments", &draft(KEPT_CUSTOMER, "tok-KEEP-ME-0000"));
    assert_eq!(kept.status, 201, "{:?}", kept.body);
    let (erased_id, kept_id) = (
        erased.body["id"].as_str().expect("id").to_owned(),
        kept.body["id"].as_str().expect("id").to_owned(),
    );
    // Long enough for a snapshot of the view (after version 128), which
    // holds the customer id in plain text until the erasure deletes it.
    let actions: Vec<_> = (0..128)
        .map(|n| json!({"action": "setStatusInterfaceText", "interfaceText": format!("step {n}")}))
        .collect();
    let long = api.post(
        &format!("/payments/{erased_id}"),
        &json!({"version": 1, "actions": actions}),
    );
    assert_eq!(long.status, 200, "{:?}", long.body);
    assert_eq!(long.body["version"], 129);
    let order = api.post(
        "/orders",
        &json!({"orderNumber": "SHRED-1", "totalPrice": {"currencyCode": "EUR", "centAmount": 700},
                "customerId": ERASED_CUSTOMER, "customerEmail": ERASED_EMAIL}),
    );
    assert_eq!(order.status, 201, "{:?}", order.body);
    let order_id = order.body["id"].as_str().expect("id").to_owned();
    let events_before = api.get(&format!("/payments/{erased_id}/events")).body;
    assert_eq!(
        events_before["results"][0]["payload"]["payment"]["customer"]["id"],
        ERASED_CUSTOMER
    );
    let root_before = root_of(&verify(&data, &[]));

    let deleted = api.delete(&format!(
        "/payments/{erased_id}?version=129&dataErasure=true"
    ));
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    let order_deleted = api.delete(&format!("/orders/{order_id}?version=1&dataErasure=true"));
    assert_eq!(order_deleted.status, 200, "{:?}", order_deleted.body);
    assert_eq!(api.get(&format!("/orders/{order_id}")).status, 404);
    assert_eq!(api.get("/orders/order-number=SHRED-1").status, 404);
    let order_events = api.get(&format!("/orders/{order_id}/events")).body;
    assert_eq!(
        order_events["results"][0]["payload"]["order"]["customerEmail"], "[erased]",
        "{order_events}"
    );
    assert_eq!(order_events["results"][1]["type"], "OrderDeleted");
    assert_eq!(order_events["results"][1]["payload"]["dataErasure"], true);
    let order_then = api.get(&format!("/orders/{order_id}?asOfVersion=1"));
    assert_eq!(order_then.status, 200, "as it was before its deletion");
    assert_eq!(order_then.body["customerEmail"], "[erased]");
    let reused = api.post(
        "/orders",
        &json!({"orderNumber": "SHRED-1", "totalPrice": {"currencyCode": "EUR", "centAmount": 1}}),
    );
    assert_eq!(
        reused.status, 201,
        "a deleted order's number is free: {:?}",
        reused.body
    );
    let not_erased = api.delete(&format!("/payments/{kept_id}?version=1"));
    assert_eq!(not_erased.status, 200);

    // The history keeps its shape and hashes, with the fields erased.
    let events_after = api.get(&format!("/payments/{erased_id}/events")).body;
    let (before, after) = (&events_before["results"][0], &events_after["results"][0]);
    assert_eq!(
        after["hash"], before["hash"],
        "the stored event did not change"
    );
    assert_eq!(after["payload"]["payment"]["customer"]["id"], "[erased]");
    let deletion = api
        .get(&format!("/payments/{erased_id}/events?fromVersion=130"))
        .body;
    assert_eq!(deletion["results"][0]["type"], "PaymentDeleted");
    let as_of = api.get(&format!("/payments/{erased_id}?asOfVersion=129"));
    assert_eq!(as_of.status, 200);
    assert_eq!(as_of.body["customer"]["id"], "[erased]");
    assert_eq!(
        as_of.body["amountPlanned"]["centAmount"], 700,
        "what is not personal stays"
    );
    let kept_history = api.get(&format!("/payments/{kept_id}/events")).body;
    assert_eq!(
        kept_history["results"][0]["payload"]["payment"]["customer"]["id"], KEPT_CUSTOMER,
        "dataErasure=false keeps everything readable"
    );
    let after_root = root_of(&verify(&data, &[]));
    assert_ne!(after_root, root_before, "the deletions are new events");
    assert!(replay(&data, &["--check"]).status.success());
    server.stop();

    let files = compacted_bytes(&data);
    assert!(
        !holds(&files, ERASED_CUSTOMER),
        "the erased customer id is gone from every file"
    );
    assert!(
        !holds(&files, ERASED_TOKEN),
        "the erased token is gone from every file"
    );
    assert!(
        !holds(&files, ERASED_EMAIL),
        "the erased order's e-mail is gone from every file"
    );
    // The scan finds plain personal data where it is: a live payment's
    // view and customer index hold its customer id.
    assert!(
        holds(&files, LIVE_CUSTOMER),
        "the scan sees plaintext that is there"
    );
    assert!(replay(&data, &[]).status.success(), "replay still works");
    assert!(verify(&data, &[]).status.success());

    // A new master key: every data key is wrapped again, and the old file
    // no longer opens anything.
    let new_master = dir.path().join("master-2.key");
    let rotated = Command::new(payledger_bin())
        .args(["keys", "rotate-master", "--data"])
        .arg(&data)
        .arg("--new-master-key-file")
        .arg(&new_master)
        .output()
        .expect("run payledger keys rotate-master");
    assert!(rotated.status.success(), "{rotated:?}");
    assert!(
        String::from_utf8_lossy(&rotated.stdout).starts_with("rewrapped 2 data keys"),
        "the kept and the live payment have keys, the erased one none: {rotated:?}"
    );
    std::fs::rename(&new_master, data.join("master.key")).expect("put the new key in place");
    assert!(
        verify(&data, &[]).status.success(),
        "views still equal the opened events"
    );
    let server = Server::start(&data);
    let api = reconnect(&server, "privacy");
    let again = api.get(&format!("/payments/{kept_id}/events")).body;
    assert_eq!(
        again["results"][0]["payload"]["payment"]["customer"]["id"],
        KEPT_CUSTOMER
    );
}
