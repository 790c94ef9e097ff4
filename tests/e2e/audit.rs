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
    let api = Api::connect(
        server.url(),
        "audit",
        "auditor",
        "auditor-secret-1",
        "manage_project:audit",
    );
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
        let api = Api::connect(
            server.url(),
            "audit",
            "auditor",
            "auditor-secret-1",
            "manage_project:audit",
        );
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
